"""Offline plan: what a stack would create, checked against the policy pack, drawn as a picture.

    python -m offline.plan dev                     # report + build/plan/dev/architecture.{svg,png}
    python -m offline.plan prod --json prod.json   # also the full recorded graph
    python -m offline.plan dev --diff prod         # what prod changes over dev
    python -m offline.plan dev --set azCount=2     # what-if, without editing the stack file

Needs no AWS credentials and no Pulumi CLI. Exit codes: 0 fine, 2 invalid settings,
3 a mandatory policy fails, 1 the program failed otherwise.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from components.settings import SettingsError, placeholders
from offline.harness import PROJECT_DIR, ProgramError, StackRun, known_stacks, run_stack
from offline.policy_check import Violation, evaluate, load_policy_config
from policypack.rules import POLICIES

EXIT_INVALID_SETTINGS, EXIT_POLICY, EXIT_FAILED = 2, 3, 1
_HASH_SUFFIX = re.compile(r"(fintech-<env>-[a-z0-9-]+?)-[0-9a-f]{7,8}(?![0-9a-z])")


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


def cost_drivers(run: StackRun) -> list[str]:
    """What the stack pays for by the hour or month whatever its traffic: the levers of its bill."""
    instances = Counter(r.inputs["instanceClass"] for r in run.of_type("aws:rds/clusterInstance:ClusterInstance"))
    template = run.of_type("aws:ec2/launchTemplate:LaunchTemplate")
    groups = run.of_type("aws:autoscaling/group:Group")
    endpoint_azs = sum(
        len(e.inputs.get("subnetIds", []))
        for e in run.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
        if e.inputs.get("vpcEndpointType") == "Interface"
    )
    acls = run.of_type("aws:wafv2/webAcl:WebAcl")
    return [
        f"NAT gateways (hourly + per GB): {len(run.of_type('aws:ec2/natGateway:NatGateway'))}",
        f"Public IPv4 addresses (hourly): {len(run.of_type('aws:ec2/eip:Eip'))} + the load balancer's",
        f"Interface endpoint-AZs (hourly + per GB): {endpoint_azs}",
        "Aurora instances (hourly): " + (", ".join(f"{n} x {c}" for c, n in sorted(instances.items())) or "none"),
        "App instances (hourly): "
        + (
            f"{int(groups[0].inputs['desiredCapacity'])} x {template[0].inputs['instanceType']} at creation, "
            f"{int(groups[0].inputs['minSize'])}-{int(groups[0].inputs['maxSize'])} by scaling"
            if groups and template
            else "none"
        ),
        f"Load balancers (hourly + LCU): {len(run.of_type('aws:lb/loadBalancer:LoadBalancer'))}",
        f"KMS keys (monthly): {len(run.of_type('aws:kms/key:Key'))}",
        f"Secrets (monthly): {len(run.of_type('aws:secretsmanager/secret:Secret'))} (+ the RDS-managed master secret)",
        f"WAF web ACLs / rules (monthly): {len(acls)} / {sum(len(a.inputs.get('rules', [])) for a in acls)}",
        f"CloudWatch alarms / dashboards (monthly): {len(run.of_type('aws:cloudwatch/metricAlarm:MetricAlarm'))}"
        f" / {len(run.of_type('aws:cloudwatch/dashboard:Dashboard'))}",
    ]


def report(run: StackRun, seconds: float, violations: list[Violation], pictures: list[Path]) -> str:
    custom = [r for r in run.resources if r.custom]
    by_type = Counter(r.type for r in custom)
    found = placeholders(run.config)
    lines = [
        f"Stack {run.stack}: {len(custom)} resources in {len(run.resources) - len(custom)} components "
        f"(offline run took {seconds:.2f} s)",
        "",
        *(
            [f"PLACEHOLDERS: a real `pulumi up` of {run.stack} refuses these until they are replaced:"]
            + [f"  {key}: {message}" for key, message in found.items()]
            + [""]
            if found
            else []
        ),
        "Settings in force:",
        *(f"  {k} = {v}" for k, v in sorted(run.config.items()) if not k.startswith("pulumi:")),
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
        "Stack outputs:",
        *(
            f"  {k} = {'[secret]' if k in run.secret_outputs else json.dumps(v)}"
            for k, v in sorted(run.outputs.items())
        ),
        "",
        "Architecture:",
        *(f"  {p}" for p in pictures),
    ]
    return "\n".join(lines)


def _normalise(run: StackRun, value: Any) -> Any:
    """Names carry the stack suffix; strip it so the same resource matches across stacks."""
    suffix = run.config.get("payments-platform:envSuffix", run.stack)
    text = json.dumps(value, sort_keys=True, default=str).replace(f"fintech-{suffix}", "fintech-<env>")
    # Physical names and ids end in a per-stack hash: references to "the same" resource differ only there.
    return json.loads(_HASH_SUFFIX.sub(r"\1", text))


def diff(left: StackRun, right: StackRun) -> str:
    """What ``right`` adds, removes and changes compared with ``left``."""
    lines = [f"Differences from {left.stack} to {right.stack}", "", "Settings:"]
    for key in sorted(set(left.config) | set(right.config)):
        a, b = left.config.get(key), right.config.get(key)
        if a != b and not key.startswith("pulumi:"):
            lines.append(f"  {key}: {a} -> {b}")
    counts_a = Counter(r.type for r in left.resources if r.custom)
    counts_b = Counter(r.type for r in right.resources if r.custom)
    lines += ["", "Resource counts:"]
    for type_ in sorted(set(counts_a) | set(counts_b)):
        if counts_a[type_] != counts_b[type_]:
            lines.append(f"  {type_}: {counts_a[type_]} -> {counts_b[type_]} ({counts_b[type_] - counts_a[type_]:+d})")
    a_by_name = {_normalise(left, r.name): r for r in left.resources if r.custom}
    b_by_name = {_normalise(right, r.name): r for r in right.resources if r.custom}
    lines += ["", "Changed properties of resources in both:"]
    for name in sorted(set(a_by_name) & set(b_by_name)):
        a_inputs, b_inputs = _normalise(left, a_by_name[name].inputs), _normalise(right, b_by_name[name].inputs)
        a_opts = {"protect": a_by_name[name].protect}
        b_opts = {"protect": b_by_name[name].protect}
        for key in sorted(set(a_inputs) | set(b_inputs)):
            if a_inputs.get(key) != b_inputs.get(key) and key not in ("tags", "code"):
                if key in a_by_name[name].secret_inputs | b_by_name[name].secret_inputs:
                    lines.append(f"  {name}.{key}: [secret] -> [secret]")
                else:
                    lines.append(f"  {name}.{key}: {_short(a_inputs.get(key))} -> {_short(b_inputs.get(key))}")
        if a_opts != b_opts:
            lines.append(f"  {name} (Pulumi protect): {a_opts['protect']} -> {b_opts['protect']}")
    return "\n".join(lines)


def _short(value: Any, limit: int = 100) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _overrides(pairs: list[str]) -> dict[str, str]:
    result = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--set takes KEY=VALUE, got {pair!r}")
        result[key] = value
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stack", choices=known_stacks())
    parser.add_argument("--json", metavar="FILE", help="write the full recorded graph as JSON")
    parser.add_argument("--diff", metavar="STACK", choices=known_stacks(), help="compare with another stack")
    parser.add_argument("--set", metavar="KEY=VALUE", action="append", default=[], help="override a setting")
    parser.add_argument("--policy-config", metavar="FILE", help="policy pack config (default policypack/<stack>.json)")
    parser.add_argument("--out", metavar="DIR", help="where the report and pictures go (default build/plan/<stack>)")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    try:
        run = run_stack(args.stack, _overrides(args.set))
    except ProgramError as exc:
        cause = exc.__cause__
        print(str(cause) if isinstance(cause, SettingsError) else str(exc), file=sys.stderr)
        return EXIT_INVALID_SETTINGS if isinstance(cause, SettingsError) else EXIT_FAILED
    elapsed = time.perf_counter() - started

    config = json.loads(Path(args.policy_config).read_text()) if args.policy_config else load_policy_config(args.stack)
    violations = evaluate(run, config=config)
    out = Path(args.out) if args.out else PROJECT_DIR / "build" / "plan" / args.stack
    pictures = _draw(run, out)
    text = report(run, elapsed, violations, pictures)
    out.mkdir(parents=True, exist_ok=True)
    (out / "plan.txt").write_text(text + "\n")
    print(text)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"stack": run.stack, "outputs": run.outputs, "resources": run.graph()}, fh, indent=2, default=str)
        print(f"\nRecorded graph written to {args.json}")
    if args.diff:
        print("\n" + diff(run, run_stack(args.diff)))
    if violations:
        print(f"\n{len(violations)} mandatory policy violation(s): fix them before `pulumi up`.", file=sys.stderr)
        return EXIT_POLICY
    return 0


def _draw(run: StackRun, out: Path) -> list[Path]:
    from offline.diagram import render

    try:
        return list(render(run, out))
    except Exception as exc:
        print(f"(no picture: {exc}; install Graphviz's `dot`)", file=sys.stderr)
        return []


if __name__ == "__main__":
    sys.exit(main())
