"""The account baseline (``accountBaseline``): off, it declares nothing; on, every site declares
GuardDuty, AWS Config and Security Hub once, in its own region, through its own provider.

Expected values are literals from the AWS documents cited in components/site/baseline.py, never
the module's own constants, so a wrong constant fails here."""

import json
from typing import Any

import pytest
from botocore.loaders import Loader

from offline.harness import ACCOUNT_ID, ProgramError, ResourceRecord, StackRun, run_stack
from tests.helpers import doc, record_by_output
from tests.unit.test_monitoring import assert_every_alarm_matches_a_row

HOME, STANDBY = "eu-west-1", "eu-central-1"
BASELINE = "fintech:baseline:Baseline"
DETECTOR = "aws:guardduty/detector:Detector"
FEATURE = "aws:guardduty/detectorFeature:DetectorFeature"
RECORDER = "aws:cfg/recorder:Recorder"
CHANNEL = "aws:cfg/deliveryChannel:DeliveryChannel"
RECORDING = "aws:cfg/recorderStatus:RecorderStatus"
HUB = "aws:securityhub/account:Account"
STANDARD = "aws:securityhub/standardsSubscription:StandardsSubscription"
SERVICE_ROLE = "aws:iam/serviceLinkedRole:ServiceLinkedRole"
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
BUCKET = "aws:s3/bucket:Bucket"
FRAMEWORK = "aws:backup/framework:Framework"
# One of each per account and region: the types a second stack or a landing zone would collide with.
PER_REGION = (DETECTOR, RECORDER, CHANNEL, RECORDING, HUB)
BASELINE_TYPES = (*PER_REGION, FEATURE, STANDARD, SERVICE_ROLE)

# A dev stack that can take the baseline: backups on (the framework audits them), copied to
# another region (its cross-Region control), a governance lock (compliance needs protectData).
DEV_ON = {
    "accountBaseline": "true",
    "backupEnabled": "true",
    "backupCopyRegion": STANDBY,
    "backupLockMode": "governance",
    "backupDailyRetentionDays": "7",
}

# The recorder's types, as the AWS Config guide spells them ("Supported Resource Types for AWS Config").
REGIONAL_TYPES = {
    "AWS::ACM::Certificate",
    "AWS::AutoScaling::AutoScalingGroup",
    "AWS::AutoScaling::ScalingPolicy",
    "AWS::AutoScaling::ScheduledAction",
    "AWS::Backup::BackupPlan",
    "AWS::Backup::BackupSelection",
    "AWS::Backup::BackupVault",
    "AWS::CloudTrail::Trail",
    "AWS::CloudWatch::Alarm",
    "AWS::Config::ResourceCompliance",
    "AWS::EC2::EIP",
    "AWS::EC2::FlowLog",
    "AWS::EC2::Instance",
    "AWS::EC2::InternetGateway",
    "AWS::EC2::LaunchTemplate",
    "AWS::EC2::NatGateway",
    "AWS::EC2::NetworkAcl",
    "AWS::EC2::RouteTable",
    "AWS::EC2::SecurityGroup",
    "AWS::EC2::Subnet",
    "AWS::EC2::VPC",
    "AWS::EC2::VPCEndpoint",
    "AWS::EC2::VPCPeeringConnection",
    "AWS::EC2::Volume",
    "AWS::ElasticLoadBalancingV2::Listener",
    "AWS::ElasticLoadBalancingV2::LoadBalancer",
    "AWS::ElasticLoadBalancingV2::TargetGroup",
    "AWS::Events::Rule",
    "AWS::GuardDuty::Detector",
    "AWS::KMS::Key",
    "AWS::KinesisFirehose::DeliveryStream",
    "AWS::Lambda::CodeSigningConfig",
    "AWS::Lambda::Function",
    "AWS::RDS::DBCluster",
    "AWS::RDS::DBInstance",
    "AWS::RDS::DBSubnetGroup",
    "AWS::RDS::GlobalCluster",
    "AWS::S3::Bucket",
    "AWS::SNS::Topic",
    "AWS::SecretsManager::Secret",
    "AWS::Signer::SigningProfile",
}
IAM_TYPES = {"AWS::IAM::Role", "AWS::IAM::Policy"}


@pytest.fixture(scope="module")
def prod_on() -> StackRun:
    return run_stack("prod", {"accountBaseline": "true"})


@pytest.fixture(scope="module")
def dev_on() -> StackRun:
    return run_stack("dev", DEV_ON)


def providers(run: StackRun) -> dict[str, str]:
    """Each explicit provider's URN -> its region."""
    return {p.urn: p.region for p in run.of_type("pulumi:providers:aws")}


def site_of(run: StackRun, record: ResourceRecord) -> ResourceRecord:
    """The Site component a resource belongs to."""
    by_urn = {r.urn: r for r in run.resources}
    while record.type != "fintech:site:Site":
        record = by_urn[record.parent]
    return record


def in_region(run: StackRun, type_: str, region: str) -> list[ResourceRecord]:
    return [r for r in run.of_type(type_) if r.region == region]


def one(run: StackRun, type_: str, region: str) -> ResourceRecord:
    (found,) = in_region(run, type_, region)
    return found


def regions(run: StackRun) -> list[str]:
    return [HOME, STANDBY] if run.setting("standbyRegion") else [HOME]


# --------------------------------------------------------------------------- off


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_off_declares_none_of_the_baseline(stack: str) -> None:
    """The shipped stacks keep it off (a landing zone provides these): nothing of it in the graph,
    in either site."""
    stack_run = run_stack(stack)
    assert stack_run.setting("accountBaseline") in ("", "false")
    assert not stack_run.of_type(BASELINE)
    assert not [r.type for r in stack_run.resources if r.type in BASELINE_TYPES]
    assert not [r.name for r in stack_run.resources if "-baseline-" in r.name]


# --------------------------------------------------------------------------- once per region


@pytest.mark.parametrize("run_name", ["dev_on", "prod_on"])
def test_on_each_region_declares_each_once_through_its_own_sites_provider(
    run_name: str, request: pytest.FixtureRequest
) -> None:
    run: StackRun = request.getfixturevalue(run_name)
    provider_regions = providers(run)
    sites = {s.urn: s for s in run.of_type("fintech:site:Site")}
    assert len(run.of_type(BASELINE)) == len(regions(run)) == len(sites)
    for type_ in PER_REGION:
        assert sorted(r.region for r in run.of_type(type_)) == sorted(regions(run)), type_
    for r in run.resources:
        if r.type not in BASELINE_TYPES:
            continue
        # No per-resource region: the site's provider decides, and it is the provider of its site's region.
        assert "region" not in r.inputs, r.name
        assert provider_regions[r.provider.rsplit("::", 1)[0]] == r.region, r.name
        site = site_of(run, r)
        assert site.name == ("fintech-" + run.stack if r.region == HOME else f"fintech-{run.stack}-standby"), r.name
    # IAM is global: one service-linked role, made by the home site, used by every recorder.
    (role,) = run.of_type(SERVICE_ROLE)
    assert role.region == HOME
    assert role.inputs["awsServiceName"] == "config.amazonaws.com"
    assert role.retain_on_delete, "other services' recorders use the same role: never deleted with the stack"
    for recorder in run.of_type(RECORDER):
        assert recorder.inputs["roleArn"] == role.state["arn"]
    assert len({r.urn for r in run.resources}) == len(run.resources)


# --------------------------------------------------------------------------- GuardDuty


def test_guardduty_turns_on_s3_rds_login_and_lambda_network_protection(prod_on: StackRun) -> None:
    for region in regions(prod_on):
        detector = one(prod_on, DETECTOR, region)
        assert detector.inputs["enable"] is True
        assert detector.inputs["findingPublishingFrequency"] == "FIFTEEN_MINUTES"
        # Deprecated for these protections (GuardDuty API changes, March 2023): features instead.
        assert "datasources" not in detector.inputs
        features = {f.inputs["name"]: f for f in in_region(prod_on, FEATURE, region)}
        assert set(features) == {"S3_DATA_EVENTS", "RDS_LOGIN_EVENTS", "LAMBDA_NETWORK_LOGS"}
        for feature in features.values():
            assert feature.inputs["status"] == "ENABLED"
            assert feature.inputs["detectorId"] == detector.id


def test_high_and_critical_findings_page_the_sites_alert_topic(prod_on: StackRun) -> None:
    """Severity 7 or more (High 7.0-8.9, Critical 9.0-10.0) through EventBridge to the topic of the
    finding's own region, on the route the site's backup rules use: the topic policy and the alert
    key admit events.amazonaws.com."""
    for region in regions(prod_on):
        (rule,) = [r for r in in_region(prod_on, RULE, region) if r.name.endswith("-baseline-high-findings")]
        assert json.loads(rule.inputs["eventPattern"]) == {
            "source": ["aws.guardduty"],
            "detail-type": ["GuardDuty Finding"],
            "detail": {"severity": [{"numeric": [">=", 7]}]},
        }
        (target,) = [t for t in in_region(prod_on, TARGET, region) if t.inputs["rule"] == rule.state["name"]]
        topic = record_by_output(prod_on, target.inputs["arn"])
        assert topic.type == "aws:sns/topic:Topic"
        assert topic.region == region
        assert site_of(prod_on, topic).urn == site_of(prod_on, rule).urn
        (topic_policy,) = [
            p for p in prod_on.of_type("aws:sns/topicPolicy:TopicPolicy") if p.inputs["arn"] == topic.state["arn"]
        ]
        assert any(
            s.get("Principal") == {"Service": "events.amazonaws.com"} and s["Action"] == "sns:Publish"
            for s in doc(topic_policy)["Statement"]
        )
        key = record_by_output(prod_on, topic.inputs["kmsMasterKeyId"])
        assert any(
            s.get("Principal") == {"Service": "events.amazonaws.com"} and s.get("Effect") == "Allow"
            for s in doc(key)["Statement"]
        ), "the alert key must let EventBridge publish to the encrypted topic"
        # A finding EventBridge cannot deliver pages through CloudWatch instead.
        (alarm,) = [
            a
            for a in in_region(prod_on, ALARM, region)
            if a.inputs.get("dimensions") == {"RuleName": rule.state["name"]}
        ]
        assert alarm.inputs["metricName"] == "FailedInvocations"
        assert alarm.inputs["namespace"] == "AWS/Events"
        assert alarm.inputs["alarmActions"] == alarm.inputs["okActions"] == [topic.state["arn"]]


def test_the_undelivered_findings_alarm_watches_a_documented_metric_of_its_rule(prod_on: StackRun) -> None:
    """Like every alarm: a row of the metrics table (namespace, metric, dimensions), its dimension
    the name of a rule the stack declares."""
    assert_every_alarm_matches_a_row(prod_on, values=True)


# --------------------------------------------------------------------------- AWS Config


def config_resource_types() -> set[str]:
    """AWS Config's ResourceType enumeration, from the Config API model botocore ships."""
    return set(Loader().load_service_model("config", "service-2")["shapes"]["ResourceType"]["enum"])


def test_the_recorder_records_this_platforms_types_and_iam_in_the_home_region_only(prod_on: StackRun) -> None:
    known = config_resource_types()
    for region, expected in ((HOME, REGIONAL_TYPES | IAM_TYPES), (STANDBY, REGIONAL_TYPES)):
        recorder = one(prod_on, RECORDER, region)
        assert recorder.inputs["name"] == "default"
        group = recorder.inputs["recordingGroup"]
        assert group["allSupported"] is False
        assert group["recordingStrategies"] == [{"useOnly": "INCLUSION_BY_RESOURCE_TYPES"}]
        assert "includeGlobalResourceTypes" not in group, "conflicts with resourceTypes"
        assert set(group["resourceTypes"]) == expected, region
        assert len(group["resourceTypes"]) == len(expected)
        assert not set(group["resourceTypes"]) - known, "a type AWS Config does not know"


def test_config_delivers_into_the_audit_archive_under_config_with_the_audit_key(dev_on: StackRun) -> None:
    """dev's archive has no Object Lock: Config delivers into it, and its policy admits Config."""
    channel = one(dev_on, CHANNEL, HOME)
    (archive,) = [b for b in dev_on.of_type(BUCKET) if b.name.endswith("-storage-audit")]
    audit_key = record_by_output(dev_on, channel.inputs["s3KmsKeyArn"])
    assert audit_key.name.endswith("-sec-audit-key")
    assert channel.inputs["name"] == "default"
    assert channel.inputs["s3BucketName"] == archive.state["bucket"]
    assert channel.inputs["s3KeyPrefix"] == "config"
    assert not [b for b in dev_on.of_type(BUCKET) if "config-history" in b.name]
    assert_admits_config(dev_on, archive, audit_key)


def test_a_locked_archives_site_gives_config_a_bucket_of_its_own(prod_on: StackRun) -> None:
    """AWS Config does not deliver into a bucket with Object Lock default retention ("Managing the
    Delivery Channel"): prod's sites deliver into a bucket of the baseline's, under config/, with
    the audit key, which admits nothing else."""
    for region in regions(prod_on):
        channel = one(prod_on, CHANNEL, region)
        (bucket,) = [b for b in in_region(prod_on, BUCKET, region) if b.name.endswith("-baseline-config-history")]
        assert "objectLockEnabled" not in bucket.inputs
        assert bucket.protect, "prod protects its data"
        audit_key = record_by_output(prod_on, channel.inputs["s3KmsKeyArn"])
        assert audit_key.name.endswith("-sec-audit-key")
        assert audit_key.region == region
        assert channel.inputs["s3BucketName"] == bucket.state["bucket"]
        assert channel.inputs["s3KeyPrefix"] == "config"
        assert_admits_config(prod_on, bucket, audit_key)
        (encryption,) = [
            e
            for e in prod_on.of_type(
                "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
            )
            if e.inputs["bucket"] == bucket.id
        ]
        default = encryption.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
        assert default == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": audit_key.state["arn"]}
        # The locked archive is not told to admit a delivery that would fail.
        (archive,) = [b for b in in_region(prod_on, BUCKET, region) if b.name.endswith("-storage-audit")]
        assert not [s for s in policy_of(prod_on, archive)["Statement"] if s.get("Sid", "").startswith("AWSConfig")]


def policy_of(run: StackRun, bucket: ResourceRecord) -> dict[str, Any]:
    (policy,) = [p for p in run.of_type("aws:s3/bucketPolicy:BucketPolicy") if p.inputs["bucket"] == bucket.id]
    return doc(policy)


def assert_admits_config(run: StackRun, bucket: ResourceRecord, key: ResourceRecord) -> None:
    """The bucket policy and the key policy statements of "Permissions for the Amazon S3 Bucket"
    and "Permissions for the KMS Key" (AWS Config Developer Guide), for a service-linked role."""
    arn = bucket.state["arn"]
    statements = {s.get("Sid"): s for s in policy_of(run, bucket)["Statement"]}
    delivery = statements["AWSConfigBucketDelivery"]
    assert delivery["Principal"] == {"Service": "config.amazonaws.com"}
    assert delivery["Resource"] == f"{arn}/config/AWSLogs/{ACCOUNT_ID}/Config/*"
    assert delivery["Condition"]["StringEquals"]["s3:x-amz-acl"] == "bucket-owner-full-control"
    assert statements["AWSConfigBucketPermissionsCheck"]["Action"] == "s3:GetBucketAcl"
    key_statements = [s for s in doc(key)["Statement"] if s.get("Principal") == {"Service": "config.amazonaws.com"}]
    assert key_statements
    assert all(s["Condition"]["StringEquals"]["AWS:SourceAccount"] == ACCOUNT_ID for s in key_statements)
    assert {a for s in key_statements for a in s["Action"]} == {"kms:Decrypt", "kms:GenerateDataKey"}


@pytest.mark.parametrize("run_name", ["dev_on", "prod_on"])
def test_recording_starts_after_the_delivery_channel_which_follows_the_recorder(
    run_name: str, request: pytest.FixtureRequest
) -> None:
    """Terraform: "Delivery Channel requires a Configuration Recorder to be present" and "Starting
    Configuration Recorder requires a Delivery Channel to be present" (use depends_on)."""
    run: StackRun = request.getfixturevalue(run_name)
    for region in regions(run):
        recorder, channel, recording = (one(run, t, region) for t in (RECORDER, CHANNEL, RECORDING))
        assert recorder.urn in channel.dependencies
        assert channel.urn in recording.dependencies
        assert recording.inputs == {"name": "default", "isEnabled": True}


# --------------------------------------------------------------------------- Security Hub


def test_security_hub_subscribes_to_fsbp_and_pci_dss_4_0_1_only(prod_on: StackRun) -> None:
    for region in regions(prod_on):
        hub = one(prod_on, HUB, region)
        assert hub.inputs["enableDefaultStandards"] is False, "FSBP and CIS 1.2.0 would be on by default"
        assert hub.inputs["controlFindingGenerator"] == "SECURITY_CONTROL"
        assert "enableDefaultStandards" in hub.ignore_changes, "an imported hub is never replaced over it"
        standards = in_region(prod_on, STANDARD, region)
        assert {s.inputs["standardsArn"] for s in standards} == {
            f"arn:aws:securityhub:{region}::standards/aws-foundational-security-best-practices/v/1.0.0",
            f"arn:aws:securityhub:{region}::standards/pci-dss/v/4.0.1",
        }
        assert all(hub.urn in s.dependencies for s in standards)


# --------------------------------------------------------------------------- the backup audit framework


def test_the_baseline_turns_the_backup_audit_framework_on_once_config_records(
    dev_on: StackRun, prod_on: StackRun
) -> None:
    """AWS Config now records the backup types its controls read: each site audits its backups, with
    a framework built after recording starts (Terraform aws_backup_framework: its deployment succeeds
    only with AWS Config recording), that is the one ``backupAuditFramework`` builds under the site's
    monitoring, moved (same physical name, its old URN an alias): AWS Backup refuses a duplicate."""
    assert [f.region for f in dev_on.of_type(FRAMEWORK)] == [HOME]
    assert sorted(f.region for f in prod_on.of_type(FRAMEWORK)) == sorted([HOME, STANDBY])
    by_site_alone = {
        f.inputs["name"]: f for f in run_stack("prod", {"backupAuditFramework": "true"}).of_type(FRAMEWORK)
    }
    for framework in prod_on.of_type(FRAMEWORK):
        assert {c["name"] for c in framework.inputs["controls"]} == {
            "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN",
            "BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK",
            "BACKUP_RECOVERY_POINT_MANUAL_DELETION_DISABLED",
            "BACKUP_RESOURCES_PROTECTED_BY_CROSS_REGION",
        }
        recording = one(prod_on, RECORDING, framework.region)
        assert recording.urn in framework.dependencies
        former = by_site_alone[framework.inputs["name"]]
        assert framework.inputs["controls"] == former.inputs["controls"]
        (monitoring,) = [
            m
            for m in prod_on.of_type("fintech:monitoring:Monitoring")
            if site_of(prod_on, m).urn == site_of(prod_on, framework).urn
        ]
        (alias,) = framework.aliases
        assert f'name: "{former.name}"' in alias
        assert f'parentUrn: "{monitoring.urn}"' in alias
        assert former.parent.rsplit("::", 1)[-1] == monitoring.name


# --------------------------------------------------------------------------- settings


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"accountBaseline": "true"}, "needs backupEnabled true"),
        ({**DEV_ON, "backupCopyRegion": ""}, "needs backupCopyRegion or standbyRegion"),
    ],
)
def test_a_baseline_that_cannot_work_is_refused_naming_the_key(overrides: dict[str, str], says: str) -> None:
    with pytest.raises(ProgramError) as excinfo:
        run_stack("dev", overrides)
    problems = [p for p in str(excinfo.value).splitlines() if p.strip().startswith("- ")]
    (problem,) = problems
    assert "payments-platform:accountBaseline = 'true'" in problem
    assert says in problem
    assert not excinfo.value.resources, "a bad config declares nothing"


def test_a_framework_without_a_copy_region_is_refused_instead_of_silently_left_out() -> None:
    overrides = {**DEV_ON, "accountBaseline": "false", "backupAuditFramework": "true", "backupCopyRegion": ""}
    with pytest.raises(ProgramError, match=r"payments-platform:backupAuditFramework = 'true': needs backupCopyRegion"):
        run_stack("dev", overrides)
