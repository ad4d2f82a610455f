"""Monitoring tier as declared: topics that reach a person, alarms on real metrics, dashboard, archive."""

import json
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime.sync_await import _sync_await

from components.site.monitoring import (
    WATCHES,
    AlarmSpec,
    From,
    Metric,
    MonitoringArgs,
    Thresholds,
    Watched,
    WatchedReplicationRule,
    alarm_specs,
    check_watched,
    dashboard_body,
    delivery_alarms,
)
from offline.harness import ResourceRecord, StackRun, run_stack
from tests.helpers import doc, record_by_output

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TOPIC = "aws:sns/topic:Topic"

# Metrics each service publishes and the dimensions the alarms must use for them
# (AWS docs: ALB, EC2 Auto Scaling, RDS/Aurora, Lambda, WAFv2 for CloudFront, CloudFront).
KNOWN_METRICS: dict[tuple[str, str], set[str]] = {
    ("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count"): {"LoadBalancer"},
    ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count"): {"LoadBalancer"},
    ("AWS/ApplicationELB", "RequestCount"): {"LoadBalancer"},
    ("AWS/ApplicationELB", "TargetResponseTime"): {"LoadBalancer"},
    ("AWS/ApplicationELB", "UnHealthyHostCount"): {"LoadBalancer", "TargetGroup"},
    ("AWS/EC2", "CPUUtilization"): {"AutoScalingGroupName"},
    ("AWS/RDS", "CPUUtilization"): {"DBInstanceIdentifier"},
    ("AWS/RDS", "FreeableMemory"): {"DBInstanceIdentifier"},
    ("AWS/RDS", "DatabaseConnections"): {"DBInstanceIdentifier"},
    ("AWS/RDS", "AuroraReplicaLagMaximum"): {"DBClusterIdentifier"},
    ("AWS/Lambda", "Errors"): {"FunctionName"},
    ("AWS/WAFV2", "BlockedRequests"): {"WebACL", "Rule"},
    # AWS Backup "Monitoring AWS Backup metrics with CloudWatch": job counts per vault.
    ("AWS/Backup", "NumberOfBackupJobsFailed"): {"BackupVaultName"},
    ("AWS/Backup", "NumberOfCopyJobsFailed"): {"BackupVaultName"},
    ("AWS/Backup", "NumberOfRestoreJobsFailed"): {"BackupVaultName"},
    ("AWS/Backup", "NumberOfBackupJobsCompleted"): {"BackupVaultName"},
    ("AWS/CloudFront", "5xxErrorRate"): {"DistributionId", "Region"},
    # Published by the app instances' health service (components/site/templates/health_server.py).
    ("Fintech/App", "DependencyHealthy"): {"Service"},
    # Aurora global database, cluster level, in the secondary's region only ("Amazon CloudWatch
    # metrics for Amazon Aurora").
    ("AWS/RDS", "AuroraGlobalDBRPOLag"): {"DBClusterIdentifier"},
    ("AWS/RDS", "AuroraGlobalDBReplicationLag"): {"DBClusterIdentifier"},
    # S3 replication metrics, per rule ("Using S3 Replication metrics"; dimensions as S3 publishes them).
    ("AWS/S3", "OperationsFailedReplication"): {"SourceBucket", "DestinationBucket", "RuleId"},
    ("AWS/S3", "ReplicationLatency"): {"SourceBucket", "DestinationBucket", "RuleId"},
    # EventBridge, per rule ("Monitoring Amazon EventBridge": FailedInvocations, dimension RuleName).
    ("AWS/Events", "FailedInvocations"): {"RuleName"},
    # Firehose, per delivery stream ("Monitoring Amazon Data Firehose with CloudWatch metrics").
    ("AWS/Firehose", "DeliveryToS3.DataFreshness"): {"DeliveryStreamName"},
    ("AWS/Firehose", "DeliveryToS3.Success"): {"DeliveryStreamName"},
    # Route 53 health checks, in us-east-1 only ("Monitoring health checks using CloudWatch").
    ("AWS/Route53", "HealthCheckStatus"): {"HealthCheckId"},
    # The rotation function's log, counted by a metric filter (monitoring.ROTATION_UNCONFIRMED).
    ("Fintech/Rotation", "RotationsUnconfirmedByPeer"): set(),
    # The trail's metric filters (Security Hub CloudWatch.1-14), published without dimensions.
    **{
        ("Fintech/AuditTrail", metric): set()
        for metric in (
            "RootAccountUsage",
            "UnauthorizedAPICalls",
            "ConsoleSigninWithoutMFA",
            "IAMPolicyChanges",
            "CloudTrailChanges",
            "ConsoleAuthenticationFailure",
            "DisableOrDeleteCMK",
            "S3BucketPolicyChanges",
            "AWSConfigChanges",
            "SecurityGroupChanges",
            "NetworkACLChanges",
            "NetworkGatewayChanges",
            "RouteTableChanges",
            "VPCChanges",
        )
    },
}
EDGE_NAMESPACES = {"AWS/WAFV2", "AWS/CloudFront"}
# The home site's alarms on the stack's trail, one per Security Hub CloudWatch control (1-14).
CIS_ALARM_KEYS = (
    "root-user",
    "unauthorized-api-calls",
    "console-signin-without-mfa",
    "iam-policy-changes",
    "cloudtrail-changes",
    "console-auth-failures",
    "kms-key-disabled-or-deleted",
    "s3-bucket-policy-changes",
    "config-changes",
    "security-group-changes",
    "nacl-changes",
    "network-gateway-changes",
    "route-table-changes",
    "vpc-changes",
)

# The Monitoring tier of a second site alone: eu-central-1, no edge, a global-database member,
# S3 replication both ways.
SECOND_SITE_PROGRAM = Path(__file__).parent / "programs" / "monitoring_program.py"
REPO = Path(__file__).resolve().parents[2]
SECOND_SITE_REGION = "eu-central-1"


@pytest.fixture(scope="module")
def second_site() -> StackRun:
    return run_stack("prod", program=SECOND_SITE_PROGRAM)


@pytest.fixture(params=["dev", "prod", "second-site"])
def any_site(request: pytest.FixtureRequest) -> StackRun:
    """Each shipped stack, then a second site's Monitoring alone: properties every site must have."""
    run: StackRun = request.getfixturevalue("second_site" if request.param == "second-site" else request.param)
    return run


def alarms(run: StackRun) -> dict[str, ResourceRecord]:
    """The monitoring tiers' alarms by key (the origin's health-check alarm is OriginFailover's)."""
    return {a.name.split("-monitoring-", 1)[1]: a for a in run.of_type(ALARM) if "-monitoring-" in a.name}


def metrics_of(alarm: ResourceRecord) -> list[dict[str, Any]]:
    if "metricQueries" in alarm.inputs:
        return [
            {
                "namespace": q["metric"]["namespace"],
                "name": q["metric"]["metricName"],
                "dimensions": q["metric"]["dimensions"],
            }
            for q in alarm.inputs["metricQueries"]
            if "metric" in q
        ]
    return [
        {
            "namespace": alarm.inputs["namespace"],
            "name": alarm.inputs["metricName"],
            "dimensions": alarm.inputs["dimensions"],
        }
    ]


def topic(run: StackRun, output: str) -> ResourceRecord:
    return record_by_output(run, run.outputs[output])


def test_the_expected_alarms_exist(dev: StackRun, prod: StackRun) -> None:
    common = {
        "alb-5xx-rate",
        "target-5xx-rate",
        "target-latency-p99",
        "unhealthy-hosts",
        "asg-cpu",
        "rotation-errors",
        "waf-blocked-spike",
        "cloudfront-5xx-rate",
        "app-dependencies",
        "archive-delivery-freshness",
        "archive-delivery-success",
        # The home site's CIS alarms on the stack's trail (test_audit_trail.py).
        *(f"cis-{key}" for key in CIS_ALARM_KEYS),
    }
    per_instance = {"db-{}-cpu", "db-{}-freeable-memory", "db-{}-connections"}
    assert set(alarms(dev)) == common | {p.format(0) for p in per_instance}
    backup = {"backup-jobs-failed", "copy-jobs-failed", "restore-jobs-failed", "backup-jobs-missing"} | {
        f"{rule}-undelivered"
        for rule in (
            "backup-job-failures",
            "restore-job-failures",
            "backup-changes",
            "backup-deletions",
            "key-changes",
        )
    }
    # prod's cluster is in a global database (its lag, once it is the secondary) and its archives
    # replicate both ways (failures of what leaves, latency of what arrives).
    standby = {"db-global-rpo-lag", "db-global-replication-lag"} | {
        f"replication-{purpose}-{what}" for purpose in ("data", "audit") for what in ("failures", "latency")
    }
    # With a peer region, a rotation the other region did not confirm (test_rotation_sites.py).
    standby |= {"rotation-unconfirmed"}
    assert set(alarms(prod)) == (
        common | {p.format(i) for p in per_instance for i in (0, 1)} | {"db-replica-lag"} | backup | standby
    ), "prod watches its backups and its standby; dev has none"


def test_every_alarm_notifies_the_topic_of_its_region(stack_run: StackRun) -> None:
    stack_topic, edge_topic = stack_run.outputs["alert_topic_arn"], stack_run.outputs["edge_alert_topic_arn"]
    for key, alarm in alarms(stack_run).items():
        edge = {m["namespace"] for m in metrics_of(alarm)} <= EDGE_NAMESPACES
        expected = edge_topic if edge else stack_topic
        assert alarm.inputs["alarmActions"] == [expected], key
        assert alarm.inputs["okActions"] == [expected], key
        assert alarm.inputs.get("region") == ("us-east-1" if edge else None), key
        assert record_by_output(stack_run, expected).inputs.get("region") == alarm.inputs.get("region")


def test_every_alarm_watches_a_real_metric_with_its_dimensions(any_site: StackRun) -> None:
    for key, alarm in alarms(any_site).items():
        for metric in metrics_of(alarm):
            required = KNOWN_METRICS.get((metric["namespace"], metric["name"]))
            assert required is not None, f"{key}: {metric['namespace']}/{metric['name']} is not a known metric"
            assert set(metric["dimensions"]) == required, key
            assert all(metric["dimensions"].values()), f"{key}: empty dimension"


def test_alarm_dimensions_point_at_this_stacks_resources(stack_run: StackRun) -> None:
    by_key = alarms(stack_run)
    alb = stack_run.one("aws:lb/loadBalancer:LoadBalancer")
    assert metrics_of(by_key["target-latency-p99"])[0]["dimensions"] == {"LoadBalancer": alb.state["arnSuffix"]}
    assert by_key["target-latency-p99"].inputs["extendedStatistic"] == "p99"
    assert metrics_of(by_key["asg-cpu"])[0]["dimensions"] == {"AutoScalingGroupName": stack_run.outputs["asg_name"]}
    fn = stack_run.one("aws:lambda/function:Function")
    assert metrics_of(by_key["rotation-errors"])[0]["dimensions"] == {"FunctionName": fn.state["name"]}
    instance = stack_run.of_type("aws:rds/clusterInstance:ClusterInstance")[0]
    assert metrics_of(by_key["db-0-cpu"])[0]["dimensions"] == {"DBInstanceIdentifier": instance.state["identifier"]}


def test_the_waf_alarm_and_its_widget_watch_the_web_acls_metric_name(stack_run: StackRun) -> None:
    """WAF publishes under the metric name of the web ACL's visibility config ("AWS WAF metrics and
    dimensions"; API "VisibilityConfig": MetricName is "a name of the Amazon CloudWatch metric
    dimension"), for all rules as Rule=ALL, with no Region dimension for a CloudFront web ACL."""
    acl = stack_run.one("aws:wafv2/webAcl:WebAcl")
    expected = {"WebACL": acl.inputs["visibilityConfig"]["metricName"], "Rule": "ALL"}
    assert acl.state["name"] != expected["WebACL"], "the web ACL's name is autonamed: not what WAF publishes under"
    assert metrics_of(alarms(stack_run)["waf-blocked-spike"])[0]["dimensions"] == expected
    body = json.loads(stack_run.one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"])
    waf = [w for w in body["widgets"] if w["type"] == "metric" and w["properties"]["metrics"][0][0] == "AWS/WAFV2"]
    assert waf
    for widget in waf:
        assert widget["properties"]["region"] == "us-east-1"
        for metric in widget["properties"]["metrics"]:
            assert dict(zip(metric[2:-1:2], metric[3:-1:2], strict=True)) == expected


def test_the_waf_alarm_watches_the_metric_name_it_is_given_under_rule_all_without_region() -> None:
    """The web ACL's metric name goes into WebACL unchanged, every rule is Rule=ALL, and a CloudFront
    web ACL's metrics have no Region dimension ("AWS WAF metrics and dimensions")."""
    w = watched(web_acl_metric_name="fintech-prod-edge-waf")
    (spec,) = [s for s in alarm_specs(w, Thresholds()) if s.key == "waf-blocked-spike"]
    assert spec.metric is not None
    assert (spec.metric.namespace, spec.metric.name) == ("AWS/WAFV2", "BlockedRequests")
    assert dict(spec.metric.dimensions) == {"WebACL": "fintech-prod-edge-waf", "Rule": "ALL"}
    assert spec.where == "edge"
    resolved = {
        "key": spec.key,
        "where": spec.where,
        "tier": "Edge",
        "metrics": [
            {
                "namespace": "AWS/WAFV2",
                "name": "BlockedRequests",
                "stat": "Sum",
                "period": 300,
                "dimensions": dict(spec.metric.dimensions),
            }
        ],
    }
    (widget,) = [x for x in dashboard_body("eu-west-1", [resolved])["widgets"] if x["type"] == "metric"]
    assert widget["properties"]["region"] == "us-east-1"
    assert widget["properties"]["metrics"] == [
        ["AWS/WAFV2", "BlockedRequests", "Rule", "ALL", "WebACL", "fintech-prod-edge-waf", {"stat": "Sum"}]
    ]


# What silence means, per alarm: a database instance or the fleet that stops reporting is down
# (breaching); no requests, no rotation runs or no attack is quiet, not broken (notBreaching).
MISSING_DATA = {
    "alb-5xx-rate": "notBreaching",
    "target-5xx-rate": "notBreaching",
    "target-latency-p99": "notBreaching",
    "unhealthy-hosts": "notBreaching",
    # The shipped sites' groups never scale to zero (a pilot-light standby's does: see below).
    "asg-cpu": "breaching",
    "rotation-errors": "notBreaching",
    "rotation-unconfirmed": "notBreaching",
    "waf-blocked-spike": "notBreaching",
    "cloudfront-5xx-rate": "notBreaching",
    "db-replica-lag": "notBreaching",
    # Every app instance reports twice a minute and the fleet never scales to zero.
    "app-dependencies": "breaching",
    # Jobs run a few times a day: no data is no job.
    "backup-jobs-failed": "notBreaching",
    "copy-jobs-failed": "notBreaching",
    "restore-jobs-failed": "notBreaching",
    # EventBridge publishes FailedInvocations only when a delivery fails: silence is success.
    "backup-job-failures-undelivered": "notBreaching",
    "restore-job-failures-undelivered": "notBreaching",
    "backup-changes-undelivered": "notBreaching",
    "backup-deletions-undelivered": "notBreaching",
    "key-changes-undelivered": "notBreaching",
    # The plan runs a backup job a day per store: a day without a completed job is a stopped backup.
    "backup-jobs-missing": "breaching",
    # Flow logs feed the audit archive's stream every minute: silence is a broken delivery.
    "archive-delivery-freshness": "breaching",
    "archive-delivery-success": "breaching",
    # Aurora publishes the lag only while this site's cluster is the secondary: at the primary
    # site silence is normal, and the alarms must follow a switchover without a deploy.
    "db-global-rpo-lag": "notBreaching",
    "db-global-replication-lag": "notBreaching",
    # A metric filter publishes only when an event matches: no datapoint is no such call.
    **{f"cis-{key}": "notBreaching" for key in CIS_ALARM_KEYS},
}
DB_INSTANCE_ALARMS = ("cpu", "freeable-memory", "connections")
# S3 "Metrics and dimensions": treat missing replication data as ignore (keep the alarm state):
# failures are published only while objects replicate, so a quiet hour neither raises nor clears.
REPLICATION_MISSING_DATA = "ignore"


def expected_missing_data(key: str) -> str | None:
    if key.startswith("db-") and key.split("-", 2)[2] in DB_INSTANCE_ALARMS:
        return "breaching"
    if key.startswith("replication-") and key.endswith(("-failures", "-latency")):
        return REPLICATION_MISSING_DATA
    return MISSING_DATA.get(key)


def test_every_alarm_decides_what_missing_data_means(any_site: StackRun) -> None:
    for key, alarm in alarms(any_site).items():
        expected = expected_missing_data(key)
        assert expected is not None, f"{key}: add what missing data means to MISSING_DATA"
        assert alarm.inputs["treatMissingData"] == expected, key


# prod as the program can shape it: each standby mode, and either region primary.
PROD_VARIANTS = {
    "warm": {"standbyMode": "warm"},
    "pilot-light": {"standbyMode": "pilot-light"},
    "standby-primary": {"primaryRegion": "eu-central-1"},
    "standby-primary-pilot-light": {"primaryRegion": "eu-central-1", "standbyMode": "pilot-light"},
}


@pytest.fixture(scope="module", params=sorted(PROD_VARIANTS))
def prod_variant(request: pytest.FixtureRequest) -> StackRun:
    """Both sites of prod in one of its shapes (standby mode, primary region)."""
    return run_stack("prod", PROD_VARIANTS[request.param])


def test_no_alarm_pages_on_the_silence_of_what_its_site_does_not_run(prod_variant: StackRun) -> None:
    """A pilot-light standby runs no app instance (and no database instance): an alarm that treats
    their silence as breaching pages forever and hides a real alarm after failover. Where the group
    always runs an instance, silence is a fleet that is down and must page."""
    for site in (prod_variant.home(), prod_variant.standby()):
        (group,) = site.of_type("aws:autoscaling/group:Group")
        runs_instances = group.inputs["minSize"] >= 1
        instances = {i.state["identifier"] for i in site.of_type("aws:rds/clusterInstance:ClusterInstance")}
        by_key = alarms(site)
        assert by_key["asg-cpu"].inputs["treatMissingData"] == ("breaching" if runs_instances else "notBreaching")
        for key, alarm in by_key.items():
            if alarm.inputs["treatMissingData"] != "breaching":
                continue
            for metric in metrics_of(alarm):
                if metric["namespace"] in ("AWS/EC2", "Fintech/App"):
                    assert runs_instances, f"{group.region} {key}: pages on the silence of an empty app group"
                if "DBInstanceIdentifier" in metric["dimensions"]:
                    assert metric["dimensions"]["DBInstanceIdentifier"] in instances, f"{group.region} {key}"


def attribute_values(run: StackRun, source: From) -> set[str]:
    """Every value ``source`` names in ``run``: the literal, or the attribute of each resource of its type."""
    if source.resource_type is None:
        return {source.attribute}
    values: set[str] = set()
    for record in run.of_type(source.resource_type):
        if source.attribute in ("(name)", "(id)"):
            values.add(record.name if source.attribute == "(name)" else record.id)
            continue
        found: list[Any] = [record.state]
        for part in source.attribute.split("."):
            key, many = part.removesuffix("[]"), part.endswith("[]")
            found = [v for f in found if isinstance(f, dict) and key in f for v in (f[key] if many else [f[key]])]
        values |= {str(v) for v in found}
    return values


def test_the_table_lists_each_metric_with_the_dimensions_its_service_documents() -> None:
    """WATCHES (the one place that says what each alarm watches) agrees with the dimension sets the
    services' documentation lists (KNOWN_METRICS), and names its source."""
    rows = {(w.namespace, w.metric): w for w in WATCHES}
    assert len(rows) == len(WATCHES), "one row per metric"
    for (namespace, metric), watch in rows.items():
        assert set(watch.dimensions) == KNOWN_METRICS[(namespace, metric)], (namespace, metric)
        assert watch.source.startswith(("https://docs.aws.amazon.com/", "components/")), (namespace, metric)


@pytest.fixture(params=["dev", "prod-both-sites", "second-site"])
def every_shape(request: pytest.FixtureRequest) -> StackRun:
    """dev, prod (both sites, as shipped) and a second site's Monitoring alone."""
    if request.param == "prod-both-sites":
        return run_stack("prod")
    run: StackRun = request.getfixturevalue("dev" if request.param == "dev" else "second_site")
    return run


def assert_every_alarm_matches_a_row(run: StackRun, *, values: bool) -> None:
    """Every alarm of the run, whichever component declares it."""
    rows = {(w.namespace, w.metric, frozenset(w.dimensions)): w for w in WATCHES}
    for key, alarm in {a.name: a for a in run.of_type(ALARM)}.items():
        for metric in metrics_of(alarm):
            watch = rows.get((metric["namespace"], metric["name"], frozenset(metric["dimensions"])))
            assert watch is not None, f"{alarm.name}: {metric} has no row in WATCHES"
            if not values:
                continue
            for dimension, value in metric["dimensions"].items():
                source = watch.dimensions[dimension]
                assert value in attribute_values(run, source), (
                    f"{key}: {dimension}={value!r} is not the {source.attribute} of any {source.resource_type}"
                )


def test_every_alarm_watches_a_row_of_the_table_with_values_from_its_resources(every_shape: StackRun) -> None:
    # The second site's program hands over names of resources it does not declare: keys only.
    assert_every_alarm_matches_a_row(every_shape, values=bool(every_shape.of_type("aws:lb/loadBalancer:LoadBalancer")))


def test_every_alarm_of_each_prod_shape_watches_a_row_of_the_table(prod_variant: StackRun) -> None:
    assert_every_alarm_matches_a_row(prod_variant, values=True)


def test_what_the_documentation_leaves_open_the_first_deploy_confirms() -> None:
    """The Aurora global-database lags and the AWS Backup job counts have no documented dimension
    set: the runbook's last section gives the list-metrics command for each such row."""
    text = (REPO / "docs" / "first-deploy.md").read_text()
    heading = "## Alarm dimensions the documentation leaves open (#23)"
    assert heading in text
    section = text.split(heading, 1)[1]
    open_rows = [w for w in WATCHES if w.confirm]
    assert {(w.namespace, w.metric) for w in open_rows} == {
        ("AWS/RDS", "AuroraGlobalDBRPOLag"),
        ("AWS/RDS", "AuroraGlobalDBReplicationLag"),
        ("AWS/Backup", "NumberOfBackupJobsFailed"),
        ("AWS/Backup", "NumberOfCopyJobsFailed"),
        ("AWS/Backup", "NumberOfRestoreJobsFailed"),
        ("AWS/Backup", "NumberOfBackupJobsCompleted"),
    }
    for watch in open_rows:
        assert "aws cloudwatch list-metrics --region <" in section
        assert f"--namespace {watch.namespace} --metric-name {watch.metric}" in section, watch.metric
        assert f"`{watch.metric}`" in section


def test_every_treat_missing_data_carries_its_reason() -> None:
    rule = WatchedReplicationRule("data", "source", "destination", "rule")
    everything = watched(
        rotation_function_name="rotate",
        web_acl_metric_name="acl",
        distribution_id="E1",
        backup_vault_name="vault",
        app_dependency_metric=("Fintech/App", "DependencyHealthy", {"Service": "app"}),
        global_db=True,
        db_instance_identifiers=["aurora-0", "aurora-1"],
        outgoing_replication=[rule],
        incoming_replication=[rule],
        audit_trail_log_group_name="/fintech/test/cloudtrail",
    )
    for w in (everything, watched(app_min_instances=0)):
        specs = [*alarm_specs(w, Thresholds()), *delivery_alarms({"backup-job-failures": "rule"})]
        for spec in specs:
            assert spec.missing_data_reason.strip(), f"{spec.key}: say why silence is {spec.treat_missing_data}"
        check_watched(specs)
    silent = AlarmSpec("silent", "d", "GreaterThanThreshold", 0, "breaching", " ", metric=specs[0].metric)
    with pytest.raises(ValueError, match="silent: no reason for treat_missing_data"):
        check_watched([silent])
    unlisted = AlarmSpec(
        "made-up",
        "d",
        "GreaterThanThreshold",
        0,
        "breaching",
        "r",
        metric=Metric("AWS/EC2", "CPUUtilization", {"InstanceId": "i-1"}, "Average"),
    )
    with pytest.raises(ValueError, match=r"made-up: AWS/EC2 CPUUtilization \['InstanceId'\] is not in WATCHES"):
        check_watched([unlisted])


def test_every_alarm_acts(any_site: StackRun) -> None:
    """An alarm with actions disabled changes state and tells no one."""
    for key, alarm in alarms(any_site).items():
        assert alarm.inputs["actionsEnabled"] is True, key


def test_thresholds_come_from_settings(stack_run: StackRun) -> None:
    by_key = alarms(stack_run)

    def setting(key: str) -> int:
        return int(stack_run.config[f"payments-platform:{key}"])

    assert by_key["alb-5xx-rate"].inputs["threshold"] == setting("alarmHttp5xxPercent")
    assert by_key["target-latency-p99"].inputs["threshold"] == setting("alarmLatencyP99Ms") / 1000
    assert by_key["asg-cpu"].inputs["threshold"] == setting("alarmAsgCpuPercent")
    assert by_key["db-0-connections"].inputs["threshold"] == setting("alarmDbConnections")
    assert by_key["db-0-freeable-memory"].inputs["threshold"] == setting("alarmDbFreeMemoryMb") * 1024 * 1024
    assert by_key["waf-blocked-spike"].inputs["threshold"] == setting("alarmWafBlockedRequests")


def test_error_rates_ignore_tiny_samples(stack_run: StackRun) -> None:
    (rate,) = [q for q in alarms(stack_run)["target-5xx-rate"].inputs["metricQueries"] if "expression" in q]
    assert rate["expression"] == "IF(m1 >= 20, 100 * m0 / m1, 0)"
    assert rate["returnData"] is True
    assert alarm_value(alarms(stack_run)["alb-5xx-rate"], {"HTTPCode_ELB_5XX_Count": 1, "RequestCount": 5}) == 0


@dataclass(frozen=True)
class Datapoint:
    """One datapoint of a metric-math series; None: no data (CloudWatch reports none without requests)."""

    value: float | bool | None

    def _with(self, other: object, op: Callable[[float, float], float | bool]) -> "Datapoint":
        theirs = other.value if isinstance(other, Datapoint) else other
        if self.value is None or theirs is None:
            return Datapoint(None)
        assert isinstance(theirs, (int, float))
        return Datapoint(op(self.value, theirs))

    def __add__(self, other: object) -> "Datapoint":
        return self._with(other, operator.add)

    __radd__ = __add__

    def __mul__(self, other: object) -> "Datapoint":
        return self._with(other, operator.mul)

    __rmul__ = __mul__

    def __truediv__(self, other: object) -> "Datapoint":
        return self._with(other, lambda a, b: a / b if b else math.nan)

    def __ge__(self, other: object) -> "Datapoint":
        return self._with(other, operator.ge)


def alarm_value(alarm: ResourceRecord, datapoints: dict[str, float | None]) -> float | None:
    """The value a metric-math alarm sees for one period, given each input metric's datapoint (by
    metric name; None: no data), with CloudWatch's IF and FILL."""

    def fill(x: Datapoint, default: float) -> Datapoint:
        return Datapoint(default) if x.value is None else x

    def if_(condition: Datapoint, then: Datapoint | float, otherwise: Datapoint | float) -> Datapoint:
        if condition.value is None:
            return Datapoint(None)
        chosen = then if condition.value else otherwise
        return chosen if isinstance(chosen, Datapoint) else Datapoint(chosen)

    queries = alarm.inputs["metricQueries"]
    names = {q["id"]: Datapoint(datapoints[q["metric"]["metricName"]]) for q in queries if "metric" in q}
    (expression,) = [q["expression"] for q in queries if q.get("returnData")]
    result = eval(expression, {"__builtins__": {}, "IF": if_, "FILL": fill}, names)
    value = result.value if isinstance(result, Datapoint) else result
    return None if value is None else float(value)


def test_the_load_balancers_5xx_rate_fires_when_no_target_is_registered(stack_run: StackRun) -> None:
    """With no target registered the load balancer answers every request 503 itself:
    HTTPCode_ELB_5XX_Count counts them, RequestCount (only requests routed to a target) has no data
    ("CloudWatch metrics for your Application Load Balancer"). The rate must be 100 %, not empty."""
    alarm = alarms(stack_run)["alb-5xx-rate"]
    threshold = alarm.inputs["threshold"]
    no_target = alarm_value(alarm, {"HTTPCode_ELB_5XX_Count": 600, "RequestCount": None})
    assert no_target == 100
    # A routed request the load balancer fails (502 from a crashing target) counts in both metrics.
    all_502 = alarm_value(alarm, {"HTTPCode_ELB_5XX_Count": 600, "RequestCount": 600})
    assert all_502 is not None
    assert all_502 > threshold
    assert alarm_value(alarm, {"HTTPCode_ELB_5XX_Count": None, "RequestCount": 1000}) == 0
    assert alarm_value(alarm, {"HTTPCode_ELB_5XX_Count": 30, "RequestCount": 970}) == pytest.approx(3)
    # No request at all: 0 here, no datapoint in CloudWatch; either way not breaching.
    assert alarm_value(alarm, {"HTTPCode_ELB_5XX_Count": None, "RequestCount": None}) == 0
    assert alarm.inputs["treatMissingData"] == "notBreaching"


@pytest.mark.parametrize(("output", "key_output"), [("alert_topic_arn", "alerts"), ("edge_alert_topic_arn", "alerts")])
def test_topics_are_encrypted_with_an_alerts_cmk(stack_run: StackRun, output: str, key_output: str) -> None:
    t = topic(stack_run, output)
    key = record_by_output(stack_run, t.inputs["kmsMasterKeyId"])
    assert key.type == "aws:kms/key:Key"
    assert key.inputs.get("region") == t.inputs.get("region")
    services = {s["Principal"].get("Service") for s in doc(key)["Statement"]}
    assert "cloudwatch.amazonaws.com" in services, "alarms must be able to publish to the encrypted topic"


def test_only_this_accounts_alarms_and_backup_rules_may_publish(stack_run: StackRun) -> None:
    backups = bool(stack_run.of_type("aws:backup/vault:Vault"))
    for policy in stack_run.of_type("aws:sns/topicPolicy:TopicPolicy"):
        statements = doc(policy)["Statement"]
        publishers = {s["Principal"]["Service"]: s for s in statements if "sns:Publish" in json.dumps(s["Action"])}
        region = policy.inputs.get("region", stack_run.config["aws:region"])
        # EventBridge publishes failed backup jobs, to the stack region's topic only.
        eventbridge = backups and "region" not in policy.inputs
        expected = {"cloudwatch.amazonaws.com": f"arn:aws:cloudwatch:{region}:123456789012:alarm:*"}
        if eventbridge:
            expected["events.amazonaws.com"] = f"arn:aws:events:{region}:123456789012:rule/*"
        assert set(publishers) == set(expected), policy.name
        for service, source_arn in expected.items():
            assert publishers[service]["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}
            assert publishers[service]["Condition"]["ArnLike"]["aws:SourceArn"] == source_arn


_MISSING = object()


def pattern_matches(pattern: dict[str, Any], event: Any) -> bool:
    """EventBridge's matching, as far as the rules use it ("Creating event patterns", "Comparison
    operators"): every field of the pattern must match (AND), ``$or`` any of its patterns, a list
    any of its values or operators (``anything-but``, ``exists``), an array in the event any of its
    elements; a field the event lacks matches only ``exists: false``."""
    for key, condition in pattern.items():
        if key == "$or":
            if not any(pattern_matches(branch, event) for branch in condition):
                return False
            continue
        value = event.get(key, _MISSING) if isinstance(event, dict) else _MISSING
        if isinstance(condition, dict):
            items = value if isinstance(value, list) else [value]
            if not any(isinstance(item, dict) and pattern_matches(condition, item) for item in items):
                return False
            continue
        values = value if isinstance(value, list) else [value]
        if not any(_value_matches(m, v) for m in condition for v in values):
            return False
    return True


def _value_matches(matcher: Any, value: Any) -> bool:
    if isinstance(matcher, dict) and "exists" in matcher:
        return (value is not _MISSING) == bool(matcher["exists"])
    if value is _MISSING:
        return False
    if isinstance(matcher, dict) and "anything-but" in matcher:
        excluded = matcher["anything-but"]
        return value not in (excluded if isinstance(excluded, list) else [excluded])
    assert not isinstance(matcher, dict), f"operator not modelled: {matcher}"
    return bool(matcher == value)


def backup_event(detail_type: str, **detail: Any) -> dict[str, Any]:
    """An AWS Backup event as "Monitoring AWS Backup events using Amazon EventBridge" shows them."""
    return {"source": "aws.backup", "detail-type": detail_type, "resources": [], "detail": detail}


def api_call(source: str, event_source: str, event_name: str, **detail: Any) -> dict[str, Any]:
    """An "AWS API Call via CloudTrail" event: its detail is the CloudTrail record."""
    record = {"eventSource": event_source, "eventName": event_name, "eventType": "AwsApiCall", **detail}
    return {"source": source, "detail-type": "AWS API Call via CloudTrail", "resources": [], "detail": record}


JOB = "Backup Job State Change"
COPY = "Copy Job State Change"
RESTORE = "Restore Job State Change"
# The AWS Backup guide's examples (state, statusMessage) and what must page.
BACKUP_EVENTS: list[tuple[str, dict[str, Any], bool]] = [
    ("backup failed", backup_event(JOB, state="FAILED", statusMessage='"Backup job failed because ..."'), True),
    ("backup aborted", backup_event(JOB, state="ABORTED", statusMessage='"Backup job was stopped by user."'), True),
    ("backup expired", backup_event(JOB, state="EXPIRED", statusMessage='"... a running job ..."'), True),
    ("backup partial", backup_event(JOB, state="PARTIAL"), True),
    # "Completed with issues" is "COMPLETED jobs that have a status message" (backup jobs only).
    (
        "backup completed with issues",
        backup_event(JOB, state="COMPLETED", statusMessage="Some objects were skipped: archived storage class"),
        True,
    ),
    ("backup completed", backup_event(JOB, state="COMPLETED", percentDone=100), False),
    ("backup pending", backup_event(JOB, state="PENDING", statusMessage=""), False),
    ("backup running", backup_event(JOB, state="RUNNING"), False),
    ("copy failed", backup_event(COPY, state="FAILED", statusMessage="Access denied exception ..."), True),
    ("copy completed", backup_event(COPY, state="COMPLETED"), False),
    ("restore failed", backup_event(RESTORE, status="FAILED"), True),
    ("restore aborted", backup_event(RESTORE, status="ABORTED"), True),
    ("restore completed", backup_event(RESTORE, status="COMPLETED"), False),
    # A plan or vault edited or deleted; created is the deploy's own doing.
    ("plan modified", backup_event("Backup Plan State Change", backupPlanId="p", state="MODIFIED"), True),
    ("plan deleted", backup_event("Backup Plan State Change", backupPlanId="p", state="DELETED"), True),
    ("plan created", backup_event("Backup Plan State Change", backupPlanId="p", state="CREATED"), False),
    ("vault modified", backup_event("Backup Vault State Change", backupVaultName="v", state="MODIFIED"), True),
    ("vault deleted", backup_event("Backup Vault State Change", backupVaultName="v", state="DELETED"), True),
    ("vault created", backup_event("Backup Vault State Change", backupVaultName="v", state="CREATED"), False),
    # No state-change event says a selection or a lock is gone: their API calls, through CloudTrail.
    *[
        (f"api {name}", api_call("aws.backup", "backup.amazonaws.com", name), True)
        for name in (
            "DeleteBackupVaultLockConfiguration",
            "DeleteBackupPlan",
            "DeleteBackupSelection",
            "DeleteBackupVault",
        )
    ],
    ("api StartBackupJob", api_call("aws.backup", "backup.amazonaws.com", "StartBackupJob"), False),
]


def notification_rules(run: StackRun) -> dict[str, ResourceRecord]:
    """The monitoring tiers' EventBridge rules by key."""
    rules = run.of_type("aws:cloudwatch/eventRule:EventRule")
    return {r.name.split("-monitoring-", 1)[1]: r for r in rules}


def test_failed_stopped_and_tampered_backups_reach_the_alert_topic(stack_run: StackRun) -> None:
    """Every event of the AWS Backup guide's examples that means a missing or endangered recovery point
    matches exactly one of the site's rules, and nothing else does; each rule targets the site's topic."""
    rules = notification_rules(stack_run)
    if not stack_run.of_type("aws:backup/vault:Vault"):
        assert not rules, "no backups, no backup rules"
        return
    patterns = {key: json.loads(rule.inputs["eventPattern"]) for key, rule in rules.items()}
    for what, event, pages in BACKUP_EVENTS:
        matched = [key for key, pattern in patterns.items() if pattern_matches(pattern, event)]
        assert len(matched) == (1 if pages else 0), f"{what}: matched by {matched}"
    for rule in rules.values():
        (target,) = [
            t for t in stack_run.of_type("aws:cloudwatch/eventTarget:EventTarget") if t.name.startswith(rule.name)
        ]
        assert target.inputs["arn"] == stack_run.outputs["alert_topic_arn"]


def site_keys(run: StackRun, site: str, region: str) -> set[str]:
    """ARNs of the keys a site's Security holds in its own region."""
    return {
        k.state["arn"]
        for k in run.of_type("aws:kms/key:Key")
        if re.fullmatch(rf"{site}-sec-[a-z]+-key", k.name) and k.region == region
    }


def key_event(event_name: str, key_arn: str) -> dict[str, Any]:
    """A KMS call as the KMS guide's CloudTrail examples record it ("ScheduleKeyDeletion": the key's
    ARN in resources[].ARN, the caller's key id in requestParameters)."""
    return api_call(
        "aws.kms",
        "kms.amazonaws.com",
        event_name,
        requestParameters={"keyId": key_arn.rsplit("/", 1)[1]},
        resources=[{"accountId": "123456789012", "type": "AWS::KMS::Key", "ARN": key_arn}],
    )


@pytest.fixture(scope="module")
def both_sites() -> StackRun:
    """prod as shipped, both sites."""
    return run_stack("prod")


def test_deleting_disabling_or_reopening_a_sites_key_pages(both_sites: StackRun) -> None:
    """Vault Lock does not stop an admin from deleting the keys the points are encrypted with: each
    site's rule hears ScheduleKeyDeletion, DisableKey and PutKeyPolicy on every key of its region
    (the home site's backup key among them), not on other keys, nor other calls."""
    prod = both_sites
    for site, region in (("fintech-prod", "eu-west-1"), ("fintech-prod-standby", "eu-central-1")):
        rules = prod.of_type("aws:cloudwatch/eventRule:EventRule")
        (rule,) = [r for r in rules if r.name == f"{site}-monitoring-key-changes"]
        assert rule.region == region
        pattern = json.loads(rule.inputs["eventPattern"])
        keys = site_keys(prod, site, region)
        assert len(keys) >= 8
        for key in keys:
            for name in ("ScheduleKeyDeletion", "DisableKey", "PutKeyPolicy"):
                assert pattern_matches(pattern, key_event(name, key)), (site, name, key)
            assert not pattern_matches(pattern, key_event("Decrypt", key))
        assert not pattern_matches(pattern, key_event("ScheduleKeyDeletion", "arn:aws:kms:eu-west-1:1:key/other"))
    home_backup = next(k for k in prod.of_type("aws:kms/key:Key") if k.name == "fintech-prod-sec-backup-key")
    assert home_backup.state["arn"] in site_keys(prod, "fintech-prod", "eu-west-1")


def test_every_backup_key_is_watched_in_its_region(both_sites: StackRun) -> None:
    prod = both_sites
    rules = prod.of_type("aws:cloudwatch/eventRule:EventRule")
    for key in [k for k in prod.of_type("aws:kms/key:Key") if "-sec-backup" in k.name]:
        watching = [r for r in rules if r.region == key.region and key.state["arn"] in r.inputs["eventPattern"]]
        assert watching, key.name


def test_a_vault_without_a_completed_backup_for_a_day_pages(any_site: StackRun) -> None:
    """AWS/Backup NumberOfBackupJobsCompleted of the site's vault (dimension BackupVaultName, as the
    failed-job alarms: the open dimension set is confirmed at the first deploy), summed over a day,
    below 1, silence breaching: a deleted or edited plan or selection, a removed role or lock runs
    no job, so none fails."""
    by_key = alarms(any_site)
    if "backup-jobs-failed" not in by_key:
        assert "backup-jobs-missing" not in by_key
        return
    alarm = by_key["backup-jobs-missing"]
    vault = metrics_of(by_key["backup-jobs-failed"])[0]["dimensions"]
    assert metric_alarm_of(alarm) == {
        "namespace": "AWS/Backup",
        "metricName": "NumberOfBackupJobsCompleted",
        "dimensions": vault,
        "statistic": "Sum",
        "period": 86400,
        "comparisonOperator": "LessThanThreshold",
        "threshold": 1,
        "evaluationPeriods": 1,
        "datapointsToAlarm": 1,
        "treatMissingData": "breaching",
    }
    assert alarm.inputs["alarmActions"] == [any_site.outputs["alert_topic_arn"]]


def test_every_backup_notification_rule_pages_when_it_cannot_deliver(stack_run: StackRun) -> None:
    """A refused delivery (a key or topic policy) is never silent: an alarm per EventBridge rule on
    FailedInvocations (AWS/Events, dimension RuleName: "Monitoring Amazon EventBridge"), notifying
    the stack's topic through CloudWatch."""
    rules = stack_run.of_type("aws:cloudwatch/eventRule:EventRule")
    watched = {
        a.inputs["dimensions"]["RuleName"]: a
        for a in stack_run.of_type(ALARM)
        if a.inputs.get("namespace") == "AWS/Events"
    }
    assert set(watched) == {r.state["name"] for r in rules}
    for alarm in watched.values():
        assert alarm.inputs["metricName"] == "FailedInvocations"
        assert alarm.inputs["comparisonOperator"] == "GreaterThanThreshold"
        assert alarm.inputs["threshold"] == 0
        assert alarm.inputs["alarmActions"] == [stack_run.outputs["alert_topic_arn"]]


def test_prod_alarms_reach_a_person_in_both_regions(prod: StackRun) -> None:
    emails = json.loads(prod.config["payments-platform:alarmEmails"])
    subscriptions = prod.of_type("aws:sns/topicSubscription:TopicSubscription")
    for output in ("alert_topic_arn", "edge_alert_topic_arn"):
        endpoints = sorted(s.inputs["endpoint"] for s in subscriptions if s.inputs["topic"] == prod.outputs[output])
        assert endpoints == sorted(emails)
    assert all(s.inputs["protocol"] == "email" for s in subscriptions)


def test_dashboard_shows_every_alarmed_metric_per_tier(stack_run: StackRun) -> None:
    dashboard = stack_run.one("aws:cloudwatch/dashboard:Dashboard")
    assert stack_run.outputs["dashboard_name"] == dashboard.inputs["dashboardName"]
    body = json.loads(dashboard.inputs["dashboardBody"])
    titles = {w["properties"]["title"]: w for w in body["widgets"] if w["type"] == "metric"}
    assert set(titles) == set(alarms(stack_run))
    assert titles["cloudfront-5xx-rate"]["properties"]["region"] == "us-east-1"
    assert titles["asg-cpu"]["properties"]["region"] == stack_run.config["aws:region"]
    headers = [w["properties"]["markdown"] for w in body["widgets"] if w["type"] == "text"]
    backup = ["## Backup"] if stack_run.of_type("aws:backup/vault:Vault") else []
    standby = (
        ["## Global database", "## Replication"] if stack_run.of_type("aws:rds/globalCluster:GlobalCluster") else []
    )
    assert sorted(headers) == sorted(
        ["## Edge", "## Load balancer", "## App", "## Database", *standby, "## Secrets", *backup, "## Audit trail"]
    )


def test_log_groups_are_archived_to_the_audit_archive_encrypted_end_to_end(stack_run: StackRun) -> None:
    stream = stack_run.one("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream")
    s3 = stream.inputs["extendedS3Configuration"]
    audit_bucket = next(
        b
        for b in stack_run.of_type("aws:s3/bucket:Bucket")
        if b.state["bucket"] == stack_run.outputs["audit_bucket_name"]
    )
    key = stack_run.outputs["kms_key_arns"]["audit"]
    assert s3["bucketArn"] == audit_bucket.state["arn"]
    assert s3["kmsKeyArn"] == key
    assert stream.inputs["serverSideEncryption"] == {"enabled": True, "keyType": "CUSTOMER_MANAGED_CMK", "keyArn": key}
    lock = [
        r
        for r in stack_run.of_type("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")
        if r.inputs["bucket"] == audit_bucket.id
    ]
    assert {r.urn for r in lock} <= set(stream.dependencies), "no log lands before the lock applies"
    assert s3["prefix"].startswith("cloudwatch-logs/")
    filters = stack_run.of_type("aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter")
    archived = {f.inputs["logGroup"] for f in filters}
    regional_groups = {
        g.inputs["name"]
        for g in stack_run.of_type("aws:cloudwatch/logGroup:LogGroup")
        if g.region == stack_run.config["aws:region"]
    }
    # The stream's own error log is not fed back into it: it says why the stream cannot deliver. The
    # trail's log group is not either: the trail writes its log files into the archive itself.
    errors = s3["cloudwatchLoggingOptions"]["logGroupName"]
    trail = f"/fintech/{stack_run.config['payments-platform:envSuffix']}/cloudtrail"
    assert trail in regional_groups
    assert archived == regional_groups - {errors, trail}, "every other log group in the stack's region is archived"
    assert all(f.inputs["destinationArn"] == stream.state["arn"] for f in filters)


def test_a_failed_audit_delivery_is_logged_and_pages_within_minutes(any_site: StackRun) -> None:
    """Firehose retries a refused S3 delivery for 24 hours, then discards it: the stream logs its
    errors into a log group of the stack's naming scheme, and per stream two alarms (AWS/Firehose,
    DeliveryStreamName) page on DeliveryToS3.DataFreshness above the 15-minute buffering limit (the
    Firehose guide's "Implement best practices with CloudWatch Alarms") and on DeliveryToS3.Success
    below 1 (a failed S3 put), silence breaching: the site's flow logs feed the stream every minute."""
    (stream,) = any_site.of_type("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream")
    logging = stream.inputs["extendedS3Configuration"]["cloudwatchLoggingOptions"]
    assert logging["enabled"] is True
    (group,) = [
        g for g in any_site.of_type("aws:cloudwatch/logGroup:LogGroup") if g.state["name"] == logging["logGroupName"]
    ]
    suffix = "prod" if any_site.stack == "prod" else any_site.config["payments-platform:envSuffix"]
    assert group.inputs["name"].startswith(f"/fintech/{suffix}/"), "the stack's log group naming scheme"
    assert group.inputs["kmsKeyId"], "encrypted like every log group"
    assert group.region == stream.region
    (log_stream,) = [
        s
        for s in any_site.of_type("aws:cloudwatch/logStream:LogStream")
        if s.inputs["logGroupName"] == group.state["name"]
    ]
    assert logging["logStreamName"] == log_stream.state["name"]
    role = record_by_output(any_site, stream.inputs["extendedS3Configuration"]["roleArn"])
    grants = [
        statement
        for policy in any_site.of_type("aws:iam/rolePolicy:RolePolicy")
        if policy.inputs["role"] == role.state["name"]
        for statement in doc(policy)["Statement"]
        if "logs:PutLogEvents" in statement["Action"]
    ]
    assert [g["Resource"] for g in grants] == [f"{group.state['arn']}:log-stream:*"]
    assert {d for d in stream.dependencies} >= {
        p.urn for p in any_site.of_type("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == role.state["name"]
    }, "the stream starts only once its role may write and log"

    watching = {
        a.inputs["metricName"]: a for a in any_site.of_type(ALARM) if a.inputs.get("namespace") == "AWS/Firehose"
    }
    assert set(watching) == {"DeliveryToS3.DataFreshness", "DeliveryToS3.Success"}
    for alarm in watching.values():
        assert alarm.inputs["dimensions"] == {"DeliveryStreamName": stream.state["name"]}
        assert alarm.inputs["treatMissingData"] == "breaching"
        assert alarm.inputs["alarmActions"] == [any_site.outputs["alert_topic_arn"]]
        # Pages within minutes, far inside the 24 hours Firehose keeps retrying.
        assert alarm.inputs["period"] * alarm.inputs["evaluationPeriods"] <= 30 * 60
    freshness = watching["DeliveryToS3.DataFreshness"].inputs
    assert (freshness["comparisonOperator"], freshness["statistic"]) == ("GreaterThanThreshold", "Maximum")
    assert freshness["threshold"] <= 15 * 60
    success = watching["DeliveryToS3.Success"].inputs
    assert (success["comparisonOperator"], success["threshold"]) == ("LessThanThreshold", 1)


def test_archive_roles_are_scoped(stack_run: StackRun) -> None:
    stream = stack_run.one("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream")
    feed = next(
        doc(p) for p in stack_run.of_type("aws:iam/rolePolicy:RolePolicy") if p.name.endswith("-archive-logs-policy")
    )
    assert feed["Statement"][0]["Resource"] == stream.state["arn"]
    deliver = next(
        doc(p)
        for p in stack_run.of_type("aws:iam/rolePolicy:RolePolicy")
        if p.name.endswith("-archive-firehose-policy")
    )
    assert all("cloudwatch-logs/" in r or not r.endswith("*") for r in deliver["Statement"][0]["Resource"])
    bucket_arn = stream.inputs["extendedS3Configuration"]["bucketArn"]
    assert deliver["Statement"][1] == {
        "Sid": "EncryptWithTheArchiveKey",
        "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": stack_run.outputs["kms_key_arns"]["audit"],
        "Condition": {
            "StringEquals": {"kms:ViaService": f"s3.{stack_run.config['aws:region']}.amazonaws.com"},
            "StringLike": {"kms:EncryptionContext:aws:s3:arn": [bucket_arn, f"{bucket_arn}/cloudwatch-logs/*"]},
        },
    }


def test_firehose_trusts_only_this_account(stack_run: StackRun) -> None:
    role = next(r for r in stack_run.of_type("aws:iam/role:Role") if r.name.endswith("-archive-firehose-role"))
    (trust,) = doc(role, "assumeRolePolicy")["Statement"]
    assert trust["Principal"] == {"Service": "firehose.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"sts:ExternalId": "123456789012"}}


def test_app_dependency_failures_raise_an_alarm_not_a_replacement(stack_run: StackRun) -> None:
    alarm = alarms(stack_run)["app-dependencies"]
    suffix = stack_run.config["payments-platform:envSuffix"]
    assert metrics_of(alarm) == [
        {"namespace": "Fintech/App", "name": "DependencyHealthy", "dimensions": {"Service": f"fintech-{suffix}-app"}}
    ]
    assert (alarm.inputs["statistic"], alarm.inputs["period"]) == ("Minimum", 60)
    assert (alarm.inputs["comparisonOperator"], alarm.inputs["threshold"]) == ("LessThanThreshold", 1)
    assert (alarm.inputs["evaluationPeriods"], alarm.inputs["datapointsToAlarm"]) == (5, 3)
    # Every instance reports twice a minute and the fleet never scales to zero: silence is a failure.
    assert alarm.inputs["treatMissingData"] == "breaching"


# A second site ------------------------------------------------------------------------------------


def test_a_second_site_watches_only_what_runs_there(second_site: StackRun) -> None:
    assert set(alarms(second_site)) == {
        "alb-5xx-rate",
        "target-5xx-rate",
        "target-latency-p99",
        "unhealthy-hosts",
        "asg-cpu",
        "db-0-cpu",
        "db-0-freeable-memory",
        "db-0-connections",
        "db-global-rpo-lag",
        "db-global-replication-lag",
        "replication-data-failures",
        "replication-audit-failures",
        "replication-data-latency",
        "replication-audit-latency",
        "archive-delivery-freshness",
        "archive-delivery-success",
    }, "no edge (WAF, CloudFront) and no rotation function at this site: none of their alarms"
    assert {r.region for r in second_site.resources if r.custom} == {SECOND_SITE_REGION}, "nothing in us-east-1"
    assert all(
        "region" not in r.inputs for r in second_site.resources if r.custom and not r.type.startswith("pulumi:")
    ), "the site's provider decides"
    (only_topic,) = second_site.of_type(TOPIC)
    assert only_topic.state["arn"] == second_site.outputs["alert_topic_arn"]


def test_a_second_site_alarms_reach_a_person_through_its_own_topic(second_site: StackRun) -> None:
    own_topic = second_site.outputs["alert_topic_arn"]
    for key, alarm in alarms(second_site).items():
        assert alarm.inputs["alarmActions"] == alarm.inputs["okActions"] == [own_topic], key
    subscriptions = second_site.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert {s.inputs["topic"] for s in subscriptions} == {own_topic}
    assert sorted(s.inputs["endpoint"] for s in subscriptions) == ["oncall@example.com", "payments-ops@example.com"]
    (policy,) = second_site.of_type("aws:sns/topicPolicy:TopicPolicy")
    (publisher,) = [s for s in doc(policy)["Statement"] if "sns:Publish" in json.dumps(s["Action"])]
    assert publisher["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert publisher["Condition"]["ArnLike"]["aws:SourceArn"] == (
        f"arn:aws:cloudwatch:{SECOND_SITE_REGION}:123456789012:alarm:*"
    ), "alarms of this site's region publish"


def metric_alarm_of(alarm: ResourceRecord) -> dict[str, Any]:
    """What a single-metric alarm watches and decides, as one comparable value."""
    keys = (
        "namespace",
        "metricName",
        "dimensions",
        "statistic",
        "period",
        "comparisonOperator",
        "threshold",
        "evaluationPeriods",
        "datapointsToAlarm",
        "treatMissingData",
    )
    return {k: alarm.inputs.get(k) for k in keys}


def test_global_database_lag_is_watched_on_this_sites_cluster_in_its_region(second_site: StackRun) -> None:
    """Aurora publishes both lags in the secondary's region for the secondary cluster, only while it
    is one: every site alarms on its own cluster, and silence (at the primary) is no breach."""
    by_key = alarms(second_site)
    thresholds = {"AuroraGlobalDBRPOLag": 60_000, "AuroraGlobalDBReplicationLag": 5000}
    for key, metric_name in (
        ("db-global-rpo-lag", "AuroraGlobalDBRPOLag"),
        ("db-global-replication-lag", "AuroraGlobalDBReplicationLag"),
    ):
        assert metric_alarm_of(by_key[key]) == {
            "namespace": "AWS/RDS",
            "metricName": metric_name,
            "dimensions": {"DBClusterIdentifier": "fintech-prod-standby-aurora"},
            "statistic": "Maximum",
            "period": 60,
            "comparisonOperator": "GreaterThanThreshold",
            "threshold": thresholds[metric_name],
            "evaluationPeriods": 5,
            "datapointsToAlarm": 3,
            "treatMissingData": "notBreaching",
        }, key
        assert by_key[key].region == SECOND_SITE_REGION


def test_replication_is_watched_where_s3_publishes_it(second_site: StackRun) -> None:
    """Failures in the source bucket's region (rules leaving this site), latency in the destination
    bucket's region (rules arriving): the RTC 15-minute threshold, by bucket names."""
    by_key = alarms(second_site)
    for key in ("data", "audit"):
        assert metric_alarm_of(by_key[f"replication-{key}-failures"]) == {
            "namespace": "AWS/S3",
            "metricName": "OperationsFailedReplication",
            "dimensions": {
                "SourceBucket": f"fintech-prod-standby-{key}",
                "DestinationBucket": f"fintech-prod-{key}",
                "RuleId": f"{key}-to-home",
            },
            "statistic": "Sum",
            "period": 300,
            "comparisonOperator": "GreaterThanThreshold",
            "threshold": 0,
            "evaluationPeriods": 1,
            "datapointsToAlarm": 1,
            "treatMissingData": "ignore",
        }
        assert metric_alarm_of(by_key[f"replication-{key}-latency"]) == {
            "namespace": "AWS/S3",
            "metricName": "ReplicationLatency",
            "dimensions": {
                "SourceBucket": f"fintech-prod-{key}",
                "DestinationBucket": f"fintech-prod-standby-{key}",
                "RuleId": f"{key}-to-standby",
            },
            "statistic": "Maximum",
            "period": 300,
            "comparisonOperator": "GreaterThanThreshold",
            "threshold": 900,
            "evaluationPeriods": 3,
            "datapointsToAlarm": 2,
            "treatMissingData": "ignore",
        }


def test_a_second_site_dashboard_has_its_rows_in_its_region(second_site: StackRun) -> None:
    body = json.loads(second_site.one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"])
    headers = [w["properties"]["markdown"] for w in body["widgets"] if w["type"] == "text"]
    assert headers == [
        "## Load balancer",
        "## App",
        "## Database",
        "## Global database",
        "## Replication",
        "## Audit trail",
    ]
    metric_widgets = [w for w in body["widgets"] if w["type"] == "metric"]
    assert {w["properties"]["title"] for w in metric_widgets} == set(alarms(second_site))
    assert {w["properties"]["region"] for w in metric_widgets} == {SECOND_SITE_REGION}
    rows = {w["properties"]["markdown"]: w["y"] for w in body["widgets"] if w["type"] == "text"}
    global_db = {
        w["properties"]["title"] for w in metric_widgets if rows["## Global database"] < w["y"] < rows["## Replication"]
    }
    assert global_db == {"db-global-rpo-lag", "db-global-replication-lag"}


def watched(**overrides: Any) -> Watched:
    fields: dict[str, Any] = {
        "alb_arn_suffix": "app/alb/1",
        "target_group_arn_suffix": "targetgroup/app/1",
        "asg_name": "app",
        "db_cluster_identifier": "aurora",
        "db_instance_identifiers": ["aurora-0"],
        "rotation_function_name": None,
        "web_acl_metric_name": None,
        "distribution_id": None,
    }
    return Watched(**(fields | overrides))


def monitoring_args(w: Watched, edge_alerts_key_arn: str | None) -> MonitoringArgs:
    return MonitoringArgs(
        alerts_key_arn="arn:aws:kms:eu-central-1:123456789012:key/a",
        edge_alerts_key_arn=edge_alerts_key_arn,
        alarm_emails=(),
        watched=w,
        thresholds=Thresholds(),
        archive_bucket_arn="arn:aws:s3:::archive",
        archive_key_arn="arn:aws:kms:eu-central-1:123456789012:key/b",
    )


@pytest.mark.parametrize(
    ("edge", "key_arn"),
    [({"web_acl_metric_name": "acl"}, None), ({"distribution_id": "E1"}, None), ({}, "arn:aws:kms:us-east-1:1:key/e")],
)
def test_the_edge_topic_exists_exactly_when_the_edge_is_watched(edge: dict[str, str], key_arn: str | None) -> None:
    with pytest.raises(ValueError, match="edge_alerts_key_arn must be given exactly when"):
        monitoring_args(watched(**edge), key_arn)


def test_replication_rules_name_buckets_and_have_unique_keys() -> None:
    with pytest.raises(ValueError, match="by name, not ARN"):
        WatchedReplicationRule("data", "arn:aws:s3:::source", "destination", "rule")
    rule = WatchedReplicationRule("data", "source", "destination", "rule")
    with pytest.raises(ValueError, match="must be unique"):
        watched(incoming_replication=[rule, rule])
    watched(incoming_replication=[rule], outgoing_replication=[rule])  # one rule per direction is fine


def test_bucket_names_that_arrive_as_outputs_are_checked_too() -> None:
    """Another tier hands bucket names over as outputs: an ARN among them fails the deployment."""
    rule = WatchedReplicationRule("data", pulumi.Output.from_input("arn:aws:s3:::source"), "destination", "rule")
    (spec,) = [s for s in alarm_specs(watched(outgoing_replication=[rule]), Thresholds()) if s.key.startswith("repl")]
    assert spec.metric is not None
    with pytest.raises(ValueError, match="by name, not ARN"):
        _sync_await(pulumi.Output.from_input(spec.metric.dimensions["SourceBucket"]).future())
