"""The GitHub Actions workflows users run: tests, previews with the policy pack, gated deploys, OIDC."""

from pathlib import Path
from typing import Any

import pytest
import yaml

WORKFLOWS = Path(__file__).resolve().parent.parent / ".github" / "workflows"


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the bare key `on` as True.
    data["on"] = data.pop(True, data.get("on"))
    return dict(data)


def steps(job: dict[str, Any], uses: str) -> list[dict[str, Any]]:
    return [s for s in job["steps"] if str(s.get("uses", "")).startswith(uses)]


def test_pull_requests_run_the_tests_then_preview_each_stack_with_the_policy_pack() -> None:
    ci = load("ci.yml")
    assert "pull_request" in ci["on"]
    assert any(s.get("run") == "make test" for s in ci["jobs"]["test"]["steps"])
    preview = ci["jobs"]["preview"]
    assert preview["needs"] == "test"
    assert preview["strategy"]["matrix"]["stack"] == ["dev", "prod"]
    (pulumi,) = steps(preview, "pulumi/actions@")
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["policyPacks"] == "policypack"
    assert "policypack/prod.json" in pulumi["with"]["policyPackConfigs"]


def test_main_deploys_dev_then_prod_behind_a_manual_approval() -> None:
    jobs = load("ci.yml")["jobs"]
    (dev_up,) = steps(jobs["deploy-dev"], "pulumi/actions@")
    (prod_up,) = steps(jobs["deploy-prod"], "pulumi/actions@")
    assert (dev_up["with"]["command"], dev_up["with"]["stack-name"]) == ("up", "dev")
    assert (prod_up["with"]["command"], prod_up["with"]["stack-name"]) == ("up", "prod")
    assert jobs["deploy-prod"]["needs"] == "deploy-dev"
    assert jobs["deploy-prod"]["environment"] == "production"
    assert prod_up["with"]["policyPackConfigs"] == "policypack/prod.json"
    assert "refs/heads/main" in jobs["deploy-dev"]["if"]


@pytest.mark.parametrize("name", ["ci.yml", "drift.yml"])
def test_aws_access_is_oidc_role_assumption_only(name: str) -> None:
    text = (WORKFLOWS / name).read_text()
    assert "aws-access-key-id" not in text
    assert "AWS_SECRET_ACCESS_KEY" not in text
    workflow = load(name)
    for job_name, job in workflow["jobs"].items():
        for step in steps(job, "aws-actions/configure-aws-credentials@"):
            assert step["with"]["role-to-assume"].startswith("${{ vars."), job_name
            permissions = job.get("permissions", workflow.get("permissions", {}))
            assert permissions.get("id-token") == "write", job_name


def test_drift_check_runs_nightly_and_fails_on_changes() -> None:
    drift = load("drift.yml")
    assert drift["on"]["schedule"]
    (pulumi,) = steps(drift["jobs"]["drift"], "pulumi/actions@")
    assert pulumi["with"]["refresh"] is True
    assert pulumi["with"]["expect-no-changes"] is True
