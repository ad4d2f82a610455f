"""The deploy command, offline: a fake `pulumi` on PATH records what it is asked to do."""

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import pytest

from offline import harness
from ops import deploy, leftovers

FAKE_PULUMI = """#!/usr/bin/env bash
echo "$PULUMI_BACKEND_URL | $*" >> "$FAKE_PULUMI_LOG"
if [ "$1 $2" = "stack select" ] && [ -n "${FAKE_SELECT_STDERR:-}" ]; then
  printf '%s\\n' "$FAKE_SELECT_STDERR" >&2; exit 255
fi
if [ "$1" = "preview" ] && [ -n "${FAKE_PREVIEW_FAILS:-}" ]; then exit 255; fi
exit 0
"""
S3_BACKEND = "s3://payments-pulumi-state"
# What `pulumi stack select <name>` prints when the backend answers but has no such stack
# (pulumi/pulumi pkg/cmd/pulumi/stack/stack_select.go: fmt.Errorf("no stack named '%s' found", stackRef)).
NO_STACK = "error: no stack named 'dev' found"


def offline_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """AWS credentials and a passphrase in the environment, the stack files as shipped; returns the
    directory first on PATH, for the fake command-line tools."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin:/bin")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAOFFLINE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "offline")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask an instance metadata service
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "offline-passphrase")
    for name in ("PULUMI_BACKEND_URL", "PULUMI_SECRETS_PROVIDER", "AWS_PROFILE", "PULUMI_CONFIG_PASSPHRASE_FILE"):
        monkeypatch.delenv(name, raising=False)
    # The stack files as shipped, before the one-time bootstrap writes a secrets provider into them
    # (docs/bootstrap.md): tests must not change meaning once a team commits theirs.
    committed = deploy.stack_settings
    monkeypatch.setattr(
        deploy,
        "stack_settings",
        lambda stack: {
            k: v for k, v in committed(stack).items() if k not in ("secretsprovider", "encryptedkey", "encryptionsalt")
        },
    )
    return bin_dir


def install(bin_dir: Path, name: str, script: str) -> None:
    """An executable script called ``name``."""
    tool = bin_dir / name
    tool.write_text(script)
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)


@pytest.fixture(autouse=True)
def lambda_quota(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """No test reaches AWS: the account's Lambda settings are an established account's (1,000);
    returns the regions asked."""
    asked: list[str] = []

    def settings(region: str, env: object) -> dict[str, object]:
        asked.append(region)
        return {
            "AccountLimit": {"ConcurrentExecutions": QUOTA.get(region, 1000), "UnreservedConcurrentExecutions": 1000}
        }

    monkeypatch.setattr(deploy, "lambda_account_settings", settings)
    # ...and no stack's names are taken in the account unless a test says so.
    monkeypatch.setattr(deploy, "kms_alias_exists", lambda alias, region, env: alias in TAKEN)
    # ...and EC2 answers as for an established account: 2 vCPUs a type, a quota of 640 (VCPUS to change).
    monkeypatch.setattr(deploy, "instance_vcpus", lambda instance_type, region, env: 2)
    monkeypatch.setattr(deploy, "vcpu_quota", lambda region, env: VCPUS.get(region, 640.0))
    # ...and no earlier destroy kept a log group or a final snapshot unless a test says so (KEPT: name, region).
    monkeypatch.setattr(leftovers, "log_group_exists", lambda name, region, client: (name, region) in KEPT)
    monkeypatch.setattr(leftovers, "snapshot_exists", lambda identifier, region, client: (identifier, region) in KEPT)
    KEPT.clear()
    # ...and the stack's hosted zone is this account's, public, and the one public DNS asks (ZONES to change).
    monkeypatch.setattr(deploy, "hosted_zone", lambda zone_id, env: ZONES.get(zone_id) or delegated_zone(zone_id))
    monkeypatch.setattr(deploy, "public_name_servers", lambda domain: (_zone_of(domain), set(ZONE_SERVERS)))
    # ...and a two-region stack's credentials are not split by a failover (test_credentials.py asks a fake cloud).
    monkeypatch.setattr(deploy, "check_credentials_joined", lambda stack, config, env: None)
    ZONES.clear()
    VCPUS.clear()
    QUOTA.clear()
    TAKEN.clear()
    return asked


QUOTA: dict[str, int] = {}
TAKEN: set[str] = set()
VCPUS: dict[str, float | None] = {}
KEPT: set[tuple[str, str]] = set()
ZONES: dict[str, dict[str, object]] = {}
ZONE_SERVERS = ("ns-1.awsdns-01.org", "ns-2.awsdns-02.co.uk")


def _zone_of(domain: str) -> str:
    """The zone real-looking prod's domain sits in (``payments.acme-pay.co.uk`` -> ``acme-pay.co.uk``)."""
    return domain.split(".", 1)[1]


def delegated_zone(zone_id: str) -> dict[str, object]:
    """GetHostedZone's answer for a public zone holding real-looking prod's domain, delegated to ZONE_SERVERS."""
    return {
        "HostedZone": {"Id": f"/hostedzone/{zone_id}", "Name": "acme-pay.co.uk.", "Config": {"PrivateZone": False}},
        "DelegationSet": {"NameServers": list(ZONE_SERVERS)},
    }


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A machine with a fake pulumi, AWS credentials and a passphrase; returns the call log."""
    install(offline_machine(tmp_path, monkeypatch), "pulumi", FAKE_PULUMI)
    log = tmp_path / "calls.log"
    monkeypatch.setenv("FAKE_PULUMI_LOG", str(log))
    return log


@pytest.fixture
def s3_backend(fake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """State in an S3 bucket, as prod requires (set after `fake` has cleared the environment)."""
    monkeypatch.setenv("PULUMI_BACKEND_URL", S3_BACKEND)


def use_real_prod_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """prod's stack file with its shipped examples replaced by real-looking values."""
    shipped = deploy.stack_file_config
    real = {
        "payments-platform:domainName": "payments.acme-pay.co.uk",
        "payments-platform:hostedZoneId": "Z04811223ABCDEFGHIJK",
        "payments-platform:alarmEmails": '["payments-oncall@acme-pay.co.uk"]',
    }

    def config(stack: str) -> dict[str, str]:
        return shipped(stack) | (real if stack == "prod" else {})

    def full_config(stack: str, **kwargs: Any) -> dict[str, str]:
        """What the account checks read (the file with Pulumi.yaml's defaults)."""
        return harness.stack_config(stack, **kwargs) | (real if stack == "prod" else {})

    monkeypatch.setattr(deploy, "stack_file_config", config)
    monkeypatch.setattr(deploy, "stack_config", full_config)


@pytest.fixture
def real_prod(monkeypatch: pytest.MonkeyPatch) -> None:
    use_real_prod_values(monkeypatch)


def calls(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def test_preview_selects_the_stack_and_runs_the_policy_pack(fake: Path) -> None:
    assert deploy.main(["preview", "dev"]) == 0
    select, preview = calls(fake)
    backend = f"file://{deploy.PROJECT_DIR / '.pulumi-state'}"
    assert select == f"{backend} | stack select dev --non-interactive"
    assert preview == f"{backend} | preview --stack dev --diff --policy-pack {deploy.PROJECT_DIR / 'policypack'}"


@pytest.mark.usefixtures("s3_backend")
@pytest.mark.parametrize("action", ["up", "preview", "drift"])
def test_prod_with_shipped_placeholders_is_refused(fake: Path, action: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert deploy.main([action, "prod"]) == deploy.EXIT_SETUP
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "Traceback" not in err
    for key in ("domainName", "hostedZoneId", "alarmEmails"):
        assert f"payments-platform:{key}:" in err
    assert calls(fake) == [], "pulumi is never called"


@pytest.mark.usefixtures("real_prod", "s3_backend")
def test_prod_passes_its_policy_pack_config(fake: Path) -> None:
    assert deploy.main(["up", "prod", "--yes"]) == 0
    up = calls(fake)[-1]
    assert up.endswith(f"--policy-pack-config {deploy.PROJECT_DIR / 'policypack' / 'prod.json'} --yes")
    assert "| up --stack prod" in up


def test_a_missing_stack_is_created(fake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_SELECT_STDERR", NO_STACK)
    monkeypatch.setenv("PULUMI_SECRETS_PROVIDER", "awskms://alias/payments-pulumi")
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE")
    assert deploy.main(["preview", "dev"]) == 0
    assert calls(fake)[1].endswith("stack init dev --non-interactive --secrets-provider awskms://alias/payments-pulumi")


def test_backend_url_override_is_honoured(fake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULUMI_BACKEND_URL", "s3://payments-pulumi-state")
    assert deploy.main(["refresh", "dev"]) == 0
    assert all(line.startswith("s3://payments-pulumi-state | ") for line in calls(fake))
    assert calls(fake)[-1].endswith("refresh --stack dev")


@pytest.mark.usefixtures("real_prod", "s3_backend")
def test_drift_check_expects_no_changes(fake: Path) -> None:
    assert deploy.main(["drift", "prod"]) == 0
    drift = calls(fake)[-1]
    assert "preview --stack prod --refresh --expect-no-changes --policy-pack" in drift


def test_pulumi_failures_pass_their_exit_code_on(fake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_PREVIEW_FAILS", "1")
    assert deploy.main(["drift", "dev"]) == 255


def test_destroy_dev_is_allowed(fake: Path) -> None:
    assert deploy.main(["destroy", "dev", "--yes"]) == 0
    assert calls(fake)[-1].endswith("| destroy --stack dev --yes")


def test_destroy_prod_is_refused_and_explains_protection(fake: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert deploy.main(["destroy", "prod"]) == deploy.EXIT_SETUP
    err = capsys.readouterr().err
    assert "Refusing to destroy prod" in err
    assert "pulumi state unprotect" in err
    assert "--allow-prod" in err
    assert calls(fake) == [], "pulumi is never called"


@pytest.mark.usefixtures("s3_backend")
def test_destroy_prod_when_told_explicitly(fake: Path) -> None:
    assert deploy.main(["destroy", "prod", "--allow-prod"]) == 0
    assert calls(fake)[-1].endswith("| destroy --stack prod")


def test_no_pulumi_on_path_is_one_clear_message(
    fake: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert deploy.main(["preview", "dev"]) == deploy.EXIT_SETUP
    err = capsys.readouterr().err
    assert err.startswith("deploy: The Pulumi CLI is not on PATH.")
    assert "Traceback" not in err


def test_no_credentials_is_one_clear_message(
    fake: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    assert deploy.main(["up", "dev"]) == deploy.EXIT_SETUP
    err = capsys.readouterr().err
    assert err.startswith("deploy: No AWS credentials found.")
    assert calls(fake) == []


@pytest.mark.usefixtures("real_prod", "s3_backend")
def test_missing_passphrase_is_one_clear_message(
    fake: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An S3 backend (like the local one) uses the passphrase provider unless told otherwise."""
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE")
    assert deploy.main(["preview", "prod"]) == deploy.EXIT_SETUP
    assert capsys.readouterr().err.startswith("deploy: PULUMI_CONFIG_PASSPHRASE is not set")
    assert calls(fake) == []


def test_the_state_directory_is_gitignored() -> None:
    assert "/.pulumi-state/" in (deploy.PROJECT_DIR / ".gitignore").read_text().split()


def test_the_wrapper_script_runs_the_same_command(fake: Path) -> None:
    import subprocess

    env = {**os.environ}
    done = subprocess.run(
        [str(deploy.PROJECT_DIR / "deploy"), "preview", "dev"], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert calls(fake)[-1].endswith(f"preview --stack dev --diff --policy-pack {deploy.PROJECT_DIR / 'policypack'}")
    env["PATH"] = "/usr/bin:/bin"
    missing = subprocess.run(
        [str(deploy.PROJECT_DIR / "deploy"), "up", "dev"], env=env, capture_output=True, text=True, check=False
    )
    assert missing.returncode == deploy.EXIT_SETUP
    assert missing.stderr.strip().startswith("deploy: The Pulumi CLI is not on PATH.")


# One durable state per stack.


@pytest.mark.usefixtures("real_prod")
@pytest.mark.parametrize("backend", [None, "", "file://~", f"file://{deploy.PROJECT_DIR / '.pulumi-state'}"])
@pytest.mark.parametrize("action", ["preview", "up", "drift", "refresh"])
def test_prod_refuses_a_local_file_backend(
    fake: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], backend: str | None, action: str
) -> None:
    if backend is not None:
        monkeypatch.setenv("PULUMI_BACKEND_URL", backend)
    assert deploy.main([action, "prod"]) == deploy.EXIT_SETUP
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("deploy: prod cannot keep its state in a local file")
    for what_to_do in ("PULUMI_BACKEND_URL=s3://", "versioning and encryption", "https://api.pulumi.com"):
        assert what_to_do in err
    assert calls(fake) == [], "pulumi is never called"


def test_destroying_prod_also_needs_its_durable_backend(fake: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert deploy.main(["destroy", "prod", "--allow-prod"]) == deploy.EXIT_SETUP
    assert capsys.readouterr().err.startswith("deploy: prod cannot keep its state in a local file")
    assert calls(fake) == []


@pytest.mark.usefixtures("real_prod")
@pytest.mark.parametrize(
    "backend", [S3_BACKEND, "s3://payments-pulumi-state?region=eu-west-1", "https://api.pulumi.com"]
)
def test_prod_runs_on_s3_or_pulumi_cloud(fake: Path, monkeypatch: pytest.MonkeyPatch, backend: str) -> None:
    monkeypatch.setenv("PULUMI_BACKEND_URL", backend)
    assert deploy.main(["preview", "prod"]) == 0
    assert calls(fake), "pulumi is called"
    assert all(line.startswith(f"{backend} | ") for line in calls(fake))


@pytest.mark.parametrize("backend", ["https://api.pulumi.com", "https://api.pulumi.acmecorp.example"])
def test_pulumi_cloud_needs_no_passphrase(fake: Path, monkeypatch: pytest.MonkeyPatch, backend: str) -> None:
    """`pulumi stack init`: a stack on Pulumi Cloud uses the service's secrets provider by default."""
    monkeypatch.setenv("PULUMI_BACKEND_URL", backend)
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE")
    assert deploy.main(["preview", "dev"]) == 0
    assert calls(fake)[-1].startswith(f"{backend} | preview --stack dev")


def test_a_passphrase_stack_on_pulumi_cloud_still_needs_its_passphrase(
    fake: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A stack file with an encryptionsalt was created with `--secrets-provider passphrase`."""
    shipped = deploy.stack_settings
    monkeypatch.setattr(deploy, "stack_settings", lambda stack: {**shipped(stack), "encryptionsalt": "v1:c2FsdA==:v1"})
    monkeypatch.setenv("PULUMI_BACKEND_URL", "https://api.pulumi.com")
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE")
    assert deploy.main(["preview", "dev"]) == deploy.EXIT_SETUP
    assert capsys.readouterr().err.startswith("deploy: PULUMI_CONFIG_PASSPHRASE is not set")
    assert calls(fake) == []


SELECT_FAILURES = {
    # Shapes of what the CLI prints when the backend itself fails (the stack may well exist).
    "state bucket denied": (
        S3_BACKEND,
        'error: failed to load checkpoint: blob (key ".pulumi/stacks/payments-platform/dev.json") '
        "(code=PermissionDenied): AccessDenied: Access Denied\n\tstatus code: 403, request id: 4Q2Z",
    ),
    "no credentials for the bucket": (
        S3_BACKEND,
        "error: unable to open bucket s3://payments-pulumi-state: NoCredentialProviders: no valid providers in chain",
    ),
    "not logged in to Pulumi Cloud": (
        "https://api.pulumi.com",
        "error: PULUMI_ACCESS_TOKEN must be set for login during non-interactive CLI sessions",
    ),
    "another stack is missing": (S3_BACKEND, "error: no stack named 'dev-old' found"),
}


@pytest.mark.parametrize(("backend", "stderr"), SELECT_FAILURES.values(), ids=SELECT_FAILURES.keys())
def test_select_failures_show_their_reason_and_create_nothing(
    fake: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], backend: str, stderr: str
) -> None:
    monkeypatch.setenv("PULUMI_BACKEND_URL", backend)
    monkeypatch.setenv("FAKE_SELECT_STDERR", stderr)
    assert deploy.main(["up", "dev"]) == deploy.EXIT_SETUP
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith(f"deploy: `pulumi stack select dev` failed on {backend}: ")
    assert " ".join(line.strip() for line in stderr.splitlines()) in err
    assert [line.split(" | ")[1] for line in calls(fake)] == ["stack select dev --non-interactive"], "no init, no up"


@pytest.mark.parametrize("named", ["dev", "organization/payments-platform/dev", "acme/payments-platform/dev"])
def test_a_missing_stack_is_recognised_by_the_cli_wording(
    fake: Path, monkeypatch: pytest.MonkeyPatch, named: str
) -> None:
    """The CLI names the stack short, or fully qualified when it is not the current project's or user's."""
    monkeypatch.setenv("FAKE_SELECT_STDERR", f"error: no stack named '{named}' found")
    assert deploy.main(["preview", "dev"]) == 0
    assert calls(fake)[1].endswith("| stack init dev --non-interactive")
    assert "| preview --stack dev" in calls(fake)[2]


def test_every_missing_prerequisite_is_reported_at_once(
    fake: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "PULUMI_CONFIG_PASSPHRASE"):
        monkeypatch.delenv(name)
    assert deploy.main(["up", "prod"]) == deploy.EXIT_SETUP
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert all(line.startswith("deploy: ") for line in lines)
    assert [line.split()[1] for line in lines] == ["The", "No", "prod", "PULUMI_CONFIG_PASSPHRASE", "Pulumi.prod.yaml"]
    cli, credentials, backend, secrets, placeholders = lines
    assert "Pulumi CLI is not on PATH" in cli
    assert "install" in cli
    assert "No AWS credentials found" in credentials
    assert "aws sso login" in credentials
    assert "local file" in backend
    assert "PULUMI_BACKEND_URL=s3://" in backend
    assert "PULUMI_CONFIG_PASSPHRASE is not set" in secrets
    assert "PULUMI_SECRETS_PROVIDER" in secrets
    assert "payments-platform:domainName:" in placeholders
    assert calls(fake) == [], "pulumi is never called"


# The stack file, read before Pulumi runs.


def stack_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *replacements: tuple[str, str]) -> None:
    """The project with dev's stack file as shipped but for ``replacements`` (old, new)."""
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(deploy.PROJECT_DIR / "Pulumi.yaml", project / "Pulumi.yaml")
    text = (deploy.PROJECT_DIR / "Pulumi.dev.yaml").read_text()
    for old, new in replacements:
        assert old in text
        text = text.replace(old, new)
    (project / "Pulumi.dev.yaml").write_text(text)
    monkeypatch.setattr(deploy, "PROJECT_DIR", project)


def test_usage_names_the_command_people_type() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ops.deploy", "--help"], cwd=deploy.PROJECT_DIR, capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    assert done.stdout.startswith("usage: ./deploy "), done.stdout[:80]
    assert "deploy.py" not in done.stdout


@pytest.mark.parametrize("action", ["preview", "up", "destroy", "refresh", "drift"])
def test_a_key_set_twice_is_refused_before_pulumi_runs(
    fake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], action: str
) -> None:
    again = "  payments-platform:asgMaxSize: 2\n  payments-platform:dbInstanceCount: 3\n"
    stack_file(tmp_path, monkeypatch, ("  payments-platform:asgMaxSize: 2\n", again))
    lines = (deploy.PROJECT_DIR / "Pulumi.dev.yaml").read_text().splitlines()
    first = lines.index("  payments-platform:dbInstanceCount: 1") + 1
    second = lines.index("  payments-platform:dbInstanceCount: 3") + 1
    assert deploy.main([action, "dev"]) == deploy.EXIT_SETUP
    err = capsys.readouterr().err
    assert err == (
        f"deploy: Pulumi.dev.yaml line {second}: invalid YAML: payments-platform:dbInstanceCount is set twice, "
        f"on line {first} and line {second} (YAML keeps only the last): delete one\n"
    )
    assert calls(fake) == [], "pulumi is never called"


BAD_SETTINGS = (
    ("payments-platform:dbInstanceCount:", "payment-platform:dbInstanceCount:"),
    ("aws:region: eu-west-1", "aws:region: eu-west-9"),
    ("payments-platform:instanceType: t3.small", "payments-platform:instanceType: t3.humongous"),
)


@pytest.mark.parametrize("action", ["preview", "up", "drift"])
def test_settings_the_program_would_refuse_are_refused_one_line_each(
    fake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], action: str
) -> None:
    stack_file(tmp_path, monkeypatch, *BAD_SETTINGS)
    assert deploy.main([action, "dev"]) == deploy.EXIT_SETUP
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert [line.split(" = ")[0] for line in lines] == [
        "deploy: Pulumi.dev.yaml: payment-platform:dbInstanceCount",
        "deploy: Pulumi.dev.yaml: aws:region",
        "deploy: Pulumi.dev.yaml: payments-platform:instanceType",
    ], lines
    assert lines[0].endswith("did you mean payments-platform:dbInstanceCount?")
    assert "no AWS partition has a region eu-west-9" in lines[1]
    assert "t3 comes in" in lines[2]
    assert calls(fake) == [], "pulumi is never called"


@pytest.mark.parametrize("action", ["destroy", "refresh"])
def test_what_does_not_run_the_program_is_not_stopped_by_its_settings(
    fake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, action: str
) -> None:
    stack_file(tmp_path, monkeypatch, BAD_SETTINGS[2])
    assert deploy.main([action, "dev", "--yes"]) == 0
    assert calls(fake)[-1].endswith(f"| {action} --stack dev --yes")


# --------------------------------------------------------------------------- a new account's Lambda quota


@pytest.mark.usefixtures("real_prod", "s3_backend")
@pytest.mark.parametrize("quota", [10, 50, 101])
def test_up_refuses_a_reservation_the_accounts_lambda_quota_cannot_leave(
    fake: Path, lambda_quota: list[str], quota: int, capsys: pytest.CaptureFixture[str]
) -> None:
    """PutFunctionConcurrency leaves at least 100 unreserved: a new account (10 or 50) fails mid-`up`."""
    QUOTA["eu-west-1"] = quota
    assert deploy.main(["up", "prod", "--yes"]) == deploy.EXIT_SETUP
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert f"Lambda in eu-west-1: the account's concurrency quota is {quota}, and reserving 2" in err
    assert "set rotationReservedConcurrency: 0 in Pulumi.prod.yaml" in err
    assert lambda_quota == ["eu-west-1", "eu-central-1"]
    assert calls(fake) == [], "pulumi is never called"


@pytest.mark.usefixtures("real_prod", "s3_backend")
def test_the_standby_regions_quota_is_asked_too(
    fake: Path, lambda_quota: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The standby site's rotation function reserves the same in its own region."""
    QUOTA["eu-central-1"] = 50
    assert deploy.main(["up", "prod", "--yes"]) == deploy.EXIT_SETUP
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "Lambda in eu-central-1: the account's concurrency quota is 50, and reserving 2" in err
    assert calls(fake) == [], "pulumi is never called"


@pytest.mark.usefixtures("real_prod", "s3_backend")
def test_up_goes_ahead_when_the_quota_leaves_the_floor(fake: Path, lambda_quota: list[str]) -> None:
    QUOTA["eu-west-1"] = 102
    assert deploy.main(["up", "prod", "--yes"]) == 0
    assert lambda_quota == ["eu-west-1", "eu-central-1"]


def test_a_stack_reserving_nothing_never_asks_lambda(fake: Path, lambda_quota: list[str]) -> None:
    assert deploy.main(["up", "dev", "--yes"]) == 0
    assert lambda_quota == []


@pytest.mark.usefixtures("real_prod", "s3_backend")
def test_unreadable_lambda_settings_leave_the_check_to_lambda(fake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deploy, "lambda_account_settings", lambda region, env: None)
    assert deploy.main(["up", "prod", "--yes"]) == 0


@pytest.mark.parametrize(
    "error",
    [
        botocore.exceptions.ClientError({"Error": {"Code": "AccessDeniedException"}}, "GetAccountSettings"),
        botocore.exceptions.EndpointConnectionError(endpoint_url="https://lambda.eu-west-1.amazonaws.com"),
    ],
)
def test_lambda_settings_that_cannot_be_read_are_none(monkeypatch: pytest.MonkeyPatch, error: Exception) -> None:
    class Client:
        def get_account_settings(self) -> dict[str, object]:
            raise error

    class Session:
        def __init__(self, profile_name: str | None = None) -> None:
            pass

        def client(self, service: str, region_name: str, config: object) -> Client:
            assert (service, region_name) == ("lambda", "eu-west-1")
            return Client()

    monkeypatch.undo()  # the autouse fake replaced the function under test
    monkeypatch.setattr(boto3, "Session", Session)
    assert deploy.lambda_account_settings("eu-west-1", {}) is None


# --------------------------------------------------------------------------- a second dev stack in one account


def test_a_second_dev_stack_on_local_state_is_refused_when_its_names_are_taken(
    fake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """CI deploys dev into the team account; a laptop's `./deploy up dev` on local state would create a
    second, empty dev stack that collides on fixed names after a NAT gateway and ten keys bill."""
    TAKEN.add("alias/fintech-dev/logs")
    assert deploy.main(["up", "dev", "--yes"]) == deploy.EXIT_SETUP
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "alias/fintech-dev/logs already exists in eu-west-1" in err
    assert "export PULUMI_BACKEND_URL=s3://<state-bucket>" in err
    assert "another envSuffix in Pulumi.dev.yaml" in err
    assert calls(fake) == [], "pulumi is never called"


def test_the_shared_backend_or_free_names_go_ahead(fake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert deploy.main(["up", "dev", "--yes"]) == 0  # names free
    TAKEN.add("alias/fintech-dev/logs")
    monkeypatch.setenv("PULUMI_BACKEND_URL", S3_BACKEND)
    assert deploy.main(["up", "dev", "--yes"]) == 0  # the shared backend: its stack owns them


def test_the_local_stack_that_made_the_names_goes_ahead(
    fake: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    (state / ".pulumi" / "stacks" / "payments-platform").mkdir(parents=True)
    (state / ".pulumi" / "stacks" / "payments-platform" / "dev.json").write_text("{}")
    monkeypatch.setattr(deploy, "LOCAL_STATE", state)
    TAKEN.add("alias/fintech-dev/logs")
    assert deploy.main(["up", "dev", "--yes"]) == 0


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (None, True),
        (botocore.exceptions.ClientError({"Error": {"Code": "NotFoundException"}}, "DescribeKey"), False),
        (botocore.exceptions.ClientError({"Error": {"Code": "AccessDeniedException"}}, "DescribeKey"), None),
        (botocore.exceptions.EndpointConnectionError(endpoint_url="https://kms.eu-west-1.amazonaws.com"), None),
    ],
)
def test_an_alias_is_taken_free_or_unknown(
    monkeypatch: pytest.MonkeyPatch, error: Exception | None, expected: bool | None
) -> None:
    class Client:
        def describe_key(self, KeyId: str) -> dict[str, object]:  # noqa: N803 - boto3's argument name
            assert KeyId == "alias/fintech-dev/logs"
            if error is not None:
                raise error
            return {"KeyMetadata": {}}

    class Session:
        def __init__(self, profile_name: str | None = None) -> None:
            pass

        def client(self, service: str, region_name: str, config: object) -> Client:
            assert (service, region_name) == ("kms", "eu-west-1")
            return Client()

    monkeypatch.undo()  # the autouse fake replaced the function under test
    monkeypatch.setattr(boto3, "Session", Session)
    assert deploy.kms_alias_exists("alias/fintech-dev/logs", "eu-west-1", {}) is expected


# --------------------------------------------------------------------------- vCPU quotas in both regions


@pytest.mark.usefixtures("real_prod", "s3_backend")
def test_up_refuses_when_a_regions_vcpu_quota_cannot_hold_the_group_through_a_refresh(
    fake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """prod's group may reach asgMaxSize 10 x t4g.large (2 vCPUs) and twice that while an instance
    refresh keeps the old instances (max healthy 200 %): 40 vCPUs in each region a site runs in."""
    VCPUS["eu-central-1"] = 32.0  # the standby region of a new account
    assert deploy.main(["up", "prod", "--yes"]) == deploy.EXIT_SETUP
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "EC2 in eu-central-1: the account's on-demand standard vCPU quota is 32" in err
    assert "may need 40 (10 x t4g.large, 2 vCPUs each, twice during an instance refresh)" in err
    assert "L-1216C47A" in err
    assert calls(fake) == []


@pytest.mark.usefixtures("real_prod", "s3_backend")
def test_a_quota_that_holds_the_refresh_or_cannot_be_read_goes_ahead(fake: Path) -> None:
    VCPUS["eu-west-1"] = 40.0
    VCPUS["eu-central-1"] = None
    assert deploy.main(["up", "prod", "--yes"]) == 0


def test_quota_and_instance_type_are_read_from_service_quotas_and_ec2(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[tuple[str, str, dict[str, object]]] = []

    class Client:
        def __init__(self, service: str) -> None:
            self.service = service

        def get_service_quota(self, **kwargs: object) -> dict[str, object]:
            asked.append((self.service, "get_service_quota", kwargs))
            return {"Quota": {"Value": 32.0}}

        def describe_instance_types(self, **kwargs: object) -> dict[str, object]:
            asked.append((self.service, "describe_instance_types", kwargs))
            return {"InstanceTypes": [{"VCpuInfo": {"DefaultVCpus": 2}}]}

    class Session:
        def __init__(self, profile_name: str | None = None) -> None:
            pass

        def client(self, service: str, region_name: str, config: object) -> Client:
            return Client(service)

    monkeypatch.undo()  # the autouse fakes replaced the functions under test
    monkeypatch.setattr(boto3, "Session", Session)
    assert deploy.vcpu_quota("eu-west-1", {}) == 32.0
    assert deploy.instance_vcpus("t4g.large", "eu-west-1", {}) == 2
    assert asked == [
        ("service-quotas", "get_service_quota", {"ServiceCode": "ec2", "QuotaCode": "L-1216C47A"}),
        ("ec2", "describe_instance_types", {"InstanceTypes": ["t4g.large"]}),
    ]

    def denied(**kwargs: object) -> dict[str, object]:
        raise botocore.exceptions.ClientError({"Error": {"Code": "AccessDeniedException"}}, "GetServiceQuota")

    monkeypatch.setattr(Client, "get_service_quota", lambda self, **kwargs: denied(**kwargs))
    assert deploy.vcpu_quota("eu-west-1", {}) is None


# --------------------------------------------------------------------------- DNS before the first prod up


@pytest.mark.usefixtures("real_prod", "s3_backend")
def test_up_refuses_a_hosted_zone_of_another_account_before_anything_is_created(
    fake: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def elsewhere(zone_id: str, env: object) -> dict[str, object]:
        raise botocore.exceptions.ClientError({"Error": {"Code": "NoSuchHostedZone"}}, "GetHostedZone")

    monkeypatch.setattr(deploy, "hosted_zone", elsewhere)
    assert deploy.main(["up", "prod", "--yes"]) == deploy.EXIT_SETUP
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "hostedZoneId Z04811223ABCDEFGHIJK in Pulumi.prod.yaml is not a hosted zone of this AWS account" in err
    assert calls(fake) == []


@pytest.mark.usefixtures("real_prod", "s3_backend")
def test_up_refuses_a_zone_public_dns_does_not_ask(
    fake: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(deploy, "public_name_servers", lambda domain: ("com", {"a.gtld-servers.net"}))
    assert deploy.main(["preview", "prod"]) == deploy.EXIT_SETUP
    assert "is not what the internet asks: public DNS puts" in capsys.readouterr().err
    assert calls(fake) == []


@pytest.mark.usefixtures("real_prod", "s3_backend")
def test_a_delegated_zone_of_this_account_goes_ahead(fake: Path) -> None:
    assert deploy.main(["preview", "prod"]) == 0


def test_a_stack_without_a_domain_never_asks_route53(fake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def never(zone_id: str, env: object) -> dict[str, object]:
        raise AssertionError("dev has no domain: nothing to check")

    monkeypatch.setattr(deploy, "hosted_zone", never)
    assert deploy.main(["preview", "dev"]) == 0


def test_the_zone_is_read_from_route53_in_us_east_1(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[tuple[str, str, dict[str, object]]] = []

    class Client:
        def get_hosted_zone(self, **kwargs: object) -> dict[str, object]:
            asked.append(("route53", "get_hosted_zone", kwargs))
            return {"HostedZone": {"Name": "example.com."}}

    class Session:
        def __init__(self, profile_name: str | None = None) -> None:
            pass

        def client(self, service: str, region_name: str, config: object) -> Client:
            assert (service, region_name) == ("route53", "us-east-1")
            return Client()

    monkeypatch.undo()  # the autouse fakes replaced the function under test
    monkeypatch.setattr(boto3, "Session", Session)
    assert deploy.hosted_zone("Z04811223ABCDEFGHIJK", {}) == {"HostedZone": {"Name": "example.com."}}
    assert asked == [("route53", "get_hosted_zone", {"Id": "Z04811223ABCDEFGHIJK"})]
