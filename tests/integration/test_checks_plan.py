"""The moto fake follows the recorded plan (alarm actions, versioning, public access blocks), so a
careless edit of the program reaches the live checks and is reported."""

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from moto import mock_aws

from offline.harness import StackRun
from tests.integration import checks
from tests.integration.fake_stack import FAKE_ENV, FakeStack, build, recorded_plan

# Careless edits of the program, one per property the fake must take from the plan. Each is
# in its own field, and each check reports each problem on its own, so one fake holds them all.
EDITS: list[tuple[str, Callable[[dict[str, Any]], None]]] = [
    ("aws:cloudwatch/metricAlarm:MetricAlarm", lambda i: i.update(actionsEnabled=False)),
    ("aws:cloudwatch/metricAlarm:MetricAlarm", lambda i: i.update(alarmActions=[])),
    ("aws:s3/bucketVersioning:BucketVersioning", lambda i: i.update(versioningConfiguration={"status": "Suspended"})),
    ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", lambda i: i.update(restrictPublicBuckets=False)),
]


def _edited_plan(stack: str) -> StackRun:
    plan = copy.deepcopy(recorded_plan(stack))
    for type_, change in EDITS:
        for record in plan.of_type(type_):
            change(record.inputs)
    return plan


@pytest.fixture(scope="module")
def badly_planned() -> Iterator[FakeStack]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name, value in FAKE_ENV.items():
            monkeypatch.setenv(name, value)
        with mock_aws():
            yield build("dev", _edited_plan("dev"))


@pytest.mark.parametrize(
    ("check", "problem"),
    [
        ("alarms", "has its actions disabled"),
        ("alarms", "notifies nobody"),
        ("buckets", "is not versioned"),
        ("buckets", "public access block is"),
    ],
)
def test_the_fake_follows_the_plan_so_a_bad_plan_is_reported(
    badly_planned: FakeStack, check: str, problem: str
) -> None:
    found = checks.CHECKS[check](badly_planned.aws, badly_planned.outputs, badly_planned.expect)
    assert any(problem in p for p in found), found
