"""What derives from the settings declarations and the program, generated so it cannot drift:
the tables of docs/settings.md and Pulumi.yaml's `config:` block. `python -m offline.docs`
rewrites them. Also the check that the README's and docs/*.md's relative links and anchors
resolve (GitHub's heading slugs), which tests/test_docs.py runs over every page."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import yaml

from components.settings import PROJECT, config_fields, config_type
from offline.harness import PROJECT_DIR, run_stack

README = PROJECT_DIR / "README.md"
DOCS = PROJECT_DIR / "docs"
SETTINGS_PAGE = DOCS / "settings.md"
PULUMI_YAML = PROJECT_DIR / "Pulumi.yaml"
# The pages whose `<!-- name -->...<!-- /name -->` blocks are generated.
GENERATED_PAGES = (SETTINGS_PAGE,)
_BLOCK = re.compile(r"(<!-- (?P<name>[a-z-]+) -->\n)(?:.*?\n)?(<!-- /(?P=name) -->)", re.S)


def settings_table() -> str:
    config = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())["config"]
    stacks = {
        name: yaml.safe_load((PROJECT_DIR / f"Pulumi.{name}.yaml").read_text())["config"] for name in ("dev", "prod")
    }
    rows = ["| Key | Type | Default | dev | prod | Description |", "|---|---|---|---|---|---|"]
    for key, decl in config.items():
        full = f"payments-platform:{key}"
        values = [stacks[s].get(full, "") for s in ("dev", "prod")]
        default = _cell(decl["default"]) if "default" in decl else "*required*"
        cells = [f"`{key}`", decl["type"], default, *(_cell(v) for v in values), decl["description"]]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def outputs_table() -> str:
    outputs = run_stack("prod").outputs
    rows = ["| Output | Example (offline prod) |", "|---|---|"]
    for key in sorted(outputs):
        rows.append(f"| `{key}` | {_cell(outputs[key], limit=70)} |")
    return "\n".join(rows)


def _cell(value: object, limit: int = 40) -> str:
    if value in ("", None):
        return ""
    text = str(value).replace("|", "\\|")
    return f"`{text if len(text) <= limit else text[: limit - 3] + '...'}`"


GENERATORS = {"settings-table": settings_table, "outputs-table": outputs_table}


def pulumi_yaml_config() -> str:
    """The `config:` block: every project key with its type, default and description, as declared
    in components/settings.py (aws:region lives in the stack files)."""
    entries: dict[str, dict[str, object]] = {}
    for full, (_, field) in config_fields().items():
        namespace, _, key = full.partition(":")
        if namespace != PROJECT:
            continue
        kind = config_type(field)
        entry: dict[str, object] = {"type": kind}
        if kind == "array":
            entry["items"] = {"type": "string"}
        if not field.is_required():
            default = field.get_default(call_default_factory=True)
            entry["default"] = list(default) if isinstance(default, tuple) else "" if default is None else default
        entry["description"] = field.description
        entries[key] = entry
    return yaml.safe_dump({"config": entries}, sort_keys=False, width=200, allow_unicode=True)


def render_pulumi_yaml(text: str) -> str:
    head, marker, _ = text.partition("\nconfig:\n")
    if not marker:
        raise ValueError("Pulumi.yaml has no top-level config: block")
    return head + "\n" + pulumi_yaml_config()


def blocks(page: str) -> list[str]:
    """The names of the generated blocks a page holds, in order."""
    return [m.group("name") for m in _BLOCK.finditer(page)]


def render(page: str) -> str:
    """The page with every generated block rewritten from the current declarations and program."""
    return _BLOCK.sub(lambda m: m.group(1) + GENERATORS[m.group("name")]() + "\n" + m.group(3), page)


# --- Links between the pages --------------------------------------------------------------------

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)")
_HEADING = re.compile(r"^ {0,3}#{1,6}(?:[ \t]+(?P<text>.*?))?(?:[ \t]+#+)?[ \t]*$")
# [text](target "title") and ![alt](target); the text may hold one level of brackets and run over
# lines, but not over a blank line (that ends the paragraph).
_INLINE = re.compile(
    r"!?\[(?:[^\[\]\n]|\n(?![ \t]*\n)|\[[^\[\]\n]*\])*\]"
    r"\(\s*(?:<(?P<angled>[^>]*)>|(?P<bare>[^\s)]*))(?:\s+[\"'(].*?)?\s*\)"
)
_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(?P<target>[^\s>]+)>?")
_HTML = re.compile(r"<(?:a|img)\b[^>]*?\b(?:href|src)\s*=\s*[\"'](?P<target>[^\"']*)[\"']", re.I)
_HTML_ANCHOR = re.compile(r"<a\b[^>]*?\b(?:id|name)\s*=\s*[\"'](?P<anchor>[^\"']+)[\"']", re.I)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)


def _outside_code_blocks(markdown: str) -> Iterator[tuple[int, str]]:
    """Numbered lines outside fenced code blocks."""
    fence = ""
    for number, line in enumerate(markdown.splitlines(), start=1):
        opening = _FENCE.match(line)
        if fence:
            if opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence):
                fence = ""
            continue
        if opening:
            fence = opening.group(1)
            continue
        yield number, line


def _prose(markdown: str) -> str:
    """The page with fenced code blocks emptied and code spans blanked out, line for line."""
    lines = [""] * len(markdown.splitlines())
    for number, line in _outside_code_blocks(markdown):
        lines[number - 1] = _CODE_SPAN.sub(lambda m: "x" * len(m.group(0)), line)
    return "\n".join(lines)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading (github-slugger): the rendered text lower-cased, everything but
    letters, digits, underscores, hyphens and spaces dropped, each space a hyphen."""

    def rendered(markup: str) -> str:
        markup = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", markup)  # a link or image reads as its text
        markup = re.sub(r"<[^>]+>", "", markup)  # inline HTML
        return re.sub(r"[*~]|(?<!\w)_+|_+(?!\w)", "", markup)  # emphasis markers

    pieces, start = [], 0
    for code in _CODE_SPAN.finditer(heading):  # a code span's text is kept as it is, underscores too
        pieces += [rendered(heading[start : code.start()]), code.group(0).strip("`")]
        start = code.end()
    text = "".join([*pieces, rendered(heading[start:])])
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    """Every anchor a page defines: its headings' slugs, a repeated one numbered -1, -2 ... as
    GitHub does, and explicit `<a id=...>`/`<a name=...>`."""
    found: dict[str, int] = {}
    for _, line in _outside_code_blocks(markdown):
        heading = _HEADING.match(line)
        if heading:
            base = result = slug(heading.group("text") or "")
            while result in found:
                found[base] += 1
                result = f"{base}-{found[base]}"
            found[result] = 0
        found.update(dict.fromkeys((m.group("anchor") for m in _HTML_ANCHOR.finditer(line)), 0))
    return set(found)


def links(markdown: str) -> list[tuple[int, str]]:
    """(line, target) of every link and image in the page's prose: inline (its text may run over
    lines), reference definitions and HTML `href`/`src`. Code blocks and code spans hold none."""
    prose = _prose(markdown)
    found = [
        (number, m.group("target"))
        for number, line in enumerate(prose.splitlines(), start=1)
        if (m := _DEFINITION.match(line))
    ]
    for m in _INLINE.finditer(prose):
        target = m.group("angled") if m.group("angled") is not None else m.group("bare")
        found.append((prose.count("\n", 0, m.start()) + 1, target))
    found.extend((prose.count("\n", 0, m.start()) + 1, m.group("target")) for m in _HTML.finditer(prose))
    return sorted(found)


def broken_links(page: Path, markdown: str | None = None, root: Path = PROJECT_DIR) -> list[str]:
    """One line per relative link of ``page`` (its text, or ``markdown`` in its place) that does
    not resolve: a target file or directory that does not exist, or an anchor that no heading of
    the target Markdown file makes. Links with a scheme (https:, mailto:) are not followed; a
    target starting with / is taken from ``root``, as GitHub takes it from the repository's."""
    text = page.read_text() if markdown is None else markdown
    problems = []
    for number, target in links(text):
        if _SCHEME.match(target) or target.startswith("//"):
            continue
        path_part, _, anchor = target.partition("#")
        path_part = unquote(path_part.split("?", 1)[0])
        where = f"{page.name}:{number}: ({target})"
        if not path_part:
            if not anchor and not target:
                problems.append(f"{where} an empty link")
            elif anchor and unquote(anchor) not in anchors(text):
                problems.append(f"{where} no heading of {page.name} has the anchor #{anchor}")
            continue
        resolved = (root / path_part.lstrip("/")) if path_part.startswith("/") else page.parent / path_part
        if not resolved.exists():
            problems.append(f"{where} {path_part} does not exist")
        elif anchor and resolved.suffix == ".md" and unquote(anchor) not in anchors(resolved.read_text()):
            problems.append(f"{where} no heading of {path_part} has the anchor #{anchor}")
    return problems


def pages() -> list[Path]:
    """The Markdown pages the links are checked in: the README and docs/*.md."""
    return [README, *sorted(DOCS.glob("*.md"))]


def main() -> int:
    PULUMI_YAML.write_text(render_pulumi_yaml(PULUMI_YAML.read_text()))
    for page in GENERATED_PAGES:
        page.write_text(render(page.read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
