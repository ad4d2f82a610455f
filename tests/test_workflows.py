"""The GitHub Actions workflows users run: tests, previews with the policy pack, gated deploys, OIDC.

Each test reads the workflow YAML and checks one property that makes CI run on day one and stay
safe; the expectations are literals, so a careless edit to a workflow turns a test red.
The pipeline that deploys prod is evidence too (PCI DSS 6.3/6.4): its actions are pinned to
commits that Dependabot keeps current, no checkout leaves a token behind, and zizmor audits it
in `make lint`.
"""

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
GITHUB = ROOT / ".github"
WORKFLOWS = GITHUB / "workflows"
# What runs actions: every workflow and every composite action of the repository.
ACTION_USERS = sorted(WORKFLOWS.glob("*.y*ml")) + sorted(GITHUB.glob("**/action.y*ml"))

ON_MAIN_PUSH = "github.ref == 'refs/heads/main' && github.event_name == 'push'"
SAME_REPOSITORY_PULL_REQUEST = (
    "github.event_name == 'pull_request' && github.event.pull_request.head.repo.full_name == github.repository"
)
POLICY_CONFIG_PER_STACK = "${{ matrix.stack == 'prod' && 'policypack/prod.json' || '' }}"
# Four hours: a first prod `up` (Aurora writer then reader, CloudFront, ACM DNS validation) takes
# well over the default one-hour session. The bootstrap (docs/bootstrap.md) sets MaxSessionDuration to match.
DEPLOY_SESSION_SECONDS = 14400

# (workflow, job) -> the role it assumes and the GitHub environment it runs in. A role's trust
# policy names the token subject it accepts (docs/bootstrap.md): `environment:dev`,
# `environment:production`, `pull_request`, or `ref:refs/heads/main` for a job with no environment.
ROLES = {
    ("ci.yml", "preview"): ("${{ vars.AWS_PREVIEW_ROLE_ARN }}", None),
    ("ci.yml", "deploy-dev"): ("${{ vars.AWS_DEPLOY_ROLE_ARN }}", "dev"),
    ("ci.yml", "preview-prod"): ("${{ vars.AWS_READ_ROLE_ARN }}", None),
    ("ci.yml", "deploy-prod"): ("${{ vars.AWS_DEPLOY_ROLE_ARN }}", "production"),
    ("drift.yml", "drift"): ("${{ vars.AWS_READ_ROLE_ARN }}", None),
}
PERMISSIONS = {
    ("ci.yml", "test"): {"contents": "read"},
    ("ci.yml", "preview"): {"contents": "read", "id-token": "write", "pull-requests": "write"},
    ("ci.yml", "deploy-dev"): {"contents": "read", "id-token": "write"},
    ("ci.yml", "preview-prod"): {"contents": "read", "id-token": "write"},
    ("ci.yml", "deploy-prod"): {"contents": "read", "id-token": "write"},
    ("drift.yml", "drift"): {"contents": "read", "id-token": "write"},
}
# Jobs that run Pulumi against a stack from main share one queue per stack.
STACK_QUEUES = {"deploy-dev": "pulumi-dev", "preview-prod": "pulumi-prod", "deploy-prod": "pulumi-prod"}
# `uses: owner/repo[/path]@<40-hex commit> # v1.2.3`: a tag or branch can be moved to other code,
# a commit cannot; the comment is the release Dependabot reads and rewrites with the SHA.
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<comment>\s+#.*)?$")
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(?:/[\w./-]+)?@[0-9a-f]{40}$")
RELEASE_COMMENT = re.compile(r"^\s+# (v\d+(?:\.\d+){1,2})$")
# The updates Dependabot must propose, and how often.
DEPENDABOT = {("github-actions", "/"): "weekly", ("pip", "/"): "weekly"}
# The audit `make lint` runs: offline (no GitHub token, no network), over the whole repository.
ZIZMOR = "$(BIN)/zizmor --offline --strict-collection --no-progress --quiet ."


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the bare key `on` as True.
    data["on"] = data.pop(True, data.get("on"))
    return dict(data)


def steps(job: dict[str, Any], uses: str) -> list[dict[str, Any]]:
    return [s for s in job["steps"] if str(s.get("uses", "")).startswith(uses)]


def pulumi(job: dict[str, Any]) -> dict[str, Any]:
    (step,) = steps(job, "pulumi/actions@")
    settings: dict[str, Any] = step["with"]
    return settings


def all_jobs() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path in sorted(WORKFLOWS.glob("*.y*ml")):
        for job_name, job in load(path.name)["jobs"].items():
            yield path.name, job_name, job


def uses_values(node: Any) -> Iterator[str]:
    """Every `uses:` in a parsed workflow or action, wherever it sits (steps, reusable-workflow jobs)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "uses":
                yield str(value)
            else:
                yield from uses_values(value)
    elif isinstance(node, list):
        for item in node:
            yield from uses_values(item)


def uses_lines(path: Path) -> list[tuple[str, str]]:
    """(ref, trailing comment) of each `uses:` line; comments are lost to the YAML parser."""
    found = []
    for line in path.read_text().splitlines():
        if match := USES_LINE.match(line):
            found.append((match["ref"], match["comment"] or ""))
    return found


def all_steps() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path in ACTION_USERS:
        data = yaml.safe_load(path.read_text())
        for job_name, job in data.get("jobs", {"runs": data.get("runs", {})}).items():
            for step in job.get("steps", []):
                yield path.name, job_name, step


def makefile_rule(target: str) -> tuple[list[str], list[str]]:
    """A Makefile target's prerequisites and recipe lines."""
    lines = (ROOT / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{target}:"))
    recipe = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip())
    return lines[start].split(":", 1)[1].split(), recipe


def zizmor(args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    # No token in reach: --offline forbids the online audits anyway, this keeps it so if a flag slips.
    env = {k: v for k, v in os.environ.items() if k not in ("GH_TOKEN", "GITHUB_TOKEN", "ZIZMOR_GITHUB_TOKEN")}
    binary = Path(sys.executable).parent / "zizmor"
    return subprocess.run(
        [str(binary), *args], check=False, cwd=ROOT, env=env, input=stdin, capture_output=True, text=True, timeout=120
    )


def is_checkout(step: dict[str, Any]) -> bool:
    return str(step.get("uses", "")).startswith("actions/checkout@")


def pulumi_jobs() -> Iterator[tuple[str, str, dict[str, Any]]]:
    return ((name, job_name, job) for name, job_name, job in all_jobs() if steps(job, "pulumi/actions@"))


def test_pull_requests_run_the_tests_then_preview_dev_with_the_policy_pack() -> None:
    ci = load("ci.yml")
    assert "pull_request" in ci["on"]
    assert any(s.get("run") == "make test" for s in ci["jobs"]["test"]["steps"])
    preview = ci["jobs"]["preview"]
    assert preview["needs"] == "test"
    settings = pulumi(preview)
    assert settings["command"] == "preview"
    assert settings["policyPacks"] == "policypack"
    assert settings["comment-on-pr"] is True


def test_no_pull_request_reaches_prods_state_or_its_secrets() -> None:
    """A pull request's code runs in its preview job, which decrypts the previewed stack's secrets
    (the origin header binding the load balancers to CloudFront and its WAF): only dev's."""
    ci = load("ci.yml")
    pull_request_jobs = [
        (job_name, job)
        for job_name, job in ci["jobs"].items()
        if "github.event_name == 'pull_request'" in job.get("if", "")
    ]
    assert [job_name for job_name, _ in pull_request_jobs] == ["preview"]
    for _, job in pull_request_jobs:
        assert "strategy" not in job, "one stack, not a matrix that could grow prod back"
        assert pulumi(job)["stack-name"] == "dev"
        assert "prod" not in json.dumps(job).replace("policypack/prod.json", "")
    # ...and prod still gets its offline plan and policy pack in the pull request.
    assert any("make plan STACK=prod" in s.get("run", "") for s in ci["jobs"]["test"]["steps"])


def test_main_deploys_dev_then_prod_behind_a_manual_approval() -> None:
    jobs = load("ci.yml")["jobs"]
    dev_up, prod_up = pulumi(jobs["deploy-dev"]), pulumi(jobs["deploy-prod"])
    assert (dev_up["command"], dev_up["stack-name"]) == ("up", "dev")
    assert (prod_up["command"], prod_up["stack-name"]) == ("up", "prod")
    assert jobs["deploy-prod"]["needs"] == ["deploy-dev", "preview-prod"]
    assert jobs["deploy-prod"]["environment"] == "production"
    assert (dev_up["policyPacks"], prod_up["policyPacks"]) == ("policypack", "policypack")
    assert prod_up["policyPackConfigs"] == "policypack/prod.json"
    assert "refs/heads/main" in jobs["deploy-dev"]["if"]


def test_only_a_push_to_main_deploys() -> None:
    ci = load("ci.yml")
    assert ci["on"]["push"] == {"branches": ["main"]}
    for job_name in ("deploy-dev", "preview-prod", "deploy-prod"):
        assert ci["jobs"][job_name]["if"] == ON_MAIN_PUSH, f"{job_name} must run only for a push to main"
    up_jobs = {job_name for _, job_name, job in pulumi_jobs() if pulumi(job)["command"] == "up"}
    assert up_jobs == {"deploy-dev", "deploy-prod"}


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


def test_each_job_assumes_the_role_trusted_for_its_token_subject() -> None:
    found = {}
    for name, job_name, job in all_jobs():
        for step in steps(job, "aws-actions/configure-aws-credentials@"):
            found[(name, job_name)] = (step["with"]["role-to-assume"], job.get("environment"))
    assert found == ROLES
    # Only the deploy jobs run in an environment: its required reviewers and main-only deployment
    # branches gate the job, and the environment-scoped AWS_DEPLOY_ROLE_ARN differs per environment.
    environments = {job_name: job["environment"] for _, job_name, job in all_jobs() if "environment" in job}
    assert environments == {"deploy-dev": "dev", "deploy-prod": "production"}


def test_deploys_get_a_session_that_outlives_the_job() -> None:
    jobs = load("ci.yml")["jobs"]
    for job_name in ("deploy-dev", "deploy-prod"):
        (credentials,) = steps(jobs[job_name], "aws-actions/configure-aws-credentials@")
        assert credentials["with"].get("role-duration-seconds") == DEPLOY_SESSION_SECONDS, (
            f"{job_name}: the default one-hour session expires in the middle of a first `up`"
        )
        assert jobs[job_name]["timeout-minutes"] * 60 < DEPLOY_SESSION_SECONDS, (
            f"{job_name}: a job that outlives its credentials fails half-applied"
        )


@pytest.mark.parametrize("name", ["ci.yml", "drift.yml"])
def test_no_passphrase_is_needed_the_stacks_use_the_kms_secrets_provider(name: str) -> None:
    assert "PULUMI_CONFIG_PASSPHRASE" not in (WORKFLOWS / name).read_text()


@pytest.mark.parametrize("name", ["ci.yml", "drift.yml"])
def test_a_passphrase_would_only_reach_the_steps_that_run_pulumi(name: str) -> None:
    workflow = load(name)
    assert not [key for key in workflow.get("env", {}) if key.startswith("PULUMI_CONFIG_PASSPHRASE")]
    for job_name, job in workflow["jobs"].items():
        assert not [key for key in job.get("env", {}) if key.startswith("PULUMI_CONFIG_PASSPHRASE")], job_name
        for step in job["steps"]:
            if any(key.startswith("PULUMI_CONFIG_PASSPHRASE") for key in step.get("env", {})):
                assert str(step.get("uses", "")).startswith("pulumi/actions@"), job_name


def test_ci_never_creates_a_stack_and_checks_the_bootstrap_first() -> None:
    for name, job_name, job in pulumi_jobs():
        settings = pulumi(job)
        # pulumi/actions' upsert defaults to false; a stack it created would be empty (a wrong
        # backend URL would deploy a second copy) and its secrets provider would not be committed.
        assert settings.get("upsert", False) is False, (name, job_name)
        assert "secrets-provider" not in settings, (name, job_name)
        names = [step.get("name", step.get("uses")) for step in job["steps"]]
        check = names.index("The stack was bootstrapped (docs/bootstrap.md)")
        assert check < names.index(next(n for n in names if str(n).startswith("pulumi/actions@"))), job_name
        script = job["steps"][check]["run"]
        assert "grep -q '^secretsprovider: awskms://' \"Pulumi.$STACK.yaml\"" in script, job_name
        assert 'case "$PULUMI_BACKEND_URL" in s3://*)' in script, job_name


def test_pull_request_previews_never_refresh() -> None:
    settings = pulumi(load("ci.yml")["jobs"]["preview"])
    assert settings.get("refresh", False) is False, "refreshing reads secret values; a PR's code must not"


def test_pull_requests_from_forks_are_skipped_not_failed() -> None:
    # Forks get no OIDC token; the job-level condition skips their previews with a reason in the file.
    assert load("ci.yml")["jobs"]["preview"]["if"] == SAME_REPOSITORY_PULL_REQUEST


def test_approvers_see_a_fresh_prod_preview_before_the_prod_deploy() -> None:
    jobs = load("ci.yml")["jobs"]
    preview, deploy = jobs["preview-prod"], jobs["deploy-prod"]
    settings = pulumi(preview)
    assert (settings["command"], settings["stack-name"]) == ("preview", "prod")
    assert (settings["policyPacks"], settings["policyPackConfigs"]) == ("policypack", "policypack/prod.json")
    assert settings["comment-on-summary"] is True, "approvers read the preview in the run summary"
    # Required reviewers hold a job before it starts: a preview inside deploy-prod, or in a job of
    # the `production` environment, would run only after the approval it is meant to inform.
    assert "environment" not in preview
    assert [s for s in deploy["steps"] if s.get("with", {}).get("command") == "preview"] == []
    assert "preview-prod" in deploy["needs"]
    # Same trigger (so the same commit), and after dev is deployed, so it is as fresh as it can be.
    assert preview["if"] == deploy["if"]
    assert preview["needs"] == "deploy-dev"


def test_drift_check_runs_nightly_and_fails_on_changes() -> None:
    drift = load("drift.yml")
    assert drift["on"]["schedule"]
    settings = pulumi(drift["jobs"]["drift"])
    assert settings["refresh"] is True
    assert settings["expect-no-changes"] is True


def test_drift_check_runs_the_policy_pack_with_each_stacks_config_on_main_only() -> None:
    job = load("drift.yml")["jobs"]["drift"]
    assert job["strategy"]["matrix"]["stack"] == ["dev", "prod"]
    settings = pulumi(job)
    assert settings["policyPacks"] == "policypack"
    assert settings["policyPackConfigs"] == POLICY_CONFIG_PER_STACK
    # Its read role trusts main's tokens only; a manual run from another branch is skipped.
    assert job["if"] == "github.ref == 'refs/heads/main'"


def test_every_job_has_only_the_permissions_it_uses() -> None:
    found = {}
    for path in sorted(WORKFLOWS.glob("*.y*ml")):
        name, workflow = path.name, load(path.name)
        assert workflow["permissions"] == {}, f"{name}: grant permissions per job, not workflow-wide"
        for job_name, job in workflow["jobs"].items():
            assert isinstance(job.get("permissions"), dict), (
                f"{name} {job_name}: no permissions of its own (or read-all/write-all): list each scope it uses"
            )
            found[(name, job_name)] = job["permissions"]
            uses_oidc = bool(steps(job, "aws-actions/configure-aws-credentials@"))
            assert (job["permissions"].get("id-token") == "write") == uses_oidc, job_name
            comments = any(step["with"].get("comment-on-pr") for step in steps(job, "pulumi/actions@"))
            assert (job["permissions"].get("pull-requests") == "write") == comments, job_name
    assert found == PERMISSIONS


def test_the_only_writes_are_the_oidc_token_and_the_preview_comment() -> None:
    # The table above is the whole grant; this keeps its writes to the two the jobs use.
    writes = {scope for grant in PERMISSIONS.values() for scope, level in grant.items() if level == "write"}
    assert writes == {"id-token", "pull-requests"}, "a new write scope needs a reason in the workflow and here"
    readers = {scope for grant in PERMISSIONS.values() for scope, level in grant.items() if level == "read"}
    assert readers == {"contents"}


@pytest.mark.parametrize("path", ACTION_USERS, ids=lambda path: path.name)
def test_every_action_is_pinned_to_a_commit_with_its_release_in_a_comment(path: Path) -> None:
    lines = uses_lines(path)
    # Every `uses:` the YAML holds is one the line check sees (none hides in flow style).
    assert sorted(ref for ref, _ in lines) == sorted(uses_values(yaml.safe_load(path.read_text())))
    for ref, comment in lines:
        if ref.startswith("./"):
            continue  # an action of this repository: reviewed with the change that uses it
        assert PINNED.match(ref), f"{path.name}: {ref} is not pinned to a full commit SHA"
        assert RELEASE_COMMENT.match(comment), f"{path.name}: {ref} needs its release as `# vX.Y.Z`"


def test_each_action_is_pinned_to_one_commit_and_release_everywhere() -> None:
    pins: dict[str, set[tuple[str, str]]] = {}
    for path in ACTION_USERS:
        for ref, comment in uses_lines(path):
            if not ref.startswith("./"):
                action, sha = ref.split("@")
                pins.setdefault(action, set()).add((sha, comment.strip()))
    assert pins, "no action found: the line check reads nothing"
    mixed = {action: sorted(found) for action, found in pins.items() if len(found) > 1}
    assert not mixed, f"one action, several pins (a half-applied update?): {mixed}"


def test_no_checkout_leaves_the_token_in_the_repository() -> None:
    # persist-credentials defaults to true: the job's token stays in .git/config for every later
    # step, and in anything that uploads the work tree. No job here pushes.
    checkouts = [(name, job_name, step) for name, job_name, step in all_steps() if is_checkout(step)]
    assert checkouts, "no checkout found: the check reads nothing"
    for name, job_name, step in checkouts:
        assert step.get("with", {}).get("persist-credentials") is False, f"{name} {job_name}: persist-credentials"


def test_dependabot_keeps_the_pins_and_the_requirements_current() -> None:
    config = yaml.safe_load((GITHUB / "dependabot.yml").read_text())
    assert config["version"] == 2
    found = {(u["package-ecosystem"], u["directory"]): u["schedule"]["interval"] for u in config["updates"]}
    assert found == DEPENDABOT


def test_make_lint_audits_the_workflows_with_zizmor_offline() -> None:
    assert ZIZMOR in makefile_rule("lint")[1]
    assert "lint" in makefile_rule("test")[0], "`make test` (and so CI) runs the audit"
    assert re.search(r"^zizmor==[\d.]+$", (ROOT / "requirements.txt").read_text(), re.MULTILINE)


def test_the_workflows_pass_the_audit() -> None:
    args = shlex.split(ZIZMOR)[1:]
    result = zizmor(args)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_audit_finds_what_it_is_there_for() -> None:
    """The same audit, on a workflow with each fault once: it must name all of them."""
    unsafe = """
name: unsafe
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    permissions: write-all
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.event.head_commit.message }}"
"""
    args = [a for a in shlex.split(ZIZMOR)[1:] if a != "."]
    result = zizmor([*args, "--format", "json", "-"], stdin=unsafe)
    assert result.returncode != 0
    found = {finding["ident"] for finding in json.loads(result.stdout)}
    assert {"unpinned-uses", "artipacked", "excessive-permissions", "template-injection"} <= found, found


def test_two_runs_against_one_stack_from_main_never_overlap() -> None:
    jobs = load("ci.yml")["jobs"]
    for job_name, group in STACK_QUEUES.items():
        # Queued in order, never cancelled: a cancelled `up` leaves pending operations and a lock.
        assert jobs[job_name]["concurrency"] == {"group": group, "cancel-in-progress": False, "queue": "max"}
    preview = jobs["preview"]["concurrency"]
    assert preview["group"] == "preview-${{ github.event.pull_request.number }}"
