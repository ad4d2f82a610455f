"""Stack settings: every setting declared once, here, and read nowhere else.

Each field of ``Settings`` is one config key: its type, default and description (Pydantic), what a
valid value looks like (``Allowed``, said in every error about the key) and what prod requires
(``Prod``). Validation, the ``config:`` block of Pulumi.yaml and docs/settings.md's settings table all
derive from these declarations (``offline/docs.py`` writes both; a test keeps them current).

Every problem in a stack's configuration is collected and reported in a single ``SettingsError``
before any resource is declared, so a bad ``Pulumi.<stack>.yaml`` costs one round trip.
"""

from __future__ import annotations

import difflib
import functools
import importlib.metadata
import importlib.util
import ipaddress
import json
import re
import sys
import zoneinfo
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

import pulumi
from annotated_types import Interval
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

PROJECT = "payments-platform"
REGION_KEY = "aws:region"
# Config namespaces besides the project's that a stack file may use: the AWS provider's own keys
# (aws:region, aws:defaultTags, aws:skipMetadataApiCheck, ...; the provider validates them) and
# Pulumi's (pulumi:disable-default-providers). A key under any other namespace is read by nobody.
OTHER_NAMESPACES = ("aws", "pulumi")
Environment = Literal["dev", "staging", "prod"]
ObjectLockMode = Literal["GOVERNANCE", "COMPLIANCE"]
# PCI DSS 10.5.1: audit trails kept at least a year, the last three months immediately available.
MIN_PROD_LOG_DAYS, MIN_HOT_LOG_DAYS = 365, 90
# The values CloudWatch Logs accepts for retentionInDays (PutRetentionPolicy), from 90 days up.
LOG_RETENTION_DAYS = (90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)
# Aurora MySQL 3 instance families (AWS "Supported DB engines for DB instance classes").
DB_INSTANCE_FAMILIES = ("t3", "t4g", "r5", "r6g", "r6i", "r7g", "r7i", "r8g", "x2g")
# Performance Insights keeps 7 days free, then whole months (31 days) up to 2 years.
INSIGHTS_RETENTION_DAYS = (7, *(31 * m for m in range(1, 24)), 731)
# The load balancer's certificate is for origin.<domainName>; ACM caps a certificate's first name
# at 64 characters (RequestCertificate DomainName).
MAX_DOMAIN_NAME_LENGTH = 64 - len("origin.")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# AWS Backup starts no job in the hour before an RDS maintenance window ("Backup plan options").
MAINTENANCE_LEAD_MINUTES = 60


# --------------------------------------------------------------------------- what AWS offers
# Regions and instance types are checked against data a library ships, never a list typed here:
# a region or type AWS adds arrives with the library's next release.


class NotOfferedError(ValueError):
    """A value AWS does not offer (a region, an instance type); the message says what it does offer."""


def _botocore_data() -> Path:
    """botocore's data folder, found without importing botocore."""
    spec = importlib.util.find_spec("botocore")
    if spec is None or spec.origin is None:
        raise RuntimeError("botocore is not installed: `make plan` sets up the virtual environment with it")
    return Path(spec.origin).parent / "data"


@functools.cache
def _library(name: str) -> str:
    return f"{name} {importlib.metadata.version(name)}"


@functools.cache
def aws_regions() -> frozenset[str]:
    """Every region of every AWS partition (aws, aws-cn, aws-us-gov, the ISO ones), from botocore's
    partitions.json, the partition data of its endpoint rules (7 KB: well under a millisecond)."""
    data = json.loads((_botocore_data() / "partitions.json").read_text(encoding="utf-8"))
    return frozenset(r for p in data["partitions"] for r in p["regions"] if not r.endswith("-global"))


def _is_region(value: str) -> bool:
    if value in aws_regions():
        return True
    area = value.rpartition("-")[0]
    same_area = sorted(r for r in aws_regions() if r.rpartition("-")[0] == area)
    if same_area:
        hint = f"the {area} regions are {', '.join(same_area)}"
    else:
        close = difflib.get_close_matches(value, sorted(aws_regions()), n=1)
        hint = f"did you mean {close[0]}?" if close else "`aws account list-regions` lists them"
    raise NotOfferedError(f"no AWS partition has a region {value} ({_library('botocore')}): {hint}")


def _optional_region(value: str | None) -> bool:
    return value is None or _is_region(value)


@functools.cache
def _pulumi_instance_types() -> frozenset[str]:
    """pulumi-aws's ``ec2.InstanceType`` enum: free once the program has imported ``pulumi_aws.ec2``."""
    from pulumi_aws.ec2 import InstanceType

    return frozenset(t.value for t in InstanceType)


@functools.cache
def _botocore_instance_types() -> frozenset[str]:
    """The ``InstanceType`` enum of botocore's EC2 API model: AWS's own list, newer than pulumi-aws's,
    but a 4.5 MB document to parse (~80 ms), so read only for a type the enum above lacks."""
    from botocore.loaders import Loader

    return frozenset(Loader().load_service_model("ec2", "service-2")["shapes"]["InstanceType"]["enum"])


def ec2_instance_types() -> frozenset[str]:
    """Every EC2 instance type pulumi-aws or botocore knows."""
    return _pulumi_instance_types() | _botocore_instance_types()


def _offered(instance_type: str) -> bool:
    """In either list; the pulumi-aws enum first where the program has imported it already (no
    parsing), botocore's model first elsewhere (importing pulumi_aws.ec2 costs more than parsing it)."""
    if "pulumi_aws.ec2" in sys.modules and instance_type in _pulumi_instance_types():
        return True
    return instance_type in _botocore_instance_types() or instance_type in _pulumi_instance_types()


_SIZE_ORDER = {"nano": 0, "micro": 1, "small": 2, "medium": 3, "large": 4, "xlarge": 5}


def _sizes(family: str) -> list[str]:
    """A family's sizes, smallest first (``nano`` ... ``xlarge``, ``2xlarge`` ..., ``metal`` last)."""
    return sorted(
        (t.partition(".")[2] for t in ec2_instance_types() if t.partition(".")[0] == family),
        key=lambda size: (size.startswith("metal"), _SIZE_ORDER.get(size.lstrip("0123456789"), 9), len(size), size),
    )


def _is_instance_type(value: str) -> bool:
    if _offered(value):
        return True
    family = value.partition(".")[0]
    sizes = _sizes(family)
    if sizes:
        hint = f"{family} comes in {', '.join(sizes)}"
    else:
        families = sorted({t.partition(".")[0] for t in ec2_instance_types()})
        close = difflib.get_close_matches(family, families, n=1)
        hint = f"no family {family}: did you mean {close[0]}?" if close else f"no family {family}"
    known = f"{_library('pulumi_aws')}, {_library('botocore')}"
    raise NotOfferedError(f"EC2 has no instance type {value} ({known}): {hint}")


# --------------------------------------------------------------------------- declaration helpers


@dataclass(frozen=True)
class Allowed:
    """What a valid value is, in words: every error about the key says it."""

    text: str


@dataclass(frozen=True)
class Prod:
    """What environment prod requires of the key, and why."""

    check: Callable[[Any], bool]
    text: str


def _holds(predicate: Callable[[Any], bool]) -> AfterValidator:
    def validate(value: Any) -> Any:
        if not predicate(value):
            raise ValueError("not allowed")
        return value

    return AfterValidator(validate)


def _matches(pattern: str) -> AfterValidator:
    return _holds(lambda v: re.fullmatch(pattern, v) is not None)


def _one_of(*values: Any) -> AfterValidator:
    return _holds(lambda v: v in values)


def _bool(value: Any) -> Any:
    # YAML booleans reach the program as "true"/"false"; "yes" or "1" are typos, not booleans.
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if isinstance(value, bool):
        return value
    raise ValueError("not a boolean")


def _json_list(value: Any) -> Any:
    return tuple(json.loads(value)) if isinstance(value, str) and value.lstrip().startswith("[") else value


Bool = Annotated[bool, BeforeValidator(_bool), Allowed("true or false")]
Strings = Annotated[tuple[str, ...], BeforeValidator(_json_list)]
OptionalText = Annotated[str | None, BeforeValidator(lambda v: v or None)]


def _is_dns_name(value: str) -> bool:
    labels = value.split(".")
    return len(labels) >= 2 and all(re.fullmatch(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", x) for x in labels)


def _is_private_cidr(value: str) -> bool:
    network = ipaddress.IPv4Network(value, strict=True)  # ValueError for bad CIDRs or host bits
    return 16 <= network.prefixlen <= 20 and network.is_private


def _is_time_zone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return "/" in name or name == "UTC"


# An RDS class db.<family>.<size> is EC2's <family>.<size> run by RDS, except db.x2g: EC2's x2gd
# (Graviton2, memory-optimized, the same sizes). RDS offers no bare-metal size.
_EC2_FAMILY_OF_DB_FAMILY = {"x2g": "x2gd"}


def _is_db_class(value: str) -> bool:
    parts = value.split(".")
    if value == "db.serverless":
        return True
    if not (len(parts) == 3 and parts[0] == "db" and parts[1] in DB_INSTANCE_FAMILIES):
        return False
    family, size = _EC2_FAMILY_OF_DB_FAMILY.get(parts[1], parts[1]), parts[2]
    if not size.startswith("metal") and _offered(f"{family}.{size}"):
        return True
    sizes = [s for s in _sizes(family) if not s.startswith("metal")]
    raise NotOfferedError(
        f"db.{parts[1]} comes in {', '.join(sizes)} (EC2's {family} sizes, {_library('pulumi_aws')}, "
        f"{_library('botocore')})"
    )


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    if not (len(hours) == 2 and len(minutes) == 2 and 0 <= int(hours) < 24 and 0 <= int(minutes) < 60):
        raise ValueError(hhmm)
    return int(hours) * 60 + int(minutes)


def window_minutes(window: str, *, weekly: bool) -> list[tuple[int, int]]:
    """A UTC window as [start, end) minute ranges of the week (weekly) or of each day (daily).

    Raises ValueError when malformed. Daily windows are repeated for all seven days.
    """
    start_text, _, end_text = window.partition("-")
    if weekly:
        (start_day, _, start_hhmm), (end_day, _, end_hhmm) = start_text.partition(":"), end_text.partition(":")
        if start_day not in _DAYS or end_day not in _DAYS:
            raise ValueError(window)
        start = _DAYS.index(start_day) * 1440 + _minutes(start_hhmm)
        starts, length = [start], (_DAYS.index(end_day) * 1440 + _minutes(end_hhmm) - start) % (7 * 1440)
    else:
        start = _minutes(start_text)
        starts, length = [day * 1440 + start for day in range(7)], (_minutes(end_text) - start) % 1440
    if length == 0:
        raise ValueError(window)
    return [(s, s + length) for s in starts]


def windows_overlap(daily: str, other: str, *, weekly: bool = True, lead: int = 0) -> bool:
    """Whether a daily window meets ``other`` (weekly, or daily), ``lead`` minutes before it included."""
    week = 7 * 1440
    spans = [(s % week, s % week + (e - s)) for s, e in window_minutes(daily, weekly=False)]
    others = [(s - lead, e) for s, e in window_minutes(other, weekly=weekly)]
    # Compare on the week's circle: shift each span by a week either way.
    return any(
        s + shift < o_end and o_start < e + shift
        for s, e in spans
        for o_start, o_end in others
        for shift in (-week, 0, week)
    )


def _long_enough(window: str, *, weekly: bool, minutes: int = 30) -> bool:
    start, end = window_minutes(window, weekly=weekly)[0]
    return end - start >= minutes


def _is_backup_cron(value: str) -> bool:
    """AWS's six-field cron: one of day-of-month and day-of-week is ``?``."""
    match = re.fullmatch(r"cron\(([^ ]+) ([^ ]+) ([^ ]+) ([^ ]+) ([^ ]+) ([^ ]+)\)", value)
    return match is not None and (match[3] == "?") != (match[5] == "?")


def _ranged(low: int, high: int, unit: str) -> Any:
    """Metadata of an integer from ``low`` to ``high`` (unpack into ``Annotated``)."""
    return Interval(ge=low, le=high), Allowed(f"from {low} to {high} {unit}".rstrip())


def _prod_at_least(minimum: int, why: str) -> Prod:
    return Prod(lambda v: v >= minimum, f"must be at least {minimum} when environment is prod ({why})")


_TAG = (_matches(r"[\w .:/=+\-@]{1,256}"), Allowed("a tag value: 1-256 letters, digits, spaces and _ . : / = + - @"))
_RETENTION = (
    _one_of(*LOG_RETENTION_DAYS),
    Allowed(
        "a CloudWatch Logs retention of at least 90 days (PCI DSS 10.5.1): one of "
        + ", ".join(map(str, LOG_RETENTION_DAYS))
    ),
)
# An optional region key (backupCopyRegion, standbyRegion, primaryRegion): empty, or a region AWS has.
_OPTIONAL_REGION = _holds(_optional_region)
_PROD_TRUE = "must be true when environment is prod"


# --------------------------------------------------------------------------- the settings


class Settings(BaseModel):
    """One stack's validated configuration. Fields with ``Allowed`` metadata are config keys
    (camelCase of the field name; ``region`` is ``aws:region``)."""

    model_config = ConfigDict(frozen=True)

    project: str
    stack: str
    environment: Annotated[Environment, Allowed("one of dev, staging, prod")] = Field(
        description="Class of environment, one of dev, staging, prod. prod enforces HA and no-data-loss rules."
    )
    env_suffix: Annotated[
        str,
        _matches(r"[a-z](?:[a-z0-9]|-(?!-)){0,10}[a-z0-9]|[a-z]"),
        Allowed("1-12 characters of a-z, 0-9 and single hyphens, starting with a letter and not ending with a hyphen"),
    ] = Field(description="Lower-case DNS-safe suffix (<= 12 chars) every resource name derives from.")
    region: Annotated[str, _holds(_is_region), Allowed("an AWS region code such as eu-west-1")] = Field(
        alias="aws:region"
    )
    application: Annotated[str, *_TAG] = Field("payments-platform", description="Application tag value.")
    cost_center: Annotated[str, *_TAG] = Field(description="CostCenter tag value (finance charge-back code).")
    vpc_cidr: Annotated[
        str,
        _holds(_is_private_cidr),
        Allowed("a private (RFC 1918) IPv4 network, /16 to /20, no host bits set, e.g. 10.20.0.0/16"),
    ] = Field("10.0.0.0/16", description="Private IPv4 CIDR of the VPC, /16 to /20; subnets are carved from it.")
    az_count: Annotated[
        int, _one_of(2, 3), Allowed("2 or 3"), Prod(lambda v: v == 3, "must be 3 when environment is prod (HA)")
    ] = Field(3, description="Availability zones to span, 2 or 3 (prod requires 3).")
    nat_strategy: Annotated[
        Literal["single", "per_az"],
        Allowed("one of single, per_az"),
        Prod(lambda v: v == "per_az", "must be per_az when environment is prod (one NAT is a single point of failure)"),
    ] = Field("per_az", description="NAT gateways, single (one, cheap) or per_az (one per AZ; required in prod).")
    interface_endpoints: Bool = Field(
        True, description="Interface VPC endpoints (Secrets Manager, SSM, SSM messages, Logs) for the private subnets."
    )
    flow_log_retention_days: Annotated[int, *_RETENTION] = Field(
        365, description="VPC flow log retention in CloudWatch Logs (a valid retention value, >= 90)."
    )
    log_retention_days: Annotated[int, *_RETENTION] = Field(
        90, description="Retention of the other log groups in CloudWatch Logs (a valid retention value, >= 90)."
    )
    protect_data: Annotated[bool, BeforeValidator(_bool), Allowed("true or false"), Prod(bool, _PROD_TRUE)] = Field(
        True,
        description="Pulumi protect, deletion protection, final snapshots, versioned/locked data. "
        "Must be true in prod.",
    )
    db_engine_version: Annotated[
        str,
        _matches(r"8\.0\.mysql_aurora\.3\.\d{2}\.\d+"),
        Allowed("an Aurora MySQL 3 version such as 8.0.mysql_aurora.3.10.1"),
    ] = Field(
        "8.0.mysql_aurora.3.10.1",
        description="Aurora MySQL 3 engine version; 3.10 is the current LTS (auto minor upgrades stay off).",
    )
    db_instance_class: Annotated[
        str,
        _holds(_is_db_class),
        Allowed("db.serverless or an Aurora MySQL class: " + ", ".join(f"db.{f}.*" for f in DB_INSTANCE_FAMILIES)),
        Prod(lambda v: v.split(".")[1] not in ("t3", "t4g"), "must not be burstable (db.t3/db.t4g) in prod"),
    ] = Field(
        "db.r6g.large",
        description="Aurora MySQL instance class (db.serverless or db.<family>.<size>; no burstable class in prod).",
    )
    db_instance_count: Annotated[int, *_ranged(1, 16, "instances"), _prod_at_least(2, "a reader in another AZ")] = (
        Field(2, description="Aurora instances, writer included (1-16; prod >= 2).")
    )
    db_backup_retention_days: Annotated[int, *_ranged(7, 35, "days"), _prod_at_least(14, "two weeks of backups")] = (
        Field(
            35,
            description="Automated backup retention, 7-35 days (prod >= 14; with AWS Backup equal to "
            "backupDailyRetentionDays).",
        )
    )
    db_backup_window: Annotated[
        str,
        _holds(lambda v: _long_enough(v, weekly=False)),
        Allowed("a daily UTC window hh24:mi-hh24:mi of at least 30 minutes"),
    ] = Field("02:00-03:00", description="Daily UTC backup window hh24:mi-hh24:mi (>= 30 minutes).")
    db_maintenance_window: Annotated[
        str,
        _holds(lambda v: _long_enough(v, weekly=True)),
        Allowed("a weekly UTC window ddd:hh24:mi-ddd:hh24:mi of at least 30 minutes, e.g. sun:04:00-sun:05:00"),
    ] = Field("sun:04:00-sun:05:00", description="Weekly UTC maintenance window; must not overlap the backup window.")
    db_monitoring_interval_seconds: Annotated[
        int,
        _one_of(0, 1, 5, 10, 15, 30, 60),
        Allowed("0 (off) or one of 1, 5, 10, 15, 30, 60"),
        Prod(lambda v: v > 0, "must not be 0 when environment is prod (the instances' OS metrics)"),
    ] = Field(
        60,
        description=(
            "Enhanced monitoring granularity in seconds, 0 for off: RDS writes it to the account's "
            "RDSOSMetrics log group, which outlives any stack (dev leaves it off)."
        ),
    )
    db_insights_retention_days: Annotated[
        int, _one_of(*INSIGHTS_RETENTION_DAYS), Allowed("7, a multiple of 31 up to 713, or 731")
    ] = Field(7, description="Performance Insights retention (7 free, or whole months of 31 days up to 731).")
    instance_type: Annotated[str, _holds(_is_instance_type), Allowed("an EC2 instance type such as t3.large")] = Field(
        "t3.large", description="EC2 instance type of the app tier."
    )
    app_port: Annotated[int, *_ranged(1024, 65535, "(an unprivileged TCP port)")] = Field(
        8080, description="TCP port the app instances serve on behind the load balancer (1024-65535)."
    )
    asg_min_size: Annotated[int, *_ranged(0, 100, "instances"), _prod_at_least(2, "one instance per AZ failure")] = (
        Field(2, description="Auto Scaling Group minimum size (prod >= 2).")
    )
    asg_max_size: Annotated[int, *_ranged(1, 100, "instances")] = Field(
        10, description="Auto Scaling Group maximum size (<= 100)."
    )
    asg_desired_capacity: Annotated[int, *_ranged(0, 100, "instances")] = Field(
        3, description="Auto Scaling Group desired capacity at creation (min <= desired <= max)."
    )
    alarm_emails: Annotated[
        Strings,
        _holds(lambda v: all(re.fullmatch(r"[\w.!#$%&'*+/=?^`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+", e) for e in v)),
        Allowed('a list of e-mail addresses such as ["oncall@example.com"]'),
        Prod(bool, "must list at least one address when environment is prod"),
    ] = Field((), description="E-mail addresses subscribed to the alert topic (prod needs at least one).")
    domain_name: Annotated[
        OptionalText,
        _holds(lambda v: v is None or (_is_dns_name(v) and len(v) <= MAX_DOMAIN_NAME_LENGTH)),
        Allowed(
            f"a lower-case DNS name of at most {MAX_DOMAIN_NAME_LENGTH} characters such as pay.example.com, or empty"
        ),
        Prod(
            bool, "must be set when environment is prod: TLS from CloudFront to the load balancer needs a certificate"
        ),
    ] = Field(
        None,
        description="Optional public DNS name of the platform (<= 57 chars, so origin.<domain> fits an ACM "
        "certificate); enables HTTPS with ACM. Set with hostedZoneId.",
    )
    hosted_zone_id: Annotated[
        OptionalText,
        _holds(lambda v: v is None or re.fullmatch(r"Z[A-Z0-9]{1,31}", v) is not None),
        Allowed("a Route 53 hosted zone id such as Z0123456789ABC, or empty"),
    ] = Field(None, description="Optional Route 53 hosted zone id for domainName.")
    object_lock: Annotated[
        Literal["none", "governance", "compliance"],
        Allowed("one of none, governance, compliance"),
        Prod(lambda v: v != "none", "must be governance or compliance when environment is prod"),
    ] = Field(
        "governance",
        alias="objectLockMode",
        description="S3 Object Lock on the archives, none, governance or compliance (prod not none).",
    )
    object_lock_days: Annotated[int, *_ranged(1, 36500, "days")] = Field(
        365, description="Default Object Lock retention of archived transactions, in days."
    )
    log_bucket_retention_days: Annotated[int, *_ranged(90, 36500, "days"), _prod_at_least(365, "PCI DSS 10.5.1")] = (
        Field(400, description="Days ALB/CloudFront logs and the audit-log archive are kept (>= 90; prod >= 365).")
    )
    audit_lock_days: Annotated[int, *_ranged(1, 36500, "days"), _prod_at_least(365, "PCI DSS 10.5.1")] = Field(
        365,
        description="Object Lock retention of archived audit logs, with objectLockMode (<= logBucketRetentionDays; "
        "prod >= 365).",
    )
    backup_enabled: Annotated[bool, BeforeValidator(_bool), Allowed("true or false"), Prod(bool, _PROD_TRUE)] = Field(
        True,
        description="AWS Backup of the Aurora cluster and the archive buckets into locked vaults (prod requires it).",
    )
    backup_copy_region: Annotated[
        OptionalText,
        _OPTIONAL_REGION,
        Allowed("an AWS region code such as eu-central-1 (not the stack's region), or empty"),
        Prod(bool, "must be set when environment is prod: a copy of every backup outside the stack's region"),
    ] = Field(None, description="Region every recovery point is copied to, with the same retention (prod requires it).")
    backup_daily_retention_days: Annotated[
        int,
        *_ranged(1, 35, "days (continuous backups keep at most 35)"),
        _prod_at_least(35, "five weeks of point-in-time recovery"),
    ] = Field(35, description="Days of point-in-time recovery (continuous backup, 1-35; prod 35).")
    backup_monthly_retention_days: Annotated[
        int, *_ranged(90, 36500, "days"), _prod_at_least(365, "a year of monthly backups")
    ] = Field(365, description="Days each monthly backup is kept (90-36500; prod >= 365).")
    backup_lock_mode: Annotated[
        Literal["none", "governance", "compliance"],
        Allowed("one of none, governance, compliance"),
        Prod(
            lambda v: v == "compliance",
            "must be compliance when environment is prod (nobody in the account can delete a backup)",
        ),
    ] = Field(
        "compliance",
        description="Vault Lock mode of the backup vaults, none, governance or compliance (prod: compliance).",
    )
    backup_lock_changeable_days: Annotated[int, *_ranged(3, 365, "days (AWS Backup requires at least 3)")] = Field(
        3, description="Days a compliance Vault Lock can still be changed or removed before it becomes permanent."
    )
    backup_lock_max_retention_days: Annotated[int, *_ranged(35, 36500, "days")] = Field(
        3650,
        description="Longest retention the locked vaults accept (>= backupMonthlyRetentionDays; fixed once locked).",
    )
    backup_window: Annotated[
        str,
        _holds(lambda v: _long_enough(v, weekly=False, minutes=120)),
        Allowed("a daily UTC window hh24:mi-hh24:mi of at least 2 hours"),
    ] = Field(
        "22:00-01:00",
        description="Daily UTC window AWS Backup starts (first hour) and completes jobs in; "
        "clear of the database's backup and maintenance windows.",
    )
    backup_restore_test_schedule: Annotated[
        str,
        _holds(_is_backup_cron),
        Allowed("an AWS cron expression cron(min hour day-of-month month day-of-week year), e.g. cron(0 9 8 * ? *)"),
    ] = Field("cron(0 9 8 * ? *)", description="When AWS Backup restore-tests the latest recovery points (UTC).")
    backup_audit_framework: Bool = Field(
        False,
        description="An AWS Backup Audit Manager framework per site (plan, frequency, retention, manual deletion, "
        "cross-region copy); needs backupEnabled, backupCopyRegion or standbyRegion, and AWS Config recording "
        "each site's region (accountBaseline turns it on with that recording).",
    )
    management_events: Bool = Field(
        True,
        description="The stack's CloudTrail trail records management events of every region (who changed what); "
        "off only where a landing zone's organization trail already records them (docs/audit-trail.md). "
        "Data events on the archives are recorded either way.",
    )
    account_baseline: Bool = Field(
        False,
        description="Turn on, in each site's region, what an account no landing zone manages lacks: GuardDuty, "
        "AWS Config recording, Security Hub (FSBP and PCI DSS standards) and the backup audit framework "
        "(needs backupEnabled and backupCopyRegion or standbyRegion); one of each per account and region "
        "(docs/landing-zone.md).",
    )
    standby_region: Annotated[
        OptionalText,
        _OPTIONAL_REGION,
        Allowed("an AWS region code such as eu-central-1 (not the stack's region), or empty"),
        Prod(bool, "must be set when environment is prod: a second region ready to take over"),
    ] = Field(
        None,
        description="Second region with a standby copy of the platform (Aurora Global Database, replicated "
        "archives and secrets, its own app tier, DNS failover of the origin); empty: single region.",
    )
    standby_mode: Annotated[Literal["pilot-light", "warm"], Allowed("one of pilot-light, warm")] = Field(
        "pilot-light",
        description="Standby capacity, pilot-light (data replicated, no database instance, no app instance) or "
        "warm (one database instance and one app instance running).",
    )
    standby_vpc_cidr: Annotated[
        str,
        _holds(_is_private_cidr),
        Allowed("a private (RFC 1918) IPv4 network, /16 to /20, no host bits set, not overlapping vpcCidr"),
    ] = Field("10.20.0.0/16", description="Private IPv4 CIDR of the standby region's VPC (must not overlap vpcCidr).")
    primary_region: Annotated[
        OptionalText,
        _OPTIONAL_REGION,
        Allowed("aws:region or standbyRegion, or empty (aws:region)"),
    ] = Field(
        None,
        description="Region holding the Aurora writer and serving traffic, aws:region or standbyRegion (empty: "
        "aws:region); ./deploy switchover/failover changes it.",
    )
    health_check_interval_seconds: Annotated[int, *_ranged(5, 300, "seconds")] = Field(
        15, description="Target group health check interval on /health (5-300 s)."
    )
    health_check_healthy_threshold: Annotated[int, *_ranged(2, 10, "checks")] = Field(
        2, description="Consecutive passes before a target takes traffic (2-10)."
    )
    health_check_unhealthy_threshold: Annotated[int, *_ranged(2, 10, "checks")] = Field(
        3, description="Consecutive failures before a target is taken out (2-10)."
    )
    deregistration_delay_seconds: Annotated[int, *_ranged(0, 3600, "seconds")] = Field(
        60, description="Time a draining target keeps serving in-flight requests (0-3600 s)."
    )
    alb_idle_timeout_seconds: Annotated[int, *_ranged(1, 4000, "seconds")] = Field(
        60, description="Load balancer idle connection timeout (1-4000 s)."
    )
    origin_verify_generation: Annotated[int, *_ranged(1, 1_000_000, "")] = Field(
        1,
        description=(
            "Which generated X-Origin-Verify secret CloudFront sends the load balancers; raise it by one to "
            "rotate the secret (the load balancers accept this generation's and the previous one's, so no "
            "request is refused meanwhile)."
        ),
    )
    schedule_time_zone: Annotated[str, _holds(_is_time_zone), Allowed("an IANA time zone such as Europe/London")] = (
        Field("Europe/London", description="IANA time zone of the business-hours scaling schedule.")
    )
    detailed_monitoring: Bool = Field(
        True, description="One-minute EC2 metrics for app instances (costs extra; off in dev)."
    )
    price_class: Annotated[
        Literal["PriceClass_100", "PriceClass_200", "PriceClass_All"],
        Allowed("one of PriceClass_100, PriceClass_200, PriceClass_All"),
    ] = Field("PriceClass_100", description="CloudFront price class, PriceClass_100, PriceClass_200 or PriceClass_All.")
    geo_restriction_type: Annotated[
        Literal["none", "whitelist", "blacklist"], Allowed("one of none, whitelist, blacklist")
    ] = Field("none", description="CloudFront geo restriction, none, whitelist or blacklist.")
    geo_restriction_locations: Annotated[
        Strings,
        _holds(lambda v: all(re.fullmatch(r"[A-Z]{2}", c) for c in v)),
        Allowed('a list of ISO 3166-1 alpha-2 country codes such as ["GB"]'),
    ] = Field((), description="ISO 3166-1 alpha-2 countries the geo restriction lists (empty with none).")
    waf_rate_limit: Annotated[int, *_ranged(10, 2_000_000_000, "requests")] = Field(
        2000, description="Requests one client IP may make per wafRateWindowSeconds before WAF blocks it."
    )
    waf_rate_window_seconds: Annotated[int, _one_of(60, 120, 300, 600), Allowed("one of 60, 120, 300, 600")] = Field(
        300, description="WAF rate-based rule window, one of 60, 120, 300, 600 seconds."
    )
    waf_body_size_action: Annotated[Literal["count", "block"], Allowed("one of count, block")] = Field(
        "count", description="What WAF does with request bodies over 8 KB (SizeRestrictions_BODY), count or block."
    )
    code_signing: Annotated[bool, BeforeValidator(_bool), Allowed("true or false"), Prod(bool, _PROD_TRUE)] = Field(
        True,
        description="Sign the rotation Lambda's code with AWS Signer and refuse unsigned code (prod requires it).",
    )
    rotation_reserved_concurrency: Annotated[int, *_ranged(0, 5, "executions")] = Field(
        0,
        description=(
            "Concurrent executions reserved for the secret rotation function, 0 for none. Lambda keeps at "
            "least 100 of the account's concurrency unreserved, which a new account (a quota of 10 or 50) "
            "cannot: raise the quota first (docs/bootstrap.md)."
        ),
    )
    alarm_http_5xx_percent: Annotated[int, *_ranged(1, 100, "percent")] = Field(
        2, description="ALB, target and CloudFront 5xx rate (percent of requests) that raises an alarm."
    )
    alarm_latency_p99_ms: Annotated[int, *_ranged(10, 60_000, "milliseconds")] = Field(
        1500, description="Target response time p99 (ms) that raises an alarm."
    )
    alarm_asg_cpu_percent: Annotated[int, *_ranged(1, 100, "percent")] = Field(
        85, description="App fleet average CPU (percent) that raises an alarm; scaling targets 70."
    )
    alarm_db_cpu_percent: Annotated[int, *_ranged(1, 100, "percent")] = Field(
        80, description="Aurora instance CPU (percent) that raises an alarm."
    )
    alarm_db_free_memory_mb: Annotated[int, *_ranged(1, 1_000_000, "MiB")] = Field(
        256, description="Aurora instance freeable memory (MiB) below which an alarm is raised."
    )
    alarm_db_connections: Annotated[int, *_ranged(1, 16_000, "connections")] = Field(
        500, description="Aurora instance connections above which an alarm is raised."
    )
    alarm_replica_lag_ms: Annotated[int, *_ranged(1, 600_000, "milliseconds")] = Field(
        1000, description="Aurora replica lag (ms) that raises an alarm (clusters with readers)."
    )
    alarm_waf_blocked_requests: Annotated[int, *_ranged(1, 100_000_000, "requests per 5 minutes")] = Field(
        1000, description="WAF blocked requests per 5 minutes that raise an alarm (an attack or a false positive)."
    )

    @property
    def name_prefix(self) -> str:
        """Prefix of every logical name, e.g. ``fintech-dev``."""
        return name_prefix(self.env_suffix)

    @property
    def tags(self) -> dict[str, str]:
        """Standard tags the AWS provider stamps on every taggable resource."""
        return {
            "Application": self.application,
            "CostCenter": self.cost_center,
            "Environment": self.env_suffix,
            "ManagedBy": "pulumi",
        }

    @property
    def app_capacity(self) -> dict[str, int]:
        """The app group's sizes, which ./deploy failover gives the standby's group (ops/regions.py)."""
        return {"min": self.asg_min_size, "max": self.asg_max_size, "desired": self.asg_desired_capacity}

    @property
    def active_region(self) -> str:
        """The region holding the Aurora writer and serving traffic (``primaryRegion``, else aws:region)."""
        return self.primary_region or self.region

    @property
    def object_lock_mode(self) -> ObjectLockMode | None:
        """S3 Object Lock's default retention mode; None turns Object Lock off (not in prod)."""
        return (
            None if self.object_lock == "none" else "GOVERNANCE" if self.object_lock == "governance" else "COMPLIANCE"
        )

    @property
    def alarms(self) -> AlarmThresholds:
        return AlarmThresholds(**{k: getattr(self, f"alarm_{k}") for k in AlarmThresholds.__dataclass_fields__})


def name_prefix(env_suffix: str) -> str:
    """Prefix of every logical name of the stack whose ``envSuffix`` this is (``fintech-dev``)."""
    return f"fintech-{env_suffix}"


@dataclass(frozen=True)
class AlarmThresholds:
    """Where each alarm fires; defaults are argued for in docs/tiers.md."""

    http_5xx_percent: int
    latency_p99_ms: int
    asg_cpu_percent: int
    db_cpu_percent: int
    db_free_memory_mb: int
    db_connections: int
    replica_lag_ms: int
    waf_blocked_requests: int


# --------------------------------------------------------------------------- keys and their checks


def config_key(name: str, field: FieldInfo) -> str:
    """``azCount`` for ``az_count``; an alias where the field declares one."""
    head, *rest = name.split("_")
    return field.alias or head + "".join(part.capitalize() for part in rest)


def config_fields() -> dict[str, tuple[str, FieldInfo]]:
    """Full config key -> (field name, field), in declaration order."""
    return {
        key if ":" in (key := config_key(name, field)) else f"{PROJECT}:{key}": (name, field)
        for name, field in Settings.model_fields.items()
        if _meta(field, Allowed)
    }


def _meta(field: FieldInfo, kind: type[Any]) -> Any:
    return next((m for m in field.metadata if isinstance(m, kind)), None)


@functools.cache
def _adapter(name: str) -> TypeAdapter[Any]:
    field = Settings.model_fields[name]
    annotation: Any = Annotated[field.annotation, *field.metadata]
    return TypeAdapter(annotation)


def config_type(field: FieldInfo) -> Literal["string", "integer", "boolean", "array"]:
    """The type Pulumi.yaml declares for the key."""
    base = field.annotation
    while get_origin(base) is Annotated:
        base = get_args(base)[0]
    if get_origin(base) is Literal:
        base = type(get_args(base)[0])
    kinds: dict[Any, Literal["integer", "boolean", "array"]] = {bool: "boolean", int: "integer", tuple: "array"}
    return kinds.get(get_origin(base) or base, "string")


CONFIG_KEYS: dict[str, str] = {
    k.partition(":")[2]: config_type(f) for k, (_, f) in config_fields().items() if k.startswith(PROJECT)
}


class SettingsError(ValueError):
    """Raised once, listing every invalid or missing configuration value."""

    def __init__(self, stack: str, problems: list[str]) -> None:
        self.stack = stack
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"Stack '{stack}' has {len(problems)} invalid configuration value(s); "
            f"fix them in Pulumi.{stack}.yaml (or `pulumi config set`):\n{lines}"
        )

    def with_sources(self, sources: Mapping[str, str]) -> SettingsError:
        """The same problems, each saying where its key's value came from (``--set``, a file)."""
        return SettingsError(
            self.stack,
            [f"{p} (from {sources[key]})" if (key := p.split(" ", 1)[0]) in sources else p for p in self.problems],
        )


def _cross_checks(v: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """Rules between keys, as (field, what is wrong); each runs only once its keys parsed."""
    if {"db_backup_window", "db_maintenance_window"} <= v.keys() and windows_overlap(
        v["db_backup_window"], v["db_maintenance_window"]
    ):
        yield "db_maintenance_window", f"must not overlap dbBackupWindow ({v['db_backup_window']})"
    yield from _backup_checks(v)
    yield from _standby_checks(v)
    if {"asg_min_size", "asg_max_size", "asg_desired_capacity"} <= v.keys():
        low, high, desired = v["asg_min_size"], v["asg_max_size"], v["asg_desired_capacity"]
        if low > high:
            yield "asg_min_size", f"must not exceed asgMaxSize ({high})"
        elif not low <= desired <= high:
            yield "asg_desired_capacity", f"must be between asgMinSize ({low}) and asgMaxSize ({high})"
    if {"domain_name", "hosted_zone_id"} <= v.keys() and (v["domain_name"] is None) != (v["hosted_zone_id"] is None):
        yield (
            "hosted_zone_id" if v["domain_name"] else "domain_name",
            "domainName and hostedZoneId must be set together (the certificate is validated in that zone), "
            "or both left empty",
        )
    geo = {"geo_restriction_type", "geo_restriction_locations"} <= v.keys()
    if geo and (v["geo_restriction_type"] == "none") != (not v["geo_restriction_locations"]):
        yield "geo_restriction_locations", "must be empty when geoRestrictionType is none, and list countries otherwise"
    lock = {"object_lock", "audit_lock_days", "log_bucket_retention_days"} <= v.keys() and v["object_lock"] != "none"
    if lock and v["audit_lock_days"] > v["log_bucket_retention_days"]:
        yield "audit_lock_days", f"must not exceed logBucketRetentionDays ({v['log_bucket_retention_days']})"


# The standby site's names are its tiers' names with "-standby" in them: its longest, the archive
# stream's role (fintech-<envSuffix>-standby-monitoring-archive-firehose-role plus the 8-character
# suffix Pulumi adds), fits IAM's 64 characters with a suffix of at most 7 (tests/stacks/test_names.py).
STANDBY_ENV_SUFFIX_MAX = 7


def _standby_checks(v: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """The second region against the first: its own region, its own addresses, DNS failover."""
    standby = v.get("standby_region")
    if v.get("primary_region") and v["primary_region"] not in {v.get("region"), standby}:
        yield "primary_region", f"must be aws:region ({v.get('region')}) or standbyRegion ({standby or 'not set'})"
    if not standby:
        return
    if standby == v.get("region"):
        yield "standby_region", "must differ from aws:region: a standby in the same region survives no region outage"
    if len(v.get("env_suffix", "")) > STANDBY_ENV_SUFFIX_MAX:
        yield (
            "env_suffix",
            f"must be at most {STANDBY_ENV_SUFFIX_MAX} characters with a standbyRegion: the standby site's names "
            "add '-standby', and its longest (an IAM role's) must fit 64 characters",
        )
    if {"vpc_cidr", "standby_vpc_cidr"} <= v.keys() and ipaddress.ip_network(v["vpc_cidr"]).overlaps(
        ipaddress.ip_network(v["standby_vpc_cidr"])
    ):
        yield "standby_vpc_cidr", f"must not overlap vpcCidr ({v['vpc_cidr']}): the regions may be peered later"
    if "domain_name" in v and v["domain_name"] is None:
        yield "domain_name", "must be set with standbyRegion: the origin name fails over between regions in DNS"
    family = str(v.get("db_instance_class", "")).split(".")
    if len(family) == 3 and not family[1].startswith(("r", "x")):
        # "An Aurora global database requires DB instance classes that are optimized for
        # memory-intensive applications" (Aurora guide, global database configuration requirements).
        yield "db_instance_class", "must be memory-optimized (db.r*/db.x*) or db.serverless with standbyRegion"


def _backup_checks(v: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """AWS Backup against the stack's region, the database's own windows and the vault lock."""
    if v.get("backup_audit_framework") and not v.get("backup_enabled"):
        yield "backup_audit_framework", "needs backupEnabled true: the framework audits the stack's backups"
    if v.get("account_baseline") and not v.get("backup_enabled"):
        yield (
            "account_baseline",
            "needs backupEnabled true: the baseline turns on the backup audit framework, which audits the "
            "stack's backups (docs/landing-zone.md)",
        )
    if not v.get("backup_enabled"):
        return
    if not (v.get("backup_copy_region") or v.get("standby_region")):
        # The framework's cross-Region control needs a Region the backups are copied to.
        for key, what in (
            ("backup_audit_framework", "the framework"),
            ("account_baseline", "the backup audit framework the baseline turns on"),
        ):
            if v.get(key):
                yield (
                    key,
                    f"needs backupCopyRegion or standbyRegion: {what} checks that every backup is copied to "
                    "another Region, and without one it would be built without that control",
                )
    if v.get("backup_copy_region") and v["backup_copy_region"] == v.get("region"):
        yield "backup_copy_region", "must differ from aws:region: a copy in the same region survives no region outage"
    if {"backup_window", "db_backup_window", "db_maintenance_window"} <= v.keys():
        if windows_overlap(v["backup_window"], v["db_backup_window"], weekly=False):
            yield "backup_window", f"must not overlap dbBackupWindow ({v['db_backup_window']})"
        elif windows_overlap(v["backup_window"], v["db_maintenance_window"], lead=MAINTENANCE_LEAD_MINUTES):
            yield (
                "backup_window",
                f"must end at least an hour before dbMaintenanceWindow ({v['db_maintenance_window']}) "
                "starts and not overlap it (AWS Backup starts no database job then)",
            )
    if {"backup_daily_retention_days", "db_backup_retention_days"} <= v.keys() and (
        v["backup_daily_retention_days"] != v["db_backup_retention_days"]
    ):
        yield (
            "db_backup_retention_days",
            f"must equal backupDailyRetentionDays ({v['backup_daily_retention_days']}): AWS Backup's continuous "
            "backup manages the cluster's point-in-time recovery, two retentions would fight",
        )
    if (
        {"backup_lock_mode", "protect_data"} <= v.keys()
        and v["backup_lock_mode"] == "compliance"
        and not v["protect_data"]
    ):
        yield (
            "backup_lock_mode",
            "compliance needs protectData true: a compliance-locked vault outlives `pulumi destroy` "
            "(use governance or none in a disposable stack)",
        )
    if {"backup_lock_max_retention_days", "backup_monthly_retention_days"} <= v.keys() and (
        v["backup_lock_max_retention_days"] < v["backup_monthly_retention_days"]
    ):
        yield (
            "backup_lock_max_retention_days",
            f"must be at least backupMonthlyRetentionDays ({v['backup_monthly_retention_days']}): "
            "the locked vault would refuse the monthly backups",
        )


def _check_unknown(raw: Mapping[str, str | None], known: Mapping[str, Any], project: str) -> Iterator[str]:
    """A key in the project's namespace the program does not read is a typo until proven otherwise."""
    names = [k.partition(":")[2] for k in known if k.startswith(f"{project}:")]
    for full in sorted(k for k in raw if k.startswith(f"{project}:") and k not in known):
        key = full.partition(":")[2]
        guess = next((n for n in names if n.lower() == key.lower()), None) or next(
            iter(difflib.get_close_matches(key, names, n=1, cutoff=0.6)), None
        )
        hint = f"did you mean {guess}?" if guess else "see the settings table in docs/settings.md"
        yield f"{full} = {raw[full]!r}: is not a setting of this program: {hint}"


def _not_offered(error: ValidationError) -> str:
    """``; <what AWS offers instead>`` when a validator found a well-formed value AWS does not offer."""
    found = [e["ctx"]["error"] for e in error.errors() if isinstance(e.get("ctx", {}).get("error"), NotOfferedError)]
    return f"; {found[0]}" if found else ""


def _check_namespaces(raw: Mapping[str, str | None], known: Mapping[str, Any], project: str) -> Iterator[str]:
    """A key under a namespace nobody reads (``payment-platform:``, a namespace-less key) is a typo:
    neither this program nor the provider nor Pulumi would ever see its value."""
    readers = (project, *OTHER_NAMESPACES)
    ours = {k.partition(":")[2]: k for k in known if k.startswith(f"{project}:")}
    read = f"this stack reads {', '.join(readers[:-1])} and {readers[-1]} keys"
    for full in sorted(k for k in raw if ":" not in k or k.partition(":")[0] not in readers):
        namespace, _, key = full.rpartition(":")
        guess = (
            REGION_KEY
            if key.lower() == "region"
            else next((ours[n] for n in ours if n.lower() == key.lower()), None)
            or next((ours[n] for n in difflib.get_close_matches(key, list(ours), n=1, cutoff=0.6)), None)
        )
        hint = f"did you mean {guess}?" if guess else f"see the settings table in docs/settings.md ({project}:<key>)"
        where = f"nothing reads the namespace {namespace!r}" if namespace else "a key needs a namespace"
        yield f"{full} = {raw[full]!r}: {where} ({read}): {hint}"


def parse_settings(raw: Mapping[str, str | None], *, stack: str, project: str = PROJECT) -> Settings:
    """Build validated settings from raw config strings keyed ``<project>:<key>``.

    Raises ``SettingsError`` naming every bad key, its value and what is allowed.
    """
    fields = {k.replace(PROJECT, project, 1): v for k, v in config_fields().items()}
    problems = [*_check_namespaces(raw, fields, project), *_check_unknown(raw, fields, project)]
    values: dict[str, Any] = {}
    keys = {name: full for full, (name, _) in fields.items()}
    for full, (name, field) in fields.items():
        allowed = _meta(field, Allowed).text
        if raw.get(full) is None:
            if field.is_required():
                problems.append(f"{full} is missing: set it to {allowed}")
            else:
                values[name] = field.get_default(call_default_factory=True)
            continue
        try:
            values[name] = _adapter(name).validate_python(raw[full])
        except ValidationError as exc:
            problems.append(f"{full} = {raw[full]!r}: must be {allowed}{_not_offered(exc)}")
        except ValueError:
            problems.append(f"{full} = {raw[full]!r}: must be {allowed}")
    if values.get("environment") == "prod":
        for full, (name, field) in fields.items():
            rule = _meta(field, Prod)
            if rule and name in values and not rule.check(values[name]):
                problems.append(f"{full} = {raw.get(full)!r}: {rule.text}")
                del values[name]  # one problem per key: rules between keys skip it
    for name, text in _cross_checks(values):
        problems.append(f"{keys[name]} = {raw.get(keys[name])!r}: {text}")
    if problems:
        raise SettingsError(stack, problems)
    return Settings.model_construct(project=project, stack=stack, **values)


# --------------------------------------------------------------------------- placeholders and loading

# Names reserved for documentation (RFC 2606 and RFC 6761): a value under one of them is a
# placeholder someone forgot to replace, never a real domain, mailbox or hosted zone.
_RESERVED_DOMAINS = ("example.com", "example.net", "example.org")
_RESERVED_TLDS = ("example", "test", "invalid", "localhost")


def _is_reserved_domain(name: str) -> bool:
    name = name.lower().rstrip(".")
    return name.rsplit(".", 1)[-1] in _RESERVED_TLDS or any(
        name == d or name.endswith(f".{d}") for d in _RESERVED_DOMAINS
    )


def placeholders(raw: Mapping[str, str | None], project: str = PROJECT) -> dict[str, str]:
    """Keys whose value is an example left in place (``payments.example.com``, a zone id saying
    PLACEHOLDER, ``oncall@example.com``), each with what to do about it. Reads raw config, so the
    deploy command can check a stack file without building the whole settings."""
    found: dict[str, str] = {}
    domain = raw.get(f"{project}:domainName") or ""
    if domain and _is_reserved_domain(domain):
        found["domainName"] = f"{domain!r} is a reserved example domain: set the platform's real DNS name"
    zone = raw.get(f"{project}:hostedZoneId") or ""
    if any(word in zone.upper() for word in ("PLACEHOLDER", "EXAMPLE")):
        found["hostedZoneId"] = f"{zone!r} is a placeholder: set the id of the Route 53 zone that serves domainName"
    try:
        emails = _json_list(raw.get(f"{project}:alarmEmails") or "[]")
    except ValueError:
        emails = ()  # reported by parse_settings
    fake = [e for e in emails if isinstance(e, str) and _is_reserved_domain(e.rpartition("@")[2])]
    if fake:
        found["alarmEmails"] = f"{', '.join(fake)} at a reserved example domain: list the on-call team's real addresses"
    return {f"{project}:{key}": message for key, message in found.items()}


def _configured() -> dict[str, object]:
    """Every config value the engine handed the program, whatever its key."""
    from pulumi.runtime import config

    return {**config.get_config_env(), **config.CONFIG.get()}


def _under_mocks() -> bool:
    """True inside any ``pulumi.runtime.set_mocks`` run (tests, the offline plan), never in a real deployment."""
    from pulumi.runtime.mocks import MockMonitor
    from pulumi.runtime.settings import get_monitor

    return isinstance(get_monitor(), MockMonitor)


def load_settings() -> Settings:
    """Read this stack's configuration and validate it.

    Every key the engine hands over is read, so keys the program does not know are reported.
    Placeholders stop a real preview or update before any resource is declared; under Pulumi's
    mocks the program still runs (examples are how it is tested) and warns once per key.
    """
    # The program declares EC2 resources, so this import costs nothing extra; it makes instanceType a
    # lookup in pulumi-aws's InstanceType enum instead of a parse of botocore's EC2 model (_offered).
    import pulumi_aws.ec2  # noqa: F401

    project = pulumi.get_project()
    # Every key, whatever its namespace: one nobody reads (another project's name) is reported too.
    raw = {k: str(v) for k, v in _configured().items()}
    settings = parse_settings(raw, stack=pulumi.get_stack(), project=project)
    found = placeholders(raw, project)
    if found and not _under_mocks():
        raise SettingsError(settings.stack, [f"{key}: {message}" for key, message in found.items()])
    for key, message in found.items():
        pulumi.log.warn(f"placeholder {key}: {message}; a real `pulumi up` refuses it")
    return settings
