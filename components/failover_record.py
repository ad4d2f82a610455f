"""The failover record: what ``./deploy switchover|failover`` need to know about a stack with a standby region.

Every ``up`` writes it, as JSON, into an SSM Parameter Store parameter named ``parameter_name(envSuffix)``
in EACH site's region, so that a failover reads it from the region it moves to and needs nothing from the
lost one (not the Pulumi state backend, which lives in the stack's region). The program builds a
``FailoverRecord`` from its outputs and stores ``to_json()``; the operator commands read it back with
``from_json()``. Plain Python, no Pulumi import: ops/regions.py uses it without the SDK.

Format (``format`` 2; every key required, extra keys ignored so a later format may add some)::

    {"format": 2, "stack": "prod", "primary_region": "eu-west-1", "standby_region": "eu-central-1",
     "standby_mode": "warm" | "pilot-light", "global_cluster_id": "...",
     "db_cluster_arns": {region: arn}, "db_cluster_ids": {region: id}, "asg_names": {region: name},
     "target_group_arns": {region: arn},
     "app_capacity": {"min": int, "max": int, "desired": int},
     "db_instance_class": "db.r6g.large",
     "db_instance_settings": {region: {"db_instance_parameter_group": name,
                                       "ca_certificate_identifier": "rds-ca-rsa2048-g1",
                                       "monitoring_interval": 0|1|5|10|15|30|60,
                                       "monitoring_role_arn": arn or "" (only with interval 0)}},
     "origin_name": "origin.<domain>", "origin_health_check_ids": {region: id}, "hosted_zone_id": "Z...",
     "home_region": "eu-west-1", "rotation_days": 1-365,
     "master_secret_arns": {region: arn}, "app_secret_arns": {region: arn},
     "secrets_key_arns": {region: arn}, "rotation_function_arns": {region: arn}}

Every per-region map has exactly the two sites' regions as keys. ``primary_region`` is where the writer
is (it follows a move); ``home_region`` is the stack's ``aws:region``, where Pulumi declares the
credentials' primary secrets (each replicated to the other region), and never moves. The four
credential maps (format 2) hold each region's copy of the master and app secrets, the KMS key that
copy is encrypted with and that site's rotation function; each ARN names its own region (a swapped
map would have a failover promote or overwrite the wrong copy). A format-1 record (written before
them) is refused: ``./deploy up <stack>`` writes it again. The value stays well under the Standard
tier's 4,096 characters (Parameter Store quotas, "Parameter value size"; SSM PutParameter ``Value``):
a prod-sized record is ~2.8 KB (tests/ops/test_failover_record.py keeps it under 3,000), so the parameter
is a ``String`` of tier ``Standard``. Parameter names: letters, digits, ``_.-`` and ``/`` for the hierarchy,
not starting with ``aws`` or ``ssm`` (PutParameter ``Name``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

FORMAT = 2
STANDBY_MODES = ("warm", "pilot-light")
# CreateDBInstance MonitoringInterval: "Valid Values: 0, 1, 5, 10, 15, 30, 60".
MONITORING_INTERVALS = (0, 1, 5, 10, 15, 30, 60)
# Each region's copy of the credentials, its key and its site's rotation function: ARNs in that region.
CREDENTIALS = ("master_secret_arns", "app_secret_arns", "secrets_key_arns", "rotation_function_arns")
PER_REGION = (
    "db_cluster_arns",
    "db_cluster_ids",
    "asg_names",
    "target_group_arns",
    "origin_health_check_ids",
    *CREDENTIALS,
)
# SecretRotation in components/between/secrets.py takes 1-365 (RotateSecret's AutomaticallyAfterDays: 1-1000).
ROTATION_DAYS = (1, 365)
TEXT = (
    "stack",
    "primary_region",
    "standby_region",
    "global_cluster_id",
    "db_instance_class",
    "origin_name",
    "hosted_zone_id",
    "home_region",
)


class FailoverRecordError(ValueError):
    """The record is missing a key or holds a malformed value; the message names the key."""


def parameter_name(env_suffix: str) -> str:
    """The SSM parameter every site's region holds the record in."""
    return f"/fintech/{env_suffix}/failover-record"


@dataclass(frozen=True)
class AppCapacity:
    """The active site's Auto Scaling group sizes (what a move scales the target's group to)."""

    min: int
    max: int
    desired: int

    def __str__(self) -> str:
        return f"min {self.min}, max {self.max}, desired {self.desired}"


@dataclass(frozen=True)
class DbInstanceSettings:
    """What a temporary DB instance in a site's cluster is created with: the managed instances' own settings."""

    db_instance_parameter_group: str
    """The cluster's DB (instance) parameter group, CreateDBInstance DBParameterGroupName."""
    ca_certificate_identifier: str
    """CreateDBInstance CACertificateIdentifier (the managed instances': rds-ca-rsa2048-g1)."""
    monitoring_interval: int
    """Enhanced Monitoring seconds, 0 (off) or one of MONITORING_INTERVALS."""
    monitoring_role_arn: str = ""
    """The Enhanced Monitoring role; empty exactly when monitoring_interval is 0."""


@dataclass(frozen=True)
class FailoverRecord:
    """One stack's two sites as the operator commands need them; ``primary_region`` holds the writer."""

    stack: str
    primary_region: str
    standby_region: str
    standby_mode: str
    global_cluster_id: str
    db_cluster_arns: Mapping[str, str]
    db_cluster_ids: Mapping[str, str]
    asg_names: Mapping[str, str]
    target_group_arns: Mapping[str, str]
    """Each site's load balancer target group (ELBv2 DescribeTargetHealth before a switchover)."""
    app_capacity: AppCapacity
    db_instance_class: str
    db_instance_settings: Mapping[str, DbInstanceSettings]
    origin_name: str
    origin_health_check_ids: Mapping[str, str]
    """Each site's Route 53 health check (the one its failover record carries)."""
    hosted_zone_id: str
    home_region: str
    """The stack's ``aws:region``: where the credentials' primary secrets are declared (never moves)."""
    rotation_days: int
    """Days between rotations (``SecretRotation``; RotateSecret ``AutomaticallyAfterDays`` on a promoted copy)."""
    master_secret_arns: Mapping[str, str]
    """Each region's copy of the master credential's secret (the home one primary, the other its replica)."""
    app_secret_arns: Mapping[str, str]
    """Each region's copy of the app credential's secret."""
    secrets_key_arns: Mapping[str, str]
    """The KMS key each region's copies are encrypted with (ReplicateSecretToRegions ``KmsKeyId``)."""
    rotation_function_arns: Mapping[str, str]
    """Each site's rotation function (RotateSecret ``RotationLambdaARN``: it must be in the secret's region)."""
    format: int = field(default=FORMAT)

    def __post_init__(self) -> None:
        for key in TEXT:
            _text(key, getattr(self, key))
        if self.primary_region == self.standby_region:
            raise FailoverRecordError(
                f"failover record: primary_region and standby_region are both {self.primary_region}"
            )
        if self.standby_mode not in STANDBY_MODES:
            raise FailoverRecordError(
                f"failover record: standby_mode is {self.standby_mode!r}, not one of {', '.join(STANDBY_MODES)}"
            )
        for key in (*PER_REGION, "db_instance_settings"):
            self._two_sites(key, getattr(self, key))
        for key in PER_REGION:
            for region, value in getattr(self, key).items():
                _text(f"{key}.{region}", value)
        if self.home_region not in self.regions:
            raise FailoverRecordError(
                f"failover record: home_region is {self.home_region}, neither primary_region {self.primary_region} "
                f"nor standby_region {self.standby_region}"
            )
        low, high = ROTATION_DAYS
        if isinstance(self.rotation_days, bool) or not low <= self.rotation_days <= high:
            raise FailoverRecordError(
                f"failover record: rotation_days is {self.rotation_days}, not from {low} to {high}"
            )
        for key in CREDENTIALS:
            for region, arn in getattr(self, key).items():
                if not arn.startswith("arn:") or arn.split(":")[3:4] != [region]:
                    raise FailoverRecordError(f"failover record: {key}.{region} is {arn}, not an ARN in {region}")
        capacity = self.app_capacity
        if not 0 <= capacity.min <= capacity.desired <= capacity.max:
            raise FailoverRecordError(
                f"failover record: app_capacity must have 0 <= min <= desired <= max ({capacity})"
            )
        for region, settings in self.db_instance_settings.items():
            where = f"db_instance_settings.{region}"
            _text(f"{where}.db_instance_parameter_group", settings.db_instance_parameter_group)
            _text(f"{where}.ca_certificate_identifier", settings.ca_certificate_identifier)
            if settings.monitoring_interval not in MONITORING_INTERVALS:
                raise FailoverRecordError(
                    f"failover record: {where}.monitoring_interval is {settings.monitoring_interval}, not one of "
                    f"{', '.join(map(str, MONITORING_INTERVALS))}"
                )
            if bool(settings.monitoring_interval) != bool(settings.monitoring_role_arn):
                raise FailoverRecordError(
                    f"failover record: {where}.monitoring_role_arn must be set exactly when monitoring_interval is "
                    "not 0 (CreateDBInstance MonitoringRoleArn)"
                )

    def _two_sites(self, key: str, value: Mapping[str, object]) -> None:
        sites = {self.primary_region, self.standby_region}
        if set(value) != sites:
            raise FailoverRecordError(
                f"failover record: {key} must map exactly {' and '.join(sorted(sites))}, not {sorted(value)}"
            )

    @property
    def regions(self) -> tuple[str, str]:
        return (self.primary_region, self.standby_region)

    def other(self, region: str) -> str:
        """The other site's region."""
        return self.standby_region if region == self.primary_region else self.primary_region

    def to_json(self) -> str:
        """The parameter's value: compact JSON, keys sorted (a byte-identical value for an unchanged stack)."""
        data: dict[str, Any] = {key: getattr(self, key) for key in (*TEXT, "standby_mode", "rotation_days", "format")}
        data |= {key: dict(getattr(self, key)) for key in PER_REGION}
        data["app_capacity"] = {"min": self.app_capacity.min, "max": self.app_capacity.max}
        data["app_capacity"]["desired"] = self.app_capacity.desired
        data["db_instance_settings"] = {
            region: {
                "db_instance_parameter_group": s.db_instance_parameter_group,
                "ca_certificate_identifier": s.ca_certificate_identifier,
                "monitoring_interval": s.monitoring_interval,
                "monitoring_role_arn": s.monitoring_role_arn,
            }
            for region, s in self.db_instance_settings.items()
        }
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> FailoverRecord:
        """The record, or one FailoverRecordError naming the first missing or malformed key."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise FailoverRecordError(f"failover record: not JSON ({exc})") from None
        if not isinstance(data, dict):
            raise FailoverRecordError("failover record: not a JSON object")
        version = _get(data, "format", int)
        if version != FORMAT:
            written = " (written before the credentials' copies were recorded)" if version < FORMAT else ""
            raise FailoverRecordError(
                f"failover record: format is {version}{written}, these commands read format {FORMAT}"
            )
        texts: dict[str, Any] = {key: _get(data, key, str) for key in (*TEXT, "standby_mode")}
        maps: dict[str, Any] = {key: _string_map(data, key) for key in PER_REGION}
        capacity = _get(data, "app_capacity", dict)
        settings = _get(data, "db_instance_settings", dict)
        return cls(
            **texts,
            **maps,
            rotation_days=_get(data, "rotation_days", int),
            app_capacity=AppCapacity(
                min=_get(capacity, "min", int, "app_capacity."),
                max=_get(capacity, "max", int, "app_capacity."),
                desired=_get(capacity, "desired", int, "app_capacity."),
            ),
            db_instance_settings={
                str(region): _instance_settings(value, f"db_instance_settings.{region}.")
                for region, value in settings.items()
            },
        )


def _instance_settings(value: object, where: str) -> DbInstanceSettings:
    if not isinstance(value, dict):
        raise FailoverRecordError(f"failover record: {where[:-1]} must be an object")
    return DbInstanceSettings(
        db_instance_parameter_group=_get(value, "db_instance_parameter_group", str, where),
        ca_certificate_identifier=_get(value, "ca_certificate_identifier", str, where),
        monitoring_interval=_get(value, "monitoring_interval", int, where),
        monitoring_role_arn=_get(value, "monitoring_role_arn", str, where),
    )


def _get(data: Mapping[str, Any], key: str, kind: type, where: str = "") -> Any:
    if key not in data:
        raise FailoverRecordError(f"failover record: {where}{key} is missing")
    value = data[key]
    # bool is an int in Python, not in the record.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise FailoverRecordError(f"failover record: {where}{key} must be {_NAMES[kind]}, not {json.dumps(value)}")
    return value


_NAMES = {str: "a string", int: "a whole number", dict: "an object"}


def _string_map(data: Mapping[str, Any], key: str) -> dict[str, str]:
    value = _get(data, key, dict)
    if not all(isinstance(v, str) for v in value.values()):
        raise FailoverRecordError(f"failover record: {key} must map regions to strings, not {json.dumps(value)}")
    return dict(value)


def _text(key: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise FailoverRecordError(f"failover record: {key} must be a non-empty string, not {json.dumps(value)}")
