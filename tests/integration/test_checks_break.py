"""Each live check reports the problem once moto's fake of a stack is broken in its area.

Every breakage is in a different area, and each check reads only its own: one fake per stack,
broken everywhere at once, stands for fourteen (tests/integration/test_checks_offline.py proves
the same checks pass on an unbroken fake)."""

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from moto import mock_aws

from tests.integration import checks
from tests.integration.fake_stack import FAKE_ENV, FakeStack, build


@pytest.fixture(scope="module", params=["dev", "prod"])
def fake(request: pytest.FixtureRequest) -> Iterator[FakeStack]:
    """A fake per stack with every breakage below applied."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name, value in FAKE_ENV.items():
            monkeypatch.setenv(name, value)
        with mock_aws():
            broken = build(request.param)
            for breakage, _ in BREAKAGES.values():
                breakage(broken)
            _exported_password(broken)
            yield broken


def _db_route_to_internet(f: FakeStack) -> None:
    igw = f.aws.client("ec2").create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    f.aws.client("ec2").attach_internet_gateway(InternetGatewayId=igw, VpcId=f.outputs["vpc_id"])
    f.aws.client("ec2").create_route(
        RouteTableId=f.ids["database_table"], DestinationCidrBlock="0.0.0.0/0", GatewayId=igw
    )


def _slow_rotation(f: FakeStack) -> None:
    f.ids["secret"].auto_rotate_after_days = 60


def _imdsv1_instance(f: FakeStack) -> None:
    f.aws.client("ec2").run_instances(
        ImageId="ami-12c6146b",
        MinCount=1,
        MaxCount=1,
        SubnetId=f.outputs["private_subnet_ids"][0],
        MetadataOptions={"HttpTokens": "optional"},
        TagSpecifications=[
            {"ResourceType": "instance", "Tags": [{"Key": "aws:autoscaling:groupName", "Value": f.outputs["asg_name"]}]}
        ],
    )


def _silent_alarm(f: FakeStack) -> None:
    f.aws.client("cloudwatch").put_metric_alarm(
        AlarmName=f"{f.expect.resource_prefix}-monitoring-unwired",
        MetricName="Errors",
        Namespace="AWS/Lambda",
        Statistic="Sum",
        Period=300,
        EvaluationPeriods=1,
        Threshold=0,
        ComparisonOperator="GreaterThanThreshold",
    )


def _unversioned_bucket(f: FakeStack) -> None:
    f.aws.client("s3").put_bucket_versioning(
        Bucket=f.outputs["logs_bucket_name"], VersioningConfiguration={"Status": "Suspended"}
    )


def _unprotected_cluster(f: FakeStack) -> None:
    identifier = f.outputs["db_cluster_endpoint"].split(".")[0]
    f.aws.client("rds").modify_db_cluster(
        DBClusterIdentifier=identifier, DeletionProtection=not f.expect.protected, ApplyImmediately=True
    )


def _unprotected_distribution(f: FakeStack) -> None:
    f.outputs["web_acl_arn"] = f.ids["acl"].replace("edge", "other")


def _exported_password(f: FakeStack) -> None:
    f.outputs["db_master_password"] = "s3cr3t"


BREAKAGES: dict[str, tuple[Callable[[FakeStack], None], str]] = {
    "network": (_db_route_to_internet, "has a route to the internet"),
    "secrets": (_slow_rotation, "rotates every 60 days"),
    "instances": (_imdsv1_instance, "allows IMDSv1"),
    "alarms": (_silent_alarm, "notifies nobody"),
    "buckets": (_unversioned_bucket, "is not versioned"),
    "database": (_unprotected_cluster, "deletion protection is"),
    "edge": (_unprotected_distribution, "not the stack's web ACL"),
}


def test_every_check_has_a_breakage() -> None:
    assert set(BREAKAGES) == set(checks.CHECKS)


@pytest.mark.parametrize("name", sorted(BREAKAGES))
def test_every_check_reports_a_broken_stack(fake: FakeStack, name: str) -> None:
    _, problem = BREAKAGES[name]
    found = checks.CHECKS[name](fake.aws, fake.outputs, fake.expect)
    assert any(problem in p for p in found), found


def test_exported_secrets_are_caught(fake: FakeStack) -> None:
    assert "a stack output mentions a password" in checks.check_secrets(fake.aws, fake.outputs, fake.expect)


def test_live_suite_skips_cleanly_without_a_stack(tmp_path: Path) -> None:
    done = subprocess.run(
        # Its own --basetemp: a nested pytest otherwise prunes old temp dirs, the running suite's among them.
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rs",
            "tests/integration/test_live.py",
            "-p",
            "no:cacheprovider",
            f"--basetemp={tmp_path / 'nested-pytest'}",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("FINTECH_")},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "skipped" in done.stdout
    assert "no deployed stack to check: set FINTECH_STACK" in done.stdout
    assert json.dumps("failed") not in done.stdout
