"""Checks of a deployed stack, as a user would make them. Skipped unless pointed at one.

    FINTECH_STACK=dev pytest tests/integration
    FINTECH_STACK=prod FINTECH_STACK_OUTPUTS=prod-outputs.json pytest tests/integration

Opt-in checks that cost requests or touch an instance: FINTECH_RATE_LIMIT_TEST=1 (a bounded
burst above the WAF rate limit), FINTECH_DB_LOGIN_TEST=1 (logs in with the app credential from
an app instance through SSM).
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.integration import checks, live_checks
from tests.integration.stack import SKIP_REASON, OutputsUnavailableError, deployed_outputs, expectations

STACK = os.environ.get("FINTECH_STACK")


def _why_not_checked(stack: str | None) -> str | None:
    """Why the live checks cannot run here: no stack named, or its outputs unreadable (no CLI, no backend)."""
    if not stack:
        return SKIP_REASON
    try:
        deployed_outputs(stack)  # read once, at collection; the fixture reuses them
    except OutputsUnavailableError as exc:
        return str(exc)
    return None


WHY_NOT = _why_not_checked(STACK)
# A module-level `skip` is reported as one line (tests without marks of their own fold into it).
pytestmark = [pytest.mark.skip(reason=WHY_NOT)] if WHY_NOT else []


@pytest.fixture(scope="module")
def deployed() -> tuple[checks.Aws, dict[str, Any], checks.Expectations]:
    assert STACK
    expect, region = expectations(STACK)
    return checks.Aws(region), deployed_outputs(STACK), expect


@pytest.fixture(params=sorted(checks.CHECKS))
def check_name(request: pytest.FixtureRequest) -> str:
    """Each check in turn (a fixture, not a `parametrize` mark, so a module-level skip folds into one line)."""
    return str(request.param)


def test_deployed_stack(deployed: tuple[checks.Aws, dict[str, Any], checks.Expectations], check_name: str) -> None:
    aws, outputs, expect = deployed
    assert checks.CHECKS[check_name](aws, outputs, expect) == []


def test_database_is_available(deployed: tuple[checks.Aws, dict[str, Any], checks.Expectations]) -> None:
    aws, outputs, _ = deployed
    assert checks.check_database_available(aws, outputs) == []


def test_last_rotation_succeeded(deployed: tuple[checks.Aws, dict[str, Any], checks.Expectations]) -> None:
    aws, outputs, _ = deployed
    assert checks.check_last_rotation_succeeded(aws, outputs) == []


def test_targets_are_healthy(deployed: tuple[checks.Aws, dict[str, Any], checks.Expectations]) -> None:
    aws, outputs, _ = deployed
    assert checks.check_targets_healthy(aws, outputs) == []


def test_cloudfront_serves_health_with_security_headers(
    deployed: tuple[checks.Aws, dict[str, Any], checks.Expectations],
) -> None:
    _, outputs, _ = deployed
    assert live_checks.check_health_through_cloudfront(outputs) == []


def test_load_balancer_refuses_direct_requests(
    deployed: tuple[checks.Aws, dict[str, Any], checks.Expectations],
) -> None:
    _, outputs, _ = deployed
    assert live_checks.check_alb_refuses_direct_requests(outputs) == []


@pytest.mark.skipif(not os.environ.get("FINTECH_RATE_LIMIT_TEST"), reason="opt-in: set FINTECH_RATE_LIMIT_TEST=1")
def test_rate_limit_blocks_a_burst(deployed: tuple[checks.Aws, dict[str, Any], checks.Expectations]) -> None:
    _, outputs, _ = deployed
    assert STACK
    limit = int(os.environ.get("FINTECH_RATE_LIMIT", "2000"))
    assert live_checks.check_rate_limit(outputs, limit) == []


@pytest.mark.skipif(not os.environ.get("FINTECH_DB_LOGIN_TEST"), reason="opt-in: set FINTECH_DB_LOGIN_TEST=1")
def test_app_credential_logs_in(deployed: tuple[checks.Aws, dict[str, Any], checks.Expectations]) -> None:
    aws, outputs, _ = deployed
    assert live_checks.check_app_credential_connects(aws, outputs) == []
