"""Tables the README shows, generated so they cannot drift: `python -m offline.docs` rewrites them."""

from __future__ import annotations

import re
import sys

import yaml

from offline.harness import PROJECT_DIR, run_stack

README = PROJECT_DIR / "README.md"
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


def render(readme: str) -> str:
    return _BLOCK.sub(lambda m: m.group(1) + GENERATORS[m.group("name")]() + "\n" + m.group(3), readme)


def main() -> int:
    README.write_text(render(README.read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
