"""Which deployed stack to check, and what its settings promise."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from typing import Any

from components.settings import parse_settings
from offline.harness import PROJECT_DIR, stack_config
from tests.integration.checks import Expectations

SKIP_REASON = (
    "no deployed stack to check: set FINTECH_STACK=<stack> (outputs are read with `pulumi stack output --json`) "
    "or also FINTECH_STACK_OUTPUTS=<file.json>"
)


def expectations(stack: str) -> tuple[Expectations, str]:
    settings = parse_settings(stack_config(stack), stack=stack)
    nats = settings.az_count if settings.nat_strategy == "per_az" else 1
    expect = Expectations(
        az_count=settings.az_count,
        nat_gateways=nats,
        protected=settings.protect_data,
        resource_prefix=settings.name_prefix,
    )
    return expect, settings.region


class OutputsUnavailableError(Exception):
    """The stack's outputs cannot be read on this machine; the message says why and what to do."""


@functools.cache
def deployed_outputs(stack: str) -> dict[str, Any]:
    """The stack's outputs, read once per run; raises OutputsUnavailableError with one line saying why not."""
    path = os.environ.get("FINTECH_STACK_OUTPUTS")
    if path:
        return dict(json.loads(open(path, encoding="utf-8").read()))
    command = f"pulumi stack output --json --stack {stack}"
    problem = f"cannot read {stack}'s outputs"
    instead = f"or export FINTECH_STACK_OUTPUTS=<file.json> written by `{command}` where it works"
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        raise OutputsUnavailableError(f"{problem}: the Pulumi CLI is not on PATH; install it, {instead}")
    done = subprocess.run(
        [pulumi, *command.split()[1:]], cwd=PROJECT_DIR, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        reason = " ".join(line.strip() for line in done.stderr.splitlines() if line.strip())
        raise OutputsUnavailableError(
            f"{problem}: `{command}` failed ({reason or f'exit code {done.returncode}'}); export "
            f"PULUMI_BACKEND_URL (and the passphrase) the stack was deployed with, {instead}"
        )
    try:
        return dict(json.loads(done.stdout))
    except ValueError:
        raise OutputsUnavailableError(f"{problem}: `{command}` did not print JSON; {instead}") from None
