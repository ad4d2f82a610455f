"""The offline plan command: report, pictures, policy results, exit codes, JSON, diff."""

import json
from pathlib import Path

import pytest

from offline import plan


def test_plan_writes_report_and_pictures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert plan.main(["dev", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Stack dev: ")
    assert "Policies: 17 mandatory, 0 violation(s)" in out
    assert "fintech:network:Network fintech-dev-net:" in out
    assert (tmp_path / "plan.txt").read_text().strip() == out.strip()
    assert (tmp_path / "architecture.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = (tmp_path / "architecture.svg").read_text()
    for label in ("CloudFront", "WAF web ACL", "Application Load Balancer", "Auto Scaling Group", "Aurora MySQL"):
        assert label in svg
    assert svg.count("NAT gateway") == 1, "dev has one NAT gateway"


def test_prod_picture_shows_a_nat_gateway_per_zone(tmp_path: Path) -> None:
    assert plan.main(["prod", "--out", str(tmp_path)]) == 0
    svg = (tmp_path / "architecture.svg").read_text()
    assert svg.count("NAT gateway") == 3
    assert "Object Lock" in svg


def test_invalid_settings_exit_2_naming_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert plan.main(["prod", "--set", "azCount=2", "--out", str(tmp_path)]) == plan.EXIT_INVALID_SETTINGS
    err = capsys.readouterr().err
    assert "payments-platform:azCount = '2': must be 3 when environment is prod" in err
    assert not (tmp_path / "plan.txt").exists()


def test_a_failing_mandatory_policy_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = plan.main(["dev", "--policy-config", "policypack/prod.json", "--out", str(tmp_path)])
    assert code == plan.EXIT_POLICY
    captured = capsys.readouterr()
    assert "[prod-data-protected]" in captured.out
    assert "mandatory policy violation(s)" in captured.err


def test_json_graph_has_no_secret_values(tmp_path: Path) -> None:
    target = tmp_path / "graph.json"
    assert plan.main(["dev", "--out", str(tmp_path), "--json", str(target)]) == 0
    graph = json.loads(target.read_text())
    version = next(r for r in graph["resources"] if r["type"] == "aws:secretsmanager/secretVersion:SecretVersion")
    assert version["inputs"]["secretString"] == "[secret]"
    assert "offline-" not in target.read_text(), "no generated secret value leaks into the graph"
    assert graph["outputs"]["vpc_id"]


def test_diff_shows_what_prod_changes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert plan.main(["dev", "--out", str(tmp_path), "--diff", "prod"]) == 0
    out = capsys.readouterr().out
    section = out[out.index("Differences from dev to prod") :]
    assert "payments-platform:natStrategy: single -> per_az" in section
    assert "aws:ec2/natGateway:NatGateway: 1 -> 3 (+2)" in section
    assert "fintech-<env>-db-cluster.deletionProtection: false -> true" in section
    assert "fintech-<env>-db-cluster (Pulumi protect): False -> True" in section
    assert "offline-" not in section, "secret inputs are masked"


def test_cost_drivers_show_what_prod_pays_for_over_dev(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    plan.main(["dev", "--out", str(tmp_path / "dev")])
    dev = capsys.readouterr().out
    plan.main(["prod", "--out", str(tmp_path / "prod")])
    prod = capsys.readouterr().out
    assert "NAT gateways (hourly + per GB): 1" in dev
    assert "Interface endpoint-AZs (hourly + per GB): 0" in dev
    assert "NAT gateways (hourly + per GB): 3" in prod
    assert "Interface endpoint-AZs (hourly + per GB): 18" in prod
    assert "Aurora instances (hourly): 2 x db.r6g.large" in prod
