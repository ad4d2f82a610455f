"""Checks that need the real thing: HTTP through CloudFront, the ALB from outside, a DB login.

They talk only to the stack named in FINTECH_STACK, every loop is bounded in count and time,
and the costly ones are opt-in (see test_live.py).
"""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from typing import Any

from tests.integration.checks import Aws, Outputs

SECURITY_HEADERS = {
    "strict-transport-security": "max-age=",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
}


def _get(url: str, timeout: float = 10) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(url, headers={"User-Agent": "fintech-integration-check"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}


def check_health_through_cloudfront(outputs: Outputs) -> list[str]:
    status, headers = _get(f"https://{outputs['cloudfront_domain_name']}/health")
    problems = [] if status == 200 else [f"/health through CloudFront answered {status}"]
    for header, expected in SECURITY_HEADERS.items():
        if expected not in headers.get(header, ""):
            problems.append(f"response lacks {header}: {expected}")
    return problems


def check_alb_refuses_direct_requests(outputs: Outputs) -> list[str]:
    """From outside CloudFront the ALB either cannot be reached (security group) or answers 403."""
    host = outputs["alb_dns_name"]
    for port in (80, 443):
        try:
            with socket.create_connection((host, port), timeout=5):
                pass
        except OSError:
            continue  # the security group admits only CloudFront's prefix list: refused or timed out
        scheme = "https" if port == 443 else "http"
        try:
            status, _ = _get(f"{scheme}://{host}/health", timeout=5)
        except (urllib.error.URLError, OSError):
            continue
        if status != 403:
            return [f"{scheme}://{host}/health answered {status} without the origin header"]
    return []


def check_rate_limit(outputs: Outputs, limit: int, budget_seconds: float = 300) -> list[str]:
    """A bounded burst above the per-IP limit must start getting 403 from WAF."""
    url = f"https://{outputs['cloudfront_domain_name']}/health"
    deadline = time.monotonic() + budget_seconds
    for sent in range(int(limit * 1.5)):
        if time.monotonic() > deadline:
            break
        status, _ = _get(url, timeout=5)
        if status == 403:
            return [] if sent >= limit // 2 else [f"blocked after only {sent} requests"]
    return [f"no 403 after a burst above the limit of {limit} requests"]


def check_app_credential_connects(aws: Aws, outputs: Outputs, timeout_seconds: int = 300) -> list[str]:
    """Logs in as the app user from an app instance (through SSM), with TLS, reading the secret there."""
    ec2, ssm = aws.client("ec2"), aws.client("ssm")
    reservations = ec2.describe_instances(
        Filters=[
            {"Name": "tag:aws:autoscaling:groupName", "Values": [outputs["asg_name"]]},
            {"Name": "instance-state-name", "Values": ["running"]},
        ]
    )["Reservations"]
    instances = [i["InstanceId"] for r in reservations for i in r["Instances"]]
    if not instances:
        return ["no running app instance to test from"]
    secret = outputs["app_db_secret_arn"]
    script = [
        "set -euo pipefail",
        "dnf -y -q install mariadb105 jq >/dev/null",
        f"S=$(aws secretsmanager get-secret-value --secret-id {secret} --region {aws.region} --query SecretString "
        "--output text)",
        'export MYSQL_PWD=$(echo "$S" | jq -r .password)',
        'mysql --ssl -h "$(echo "$S" | jq -r .host)" -u "$(echo "$S" | jq -r .username)" '
        '-D "$(echo "$S" | jq -r .dbname)" -e "SELECT 1" >/dev/null',
    ]
    command = ssm.send_command(
        InstanceIds=instances[:1], DocumentName="AWS-RunShellScript", Parameters={"commands": script}
    )["Command"]
    deadline = time.monotonic() + timeout_seconds
    result: dict[str, Any] = {}
    while time.monotonic() < deadline:
        time.sleep(5)
        try:
            result = ssm.get_command_invocation(CommandId=command["CommandId"], InstanceId=instances[0])
        except ssm.exceptions.InvocationDoesNotExist:
            continue
        if result["Status"] not in ("Pending", "InProgress", "Delayed"):
            break
    if result.get("Status") != "Success":
        error = str(result.get("StandardErrorContent", ""))[:300]
        return [f"app login from {instances[0]} ended {result.get('Status')}: {error}"]
    return []
