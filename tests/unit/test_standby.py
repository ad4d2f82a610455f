"""The standby site: the same tiers in standbyRegion, an Aurora Global Database, replicated
archives and secrets, and a primaryRegion flip that never replaces a database resource."""

import json
from pathlib import Path
from typing import Any

import pytest

from components.settings import PROJECT, SettingsError, parse_settings
from components.site.database import GLOBAL_MEMBER_IGNORED
from components.site.site import SiteArgs
from offline.harness import ResourceRecord, StackRun, run_stack, stack_config
from tests.helpers import record_by_output
from tests.unit.test_monitoring import assert_every_alarm_matches_a_row

HOME, STANDBY = "eu-west-1", "eu-central-1"
CLUSTER = "aws:rds/cluster:Cluster"
INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
GLOBAL = "aws:rds/globalCluster:GlobalCluster"
SECRET = "aws:secretsmanager/secret:Secret"
REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
# Resources of the stack region's site that live elsewhere on purpose: the edge's (us-east-1) and
# the backup copy vault with its key (backupCopyRegion, which prod sets to the standby region).
ELSEWHERE_ON_PURPOSE = (
    "-edge-",
    "-backup-vault-eu-central-1",
    "-backup-vault-lock-eu-central-1",
    "-backup-vault-policy-eu-central-1",
    "-sec-backup-eu-central-1-",
    # A failover reads the record in the region it moves to (between/failover_records.py).
    "-failover-record-eu-central-1",
    # Each site backs up in its own region (between/backup.py), through the stack's provider.
    "-backup-plan-eu-central-1",
    "-backup-selection-eu-central-1",
    "-backup-restore-",
    "-backup-air-gapped-vault-eu-central-1",
)


@pytest.fixture(scope="module")
def prod() -> StackRun:
    """Both sites (tests/unit/conftest.py narrows ``prod`` to the stack region's elsewhere)."""
    return run_stack("prod")


def clusters(run: StackRun) -> dict[str, ResourceRecord]:
    return {c.region: c for c in run.of_type(CLUSTER)}


def key_arn(run: StackRun, site: StackRun, purpose: str) -> str:
    (key,) = [k for k in site.of_type("aws:kms/key:Key") if k.name.endswith(f"-sec-{purpose}-key")]
    return str(key.state["arn"])


# --------------------------------------------------------------------------- where things are


def test_dev_stays_single_region(dev: StackRun) -> None:
    assert len(dev.of_type("pulumi:providers:aws")) == 1
    assert not dev.standby().resources
    assert not dev.of_type(GLOBAL)
    assert not dev.of_type(REPLICATION)
    assert {r.region for r in dev.resources if r.custom} <= {dev.config["aws:region"], "us-east-1"}


def test_every_standby_resource_is_in_the_standby_region(prod: StackRun) -> None:
    standby = prod.standby()
    assert len([r for r in standby.resources if r.custom]) > 100
    assert {r.region for r in standby.resources if r.custom} == {STANDBY}
    tiers = {r.name for r in standby.resources if not r.custom}
    assert {
        "fintech-prod-standby-net",
        "fintech-prod-standby-sec",
        "fintech-prod-standby-db",
        "fintech-prod-standby-storage",
    } <= tiers


def test_no_resource_of_the_stack_region_lands_in_the_standby_region_by_accident(prod: StackRun) -> None:
    misplaced = [
        r.name
        for r in prod.home().resources
        if r.custom and r.region == STANDBY and not any(mark in r.name for mark in ELSEWHERE_ON_PURPOSE)
    ]
    # The replication configuration of the standby's buckets lives with them (its source); the peering's
    # accepter and the standby's routes over it are the standby's side of the connection.
    on_purpose = ("fintech-prod-replication-", f"fintech-prod-peering-{STANDBY}-", "fintech-prod-peering-accept")
    assert misplaced
    assert all(r.startswith(on_purpose) for r in misplaced), misplaced


# --------------------------------------------------------------------------- Aurora Global Database


def test_the_global_database_is_founded_from_the_existing_cluster(prod: StackRun) -> None:
    (gc,) = prod.of_type(GLOBAL)
    home = clusters(prod)[HOME]
    # Never global_cluster_identifier on the existing primary: AWS refuses to add an existing cluster.
    assert gc.inputs["sourceDbClusterIdentifier"] == home.state["arn"]
    assert "globalClusterIdentifier" not in home.inputs
    assert gc.inputs["forceDestroy"] is True
    assert gc.inputs["deletionProtection"] is True
    assert gc.protect
    assert gc.inputs["engineVersion"] == home.inputs["engineVersion"]
    writer = next(i for i in prod.home().of_type(INSTANCE) if i.name.endswith("-instance-0"))
    assert writer.urn in gc.dependencies


def test_the_secondary_joins_with_its_regions_key_and_no_credentials(prod: StackRun) -> None:
    (gc,) = prod.of_type(GLOBAL)
    secondary = clusters(prod)[STANDBY]
    assert secondary.inputs["globalClusterIdentifier"] == gc.id
    # Fixed at the founding region whatever is primary later: changing it would replace the cluster.
    assert secondary.inputs["sourceRegion"] == HOME
    assert secondary.inputs["kmsKeyId"] == key_arn(prod, prod.standby(), "database")
    assert f":kms:{STANDBY}:" in secondary.inputs["kmsKeyId"]
    assert not {"masterUsername", "masterPasswordWo", "manageMasterUserPassword", "databaseName"} & set(
        secondary.inputs
    )
    assert secondary.inputs["engineVersion"] == clusters(prod)[HOME].inputs["engineVersion"]
    assert secondary.protect
    assert secondary.inputs["deletionProtection"] is True
    # It can only join once the primary has its writer.
    writer = next(i for i in prod.home().of_type(INSTANCE) if i.name.endswith("-instance-0"))
    assert writer.urn in secondary.property_dependencies["globalClusterIdentifier"]


def test_role_changes_made_by_aurora_are_never_undone_by_pulumi(prod: StackRun) -> None:
    for cluster in prod.of_type(CLUSTER):
        assert set(GLOBAL_MEMBER_IGNORED) <= set(cluster.ignore_changes), cluster.name
    assert set(GLOBAL_MEMBER_IGNORED) == {"globalClusterIdentifier", "replicationSourceIdentifier", "engineVersion"}


def test_a_regional_cluster_ignores_nothing(dev: StackRun) -> None:
    (cluster,) = dev.of_type(CLUSTER)
    assert not cluster.ignore_changes


@pytest.mark.parametrize(("mode", "expected"), [("warm", 1), ("pilot-light", 0)])
def test_standby_database_instances_follow_the_mode(mode: str, expected: int) -> None:
    run = run_stack("prod", {"standbyMode": mode})
    assert len(run.standby().of_type(INSTANCE)) == expected
    assert len(run.home().of_type(INSTANCE)) == 2


def test_the_master_secret_is_the_data_tiers_own_and_replicated(prod: StackRun) -> None:
    home = clusters(prod)[HOME]
    # RDS cannot manage a global database member's master secret (Aurora guide, Secrets Manager limitations).
    assert "manageMasterUserPassword" not in home.inputs
    assert home.inputs["masterPasswordWoVersion"] == 1
    assert "masterPasswordWo" in home.secret_inputs
    master = record_by_output(prod, prod.outputs["db_master_secret_arn"])
    assert master.inputs["kmsKeyId"] == key_arn(prod, prod.home(), "secrets")
    assert master.inputs["replicas"] == [{"region": STANDBY, "kmsKeyId": key_arn(prod, prod.standby(), "secrets")}]
    (version,) = [v for v in prod.of_type("aws:secretsmanager/secretVersion:SecretVersion") if "-master-" in v.name]
    value = json.loads(version.inputs["secretStringWo"])
    assert "masterarn" not in value, "a masterarn would make the rotation function treat it as the app's secret"
    assert value["host"] == prod.outputs["db_global_writer_endpoint"]
    assert set(version.ignore_changes) == {"secretStringWo", "versionStages"}


def test_the_app_secret_is_replicated_with_the_standby_key(prod: StackRun) -> None:
    app = next(s for s in prod.of_type(SECRET) if s.name.endswith("-app-db"))
    assert app.inputs["replicas"] == [{"region": STANDBY, "kmsKeyId": key_arn(prod, prod.standby(), "secrets")}]


# --------------------------------------------------------------------------- replicated archives


def test_both_archives_replicate_both_ways_with_the_destinations_key(prod: StackRun) -> None:
    configs = prod.of_type(REPLICATION)
    assert len(configs) == 4
    buckets = {
        b.state["bucket"] if "bucket" in b.state else b.state["name"]: b for b in prod.of_type("aws:s3/bucket:Bucket")
    }
    seen = set()
    for config in configs:
        source = buckets[config.inputs["bucket"]]
        (rule,) = config.inputs["rules"]
        destination = record_by_output(prod, rule["destination"]["bucket"])
        purpose = source.inputs["tags"]["Purpose"]
        assert destination.inputs["tags"]["Purpose"] == purpose
        assert config.region == source.region != destination.region
        key = rule["destination"]["encryptionConfiguration"]["replicaKmsKeyId"]
        assert f":kms:{destination.region}:" in key
        assert rule["destination"]["replicationTime"] == {"status": "Enabled", "time": {"minutes": 15}}
        assert source.inputs.get("objectLockEnabled") == destination.inputs.get("objectLockEnabled") is True
        seen.add((purpose, source.region))
    assert len(seen) == 4


# --------------------------------------------------------------------------- the primary-region flip


def database_records(run: StackRun) -> dict[str, ResourceRecord]:
    return {
        r.urn: r
        for r in run.resources
        if r.custom and (r.type.startswith("aws:rds/") or r.type in (SECRET, "aws:kms/key:Key")) and r.type != INSTANCE
    }


def test_flipping_the_primary_region_changes_no_database_resource() -> None:
    """The setting ./deploy switchover/failover changes must make `pulumi up` agree with what Aurora
    did, never replace or modify a cluster, the global cluster, their keys or secrets."""
    before = run_stack("prod")
    after = run_stack("prod", {"primaryRegion": STANDBY})
    assert before.outputs["primary_region"] == HOME
    assert after.outputs["primary_region"] == STANDBY
    old, new = database_records(before), database_records(after)
    assert old.keys() == new.keys()
    for urn, record in old.items():
        assert new[urn].inputs == record.inputs, f"{record.name} changes when the primary region flips"
        assert new[urn].ignore_changes == record.ignore_changes
    # Instances: the existing ones stay as they are; the new primary grows to dbInstanceCount.
    old_instances = {i.urn: i for i in before.of_type(INSTANCE)}
    new_instances = {i.urn: i for i in after.of_type(INSTANCE)}
    assert old_instances.keys() <= new_instances.keys()
    for urn, instance in old_instances.items():
        assert new_instances[urn].inputs == instance.inputs
    assert len(after.standby().of_type(INSTANCE)) == 2


# --------------------------------------------------------------------------- settings


def settings_problems(**overrides: Any) -> str:
    raw = {**stack_config("prod"), **{f"{PROJECT}:{k}": str(v) for k, v in overrides.items()}}
    with pytest.raises(SettingsError) as caught:
        parse_settings(raw, stack="prod")
    return str(caught.value)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"standbyRegion": HOME}, "standbyRegion = 'eu-west-1': must differ from aws:region"),
        (
            {"standbyRegion": "frankfurt"},
            "standbyRegion = 'frankfurt': must be an AWS region code such as eu-central-1",
        ),
        ({"backupCopyRegion": "EU-CENTRAL-1"}, "backupCopyRegion = 'EU-CENTRAL-1': must be an AWS region code"),
        ({"standbyVpcCidr": "10.10.128.0/20"}, "standbyVpcCidr = '10.10.128.0/20': must not overlap vpcCidr"),
        (
            {"primaryRegion": "us-east-1"},
            "primaryRegion = 'us-east-1': must be aws:region (eu-west-1) or standbyRegion",
        ),
        ({"standbyMode": "hot"}, "standbyMode = 'hot'"),
        ({"dbInstanceClass": "db.t4g.medium"}, "dbInstanceClass"),
        ({"standbyRegion": ""}, "standbyRegion = '': must be set when environment is prod"),
        (
            {"envSuffix": "prod-eu1"},
            "envSuffix = 'prod-eu1': must be at most 7 characters with a standbyRegion",
        ),
    ],
)
def test_bad_standby_settings_are_named(overrides: dict[str, str], expected: str) -> None:
    assert expected in settings_problems(**overrides)


def test_a_standby_needs_the_origin_name_to_fail_over() -> None:
    raw = {**stack_config("dev"), f"{PROJECT}:standbyRegion": STANDBY}
    with pytest.raises(SettingsError) as caught:
        parse_settings(raw, stack="dev")
    assert "domainName" in str(caught.value)
    assert "fails over between regions in DNS" in str(caught.value)


def test_a_memory_optimized_or_serverless_class_is_what_a_global_database_takes() -> None:
    problems = settings_problems(dbInstanceClass="db.t4g.medium", environment="staging")
    assert "must be memory-optimized (db.r*/db.x*) or db.serverless with standbyRegion" in problems


# --------------------------------------------------------------------------- traffic


def origin_records(run: StackRun) -> dict[str, ResourceRecord]:
    domain = run.config[f"{PROJECT}:domainName"]
    return {
        r.inputs["setIdentifier"]: r
        for r in run.of_type("aws:route53/record:Record")
        if r.inputs["name"] == f"origin.{domain}"
    }


@pytest.mark.parametrize("primary", [HOME, STANDBY])
def test_the_origin_name_fails_over_to_the_other_sites_load_balancer(primary: str) -> None:
    run = run_stack("prod", {"primaryRegion": primary})
    records = origin_records(run)
    assert set(records) == {"primary", "secondary"}, "failover records only, no simple record beside them"
    albs = {lb.region: lb for lb in run.of_type("aws:lb/loadBalancer:LoadBalancer")}
    checks = {c.inputs["fqdn"]: c for c in run.of_type("aws:route53/healthCheck:HealthCheck")}
    for role, region in (("primary", primary), ("secondary", STANDBY if primary == HOME else HOME)):
        record = records[role]
        assert record.inputs["failoverRoutingPolicies"] == [{"type": role.upper()}]
        (alias,) = record.inputs["aliases"]
        assert alias["name"] == albs[region].state["dnsName"]
        # Its own site's /health decides, not the load balancer's target health.
        assert alias["evaluateTargetHealth"] is False
        assert record.inputs["healthCheckId"] == checks[albs[region].state["dnsName"]].id
    # CloudFront keeps the one origin name, whichever site answers it.
    (distribution,) = run.of_type("aws:cloudfront/distribution:Distribution")
    assert {o["domainName"] for o in distribution.inputs["origins"]} == {
        f"origin.{run.config[f'{PROJECT}:domainName']}"
    }


@pytest.mark.parametrize("primary", [HOME, STANDBY])
def test_only_the_active_sites_app_is_alarmed_for_reaching_the_database(primary: str) -> None:
    """The global writer endpoint resolves to a private address in the active region; the passive
    site's app cannot reach it (no peering), and its alarm would page from the first deploy."""
    run = run_stack("prod", {"primaryRegion": primary})
    alarmed = {
        a.region for a in run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm") if a.name.endswith("-app-dependencies")
    }
    assert alarmed == {primary}


def test_rotations_may_re_encrypt_the_replicas_with_the_standby_key(prod: StackRun) -> None:
    (policy,) = [p for p in prod.home().of_type("aws:iam/rolePolicy:RolePolicy") if p.name.endswith("-rotation-policy")]
    by_sid = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    statement = by_sid["EncryptReplicasThroughSecretsManager"]
    assert statement["Resource"] == key_arn(prod, prod.standby(), "secrets")
    assert statement["Action"] == ["kms:Encrypt", "kms:GenerateDataKey"]
    assert statement["Condition"] == {"StringEquals": {"kms:ViaService": f"secretsmanager.{STANDBY}.amazonaws.com"}}


def test_a_single_region_rotation_touches_no_other_regions_key(dev: StackRun) -> None:
    (policy,) = [p for p in dev.of_type("aws:iam/rolePolicy:RolePolicy") if p.name.endswith("-rotation-policy")]
    assert "EncryptReplicasThroughSecretsManager" not in policy.inputs["policy"]


def test_cloudfront_sends_a_new_origin_secret_only_once_every_site_accepts_it(prod: StackRun) -> None:
    """A rotation (originVerifyGeneration + 1) changes both sites' edge rules and the distribution in
    one `up`: the distribution must wait for both rules, or the site it reaches first refuses (403)
    every request until its rule catches up; both sites accept exactly the same secrets."""
    from tests.unit.test_compute import upstream

    rules = [r for r in prod.of_type("aws:lb/listenerRule:ListenerRule") if r.name.endswith("-from-edge")]
    assert len(rules) == 2
    accepted = [rule.inputs["conditions"][0]["httpHeader"]["values"] for rule in rules]
    assert accepted[0] == accepted[1]
    (distribution,) = prod.of_type("aws:cloudfront/distribution:Distribution")
    missing = {r.urn for r in rules} - upstream(prod, distribution)
    assert not missing, f"CloudFront may send the new secret before {sorted(missing)} accepts it"
    (origin,) = distribution.inputs["origins"]
    assert origin["customHeaders"][0]["value"] == accepted[0][0]


def test_the_failover_record_is_in_both_regions_and_names_both_sites(prod: StackRun) -> None:
    """A failover reads the record from the region it moves to (ops/regions.py): each site's region
    holds the same record, which parses and names each site's own cluster, group and target group."""
    from components.failover_record import FailoverRecord, parameter_name

    parameters = prod.of_type("aws:ssm/parameter:Parameter")
    assert sorted(p.inputs["region"] for p in parameters) == sorted(["eu-west-1", "eu-central-1"])
    assert {p.inputs["name"] for p in parameters} == {parameter_name("prod")}
    assert {(p.inputs["type"], p.inputs["tier"]) for p in parameters} == {("String", "Standard")}
    (value,) = {p.inputs["value"] for p in parameters}
    record = FailoverRecord.from_json(value)
    assert (record.primary_region, record.standby_region) == ("eu-west-1", "eu-central-1")
    clusters = {c.region: c for c in prod.of_type(CLUSTER)}
    assert record.db_cluster_ids == {r: c.inputs["clusterIdentifier"] for r, c in clusters.items()}
    assert record.db_cluster_arns == {r: c.state["arn"] for r, c in clusters.items()}
    groups = {g.region: g.state["name"] for g in prod.of_type("aws:autoscaling/group:Group")}
    assert record.asg_names == groups
    target_groups = {t.region: t.state["arn"] for t in prod.of_type("aws:lb/targetGroup:TargetGroup")}
    assert record.target_group_arns == target_groups
    checks = {c.name.rsplit("-origin-", 1)[1]: c.id for c in prod.of_type("aws:route53/healthCheck:HealthCheck")}
    assert record.origin_health_check_ids == checks
    for region, settings in record.db_instance_settings.items():
        # What the managed instances were created with, so a temporary one matches them.
        (managed,) = {
            (i.inputs["dbParameterGroupName"], i.inputs["caCertIdentifier"], int(i.inputs["monitoringInterval"]))
            for i in prod.of_type(INSTANCE)
            if i.region == region
        }
        assert (settings.db_instance_parameter_group, settings.ca_certificate_identifier) == managed[:2]
        assert settings.monitoring_interval == managed[2]
    assert len(value) < 4096, "the Standard tier holds at most 4 KB"


# --------------------------------------------------------------------------- what __main__.py hands over

REPO = Path(__file__).resolve().parents[2]
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
HEALTH_CHECK = "aws:route53/healthCheck:HealthCheck"


# The lines #24 items 7 and 9b need in __main__.py (others edit it: until they are there, the
# tests on the program as shipped are expected to fail, and these tests run a copy that has them).
def assert_the_primary_check_pages_the_edge_topic(run: StackRun) -> None:
    """The primary site's Route 53 check alarms in us-east-1 to the home site's edge topic; the
    passive site's check, failing by design, is not alarmed (between/origin_dns.py)."""
    checks = {c.name.rsplit("-origin-", 1)[1]: c for c in run.of_type(HEALTH_CHECK)}
    assert sorted(checks) == sorted([HOME, STANDBY])
    primary = run.setting("primaryRegion") or HOME
    origin_alarms = [a for a in run.of_type(ALARM) if a.inputs.get("namespace") == "AWS/Route53"]
    assert [a.inputs["dimensions"] for a in origin_alarms] == [{"HealthCheckId": checks[primary].id}]
    (alarm,) = origin_alarms
    assert alarm.inputs["region"] == "us-east-1"
    edge_topic = run.outputs["edge_alert_topic_arn"]
    assert alarm.inputs["alarmActions"] == alarm.inputs["okActions"] == [edge_topic]
    assert record_by_output(run, edge_topic).inputs["region"] == "us-east-1"


@pytest.mark.parametrize("primary", [HOME, STANDBY])
def test_prod_pages_when_the_primary_sites_health_check_fails(primary: str) -> None:
    run = run_stack("prod", {"primaryRegion": primary})
    assert_the_primary_check_pages_the_edge_topic(run)
    assert_every_alarm_matches_a_row(run, values=True)


def assert_one_owner_of_the_origin_validation_record(run: StackRun) -> None:
    """ACM gives both sites' certificates of origin.<domain> the same validation record (ACM User
    Guide, "DNS validation"): the home site declares it, both validations name it."""
    origin = f"origin.{run.setting('domainName')}"
    certificates = [c for c in run.of_type("aws:acm/certificate:Certificate") if c.inputs["domainName"] == origin]
    assert sorted(c.region for c in certificates) == sorted([HOME, STANDBY])
    (asked,) = {c.state["domainValidationOptions"][0]["resourceRecordName"] for c in certificates}
    records = [r for r in run.of_type("aws:route53/record:Record") if r.inputs["name"] == asked]
    assert [r.region for r in records] == [HOME], "one owner: the home site"
    validations = [
        v
        for v in run.of_type("aws:acm/certificateValidation:CertificateValidation")
        if v.inputs["certificateArn"] in {c.state["arn"] for c in certificates}
    ]
    assert [v.inputs["validationRecordFqdns"] for v in validations] == [[records[0].state["fqdn"]]] * 2


def test_prod_declares_the_origin_validation_record_once(prod: StackRun) -> None:
    assert_one_owner_of_the_origin_validation_record(prod)


def test_only_a_standby_is_given_the_home_sites_validation_record() -> None:
    settings = parse_settings(stack_config("prod", omit_secure=True), stack="prod")
    with pytest.raises(ValueError, match="the home site declares the origin's ACM validation record"):
        SiteArgs.in_region(
            settings,
            settings.region,
            settings.vpc_cidr,
            home=True,
            peer_region=settings.standby_region,
            origin_validation_record_fqdn="_abc.origin.example.com",
        )


def test_each_site_hears_of_its_own_backup_jobs(prod: StackRun) -> None:
    """Each site backs up into its own region's vault: failed backup, copy and restore jobs there reach
    that site's alert topic (an EventBridge rule in the region, the alerts key admitting EventBridge),
    and that vault's silence is alarmed, in both sites."""
    rules = [
        r
        for r in prod.of_type("aws:cloudwatch/eventRule:EventRule")
        if '"aws.backup"' in str(r.inputs.get("eventPattern"))
    ]
    assert sorted({r.region for r in rules}) == sorted([HOME, STANDBY])
    alerts_keys = [
        k for k in prod.of_type("aws:kms/key:Key") if k.name.endswith("-sec-alerts-key") and k.region in (HOME, STANDBY)
    ]
    assert len(alerts_keys) == 2
    for key in alerts_keys:
        sids = {s.get("Sid") for s in json.loads(key.inputs["policy"])["Statement"]}
        assert "EventBridgeRulesPublish" in sids, key.name
