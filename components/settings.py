"""Stack settings: the one place configuration is read, parsed and validated.

Every problem in a stack's configuration is collected and reported in a single
``SettingsError`` before any resource is declared, so a bad ``Pulumi.<stack>.yaml``
costs one round trip, not one per typo.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, TypeVar, cast

import pulumi

PROJECT = "payments-platform"

Environment = Literal["dev", "staging", "prod"]
NatStrategy = Literal["single", "per_az"]
ObjectLockMode = Literal["GOVERNANCE", "COMPLIANCE"]
OBJECT_LOCK_MODES = ("none", "governance", "compliance")
# PCI DSS 10.5.1: keep audit trails for at least a year.
MIN_PROD_LOG_BUCKET_DAYS = 365

ENVIRONMENTS: tuple[Environment, ...] = ("dev", "staging", "prod")
NAT_STRATEGIES: tuple[NatStrategy, ...] = ("single", "per_az")

# The values CloudWatch Logs accepts for retentionInDays (PutRetentionPolicy).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
# PCI DSS 10.5.1: audit logs kept at least 12 months, the last 3 immediately available.
MIN_HOT_LOG_RETENTION_DAYS = 90

# Aurora MySQL 3 instance families (AWS "Supported DB engines for DB instance classes").
DB_INSTANCE_FAMILIES = ("t3", "t4g", "r5", "r6g", "r6i", "r7g", "r7i", "r8g", "x2g")
BURSTABLE_DB_FAMILIES = ("t3", "t4g")
# Aurora MySQL 3 (MySQL 8.0 compatible) engine versions, e.g. 8.0.mysql_aurora.3.10.1.
_ENGINE_VERSION_RE = re.compile(r"^8\.0\.mysql_aurora\.3\.\d{2}\.\d+$")
# RDS keeps automated backups for 1-35 days; we require a week at least, two in prod.
MIN_BACKUP_RETENTION_DAYS, MIN_PROD_BACKUP_RETENTION_DAYS, MAX_BACKUP_RETENTION_DAYS = 7, 14, 35
MONITORING_INTERVALS = (1, 5, 10, 15, 30, 60)
# Performance Insights keeps 7 days free, then whole months (31 days) up to 2 years.
INSIGHTS_RETENTION_DAYS = (7, *(31 * m for m in range(1, 24)), 731)
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A writer plus the 15 Aurora replicas a cluster allows.
MAX_DB_INSTANCES = 16
# Above this an ASG size is far more likely a typo than a plan; raise it deliberately.
MAX_ASG_SIZE = 100

ConfigKind = Literal["string", "integer", "boolean", "array"]

# Every project key the program reads, with the type Pulumi.yaml declares for it.
# tests/unit/test_settings.py keeps this table and Pulumi.yaml's `config:` block in step.
CONFIG_KEYS: dict[str, ConfigKind] = {
    "environment": "string",
    "envSuffix": "string",
    "application": "string",
    "costCenter": "string",
    "vpcCidr": "string",
    "azCount": "integer",
    "natStrategy": "string",
    "interfaceEndpoints": "boolean",
    "flowLogRetentionDays": "integer",
    "logRetentionDays": "integer",
    "protectData": "boolean",
    "dbEngineVersion": "string",
    "dbInstanceClass": "string",
    "dbInstanceCount": "integer",
    "dbBackupRetentionDays": "integer",
    "dbBackupWindow": "string",
    "dbMaintenanceWindow": "string",
    "dbMonitoringIntervalSeconds": "integer",
    "dbInsightsRetentionDays": "integer",
    "instanceType": "string",
    "appPort": "integer",
    "asgMinSize": "integer",
    "asgMaxSize": "integer",
    "asgDesiredCapacity": "integer",
    "alarmEmails": "array",
    "domainName": "string",
    "hostedZoneId": "string",
    "objectLockMode": "string",
    "objectLockDays": "integer",
    "logBucketRetentionDays": "integer",
    "auditLockDays": "integer",
    "healthCheckIntervalSeconds": "integer",
    "healthCheckHealthyThreshold": "integer",
    "healthCheckUnhealthyThreshold": "integer",
    "deregistrationDelaySeconds": "integer",
    "albIdleTimeoutSeconds": "integer",
    "scheduleTimeZone": "string",
    "detailedMonitoring": "boolean",
    "priceClass": "string",
    "geoRestrictionType": "string",
    "geoRestrictionLocations": "array",
    "wafRateLimit": "integer",
    "wafRateWindowSeconds": "integer",
    "wafBodySizeAction": "string",
    "codeSigning": "boolean",
    "alarmHttp5xxPercent": "integer",
    "alarmLatencyP99Ms": "integer",
    "alarmAsgCpuPercent": "integer",
    "alarmDbCpuPercent": "integer",
    "alarmDbFreeMemoryMb": "integer",
    "alarmDbConnections": "integer",
    "alarmReplicaLagMs": "integer",
    "alarmWafBlockedRequests": "integer",
}
REGION_KEY = "aws:region"

_SUFFIX_RE = re.compile(r"^[a-z](?:[a-z0-9]|-(?!-)){0,10}[a-z0-9]$|^[a-z]$")
_REGION_RE = re.compile(r"^[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$")
_TAG_VALUE_RE = re.compile(r"^[\w .:/=+\-@]{1,256}$")
_INSTANCE_TYPE_RE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
_EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$")
_DNS_LABEL_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_ZONE_ID_RE = re.compile(r"^Z[A-Z0-9]{1,31}$")
# The load balancer's certificate is requested for origin.<domainName>, and ACM caps a certificate's
# first name (its Common Name) at 64 characters: RFC 5280, see ACM's RequestCertificate DomainName.
MAX_DOMAIN_NAME_LENGTH = 64 - len("origin.")


PRICE_CLASSES = ("PriceClass_100", "PriceClass_200", "PriceClass_All")
GEO_RESTRICTION_TYPES = ("none", "whitelist", "blacklist")
WAF_RATE_WINDOWS = (60, 120, 300, 600)
# What AWSManagedRulesCommonRuleSet's SizeRestrictions_BODY (bodies over 8 KB) does: block, or
# only count, so payment batches pass while the metric still shows them.
WafBodySizeAction = Literal["count", "block"]
WAF_BODY_SIZE_ACTIONS: tuple[WafBodySizeAction, ...] = ("count", "block")
_COUNTRY_RE = re.compile(r"^[A-Z]{2}$")


@dataclass(frozen=True)
class AlarmThresholds:
    """Where each alarm fires; defaults are argued for in the README."""

    http_5xx_percent: int
    latency_p99_ms: int
    asg_cpu_percent: int
    db_cpu_percent: int
    db_free_memory_mb: int
    db_connections: int
    replica_lag_ms: int
    waf_blocked_requests: int


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


@dataclass(frozen=True)
class Settings:
    """Typed, validated view of one stack's configuration."""

    project: str
    stack: str
    environment: Environment
    """Class of environment; decides which guard rails apply (prod: HA and no data loss)."""
    env_suffix: str
    """Lower-case DNS-safe suffix (<= 12 chars) that every name derives from."""
    region: str
    application: str
    cost_center: str
    vpc_cidr: str
    """IPv4 private CIDR, /16 to /20; subnets are carved from it."""
    az_count: int
    nat_strategy: NatStrategy
    interface_endpoints: bool
    """Reach AWS APIs from private subnets through interface endpoints (not only NAT)."""
    flow_log_retention_days: int
    log_retention_days: int
    protect_data: bool
    """True: Pulumi protect, deletion protection, final snapshots, versioned/locked data."""
    db_engine_version: str
    db_instance_class: str
    db_instance_count: int
    db_backup_retention_days: int
    db_backup_window: str
    """Daily UTC window, hh24:mi-hh24:mi."""
    db_maintenance_window: str
    """Weekly UTC window, ddd:hh24:mi-ddd:hh24:mi; never overlaps the backup window."""
    db_monitoring_interval_seconds: int
    db_insights_retention_days: int
    instance_type: str
    app_port: int
    asg_min_size: int
    asg_max_size: int
    asg_desired_capacity: int
    alarm_emails: tuple[str, ...]
    domain_name: str | None
    hosted_zone_id: str | None
    object_lock_mode: ObjectLockMode | None
    """S3 Object Lock default retention on the data bucket; None turns Object Lock off (not in prod)."""
    object_lock_days: int
    log_bucket_retention_days: int
    audit_lock_days: int
    """Object Lock retention of the audit-log archive (with objectLockMode; >= 365 in prod)."""
    health_check_interval_seconds: int
    health_check_healthy_threshold: int
    health_check_unhealthy_threshold: int
    deregistration_delay_seconds: int
    alb_idle_timeout_seconds: int
    schedule_time_zone: str
    """IANA zone the ASG's business-hours schedule follows (daylight saving included)."""
    detailed_monitoring: bool
    price_class: str
    geo_restriction_type: str
    geo_restriction_locations: tuple[str, ...]
    waf_rate_limit: int
    """Requests per client IP per ``waf_rate_window_seconds`` before WAF blocks it."""
    waf_rate_window_seconds: int
    waf_body_size_action: WafBodySizeAction
    """count: request bodies over 8 KB pass WAF (payment batches); block: AWS's default."""
    code_signing: bool
    """Lambda code signed by AWS Signer and enforced by a code signing config."""
    alarms: AlarmThresholds

    @property
    def name_prefix(self) -> str:
        """Prefix of every logical name, e.g. ``fintech-dev``."""
        return f"fintech-{self.env_suffix}"

    @property
    def tags(self) -> dict[str, str]:
        """Standard tags the AWS provider stamps on every taggable resource."""
        return {
            "Application": self.application,
            "CostCenter": self.cost_center,
            "Environment": self.env_suffix,
            "ManagedBy": "pulumi",
        }


T = TypeVar("T")


class _Reader:
    """Parses raw string config values, recording problems instead of raising."""

    def __init__(self, project: str, raw: Mapping[str, str | None]) -> None:
        self.project = project
        self.raw = raw
        self.problems: list[str] = []
        self.bad: set[str] = set()

    def ok(self, key: str) -> bool:
        """Present and parsed: worth checking further without repeating a problem."""
        return self.full_key(key) in self.raw and self.full_key(key) not in self.bad

    def full_key(self, key: str) -> str:
        return key if ":" in key else f"{self.project}:{key}"

    def problem(self, key: str, value: object, allowed: str) -> None:
        self.bad.add(self.full_key(key))
        self.problems.append(f"{self.full_key(key)} = {value!r}: {allowed}")

    def _get(self, key: str, parse: Callable[[str], T], kind: str, fallback: T) -> T:
        value = self.raw.get(self.full_key(key))
        if value is None:
            self.bad.add(self.full_key(key))
            self.problems.append(f"{self.full_key(key)} is missing: set it to {kind}")
            return fallback
        try:
            return parse(value)
        except ValueError:
            self.problem(key, value, f"must be {kind}")
            return fallback

    def string(self, key: str) -> str:
        return self._get(key, str, "a string", "")

    def integer(self, key: str) -> int:
        return self._get(key, _parse_int, "an integer", 0)

    def boolean(self, key: str) -> bool:
        return self._get(key, _parse_bool, "true or false", False)

    def string_list(self, key: str) -> tuple[str, ...]:
        return self._get(key, _parse_string_list, "a list of strings", ())

    def choice(self, key: str, allowed: tuple[T, ...]) -> T:
        value = self.string(key)
        if value not in cast(tuple[object, ...], allowed) and self.ok(key):
            self.problem(key, value, f"must be one of {', '.join(map(str, allowed))}")
        return cast(T, value) if value in cast(tuple[object, ...], allowed) else allowed[0]


def _parse_int(value: str) -> int:
    if not re.fullmatch(r"-?\d+", value.strip()):
        raise ValueError(value)
    return int(value)


def _parse_bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered not in ("true", "false"):
        raise ValueError(value)
    return lowered == "true"


def _parse_string_list(value: str) -> tuple[str, ...]:
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ValueError(value) from exc
    if not isinstance(parsed, list) or not all(isinstance(v, str) for v in parsed):
        raise ValueError(value)
    return tuple(parsed)


def _is_dns_name(value: str) -> bool:
    labels = value.split(".")
    return len(value) <= 253 and len(labels) >= 2 and all(_DNS_LABEL_RE.match(x) for x in labels)


def parse_settings(raw: Mapping[str, str | None], *, stack: str, project: str = PROJECT) -> Settings:
    """Build validated settings from raw config strings keyed ``<project>:<key>``.

    Raises ``SettingsError`` naming every bad key, its value and what is allowed.
    """
    r = _Reader(project, raw)
    _check_unknown_keys(r)

    environment = r.choice("environment", ENVIRONMENTS)
    prod = environment == "prod"

    env_suffix = r.string("envSuffix")
    if r.ok("envSuffix") and not _SUFFIX_RE.match(env_suffix):
        r.problem(
            "envSuffix",
            env_suffix,
            "must be 1-12 characters of a-z, 0-9 and single hyphens, starting with a letter "
            "and not ending with a hyphen",
        )

    region = r.string(REGION_KEY)
    if r.ok(REGION_KEY) and not _REGION_RE.match(region):
        r.problem(REGION_KEY, region, "must be an AWS region code such as eu-west-1")

    application = r.string("application")
    cost_center = r.string("costCenter")
    for key, value in (("application", application), ("costCenter", cost_center)):
        if r.ok(key) and not _TAG_VALUE_RE.match(value):
            r.problem(
                key,
                value,
                "must be a tag value: 1-256 characters of letters, digits, spaces and _ . : / = + - @",
            )

    vpc_cidr = r.string("vpcCidr")
    if r.ok("vpcCidr"):
        _check_vpc_cidr(r, vpc_cidr)

    az_count = r.integer("azCount")
    if r.ok("azCount") and az_count not in (2, 3):
        r.problem("azCount", az_count, "must be 2 or 3")
    elif prod and r.ok("azCount") and az_count != 3:
        r.problem("azCount", az_count, "must be 3 when environment is prod (highly available)")

    nat_strategy = r.choice("natStrategy", NAT_STRATEGIES)
    if prod and raw.get(r.full_key("natStrategy")) == "single":
        r.problem(
            "natStrategy",
            nat_strategy,
            "must be per_az when environment is prod (one NAT gateway is a single point of failure)",
        )

    interface_endpoints = r.boolean("interfaceEndpoints")

    retention: dict[str, int] = {}
    for key in ("flowLogRetentionDays", "logRetentionDays"):
        days = r.integer(key)
        retention[key] = days
        if r.ok(key) and (days not in LOG_RETENTION_DAYS or days < MIN_HOT_LOG_RETENTION_DAYS):
            allowed = [d for d in LOG_RETENTION_DAYS if d >= MIN_HOT_LOG_RETENTION_DAYS]
            r.problem(
                key,
                days,
                f"must be a CloudWatch Logs retention of at least {MIN_HOT_LOG_RETENTION_DAYS} days "
                f"(PCI DSS 10.5.1): one of {', '.join(map(str, allowed))}",
            )

    protect_data = r.boolean("protectData")
    if prod and r.ok("protectData") and not protect_data:
        r.problem("protectData", protect_data, "must be true when environment is prod (prod cannot lose data)")

    db_instance_class = r.string("dbInstanceClass")
    if r.ok("dbInstanceClass"):
        _check_db_instance_class(r, db_instance_class, prod)

    db_instance_count = r.integer("dbInstanceCount")
    if r.ok("dbInstanceCount"):
        if not 1 <= db_instance_count <= MAX_DB_INSTANCES:
            r.problem("dbInstanceCount", db_instance_count, f"must be from 1 to {MAX_DB_INSTANCES}")
        elif prod and db_instance_count < 2:
            r.problem(
                "dbInstanceCount",
                db_instance_count,
                "must be at least 2 when environment is prod (a writer and a reader in another AZ)",
            )

    db_engine_version = r.string("dbEngineVersion")
    if r.ok("dbEngineVersion") and not _ENGINE_VERSION_RE.match(db_engine_version):
        r.problem(
            "dbEngineVersion", db_engine_version, "must be an Aurora MySQL 3 version such as 8.0.mysql_aurora.3.10.1"
        )

    db_backup_retention_days = r.integer("dbBackupRetentionDays")
    minimum = MIN_PROD_BACKUP_RETENTION_DAYS if prod else MIN_BACKUP_RETENTION_DAYS
    if r.ok("dbBackupRetentionDays") and not minimum <= db_backup_retention_days <= MAX_BACKUP_RETENTION_DAYS:
        r.problem(
            "dbBackupRetentionDays",
            db_backup_retention_days,
            f"must be from {minimum} to {MAX_BACKUP_RETENTION_DAYS} days"
            + (" when environment is prod" if prod else ""),
        )
    db_backup_window = r.string("dbBackupWindow")
    db_maintenance_window = r.string("dbMaintenanceWindow")
    _check_windows(r, db_backup_window, db_maintenance_window)

    db_monitoring_interval = r.integer("dbMonitoringIntervalSeconds")
    if r.ok("dbMonitoringIntervalSeconds") and db_monitoring_interval not in MONITORING_INTERVALS:
        r.problem(
            "dbMonitoringIntervalSeconds",
            db_monitoring_interval,
            f"must be one of {', '.join(map(str, MONITORING_INTERVALS))} (enhanced monitoring stays on)",
        )
    db_insights_retention = r.integer("dbInsightsRetentionDays")
    if r.ok("dbInsightsRetentionDays") and db_insights_retention not in INSIGHTS_RETENTION_DAYS:
        r.problem("dbInsightsRetentionDays", db_insights_retention, "must be 7, a multiple of 31 up to 713, or 731")

    instance_type = r.string("instanceType")
    if r.ok("instanceType") and not _INSTANCE_TYPE_RE.match(instance_type):
        r.problem("instanceType", instance_type, "must be an EC2 instance type such as t3.large")

    app_port = r.integer("appPort")
    if r.ok("appPort") and not 1024 <= app_port <= 65535:
        r.problem("appPort", app_port, "must be an unprivileged TCP port, 1024 to 65535")

    asg_min, asg_max, asg_desired = (r.integer(k) for k in ("asgMinSize", "asgMaxSize", "asgDesiredCapacity"))
    _check_asg(r, asg_min, asg_max, asg_desired, prod)

    alarm_emails = r.string_list("alarmEmails")
    for email in alarm_emails:
        if not _EMAIL_RE.match(email):
            r.problem("alarmEmails", email, "must be an e-mail address such as oncall@example.com")
    if prod and r.ok("alarmEmails") and not alarm_emails:
        r.problem("alarmEmails", [], "must list at least one address when environment is prod")

    domain_name = r.string("domainName") or None
    hosted_zone_id = r.string("hostedZoneId") or None
    if domain_name is not None and not _is_dns_name(domain_name):
        r.problem("domainName", domain_name, "must be a lower-case DNS name such as pay.example.com, or empty")
    elif domain_name is not None and len(domain_name) > MAX_DOMAIN_NAME_LENGTH:
        r.problem(
            "domainName",
            domain_name,
            f"must be at most {MAX_DOMAIN_NAME_LENGTH} characters: ACM certificates (64 characters at most) "
            "are requested for it and for origin.<domainName>",
        )
    if hosted_zone_id is not None and not _ZONE_ID_RE.match(hosted_zone_id):
        r.problem("hostedZoneId", hosted_zone_id, "must be a Route 53 hosted zone id such as Z0123456789ABC, or empty")
    if r.ok("domainName") and r.ok("hostedZoneId") and (domain_name is None) != (hosted_zone_id is None):
        r.problem(
            "hostedZoneId" if domain_name else "domainName",
            hosted_zone_id or domain_name or "",
            "domainName and hostedZoneId must be set together (the certificate is validated in that zone), "
            "or both left empty",
        )

    if prod and r.ok("domainName") and domain_name is None:
        r.problem(
            "domainName",
            "",
            "must be set when environment is prod: TLS from CloudFront to the load balancer needs a certificate",
        )

    object_lock_text = r.choice("objectLockMode", OBJECT_LOCK_MODES)
    if prod and r.ok("objectLockMode") and object_lock_text == "none":
        r.problem("objectLockMode", "none", "must be governance or compliance when environment is prod")
    object_lock_mode = None if object_lock_text == "none" else cast(ObjectLockMode, object_lock_text.upper())
    object_lock_days = _ranged(r, "objectLockDays", 1, 36500, "days")
    log_bucket_days = _ranged(r, "logBucketRetentionDays", 90, 36500, "days")
    if prod and r.ok("logBucketRetentionDays") and log_bucket_days < MIN_PROD_LOG_BUCKET_DAYS:
        r.problem(
            "logBucketRetentionDays",
            log_bucket_days,
            f"must be at least {MIN_PROD_LOG_BUCKET_DAYS} when environment is prod (PCI DSS 10.5.1)",
        )

    audit_lock_days = _ranged(r, "auditLockDays", 1, 36500, "days")
    locked = object_lock_mode is not None
    if locked and r.ok("auditLockDays") and r.ok("logBucketRetentionDays") and audit_lock_days > log_bucket_days:
        r.problem(
            "auditLockDays",
            audit_lock_days,
            f"must not exceed logBucketRetentionDays ({log_bucket_days}): logs expire after that",
        )
    elif prod and r.ok("auditLockDays") and audit_lock_days < MIN_PROD_LOG_BUCKET_DAYS:
        r.problem(
            "auditLockDays",
            audit_lock_days,
            f"must be at least {MIN_PROD_LOG_BUCKET_DAYS} when environment is prod (PCI DSS 10.5.1)",
        )
    interval = _ranged(r, "healthCheckIntervalSeconds", 5, 300, "seconds")
    healthy = _ranged(r, "healthCheckHealthyThreshold", 2, 10, "checks")
    unhealthy = _ranged(r, "healthCheckUnhealthyThreshold", 2, 10, "checks")
    deregistration = _ranged(r, "deregistrationDelaySeconds", 0, 3600, "seconds")
    idle_timeout = _ranged(r, "albIdleTimeoutSeconds", 1, 4000, "seconds")

    schedule_time_zone = r.string("scheduleTimeZone")
    if r.ok("scheduleTimeZone") and not _is_time_zone(schedule_time_zone):
        r.problem("scheduleTimeZone", schedule_time_zone, "must be an IANA time zone such as Europe/London")
    detailed_monitoring = r.boolean("detailedMonitoring")

    price_class = r.choice("priceClass", PRICE_CLASSES)
    geo_type = r.choice("geoRestrictionType", GEO_RESTRICTION_TYPES)
    geo_locations = r.string_list("geoRestrictionLocations")
    for code in geo_locations:
        if not _COUNTRY_RE.match(code):
            r.problem("geoRestrictionLocations", code, "must be ISO 3166-1 alpha-2 country codes such as GB")
    if r.ok("geoRestrictionType") and r.ok("geoRestrictionLocations") and (geo_type == "none") != (not geo_locations):
        r.problem(
            "geoRestrictionLocations",
            list(geo_locations),
            "must be empty when geoRestrictionType is none, and list countries otherwise",
        )
    waf_rate_limit = _ranged(r, "wafRateLimit", 10, 2_000_000_000, "requests")
    waf_window = r.integer("wafRateWindowSeconds")
    if r.ok("wafRateWindowSeconds") and waf_window not in WAF_RATE_WINDOWS:
        r.problem("wafRateWindowSeconds", waf_window, f"must be one of {', '.join(map(str, WAF_RATE_WINDOWS))}")
    waf_body_size_action = r.choice("wafBodySizeAction", WAF_BODY_SIZE_ACTIONS)
    code_signing = r.boolean("codeSigning")
    if prod and r.ok("codeSigning") and not code_signing:
        r.problem("codeSigning", code_signing, "must be true when environment is prod (only signed code runs)")
    alarms = AlarmThresholds(
        http_5xx_percent=_ranged(r, "alarmHttp5xxPercent", 1, 100, "percent"),
        latency_p99_ms=_ranged(r, "alarmLatencyP99Ms", 10, 60_000, "milliseconds"),
        asg_cpu_percent=_ranged(r, "alarmAsgCpuPercent", 1, 100, "percent"),
        db_cpu_percent=_ranged(r, "alarmDbCpuPercent", 1, 100, "percent"),
        db_free_memory_mb=_ranged(r, "alarmDbFreeMemoryMb", 1, 1_000_000, "MiB"),
        db_connections=_ranged(r, "alarmDbConnections", 1, 16_000, "connections"),
        replica_lag_ms=_ranged(r, "alarmReplicaLagMs", 1, 600_000, "milliseconds"),
        waf_blocked_requests=_ranged(r, "alarmWafBlockedRequests", 1, 100_000_000, "requests per 5 minutes"),
    )

    if r.problems:
        raise SettingsError(stack, r.problems)

    return Settings(
        project=project,
        stack=stack,
        environment=environment,
        env_suffix=env_suffix,
        region=region,
        application=application,
        cost_center=cost_center,
        vpc_cidr=vpc_cidr,
        az_count=az_count,
        nat_strategy=nat_strategy,
        interface_endpoints=interface_endpoints,
        flow_log_retention_days=retention["flowLogRetentionDays"],
        log_retention_days=retention["logRetentionDays"],
        protect_data=protect_data,
        db_engine_version=db_engine_version,
        db_instance_class=db_instance_class,
        db_instance_count=db_instance_count,
        db_backup_retention_days=db_backup_retention_days,
        db_backup_window=db_backup_window,
        db_maintenance_window=db_maintenance_window,
        db_monitoring_interval_seconds=db_monitoring_interval,
        db_insights_retention_days=db_insights_retention,
        instance_type=instance_type,
        app_port=app_port,
        asg_min_size=asg_min,
        asg_max_size=asg_max,
        asg_desired_capacity=asg_desired,
        alarm_emails=alarm_emails,
        domain_name=domain_name,
        hosted_zone_id=hosted_zone_id,
        object_lock_mode=object_lock_mode,
        object_lock_days=object_lock_days,
        log_bucket_retention_days=log_bucket_days,
        audit_lock_days=audit_lock_days,
        health_check_interval_seconds=interval,
        health_check_healthy_threshold=healthy,
        health_check_unhealthy_threshold=unhealthy,
        deregistration_delay_seconds=deregistration,
        alb_idle_timeout_seconds=idle_timeout,
        schedule_time_zone=schedule_time_zone,
        detailed_monitoring=detailed_monitoring,
        price_class=price_class,
        geo_restriction_type=geo_type,
        geo_restriction_locations=geo_locations,
        waf_rate_limit=waf_rate_limit,
        waf_rate_window_seconds=waf_window,
        waf_body_size_action=waf_body_size_action,
        code_signing=code_signing,
        alarms=alarms,
    )


def _check_unknown_keys(r: _Reader) -> None:
    """A key in the project's namespace the program does not read is a typo until proven otherwise."""
    known = {k.lower(): k for k in CONFIG_KEYS}
    namespace = f"{r.project}:"
    for full in sorted(k for k in r.raw if k.startswith(namespace)):
        key = full[len(namespace) :]
        if key in CONFIG_KEYS:
            continue
        guess = known.get(key.lower()) or next(iter(difflib.get_close_matches(key, CONFIG_KEYS, n=1, cutoff=0.6)), None)
        hint = f"did you mean {guess}?" if guess else "see the settings table in the README"
        r.problem(key, r.raw[full], f"is not a setting of this program: {hint}")


def _ranged(r: _Reader, key: str, low: int, high: int, unit: str) -> int:
    value = r.integer(key)
    if r.ok(key) and not low <= value <= high:
        r.problem(key, value, f"must be from {low} to {high} {unit}")
    return value


def _is_time_zone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return "/" in name or name == "UTC"


def _check_vpc_cidr(r: _Reader, value: str) -> None:
    try:
        network = ipaddress.IPv4Network(value, strict=True)
    except ValueError:
        r.problem("vpcCidr", value, "must be an IPv4 network in CIDR form with no host bits set, e.g. 10.20.0.0/16")
        return
    if not 16 <= network.prefixlen <= 20:
        r.problem("vpcCidr", value, "must have a prefix from /16 to /20 (AWS allows /16-/28; we carve 12 subnets)")
    elif not network.is_private:
        r.problem("vpcCidr", value, "must be a private (RFC 1918) range: 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16")


def _check_db_instance_class(r: _Reader, value: str, prod: bool) -> None:
    if value == "db.serverless":
        return
    parts = value.split(".")
    if len(parts) != 3 or parts[0] != "db" or parts[1] not in DB_INSTANCE_FAMILIES or not parts[2]:
        families = ", ".join(f"db.{f}.*" for f in DB_INSTANCE_FAMILIES)
        r.problem("dbInstanceClass", value, f"must be db.serverless or an Aurora MySQL class: {families}")
    elif prod and parts[1] in BURSTABLE_DB_FAMILIES:
        r.problem(
            "dbInstanceClass",
            value,
            "must not be burstable (db.t3/db.t4g) when environment is prod: AWS advises T classes for dev/test only",
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
        end = _DAYS.index(end_day) * 1440 + _minutes(end_hhmm)
        starts = [start]
        length = (end - start) % (7 * 1440)
    else:
        start, end = _minutes(start_text), _minutes(end_text)
        starts = [day * 1440 + start for day in range(7)]
        length = (end - start) % 1440
    if length == 0:
        raise ValueError(window)
    return [(s, s + length) for s in starts]


def windows_overlap(backup: str, maintenance: str) -> bool:
    week = 7 * 1440
    spans = [(s % week, s % week + (e - s)) for s, e in window_minutes(backup, weekly=False)]
    (m_start, m_end) = window_minutes(maintenance, weekly=True)[0]
    # Compare on the week's circle: shift each span by a week either way.
    return any(s + shift < m_end and m_start < e + shift for s, e in spans for shift in (-week, 0, week))


def _check_windows(r: _Reader, backup: str, maintenance: str) -> None:
    backup_ok = maintenance_ok = False
    if r.ok("dbBackupWindow"):
        try:
            span = window_minutes(backup, weekly=False)[0]
            backup_ok = span[1] - span[0] >= 30
        except ValueError:
            pass
        if not backup_ok:
            r.problem("dbBackupWindow", backup, "must be a daily UTC window hh24:mi-hh24:mi of at least 30 minutes")
    if r.ok("dbMaintenanceWindow"):
        try:
            span = window_minutes(maintenance, weekly=True)[0]
            maintenance_ok = span[1] - span[0] >= 30
        except ValueError:
            pass
        if not maintenance_ok:
            r.problem(
                "dbMaintenanceWindow",
                maintenance,
                "must be a weekly UTC window ddd:hh24:mi-ddd:hh24:mi of at least 30 minutes, e.g. sun:04:00-sun:05:00",
            )
    if backup_ok and maintenance_ok and windows_overlap(backup, maintenance):
        r.problem("dbMaintenanceWindow", maintenance, f"must not overlap dbBackupWindow ({backup})")


def _check_asg(r: _Reader, lo: int, hi: int, desired: int, prod: bool) -> None:
    if not all(r.ok(k) for k in ("asgMinSize", "asgMaxSize", "asgDesiredCapacity")):
        return
    if lo < 0 or hi < 1 or hi > MAX_ASG_SIZE:
        r.problem("asgMaxSize", hi, f"must be from 1 to {MAX_ASG_SIZE}, and asgMinSize at least 0 (got {lo})")
    elif lo > hi:
        r.problem("asgMinSize", lo, f"must not exceed asgMaxSize ({hi})")
    elif not lo <= desired <= hi:
        r.problem("asgDesiredCapacity", desired, f"must be between asgMinSize ({lo}) and asgMaxSize ({hi})")
    if prod and lo < 2:
        r.problem("asgMinSize", lo, "must be at least 2 when environment is prod (one instance per AZ failure)")


# Names reserved for documentation (RFC 2606 and RFC 6761): a value under one of them is a
# placeholder someone forgot to replace, never a real domain, mailbox or hosted zone.
_RESERVED_DOMAINS = ("example.com", "example.net", "example.org")
_RESERVED_TLDS = ("example", "test", "invalid", "localhost")
_PLACEHOLDER_ZONE_WORDS = ("PLACEHOLDER", "EXAMPLE")


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
    if any(word in zone.upper() for word in _PLACEHOLDER_ZONE_WORDS):
        found["hostedZoneId"] = f"{zone!r} is a placeholder: set the id of the Route 53 zone that serves domainName"
    try:
        emails = _parse_string_list(raw.get(f"{project}:alarmEmails") or "[]")
    except ValueError:
        emails = ()  # reported by parse_settings
    fake = [e for e in emails if _is_reserved_domain(e.rpartition("@")[2])]
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
    """Read this stack's configuration through ``pulumi.Config`` and validate it.

    Placeholders stop a real preview or update before any resource is declared; under Pulumi's
    mocks the program still runs (examples are how it is tested) and warns once per key.
    """
    project = pulumi.get_project()
    project_config = pulumi.Config(project)
    raw: dict[str, str | None] = {f"{project}:{key}": project_config.get(key) for key in CONFIG_KEYS}
    # Keys the stack sets that the program does not read are reported too (typos).
    for key, value in _configured().items():
        if key.startswith(f"{project}:") and key not in raw:
            raw[key] = str(value)
    raw[REGION_KEY] = pulumi.Config("aws").get("region")
    present = {k: v for k, v in raw.items() if v is not None}
    settings = parse_settings(present, stack=pulumi.get_stack(), project=project)
    found = placeholders(present, project)
    if found and not _under_mocks():
        raise SettingsError(settings.stack, [f"{key}: {message}" for key, message in found.items()])
    for key, message in found.items():
        pulumi.log.warn(f"placeholder {key}: {message}; a real `pulumi up` refuses it")
    return settings
