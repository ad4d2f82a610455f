"""What derives from the settings declarations and the program, generated so it cannot drift:
the README's tables and Pulumi.yaml's `config:` block. `python -m offline.docs` rewrites them."""

from __future__ import annotations

import re
import sys

import yaml

from components.settings import PROJECT, config_fields, config_type
from offline.harness import PROJECT_DIR, run_stack

README = PROJECT_DIR / "README.md"
PULUMI_YAML = PROJECT_DIR / "Pulumi.yaml"
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


def render(readme: str) -> str:
    return _BLOCK.sub(lambda m: m.group(1) + GENERATORS[m.group("name")]() + "\n" + m.group(3), readme)


def main() -> int:
    PULUMI_YAML.write_text(render_pulumi_yaml(PULUMI_YAML.read_text()))
    README.write_text(render(README.read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
