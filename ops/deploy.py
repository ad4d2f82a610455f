"""One command per action and stack: preview, up, destroy, refresh, drift, and for a stack with a standby
region switchover and failover (ops/regions.py).

    ./deploy preview dev
    ./deploy up prod
    ./deploy drift prod
    ./deploy destroy dev
    ./deploy destroy prod --allow-prod          # and only after unprotecting, see below
    ./deploy switchover prod                    # planned: writer and traffic to the other region, no data loss
    ./deploy failover prod --allow-data-loss    # primary region lost: promote the other, unreplicated writes lost
    ./deploy failover prod --remove-temporary   # pilot-light, after the up that follows a failover
    ./deploy failover prod --rejoin-secrets     # the lost region answers again: BEFORE up, credentials home

State lives where ``PULUMI_BACKEND_URL`` points. prod needs a durable, shared backend: an S3
bucket with versioning and encryption (``s3://...``) or Pulumi Cloud (``https://api.pulumi.com``);
dev may keep the local file backend inside the repo (``.pulumi-state/``, gitignored). Secrets need
``PULUMI_CONFIG_PASSPHRASE`` (or ``..._FILE``), except on Pulumi Cloud (the service encrypts them)
or with ``PULUMI_SECRETS_PROVIDER`` such as ``awskms://alias/payments-pulumi`` when a stack is first
created. Every run passes the policy pack.

switchover and failover call AWS with boto3 (no AWS CLI) and read the failover record each ``up`` writes
into both regions, failover from the target region only (it needs neither the lost region nor the state
backend, nor the Pulumi CLI); they print their plan and ask first (``--yes``: don't ask), then number each
step as it starts, and run again after an interruption they go on from where AWS is. Both end by
recording ``primaryRegion`` in the stack file; switchover then runs ``up`` (which, without ``--yes``,
shows its diff and asks too); failover never runs ``up`` (it would have to reach the lost region) and
prints what is left to do.

Before Pulumi runs, the stack file is read as the CLI would hand it over: a key set twice is refused
(the file, the key and both lines), and for preview, up, drift, switchover and failover every setting
the program would refuse is listed (a key in a namespace nothing reads, a region or an instance type
AWS does not offer, a value out of range). switchover and failover apply to a stack with a
standbyRegion only; for any other they say so and stop.

A failover away from the stack's region promotes the standby's copies of the database credentials to
standalone secrets that rotate there; until ``./deploy failover <stack> --rejoin-secrets`` has copied
their values home and made them replicas again, up and switchover refuse (up would overwrite them with
the older values at home).

Exit codes: 0 done; 2 the machine, the stack file or the request is not ready, a switchover or failover
precondition fails (first of all: the stack has a standbyRegion) or its confirmation is declined, up or
switchover while the credentials are split after a failover (every problem is listed, one line each,
and nothing is changed), an earlier destroy left something in the way
(ops/leftovers.py: for preview and up a kept log group the state does not hold, one line each, then the
`pulumi import` commands that adopt them; for destroy a final snapshot it would write again), or a usage
error; 3 a switchover or failover step failed or timed out after changes began (one line names the step,
what is done and what to do next); 130 interrupted; otherwise Pulumi's own exit code, passed on.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import botocore.exceptions

from components.naming import kms_alias
from components.settings import SettingsError, name_prefix, parse_settings, placeholders
from offline.harness import ConfigFileError, known_stacks, project_name, read_stack_file, stack_config
from ops import leftovers, regions, steps
from ops.credentials import split_credentials
from ops.dns_check import ROUTE53_REGION, public_name_servers, zone_problems
from ops.steps import one_line

PROJECT_DIR = Path(__file__).resolve().parent.parent
LOCAL_STATE = PROJECT_DIR / ".pulumi-state"
ACTIONS = ("preview", "up", "destroy", "refresh", "drift")
# The actions whose Pulumi command runs the program (destroy and refresh do not): its settings must parse.
RUN_THE_PROGRAM = ("preview", "up", "drift")
EXIT_SETUP = 2
PROTECTED_IN_PROD = "the Aurora cluster, the transaction-archive bucket and the KMS keys"


class SetupError(Exception):
    """The machine is not ready, or the request is refused; the message says what to do."""


def backend_url(env: Mapping[str, str]) -> str:
    """Where state lives: ``PULUMI_BACKEND_URL``, else the repo's local file backend."""
    return env.get("PULUMI_BACKEND_URL") or f"file://{LOCAL_STATE}"


def is_local_backend(url: str) -> bool:
    """A file on this machine: neither shared with the team nor durable."""
    return url.startswith("file://") or "://" not in url


def is_cloud_backend(url: str) -> bool:
    """Pulumi Cloud (``https://api.pulumi.com``) or a self-hosted one: any ``https://`` backend."""
    return url.startswith("https://")


def find_pulumi(env: Mapping[str, str]) -> str | None:
    return shutil.which("pulumi", path=env.get("PATH"))


def check_cli(pulumi: str | None) -> str | None:
    if pulumi is None:
        return "The Pulumi CLI is not on PATH. Install it (https://www.pulumi.com/docs/install/) and run this again."
    return None


def aws_session(env: Mapping[str, str]) -> tuple[Any, str | None]:
    """The boto3 Session of ``AWS_PROFILE`` (or the default chain), and the problem with its credentials."""
    try:
        session = boto3.Session(profile_name=env.get("AWS_PROFILE") or None)
    except botocore.exceptions.ProfileNotFound as exc:
        return None, f"AWS profile not found: {exc}. Set AWS_PROFILE to a configured profile."
    if session.get_credentials() is None:
        return session, (
            "No AWS credentials found. Log in first (e.g. `aws sso login --profile <profile>` and export "
            "AWS_PROFILE), or export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY for a short-lived session."
        )
    return session, None


def check_credentials(env: Mapping[str, str]) -> str | None:
    return aws_session(env)[1]


def check_backend(stack: str, backend: str) -> str | None:
    """prod's state must outlive this laptop and be the one everybody deploys against."""
    if stack != "prod" or not is_local_backend(backend):
        return None
    return (
        f"prod cannot keep its state in a local file ({backend}): it is neither shared nor durable. Export "
        "PULUMI_BACKEND_URL=s3://<state-bucket> (an S3 bucket with versioning and encryption) or "
        "PULUMI_BACKEND_URL=https://api.pulumi.com (Pulumi Cloud)."
    )


def stack_settings(stack: str) -> dict[str, Any]:
    """``Pulumi.<stack>.yaml``: ``config``, and ``secretsprovider``/``encryptionsalt`` once Pulumi wrote them.

    Raises ``ConfigFileError`` (one line) for a key set twice or invalid YAML."""
    return read_stack_file(stack, PROJECT_DIR)


def check_secrets(stack: str, backend: str, env: Mapping[str, str]) -> str | None:
    """A passphrase is needed unless another secrets provider encrypts this stack's secrets.

    ``pulumi stack init``: a stack on Pulumi Cloud uses the service's secrets provider by default, one on
    a local or object-storage backend the passphrase provider. A stack file with an ``encryptionsalt`` was
    created with the passphrase provider (whatever the backend); one naming another ``secretsprovider``
    (``awskms://...``) was not.
    """
    if env.get("PULUMI_CONFIG_PASSPHRASE") or env.get("PULUMI_CONFIG_PASSPHRASE_FILE"):
        return None
    settings = stack_settings(stack)
    provider = str(settings.get("secretsprovider") or "default")
    if not settings.get("encryptionsalt") and provider != "passphrase":
        if provider != "default":
            return None  # created with a KMS (or other) secrets provider
        if is_cloud_backend(backend) or env.get("PULUMI_SECRETS_PROVIDER"):
            return None  # the service's provider, or the one the stack will be created with
    return (
        "PULUMI_CONFIG_PASSPHRASE is not set: Pulumi encrypts this stack's secrets with it. Export it "
        "(or PULUMI_CONFIG_PASSPHRASE_FILE), or set PULUMI_SECRETS_PROVIDER=awskms://alias/<key> before the "
        "stack is first created."
    )


def stack_file_config(stack: str) -> dict[str, str]:
    """The stack file's plain values as config strings (secure values are left out)."""
    return {
        key: json.dumps(value) if isinstance(value, list) else str(value)
        for key, value in (stack_settings(stack).get("config") or {}).items()
        if not isinstance(value, dict)
    }


def stack_config_problems(stack: str, action: str) -> list[str]:
    """The stack file as the CLI would hand it to the program (Pulumi.yaml's defaults under it): a key set
    twice or invalid YAML, and for an action that runs the program every setting it would refuse, each
    in one line. Secure values are the CLI's to decrypt: left out, and no problem is claimed for them."""
    try:
        config = stack_config(stack, project_dir=PROJECT_DIR, omit_secure=True)
        in_file = (stack_settings(stack).get("config") or {}).items()
        secure = {key for key, value in in_file if isinstance(value, dict) and "secure" in value}
    except ConfigFileError as exc:
        return [str(exc)]
    if action not in RUN_THE_PROGRAM:
        return []
    try:
        parse_settings(config, stack=stack, project=project_name(PROJECT_DIR))
    except SettingsError as exc:
        return [f"Pulumi.{stack}.yaml: {p}" for p in exc.problems if p.split(" ", 1)[0] not in secure]
    return []


def _client(service: str, region: str, env: Mapping[str, str]) -> Any:
    """A client for the account checks: one attempt, short timeouts (an unreachable API skips the check)."""
    return boto3.Session(profile_name=env.get("AWS_PROFILE") or None).client(
        service,
        region_name=region,
        config=botocore.config.Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 1}),
    )


# PutFunctionConcurrency (Lambda API reference): "leave at least 100 simultaneous executions
# unreserved for functions that aren't configured with a per-function limit".
LAMBDA_UNRESERVED_FLOOR = 100
# What an account's Lambda quota is raised to on request (Service Quotas: AWS Lambda, "Concurrent executions").
LAMBDA_USUAL_QUOTA = 1000


def lambda_account_settings(region: str, env: Mapping[str, str]) -> dict[str, Any] | None:
    """Lambda's GetAccountSettings in ``region``; None when it cannot be read (no permission, no
    network): Lambda's own refusal during `up` is then the check."""
    try:
        return dict(_client("lambda", region, env).get_account_settings())
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
        return None


def check_lambda_concurrency(stack: str, config: Mapping[str, str], env: Mapping[str, str]) -> list[str]:
    """Each site's rotation function reserves ``rotationReservedConcurrency`` in its region, and the
    reservation must leave the account's floor there: a new account's quota (10 or 50) cannot, and
    `PutFunctionConcurrency` fails part-way through the first `up`."""
    project = project_name(PROJECT_DIR)
    reserved = int(config.get(f"{project}:rotationReservedConcurrency") or 0)
    if reserved <= 0:
        return []
    problems = []
    for region in [r for r in (config.get("aws:region"), config.get(f"{project}:standbyRegion")) if r]:
        account = lambda_account_settings(region, env)
        if account is None:
            continue
        quota = int(account.get("AccountLimit", {}).get("ConcurrentExecutions", 0))
        if quota - reserved >= LAMBDA_UNRESERVED_FLOOR:
            continue
        problems.append(
            f"Lambda in {region}: the account's concurrency quota is {quota}, and reserving "
            f"{reserved} for the rotation function (rotationReservedConcurrency) would leave {quota - reserved} of "
            f"the {LAMBDA_UNRESERVED_FLOOR} Lambda keeps unreserved. Ask AWS for more (Service Quotas: AWS Lambda, "
            f"'Concurrent executions', e.g. {LAMBDA_USUAL_QUOTA}) or set rotationReservedConcurrency: 0 in "
            f"Pulumi.{stack}.yaml."
        )
    return problems


# Service Quotas, EC2: "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances", in vCPUs.
EC2_STANDARD_VCPU_QUOTA = "L-1216C47A"
# An instance refresh keeps the group's capacity and adds as much again (max healthy 200 %, compute.py).
REFRESH_HEADROOM = 2


def vcpu_quota(region: str, env: Mapping[str, str]) -> float | None:
    """The account's on-demand standard vCPU quota in ``region``; None when it cannot be read."""
    try:
        quota = _client("service-quotas", region, env).get_service_quota(
            ServiceCode="ec2", QuotaCode=EC2_STANDARD_VCPU_QUOTA
        )
        return float(quota["Quota"]["Value"])
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError, KeyError):
        return None


def instance_vcpus(instance_type: str, region: str, env: Mapping[str, str]) -> int | None:
    """The default vCPUs of ``instance_type`` (EC2 DescribeInstanceTypes); None when it cannot be read."""
    try:
        found = _client("ec2", region, env).describe_instance_types(InstanceTypes=[instance_type])
        return int(found["InstanceTypes"][0]["VCpuInfo"]["DefaultVCpus"])
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError, KeyError, IndexError):
        return None


def check_vcpu_quota(stack: str, config: Mapping[str, str], env: Mapping[str, str]) -> list[str]:
    """Each site's app group may grow to asgMaxSize and double during an instance refresh: a new
    account's vCPU quota (often 5 to 32) stops the group mid-refresh, or leaves the standby unable
    to take over. Checked in every region a site runs in."""
    project = project_name(PROJECT_DIR)
    instance_type = config.get(f"{project}:instanceType", "")
    max_size = int(config.get(f"{project}:asgMaxSize") or 0)
    regions = [r for r in (config.get("aws:region"), config.get(f"{project}:standbyRegion")) if r]
    problems = []
    for region in regions:
        vcpus, quota = instance_vcpus(instance_type, region, env), vcpu_quota(region, env)
        if vcpus is None or quota is None:
            continue
        needed = max_size * vcpus * REFRESH_HEADROOM
        if quota < needed:
            problems.append(
                f"EC2 in {region}: the account's on-demand standard vCPU quota is {quota:g}, and the app group "
                f"may need {needed} ({max_size} x {instance_type}, {vcpus} vCPUs each, twice during an instance "
                f"refresh). Ask AWS for more (Service Quotas: Amazon EC2, {EC2_STANDARD_VCPU_QUOTA}) or lower "
                f"asgMaxSize in Pulumi.{stack}.yaml."
            )
    return problems


def local_stack_exists(stack: str) -> bool:
    """The local file backend holds this stack (Pulumi's layout: ``.pulumi/stacks[/<project>]/<stack>.json[.gz]``)."""
    root = LOCAL_STATE / ".pulumi" / "stacks"
    return any(
        (folder / f"{stack}{suffix}").exists()
        for folder in (root, root / project_name(PROJECT_DIR))
        for suffix in (".json", ".json.gz")
    )


def kms_alias_exists(alias: str, region: str, env: Mapping[str, str]) -> bool | None:
    """Whether ``alias`` names a key in ``region``; None when it cannot be told (no permission, no network)."""
    try:
        _client("kms", region, env).describe_key(KeyId=alias)
        return True
    except botocore.exceptions.ClientError as exc:
        return False if exc.response.get("Error", {}).get("Code") == "NotFoundException" else None
    except botocore.exceptions.BotoCoreError:
        return None


def check_names_free(stack: str, config: Mapping[str, str], backend: str, env: Mapping[str, str]) -> str | None:
    """A stack on a laptop's local backend whose names another backend's stack already holds in the
    account (CI's dev in the team account) would collide part-way through `up`, after a NAT gateway
    and ten keys already bill: refuse first. The stack's KMS aliases are fixed names, made first."""
    if not is_local_backend(backend) or local_stack_exists(stack):
        return None
    suffix = config.get(f"{project_name(PROJECT_DIR)}:envSuffix", stack)
    alias, region = kms_alias(name_prefix(suffix), "logs"), config.get("aws:region", "")
    if not kms_alias_exists(alias, region, env):
        return None
    return (
        f"{alias} already exists in {region}: stack {stack} is deployed from another backend (e.g. CI's), and a "
        f"second copy from this machine's local state would collide part-way through `up`. Point at the shared "
        f"backend (export PULUMI_BACKEND_URL=s3://<state-bucket>, docs/bootstrap.md), or give this copy its own "
        f"names (another envSuffix in Pulumi.{stack}.yaml)."
    )


def check_hosted_zone(stack: str, config: Mapping[str, str], env: Mapping[str, str]) -> list[str]:
    """A stack with a domain writes its records into hostedZoneId: the zone must be this account's,
    public, the domain's, and the one public DNS asks (ops/dns_check.py)."""
    project = project_name(PROJECT_DIR)
    domain, zone = config.get(f"{project}:domainName"), config.get(f"{project}:hostedZoneId")
    if not domain or not zone:
        return []
    return zone_problems(
        domain, zone, lambda zone_id: hosted_zone(zone_id, env), public_name_servers, stack_file=f"Pulumi.{stack}.yaml"
    )


def hosted_zone(zone_id: str, env: Mapping[str, str]) -> Mapping[str, Any]:
    """Route 53 GetHostedZone (raises botocore's errors: ops/dns_check.py says which skip the check)."""
    return dict(_client("route53", ROUTE53_REGION, env).get_hosted_zone(Id=zone_id))


def check_credentials_joined(stack: str, config: Mapping[str, str], env: Mapping[str, str]) -> str | None:
    """A two-region stack after a failover away from its region: the standby's copies of the credentials
    are standalone and hold the live values, and `up` would overwrite them with the home region's older
    ones (ops/credentials.py split_credentials). Read from the failover record and Secrets Manager; unlike
    the quota checks this one fails closed: nothing later in `up` would stop the overwrite."""
    project = project_name(PROJECT_DIR)
    home, standby = config.get("aws:region", ""), config.get(f"{project}:standbyRegion")
    session, problem = aws_session(env)
    if not standby or problem:
        return None  # one region: nothing replicated; no credentials: check_credentials says so
    suffix = config.get(f"{project}:envSuffix") or stack
    try:
        return split_credentials(steps.Aws(session), stack, suffix, [home, standby])
    except steps.AwsError as exc:
        return (
            f"cannot tell whether {standby}'s copies of the database credentials are replicas of {home}'s ({exc}), "
            "and if a failover left them standalone, `up` would overwrite their live values: run this again once "
            "that answers. Nothing was changed."
        )


def check_placeholders(stack: str) -> str | None:
    found = placeholders(stack_file_config(stack), project_name(PROJECT_DIR))
    if found:
        return f"Pulumi.{stack}.yaml still holds example values; replace them first: " + "; ".join(
            f"{key}: {message}" for key, message in found.items()
        )
    return None


def missing_prerequisites(action: str, stack: str, pulumi: str | None, env: Mapping[str, str]) -> list[str]:
    """Every problem with this machine and stack, so that one run reports them all (one line each)."""
    backend = backend_url(env)
    in_file = stack_config_problems(stack, action)
    try:
        from_file = [check_secrets(stack, backend, env), check_placeholders(stack) if action != "destroy" else None]
    except ConfigFileError:
        from_file = []  # the file cannot be read: in_file says why
    problems = [check_cli(pulumi), check_credentials(env), check_backend(stack, backend), *from_file, *in_file]
    if action in ("preview", "up") and not any(problems):
        # What only the account can say, once the stack file is known to be good (read once here).
        config = stack_config(stack, project_dir=PROJECT_DIR, omit_secure=True)
        problems.append(check_names_free(stack, config, backend, env))
        problems += check_lambda_concurrency(stack, config, env)
        problems += check_vcpu_quota(stack, config, env)
        problems += check_hosted_zone(stack, config, env)
        if action == "up":
            problems.append(check_credentials_joined(stack, config, env))
    if action in leftovers.ACTIONS and not any(problems):
        # What an earlier destroy kept under the program's names (docs/deploy.md#after-a-failed-first-up).
        problems += leftovers.check(
            action, stack, pulumi=pulumi or "pulumi", env={**env, "PULUMI_BACKEND_URL": backend},
            client=lambda service, region: _client(service, region, env), stack_is_missing=stack_is_missing,
            project_dir=PROJECT_DIR,
        )  # fmt: skip
    return [problem for problem in problems if problem]


def refuse_prod_destroy(stack: str, allow_prod: bool) -> None:
    if stack == "prod" and not allow_prod:
        raise SetupError(
            "Refusing to destroy prod: it holds payment data. That is the point of its protection: "
            f"{PROTECTED_IN_PROD} are Pulumi-protected, the cluster and load balancer have deletion "
            "protection, and archived objects are under S3 Object Lock. To really remove prod: back it up, "
            "export PULUMI_BACKEND_URL=<prod's backend> and run `pulumi state unprotect --all --stack prod`, "
            "turn deletion protection off on the cluster and the load balancer, then "
            "`./deploy destroy prod --allow-prod` (locked objects stay until their retention ends)."
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


def stack_is_missing(stderr: str, stack: str) -> bool:
    """``pulumi stack select`` said the stack does not exist (and not that the backend failed).

    The CLI names the stack as given, or fully qualified (``org/project/dev``) when it is not the
    current user's or project's.
    """
    return any(
        name == stack or name.endswith(f"/{stack}") for name in re.findall(r"no stack named '([^']+)' found", stderr)
    )


def select_or_init(pulumi: str, stack: str, env: Mapping[str, str]) -> None:
    """Select the stack; create it only when the backend says it does not exist."""
    selected = subprocess.run(
        [pulumi, "stack", "select", stack, "--non-interactive"], cwd=PROJECT_DIR, env=dict(env), check=False,
        capture_output=True, text=True,
    )  # fmt: skip
    if selected.returncode == 0:
        return
    backend = env["PULUMI_BACKEND_URL"]
    if not stack_is_missing(selected.stderr, stack):
        raise SetupError(
            f"`pulumi stack select {stack}` failed on {backend}: "
            f"{one_line(selected.stderr) or f'exit code {selected.returncode}'}"
        )
    init = [pulumi, "stack", "init", stack, "--non-interactive"]
    if env.get("PULUMI_SECRETS_PROVIDER"):
        init += ["--secrets-provider", env["PULUMI_SECRETS_PROVIDER"]]
    created = subprocess.run(init, cwd=PROJECT_DIR, env=dict(env), check=False, capture_output=True, text=True)
    if created.returncode != 0:
        raise SetupError(
            f"Could not create stack {stack} on {backend}: "
            f"{one_line(created.stderr) or f'exit code {created.returncode}'}"
        )


def with_backend(env: Mapping[str, str]) -> dict[str, str]:
    """The environment with ``PULUMI_BACKEND_URL`` set, the local state directory made when it is the one."""
    if not env.get("PULUMI_BACKEND_URL"):
        LOCAL_STATE.mkdir(exist_ok=True)
    return {**env, "PULUMI_BACKEND_URL": backend_url(env)}


def run(
    action: str, stack: str, *, yes: bool = False, allow_prod: bool = False, env: Mapping[str, str] | None = None
) -> int:
    env = dict(os.environ if env is None else env)
    if action == "destroy":
        refuse_prod_destroy(stack, allow_prod)
    pulumi = find_pulumi(env)
    problems = missing_prerequisites(action, stack, pulumi, env)
    if problems or pulumi is None:
        raise SetupError("\n".join(problems))
    env = with_backend(env)
    select_or_init(pulumi, stack, env)
    for command in pulumi_commands(action, stack, yes=yes):
        code = subprocess.run([pulumi, *command], cwd=PROJECT_DIR, env=env, check=False).returncode
        if code != 0:
            return code
    return 0


def stack_file(stack: str) -> Path:
    return PROJECT_DIR / f"Pulumi.{stack}.yaml"


def move(
    action: str,
    stack: str,
    *,
    yes: bool = False,
    allow_data_loss: bool = False,
    remove_temporary: bool = False,
    rejoin_secrets: bool = False,
    env: Mapping[str, str] | None = None,
) -> int:
    """switchover or failover (ops/regions.py). One boto3 Session serves the checks and every AWS call.

    switchover first checks that this machine could run `up` for the stack (it ends with one); failover
    needs AWS credentials and a readable stack file only: no Pulumi CLI, no state backend."""
    env = dict(os.environ if env is None else env)
    try:
        config = stack_config(stack, project_dir=PROJECT_DIR, omit_secure=True)
    except ConfigFileError as exc:
        raise SetupError(str(exc)) from None
    project = project_name(PROJECT_DIR)
    regions.require_standby_region(action, stack, config, project)
    if action == "failover" and not (remove_temporary or rejoin_secrets):
        regions.require_data_loss_ack(stack, allow_data_loss)
    session, credentials = aws_session(env)
    found = [credentials]
    if action == "switchover":
        found += missing_prerequisites("up", stack, find_pulumi(env), env)
    else:
        found += stack_config_problems(stack, "up")
    problems = list(dict.fromkeys(problem for problem in found if problem))  # the credentials line once
    if problems:
        raise SetupError("\n".join(problems))
    aws, place = steps.Aws(session), regions.placement(stack, config, project, stack_file(stack))
    if action == "switchover":
        env = with_backend(env)
        regions.switchover(
            place, aws, up=lambda: up_after_move(stack, yes=yes, env=env), yes=yes, polling=steps.POLLING
        )
    elif remove_temporary:
        regions.remove_temporary(place, aws, yes=yes, polling=steps.POLLING)
    elif rejoin_secrets:
        regions.rejoin_secrets(place, aws, yes=yes, polling=steps.POLLING)
    else:
        regions.failover(place, aws, yes=yes, polling=steps.POLLING)
    return 0


def up_after_move(stack: str, *, yes: bool, env: Mapping[str, str]) -> int:
    """`./deploy up <stack>` as the last step of a switchover: its problems reported as the command would."""
    try:
        return run("up", stack, yes=yes, env=env)
    except SetupError as exc:
        report(exc)
        return EXIT_SETUP


def report(problem: Exception) -> None:
    for line in str(problem).splitlines():
        print(f"deploy: {line}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    # prog: the command people type (the wrapper), not this module's file name.
    parser = argparse.ArgumentParser(
        prog="./deploy", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("action", choices=(*ACTIONS, *regions.MOVES))
    parser.add_argument("stack", choices=known_stacks())
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation (all but preview and drift)")
    parser.add_argument("--allow-prod", action="store_true", help="allow destroying prod (see above)")
    parser.add_argument(
        "--allow-data-loss", action="store_true", help="failover: accept losing the writes not yet replicated"
    )
    parser.add_argument(
        "--remove-temporary",
        action="store_true",
        help="failover, pilot-light: after the up that follows it, move the writer to the managed DB instance "
        "and delete the temporary one",
    )
    parser.add_argument(
        "--rejoin-secrets",
        action="store_true",
        help="failover, once the lost region answers again and before up: copy the credentials' values home and "
        "make the standby's copies replicas again",
    )
    args = parser.parse_args(argv)
    if args.allow_data_loss and args.action != "failover":
        parser.error("--allow-data-loss goes with failover only")
    if args.remove_temporary and (args.action != "failover" or args.allow_data_loss):
        parser.error("--remove-temporary goes with failover only, without --allow-data-loss")
    if args.rejoin_secrets and (args.action != "failover" or args.allow_data_loss or args.remove_temporary):
        parser.error("--rejoin-secrets goes with failover only, without --allow-data-loss or --remove-temporary")
    try:
        if args.action in regions.MOVES:
            return move(
                args.action,
                args.stack,
                yes=args.yes,
                allow_data_loss=args.allow_data_loss,
                remove_temporary=args.remove_temporary,
                rejoin_secrets=args.rejoin_secrets,
            )
        return run(args.action, args.stack, yes=args.yes, allow_prod=args.allow_prod)
    except (SetupError, steps.RefusedError) as exc:
        report(exc)
        return EXIT_SETUP
    except steps.StepError as exc:
        report(exc)
        return exc.code
    except KeyboardInterrupt:
        print("deploy: interrupted", file=sys.stderr)
        return steps.EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
