"""The failover record (components/failover_record.py): its JSON round-trips, and a bad one names its key."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from components.failover_record import (
    AppCapacity,
    DbInstanceSettings,
    FailoverRecord,
    FailoverRecordError,
    parameter_name,
)

PRIMARY, STANDBY = "eu-west-1", "eu-central-1"
ACCOUNT = "123456789012"
PULUMI_SUFFIX = "2026010709301512340000000"  # a name_prefix resource's 26 digits, less the last


def prod_record(**changes: Any) -> FailoverRecord:
    """prod as its `up` records it: real-length names and ARNs in both regions."""
    ids = {PRIMARY: "fintech-prod-aurora-cluster-3f9a1c2", STANDBY: "fintech-prod-standby-aurora-cluster-8d2e4b1"}
    record = FailoverRecord(
        stack="prod",
        primary_region=PRIMARY,
        standby_region=STANDBY,
        standby_mode="warm",
        global_cluster_id="fintech-prod-global",
        db_cluster_arns={r: f"arn:aws:rds:{r}:{ACCOUNT}:cluster:{ids[r]}" for r in ids},
        db_cluster_ids=ids,
        asg_names={PRIMARY: "fintech-prod-app-asg-0b1c2d3", STANDBY: "fintech-prod-standby-app-asg-4e5f6a7"},
        target_group_arns={
            r: f"arn:aws:elasticloadbalancing:{r}:{ACCOUNT}:targetgroup/fintech-prod-app-tg/50dc6c495c0c9188"
            for r in ids
        },
        app_capacity=AppCapacity(min=2, max=10, desired=3),
        db_instance_class="db.r6g.large",
        db_instance_settings={
            r: DbInstanceSettings(
                db_instance_parameter_group=f"{ids[r]}-instance-params-1a2b3c4",
                ca_certificate_identifier="rds-ca-rsa2048-g1",
                monitoring_interval=15,
                monitoring_role_arn=f"arn:aws:iam::{ACCOUNT}:role/fintech-prod-db-monitoring-{r}-9f8e7d6",
            )
            for r in ids
        },
        origin_name="origin.payments.acme-pay.co.uk",
        origin_health_check_ids={
            PRIMARY: "4f1b8a2e-1c3d-4e5f-8a9b-0c1d2e3f4a5b",
            STANDBY: "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d",
        },
        hosted_zone_id="Z04811223ABCDEFGHIJK",
        home_region=PRIMARY,
        rotation_days=30,
        # Names as the program makes them (name_prefix + Pulumi's 26-digit suffix) + Secrets Manager's 6 characters.
        master_secret_arns={
            r: f"arn:aws:secretsmanager:{r}:{ACCOUNT}:secret:fintech-prod-database-master-{PULUMI_SUFFIX}2-Ab3dEf"
            for r in ids
        },
        app_secret_arns={
            r: f"arn:aws:secretsmanager:{r}:{ACCOUNT}:secret:fintech-prod/app/db-{PULUMI_SUFFIX}1-Gh8iJk" for r in ids
        },
        secrets_key_arns={
            PRIMARY: f"arn:aws:kms:{PRIMARY}:{ACCOUNT}:key/1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
            STANDBY: f"arn:aws:kms:{STANDBY}:{ACCOUNT}:key/9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a",
        },
        rotation_function_arns={
            PRIMARY: f"arn:aws:lambda:{PRIMARY}:{ACCOUNT}:function:fintech-prod-db-rotation-5e6f7a8",
            STANDBY: f"arn:aws:lambda:{STANDBY}:{ACCOUNT}:function:fintech-prod-standby-db-rotation-1b2c3d4",
        },
    )
    return dataclasses.replace(record, **changes)


def test_the_parameter_name_follows_the_stack_names() -> None:
    assert parameter_name("prod") == "/fintech/prod/failover-record"


def test_a_record_round_trips_through_its_json() -> None:
    record = prod_record()
    assert FailoverRecord.from_json(record.to_json()) == record
    assert record.to_json() == prod_record().to_json(), "the same stack writes the same value"


def test_the_json_names_every_field_and_fits_a_standard_parameter() -> None:
    data = json.loads(prod_record().to_json())
    assert sorted(data) == sorted(
        [
            "format", "stack", "primary_region", "standby_region", "standby_mode", "global_cluster_id",
            "db_cluster_arns", "db_cluster_ids", "asg_names", "target_group_arns", "app_capacity",
            "db_instance_class", "db_instance_settings", "origin_name", "origin_health_check_ids",
            "hosted_zone_id", "home_region", "rotation_days", "master_secret_arns", "app_secret_arns",
            "secrets_key_arns", "rotation_function_arns",
        ]
    )  # fmt: skip
    assert data["app_capacity"] == {"min": 2, "max": 10, "desired": 3}
    assert data["db_instance_settings"][STANDBY]["monitoring_interval"] == 15
    # Standard tier: 4,096 characters (Parameter Store quotas); room left for a longer domain.
    assert len(prod_record().to_json()) < 3000


def test_monitoring_off_has_no_role() -> None:
    off = DbInstanceSettings("params", "rds-ca-rsa2048-g1", 0, "")
    record = prod_record(db_instance_settings={PRIMARY: off, STANDBY: off})
    assert FailoverRecord.from_json(record.to_json()) == record


def _without(path: str) -> str:
    data = json.loads(prod_record().to_json())
    *parents, last = path.split(".")
    holder = data
    for key in parents:
        holder = holder[key]
    del holder[last]
    return json.dumps(data)


def _with(path: str, value: Any) -> str:
    data = json.loads(prod_record().to_json())
    *parents, last = path.split(".")
    holder = data
    for key in parents:
        holder = holder[key]
    holder[last] = value
    return json.dumps(data)


BAD = {
    "not json": ("{", "failover record: not JSON"),
    "a list": ("[]", "failover record: not a JSON object"),
    "no stack": (_without("stack"), "failover record: stack is missing"),
    "no global cluster": (_without("global_cluster_id"), "failover record: global_cluster_id is missing"),
    "no desired": (_without("app_capacity.desired"), "failover record: app_capacity.desired is missing"),
    "no CA": (
        _without(f"db_instance_settings.{STANDBY}.ca_certificate_identifier"),
        f"failover record: db_instance_settings.{STANDBY}.ca_certificate_identifier is missing",
    ),
    "capacity as text": (
        _with("app_capacity.max", "10"),
        'failover record: app_capacity.max must be a whole number, not "10"',
    ),
    "empty cluster id": (
        _with("global_cluster_id", ""),
        "failover record: global_cluster_id must be a non-empty string",
    ),
    "one region only": (
        _with("asg_names", {PRIMARY: "a"}),
        "failover record: asg_names must map exactly eu-central-1 and eu-west-1, not ['eu-west-1']",
    ),
    "a third region": (
        _with("target_group_arns", {PRIMARY: "a", STANDBY: "b", "us-east-1": "c"}),
        "failover record: target_group_arns must map exactly eu-central-1 and eu-west-1",
    ),
    "unknown mode": (_with("standby_mode", "cold"), "failover record: standby_mode is 'cold'"),
    "newer format": (_with("format", 3), "failover record: format is 3, these commands read format 2"),
    "format 1": (
        _with("format", 1),
        "failover record: format is 1 (written before the credentials' copies were recorded), these commands read "
        "format 2",
    ),
    "no home region": (_without("home_region"), "failover record: home_region is missing"),
    "home region elsewhere": (
        _with("home_region", "us-east-1"),
        "failover record: home_region is us-east-1, neither primary_region eu-west-1 nor standby_region eu-central-1",
    ),
    "no rotation days": (_without("rotation_days"), "failover record: rotation_days is missing"),
    "rotation days as text": (_with("rotation_days", "30"), "failover record: rotation_days must be a whole number"),
    "rotation days out of range": (
        _with("rotation_days", 366),
        "failover record: rotation_days is 366, not from 1 to 365",
    ),
    "no rotation days at all": (_with("rotation_days", 0), "failover record: rotation_days is 0, not from 1 to 365"),
    "no app secrets": (_without("app_secret_arns"), "failover record: app_secret_arns is missing"),
    "master secret in one region": (
        _with("master_secret_arns", {PRIMARY: "arn:aws:secretsmanager:eu-west-1:1:secret:m"}),
        "failover record: master_secret_arns must map exactly eu-central-1 and eu-west-1, not ['eu-west-1']",
    ),
    "a key map with a number": (
        _with("secrets_key_arns", {PRIMARY: 1, STANDBY: 2}),
        "failover record: secrets_key_arns must map regions to strings",
    ),
    "swapped rotation functions": (
        _with(
            "rotation_function_arns",
            {
                PRIMARY: f"arn:aws:lambda:{STANDBY}:{ACCOUNT}:function:standby",
                STANDBY: f"arn:aws:lambda:{PRIMARY}:{ACCOUNT}:function:home",
            },
        ),
        f"failover record: rotation_function_arns.{PRIMARY} is arn:aws:lambda:{STANDBY}:",
    ),
    "a key id, not an ARN": (
        _with("secrets_key_arns", {PRIMARY: "1a2b3c4d", STANDBY: "5e6f7a8b"}),
        f"failover record: secrets_key_arns.{PRIMARY} is 1a2b3c4d, not an ARN in {PRIMARY}",
    ),
    "monitoring without role": (
        _with(f"db_instance_settings.{PRIMARY}.monitoring_role_arn", ""),
        f"failover record: db_instance_settings.{PRIMARY}.monitoring_role_arn must be set exactly when",
    ),
    "odd interval": (
        _with(f"db_instance_settings.{PRIMARY}.monitoring_interval", 20),
        f"failover record: db_instance_settings.{PRIMARY}.monitoring_interval is 20, not one of 0, 1, 5, 10, 15, 30",
    ),
    "desired above max": (
        _with("app_capacity", {"min": 2, "max": 3, "desired": 4}),
        "failover record: app_capacity must have 0 <= min <= desired <= max",
    ),
    "same region twice": (
        _with("standby_region", PRIMARY),
        "failover record: primary_region and standby_region are both eu-west-1",
    ),
}


@pytest.mark.parametrize(("text", "message"), BAD.values(), ids=BAD.keys())
def test_a_bad_record_is_one_error_naming_its_key(text: str, message: str) -> None:
    with pytest.raises(FailoverRecordError) as error:
        FailoverRecord.from_json(text)
    assert str(error.value).startswith(message), str(error.value)
    assert "\n" not in str(error.value)


def test_extra_keys_are_ignored_so_a_later_format_may_add_some() -> None:
    assert FailoverRecord.from_json(_with("written_at", "2026-12-07T10:00:00Z")) == prod_record()


def test_other_names_the_other_site() -> None:
    record = prod_record()
    assert (record.other(PRIMARY), record.other(STANDBY)) == (STANDBY, PRIMARY)
