"""Prove that a change to the program's shape changes nothing AWS would see.

Records the graph of four stack variants (dev, prod, prod with ``primaryRegion`` flipped to the
standby region, prod in pilot-light mode) and compares two recordings resource by resource, keyed
by type and physical name: every custom resource's inputs, provider, options (protect,
retainOnDelete, ignoreChanges, deleteBeforeReplace, replaceOnChanges) and dependencies, and every
stack output. Parents and URNs are left out on purpose: they are what nesting changes.

    python -m offline.graphs record DIR            # this checkout's four graphs into DIR
    python -m offline.graphs compare OLD NEW [--rename OLD=NEW ...]
    python -m offline.graphs --base REV [--rename OLD=NEW ...]   # REV (a git worktree) against this checkout

``--rename`` applies a textual rename to the older recording first, and compares the hex runs the
mocks generate from logical names (ids, name suffixes) as equal, so a renaming commit shows nothing
but its renamed names. Exit codes: 0 identical, 1 differences, 2 bad input.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

VARIANTS: dict[str, tuple[str, dict[str, str]]] = {
    "dev": ("dev", {}),
    "prod": ("prod", {}),
    "prod-flipped": ("prod", {"primaryRegion": "@standbyRegion"}),
    "prod-pilot-light": ("prod", {"standbyMode": "pilot-light"}),
}
# Inputs that carry a resource's name in AWS, where it is not ``name`` (else the mocks' autoname).
_PHYSICAL_NAMES = ("name", "identifier", "clusterIdentifier", "bucket", "functionName", "alarmName", "dashboardName")
# A hex run the mocks generate (ids, name suffixes, ARN parts) after a separator.
_GENERATED = re.compile(r"(?<=[-/_.])[0-9a-f]{6,}\b")
_OPTIONS = ("protect", "retain_on_delete", "ignore_changes", "delete_before_replace", "replace_on_changes")


def overrides(variant: str) -> tuple[str, dict[str, str]]:
    """The stack and settings a variant runs with (``@key``: the value of another setting)."""
    from offline.harness import stack_config

    stack, wanted = VARIANTS[variant]
    config = stack_config(stack)
    return stack, {
        key: config[f"{_project()}:{value[1:]}"] if value.startswith("@") else value for key, value in wanted.items()
    }


def record(out: Path, variants: tuple[str, ...] = tuple(VARIANTS)) -> None:
    """Write ``<variant>.json`` for each variant: custom resources keyed by type and physical name."""
    from offline.harness import run_stack

    out.mkdir(parents=True, exist_ok=True)
    for variant in variants:
        run = run_stack(*overrides(variant))
        (out / f"{variant}.json").write_text(json.dumps(_normalise(run), indent=1, sort_keys=True, default=str))


def _project() -> str:
    from offline.harness import project_name

    return project_name()


def _normalise(run: Any) -> dict[str, Any]:
    by_urn = {r.urn: r for r in run.resources}

    def key(record: Any) -> str:
        named = (record.inputs.get(field) for field in _PHYSICAL_NAMES)
        physical = next((n for n in named if isinstance(n, str) and n), None) or record.state.get("name") or record.name
        return f"{record.type} {physical}" if record.custom else f"component {record.type} {record.name}"

    def keys(urns: Any) -> list[str]:
        return sorted(key(by_urn[u]) if u in by_urn else u for u in urns)

    resources: dict[str, Any] = {}
    counts = Counter(key(r) for r in run.resources if r.custom)
    for r in run.resources:
        if not r.custom:
            continue
        k = key(r)
        if counts[k] > 1:  # one name, several resources (aliases per region): tell them apart by logical name
            k = f"{k} @{r.name}"
        inputs = {n: "[secret]" if n in r.secret_inputs else v for n, v in r.inputs.items()}
        if isinstance(inputs.get("userData"), str):  # base64 by the API: compared (and renamed) as text
            inputs["userData"] = base64.b64decode(inputs["userData"]).decode()
        resources[k] = {
            "logicalName": r.name,
            "region": r.region,
            "inputs": inputs,
            "provider": key(by_urn[r.provider.rsplit("::", 1)[0]]) if r.provider else "",
            **{option: getattr(r, option) for option in _OPTIONS},
            "dependencies": keys(r.dependencies),
            "propertyDependencies": {p: keys(urns) for p, urns in sorted(r.property_dependencies.items())},
        }
    components = sorted(key(r) for r in run.resources if not r.custom)
    return {"resources": resources, "components": components, "outputs": run.outputs}


def compare(old: Path, new: Path, renames: list[tuple[str, str]]) -> list[str]:
    """One summary line per variant, then each difference."""
    lines: list[str] = []
    for variant in (v for v in VARIANTS if (old / f"{v}.json").exists() or (new / f"{v}.json").exists()):
        text, new_text = (old / f"{variant}.json").read_text(), (new / f"{variant}.json").read_text()
        for before, after in renames:
            text = text.replace(before, after)
        if renames:
            # The mocks derive generated ids and suffixes from logical names: a renamed resource gets
            # new ones. Compare them as "generated" (every other character still counts).
            text, new_text = _GENERATED.sub("#", text), _GENERATED.sub("#", new_text)
        a, b = json.loads(text), json.loads(new_text)
        diffs = _differences(a, b)
        added = sorted(set(b["components"]) - set(a["components"]))
        removed = sorted(set(a["components"]) - set(b["components"]))
        lines.append(
            f"{variant}: {len(a['resources'])} -> {len(b['resources'])} resources, "
            f"{len(a['outputs'])} -> {len(b['outputs'])} outputs: "
            + ("identical" if not diffs else f"{len(diffs)} differences")
            + f"; components {len(a['components'])} -> {len(b['components'])}"
            + (f" (added: {', '.join(c.split(' ', 2)[2] for c in added)})" if added else "")
            + (f" (removed: {', '.join(c.split(' ', 2)[2] for c in removed)})" if removed else "")
        )
        lines.extend(f"  {d}" for d in diffs)
    return lines


def _differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    out = [f"only before: {k}" for k in sorted(set(a["resources"]) - set(b["resources"]))]
    out += [f"only after: {k}" for k in sorted(set(b["resources"]) - set(a["resources"]))]
    for k in sorted(set(a["resources"]) & set(b["resources"])):
        for field, recorded in a["resources"][k].items():
            value, other = _canonical(field, recorded), _canonical(field, b["resources"][k].get(field))
            if field == "inputs" and other != value:
                changed = sorted(n for n in set(value) | set(other) if value.get(n) != other.get(n))
                out.append(f"{k}: inputs differ: {', '.join(changed)}")
            elif field != "logicalName" and other != value:
                out.append(f"{k}: {field} differs")
    for k in sorted(set(a["outputs"]) | set(b["outputs"])):
        if a["outputs"].get(k) != b["outputs"].get(k):
            out.append(f"output {k}: {json.dumps(a['outputs'].get(k))} -> {json.dumps(b['outputs'].get(k))}")
    return out


def _canonical(field: str, value: Any) -> Any:
    """Dependencies are sets, listed by name (which a rename may reorder)."""
    if field == "dependencies":
        return sorted(value or [])
    if field == "propertyDependencies":
        return {p: sorted(urns) for p, urns in (value or {}).items()}
    return value


def against(rev: str, renames: list[tuple[str, str]]) -> list[str]:
    """Record ``rev`` (in a throw-away git worktree, with this checkout's recorder) and this checkout."""
    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="graphs-") as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(
            ["git", "-C", str(root), "worktree", "add", "--detach", str(tree), rev], check=True, capture_output=True
        )
        try:
            # The older revision's program, recorded by this checkout's harness (it records every option).
            for helper in ("offline/harness.py", "offline/graphs.py"):
                shutil.copy(root / helper, tree / helper)
            for where, directory in ((tree, Path(tmp) / "old"), (root, Path(tmp) / "new")):
                subprocess.run(
                    [sys.executable, "-m", "offline.graphs", "record", str(directory)], cwd=where, check=True
                )
            return compare(Path(tmp) / "old", Path(tmp) / "new", renames)
        finally:
            subprocess.run(["git", "-C", str(root), "worktree", "remove", "--force", str(tree)], check=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m offline.graphs", description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="*", help="record DIR | compare OLD NEW")
    parser.add_argument("--base", help="a git revision to compare this checkout against")
    parser.add_argument("--rename", action="append", default=[], metavar="OLD=NEW")
    args = parser.parse_args(argv)
    if any("=" not in r for r in args.rename):
        print("offline.graphs: --rename takes OLD=NEW", file=sys.stderr)
        return 2
    renames = [tuple(r.split("=", 1)) for r in args.rename]
    if args.base and not args.command:
        lines = against(args.base, renames)
    elif args.command[:1] == ["record"] and len(args.command) == 2:
        record(Path(args.command[1]))
        return 0
    elif args.command[:1] == ["compare"] and len(args.command) == 3:
        lines = compare(Path(args.command[1]), Path(args.command[2]), renames)
    else:
        parser.print_usage(sys.stderr)
        return 2
    print("\n".join(lines))
    return 1 if any(line.startswith("  ") for line in lines) else 0


if __name__ == "__main__":
    sys.exit(main())
