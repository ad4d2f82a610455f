"""Monitoring tier: alert topics, alarms that reach a person, a dashboard, and the log archive.

CloudWatch alarms can only notify a topic in their own region, and CloudFront and WAF
publish their metrics in us-east-1: those alarms get a second, us-east-1 topic.

One instance per site (region): a second site is a second instance under that region's provider,
watching only what runs and publishes there. A site without the edge (or the rotation function)
gets none of their alarms and no us-east-1 topic.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_aws as aws

from components import policies

EDGE_REGION = "us-east-1"
ARCHIVE_PREFIX = "cloudwatch-logs/"
Where = Literal["stack", "edge"]


@dataclass(frozen=True)
class Metric:
    namespace: str
    name: str
    dimensions: Mapping[str, pulumi.Input[str]]
    stat: str
    """Statistic (Sum, Average, Minimum, Maximum) or extended statistic (p99)."""
    period: int = 300


@dataclass(frozen=True)
class AlarmSpec:
    """One alarm, as data: what it watches, where it fires, and how missing data counts."""

    key: str
    description: str
    comparison: str
    threshold: float
    treat_missing_data: Literal["breaching", "notBreaching", "ignore", "missing"]
    missing_data_reason: str
    """Why silence means what ``treat_missing_data`` says, for this metric at this site."""
    metric: Metric | None = None
    expression: str | None = None
    """Metric math over ``inputs`` (ids m0, m1 ...), instead of a single metric."""
    inputs: tuple[Metric, ...] = ()
    evaluation_periods: int = 3
    datapoints_to_alarm: int = 2
    where: Where = "stack"
    tier: str | None = None
    """Dashboard row; None: the row of its metrics' namespace (``TIER_OF``)."""


@dataclass(frozen=True)
class Thresholds:
    http_5xx_percent: float = 2
    latency_p99_ms: float = 1500
    asg_cpu_percent: float = 85
    db_cpu_percent: float = 80
    db_free_memory_mb: float = 256
    db_connections: float = 500
    replica_lag_ms: float = 1000
    waf_blocked_requests: float = 1000
    global_db_rpo_lag_ms: float = 60_000
    """Committed transactions a failover to this (secondary) site would lose, in time: the RPO."""
    global_db_replication_lag_ms: float = 10_000
    """Aurora replicates to a secondary region "with latency typically under a second" (Aurora
    User Guide, "Using Amazon Aurora global databases"): ten times that, sustained, is a problem."""


@dataclass(frozen=True)
class WatchedReplicationRule:
    """One S3 replication rule with replication metrics on (S3 RTC turns them on), as its alarm sees it.

    S3 names buckets in its metrics by name: give names, not ARNs."""

    key: str
    """Stable short name in alarm names (``data``, ``audit``); unique among the rules of one direction."""
    source_bucket_name: pulumi.Input[str]
    destination_bucket_name: pulumi.Input[str]
    rule_id: pulumi.Input[str]
    """The rule's ``id`` in the source bucket's replication configuration."""
    ready: pulumi.Input[str] | None = None
    """Resolves once the rule's replication configuration is on its source bucket (a rule leaving
    this site): S3 never replicates what was written before, so what writes there waits for it."""

    def __post_init__(self) -> None:
        for bucket in (self.source_bucket_name, self.destination_bucket_name):
            if isinstance(bucket, str):
                _bucket_name(bucket)


@dataclass(frozen=True)
class Watched:
    """Identifiers of what the other tiers created (names, ARN suffixes, ids)."""

    alb_arn_suffix: pulumi.Input[str]
    target_group_arn_suffix: pulumi.Input[str]
    asg_name: pulumi.Input[str]
    db_cluster_identifier: str
    db_instance_identifiers: Sequence[pulumi.Input[str]]
    rotation_function_name: pulumi.Input[str] | None
    """The secret rotation Lambda; None: it does not run at this site (no rotation alarm)."""
    web_acl_metric_name: pulumi.Input[str] | None
    """The metric name of the CLOUDFRONT-scope web ACL's visibility config (metrics in us-east-1),
    which WAF publishes under, not the web ACL's name; None: this site watches no edge."""
    distribution_id: pulumi.Input[str] | None
    """The CloudFront distribution (metrics in us-east-1); None: this site watches no edge."""
    backup_vault_name: pulumi.Input[str] | None = None
    """The AWS Backup vault in the stack's region; None: no backup tier to watch."""
    key_arns: Sequence[pulumi.Input[str]] = ()
    """The site's KMS keys in its region (data and, at the home site, backup): with a backup vault
    watched, scheduling their deletion, disabling them or changing their policy pages."""
    app_dependency_metric: tuple[str, str, Mapping[str, pulumi.Input[str]]] | None = None
    """(namespace, metric name, dimensions) the app instances publish 1 (secret readable and
    database reachable) or 0 to (``Compute.dependency_metric``); None: no such alarm."""
    app_min_instances: int = 1
    """The app group's floor (the site's ``Capacity.app_min``): 0 at a pilot-light standby, which runs
    no instance, so that no CPU data is normal there rather than a fleet that is down."""
    global_db: bool = False
    """The cluster is a member of an Aurora global database: alarm on its lag behind the primary."""
    outgoing_replication: Sequence[WatchedReplicationRule] = ()
    """S3 replication rules FROM a bucket in this site's region (configured on this site's buckets):
    S3 publishes their failures here."""
    incoming_replication: Sequence[WatchedReplicationRule] = ()
    """S3 replication rules INTO a bucket in this site's region (configured at the other site):
    S3 publishes their latency here."""
    audit_trail_log_group_name: pulumi.Input[str] | None = None
    """The log group the stack's CloudTrail trail sends its events to (a log group of this site's
    region): the site turns them into the CIS alarms (``TRAIL_FILTERS``); None: no trail here."""
    rotation_log_group_name: pulumi.Input[str] | None = None
    """Its log group, with a peer region: a rotation it runs without the other region's copy's word
    (``ROTATION_UNCONFIRMED``) is counted there; None: no such alarm."""

    def __post_init__(self) -> None:
        for direction, rules in (("outgoing", self.outgoing_replication), ("incoming", self.incoming_replication)):
            keys = [rule.key for rule in rules]
            if len(set(keys)) != len(keys):
                raise ValueError(f"{direction}_replication: rule keys name the alarms and must be unique: {keys}")


@dataclass(frozen=True)
class ArchiveErrors:
    """The log group the archive's Firehose stream logs its delivery errors to."""

    log_group_name: str
    """In the stack's naming scheme (``naming.log_group_name``)."""
    key_arn: pulumi.Input[str]
    """The site's CloudWatch Logs CMK."""
    retention_days: int
    retain: bool = False
    """Keep the log group when the stack is deleted (prod: every log group outlives the platform)."""


@dataclass(frozen=True)
class BackupAudit:
    """What the site's AWS Backup Audit Manager framework checks (``backup_audit_controls``)."""

    min_retention_days: int
    """The daily rule's retention: a plan must keep a daily point at least this long."""
    copy_region: str
    """Where the site's recovery points are copied (the other site's region)."""


@dataclass(frozen=True)
class MonitoringArgs:
    alerts_key_arn: pulumi.Input[str]
    edge_alerts_key_arn: pulumi.Input[str] | None
    """CMK in us-east-1 for the edge topic; None exactly when no edge is watched (no us-east-1 topic)."""
    alarm_emails: tuple[str, ...]
    watched: Watched
    thresholds: Thresholds
    archive_bucket_arn: pulumi.Input[str]
    """The audit-log archive (its own SSE-KMS, object-locked bucket), not the ALB log bucket."""
    archive_key_arn: pulumi.Input[str]
    """CMK of the archive bucket; the Firehose stream is encrypted with it too."""
    archived_log_groups: Sequence[pulumi.Input[str]] = field(default_factory=tuple)
    """Log groups (names) copied to the audit-log archive through Firehose for long-term retention."""
    archive_errors: ArchiveErrors | None = None
    """Where the archive's Firehose stream logs what it cannot deliver; required with
    ``archived_log_groups``."""
    archive_replication_ready: Sequence[pulumi.Input[str]] = ()
    """With a replicated archive: outputs that resolve once its replication configuration is in
    place (``WatchedReplicationRule.ready``). The stream writes its first object only after: "Objects
    that existed before you set up replication aren't replicated automatically" (S3 User Guide,
    "Setting up live replication overview"), and those would stay at this site only."""

    backup_audit: BackupAudit | None = None
    """An AWS Backup Audit Manager framework in the site's region; None: none (it needs AWS Config
    recording the region)."""

    def __post_init__(self) -> None:
        if self.backup_audit is not None and self.watched.backup_vault_name is None:
            raise ValueError("backup_audit audits the backups of a watched vault: give backup_vault_name too")
        if self.archived_log_groups and self.archive_errors is None:
            raise ValueError(
                "archive_errors must be given with archived_log_groups: a stream that cannot write to the "
                "audit archive says why only in its error log, and discards the records after 24 hours"
            )
        edge = self.watched.web_acl_metric_name is not None or self.watched.distribution_id is not None
        if edge != (self.edge_alerts_key_arn is not None):
            raise ValueError(
                "edge_alerts_key_arn must be given exactly when the web ACL or the distribution is watched: "
                "their alarms notify the us-east-1 topic it encrypts, and that topic has no other use"
            )


def alarm_specs(w: Watched, t: Thresholds) -> list[AlarmSpec]:
    """Every alarm of the platform, tier by tier.

    The order is the dashboard's within a tier and that of ``Monitoring.alarm_names``.
    """
    return [
        *_load_balancer_alarms(w, t),
        *_app_alarms(w, t),
        *_secrets_alarms(w),
        *_edge_alarms(w, t),
        *_app_dependency_alarms(w),
        *_database_alarms(w, t),
        *_backup_alarms(w),
        *_global_db_alarms(w, t),
        *_replication_alarms(w),
        *(trail_alarms() if w.audit_trail_log_group_name is not None else []),
    ]


# Below 20 requests in 5 minutes a rate is noise (one failed call in dev is 100 %).
_PERCENT_OF_REQUESTS = "IF(m1 >= 20, 100 * m0 / m1, 0)"
# The load balancer's own 5xx (m0) over every request it answered. ``RequestCount`` (m1) counts
# only requests for which the load balancer could choose a target, ``HTTPCode_ELB_5XX_Count`` every
# 5xx the load balancer generates itself ("CloudWatch metrics for your Application Load Balancer"):
# with no target registered it answers 503, RequestCount has no data and, unfilled, the rate would
# be empty and the alarm stay OK while every request fails. Their sum counts every answered request
# (a 502/504 of a routed request twice: the rate is then at least half the true one, far above
# any threshold when everything fails).
_PERCENT_OF_ANSWERED = "IF(FILL(m0, 0) + FILL(m1, 0) >= 20, 100 * FILL(m0, 0) / (FILL(m0, 0) + FILL(m1, 0)), 0)"


def _load_balancer_alarms(w: Watched, t: Thresholds) -> list[AlarmSpec]:
    lb = {"LoadBalancer": w.alb_arn_suffix}
    target_group = {"TargetGroup": w.target_group_arn_suffix, "LoadBalancer": w.alb_arn_suffix}
    requests = Metric("AWS/ApplicationELB", "RequestCount", lb, "Sum")
    elb_5xx = Metric("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", lb, "Sum")
    target_5xx = Metric("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", lb, "Sum")
    return [
        AlarmSpec(
            "alb-5xx-rate",
            "Load balancer answers 5xx (no registered or healthy target, overload) above the threshold",
            "GreaterThanThreshold",
            t.http_5xx_percent,
            "notBreaching",
            "No request at all gives no datapoint for either metric: no traffic is no failure (a load "
            "balancer without targets still answers, and counts, its own 503s)",
            expression=_PERCENT_OF_ANSWERED,
            inputs=(elb_5xx, requests),
        ),
        AlarmSpec(
            "target-5xx-rate",
            "App instances answer 5xx above the threshold",
            "GreaterThanThreshold",
            t.http_5xx_percent,
            "notBreaching",
            "The load balancer reports only while requests flow: no traffic is no failure",
            expression=_PERCENT_OF_REQUESTS,
            inputs=(target_5xx, requests),
        ),
        AlarmSpec(
            "target-latency-p99",
            "Slowest 1 % of app responses exceed the latency threshold",
            "GreaterThanThreshold",
            t.latency_p99_ms / 1000,
            "notBreaching",
            "No requests, no latency: silence is not slowness",
            metric=Metric("AWS/ApplicationELB", "TargetResponseTime", lb, "p99"),
        ),
        AlarmSpec(
            "unhealthy-hosts",
            "An app instance fails its /health check",
            "GreaterThanThreshold",
            0,
            "notBreaching",
            "Reported only while the target group has targets: an empty group has no unhealthy host",
            metric=Metric("AWS/ApplicationELB", "UnHealthyHostCount", target_group, "Maximum", period=60),
            evaluation_periods=5,
            datapoints_to_alarm=3,
        ),
    ]


def _app_alarms(w: Watched, t: Thresholds) -> list[AlarmSpec]:
    return [
        AlarmSpec(
            "asg-cpu",
            "App fleet CPU stays above the threshold although scaling targets 70 %",
            "GreaterThanThreshold",
            t.asg_cpu_percent,
            "breaching" if w.app_min_instances > 0 else "notBreaching",
            "A fleet that never scales to zero reports every minute: no CPU data means no instances"
            if w.app_min_instances > 0
            else "A pilot-light standby runs no instance: silence is its normal state, not a page",
            metric=Metric("AWS/EC2", "CPUUtilization", {"AutoScalingGroupName": w.asg_name}, "Average"),
        ),
    ]


def _backup_alarms(w: Watched) -> list[AlarmSpec]:
    if w.backup_vault_name is None:
        return []
    # Jobs run a few times a day: no data is no job, not a failure. EventBridge rules (below)
    # notify each failed job as it happens; these alarms and their graphs give the history.
    return [
        *_backup_failure_alarms(w.backup_vault_name),
        # A plan or selection deleted or edited, the role gone, the lock removed: no job runs, so
        # none fails. Each site's plan backs up its cluster and archives every day into this vault.
        AlarmSpec(
            "backup-jobs-missing",
            "No AWS Backup job completed for the vault in a day: the plan, its selection or the backup role may be "
            "gone or changed (AWS Backup then runs no job, and no job fails)",
            "LessThanThreshold",
            1,
            "breaching",
            "The site's plan runs a backup job a day for each selected store, and AWS Backup publishes completed "
            "jobs per vault: a day without the metric is a day without a backup",
            metric=Metric(
                "AWS/Backup",
                "NumberOfBackupJobsCompleted",
                {"BackupVaultName": w.backup_vault_name},
                "Sum",
                period=BACKUP_SILENCE_SECONDS,
            ),
            evaluation_periods=1,
            datapoints_to_alarm=1,
        ),
    ]


# A daily plan: a whole day without a completed backup job is a backup that stopped.
BACKUP_SILENCE_SECONDS = 24 * 60 * 60


def _backup_failure_alarms(vault_name: pulumi.Input[str]) -> list[AlarmSpec]:
    return [
        AlarmSpec(
            f"{kind}-jobs-failed",
            f"AWS Backup {kind} job failed for the vault: {consequence}",
            "GreaterThanThreshold",
            0,
            "notBreaching",
            "Jobs run a few times a day: no data is no job, not a failure (EventBridge notifies each failure)",
            metric=Metric(
                "AWS/Backup", f"NumberOf{kind.capitalize()}JobsFailed", {"BackupVaultName": vault_name}, "Sum"
            ),
            evaluation_periods=1,
            datapoints_to_alarm=1,
        )
        for kind, consequence in (
            ("backup", "today's recovery point is missing"),
            ("copy", "the second region lacks a recovery point"),
            ("restore", "a restore test could not prove a recovery point"),
        )
    ]


# What the rotation function logs when it rotates without the other region's copy having said it is
# this copy's replica (lambdas/rotation/rotation.py, check_authority): that region does not answer,
# or has no copy. Right during a region loss; anywhere else a sign of a cut network path (egress, NAT)
# or a deleted replica, under which a stale copy could rotate. CloudWatch Logs filter pattern syntax:
# quoted phrases, ``?`` between terms for either ("Filter pattern syntax for metric filters").
ROTATION_UNCONFIRMED = '?"taking that region for lost" ?"has no copy in"'
ROTATION_METRICS_NAMESPACE = "Fintech/Rotation"
ROTATION_UNCONFIRMED_METRIC = "RotationsUnconfirmedByPeer"


def _secrets_alarms(w: Watched) -> list[AlarmSpec]:
    if w.rotation_function_name is None:
        return []
    unconfirmed = (
        [
            AlarmSpec(
                "rotation-unconfirmed",
                "A rotation ran without the other region's copy confirming it is this copy's replica (that "
                "region unreachable or without a copy): expected during a region loss, else check the function's "
                "egress and the replicas before the copies drift apart",
                "GreaterThanOrEqualToThreshold",
                1,
                "notBreaching",
                "Nothing logged means every rotation was confirmed (or none ran)",
                metric=Metric(ROTATION_METRICS_NAMESPACE, ROTATION_UNCONFIRMED_METRIC, {}, "Sum", period=300),
                evaluation_periods=1,
                datapoints_to_alarm=1,
            )
        ]
        if w.rotation_log_group_name is not None
        else []
    )
    return [
        *unconfirmed,
        AlarmSpec(
            "rotation-errors",
            "Secret rotation Lambda failed: the app credential may not be rotating",
            "GreaterThanThreshold",
            0,
            "notBreaching",
            "The function runs rarely: no data means no invocations, not a failure",
            metric=Metric("AWS/Lambda", "Errors", {"FunctionName": w.rotation_function_name}, "Sum"),
            evaluation_periods=1,
            datapoints_to_alarm=1,
        ),
    ]


def _edge_alarms(w: Watched, t: Thresholds) -> list[AlarmSpec]:
    """CloudFront and WAF publish in us-east-1: these alarms live and notify there."""
    specs: list[AlarmSpec] = []
    if w.web_acl_metric_name is not None:
        specs.append(
            AlarmSpec(
                "waf-blocked-spike",
                "WAF blocks an unusual number of requests: an attack, or a rule blocking customers",
                "GreaterThanThreshold",
                t.waf_blocked_requests,
                "notBreaching",
                "WAF reports only the requests it sees: no request, no attack",
                metric=Metric("AWS/WAFV2", "BlockedRequests", _waf_dimensions(w.web_acl_metric_name), "Sum"),
                evaluation_periods=1,
                datapoints_to_alarm=1,
                where="edge",
            )
        )
    if w.distribution_id is not None:
        distribution = {"DistributionId": w.distribution_id, "Region": "Global"}
        specs.append(
            AlarmSpec(
                "cloudfront-5xx-rate",
                "CloudFront answers 5xx above the threshold",
                "GreaterThanThreshold",
                t.http_5xx_percent,
                "notBreaching",
                "CloudFront reports only while viewers send requests: no traffic is no failure",
                metric=Metric("AWS/CloudFront", "5xxErrorRate", distribution, "Average"),
                where="edge",
            )
        )
    return specs


def _waf_dimensions(web_acl_metric_name: pulumi.Input[str]) -> dict[str, pulumi.Input[str]]:
    """A CLOUDFRONT-scope web ACL's metrics for all its rules ("AWS WAF metrics and dimensions"):
    ``WebACL`` is the metric name of its visibility config, ``Rule`` ``ALL`` sums every rule, and
    there is no ``Region`` dimension (it is required for every protected resource type except
    CloudFront distributions)."""
    return {"WebACL": web_acl_metric_name, "Rule": "ALL"}


# Route 53 publishes its health checks' metrics (AWS/Route53, dimension HealthCheckId) in us-east-1
# only, once a minute, HealthCheckStatus 1 healthy and 0 unhealthy (Route 53 Developer Guide,
# "Monitoring health checks using CloudWatch"): the alarm lives there and notifies the edge topic.
ROUTE53_HEALTH_CHECKS = "https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/monitoring-health-checks.html"


def origin_health_alarm(region: str, health_check_id: pulumi.Input[str]) -> AlarmSpec:
    """The primary site's Route 53 health check fails: the site that holds the writer does not serve.

    Only the primary's: each site's check probes ``/ready``, which passes only where the app reaches
    the current writer, so the passive site's check fails by design, always; an alarm on it would
    stay in ALARM and say nothing. What tells that a standby is broken is its own site's alarms on
    what it runs: its app group's CPU (silence pages where the floor runs an instance), its target
    group's unhealthy hosts; a pilot-light standby runs nothing and is paged for nothing."""
    return AlarmSpec(
        "origin-primary-unhealthy",
        f"Route 53's health check of the primary site ({region}) fails: that site does not serve payments "
        "(load balancer, certificate, listener rule, targets, or its reach to the writer). Route 53 then answers "
        "with the other site only if that one is ready: see docs/standby-region.md",
        "LessThanThreshold",
        1,
        "breaching",
        "Route 53 reports every health check's status every minute for as long as the check exists: silence is "
        "a check that is gone, and an origin no one watches",
        metric=Metric("AWS/Route53", "HealthCheckStatus", {"HealthCheckId": health_check_id}, "Minimum", period=60),
        evaluation_periods=3,
        datapoints_to_alarm=2,
        where="edge",
        tier="Edge",
    )


def _app_dependency_alarms(w: Watched) -> list[AlarmSpec]:
    if w.app_dependency_metric is None:
        return []
    namespace, metric_name, dimensions = w.app_dependency_metric
    return [
        AlarmSpec(
            "app-dependencies",
            "App instances cannot read their database secret or reach the database (the load balancer "
            "check stays green: new instances would not help); look for a Secrets Manager, KMS, endpoint "
            "or Aurora problem",
            "LessThanThreshold",
            1,
            "breaching",
            "Every instance publishes twice a minute and the active site's fleet never scales to zero: "
            "silence means no instance runs the check or CloudWatch cannot be reached, neither healthy",
            metric=Metric(namespace, metric_name, dimensions, "Minimum", period=60),
            evaluation_periods=5,
            datapoints_to_alarm=3,
        ),
    ]


def _database_alarms(w: Watched, t: Thresholds) -> list[AlarmSpec]:
    """Three alarms per Aurora instance, keyed by its position; replica lag once there are readers."""
    specs: list[AlarmSpec] = []
    for i, instance in enumerate(w.db_instance_identifiers):
        specs += _db_instance_alarms(i, instance, t)
    if len(w.db_instance_identifiers) > 1:
        cluster = {"DBClusterIdentifier": w.db_cluster_identifier}
        specs.append(
            AlarmSpec(
                "db-replica-lag",
                "Aurora readers lag the writer: reads are stale and failover would lose time",
                "GreaterThanThreshold",
                t.replica_lag_ms,
                "notBreaching",
                "During a failover readers stop reporting for a moment",
                metric=Metric("AWS/RDS", "AuroraReplicaLagMaximum", cluster, "Maximum"),
            )
        )
    return specs


# The alarms exist only for the instances the site runs (none at a pilot-light standby).
_INSTANCE_DOWN = "An instance the site runs reports every minute: one that stops reporting is down"


def _db_instance_alarms(i: int, instance: pulumi.Input[str], t: Thresholds) -> list[AlarmSpec]:
    db = {"DBInstanceIdentifier": instance}
    return [
        AlarmSpec(
            f"db-{i}-cpu",
            f"Aurora instance {i} CPU above the threshold",
            "GreaterThanThreshold",
            t.db_cpu_percent,
            "breaching",
            _INSTANCE_DOWN,
            metric=Metric("AWS/RDS", "CPUUtilization", db, "Average"),
        ),
        AlarmSpec(
            f"db-{i}-freeable-memory",
            f"Aurora instance {i} is running out of memory",
            "LessThanThreshold",
            t.db_free_memory_mb * 1024 * 1024,
            "breaching",
            _INSTANCE_DOWN,
            metric=Metric("AWS/RDS", "FreeableMemory", db, "Minimum"),
        ),
        AlarmSpec(
            f"db-{i}-connections",
            f"Aurora instance {i} connections above the threshold (pool leak or surge)",
            "GreaterThanThreshold",
            t.db_connections,
            "breaching",
            _INSTANCE_DOWN,
            metric=Metric("AWS/RDS", "DatabaseConnections", db, "Maximum"),
        ),
    ]


def _global_db_alarms(w: Watched, t: Thresholds) -> list[AlarmSpec]:
    """This site's cluster's lag behind the global database's primary, in this site's region.

    Aurora publishes ``AuroraGlobalDBRPOLag`` (user transactions) and ``AuroraGlobalDBReplicationLag``
    (AWS/RDS, cluster level, milliseconds) only "in secondary AWS Regions", for the secondary cluster
    (Aurora User Guide, "Amazon CloudWatch metrics for Amazon Aurora"); Aurora MySQL has the RPO lag
    from 3.04.0, and "a switchover changes how to view those metrics and set alarms on them" ("Using
    switchover or failover in Amazon Aurora Global Database"). Every site watches its own cluster:
    the secondary reports, the primary reports nothing. So missing data is no breach, and the
    alarms follow a switchover or failover without a deploy.
    """
    if not w.global_db:
        return []
    cluster = {"DBClusterIdentifier": w.db_cluster_identifier}
    lags = (
        (
            "db-global-rpo-lag",
            "AuroraGlobalDBRPOLag",
            t.global_db_rpo_lag_ms,
            "A failover to this site now would lose more committed transactions than the RPO allows",
        ),
        (
            "db-global-replication-lag",
            "AuroraGlobalDBReplicationLag",
            t.global_db_replication_lag_ms,
            "This site's Aurora cluster lags the global database's primary: reads here are stale "
            "and a failover would lose data and take longer",
        ),
    )
    return [
        AlarmSpec(
            key,
            description,
            "GreaterThanThreshold",
            threshold,
            "notBreaching",
            "Published only while this site's cluster is a secondary: silence at the primary is normal",
            metric=Metric("AWS/RDS", metric_name, cluster, "Maximum", period=60),
            evaluation_periods=5,
            datapoints_to_alarm=3,
            tier="Global database",
        )
        for key, metric_name, threshold, description in lags
    ]


def delivery_alarms(rule_names: Mapping[str, pulumi.Input[str]]) -> list[AlarmSpec]:
    """An alarm per EventBridge rule on its failed deliveries to the alert topic (a key or topic
    policy that refuses EventBridge drops every notification silently otherwise).

    EventBridge publishes ``FailedInvocations`` (AWS/Events) per rule under ``RuleName`` ("Monitoring
    Amazon EventBridge", https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html).
    The alarm reaches the same topic through CloudWatch, whose use of the key does not depend on
    what broke EventBridge's."""
    return [
        AlarmSpec(
            f"{key}-undelivered",
            f"EventBridge could not deliver {key.replace('-', ' ')} to the alert topic: an AWS Backup or KMS event "
            "went unnotified (check the alert key's and the topic's policies for events.amazonaws.com)",
            "GreaterThanThreshold",
            0,
            "notBreaching",
            "EventBridge publishes FailedInvocations only when a delivery fails: silence is success",
            metric=Metric("AWS/Events", "FailedInvocations", {"RuleName": rule_name}, "Sum"),
            evaluation_periods=1,
            datapoints_to_alarm=1,
            tier="Backup",
        )
        for key, rule_name in rule_names.items()
    ]


# Firehose's S3 delivery ("Amazon Data Firehose": "Implement best practices with CloudWatch Alarms",
# https://docs.aws.amazon.com/firehose/latest/dev/firehose-cloudwatch-metrics-best-practices.html):
# alarm when DeliveryToS3.DataFreshness exceeds the buffering limit, "a maximum of 15 minutes".
ARCHIVE_FRESHNESS_LIMIT_SECONDS = 15 * 60
ARCHIVE_BUFFERING_SECONDS = 300
ARCHIVE_ERROR_STREAM = "S3Delivery"
_ARCHIVE_FED = (
    "The site's VPC flow logs feed the stream every minute (its load balancer is probed and its "
    "endpoints and NAT carry traffic even with no app instance): silence is a broken subscription or "
    "delivery, and undelivered audit records are dropped after 24 hours"
)


def archive_alarms(stream_names: Mapping[str, pulumi.Input[str]]) -> list[AlarmSpec]:
    """Per audit-archive delivery stream: records waiting longer than the buffering limit, and S3
    puts that fail (AWS/Firehose, dimension DeliveryStreamName: "Monitoring Amazon Data Firehose with
    CloudWatch metrics", https://docs.aws.amazon.com/firehose/latest/dev/monitoring-with-cloudwatch-metrics.html).
    Firehose retries a failed S3 delivery for up to 24 hours, then discards the data: these page
    within minutes, well inside that window."""
    specs: list[AlarmSpec] = []
    for key, stream_name in stream_names.items():
        stream = {"DeliveryStreamName": stream_name}
        specs += [
            AlarmSpec(
                f"{key}-delivery-freshness",
                f"Audit logs wait in the {key} Firehose stream longer than {ARCHIVE_FRESHNESS_LIMIT_SECONDS // 60} "
                "minutes: S3 or KMS refuses its writes (its error log says why); Firehose drops them after 24 hours",
                "GreaterThanThreshold",
                ARCHIVE_FRESHNESS_LIMIT_SECONDS,
                "breaching",
                _ARCHIVE_FED,
                metric=Metric("AWS/Firehose", "DeliveryToS3.DataFreshness", stream, "Maximum"),
                evaluation_periods=2,
                datapoints_to_alarm=2,
                tier="Audit trail",
            ),
            AlarmSpec(
                f"{key}-delivery-success",
                f"The {key} Firehose stream's S3 puts fail into the audit archive (its error log says why: "
                "Object Lock, bucket policy, KMS)",
                "LessThanThreshold",
                1,
                "breaching",
                _ARCHIVE_FED,
                # Success is the share of S3 puts that succeeded: one delivery per buffering interval.
                metric=Metric(
                    "AWS/Firehose", "DeliveryToS3.Success", stream, "Minimum", period=3 * ARCHIVE_BUFFERING_SECONDS
                ),
                evaluation_periods=1,
                datapoints_to_alarm=1,
                tier="Audit trail",
            ),
        ]
    return specs


def firehose_error_logging_policy(log_group_arn: str) -> dict[str, Any]:
    """What Firehose needs to log its delivery errors into one log group ("Grant Firehose access to
    an Amazon S3 destination": logs:PutLogEvents on the group's streams)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "LogDeliveryErrors",
                "Effect": "Allow",
                "Action": ["logs:PutLogEvents"],
                "Resource": f"{log_group_arn}:log-stream:*",
            }
        ],
    }


@dataclass(frozen=True)
class _ErrorLog:
    log_group_name: pulumi.Output[str]
    log_stream_name: pulumi.Output[str]
    policy: aws.iam.RolePolicy


# S3 RTC "replicates ... 99.99 percent of those objects within 15 minutes" (S3 User Guide,
# "Meeting compliance requirements with S3 Replication Time Control").
RTC_THRESHOLD_SECONDS = 15 * 60


# S3 ("Metrics and dimensions") advises ignore for replication metrics.
_REPLICATION_SILENCE = (
    "S3 publishes replication metrics only while objects replicate: a quiet hour neither raises nor clears"
)


def _replication_alarms(w: Watched) -> list[AlarmSpec]:
    """S3 replication of the rules leaving and arriving at this site.

    S3 publishes a rule's ``OperationsFailedReplication`` in the region of its source bucket, and
    its ``ReplicationLatency`` (like the pending bytes and operations) in the region of its
    destination bucket (S3 User Guide, "Using S3 Replication metrics"): a site alarms on the
    failures of its outgoing rules and the latency of its incoming ones. S3 advises to treat
    missing replication data as ``ignore`` ("Metrics and dimensions"): failures are published only
    while objects replicate (with 0 for each success, so the alarm clears when replication works
    again), and a quiet hour must neither raise nor clear it.
    """
    failures = [
        AlarmSpec(
            f"replication-{rule.key}-failures",
            f"S3 failed to replicate objects of rule {rule.key} to the other site: they exist at this site only "
            "(which and why: S3 OperationFailedReplication events; copy them again with S3 Batch Replication)",
            "GreaterThanThreshold",
            0,
            "ignore",
            _REPLICATION_SILENCE,
            metric=Metric("AWS/S3", "OperationsFailedReplication", _replication_dimensions(rule), "Sum"),
            evaluation_periods=1,
            datapoints_to_alarm=1,
        )
        for rule in w.outgoing_replication
    ]
    latency = [
        AlarmSpec(
            f"replication-{rule.key}-latency",
            f"Objects of rule {rule.key} reach this site later than the S3 RTC 15-minute threshold",
            "GreaterThanThreshold",
            RTC_THRESHOLD_SECONDS,
            "ignore",
            _REPLICATION_SILENCE,
            metric=Metric("AWS/S3", "ReplicationLatency", _replication_dimensions(rule), "Maximum"),
        )
        for rule in w.incoming_replication
    ]
    return failures + latency


def _replication_dimensions(rule: WatchedReplicationRule) -> dict[str, pulumi.Input[str]]:
    # The dimensions S3 publishes replication metrics under, per rule; check them with
    # `aws cloudwatch list-metrics --namespace AWS/S3 --metric-name ReplicationLatency`.
    return {
        "SourceBucket": pulumi.Output.from_input(rule.source_bucket_name).apply(_bucket_name),
        "DestinationBucket": pulumi.Output.from_input(rule.destination_bucket_name).apply(_bucket_name),
        "RuleId": rule.rule_id,
    }


def _bucket_name(value: str) -> str:
    """``value``, if it is a bucket name: an alarm on a bucket ARN watches a metric that never exists."""
    if value.startswith("arn:"):
        raise ValueError(f"S3 replication metrics name buckets by name, not ARN: {value}")
    return value


# --------------------------------------------------------------------------- the trail's CIS alarms

# Security Hub's CloudWatch.1-14 controls (the CIS AWS Foundations Benchmark's monitoring section):
# a metric filter on the trail's log group and an alarm on its metric, per control. The patterns are
# the ones Security Hub publishes, character for character: its check "fails if the exact metric
# filters prescribed by CIS are not used. Additional fields or terms cannot be added" ("Security Hub
# CSPM controls for Amazon CloudWatch", SECURITY_HUB_CLOUDWATCH). Each alarm fires on one matching
# event in five minutes ("Greater/Equal" 1, the guide's remediation) and notifies the site's alert
# topic, back to OK too. A deploy that changes IAM policies, security groups, routes or bucket
# policies pages by design: the alert says what changed, the deploy's log says who.
SECURITY_HUB_CLOUDWATCH = "https://docs.aws.amazon.com/securityhub/latest/userguide/cloudwatch-controls.html"
TRAIL_METRICS_NAMESPACE = "Fintech/AuditTrail"
TRAIL_METRIC_PERIOD_SECONDS = 300


@dataclass(frozen=True)
class TrailFilter:
    """One Security Hub CloudWatch control: its metric filter and the alarm on it."""

    control: str
    """Security Hub's control id (``CloudWatch.1``)."""
    key: str
    """Stable short name in the alarm's and the filter's names."""
    metric: str
    """The metric the filter publishes (1 per matching event) in ``TRAIL_METRICS_NAMESPACE``."""
    pattern: str
    """The CloudWatch Logs filter pattern, exactly as Security Hub publishes it."""
    description: str


TRAIL_FILTERS: tuple[TrailFilter, ...] = (
    TrailFilter(
        "CloudWatch.1",
        "root-user",
        "RootAccountUsage",
        '{$.userIdentity.type="Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType !="AwsServiceEvent"}',
        'The "root" user was used',
    ),
    TrailFilter(
        "CloudWatch.2",
        "unauthorized-api-calls",
        "UnauthorizedAPICalls",
        '{($.errorCode="*UnauthorizedOperation") || ($.errorCode="AccessDenied*")}',
        "An API call was refused as unauthorized (AccessDenied), the archives' objects included",
    ),
    TrailFilter(
        "CloudWatch.3",
        "console-signin-without-mfa",
        "ConsoleSigninWithoutMFA",
        '{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") && '
        '($.userIdentity.type = "IAMUser") && ($.responseElements.ConsoleLogin = "Success") }',
        "An IAM user signed in to the console without MFA",
    ),
    TrailFilter(
        "CloudWatch.4",
        "iam-policy-changes",
        "IAMPolicyChanges",
        "{($.eventName=DeleteGroupPolicy) || ($.eventName=DeleteRolePolicy) || ($.eventName=DeleteUserPolicy) || "
        "($.eventName=PutGroupPolicy) || ($.eventName=PutRolePolicy) || ($.eventName=PutUserPolicy) || "
        "($.eventName=CreatePolicy) || ($.eventName=DeletePolicy) || ($.eventName=CreatePolicyVersion) || "
        "($.eventName=DeletePolicyVersion) || ($.eventName=AttachRolePolicy) || ($.eventName=DetachRolePolicy) || "
        "($.eventName=AttachUserPolicy) || ($.eventName=DetachUserPolicy) || ($.eventName=AttachGroupPolicy) || "
        "($.eventName=DetachGroupPolicy)}",
        "An IAM policy was changed (created, attached, detached, put or deleted)",
    ),
    TrailFilter(
        "CloudWatch.5",
        "cloudtrail-changes",
        "CloudTrailChanges",
        "{($.eventName=CreateTrail) || ($.eventName=UpdateTrail) || ($.eventName=DeleteTrail) || "
        "($.eventName=StartLogging) || ($.eventName=StopLogging)}",
        "A CloudTrail trail was created, changed, deleted, started or stopped",
    ),
    TrailFilter(
        "CloudWatch.6",
        "console-auth-failures",
        "ConsoleAuthenticationFailure",
        '{($.eventName=ConsoleLogin) && ($.errorMessage="Failed authentication")}',
        "A console sign-in failed authentication",
    ),
    TrailFilter(
        "CloudWatch.7",
        "kms-key-disabled-or-deleted",
        "DisableOrDeleteCMK",
        "{($.eventSource=kms.amazonaws.com) && (($.eventName=DisableKey) || ($.eventName=ScheduleKeyDeletion))}",
        "A KMS key was disabled or scheduled for deletion: what it encrypts (backups, archives) becomes unreadable",
    ),
    TrailFilter(
        "CloudWatch.8",
        "s3-bucket-policy-changes",
        "S3BucketPolicyChanges",
        "{($.eventSource=s3.amazonaws.com) && (($.eventName=PutBucketAcl) || ($.eventName=PutBucketPolicy) || "
        "($.eventName=PutBucketCors) || ($.eventName=PutBucketLifecycle) || ($.eventName=PutBucketReplication) || "
        "($.eventName=DeleteBucketPolicy) || ($.eventName=DeleteBucketCors) || ($.eventName=DeleteBucketLifecycle) || "
        "($.eventName=DeleteBucketReplication))}",
        "An S3 bucket's ACL, policy, CORS, lifecycle or replication was changed",
    ),
    TrailFilter(
        "CloudWatch.9",
        "config-changes",
        "AWSConfigChanges",
        "{($.eventSource=config.amazonaws.com) && (($.eventName=StopConfigurationRecorder) || "
        "($.eventName=DeleteDeliveryChannel) || ($.eventName=PutDeliveryChannel) || "
        "($.eventName=PutConfigurationRecorder))}",
        "AWS Config's recorder or delivery channel was stopped, changed or deleted",
    ),
    TrailFilter(
        "CloudWatch.10",
        "security-group-changes",
        "SecurityGroupChanges",
        "{($.eventName=AuthorizeSecurityGroupIngress) || ($.eventName=AuthorizeSecurityGroupEgress) || "
        "($.eventName=RevokeSecurityGroupIngress) || ($.eventName=RevokeSecurityGroupEgress) || "
        "($.eventName=CreateSecurityGroup) || ($.eventName=DeleteSecurityGroup)}",
        "A security group or one of its rules was created, changed or deleted",
    ),
    TrailFilter(
        "CloudWatch.11",
        "nacl-changes",
        "NetworkACLChanges",
        "{($.eventName=CreateNetworkAcl) || ($.eventName=CreateNetworkAclEntry) || ($.eventName=DeleteNetworkAcl) || "
        "($.eventName=DeleteNetworkAclEntry) || ($.eventName=ReplaceNetworkAclEntry) || "
        "($.eventName=ReplaceNetworkAclAssociation)}",
        "A network ACL or one of its entries was created, changed or deleted",
    ),
    TrailFilter(
        "CloudWatch.12",
        "network-gateway-changes",
        "NetworkGatewayChanges",
        "{($.eventName=CreateCustomerGateway) || ($.eventName=DeleteCustomerGateway) || "
        "($.eventName=AttachInternetGateway) || ($.eventName=CreateInternetGateway) || "
        "($.eventName=DeleteInternetGateway) || ($.eventName=DetachInternetGateway)}",
        "A customer or internet gateway was created, attached, detached or deleted",
    ),
    TrailFilter(
        "CloudWatch.13",
        "route-table-changes",
        "RouteTableChanges",
        "{($.eventName=CreateRoute) || ($.eventName=CreateRouteTable) || ($.eventName=ReplaceRoute) || "
        "($.eventName=ReplaceRouteTableAssociation) || ($.eventName=DeleteRouteTable) || ($.eventName=DeleteRoute) || "
        "($.eventName=DisassociateRouteTable)}",
        "A route table or route was created, changed or deleted",
    ),
    TrailFilter(
        "CloudWatch.14",
        "vpc-changes",
        "VPCChanges",
        "{($.eventName=CreateVpc) || ($.eventName=DeleteVpc) || ($.eventName=ModifyVpcAttribute) || "
        "($.eventName=AcceptVpcPeeringConnection) || ($.eventName=CreateVpcPeeringConnection) || "
        "($.eventName=DeleteVpcPeeringConnection) || ($.eventName=RejectVpcPeeringConnection) || "
        "($.eventName=AttachClassicLinkVpc) || ($.eventName=DetachClassicLinkVpc) || "
        "($.eventName=DisableVpcClassicLink) || ($.eventName=EnableVpcClassicLink)}",
        "A VPC or VPC peering connection was created, changed or deleted",
    ),
)
_TRAIL_SILENCE = (
    "The metric filter publishes only when an event matches: no datapoint is no such call (the trail's "
    "own failures show in CloudTrail's delivery status, docs/audit-trail.md)"
)


def trail_alarms() -> list[AlarmSpec]:
    """One alarm per Security Hub CloudWatch control, on its metric filter's metric."""
    return [
        AlarmSpec(
            f"cis-{f.key}",
            f"[{f.control}] {f.description}: see the trail's log group for who, from where",
            "GreaterThanOrEqualToThreshold",
            1,
            "notBreaching",
            _TRAIL_SILENCE,
            metric=Metric(TRAIL_METRICS_NAMESPACE, f.metric, {}, "Sum", period=TRAIL_METRIC_PERIOD_SECONDS),
            evaluation_periods=1,
            datapoints_to_alarm=1,
            tier="Audit trail",
        )
        for f in TRAIL_FILTERS
    ]


class Monitoring(pulumi.ComponentResource):
    """Encrypted alert topics with e-mail subscriptions, alarms, dashboard, log archive."""

    topic_arn: pulumi.Output[str]
    edge_topic_arn: pulumi.Output[str] | None
    """The us-east-1 topic of the edge alarms; None: this site watches no edge."""
    dashboard_name: pulumi.Output[str]
    alarm_names: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("fintech:monitoring:Monitoring", name, None, opts)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account_id = aws.get_caller_identity_output(opts=invoke).account_id
        partition = aws.get_partition_output(opts=invoke).partition
        region = aws.get_region_output(opts=invoke).region

        topics = self._topics(name, args, region, partition, account_id)
        watched = args.watched
        rules = (
            self._backup_failures(name, topics["stack"], watched.key_arns)
            if watched.backup_vault_name is not None
            else {}
        )
        if args.backup_audit is not None:
            self._backup_audit(name, args.backup_audit)
        if watched.audit_trail_log_group_name is not None:
            self._trail_filters(name, watched.audit_trail_log_group_name)
        if watched.rotation_log_group_name is not None:
            aws.cloudwatch.LogMetricFilter(
                f"{name}-rotation-unconfirmed",
                log_group_name=watched.rotation_log_group_name,
                pattern=ROTATION_UNCONFIRMED,
                metric_transformation=aws.cloudwatch.LogMetricFilterMetricTransformationArgs(
                    name=ROTATION_UNCONFIRMED_METRIC, namespace=ROTATION_METRICS_NAMESPACE, value="1"
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
        streams = self._archive(name, args, region, account_id) if args.archived_log_groups else {}
        specs = [*alarm_specs(args.watched, args.thresholds), *delivery_alarms(rules), *archive_alarms(streams)]
        check_watched(specs)
        self.alarm_names = self._alarms(name, specs, topics)
        dashboard = self._dashboard(name, specs, region)

        self.topic_arn = topics["stack"]
        self.edge_topic_arn = topics.get("edge")
        self.dashboard_name = dashboard.dashboard_name
        self.register_outputs(
            {
                "topic_arn": self.topic_arn,
                **({"edge_topic_arn": self.edge_topic_arn} if self.edge_topic_arn is not None else {}),
                "dashboard_name": self.dashboard_name,
                "alarm_names": dict(self.alarm_names),
            }
        )

    def _topics(
        self,
        name: str,
        args: MonitoringArgs,
        region: pulumi.Output[str],
        partition: pulumi.Output[str],
        account_id: pulumi.Output[str],
    ) -> dict[Where, pulumi.Output[str]]:
        """ARNs of the alert topics: one in the site's region, one in us-east-1 if it watches the edge."""
        topics: dict[Where, pulumi.Output[str]] = {
            "stack": self._topic(f"{name}-alerts", args.alerts_key_arn, None, region, partition, account_id, args),
        }
        if args.edge_alerts_key_arn is not None:
            topics["edge"] = self._topic(
                f"{name}-edge-alerts",
                args.edge_alerts_key_arn,
                EDGE_REGION,
                pulumi.Output.from_input(EDGE_REGION),
                partition,
                account_id,
                args,
            )
        return topics

    def _topic(
        self,
        name: str,
        key_arn: pulumi.Input[str],
        topic_region: str | None,
        policy_region: pulumi.Output[str],
        partition: pulumi.Output[str],
        account_id: pulumi.Output[str],
        args: MonitoringArgs,
    ) -> pulumi.Output[str]:
        child = pulumi.ResourceOptions(parent=self)
        topic = aws.sns.Topic(name, kms_master_key_id=key_arn, region=topic_region, opts=child)
        aws.sns.TopicPolicy(
            f"{name}-policy",
            arn=topic.arn,
            policy=pulumi.Output.all(topic.arn, partition, policy_region, account_id).apply(
                lambda v: json.dumps(
                    policies.alert_topic_policy(
                        topic_arn=v[0],
                        partition=v[1],
                        region=v[2],
                        account_id=v[3],
                        # Failed AWS Backup jobs reach the stack's topic through EventBridge.
                        eventbridge=topic_region is None and args.watched.backup_vault_name is not None,
                    )
                )
            ),
            region=topic_region,
            opts=child,
        )
        for email in args.alarm_emails:
            # Keyed by the address, so adding or removing one leaves the others alone.
            digest = hashlib.sha256(email.lower().encode()).hexdigest()[:10]
            aws.sns.TopicSubscription(
                f"{name}-email-{digest}",
                topic=topic.arn,
                protocol="email",
                endpoint=email,
                region=topic_region,
                opts=child,
            )
        return topic.arn

    def _alarms(
        self, name: str, specs: Sequence[AlarmSpec], topics: Mapping[Where, pulumi.Output[str]]
    ) -> dict[str, pulumi.Output[str]]:
        """One alarm per spec, notifying (on alarm and back to OK) the topic of its region; names by key."""
        return {spec.key: metric_alarm(f"{name}-{spec.key}", spec, topics[spec.where], self).name for spec in specs}

    def _backup_failures(
        self, name: str, topic_arn: pulumi.Output[str], key_arns: Sequence[pulumi.Input[str]]
    ) -> dict[str, pulumi.Output[str]]:
        """Every failed or completed-with-issues AWS Backup job (backup, copy, restore test), every
        change or deletion of a plan, selection, vault or lock, and every deletion, disabling or
        policy change of the site's keys reaches the alert topic as it happens.

        Returns each EventBridge rule's name by key, for the alarm on its failed deliveries."""
        patterns: dict[str, pulumi.Input[str]] = {k: json.dumps(p) for k, p in BACKUP_FAILURE_PATTERNS.items()}
        if key_arns:
            patterns["key-changes"] = pulumi.Output.all(*key_arns).apply(
                lambda arns: json.dumps(key_change_pattern([str(a) for a in arns]))
            )
        child = pulumi.ResourceOptions(parent=self)
        names: dict[str, pulumi.Output[str]] = {}
        for key, pattern in patterns.items():
            rule = aws.cloudwatch.EventRule(
                f"{name}-{key}",
                description=f"{'KMS' if key == 'key-changes' else 'AWS Backup'}: {key.replace('-', ' ')}",
                event_pattern=pattern,
                opts=child,
            )
            aws.cloudwatch.EventTarget(f"{name}-{key}-alert", rule=rule.name, arn=topic_arn, opts=child)
            names[key] = rule.name
        return names

    def _trail_filters(self, name: str, log_group_name: pulumi.Input[str]) -> None:
        """A metric filter per ``TRAIL_FILTERS`` row on the trail's log group: 1 per matching event."""
        for f in TRAIL_FILTERS:
            aws.cloudwatch.LogMetricFilter(
                f"{name}-cis-{f.key}",
                log_group_name=log_group_name,
                pattern=f.pattern,
                metric_transformation=aws.cloudwatch.LogMetricFilterMetricTransformationArgs(
                    name=f.metric, namespace=TRAIL_METRICS_NAMESPACE, value="1"
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )

    def _backup_audit(self, name: str, audit: BackupAudit) -> None:
        """The site's AWS Backup Audit Manager framework (AWS Config evaluates its controls)."""
        backup_audit_framework(self, name, audit, physical_name=f"{name}-backup-audit")

    def _dashboard(self, name: str, specs: Sequence[AlarmSpec], region: pulumi.Output[str]) -> aws.cloudwatch.Dashboard:
        return aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=name,
            dashboard_body=pulumi.Output.all(region, *[_resolved(spec) for spec in specs]).apply(
                lambda values: json.dumps(dashboard_body(values[0], values[1:]))
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _archive(
        self, name: str, args: MonitoringArgs, region: pulumi.Output[str], account_id: pulumi.Output[str]
    ) -> dict[str, pulumi.Output[str]]:
        """Copies log groups to the audit-log archive: hot in CloudWatch, kept for a year or more in S3.

        Returns each delivery stream's name by key, for the alarms on its deliveries."""
        assert args.archive_errors is not None  # MonitoringArgs requires it with archived log groups
        firehose_role, firehose_policy = self._firehose_role(name, args, region, account_id)
        errors = self._archive_error_log(name, args.archive_errors, firehose_role)
        stream = self._archive_stream(name, args, firehose_role, [firehose_policy, errors.policy], errors)
        logs_role, logs_policy = self._logs_role(name, stream, region, account_id)
        self._subscriptions(name, args.archived_log_groups, stream, logs_role, logs_policy)
        return {"archive": stream.name}

    def _archive_error_log(self, name: str, errors: ArchiveErrors, role: aws.iam.Role) -> _ErrorLog:
        """The log group and stream the archive's Firehose stream logs delivery errors to (an S3
        refusal, a KMS denial), and the role's right to write there."""
        child = pulumi.ResourceOptions(parent=self)
        group = aws.cloudwatch.LogGroup(
            f"{name}-archive-errors",
            name=errors.log_group_name,
            retention_in_days=errors.retention_days,
            kms_key_id=errors.key_arn,
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=errors.retain),
        )
        stream = aws.cloudwatch.LogStream(
            f"{name}-archive-errors-s3", name=ARCHIVE_ERROR_STREAM, log_group_name=group.name, opts=child
        )
        policy = aws.iam.RolePolicy(
            f"{name}-archive-firehose-errors-policy",
            role=role.name,
            policy=group.arn.apply(lambda arn: json.dumps(firehose_error_logging_policy(arn))),
            opts=child,
        )
        return _ErrorLog(group.name, stream.name, policy)

    def _firehose_role(
        self, name: str, args: MonitoringArgs, region: pulumi.Output[str], account_id: pulumi.Output[str]
    ) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        """The role Firehose writes to the archive with, and its policy (the stream must wait for it)."""
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-archive-firehose-role",
            description="Firehose delivery of archived log groups into the audit-log archive",
            assume_role_policy=account_id.apply(lambda acct: json.dumps(policies.firehose_assume_role_policy(acct))),
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-archive-firehose-policy",
            role=role.name,
            policy=pulumi.Output.all(args.archive_bucket_arn, args.archive_key_arn, region).apply(
                lambda v: json.dumps(
                    policies.firehose_to_bucket_policy(
                        bucket_arn=v[0], prefix=ARCHIVE_PREFIX, key_arn=v[1], region=v[2]
                    )
                )
            ),
            opts=child,
        )
        return role, policy

    def _archive_stream(
        self,
        name: str,
        args: MonitoringArgs,
        role: aws.iam.Role,
        role_policies: Sequence[aws.iam.RolePolicy],
        errors: _ErrorLog,
    ) -> aws.kinesis.FirehoseDeliveryStream:
        return aws.kinesis.FirehoseDeliveryStream(
            f"{name}-archive",
            destination="extended_s3",
            server_side_encryption=aws.kinesis.FirehoseDeliveryStreamServerSideEncryptionArgs(
                enabled=True, key_type="CUSTOMER_MANAGED_CMK", key_arn=args.archive_key_arn
            ),
            extended_s3_configuration=aws.kinesis.FirehoseDeliveryStreamExtendedS3ConfigurationArgs(
                role_arn=role.arn,
                # Known once the bucket replicates (archive_replication_ready): no object before that.
                bucket_arn=pulumi.Output.all(args.archive_bucket_arn, *args.archive_replication_ready).apply(
                    lambda values: str(values[0])
                ),
                # Objects are written with the archive's key, which its bucket policy insists on.
                kms_key_arn=args.archive_key_arn,
                prefix=f"{ARCHIVE_PREFIX}!{{timestamp:yyyy/MM/dd}}/",
                error_output_prefix=f"{ARCHIVE_PREFIX}errors/!{{firehose:error-output-type}}/!{{timestamp:yyyy/MM/dd}}/",
                buffering_size=5,
                buffering_interval=ARCHIVE_BUFFERING_SECONDS,
                # Subscription records arrive gzip-compressed already.
                compression_format="UNCOMPRESSED",
                # What S3 or KMS refuses is said here (Firehose retries for 24 hours, then drops it).
                cloudwatch_logging_options=aws.kinesis.FirehoseDeliveryStreamExtendedS3ConfigurationCloudwatchLoggingOptionsArgs(
                    enabled=True, log_group_name=errors.log_group_name, log_stream_name=errors.log_stream_name
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(role_policies)),
        )

    def _logs_role(
        self,
        name: str,
        stream: aws.kinesis.FirehoseDeliveryStream,
        region: pulumi.Output[str],
        account_id: pulumi.Output[str],
    ) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        """The role CloudWatch Logs puts records into ``stream`` with, and its policy."""
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-archive-logs-role",
            description="CloudWatch Logs subscription into the archive delivery stream",
            assume_role_policy=pulumi.Output.all(region, account_id).apply(
                lambda v: json.dumps(
                    policies.service_assume_role_policy(
                        f"logs.{v[0]}.amazonaws.com", account_id=v[1], source_arn=f"arn:*:logs:{v[0]}:{v[1]}:*"
                    )
                )
            ),
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-archive-logs-policy",
            role=role.name,
            policy=stream.arn.apply(lambda arn: json.dumps(policies.logs_to_firehose_policy(arn))),
            opts=child,
        )
        return role, policy

    def _subscriptions(
        self,
        name: str,
        log_groups: Sequence[pulumi.Input[str]],
        stream: aws.kinesis.FirehoseDeliveryStream,
        role: aws.iam.Role,
        role_policy: aws.iam.RolePolicy,
    ) -> None:
        """One subscription filter per archived log group, once CloudWatch Logs may write to the stream."""
        for i, group in enumerate(log_groups):
            aws.cloudwatch.LogSubscriptionFilter(
                f"{name}-archive-{i}",
                name=f"{name}-archive",
                log_group=group,
                filter_pattern="",
                destination_arn=stream.arn,
                role_arn=role.arn,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[role_policy]),
            )


def metric_alarm(
    resource_name: str, spec: AlarmSpec, topic_arn: pulumi.Input[str], parent: pulumi.Resource
) -> aws.cloudwatch.MetricAlarm:
    """The alarm of ``spec``, notifying ``topic_arn`` (on alarm and back to OK): a topic of the alarm's
    own region, us-east-1 for an edge alarm (CloudWatch notifies only a topic in its region)."""
    return aws.cloudwatch.MetricAlarm(
        resource_name,
        alarm_description=spec.description,
        comparison_operator=spec.comparison,
        threshold=spec.threshold,
        evaluation_periods=spec.evaluation_periods,
        datapoints_to_alarm=spec.datapoints_to_alarm,
        treat_missing_data=spec.treat_missing_data,
        actions_enabled=True,
        alarm_actions=[topic_arn],
        ok_actions=[topic_arn],
        region=EDGE_REGION if spec.where == "edge" else None,
        **_metric_arguments(spec),
        opts=pulumi.ResourceOptions(parent=parent),
    )


def _metric_arguments(spec: AlarmSpec) -> dict[str, Any]:
    if spec.expression is not None:
        queries = [
            aws.cloudwatch.MetricAlarmMetricQueryArgs(
                id=f"m{i}",
                return_data=False,
                metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                    namespace=m.namespace,
                    metric_name=m.name,
                    dimensions=dict(m.dimensions),
                    stat=m.stat,
                    period=m.period,
                ),
            )
            for i, m in enumerate(spec.inputs)
        ]
        queries.append(
            aws.cloudwatch.MetricAlarmMetricQueryArgs(
                id="rate", expression=spec.expression, label=spec.key, return_data=True
            )
        )
        return {"metric_queries": queries}
    metric = spec.metric
    if metric is None:
        raise ValueError(f"alarm {spec.key} has neither a metric nor an expression")
    statistic = {"extended_statistic": metric.stat} if metric.stat.startswith("p") else {"statistic": metric.stat}
    return {
        "namespace": metric.namespace,
        "metric_name": metric.name,
        "dimensions": dict(metric.dimensions),
        "period": metric.period,
        **statistic,
    }


def _dimensions(metric: Metric) -> pulumi.Output[dict[str, str]]:
    """``metric``'s dimensions, resolved (``Output.all()`` of nothing is a list, not a mapping)."""
    if not metric.dimensions:
        return pulumi.Output.from_input({})
    return pulumi.Output.all(**{k: pulumi.Output.from_input(v) for k, v in metric.dimensions.items()})


def _resolved(spec: AlarmSpec) -> pulumi.Output[dict[str, Any]]:
    """The spec's metrics with their dimensions resolved, for the dashboard."""
    metrics = (spec.metric,) if spec.metric else spec.inputs
    return pulumi.Output.all(*[_dimensions(m) for m in metrics]).apply(
        lambda dims: {
            "key": spec.key,
            "where": spec.where,
            "tier": spec.tier or TIER_OF[metrics[0].namespace],
            "metrics": [
                {"namespace": m.namespace, "name": m.name, "stat": m.stat, "period": m.period, "dimensions": d}
                for m, d in zip(metrics, dims, strict=True)
            ],
        }
    )


# --------------------------------------------------------------------------- what each alarm watches


@dataclass(frozen=True)
class From:
    """Where a dimension's value comes from: an attribute of a resource the stack declares (its type
    token and the attribute's path, ``visibilityConfig.metricName``; ``rules[].id`` for any element
    of a list; ``(name)`` for a component's own name, ``(id)`` for a resource's id), or, without a
    type, the literal value."""

    resource_type: str | None
    attribute: str


@dataclass(frozen=True)
class Watch:
    """One metric as the service publishes it: its dimension keys, where each value comes from, and
    the documentation that lists them."""

    namespace: str
    metric: str
    dimensions: Mapping[str, From]
    source: str
    """The service's documentation of the metric and its dimensions."""
    confirm: str | None = None
    """What the documentation leaves open; the first deploy confirms it (docs/first-deploy.md)."""


_ALB = "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html"
_AURORA = "https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Aurora.AuroraMonitoring.Metrics.html"
_BACKUP = "https://docs.aws.amazon.com/aws-backup/latest/devguide/cloudwatch.html"
_S3_REPLICATION = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/metrics-dimensions.html"
_LOAD_BALANCER = {"LoadBalancer": From("aws:lb/loadBalancer:LoadBalancer", "arnSuffix")}
_DB_INSTANCE = {"DBInstanceIdentifier": From("aws:rds/clusterInstance:ClusterInstance", "identifier")}
_DB_CLUSTER = {"DBClusterIdentifier": From("aws:rds/cluster:Cluster", "clusterIdentifier")}
_FIREHOSE = "https://docs.aws.amazon.com/firehose/latest/dev/monitoring-with-cloudwatch-metrics.html"
_DELIVERY_STREAM = {"DeliveryStreamName": From("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream", "name")}
_BACKUP_VAULT = {"BackupVaultName": From("aws:backup/vault:Vault", "name")}
_REPLICATION_RULE = {
    "SourceBucket": From("aws:s3/bucket:Bucket", "bucket"),
    "DestinationBucket": From("aws:s3/bucket:Bucket", "bucket"),
    "RuleId": From("aws:s3/bucketReplicationConfig:BucketReplicationConfig", "rules[].id"),
}
_GLOBAL_DB_OPEN = (
    "the dimension set (DBClusterIdentifier alone, or with SourceRegion) and whether a secondary "
    "cluster without an instance (pilot light) publishes it"
)
_BACKUP_OPEN = "whether job counts are published per BackupVaultName alone or only with ResourceType"

WATCHES: tuple[Watch, ...] = (
    Watch("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", _LOAD_BALANCER, _ALB),
    Watch("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", _LOAD_BALANCER, _ALB),
    Watch("AWS/ApplicationELB", "RequestCount", _LOAD_BALANCER, _ALB),
    Watch("AWS/ApplicationELB", "TargetResponseTime", _LOAD_BALANCER, _ALB),
    Watch(
        "AWS/ApplicationELB",
        "UnHealthyHostCount",
        {"TargetGroup": From("aws:lb/targetGroup:TargetGroup", "arnSuffix"), **_LOAD_BALANCER},
        _ALB,
    ),
    Watch(
        "AWS/EC2",
        "CPUUtilization",
        {"AutoScalingGroupName": From("aws:autoscaling/group:Group", "name")},
        "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/viewing_metrics_with_cloudwatch.html",
    ),
    Watch(
        "Fintech/App",
        "DependencyHealthy",
        {"Service": From("fintech:app:Compute", "(name)")},
        "components/site/compute.py (DEPENDENCY_METRIC_NAMESPACE: the app instances publish it)",
    ),
    Watch(
        "AWS/Lambda",
        "Errors",
        {"FunctionName": From("aws:lambda/function:Function", "name")},
        "https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html",
    ),
    Watch(
        "AWS/WAFV2",
        "BlockedRequests",
        # The web ACL's visibility-config metric name, not its name; no Region for CloudFront.
        {"WebACL": From("aws:wafv2/webAcl:WebAcl", "visibilityConfig.metricName"), "Rule": From(None, "ALL")},
        "https://docs.aws.amazon.com/waf/latest/developerguide/waf-metrics.html",
    ),
    Watch(
        "AWS/Route53",
        "HealthCheckStatus",
        {"HealthCheckId": From("aws:route53/healthCheck:HealthCheck", "(id)")},
        ROUTE53_HEALTH_CHECKS,
    ),
    Watch(
        "AWS/CloudFront",
        "5xxErrorRate",
        {"DistributionId": From("aws:cloudfront/distribution:Distribution", "id"), "Region": From(None, "Global")},
        "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/programming-cloudwatch-metrics.html",
    ),
    Watch("AWS/RDS", "CPUUtilization", _DB_INSTANCE, _AURORA),
    Watch("AWS/RDS", "FreeableMemory", _DB_INSTANCE, _AURORA),
    Watch("AWS/RDS", "DatabaseConnections", _DB_INSTANCE, _AURORA),
    Watch("AWS/RDS", "AuroraReplicaLagMaximum", _DB_CLUSTER, _AURORA),
    Watch("AWS/RDS", "AuroraGlobalDBRPOLag", _DB_CLUSTER, _AURORA, confirm=_GLOBAL_DB_OPEN),
    Watch("AWS/RDS", "AuroraGlobalDBReplicationLag", _DB_CLUSTER, _AURORA, confirm=_GLOBAL_DB_OPEN),
    Watch("AWS/Backup", "NumberOfBackupJobsFailed", _BACKUP_VAULT, _BACKUP, confirm=_BACKUP_OPEN),
    Watch("AWS/Backup", "NumberOfCopyJobsFailed", _BACKUP_VAULT, _BACKUP, confirm=_BACKUP_OPEN),
    Watch("AWS/Backup", "NumberOfRestoreJobsFailed", _BACKUP_VAULT, _BACKUP, confirm=_BACKUP_OPEN),
    Watch("AWS/Backup", "NumberOfBackupJobsCompleted", _BACKUP_VAULT, _BACKUP, confirm=_BACKUP_OPEN),
    Watch(
        "AWS/Events",
        "FailedInvocations",
        {"RuleName": From("aws:cloudwatch/eventRule:EventRule", "name")},
        "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html",
    ),
    Watch("AWS/Firehose", "DeliveryToS3.DataFreshness", _DELIVERY_STREAM, _FIREHOSE),
    Watch("AWS/Firehose", "DeliveryToS3.Success", _DELIVERY_STREAM, _FIREHOSE),
    Watch("AWS/S3", "OperationsFailedReplication", _REPLICATION_RULE, _S3_REPLICATION),
    Watch("AWS/S3", "ReplicationLatency", _REPLICATION_RULE, _S3_REPLICATION),
    # The rotation function's log, counted by a metric filter (ROTATION_UNCONFIRMED), without dimensions.
    Watch(
        ROTATION_METRICS_NAMESPACE,
        ROTATION_UNCONFIRMED_METRIC,
        {},
        "components/site/monitoring.py (ROTATION_UNCONFIRMED: a metric filter)",
    ),
    # The trail's metric filters publish these, without dimensions (TRAIL_FILTERS, SECURITY_HUB_CLOUDWATCH).
    *(
        Watch(TRAIL_METRICS_NAMESPACE, f.metric, {}, "components/site/monitoring.py (TRAIL_FILTERS: metric filters)")
        for f in TRAIL_FILTERS
    ),
)


def watch_of(metric: Metric) -> Watch | None:
    """The table's row of ``metric``: same namespace, name and dimension keys; None if it has none."""
    for watch in WATCHES:
        if (watch.namespace, watch.metric, set(watch.dimensions)) == (
            metric.namespace,
            metric.name,
            set(metric.dimensions),
        ):
            return watch
    return None


def check_watched(specs: Sequence[AlarmSpec]) -> None:
    """Refuse an alarm on a metric the table (``WATCHES``) does not list with these dimension keys,
    or one without its reason for what missing data means."""
    problems = [
        f"{spec.key}: {m.namespace} {m.name} {sorted(m.dimensions)} is not in WATCHES"
        for spec in specs
        for m in ((spec.metric,) if spec.metric else spec.inputs)
        if watch_of(m) is None
    ]
    problems += [
        f"{spec.key}: no reason for treat_missing_data" for spec in specs if not spec.missing_data_reason.strip()
    ]
    if problems:
        raise ValueError("alarms on unlisted metrics: " + "; ".join(problems))


# What reaches the alert topic through EventBridge, by rule key. AWS Backup's own events ("Monitoring
# AWS Backup events using Amazon EventBridge", BACKUP_EVENTS): backup and copy jobs report ``state``,
# restore jobs (restore tests included) ``status``; "Completed with issues" (an S3 backup that skipped
# objects) is "COMPLETED jobs that have a status message", backup jobs only, and a job without issues
# has none (PENDING ones carry an empty one). Plans and vaults report CREATED, MODIFIED or DELETED
# (a vault's MODIFIED carries ``isLocked``). A deleted selection or lock has no event of its own: its
# API call does, "AWS API Call via CloudTrail", which EventBridge receives only where a CloudTrail
# trail records management events (CLOUDTRAIL_EVENTS); CloudTrail records refused calls too.
BACKUP_EVENTS = "https://docs.aws.amazon.com/aws-backup/latest/devguide/eventbridge.html"
CLOUDTRAIL_EVENTS = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-cloudtrail.html"
JOB_FAILED_STATES = ("FAILED", "ABORTED", "EXPIRED", "PARTIAL")
BACKUP_DELETIONS = (
    "DeleteBackupVaultLockConfiguration",
    "DeleteBackupPlan",
    "DeleteBackupSelection",
    "DeleteBackupVault",
)
# A key's deletion, disabling or new policy makes every point encrypted with it unreadable or at risk
# (KMS CloudTrail entries name the key's ARN in ``resources[].ARN``: "ScheduleKeyDeletion", KMS guide).
KEY_CHANGES = ("ScheduleKeyDeletion", "DisableKey", "PutKeyPolicy")
_API_CALL = "AWS API Call via CloudTrail"

BACKUP_FAILURE_PATTERNS: dict[str, dict[str, Any]] = {
    "backup-job-failures": {
        "source": ["aws.backup"],
        "$or": [
            {
                "detail-type": ["Backup Job State Change", "Copy Job State Change"],
                "detail": {"state": list(JOB_FAILED_STATES)},
            },
            {
                "detail-type": ["Backup Job State Change"],
                "detail": {"state": ["COMPLETED"], "statusMessage": [{"anything-but": [""]}]},
            },
        ],
    },
    "restore-job-failures": {
        "source": ["aws.backup"],
        "detail-type": ["Restore Job State Change"],
        "detail": {"status": ["FAILED", "ABORTED"]},
    },
    "backup-changes": {
        "source": ["aws.backup"],
        "detail-type": ["Backup Plan State Change", "Backup Vault State Change"],
        "detail": {"state": ["MODIFIED", "DELETED"]},
    },
    "backup-deletions": {
        "source": ["aws.backup"],
        "detail-type": [_API_CALL],
        "detail": {"eventSource": ["backup.amazonaws.com"], "eventName": list(BACKUP_DELETIONS)},
    },
}


def key_change_pattern(key_arns: Sequence[str]) -> dict[str, Any]:
    """KMS API calls that take the keys of ``key_arns`` away: deletion, disabling, a new key policy."""
    return {
        "source": ["aws.kms"],
        "detail-type": [_API_CALL],
        "detail": {
            "eventSource": ["kms.amazonaws.com"],
            "eventName": list(KEY_CHANGES),
            "resources": {"ARN": sorted(key_arns)},
        },
    }


# AWS Backup Audit Manager controls ("Choosing your controls", BACKUP_CONTROLS; parameter names as the
# AWS Config rules behind them take them: backup-plan-min-frequency-and-min-retention-check,
# aurora-resources-protected-by-backup-plan's crossRegionList, a comma-separated list of regions).
# Scoped to Aurora where a scope applies: every Aurora cluster of a site's region is its payments
# cluster, while S3 there also holds buckets not backed up by design (logs, Lambda artifacts), which
# would stay non-compliant and teach everyone to ignore the report; the archives' coverage is the
# policy pack's (prod-backups-locked) and the daily-jobs alarm's.
BACKUP_CONTROLS = "https://docs.aws.amazon.com/aws-backup/latest/devguide/choosing-controls.html"
AUDITED_RESOURCE_TYPES = ("Aurora",)


def backup_audit_controls(audit: BackupAudit) -> list[tuple[str, dict[str, str], tuple[str, ...]]]:
    """(control name, input parameters, scope's resource types) of each control of the framework."""
    return [
        ("BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN", {}, AUDITED_RESOURCE_TYPES),
        (
            "BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK",
            {
                "requiredFrequencyUnit": "days",
                "requiredFrequencyValue": "1",
                "requiredRetentionDays": str(audit.min_retention_days),
            },
            (),
        ),
        # No role may delete points manually (no exception roles: the vault policy denies everyone).
        ("BACKUP_RECOVERY_POINT_MANUAL_DELETION_DISABLED", {}, ()),
        ("BACKUP_RESOURCES_PROTECTED_BY_CROSS_REGION", {"crossRegionList": audit.copy_region}, AUDITED_RESOURCE_TYPES),
    ]


def backup_audit_framework(
    parent: pulumi.Resource,
    name: str,
    audit: BackupAudit,
    *,
    physical_name: str,
    opts: pulumi.ResourceOptions | None = None,
) -> aws.backup.Framework:
    """The AWS Backup Audit Manager framework of ``backup_audit_controls``, under ``parent`` (the
    site's monitoring, or its account baseline, which orders it after AWS Config records)."""
    return aws.backup.Framework(
        f"{name}-backup-audit",
        name=physical_name.replace("-", "_"),
        description="Every cluster in a daily plan copied to the other region; locked vaults; retention",
        controls=[
            aws.backup.FrameworkControlArgs(
                name=control,
                input_parameters=[
                    aws.backup.FrameworkControlInputParameterArgs(name=k, value=v) for k, v in parameters.items()
                ]
                or None,
                scope=aws.backup.FrameworkControlScopeArgs(compliance_resource_types=list(types)) if types else None,
            )
            for control, parameters, types in backup_audit_controls(audit)
        ],
        opts=pulumi.ResourceOptions.merge(pulumi.ResourceOptions(parent=parent), opts),
    )


TIER_OF = {
    "AWS/CloudFront": "Edge",
    "AWS/WAFV2": "Edge",
    # The origin's Route 53 health checks (components/between/origin_dns.py), in us-east-1.
    "AWS/Route53": "Edge",
    "AWS/ApplicationELB": "Load balancer",
    "AWS/EC2": "App",
    # Published by the app instances (components/site/compute.py DEPENDENCY_METRIC_NAMESPACE).
    "Fintech/App": "App",
    "AWS/Lambda": "Secrets",
    # The rotation function's log, counted by a metric filter (ROTATION_UNCONFIRMED).
    ROTATION_METRICS_NAMESPACE: "Secrets",
    "AWS/RDS": "Database",
    "AWS/Backup": "Backup",
    # EventBridge rules notifying failed AWS Backup jobs (their failed deliveries).
    "AWS/Events": "Backup",
    "AWS/S3": "Replication",
    "AWS/Firehose": "Audit trail",
    # The trail's metric filters (TRAIL_FILTERS).
    TRAIL_METRICS_NAMESPACE: "Audit trail",
}


def dashboard_body(stack_region: str, resolved: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One row of graphs per tier, one graph per alarm, in the region its metrics live in."""
    widgets: list[dict[str, Any]] = []
    by_tier: dict[str, list[dict[str, Any]]] = {}
    for item in resolved:
        by_tier.setdefault(item["tier"], []).append(item)
    y = 0
    for tier in (
        "Edge",
        "Load balancer",
        "App",
        "Database",
        "Global database",
        "Replication",
        "Secrets",
        "Backup",
        "Audit trail",
    ):
        items = by_tier.get(tier, [])
        if not items:
            continue
        widgets.append(
            {"type": "text", "x": 0, "y": y, "width": 24, "height": 1, "properties": {"markdown": f"## {tier}"}}
        )
        y += 1
        for i, item in enumerate(items):
            metrics = [
                [
                    m["namespace"],
                    m["name"],
                    *[x for kv in sorted(m["dimensions"].items()) for x in kv],
                    {"stat": m["stat"]},
                ]
                for m in item["metrics"]
            ]
            widgets.append(
                {
                    "type": "metric",
                    "x": (i % 3) * 8,
                    "y": y + (i // 3) * 6,
                    "width": 8,
                    "height": 6,
                    "properties": {
                        "title": item["key"],
                        "region": EDGE_REGION if item["where"] == "edge" else stack_region,
                        "metrics": metrics,
                        "period": item["metrics"][0]["period"],
                        "view": "timeSeries",
                    },
                }
            )
        y += ((len(items) + 2) // 3) * 6
    return {"widgets": widgets}
