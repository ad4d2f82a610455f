"""The moto fake follows the recorded plan (alarm actions, versioning, public access blocks), so a
careless edit of the program reaches the live checks and is reported."""

import copy
from collections.abc import Callable
from typing import Any

import pytest
from moto import mock_aws

from offline.harness import StackRun
from tests.integration import checks
from tests.integration.fake_stack import FAKE_ENV, build, recorded_plan


def _plan_with(stack: str, type_: str, change: Callable[[dict[str, Any]], None]) -> StackRun:
    """The recorded plan with every ``type_`` resource's inputs changed: a careless edit of the program."""
    plan = copy.deepcopy(recorded_plan(stack))
    for record in plan.of_type(type_):
        change(record.inputs)
    return plan


@pytest.mark.parametrize(
    ("type_", "change", "check", "problem"),
    [
        (
            "aws:cloudwatch/metricAlarm:MetricAlarm",
            lambda i: i.update(actionsEnabled=False),
            "alarms",
            "has its actions disabled",
        ),
        ("aws:cloudwatch/metricAlarm:MetricAlarm", lambda i: i.update(alarmActions=[]), "alarms", "notifies nobody"),
        (
            "aws:s3/bucketVersioning:BucketVersioning",
            lambda i: i.update(versioningConfiguration={"status": "Suspended"}),
            "buckets",
            "is not versioned",
        ),
        (
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
            lambda i: i.update(restrictPublicBuckets=False),
            "buckets",
            "public access block is",
        ),
    ],
)
def test_the_fake_follows_the_plan_so_a_bad_plan_is_reported(
    monkeypatch: pytest.MonkeyPatch, type_: str, change: Callable[[dict[str, Any]], None], check: str, problem: str
) -> None:
    for name, value in FAKE_ENV.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        bad = build("dev", _plan_with("dev", type_, change))
        found = checks.CHECKS[check](bad.aws, bad.outputs, bad.expect)
    assert any(problem in p for p in found), found
