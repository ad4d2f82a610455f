"""Account baseline tier: what an account no landing zone manages lacks, in one site's region.

GuardDuty (with S3, RDS login and Lambda network protection) whose findings of severity 7 or more
page the site's alert topic, AWS Config recording this platform's resource types, and Security Hub
with the AWS Foundational Security Best Practices and PCI DSS v4.0.1 standards. Each is one per
account and Region ("You can have only one detector per account per Region", GuardDuty
CreateDetector; "one customer managed configuration recorder for each account for each AWS
Region", Config PutConfigurationRecorder; Security Hub is enabled once per Region): the site
builds this tier through its own provider, so every region of the stack gets its own and none
twice. What an existing one does to ``pulumi up``, and how to import it, is docs/landing-zone.md.

With the baseline, the site's AWS Backup Audit Manager framework is built here, after recording
starts ("For the Deployment Status of the Framework to be successful, please turn on resource
tracking to enable AWS Config recording", Terraform aws_backup_framework); without it, by the site's
monitoring, where a landing zone's recorder already records (``backupAuditFramework``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import pulumi
import pulumi_aws as aws

from components import policies
from components.site.monitoring import AlarmSpec, BackupAudit, Metric, backup_audit_framework, metric_alarm
from components.site.storage import _secure

# --------------------------------------------------------------------------- GuardDuty

GUARDDUTY_FEATURES = ("S3_DATA_EVENTS", "RDS_LOGIN_EVENTS", "LAMBDA_NETWORK_LOGS")
"""The protections turned on, each a ``guardduty.DetectorFeature`` (the detector's ``datasources``
block is deprecated for them: "GuardDuty API changes in March 2023"). Names as the API takes them
(DetectorFeatureConfiguration.Name: S3_DATA_EVENTS | EKS_AUDIT_LOGS | EBS_MALWARE_PROTECTION |
RDS_LOGIN_EVENTS | EKS_RUNTIME_MONITORING | LAMBDA_NETWORK_LOGS | RUNTIME_MONITORING,
https://docs.aws.amazon.com/guardduty/latest/APIReference/API_DetectorFeatureConfiguration.html).
CreateDetector turns the optional features it is not given on too (except Runtime Monitoring):
these three are declared so that they stay on, whatever the account's defaults."""

HIGH_SEVERITY = 7
"""GuardDuty's High band starts at 7.0 (High 7.0-8.9, Critical 9.0-10.0: "Severity levels of
GuardDuty findings", https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_findings-severity.html)."""

PUBLISHING_FREQUENCY = "FIFTEEN_MINUTES"
"""How soon updates of an existing finding reach EventBridge (new findings go within five
minutes whatever this says); SIX_HOURS by default (Terraform aws_guardduty_detector,
finding_publishing_frequency)."""


def findings_pattern(min_severity: int = HIGH_SEVERITY) -> dict[str, Any]:
    """GuardDuty findings of ``min_severity`` or more, as GuardDuty sends them to EventBridge
    (source aws.guardduty, detail-type "GuardDuty Finding": "Amazon GuardDuty events",
    https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-guardduty.html), matched on
    ``detail.severity`` numerically ("Comparison operators for use in event patterns",
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html)."""
    return {
        "source": ["aws.guardduty"],
        "detail-type": ["GuardDuty Finding"],
        "detail": {"severity": [{"numeric": [">=", min_severity]}]},
    }


# --------------------------------------------------------------------------- AWS Config

CONFIG_NAME = "default"
"""The recorder's and the delivery channel's name: AWS Config's own ("By default, AWS Config assigns
the name 'default' when creating the delivery channel", API DeliveryChannel; the recorder's default
in the provider too), so one set up by hand in the console imports without a rename (a name change
replaces either, and a second one cannot exist: docs/landing-zone.md)."""

CONFIG_SERVICE_ROLE = "AWSServiceRoleForConfig"

# Every type string below is in AWS Config's ResourceType enumeration (botocore's config model,
# which tests/unit/test_baseline.py reads) and in "Supported Resource Types for AWS Config"
# (https://docs.aws.amazon.com/config/latest/developerguide/resource-config-reference.html).
# Types this program declares in a site's region; the edge's (CloudFront, its web ACL, us-east-1
# certificates) live in us-east-1, where no site records (docs/landing-zone.md). Not recorded: log
# groups and SSM parameters (no Config type), recovery points (a new item per backup every day, and
# none of the framework's controls reads them).
REGIONAL_TYPES: dict[str, tuple[str, ...]] = {
    "network": (
        "AWS::EC2::VPC",
        "AWS::EC2::Subnet",
        "AWS::EC2::SecurityGroup",
        "AWS::EC2::RouteTable",
        "AWS::EC2::NetworkAcl",
        "AWS::EC2::InternetGateway",
        "AWS::EC2::NatGateway",
        "AWS::EC2::EIP",
        "AWS::EC2::VPCEndpoint",
        "AWS::EC2::FlowLog",
        "AWS::EC2::VPCPeeringConnection",
    ),
    "app": (
        "AWS::EC2::LaunchTemplate",
        "AWS::EC2::Instance",
        "AWS::EC2::Volume",
        "AWS::AutoScaling::AutoScalingGroup",
        "AWS::AutoScaling::ScalingPolicy",
        "AWS::AutoScaling::ScheduledAction",
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        "AWS::ElasticLoadBalancingV2::Listener",
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        "AWS::ACM::Certificate",
    ),
    "data": (
        "AWS::RDS::DBCluster",
        "AWS::RDS::DBInstance",
        "AWS::RDS::DBSubnetGroup",
        "AWS::RDS::GlobalCluster",
        "AWS::S3::Bucket",
        "AWS::KMS::Key",
        "AWS::SecretsManager::Secret",
        "AWS::Lambda::Function",
        "AWS::Lambda::CodeSigningConfig",
        "AWS::Signer::SigningProfile",
    ),
    "audit": (
        "AWS::CloudTrail::Trail",
        "AWS::SNS::Topic",
        "AWS::CloudWatch::Alarm",
        "AWS::Events::Rule",
        "AWS::KinesisFirehose::DeliveryStream",
        "AWS::GuardDuty::Detector",
    ),
    # What the Backup Audit Manager controls read: "backup selection", "backup plans", "backup
    # vaults", and for every control "resource compliance" ("Choosing your controls", AWS Backup
    # Developer Guide, https://docs.aws.amazon.com/aws-backup/latest/devguide/choosing-controls.html).
    "backup": (
        "AWS::Backup::BackupPlan",
        "AWS::Backup::BackupSelection",
        "AWS::Backup::BackupVault",
        "AWS::Config::ResourceCompliance",
    ),
}
GLOBAL_TYPES = ("AWS::IAM::Role", "AWS::IAM::Policy")
"""IAM's global types, recorded by the home site alone: recorded in two regions each change would be
two configuration items ("Recording global resources", AWS Config Developer Guide; PutConfigurationRecorder
names AWS::IAM::Group, AWS::IAM::Policy, AWS::IAM::Role and AWS::IAM::User as the global IAM types)."""


def recorded_types(*, global_types: bool) -> list[str]:
    """The recorder's resource types, sorted: every regional type, and IAM's where ``global_types``."""
    regional = [t for types in REGIONAL_TYPES.values() for t in types]
    return sorted({*regional, *(GLOBAL_TYPES if global_types else ())})


def config_service_role_arn(partition: str, account_id: str) -> str:
    """AWS Config's service-linked role ("Using Service-Linked Roles for AWS Config"): one per account."""
    return f"arn:{partition}:iam::{account_id}:role/aws-service-role/config.amazonaws.com/{CONFIG_SERVICE_ROLE}"


# --------------------------------------------------------------------------- Security Hub

STANDARDS = {
    "fsbp": "standards/aws-foundational-security-best-practices/v/1.0.0",
    "pci-dss": "standards/pci-dss/v/4.0.1",
}
"""The standards subscribed to, by key, as their ARNs end (the ARN table of Terraform's
aws_securityhub_standards_subscription, https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/securityhub_standards_subscription:
``arn:${partition}:securityhub:${region}::standards/aws-foundational-security-best-practices/v/1.0.0``
and ``.../standards/pci-dss/v/4.0.1``)."""


def standards_arn(partition: str, region: str, standard: str) -> str:
    """A Security Hub standard's ARN in ``region``: regional, and with no account."""
    return f"arn:{partition}:securityhub:{region}::{STANDARDS[standard]}"


# --------------------------------------------------------------------------- the component


@dataclass(frozen=True)
class ConfigDelivery:
    """Where AWS Config delivers its configuration history and snapshots (under ``config/``)."""

    key_arn: pulumi.Input[str]
    """The audit key: the delivery channel encrypts with it (``s3_kms_key_arn``)."""
    audit_bucket_name: pulumi.Input[str] | None
    """The site's audit archive, whose policy admits AWS Config (``StorageArgs.config_delivery``);
    None where the archive has Object Lock with a default retention, which AWS Config cannot deliver
    into ("AWS Config does not support the delivery channel to an Amazon S3 bucket where object lock
    is enabled with default retention enabled", "Managing the Delivery Channel", AWS Config Developer
    Guide, https://docs.aws.amazon.com/config/latest/developerguide/manage-delivery-channel.html):
    the baseline then keeps a bucket of its own, encrypted with the same key."""
    retention_days: int
    """Days the baseline's own bucket keeps what Config delivers (the audit archive's retention)."""


@dataclass(frozen=True)
class AuditFramework:
    """The site's Backup Audit Manager framework, which the baseline builds once AWS Config records."""

    audit: BackupAudit
    former_name: str
    """Its logical name under the site's monitoring (``backupAuditFramework`` alone builds it there):
    its physical name stays that name's, and the old URN is an alias, so turning the baseline on
    moves the framework instead of creating a second one, which AWS Backup refuses ("You cannot
    deploy duplicate frameworks", "Working with audit frameworks")."""
    former_parent_urn: pulumi.Input[str]
    """The site's monitoring component."""


@dataclass(frozen=True)
class BaselineArgs:
    alert_topic_arn: pulumi.Input[str]
    """The site's alert topic: its key and topic policies must admit EventBridge (they do whenever
    backups are on, which the settings require with the baseline)."""
    delivery: ConfigDelivery
    record_global_types: bool
    """The home site records IAM's global types; a standby does not (one region is enough)."""
    config_role_arn: pulumi.Input[str] | None = None
    """AWS Config's service-linked role, created by the home site (IAM is global: one per account);
    None: this site creates it (the home site)."""
    protect: bool = False
    """Pulumi ``protect`` on the detector, the hub and the baseline's own bucket: deleting the
    detector deletes its findings."""
    framework: AuditFramework | None = None
    """The site's backup audit framework (its backups are copied to another region); None: none."""


class Baseline(pulumi.ComponentResource):
    """GuardDuty, AWS Config and Security Hub in the region of the provider it is built through."""

    detector_id: pulumi.Output[str]
    config_role_arn: pulumi.Output[str]
    """AWS Config's service-linked role, for the other site's recorder."""
    recorder_name: pulumi.Output[str]
    delivery_bucket_name: pulumi.Output[str]
    hub_arn: pulumi.Output[str]

    def __init__(self, name: str, args: BaselineArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("fintech:baseline:Baseline", name, None, opts)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        partition = aws.get_partition_output(opts=invoke).partition
        region = aws.get_region_output(opts=invoke).region
        account_id = aws.get_caller_identity_output(opts=invoke).account_id

        self.detector_id = self._guardduty(name, args)
        self._finding_alerts(name, args.alert_topic_arn)
        self.config_role_arn = self._config_role(name, args)
        self.delivery_bucket_name = self._delivery_bucket(name, args, account_id)
        self.recorder_name, recording = self._config(name, args)
        if args.framework is not None:
            self._backup_audit(name, args.framework, recording)
        self.hub_arn = self._security_hub(name, args, partition, region)
        self.register_outputs(
            {
                "detector_id": self.detector_id,
                "config_role_arn": self.config_role_arn,
                "recorder_name": self.recorder_name,
                "delivery_bucket_name": self.delivery_bucket_name,
                "hub_arn": self.hub_arn,
            }
        )

    def _child(self, *, protect: bool = False, depends_on: Sequence[pulumi.Resource] = ()) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, protect=protect, depends_on=list(depends_on))

    def _guardduty(self, name: str, args: BaselineArgs) -> pulumi.Output[str]:
        detector = aws.guardduty.Detector(
            f"{name}-guardduty",
            enable=True,
            finding_publishing_frequency=PUBLISHING_FREQUENCY,
            opts=self._child(protect=args.protect),
        )
        for feature in GUARDDUTY_FEATURES:
            aws.guardduty.DetectorFeature(
                f"{name}-guardduty-{feature.lower().replace('_', '-')}",
                detector_id=detector.id,
                name=feature,
                status="ENABLED",
                opts=self._child(),
            )
        return detector.id

    def _finding_alerts(self, name: str, topic_arn: pulumi.Input[str]) -> None:
        """High and critical findings to the alert topic, and an alarm when EventBridge cannot
        deliver one (like the site's other rules, ``monitoring.delivery_alarms``)."""
        rule = aws.cloudwatch.EventRule(
            f"{name}-high-findings",
            description=f"GuardDuty: findings of severity {HIGH_SEVERITY} or more",
            event_pattern=json.dumps(findings_pattern()),
            opts=self._child(),
        )
        aws.cloudwatch.EventTarget(f"{name}-high-findings-alert", rule=rule.name, arn=topic_arn, opts=self._child())
        metric_alarm(f"{name}-high-findings-undelivered", findings_undelivered_alarm(rule.name), topic_arn, self)

    def _config_role(self, name: str, args: BaselineArgs) -> pulumi.Output[str]:
        """AWS Config's service-linked role: what the AWS Config guide recommends, and what Security
        Hub's Config.1 control ("AWS Config should be enabled and use the service-linked role for
        resource recording", Security Hub User Guide, config-controls) checks. It delivers as the
        ``config.amazonaws.com`` principal, which the bucket and key policies admit. Kept when the
        stack lets go of it: other services' recorders (Security Hub's) use the same role."""
        if args.config_role_arn is not None:
            return pulumi.Output.from_input(args.config_role_arn)
        role = aws.iam.ServiceLinkedRole(
            f"{name}-config-role",
            aws_service_name=policies.CONFIG_SERVICE,
            description="AWS Config records this account's resources (account baseline)",
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )
        return role.arn

    def _delivery_bucket(self, name: str, args: BaselineArgs, account_id: pulumi.Output[str]) -> pulumi.Output[str]:
        """The audit archive, or a bucket of the baseline's own where AWS Config cannot write into
        the archive (``ConfigDelivery.audit_bucket_name``): versioned, SSE-KMS with the audit key
        only, TLS only, no public access; resolves once its policy admits AWS Config."""
        delivery = args.delivery
        if delivery.audit_bucket_name is not None:
            return pulumi.Output.from_input(delivery.audit_bucket_name)
        short = f"{name}-config-history"
        bucket = aws.s3.Bucket(
            short,
            force_destroy=not args.protect,
            # Not an archive (no Object Lock: AWS Config could not deliver into it).
            tags={"Purpose": "config-history"},
            opts=self._child(protect=args.protect),
        )
        # The controls every bucket of the stack gets (storage.py): no public access, no ACLs,
        # versioning, SSE-KMS with the audit key and a bucket key.
        versioning, public_access, encryption = _secure(self, short, bucket, sse=("aws:kms", delivery.key_arn))
        aws.s3.BucketLifecycleConfiguration(
            f"{short}-lifecycle",
            bucket=bucket.id,
            rules=[config_history_lifecycle(delivery.retention_days)],
            opts=self._child(depends_on=[versioning]),
        )
        policy = aws.s3.BucketPolicy(
            f"{short}-policy",
            bucket=bucket.id,
            policy=pulumi.Output.all(bucket.arn, delivery.key_arn, account_id).apply(
                lambda v: json.dumps(
                    policies.data_bucket_policy(v[0], v[1], policies.ArchiveDeliveries(account_id=v[2], config=True))
                )
            ),
            opts=self._child(depends_on=[public_access]),
        )
        return pulumi.Output.all(bucket.bucket, policy.id, encryption.id, versioning.id).apply(lambda v: str(v[0]))

    def _config(self, name: str, args: BaselineArgs) -> tuple[pulumi.Output[str], aws.cfg.RecorderStatus]:
        """The recorder, its delivery channel, and recording turned on: the channel needs the
        recorder, and recording needs the channel ("Delivery Channel requires a Configuration
        Recorder to be present"; "Starting Configuration Recorder requires a Delivery Channel to be
        present. Use of depends_on ... is recommended": Terraform aws_config_delivery_channel and
        aws_config_configuration_recorder_status; StartConfigurationRecorder fails with
        NoAvailableDeliveryChannelException without one)."""
        recorder = aws.cfg.Recorder(
            f"{name}-config-recorder",
            name=CONFIG_NAME,
            role_arn=self.config_role_arn,
            recording_group=aws.cfg.RecorderRecordingGroupArgs(
                all_supported=False,
                recording_strategies=[
                    aws.cfg.RecorderRecordingGroupRecordingStrategyArgs(use_only="INCLUSION_BY_RESOURCE_TYPES")
                ],
                resource_types=recorded_types(global_types=args.record_global_types),
            ),
            opts=self._child(),
        )
        channel = aws.cfg.DeliveryChannel(
            f"{name}-config-delivery",
            name=CONFIG_NAME,
            s3_bucket_name=self.delivery_bucket_name,
            s3_key_prefix=policies.CONFIG_PREFIX,
            s3_kms_key_arn=args.delivery.key_arn,
            snapshot_delivery_properties=aws.cfg.DeliveryChannelSnapshotDeliveryPropertiesArgs(
                delivery_frequency="TwentyFour_Hours"
            ),
            opts=self._child(depends_on=[recorder]),
        )
        status = aws.cfg.RecorderStatus(
            f"{name}-config-recording",
            name=recorder.name,
            is_enabled=True,
            opts=self._child(depends_on=[channel]),
        )
        return status.name, status

    def _backup_audit(self, name: str, framework: AuditFramework, recording: aws.cfg.RecorderStatus) -> None:
        """The framework of ``monitoring.backup_audit_controls``, once AWS Config records."""
        backup_audit_framework(
            self,
            name,
            framework.audit,
            physical_name=framework.former_name,
            opts=pulumi.ResourceOptions(
                depends_on=[recording],
                aliases=[pulumi.Alias(name=framework.former_name, parent=framework.former_parent_urn)],
            ),
        )

    def _security_hub(
        self, name: str, args: BaselineArgs, partition: pulumi.Output[str], region: pulumi.Output[str]
    ) -> pulumi.Output[str]:
        """Security Hub without the standards it would turn on by itself (FSBP and CIS v1.2.0:
        ``enable_default_standards``), then the two standards of this platform. Consolidated
        control findings: one finding per control, whichever standards include it."""
        hub = aws.securityhub.Account(
            f"{name}-security-hub",
            enable_default_standards=False,
            control_finding_generator="SECURITY_CONTROL",
            auto_enable_controls=True,
            # Read by EnableSecurityHub alone, and forcing a replacement (the hub off, then on) when it
            # differs from an imported hub's: docs/landing-zone.md imports one enabled with defaults.
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, ignore_changes=["enableDefaultStandards"]),
        )
        for standard in STANDARDS:
            aws.securityhub.StandardsSubscription(
                f"{name}-standard-{standard}",
                standards_arn=pulumi.Output.all(partition, region).apply(partial(_standards_arn, standard)),
                opts=self._child(depends_on=[hub]),
            )
        return hub.arn


def _standards_arn(standard: str, where: list[str]) -> str:
    return standards_arn(where[0], where[1], standard)


def config_history_lifecycle(days: int) -> aws.s3.BucketLifecycleConfigurationRuleArgs:
    """What Config delivered is gone after ``days``, an overwritten version after 30."""
    return aws.s3.BucketLifecycleConfigurationRuleArgs(
        id="expire-config-history",
        status="Enabled",
        filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
        expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=days),
        noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
            noncurrent_days=30
        ),
        abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
            days_after_initiation=7
        ),
    )


def findings_undelivered_alarm(rule_name: pulumi.Input[str]) -> AlarmSpec:
    """EventBridge's FailedInvocations of the findings rule (AWS/Events, per RuleName: "Monitoring
    Amazon EventBridge", https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html)."""
    return AlarmSpec(
        "high-findings-undelivered",
        "EventBridge could not deliver a GuardDuty finding of severity 7 or more to the alert topic "
        "(check the alert key's and the topic's policies for events.amazonaws.com)",
        "GreaterThanThreshold",
        0,
        "notBreaching",
        "EventBridge publishes FailedInvocations only when a delivery fails: silence is success",
        metric=Metric("AWS/Events", "FailedInvocations", {"RuleName": rule_name}, "Sum"),
        evaluation_periods=1,
        datapoints_to_alarm=1,
        tier="Baseline",
    )
