"""One command per action and stack: preview, up, destroy, refresh, drift.

    ./deploy preview dev
    ./deploy up prod
    ./deploy drift prod
    ./deploy destroy dev
    ./deploy destroy prod --allow-prod   # and only after unprotecting, see below

State lives in a local file backend inside the repo (``.pulumi-state/``, gitignored) unless
``PULUMI_BACKEND_URL`` points elsewhere (S3, Pulumi Cloud). Secrets need
``PULUMI_CONFIG_PASSPHRASE`` (or ``..._FILE``), or ``PULUMI_SECRETS_PROVIDER`` such as
``awskms://alias/payments-pulumi`` when a stack is first created. Every run passes the policy
pack. Problems with the machine (no CLI, no credentials, no passphrase) get one message and
exit code 2; Pulumi's own exit code is passed on.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import boto3
import botocore.exceptions
import yaml

from components.settings import placeholders
from offline.harness import known_stacks, project_name

PROJECT_DIR = Path(__file__).resolve().parent.parent
ACTIONS = ("preview", "up", "destroy", "refresh", "drift")
EXIT_SETUP = 2
PROTECTED_IN_PROD = "the Aurora cluster, the transaction-archive bucket and the KMS keys"


class SetupError(Exception):
    """The machine is not ready; the message says what to do."""


def backend_url(env: Mapping[str, str]) -> str:
    url = env.get("PULUMI_BACKEND_URL")
    if url:
        return url
    state = PROJECT_DIR / ".pulumi-state"
    state.mkdir(exist_ok=True)
    return f"file://{state}"


def check_tools(env: Mapping[str, str]) -> str:
    pulumi = shutil.which("pulumi", path=env.get("PATH"))
    if pulumi is None:
        raise SetupError(
            "The Pulumi CLI is not on PATH. Install it (https://www.pulumi.com/docs/install/) and run this again."
        )
    return pulumi


def check_credentials(env: Mapping[str, str]) -> None:
    try:
        credentials = boto3.Session(profile_name=env.get("AWS_PROFILE") or None).get_credentials()
    except botocore.exceptions.ProfileNotFound as exc:
        raise SetupError(f"AWS profile not found: {exc}. Set AWS_PROFILE to a configured profile.") from None
    if credentials is None:
        raise SetupError(
            "No AWS credentials found. Log in first (e.g. `aws sso login --profile <profile>` and export "
            "AWS_PROFILE), or export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY for a short-lived session."
        )


def check_secrets(stack: str, env: Mapping[str, str]) -> None:
    if env.get("PULUMI_CONFIG_PASSPHRASE") or env.get("PULUMI_CONFIG_PASSPHRASE_FILE"):
        return
    if env.get("PULUMI_SECRETS_PROVIDER"):
        return
    stack_file = (PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text()
    if "secretsprovider:" in stack_file and "passphrase" not in stack_file.split("secretsprovider:")[1][:40]:
        return  # the stack was created with a KMS (or other) secrets provider
    raise SetupError(
        "PULUMI_CONFIG_PASSPHRASE is not set: Pulumi encrypts this stack's secrets with it. Export it "
        "(or PULUMI_CONFIG_PASSPHRASE_FILE), or set PULUMI_SECRETS_PROVIDER=awskms://alias/<key> before the "
        "stack is first created."
    )


def stack_file_config(stack: str) -> dict[str, str]:
    """The stack file's plain values as config strings (secure values are left out)."""
    data = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text()) or {}
    return {
        key: json.dumps(value) if isinstance(value, list) else str(value)
        for key, value in (data.get("config") or {}).items()
        if not isinstance(value, dict)
    }


def refuse_placeholders(stack: str) -> None:
    found = placeholders(stack_file_config(stack), project_name(PROJECT_DIR))
    if found:
        raise SetupError(
            f"Pulumi.{stack}.yaml still holds example values; replace them first: "
            + "; ".join(f"{key}: {message}" for key, message in found.items())
        )


def refuse_prod_destroy(stack: str, allow_prod: bool) -> None:
    if stack == "prod" and not allow_prod:
        raise SetupError(
            "Refusing to destroy prod: it holds payment data. That is the point of its protection: "
            f"{PROTECTED_IN_PROD} are Pulumi-protected, the cluster and load balancer have deletion "
            "protection, and archived objects are under S3 Object Lock. To really remove prod: back it up, "
            "run `pulumi state unprotect --all --stack prod`, turn deletion protection off on the cluster "
            "and the load balancer, then `./deploy destroy prod --allow-prod` (locked objects stay until "
            "their retention ends)."
        )


def pulumi_commands(action: str, stack: str, *, yes: bool) -> list[list[str]]:
    policy = ["--policy-pack", str(PROJECT_DIR / "policypack")]
    pack_config = PROJECT_DIR / "policypack" / f"{stack}.json"
    if pack_config.exists():
        policy += ["--policy-pack-config", str(pack_config)]
    auto = ["--yes"] if yes else []
    common = ["--stack", stack]
    return {
        "preview": [["preview", *common, "--diff", *policy]],
        "up": [["up", *common, *policy, *auto]],
        "destroy": [["destroy", *common, *auto]],
        "refresh": [["refresh", *common, *auto]],
        "drift": [["preview", *common, "--refresh", "--expect-no-changes", *policy]],
    }[action]


def select_or_init(pulumi: str, stack: str, env: Mapping[str, str]) -> None:
    selected = subprocess.run(
        [pulumi, "stack", "select", stack, "--non-interactive"], cwd=PROJECT_DIR, env=dict(env), check=False,
        capture_output=True, text=True,
    )  # fmt: skip
    if selected.returncode == 0:
        return
    init = [pulumi, "stack", "init", stack, "--non-interactive"]
    if env.get("PULUMI_SECRETS_PROVIDER"):
        init += ["--secrets-provider", env["PULUMI_SECRETS_PROVIDER"]]
    created = subprocess.run(init, cwd=PROJECT_DIR, env=dict(env), check=False, capture_output=True, text=True)
    if created.returncode != 0:
        raise SetupError(
            f"Could not select or create stack {stack}: {created.stderr.strip() or selected.stderr.strip()}"
        )


def run(
    action: str, stack: str, *, yes: bool = False, allow_prod: bool = False, env: Mapping[str, str] | None = None
) -> int:
    env = dict(os.environ if env is None else env)
    if action == "destroy":
        refuse_prod_destroy(stack, allow_prod)
    pulumi = check_tools(env)
    check_credentials(env)
    check_secrets(stack, env)
    if action != "destroy":
        refuse_placeholders(stack)
    env["PULUMI_BACKEND_URL"] = backend_url(env)
    select_or_init(pulumi, stack, env)
    for command in pulumi_commands(action, stack, yes=yes):
        code = subprocess.run([pulumi, *command], cwd=PROJECT_DIR, env=env, check=False).returncode
        if code != 0:
            return code
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=ACTIONS)
    parser.add_argument("stack", choices=known_stacks())
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation (up, destroy, refresh)")
    parser.add_argument("--allow-prod", action="store_true", help="allow destroying prod (see above)")
    args = parser.parse_args(argv)
    try:
        return run(args.action, args.stack, yes=args.yes, allow_prod=args.allow_prod)
    except SetupError as exc:
        print(f"deploy: {exc}", file=sys.stderr)
        return EXIT_SETUP


if __name__ == "__main__":
    sys.exit(main())
