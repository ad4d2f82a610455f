"""Offline plan: what a stack would create, checked against the policy pack, drawn as a picture.

    make plan STACK=prod                                   # sets up .venv and Graphviz, then the next line
    python -m offline.plan prod                            # report + build/plan/prod/{plan.txt,compliance.md,
                                                           #   architecture.*}
    python -m offline.plan prod --json prod.json           # also the full recorded graph and the control matrix
    python -m offline.plan dev --diff prod                 # only what prod changes over dev (dev's plan
                                                           #   is still written to build/plan/dev/)
    python -m offline.plan dev --set azCount=2             # what-if, without editing the stack file;
                                                           #   written to build/plan/dev+azCount=2/
    python -m offline.plan dev --set azCount=2 --diff dev  # what the --set changes over dev as committed

(`python` is `.venv/bin/python` once `make plan` has set the venv up.) Needs no AWS credentials and
no Pulumi CLI. Exit codes: 0 fine; 2 bad input (usage; an invalid setting: a key in a namespace
nothing reads, a region or instance type AWS does not offer, a value out of range; a stack file that
is not valid YAML or sets a key twice; a policy config that cannot be used), one line per problem,
before any resource is declared; 3 a mandatory policy fails; 1 the program failed otherwise.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import difflib
import gc
import hashlib
import json
import math
import re
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NoReturn

from components.settings import SettingsError, placeholders
from offline import compliance, prices
from offline.harness import (
    PROJECT_DIR,
    ConfigFileError,
    ProgramError,
    ResourceRecord,
    StackRun,
    known_stacks,
    project_name,
    run_stack,
)
from offline.policy_check import PolicyConfigError, Violation, evaluate, load_policy_config
from offline.prices import monthly_costs
from policypack.rules import POLICIES, TRAIL_TYPE, recorded_objects

EXIT_FAILED, EXIT_INVALID_INPUT, EXIT_POLICY = 1, 2, 3
EXIT_INVALID_SETTINGS = EXIT_INVALID_INPUT
PROG = "python -m offline.plan"
PLAN_DIR = PROJECT_DIR / "build" / "plan"
# A value longer than this (user data, a policy document, a dashboard) is shown by its digest.
BLOB_LIMIT = 200
_ASSET_KEYS = frozenset({"fileAsset", "stringAsset", "assetArchive", "fileArchive"})
# Values the mocks generate (ids, ARNs, physical names) carry a hex digest of the logical name.
_HEX_RUN = re.compile(r"[0-9a-fA-F]{6,}")
_SAFE_FOLDER = re.compile(r"[A-Za-z0-9_.,=+-]{1,80}")


class InputError(Exception):
    """Input the plan cannot use: each line is printed on stderr and the plan exits 2."""

    def __init__(self, *lines: str) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


# --------------------------------------------------------------------------- report


def component_tree(run: StackRun) -> list[str]:
    """One line per component, indented by depth, with the resources it owns at any depth."""
    parent_of = {r.urn: r.parent for r in run.resources}

    def ancestors(urn: str) -> list[str]:
        chain = []
        while parent_of.get(urn):
            urn = parent_of[urn]
            chain.append(urn)
        return chain

    by_urn = {r.urn: r for r in run.resources}

    def path(urn: str) -> list[tuple[str, str]]:
        """From the top-level component down to this one: children list under their parent."""
        return [(by_urn[u].type, by_urn[u].name) for u in reversed([urn, *ancestors(urn)]) if u in by_urn]

    owned: Counter[str] = Counter(a for r in run.resources if r.custom for a in ancestors(r.urn))
    return [
        f"{'  ' * (len(ancestors(c.urn)) - 1)}{c.type} {c.name}: {owned[c.urn]} resources"
        for c in sorted(run.resources, key=lambda c: path(c.urn))
        if not c.custom
    ]


def cost_drivers(run: StackRun) -> list[str]:
    """What the stack pays for by the hour or month whatever its traffic: the levers of its bill, priced.

    With a standby: each site's drivers, and what the standby costs in each mode."""
    standby = run.standby()
    if not standby.resources:
        return [
            *_priced(monthly_costs(run)),
            *usage_drivers(run),
            f"Prices: {prices.SOURCE}, checked {prices.CHECKED} (sources in offline/prices.py)",
        ]
    region = run.config.get("aws:region", "?")
    standby_region, mode = run.setting("standbyRegion"), run.setting("standbyMode")
    home_costs, standby_costs = monthly_costs(run.home()), monthly_costs(standby)
    by_mode = prices.standby_mode_costs(standby)
    total = sum(a for _, a in [*home_costs, *standby_costs] if not math.isnan(a))
    return [
        f"Stack region ({region}):",
        *(f"  {line}" for line in _priced(home_costs)),
        f"Standby site ({standby_region}, {mode}):",
        *(f"  {line}" for line in _priced(standby_costs)),
        "Standby by mode: " + ", ".join(f"{m} {_compact(a)}" for m, a in by_mode.items()) + f" (this stack: {mode})",
        f"Total (both sites): {_compact(total)}",
        *usage_drivers(run),
        f"Prices: {prices.SOURCE}, checked {prices.CHECKED} (sources in offline/prices.py)",
    ]


def usage_drivers(run: StackRun) -> list[str]:
    """What the stack declares that AWS bills by usage alone: no fixed line above, the drivers and their
    list prices in docs/offline-plan.md#cost. Alarms are priced above, per metric they read."""

    def count(type_: str, one: str) -> str:
        n = len(run.of_type(type_))
        return f"{n} {one}{'' if n == 1 else 's'}"

    data_trails = sum(1 for t in run.of_type(TRAIL_TYPE) if recorded_objects(t.inputs))
    return [
        "Billed by usage, no fixed line (drivers and list prices: docs/offline-plan.md#cost):",
        f"  CloudTrail data events ({data_trails} trail{'' if data_trails == 1 else 's'} recording them), "
        f"AWS Config ({count('aws:cfg/recorder:Recorder', 'recorder')}), "
        f"GuardDuty ({count('aws:guardduty/detector:Detector', 'detector')}), "
        f"Security Hub ({count('aws:securityhub/account:Account', 'account')}), "
        f"Backup Audit Manager ({count('aws:backup/framework:Framework', 'framework')})",
        f"  {count('aws:cloudwatch/logMetricFilter:LogMetricFilter', 'metric filter')}: free; each metric is "
        "a custom metric, billed for the hours it publishes",
    ]


def _priced(costs: list[tuple[str, float]]) -> list[str]:
    width = max(len(label) for label, _ in costs)
    lines = [f"{label:<{width}}  {_dollars(amount)}" for label, amount in costs]
    unpriced = sum(1 for _, amount in costs if math.isnan(amount))
    total = sum(amount for _, amount in costs if not math.isnan(amount))
    lines.append(
        f"{'Total':<{width}}  {_dollars(total)}"
        + (f" + {unpriced} unpriced (not in offline/prices.py)" if unpriced else "")
    )
    return lines


def _compact(amount: float) -> str:
    return "unpriced" if math.isnan(amount) else f"${amount:,.2f}/month"


def _dollars(amount: float) -> str:
    return "unpriced" if math.isnan(amount) else f"${amount:9,.2f}/month"


def full_keys(overrides: Mapping[str, str]) -> set[str]:
    """Config keys as the program sees them (``azCount`` -> ``payments-platform:azCount``)."""
    project = project_name()
    return {key if ":" in key else f"{project}:{key}" for key in overrides}


def label(stack: str, overrides: Mapping[str, str]) -> str:
    """``dev``, or ``dev (--set azCount=2)`` for a what-if."""
    if not overrides:
        return stack
    return f"{stack} (--set {' '.join(f'{k}={v}' for k, v in overrides.items())})"


def report(
    run: StackRun,
    violations: list[Violation],
    pictures: list[Path],
    overrides: Mapping[str, str] | None = None,
    controls: compliance.Matrix | None = None,
) -> str:
    """The plan as text. Deterministic (no timings, no paths): the committed docs/<stack>/plan.txt is one."""
    overrides = overrides or {}
    controls = controls or compliance.matrix(run, violations)
    overridden = full_keys(overrides)
    custom = [r for r in run.resources if r.custom]
    by_type = Counter(r.type for r in custom)
    found = placeholders(run.config)
    lines = [
        f"Stack {label(run.stack, overrides)}: {len(custom)} resources "
        f"in {len(run.resources) - len(custom)} components",
        "",
        *(
            [f"PLACEHOLDERS: a real `pulumi up` of {run.stack} refuses these until they are replaced:"]
            + [f"  {key}: {message}" for key, message in found.items()]
            + [""]
            if found
            else []
        ),
        "Settings in force" + (" ((--set) marks a what-if override):" if overrides else ":"),
        *(
            f"  {k} = {v}" + (" (--set)" if k in overridden else "")
            for k, v in sorted(run.config.items())
            if not k.startswith("pulumi:")
        ),
        "",
        "Components:",
        *(f"  {line}" for line in component_tree(run)),
        "",
        "Resource types:",
        *(f"  {n:3d} {t}" for t, n in sorted(by_type.items())),
        "",
        "Cost drivers (charged whatever the traffic):",
        *(f"  {line}" for line in cost_drivers(run)),
        "",
        f"Protected resources: {sum(1 for r in custom if r.protect)}",
        f"Warnings: {len(run.warnings)}",
        *(f"  {w}" for w in run.warnings),
        "",
        f"Policies: {len(POLICIES)} mandatory, {len(violations)} violation(s)",
        *(f"  [{v.policy}] {v.message}" for v in violations),
        "",
        f"{compliance.STANDARD} control matrix (compliance.md beside this report): {compliance.summary(controls)}",
        *(f"  {line}" for line in compliance.gap_lines(controls)),
        "",
        "Stack outputs:",
        *(
            f"  {k} = {'[secret]' if k in run.secret_outputs else json.dumps(v)}"
            for k, v in sorted(run.outputs.items())
        ),
        "",
        "Architecture (beside this report):" if pictures else "Architecture: not drawn (Graphviz's `dot` missing)",
        *(f"  {p.name}" for p in pictures),
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- diff


def _leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _leaves(item, f"{path}[{i}]")
    else:
        yield path, value


class Canon:
    """One run's values rewritten so that "the same" resource reads the same in every stack.

    Logical and physical names carry the stack's suffix (``fintech-dev-…``, ``/fintech/dev/…``,
    the ``Environment`` tag): it reads ``<env>``. Ids, ARNs and names the mocks generate end in
    digests of the logical name: each reads ``${<logical name>.<attribute>}`` wherever it is
    referenced. Only values the mocks generated are rewritten, so a real difference (an AMI, a
    code digest) still shows. Whole numbers read as integers (the mocks hand numbers over as
    floats); JSON documents are rewritten value by value; user data is compared decoded.
    """

    def __init__(self, run: StackRun) -> None:
        self.suffix = run.config.get(f"{project_name()}:envSuffix", run.stack)
        self._env = re.compile(rf"(?<![A-Za-z0-9])fintech([-/]){re.escape(self.suffix)}(?![A-Za-z0-9])")
        generated: dict[str, str] = {}
        for record in sorted((r for r in run.resources if r.custom), key=lambda r: r.urn):
            name = self.name(record.name)
            if record.id:
                generated.setdefault(record.id, f"${{{name}.id}}")
            given = {v for _, v in _leaves(record.inputs) if isinstance(v, str)}
            for path, value in _leaves(record.state):
                if isinstance(value, str) and value not in given and len(value) >= 8 and _HEX_RUN.search(value):
                    generated.setdefault(value, f"${{{name}.{path}}}")
        # Index each generated value by its rarest digest, so a string is checked against a few only.
        runs = Counter(m.group(0) for value in generated for m in _HEX_RUN.finditer(value))
        self._by_run: dict[str, list[tuple[str, str]]] = {}
        for value, placeholder in generated.items():
            digests = [m.group(0) for m in _HEX_RUN.finditer(value)]
            if not digests:
                continue  # an id the program chose (a global cluster's), not generated
            key = min(digests, key=lambda r: (runs[r], r))
            self._by_run.setdefault(key, []).append((value, placeholder))

    def name(self, name: str) -> str:
        return self._env.sub(r"fintech\1<env>", name)

    def text(self, text: str) -> str:
        if text == self.suffix:
            return "<env>"
        found = [pair for m in _HEX_RUN.finditer(text) for pair in self._by_run.get(m.group(0), ()) if pair[0] in text]
        for value, placeholder in sorted(set(found), key=lambda p: -len(p[0])):
            text = text.replace(value, placeholder)
        return self.name(text)

    def value(self, value: Any, key: str = "") -> Any:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            if value[:1] in "{[":  # a JSON document (policy, dashboard, tags): its values, one by one
                try:
                    return json.dumps(self.value(json.loads(value)), sort_keys=True)
                except ValueError:
                    pass
            return self.text(_decoded(value) if key == "userData" else value)
        if isinstance(value, dict):
            return {k: self.value(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        return value


def _decoded(text: str) -> str:
    """User data is base64: compare (and digest) what the instance runs."""
    try:
        return base64.b64decode(text, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return text


_ABSENT = object()


def _show(value: Any) -> str:
    return "(not set)" if value is _ABSENT else json.dumps(value, sort_keys=True)


def _is_blob(value: Any) -> bool:
    return (isinstance(value, str) and len(value) > BLOB_LIMIT) or (
        isinstance(value, dict) and bool(_ASSET_KEYS & set(value))
    )


def _digest(value: Any) -> str:
    if value is _ABSENT:
        return "(not set)"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return f"sha256 {hashlib.sha256(text.encode()).hexdigest()[:12]}"


def _blob_change(a: Any, b: Any) -> str:
    detail = ""
    if isinstance(a, str) and isinstance(b, str):
        detail = f"; {len(a)} -> {len(b)} chars"
        if "\n" in a or "\n" in b:
            changed = sum(1 for line in difflib.ndiff(a.splitlines(), b.splitlines()) if line[:2] in ("+ ", "- "))
            detail += f", {changed} line(s) added or removed"
    elif isinstance(a, list) and isinstance(b, list):
        detail = f"; {len(a)} -> {len(b)} items"
    return f"differs ({_digest(a)} -> {_digest(b)}{detail})"


def _changes(path: str, a: Any, b: Any) -> Iterator[str]:
    """One line per differing leaf: values in full, long blobs by digest."""
    if a == b and a is not _ABSENT:
        return
    if _is_blob(a) or _is_blob(b):
        yield f"{path}: {_blob_change(a, b)}"
    elif isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            yield from _changes(f"{path}.{key}", a.get(key, _ABSENT), b.get(key, _ABSENT))
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from _changes(f"{path}[{i}]", x, y)
    elif len(_show(a)) <= BLOB_LIMIT and len(_show(b)) <= BLOB_LIMIT:
        yield f"{path}: {_show(a)} -> {_show(b)}"
    else:
        yield f"{path}: {_blob_change(a, b)}"


_OPTIONS = {
    "protect": "protect",
    "retain_on_delete": "retainOnDelete",
    "ignore_changes": "ignoreChanges",
    "delete_before_replace": "deleteBeforeReplace",
    "replace_on_changes": "replaceOnChanges",
}


def _resource_changes(record_a: ResourceRecord, record_b: ResourceRecord, canon_a: Canon, canon_b: Canon) -> list[str]:
    inputs_a, inputs_b = record_a.inputs, record_b.inputs
    lines = []
    for key in sorted(set(inputs_a) | set(inputs_b)):
        a = canon_a.value(inputs_a[key], key) if key in inputs_a else _ABSENT
        b = canon_b.value(inputs_b[key], key) if key in inputs_b else _ABSENT
        if a == b:
            continue
        if key in record_a.secret_inputs | record_b.secret_inputs:
            lines.append(f"{key}: [secret] differs")
        else:
            lines.extend(_changes(key, a, b))
    for attr, option in _OPTIONS.items():
        a, b = getattr(record_a, attr), getattr(record_b, attr)
        if a != b:
            lines.append(
                f"{option} (resource option): {_show(list(a) if isinstance(a, tuple) else a)}"
                f" -> {_show(list(b) if isinstance(b, tuple) else b)}"
            )
    return lines


def diff(
    left: StackRun,
    right: StackRun,
    *,
    left_label: str | None = None,
    right_label: str | None = None,
    overridden: frozenset[str] = frozenset(),
) -> str:
    """What ``right`` adds, removes and changes compared with ``left``: only the differences.

    ``overridden`` (full config keys) are marked ``(--set)`` among the settings.
    """
    left_label, right_label = left_label or left.stack, right_label or right.stack
    canon_a, canon_b = Canon(left), Canon(right)
    settings = [
        f"  {key}: {left.config.get(key, '(not set)')} -> {right.config.get(key, '(not set)')}"
        + (" (--set)" if key in overridden else "")
        for key in sorted(set(left.config) | set(right.config))
        if not key.startswith("pulumi:") and left.config.get(key) != right.config.get(key)
    ]
    a_by_key = {(r.type, canon_a.name(r.name)): r for r in left.resources if r.custom}
    b_by_key = {(r.type, canon_b.name(r.name)): r for r in right.resources if r.custom}
    added = [f"  + {t} {n}" for t, n in sorted(set(b_by_key) - set(a_by_key))]
    removed = [f"  - {t} {n}" for t, n in sorted(set(a_by_key) - set(b_by_key))]
    changed: list[str] = []
    for type_, name in sorted(set(a_by_key) & set(b_by_key)):
        lines = _resource_changes(a_by_key[type_, name], b_by_key[type_, name], canon_a, canon_b)
        if lines:
            changed.append(f"  ~ {name} ({type_})")
            changed.extend(f"      {line}" for line in lines)
    outputs: list[str] = []
    for output in sorted(set(left.outputs) | set(right.outputs)):
        a = canon_a.value(left.outputs[output]) if output in left.outputs else _ABSENT
        b = canon_b.value(right.outputs[output]) if output in right.outputs else _ABSENT
        if a == b:
            continue
        if output in left.secret_outputs | right.secret_outputs:
            outputs.append(f"  {output}: [secret] differs")
        else:
            outputs.extend(f"  {line}" for line in _changes(output, a, b))
    sections = [
        ("Settings", settings, len(settings)),
        (f"Resources only in {right_label}", added, len(added)),
        (f"Resources only in {left_label}", removed, len(removed)),
        ("Changed resources", changed, sum(1 for line in changed if line.startswith("  ~ "))),
        ("Stack outputs", outputs, len(outputs)),
    ]
    body = [line for title, lines, n in sections if lines for line in ["", f"{title} ({n}):", *lines]]
    if not body:
        return f"No differences from {left_label} to {right_label}."
    head = [f"Differences from {left_label} to {right_label}:"]
    if any("<env>" in line or "${" in line for line in body):
        head.append("(<env> stands for the stack suffix; ${name.attribute} for an id, ARN or name AWS generates)")
    return "\n".join(head + body)


# --------------------------------------------------------------------------- command line


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line on stderr, exit 2 (argparse's default prints the usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_INVALID_INPUT, f"{self.prog}: {message} (see --help)\n")


def _setting(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"takes KEY=VALUE (e.g. azCount=2), got {text!r}")
    return key.strip(), value


def _parser() -> argparse.ArgumentParser:
    stacks = known_stacks()
    parser = _Parser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stack", choices=stacks, help=f"the stack to plan: {', '.join(stacks)}")
    parser.add_argument(
        "--json", metavar="FILE", help="write the full recorded graph and the control matrix (compliance) as JSON"
    )
    parser.add_argument(
        "--diff",
        metavar="STACK",
        choices=stacks,
        help="print only what STACK changes over this plan, not the plan itself (still written to its folder); "
        "with --set and the same stack: what the --set changes",
    )
    parser.add_argument(
        "--set",
        metavar="KEY=VALUE",
        type=_setting,
        action="append",
        default=[],
        help="override a setting for a what-if (repeatable); written to its own folder",
    )
    parser.add_argument(
        "--png", action="store_true", help="also draw architecture.png beside the SVG (what the README shows)"
    )
    parser.add_argument("--policy-config", metavar="FILE", help="policy pack config (default policypack/<stack>.json)")
    parser.add_argument(
        "--out",
        metavar="DIR",
        help="where the report and pictures go (default build/plan/<stack>; a what-if: build/plan/<stack>+KEY=VALUE)",
    )
    return parser


def default_out(stack: str, overrides: Mapping[str, str]) -> Path:
    """``build/plan/dev``; a what-if gets its own folder and never overwrites the stack's plan."""
    if not overrides:
        return PLAN_DIR / stack
    folder = stack + "+" + ",".join(f"{k}={v}" for k, v in overrides.items())
    if not _SAFE_FOLDER.fullmatch(folder):
        folder = f"{stack}-whatif-{hashlib.sha256(folder.encode()).hexdigest()[:8]}"
    return PLAN_DIR / folder


def _out_dir(stack: str, overrides: Mapping[str, str], out: str | None) -> Path:
    if out is None:
        return default_out(stack, overrides)
    chosen = Path(out)
    if overrides and chosen.resolve() in {(PLAN_DIR / stack).resolve(), (PROJECT_DIR / "docs" / stack).resolve()}:
        raise InputError(f"--out {out}: a what-if (--set) is never written over {stack}'s plan; choose another folder")
    if chosen.exists() and not chosen.is_dir():
        raise InputError(f"--out {out}: exists and is not a folder")
    return chosen


def _check_json_target(path: str | None) -> None:
    if path is None:
        return
    target = Path(path)
    if target.is_dir():
        raise InputError(f"--json {path}: is a folder; name a file")
    if not target.parent.is_dir():
        raise InputError(f"--json {path}: no folder {target.parent}")


def _run(stack: str, overrides: Mapping[str, str]) -> StackRun:
    """The offline run, or ``InputError`` / ``ProgramError`` carrying a one-line reason."""
    try:
        return run_stack(stack, dict(overrides))
    except (ConfigFileError, FileNotFoundError) as exc:
        raise InputError(str(exc)) from exc
    except ProgramError as exc:
        if isinstance(exc.__cause__, SettingsError):  # one line per problem, each naming its key and source
            raise InputError(*exc.__cause__.problems) from exc
        raise


def _pictures(run: StackRun, out: Path, *, png: bool) -> list[Path]:
    from offline.diagram import render

    try:
        return list(render(run, out, png=png))
    except Exception as exc:
        print(f"(no picture: {exc}; install Graphviz's `dot`: make plan does)", file=sys.stderr)
        return []


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _compare(run: StackRun, other: StackRun, overrides: Mapping[str, str]) -> str:
    """``--diff``: from this plan to the other stack; for a what-if of that same stack, from the stack to it."""
    plan, baseline = (run, label(run.stack, overrides)), (other, other.stack)
    left, right = (baseline, plan) if overrides and other.stack == run.stack else (plan, baseline)
    return diff(left[0], right[0], left_label=left[1], right_label=right[1], overridden=frozenset(full_keys(overrides)))


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    overrides: dict[str, str] = dict(args.set)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    try:
        # Everything that can be checked without running the program is checked first.
        policy_config = load_policy_config(args.stack, args.policy_config)
        out = _out_dir(args.stack, overrides, args.out)
        _check_json_target(args.json)
        run = _run(args.stack, overrides)
        timings["program"] = time.perf_counter() - started
        other = _run(args.diff, {}) if args.diff else None
        if args.diff:
            timings[f"--diff {args.diff}"] = time.perf_counter() - started - timings["program"]
    except (InputError, PolicyConfigError) as exc:
        print("\n".join(exc.lines), file=sys.stderr)
        return EXIT_INVALID_INPUT
    except ProgramError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_FAILED

    mark = time.perf_counter()
    violations = evaluate(run, config=policy_config)
    timings["policies"] = time.perf_counter() - mark
    mark = time.perf_counter()
    pictures = _pictures(run, out, png=args.png)
    timings["pictures"] = time.perf_counter() - mark
    controls = compliance.matrix(run, violations)
    text = report(run, violations, pictures, overrides, controls)
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "plan.txt").write_text(text + "\n")
        (out / "compliance.md").write_text(compliance.markdown(controls))
        if args.json:
            graph = {
                "stack": run.stack,
                "outputs": run.outputs,
                "resources": run.graph(),
                "compliance": compliance.as_json(controls),
            }
            Path(args.json).write_text(json.dumps(graph, indent=2, default=str), encoding="utf-8")
    except OSError as exc:
        print(f"cannot write the plan: {exc.strerror}: {exc.filename}", file=sys.stderr)
        return EXIT_FAILED
    # With --diff the terminal gets the difference alone; the plan is still written, and says where on stderr.
    shown = sys.stdout if other is None else sys.stderr
    if other is None:
        print(text)
    else:
        print(_compare(run, other, overrides))
    written = f"Written to {_shown(out)}/: plan.txt, compliance.md" + "".join(f", {p.name}" for p in pictures)
    print(f"\n{written}" if other is None else f"Plan of {label(run.stack, overrides)}: {written}", file=shown)
    if args.json:
        print(f"Recorded graph written to {args.json}", file=shown)
    # Timings go to stderr: the report itself is deterministic (docs/<stack>/plan.txt is one).
    spent = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in timings.items())
    print(f"offline run took {time.perf_counter() - started:.2f} s ({spent})", file=sys.stderr)
    if violations:
        print(f"\n{len(violations)} mandatory policy violation(s): fix them before `pulumi up`.", file=sys.stderr)
        return EXIT_POLICY
    return 0


if __name__ == "__main__":
    code = main()
    # Exiting, the interpreter would walk the ~200 MB the run left, object by object (~1 s of a
    # 6 s plan); frozen objects are left to the operating system.
    gc.freeze()
    sys.exit(code)
