"""Which deployed stack to check, and what its settings promise."""

from __future__ import annotations

import json
import os
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


def deployed_outputs(stack: str) -> dict[str, Any]:
    path = os.environ.get("FINTECH_STACK_OUTPUTS")
    if path:
        return dict(json.loads(open(path, encoding="utf-8").read()))
    done = subprocess.run(
        ["pulumi", "stack", "output", "--json", "--stack", stack],
        cwd=PROJECT_DIR, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return dict(json.loads(done.stdout))
