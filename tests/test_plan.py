"""The offline plan command: report, pictures, policy results, exit codes, JSON, diff, what-ifs."""

import dataclasses
import functools
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from offline import plan
from offline.harness import PROJECT_DIR, ConfigFileError, StackRun, run_stack, stack_config
from offline.plan import diff
from offline.prices import monthly_costs, standby_mode_costs

DOCS = PROJECT_DIR / "docs"


def _not_run(*args: object, **kwargs: object) -> StackRun:
    raise AssertionError("the program ran although the input was already known to be bad")


def test_plan_writes_report_and_pictures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert plan.main(["dev", "--png", "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    written = (tmp_path / "plan.txt").read_text()
    assert written.startswith("Stack dev: ")
    assert "Policies: 19 mandatory, 0 violation(s)" in written
    assert "fintech:network:Network fintech-dev-net:" in written
    assert captured.out.startswith(written), "the terminal shows the report that is written"
    assert "offline run took" in captured.err, "timings go to the terminal, not into the report"
    assert (tmp_path / "architecture.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = (tmp_path / "architecture.svg").read_text()
    for label in ("CloudFront", "WAF web ACL", "Application Load Balancer", "Auto Scaling group", "Aurora MySQL"):
        assert label in svg
    assert svg.count("NAT gateway") == 1, "dev has one NAT gateway"
    assert written == (DOCS / "dev" / "plan.txt").read_text(), "docs/dev/plan.txt is stale: run `make pictures`"


def test_prod_plan_is_committed_and_its_picture_shows_a_nat_gateway_per_zone(tmp_path: Path) -> None:
    assert plan.main(["prod", "--out", str(tmp_path)]) == 0
    svg = (tmp_path / "architecture.svg").read_text()
    assert svg.count("NAT gateway") == 3
    assert "Object Lock" in svg
    assert not (tmp_path / "architecture.png").exists(), "the PNG is drawn only with --png"
    written = (tmp_path / "plan.txt").read_text()
    committed = (DOCS / "prod" / "plan.txt").read_text().replace("  architecture.png\n", "")
    assert written == committed, "docs/prod/plan.txt is stale: run `make pictures`"


def test_the_report_has_no_timing_or_path(dev: StackRun) -> None:
    text = plan.report(dev, [], [Path("/somewhere/architecture.svg")])
    assert "took" not in text
    assert "/somewhere" not in text
    assert "  architecture.svg" in text


def test_invalid_settings_exit_2_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plan, "PLAN_DIR", tmp_path)
    assert plan.main(["prod", "--set", "azCount=2"]) == plan.EXIT_INVALID_SETTINGS
    err = capsys.readouterr().err
    assert re.search(r"payments-platform:azCount = '?2'?: must be 3 when environment is prod", err), err
    assert "Traceback" not in err
    assert not list(tmp_path.iterdir()), "nothing is written for an invalid what-if"


def test_a_failing_mandatory_policy_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = plan.main(["dev", "--policy-config", "policypack/prod.json", "--out", str(tmp_path)])
    assert code == plan.EXIT_POLICY
    captured = capsys.readouterr()
    assert "[prod-data-protected]" in captured.out
    assert "mandatory policy violation(s)" in captured.err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["qa"], "invalid choice: 'qa'"),
        (["dev", "--set", "azCount"], "--set: takes KEY=VALUE"),
        (["dev", "--set", "=2"], "--set: takes KEY=VALUE"),
        (["dev", "--bogus"], "unrecognized arguments: --bogus"),
        ([], "the following arguments are required: stack"),
    ],
)
def test_usage_errors_exit_2_in_one_line(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plan, "run_stack", _not_run)
    with pytest.raises(SystemExit) as exited:
        plan.main(argv)
    assert exited.value.code == plan.EXIT_INVALID_INPUT
    err = capsys.readouterr().err
    assert says in err
    assert len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "no such file"),
        ('{"prod-data-protected": {"protectData": true,}}', "invalid JSON at line 1 column"),
        ('{"prod-data-protect": {"protectData": true}}', "no policy 'prod-data-protect' (did you mean"),
        ('{"prod-data-protected": {"protectDta": true}}', "prod-data-protected does not take 'protectDta'"),
        ('{"prod-data-protected": {"protectData": "yes"}}', "protectData must be a boolean"),
        ('{"vpc-flow-logs": {"retention": 1}}', "vpc-flow-logs does not take 'retention' (it takes no settings)"),
        ('{"vpc-flow-logs": "advisory"}', "is not applied offline"),
        ("[]", "expected a JSON object keyed by policy name"),
    ],
)
def test_policy_config_problems_are_one_line_each_before_the_program_runs(
    content: str | None,
    says: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = tmp_path / "pack.json"
    if content is not None:
        config.write_text(content)
    monkeypatch.setattr(plan, "run_stack", _not_run)
    assert plan.main(["dev", "--policy-config", str(config), "--out", str(tmp_path)]) == plan.EXIT_INVALID_INPUT
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"--policy-config {config}: ")
    assert says in err


def test_every_policy_config_problem_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "pack.json"
    config.write_text('{"no-such-policy": {}, "prod-data-protected": {"protectData": 1, "extra": true}}')
    assert plan.main(["dev", "--policy-config", str(config)]) == plan.EXIT_INVALID_INPUT
    assert len(capsys.readouterr().err.strip().splitlines()) == 3


def _project_with(tmp_path: Path, stack_file: str) -> Path:
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "Pulumi.dev.yaml").write_text(stack_file)
    return tmp_path


BROKEN_STACK_FILE = "config:\n  aws:region: eu-west-1\n  payments-platform:azCount: [3\n  payments-platform:x: 1\n"


def test_a_yaml_error_in_a_stack_file_names_the_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError) as raised:
        stack_config("dev", project_dir=_project_with(tmp_path, BROKEN_STACK_FILE))
    message = str(raised.value)
    assert re.match(r"Pulumi\.dev\.yaml line 4: invalid YAML: ", message), message
    assert "\n" not in message


def test_the_plan_reports_a_yaml_error_in_one_line_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project_with(tmp_path, BROKEN_STACK_FILE)
    monkeypatch.setattr(plan, "run_stack", functools.partial(run_stack, project_dir=project))
    assert plan.main(["dev", "--out", str(tmp_path / "out")]) == plan.EXIT_INVALID_INPUT
    err = capsys.readouterr().err
    assert err.startswith("Pulumi.dev.yaml line 4: invalid YAML")
    assert len(err.strip().splitlines()) == 1, err


def _dev_file_with(*replacements: tuple[str, str]) -> str:
    text = (PROJECT_DIR / "Pulumi.dev.yaml").read_text()
    for old, new in replacements:
        assert old in text
        text = text.replace(old, new)
    return text


def test_a_key_set_twice_names_the_file_the_key_and_both_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """YAML keeps the last of two values silently (PyYAML and the Pulumi CLI alike): refused instead."""
    again = "  payments-platform:asgMaxSize: 2\n  payments-platform:dbInstanceCount: 3\n"
    twice = _dev_file_with(("  payments-platform:asgMaxSize: 2\n", again))
    lines = twice.splitlines()
    first = lines.index("  payments-platform:dbInstanceCount: 1") + 1
    second = lines.index("  payments-platform:dbInstanceCount: 3") + 1
    project = _project_with(tmp_path, twice)
    with pytest.raises(ConfigFileError, match=rf"line {second}: .*dbInstanceCount is set twice, on line {first} and"):
        stack_config("dev", project_dir=project)
    monkeypatch.setattr(plan, "run_stack", functools.partial(run_stack, project_dir=project))
    assert plan.main(["dev", "--out", str(tmp_path / "out")]) == plan.EXIT_INVALID_INPUT
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == (
        f"Pulumi.dev.yaml line {second}: invalid YAML: payments-platform:dbInstanceCount is set twice, on line "
        f"{first} and line {second} (YAML keeps only the last): delete one"
    )
    assert not (tmp_path / "out").exists()


def test_a_key_merged_in_from_an_anchor_may_be_overridden(tmp_path: Path) -> None:
    """YAML's merge key (``<<: *defaults``) brings keys a mapping is meant to override: no duplicate."""
    project = _project_with(
        tmp_path,
        "defaults: &defaults\n  payments-platform:azCount: 3\nconfig:\n  <<: *defaults\n"
        "  payments-platform:azCount: 2\n  aws:region: eu-west-1\n",
    )
    assert stack_config("dev", project_dir=project)["payments-platform:azCount"] == "2"


def test_settings_nobody_reads_or_aws_does_not_offer_exit_2_one_line_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 21: each of these planned normally (exit 0), the bad value ignored or taken at its word."""
    project = _project_with(
        tmp_path,
        _dev_file_with(
            ("payments-platform:dbInstanceCount:", "payment-platform:dbInstanceCount:"),
            ("aws:region: eu-west-1", "aws:region: eu-west-9"),
            ("payments-platform:instanceType: t3.small", "payments-platform:instanceType: t3.humongous"),
            ("payments-platform:dbInstanceClass: db.t4g.medium", "payments-platform:dbInstanceClass: db.t4g.huge"),
        ),
    )
    program = PROJECT_DIR / "__main__.py"
    monkeypatch.setattr(plan, "run_stack", functools.partial(run_stack, project_dir=project, program=program))
    assert plan.main(["dev", "--out", str(tmp_path / "out")]) == plan.EXIT_INVALID_SETTINGS
    lines = capsys.readouterr().err.strip().splitlines()
    assert [line.split(" = ")[0] for line in lines] == [
        "payment-platform:dbInstanceCount",
        "aws:region",
        "payments-platform:dbInstanceClass",
        "payments-platform:instanceType",
    ], lines
    assert lines[0].endswith("did you mean payments-platform:dbInstanceCount? (from Pulumi.dev.yaml)")
    assert "no AWS partition has a region eu-west-9" in lines[1]
    assert "db.t4g comes in" in lines[2]
    assert "t3 comes in" in lines[3]
    assert all(line.endswith("(from Pulumi.dev.yaml)") for line in lines)
    assert not (tmp_path / "out").exists()


def test_diff_prints_the_difference_alone_and_still_writes_the_plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert plan.main(["dev", "--diff", "prod", "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("Differences from dev to prod:\n"), captured.out[:200]
    assert "Stack dev: " not in captured.out
    assert "Settings in force" not in captured.out
    assert (tmp_path / "plan.txt").read_text().startswith("Stack dev: "), "the plan is written as without --diff"
    assert (tmp_path / "architecture.svg").exists()
    assert f"Plan of dev: Written to {tmp_path}/: plan.txt, compliance.md, architecture.svg" in captured.err


def test_the_first_make_plan_says_it_is_setting_up_the_venv(tmp_path: Path) -> None:
    """`make plan` spends a minute in pip on a fresh clone: one line says so first; pip stays quiet."""
    shutil.copy(PROJECT_DIR / "Makefile", tmp_path / "Makefile")
    (tmp_path / "requirements.txt").write_text("pulumi\n")
    log = tmp_path / "calls.log"
    # A stand-in for python3: `-m venv DIR` makes DIR/bin/python (itself), `-m pip ...` is logged.
    fake = tmp_path / "python3"
    fake.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {log}\n'
        'if [ "$1 $2" = "-m venv" ]; then mkdir -p "$3/bin" && cp "$0" "$3/bin/python"; fi\n'
    )
    fake.chmod(0o755)

    def make() -> subprocess.CompletedProcess[str]:
        # As a user's shell runs it: not a sub-make of `make test` (which prints "Entering directory").
        env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
        return subprocess.run(
            ["make", f"PYTHON={fake}", ".venv/bin/.installed"],
            cwd=tmp_path, env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip

    first = make()
    assert first.stderr == "setting up .venv (first run, about a minute)...\n"
    assert first.stdout == "", "no command is echoed, pip prints nothing"
    assert log.read_text().splitlines() == [
        "-m venv .venv",
        "-m pip install --quiet --disable-pip-version-check -r requirements.txt",
    ]
    assert make().stderr == "", "nothing to say once it is set up"
    os.utime(tmp_path / ".venv" / "bin" / ".installed", (0, 0))  # requirements.txt changed since
    assert make().stderr == "updating .venv (requirements.txt changed, about a minute)...\n"


def test_usage_names_the_commands_people_type() -> None:
    usage = plan._parser().format_help()
    assert usage.startswith("usage: python -m offline.plan ")
    assert "make plan STACK=prod" in usage
    assert "python -m offline.plan dev --set azCount=2 --diff dev" in usage


def test_json_graph_has_no_secret_values(tmp_path: Path) -> None:
    target = tmp_path / "graph.json"
    assert plan.main(["dev", "--out", str(tmp_path), "--json", str(target)]) == 0
    graph = json.loads(target.read_text())
    version = next(r for r in graph["resources"] if r["type"] == "aws:secretsmanager/secretVersion:SecretVersion")
    assert version["inputs"]["secretString"] == "[secret]"
    assert "offline-" not in target.read_text(), "no generated secret value leaks into the graph"
    assert graph["outputs"]["vpc_id"]


# --------------------------------------------------------------------------- diff


def test_a_stack_diffed_against_itself_has_no_differences(dev: StackRun) -> None:
    assert diff(dev, run_stack("dev")) == "No differences from dev to dev."


def test_generated_names_and_the_stack_suffix_are_not_differences(dev: StackRun) -> None:
    """Another suffix changes every name, id, ARN and digest the mocks generate: none of it counts."""
    renamed = run_stack("dev", {"envSuffix": "qa"})
    assert (
        diff(dev, renamed) == "Differences from dev to dev:\n\nSettings (1):\n  payments-platform:envSuffix: dev -> qa"
    )


def test_diff_from_dev_to_prod_tells_the_truth(dev: StackRun, prod: StackRun) -> None:
    text = diff(dev, prod)
    lines = text.splitlines()
    assert lines[0] == "Differences from dev to prod:"
    assert "  payments-platform:natStrategy: single -> per_az" in lines
    assert "  + aws:ec2/natGateway:NatGateway fintech-<env>-net-nat-2" in lines
    # Resources in both: each names itself once, then its differences, integers as integers.
    cluster = lines.index("  ~ fintech-<env>-db-cluster (aws:rds/cluster:Cluster)")
    assert "      backupRetentionPeriod: 7 -> 35" in lines[cluster:]
    assert "      protect (resource option): false -> true" in lines[cluster:]
    assert not re.search(r"(?<![\d.])\d+\.0(?![\d./])", text), "whole numbers are printed as integers"
    # A reference to another resource reads as that resource, not as a stack-specific id.
    assert '      natGatewayId: "${fintech-<env>-net-nat-0.id}" -> "${fintech-<env>-net-nat-1.id}"' in lines
    for run in (dev, prod):
        leaked = [r.id for r in run.resources if r.custom and r.id in text]
        assert not leaked, f"generated ids churn the diff: {leaked[:3]}"
    assert "fintech-dev" not in text
    assert "fintech-prod" not in text
    # Long documents by digest, short values in full; nothing cut off; no empty section.
    assert re.search(
        r"      dashboardBody: differs \(sha256 [0-9a-f]{12} -> sha256 [0-9a-f]{12}; \d+ -> \d+ chars\)", text
    )
    assert "..." not in text
    assert not any(re.search(r"\(0\):$", line) for line in lines)
    assert max(len(line) for line in lines) < 2 * plan.BLOB_LIMIT + 100
    assert "offline-" not in text, "secret inputs are masked"


def test_values_differ_in_full_and_blobs_by_digest() -> None:
    assert list(plan._changes("minSize", 1, 3)) == ["minSize: 1 -> 3"]
    assert list(plan._changes("rules", [{"days": 90}], [{"days": 400}])) == ["rules[0].days: 90 -> 400"]
    policy_a, policy_b = '{"Statement": "' + "a" * 300 + '"}', '{"Statement": "' + "b" * 300 + '"}'
    (line,) = plan._changes("policy", policy_a, policy_b)
    assert re.fullmatch(r"policy: differs \(sha256 [0-9a-f]{12} -> sha256 [0-9a-f]{12}; 317 -> 317 chars\)", line)
    archive_a = {"assetArchive": {"index.py": {"fileAsset": "index.py", "sha256": "1" * 64}}}
    archive_b = {"assetArchive": {"index.py": {"fileAsset": "index.py", "sha256": "2" * 64}}}
    (line,) = plan._changes("code", archive_a, archive_b)
    assert re.fullmatch(r"code: differs \(sha256 [0-9a-f]{12} -> sha256 [0-9a-f]{12}\)", line)


def test_a_what_if_is_diffed_against_its_stack_and_written_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plan, "PLAN_DIR", tmp_path)
    assert plan.main(["dev", "--set", "azCount=2", "--diff", "dev"]) == 0
    out = capsys.readouterr().out
    assert not (tmp_path / "dev").exists(), "a what-if never writes over the stack's plan"
    written = (tmp_path / "dev+azCount=2" / "plan.txt").read_text()
    assert written.startswith("Stack dev (--set azCount=2): ")
    assert "  payments-platform:azCount = 2 (--set)" in written
    assert "  payments-platform:natStrategy = single\n" in written
    section = out[out.index("Differences from dev to dev (--set azCount=2):") :]
    gone = sorted(line.split()[-1] for line in section.splitlines() if line.startswith("  - "))
    assert gone == sorted(
        [f"fintech-<env>-net-{tier}-2" for tier in ("public", "private", "database", "rotation")]  # subnets
        + [f"fintech-<env>-net-{tier}-2" for tier in ("public", "private", "database", "rotation")]  # associations
        + ["fintech-<env>-net-private-rt-2", "fintech-<env>-net-private-default-2"]
        + ["fintech-<env>-net-rotation-rt-2", "fintech-<env>-net-rotation-default-2"]
    )
    changed = sorted(line.split()[1] for line in section.splitlines() if line.startswith("  ~ "))
    assert changed == sorted(
        f"fintech-<env>-{n}" for n in ("app-asg", "net-s3-endpoint", "secrets-rotation", "lb-alb", "db-subnets")
    )
    assert "  payments-platform:azCount: 3 -> 2 (--set)" in section
    assert "Resources only in dev (--set azCount=2)" not in section, "azCount=2 adds nothing"


def test_what_if_folders(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert plan.default_out("dev", {}) == plan.PLAN_DIR / "dev"
    assert plan.default_out("dev", {"azCount": "2"}) == plan.PLAN_DIR / "dev+azCount=2"
    odd = plan.default_out("dev", {"vpcCidr": "10.30.0.0/16"})
    assert re.fullmatch(r"dev-whatif-[0-9a-f]{8}", odd.name), "a value that cannot name a folder is hashed"
    monkeypatch.setattr(plan, "run_stack", _not_run)
    code = plan.main(["dev", "--set", "azCount=2", "--out", str(plan.PLAN_DIR / "dev")])
    assert code == plan.EXIT_INVALID_INPUT
    assert "never written over dev's plan" in capsys.readouterr().err


def test_cost_drivers_show_what_prod_pays_for_over_dev(dev: StackRun, prod: StackRun) -> None:
    dev_report, prod_report = plan.report(dev, [], []), plan.report(prod, [], [])
    assert "NAT gateways (hourly + per GB): 1" in dev_report
    assert "Interface endpoint-AZs (hourly + per GB): 0" in dev_report
    assert "NAT gateways (hourly + per GB): 3" in prod_report
    assert "Interface endpoint-AZs (hourly + per GB): 12" in prod_report
    assert "Aurora instances (hourly): 2 x db.r6g.large" in prod_report
    assert "Prices: AWS list prices, us-east-1 on demand, 730 h/month, checked 2026-11-23" in prod_report


def test_services_billed_by_usage_are_named_from_the_graph_without_a_fixed_line(dev: StackRun, prod: StackRun) -> None:
    """#26 item 6: CloudTrail data events, AWS Config, GuardDuty, Security Hub bill by usage alone (their
    drivers and list prices are in docs/offline-plan.md): the plan counts them, prices nothing for them."""
    for run in (dev, prod):
        lines = plan.usage_drivers(run)
        assert lines[0] == "Billed by usage, no fixed line (drivers and list prices: docs/offline-plan.md#cost):"
        report = plan.report(run, [], [])
        assert all(line in report for line in lines), "in the cost drivers, single site or standby"
    like = prod.of_type("aws:ec2/vpc:Vpc")
    detectors = [
        dataclasses.replace(vpc, type="aws:guardduty/detector:Detector", urn=f"{vpc.urn}-gd", inputs={"enable": True})
        for vpc in like
    ]
    guarded = dataclasses.replace(prod, resources=[*prod.resources, *detectors])
    before = len(prod.of_type("aws:guardduty/detector:Detector"))
    assert f"GuardDuty ({before} detector" in plan.usage_drivers(prod)[1]
    assert f"GuardDuty ({before + 2} detectors)" in plan.usage_drivers(guarded)[1]
    assert monthly_costs(guarded) == monthly_costs(prod), "no fixed line"


def test_monthly_costs_price_each_driver_from_the_graph(dev: StackRun, prod: StackRun) -> None:
    costs = dict(monthly_costs(prod.home()))
    assert costs["NAT gateways (hourly + per GB): 3"] == pytest.approx(3 * 0.045 * 730)
    assert costs["Public IPv4 addresses (hourly): 3 elastic + 3 load balancer"] == pytest.approx(6 * 0.005 * 730)
    assert costs["Interface endpoint-AZs (hourly + per GB): 12"] == pytest.approx(12 * 0.01 * 730)
    assert costs["Aurora instances (hourly): 2 x db.r6g.large"] == pytest.approx(2 * 0.26 * 730)
    assert costs["App instances (hourly): 3 x t4g.large at creation, 2-10 by scaling"] == pytest.approx(
        3 * 0.0672 * 730
    )
    # The app and master secrets and their replicas; RDS cannot manage a global database's master.
    assert costs["Secrets (monthly): 2 + 2 replicas + 0 RDS-managed master secret"] == pytest.approx(1.60)
    # One HTTPS, fast-interval (10 s) check per site: $0.50 + 2 x $1.00 each.
    assert costs["Route 53 health checks (monthly): 2 with 4 options"] == pytest.approx(5.00)
    # With the home site's 14 CIS alarms on the trail ($0.10 each).
    assert sum(costs.values()) == pytest.approx(800.08, abs=0.01)
    assert sum(amount for _, amount in monthly_costs(dev)) == pytest.approx(164.99, abs=0.01)


def test_the_standby_is_priced_in_each_mode(prod: StackRun) -> None:
    standby = dict(monthly_costs(prod.standby()))
    assert standby["Aurora instances (hourly): 1 x db.r6g.large"] == pytest.approx(0.26 * 730)
    assert standby["App instances (hourly): 1 x t4g.large at creation, 1-10 by scaling"] == pytest.approx(0.0672 * 730)
    modes = standby_mode_costs(prod.standby())
    assert modes["warm"] == pytest.approx(sum(standby.values()))
    # Pilot light: no database instance, no app instance (nor its detailed monitoring).
    assert modes["warm"] - modes["pilot-light"] == pytest.approx(0.26 * 730 + 0.0672 * 730 + 7 * 0.30)
    report = "\n".join(plan.cost_drivers(prod))
    assert "Standby site (eu-central-1, warm):" in report
    # The standby's rotation function has its error and unconfirmed-rotation alarms ($0.20): it rotates
    # there after a failover.
    assert "Standby by mode: pilot-light $244.22/month, warm $485.17/month (this stack: warm)" in report
    assert "Total (both sites): $1,285.25/month" in report


def test_a_type_without_a_price_is_reported_unpriced_not_zero() -> None:
    run = run_stack("dev", {"instanceType": "m7i.xlarge"})
    text = "\n".join(plan.cost_drivers(run))
    assert re.search(r"App instances \(hourly\): 1 x m7i.xlarge .* unpriced", text)
    assert "+ 1 unpriced (not in offline/prices.py)" in text
