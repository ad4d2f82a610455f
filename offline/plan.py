"""Offline plan: run a stack's program under the mocks and print what it would create.

    python -m offline.plan dev            # report
    python -m offline.plan prod --json p.json   # also write the recorded graph

Needs no AWS credentials and no Pulumi CLI. Exits 2 when the settings are invalid.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter

from components.settings import SettingsError
from offline.harness import ProgramError, StackRun, known_stacks, run_stack


def component_tree(run: StackRun) -> list[str]:
    """One line per component, indented by depth, with the resources it owns at any depth."""
    parent_of = {r.urn: r.parent for r in run.resources}

    def ancestors(urn: str) -> list[str]:
        chain = []
        while parent_of.get(urn):
            urn = parent_of[urn]
            chain.append(urn)
        return chain

    owned: Counter[str] = Counter(a for r in run.resources if r.custom for a in ancestors(r.urn))
    return [
        f"{'  ' * (len(ancestors(c.urn)) - 1)}{c.type} {c.name}: {owned[c.urn]} resources"
        for c in sorted(run.resources, key=lambda c: c.urn)
        if not c.custom
    ]


def report(run: StackRun, seconds: float) -> str:
    custom = [r for r in run.resources if r.custom]
    by_type = Counter(r.type for r in custom)
    lines = [
        f"Stack {run.stack}: {len(custom)} resources in {len(run.resources) - len(custom)} components "
        f"(offline run took {seconds:.2f} s)",
        "",
        "Settings in force:",
        *(f"  {k} = {v}" for k, v in sorted(run.config.items()) if not k.startswith("pulumi:")),
        "",
        "Components:",
        *(f"  {line}" for line in component_tree(run)),
        "",
        "Resource types:",
        *(f"  {n:3d} {t}" for t, n in sorted(by_type.items())),
        "",
        f"Protected resources: {sum(1 for r in custom if r.protect)}",
        f"Warnings: {len(run.warnings)}",
        *(f"  {w}" for w in run.warnings),
        "",
        "Stack outputs:",
        *(
            f"  {k} = {'[secret]' if k in run.secret_outputs else json.dumps(v)}"
            for k, v in sorted(run.outputs.items())
        ),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stack", choices=known_stacks())
    parser.add_argument("--json", metavar="FILE", help="write the recorded graph as JSON")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    try:
        run = run_stack(args.stack)
    except ProgramError as exc:
        cause = exc.__cause__
        print(str(cause) if isinstance(cause, SettingsError) else str(exc), file=sys.stderr)
        return 2 if isinstance(cause, SettingsError) else 1
    elapsed = time.perf_counter() - started

    print(report(run, elapsed))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"stack": run.stack, "outputs": run.outputs, "resources": run.graph()}, fh, indent=2, default=str)
        print(f"\nRecorded graph written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
