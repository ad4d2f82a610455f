"""Regions and instance types are checked against what AWS offers, as the libraries we ship know it.

The data is botocore's (partitions.json; the EC2 API model's InstanceType enum) and pulumi-aws's
(``ec2.InstanceType``), never a list typed into this repository.
"""

import subprocess
import sys
from typing import Any

import botocore.session
import pytest

from components import settings
from components.settings import PROJECT, REGION_KEY, SettingsError, aws_regions, parse_settings
from offline.harness import PROJECT_DIR, stack_config


def problems_for(stack: str, **overrides: Any) -> list[str]:
    with pytest.raises(SettingsError) as excinfo:
        parse_settings(stack_config(stack, overrides), stack=stack)
    return excinfo.value.problems


def test_every_region_botocore_has_endpoints_for_is_a_region() -> None:
    """partitions.json (what the check reads, 7 KB) lists every region endpoints.json (1.2 MB) knows."""
    session = botocore.session.Session()
    listed = {
        region
        for partition in session.get_available_partitions()
        for region in session.get_available_regions("ec2", partition_name=partition)
    }
    assert listed <= aws_regions()
    assert {"eu-west-1", "us-gov-west-1", "cn-north-1"} <= aws_regions()
    assert not any(region.endswith("-global") for region in aws_regions()), "aws-global is an endpoint, no region"


@pytest.mark.parametrize("region", ["eu-west-9", "us-east-7", "eu-central-9"])
def test_a_region_no_partition_has_is_refused_wherever_it_is_set(region: str) -> None:
    for key in (REGION_KEY, "standbyRegion", "backupCopyRegion"):
        (problem,) = problems_for("prod", **{key: region})
        full = key if ":" in key else f"{PROJECT}:{key}"
        assert problem.startswith(f"{full} = {region!r}: must be "), problem
        assert f"no AWS partition has a region {region} (botocore " in problem


def test_a_region_newer_than_the_old_pattern_is_a_region() -> None:
    """The European Sovereign Cloud's region did not fit the former hand-written pattern."""
    assert "eusc-de-east-1" in aws_regions()
    parse_settings(stack_config("dev", {REGION_KEY: "eusc-de-east-1"}), stack="dev")


@pytest.mark.parametrize(
    ("key", "value"),
    [("instanceType", "t3.humongous"), ("instanceType", "m7i.huge"), ("dbInstanceClass", "db.r7g.humongous")],
)
def test_an_instance_type_aws_does_not_offer_is_refused(key: str, value: str) -> None:
    (problem,) = problems_for("dev", **{key: value})
    assert problem.startswith(f"{PROJECT}:{key} = {value!r}: must be "), problem
    assert "comes in" in problem
    assert "large" in problem


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("instanceType", "t3.small"),
        ("instanceType", "m7i.xlarge"),
        ("instanceType", "t4g.large"),
        ("dbInstanceClass", "db.serverless"),
        ("dbInstanceClass", "db.r8g.2xlarge"),
        ("dbInstanceClass", "db.x2g.large"),  # RDS's db.x2g are EC2's x2gd
        ("dbInstanceClass", "db.t4g.small"),
    ],
)
def test_what_aws_offers_is_accepted(key: str, value: str) -> None:
    parse_settings(stack_config("dev", {key: value}), stack="dev")


def test_a_type_pulumi_aws_does_not_list_yet_is_found_in_botocore() -> None:
    """pulumi-aws's enum lags AWS: a type only botocore's EC2 model has is still a type."""
    newer = sorted(settings._botocore_instance_types() - settings._pulumi_instance_types())
    assert newer, "pulumi-aws lists every type botocore does: pick another test"
    parse_settings(stack_config("dev", {"instanceType": newer[0]}), stack="dev")


def test_outside_the_program_the_check_does_not_import_pulumi_aws_ec2() -> None:
    """./deploy checks a stack file before Pulumi runs: importing pulumi_aws.ec2 (seconds) for it would
    cost more than reading botocore's model."""
    code = (
        "import sys\n"
        "from components.settings import parse_settings\n"
        "from offline.harness import stack_config\n"
        "parse_settings(stack_config('dev'), stack='dev')\n"
        "print('pulumi_aws.ec2' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_DIR, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
