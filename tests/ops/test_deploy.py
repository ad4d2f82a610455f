"""The deploy command, offline: a fake `pulumi` on PATH records what it is asked to do."""

import os
import stat
from pathlib import Path

import pytest

from ops import deploy

FAKE_PULUMI = """#!/usr/bin/env bash
echo "$PULUMI_BACKEND_URL | $*" >> "$FAKE_PULUMI_LOG"
if [ "$1 $2" = "stack select" ] && [ -n "${FAKE_NO_STACK:-}" ]; then echo "no stack named $3" >&2; exit 255; fi
if [ "$1" = "preview" ] && [ -n "${FAKE_PREVIEW_FAILS:-}" ]; then exit 255; fi
exit 0
"""


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A machine with a fake pulumi, AWS credentials and a passphrase; returns the call log."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    pulumi = bin_dir / "pulumi"
    pulumi.write_text(FAKE_PULUMI)
    pulumi.chmod(pulumi.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "calls.log"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin:/bin")
    monkeypatch.setenv("FAKE_PULUMI_LOG", str(log))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAOFFLINE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "offline")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask an instance metadata service
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "offline-passphrase")
    for name in ("PULUMI_BACKEND_URL", "PULUMI_SECRETS_PROVIDER", "AWS_PROFILE", "PULUMI_CONFIG_PASSPHRASE_FILE"):
        monkeypatch.delenv(name, raising=False)
    return log


@pytest.fixture
def real_prod(monkeypatch: pytest.MonkeyPatch) -> None:
    """prod's stack file with its shipped examples replaced by real-looking values."""
    shipped = deploy.stack_file_config

    def config(stack: str) -> dict[str, str]:
        values = shipped(stack)
        if stack == "prod":
            values["payments-platform:domainName"] = "payments.acme-pay.co.uk"
            values["payments-platform:hostedZoneId"] = "Z04811223ABCDEFGHIJK"
            values["payments-platform:alarmEmails"] = '["payments-oncall@acme-pay.co.uk"]'
        return values

    monkeypatch.setattr(deploy, "stack_file_config", config)


def calls(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def test_preview_selects_the_stack_and_runs_the_policy_pack(fake: Path) -> None:
    assert deploy.main(["preview", "dev"]) == 0
    select, preview = calls(fake)
    backend = f"file://{deploy.PROJECT_DIR / '.pulumi-state'}"
    assert select == f"{backend} | stack select dev --non-interactive"
    assert preview == f"{backend} | preview --stack dev --diff --policy-pack {deploy.PROJECT_DIR / 'policypack'}"


@pytest.mark.parametrize("action", ["up", "preview", "drift"])
def test_prod_with_shipped_placeholders_is_refused(fake: Path, action: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert deploy.main([action, "prod"]) == deploy.EXIT_SETUP
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "Traceback" not in err
    for key in ("domainName", "hostedZoneId", "alarmEmails"):
        assert f"payments-platform:{key}:" in err
    assert calls(fake) == [], "pulumi is never called"


@pytest.mark.usefixtures("real_prod")
def test_prod_passes_its_policy_pack_config(fake: Path) -> None:
    assert deploy.main(["up", "prod", "--yes"]) == 0
    up = calls(fake)[-1]
    assert up.endswith(f"--policy-pack-config {deploy.PROJECT_DIR / 'policypack' / 'prod.json'} --yes")
    assert "| up --stack prod" in up


def test_a_missing_stack_is_created(fake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_NO_STACK", "1")
    monkeypatch.setenv("PULUMI_SECRETS_PROVIDER", "awskms://alias/payments-pulumi")
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE")
    assert deploy.main(["preview", "dev"]) == 0
    assert calls(fake)[1].endswith("stack init dev --non-interactive --secrets-provider awskms://alias/payments-pulumi")


def test_backend_url_override_is_honoured(fake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULUMI_BACKEND_URL", "s3://payments-pulumi-state")
    assert deploy.main(["refresh", "dev"]) == 0
    assert all(line.startswith("s3://payments-pulumi-state | ") for line in calls(fake))
    assert calls(fake)[-1].endswith("refresh --stack dev")


@pytest.mark.usefixtures("real_prod")
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


def test_missing_passphrase_is_one_clear_message(
    fake: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE")
    assert deploy.main(["preview", "prod"]) == deploy.EXIT_SETUP
    assert "PULUMI_CONFIG_PASSPHRASE is not set" in capsys.readouterr().err
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
