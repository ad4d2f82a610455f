"""The physical names AWS will see for a recorded resource, and the limits AWS puts on them.

The offline mocks do not apply Pulumi autonaming, so a resource declared without a name has no name
in the recorded graph. The real pulumi-aws provider gives it one, in one of three ways, and this
module reproduces each to know the length AWS will see:

* an explicit input (``name``, ``bucket``, ``clusterIdentifier``, ``scheduledActionName`` ...) is
  used as given;
* a ``*Prefix`` input (``namePrefix``) is completed by Terraform with a 26-character unique suffix
  (``id.UniqueIDSuffixLength``, a timestamp and a counter): prefix + 26;
* otherwise pulumi-aws autonames the property (``tfbridge.AutoName``): the logical name, a ``-`` and
  7 random hex characters, i.e. logical name + 8. pulumi-aws autonames every resource with an
  input called ``name`` (``setAutonaming``, max 255) and some other properties with their own
  maximum (``bucket`` 63 lower-cased, Lambda ``name`` 64, IAM role ``name`` 64, target group
  ``name`` 32, alarm ``name`` 255, Lambda permission ``statementId`` 100, SNS topic ``name`` 80,
  KMS alias ``name`` 238 plus ``alias/``). The maximum is not a truncation: a longer name fails
  the preview with "name '<logical>-' plus 7 random chars is longer than maximum length N"
  (``resource.NewUniqueHex``).

``NAME_RULES`` lists, per resource type, the property carrying each physical name, its AWS limit and
allowed characters, with the source of the limit. ``UNNAMED`` lists the types AWS identifies by an
ID it assigns (or that are not AWS objects at all), with the reason. A type in neither table is an
error for the tests: add it, with its source, before deploying it.

Sources used throughout (cited per rule as well):
  pulumi-aws autonaming  https://github.com/pulumi/pulumi-aws/blob/master/provider/resources.go
  autoname semantics     https://github.com/pulumi/pulumi-terraform-bridge/blob/master/pkg/tfbridge/names.go
  no truncation          https://github.com/pulumi/pulumi/blob/master/sdk/go/common/resource/properties.go
                         (NewUniqueHex), seen in https://github.com/pulumi/pulumi-cdk/issues/62
  prefix + 26            https://github.com/hashicorp/terraform-plugin-sdk/blob/main/helper/id/id.go
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

AUTONAME_RANDOM = "0a1b2c3"
"""Stands for the 7 random hex characters pulumi-aws appends after a ``-``."""
TF_UNIQUE_SUFFIX = "20250101120000000000000001"
"""Stands for Terraform's 26-character unique suffix appended to a ``*Prefix`` input."""

PULUMI_AUTONAMING = "https://github.com/pulumi/pulumi-aws/blob/master/provider/resources.go"
TF_PREFIX = "https://github.com/hashicorp/terraform-plugin-sdk/blob/main/helper/id/id.go"

Check = Callable[[str], str | None]
"""An extra rule on a full name: a problem, or None."""


def _not_prefixed(*prefixes: str) -> Check:
    def check(name: str) -> str | None:
        hit = next((p for p in prefixes if name.startswith(p)), None)
        return f"must not start with {hit!r}" if hit else None

    return check


def _prefixed(prefix: str) -> Check:
    def check(name: str) -> str | None:
        return None if name.startswith(prefix) else f"must start with {prefix!r}"

    return check


def _no_double_hyphen(name: str) -> str | None:
    return "must not contain two consecutive hyphens" if "--" in name else None


def _dns_name(name: str) -> str | None:
    """A DNS name (trailing dot allowed): at most 253 characters, labels of 1-63 characters."""
    bare = name[:-1] if name.endswith(".") else name
    if len(bare) > 253:
        return f"is {len(bare)} characters; a DNS name has at most 253"
    long = [label for label in bare.split(".") if not 1 <= len(label) <= 63]
    return f"has labels outside 1-63 characters: {long}" if long else None


def _s3_bucket(name: str) -> str | None:
    if ".." in name or re.fullmatch(r"\d+\.\d+\.\d+\.\d+", name):
        return "must not contain '..' or look like an IP address"
    return _not_prefixed("xn--", "sthree-", "amzn-s3-demo-")(name) or (
        "must not end with '-s3alias' or '--ol-s3'" if name.endswith(("-s3alias", "--ol-s3")) else None
    )


def _no_adjacent_punctuation(name: str) -> str | None:
    """CreateTrail: "Have no adjacent periods, underscores or dashes" (my-_namespace, my--namespace)."""
    return "must not have adjacent periods, underscores or dashes" if re.search(r"[._-]{2}", name) else None


def _not_an_ip_address(name: str) -> str | None:
    return "must not be in IP address format" if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", name) else None


def _secret_name(name: str) -> str | None:
    # The ARN appends "-" and 6 characters; a name ending the same way confuses partial-ARN lookups.
    return "must not end with a hyphen and six characters" if re.search(r"-[^-/]{6}$", name) else None


@dataclass(frozen=True)
class NameRule:
    """How one property of a resource type becomes a physical name, and AWS's limit on it."""

    prop: str
    """camelCase input carrying the name."""
    max_len: int
    source: str
    """Where the limit is documented."""
    pattern: str = r"[\s\S]+"
    """Characters AWS accepts (a full-match regular expression)."""
    min_len: int = 1
    autoname: bool = False
    """pulumi-aws fills ``prop`` with ``<logical name>-<7 hex>`` when no name is given."""
    autoname_max: int = 255
    """pulumi-aws refuses (it does not truncate) an autoname longer than this."""
    lower: bool = False
    """The autoname lower-cases the logical name (S3 buckets)."""
    autoname_prefix: str = ""
    """Put before the autoname (KMS aliases get ``alias/``); not counted against ``autoname_max``."""
    prefix_prop: str | None = None
    """An input Terraform completes with a 26-character unique suffix."""
    tf_default_prefix: str | None = None
    """Neither set nor autonamed: Terraform generates this prefix + 26 characters."""
    checks: tuple[Check, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class PhysicalName:
    resource_type: str
    resource_name: str
    rule: NameRule
    value: str
    how: str

    def problems(self) -> list[str]:
        rule, value = self.rule, self.value
        found = []
        autonamed = len(value) - len(rule.autoname_prefix)
        if self.how == "autoname" and autonamed > rule.autoname_max:
            found.append(
                f"pulumi-aws refuses to autoname it: {autonamed} characters is longer than its maximum "
                f"{rule.autoname_max} for {rule.prop}"
            )
        if not rule.min_len <= len(value) <= rule.max_len:
            found.append(f"is {len(value)} characters; AWS allows {rule.min_len}-{rule.max_len}")
        if not re.fullmatch(rule.pattern, value):
            found.append(f"has characters AWS does not allow (allowed: {rule.pattern})")
        found += [p for check in rule.checks if (p := check(value))]
        return found

    def describe(self) -> str:
        return (
            f"{self.resource_type} {self.resource_name}: {self.rule.prop} = {self.value!r} ({self.how}, "
            f"{len(self.value)} chars; limit {self.rule.max_len}, source {self.rule.source})"
        )


def physical_names(resource_type: str, resource_name: str, inputs: Mapping[str, Any]) -> list[PhysicalName]:
    """Every physical name the real provider would give this resource (see the module docstring)."""
    out = []
    for rule in NAME_RULES.get(resource_type, ()):
        explicit = inputs.get(rule.prop)
        prefix = inputs.get(rule.prefix_prop) if rule.prefix_prop else None
        if isinstance(explicit, str):
            value, how = explicit, "explicit"
        elif isinstance(prefix, str):
            value, how = prefix + TF_UNIQUE_SUFFIX, f"{rule.prefix_prop} + 26"
        elif rule.autoname:
            logical = resource_name.lower() if rule.lower else resource_name
            value, how = f"{rule.autoname_prefix}{logical}-{AUTONAME_RANDOM}", "autoname"
        elif rule.tf_default_prefix is not None:
            value, how = rule.tf_default_prefix + TF_UNIQUE_SUFFIX, "Terraform default"
        else:
            continue  # optional and unset: no such name (e.g. no final snapshot in dev)
        out.append(PhysicalName(resource_type, resource_name, rule, value, how))
    return out


# --------------------------------------------------------------------------- the table

_IAM_NAME = r"[\w+=,.@-]+"
_ELB_NAME = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
# Lower case as the Terraform provider validates them (AWS stores RDS identifiers lower-cased).
_RDS_IDENTIFIER = r"[a-z][a-z0-9-]*[a-z0-9]|[a-z]"
_API = "https://docs.aws.amazon.com"

NAME_RULES: dict[str, tuple[NameRule, ...]] = {
    "aws:acm/certificate:Certificate": (
        NameRule(
            "domainName",
            64,
            f"{_API}/acm/latest/APIReference/API_RequestCertificate.html",
            pattern=r"[a-z0-9*.-]+",
            checks=(_dns_name,),
            note="the first domain (the certificate's Common Name) is at most 64 octets; SANs up to 253",
        ),
    ),
    "aws:autoscaling/group:Group": (
        NameRule(
            "name",
            255,
            f"{_API}/autoscaling/ec2/APIReference/API_CreateAutoScalingGroup.html",
            autoname=True,
            prefix_prop="namePrefix",
        ),
    ),
    "aws:autoscaling/policy:Policy": (
        NameRule("name", 255, f"{_API}/autoscaling/ec2/APIReference/API_PutScalingPolicy.html", autoname=True),
    ),
    "aws:autoscaling/schedule:Schedule": (
        NameRule(
            "scheduledActionName", 255, f"{_API}/autoscaling/ec2/APIReference/API_PutScheduledUpdateGroupAction.html"
        ),
    ),
    "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy": (
        NameRule(
            "name",
            255,
            f"{_API}/cloudfront/latest/APIReference/API_ResponseHeadersPolicyConfig.html",
            autoname=True,
            note="the API documents no length; 255 is pulumi-aws's autoname maximum",
        ),
    ),
    "aws:cloudwatch/dashboard:Dashboard": (
        NameRule(
            "dashboardName",
            255,
            f"{_API}/AmazonCloudWatch/latest/APIReference/API_PutDashboard.html",
            pattern=r"[A-Za-z0-9_-]+",
        ),
    ),
    "aws:cloudwatch/logDeliveryDestination:LogDeliveryDestination": (
        NameRule(
            "name",
            60,
            f"{_API}/AmazonCloudWatchLogs/latest/APIReference/API_PutDeliveryDestination.html",
            pattern=r"[\w-]+",
            autoname=True,
        ),
    ),
    "aws:cloudwatch/logDeliverySource:LogDeliverySource": (
        NameRule(
            "name",
            60,
            f"{_API}/AmazonCloudWatchLogs/latest/APIReference/API_PutDeliverySource.html",
            pattern=r"[\w-]+",
            autoname=True,
        ),
    ),
    "aws:cloudwatch/logGroup:LogGroup": (
        NameRule(
            "name",
            512,
            f"{_API}/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html",
            pattern=r"[.\-_/#A-Za-z0-9]+",
            autoname=True,
            prefix_prop="namePrefix",
        ),
    ),
    "aws:cloudwatch/logStream:LogStream": (
        NameRule(
            "name",
            512,
            f"{_API}/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogStream.html",
            pattern=r"[^:*]+",
            autoname=True,
        ),
    ),
    "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter": (
        NameRule(
            "name",
            512,
            f"{_API}/AmazonCloudWatchLogs/latest/APIReference/API_PutSubscriptionFilter.html",
            pattern=r"[^:*]+",
            autoname=True,
        ),
    ),
    "aws:backup/vault:Vault": (
        NameRule(
            "name",
            50,
            f"{_API}/aws-backup/latest/devguide/API_CreateBackupVault.html",
            pattern=r"[a-zA-Z0-9\-_]+",
            min_len=2,
            autoname=True,
        ),
    ),
    "aws:backup/plan:Plan": (
        NameRule(
            "name",
            50,
            f"{_API}/aws-backup/latest/devguide/API_BackupPlanInput.html",
            pattern=r"[a-zA-Z0-9\-_.]+",
            autoname=True,
        ),
    ),
    "aws:backup/selection:Selection": (
        NameRule(
            "name",
            50,
            f"{_API}/aws-backup/latest/devguide/API_BackupSelection.html",
            pattern=r"[a-zA-Z0-9\-_.]+",
            autoname=True,
        ),
    ),
    # Letters, digits and underscores only: an autoname (with its hyphen) would be refused.
    "aws:backup/restoreTestingPlan:RestoreTestingPlan": (
        NameRule("name", 50, f"{_API}/aws-backup/latest/devguide/API_RestoreTestingPlanForCreate.html", pattern=r"\w+"),
    ),
    "aws:backup/restoreTestingSelection:RestoreTestingSelection": (
        NameRule(
            "name", 50, f"{_API}/aws-backup/latest/devguide/API_RestoreTestingSelectionForCreate.html", pattern=r"\w+"
        ),
    ),
    "aws:cloudtrail/trail:Trail": (
        NameRule(
            "name",
            128,
            f"{_API}/awscloudtrail/latest/APIReference/API_CreateTrail.html",
            # Letters, digits, periods, underscores and dashes; a letter or digit first and last.
            pattern=r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?",
            min_len=3,
            autoname=True,
            checks=(_no_adjacent_punctuation, _not_an_ip_address),
        ),
    ),
    "aws:cloudwatch/logMetricFilter:LogMetricFilter": (
        NameRule(
            "name",
            512,
            f"{_API}/AmazonCloudWatchLogs/latest/APIReference/API_PutMetricFilter.html",
            pattern=r"[^:*]+",
            autoname=True,
        ),
    ),
    "aws:cloudwatch/eventRule:EventRule": (
        NameRule(
            "name",
            64,
            f"{_API}/eventbridge/latest/APIReference/API_PutRule.html",
            pattern=r"[.\-_A-Za-z0-9]+",
            autoname=True,
            prefix_prop="namePrefix",
        ),
    ),
    "aws:cloudwatch/metricAlarm:MetricAlarm": (
        NameRule("name", 255, f"{_API}/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html", autoname=True),
    ),
    "aws:ec2/launchTemplate:LaunchTemplate": (
        NameRule(
            "name",
            128,
            f"{_API}/AWSEC2/latest/APIReference/API_CreateLaunchTemplate.html",
            pattern=r"[a-zA-Z0-9().\-/_]+",
            min_len=3,
            autoname=True,
            prefix_prop="namePrefix",
        ),
    ),
    "aws:ec2/securityGroup:SecurityGroup": (
        NameRule(
            "name",
            255,
            f"{_API}/AWSEC2/latest/APIReference/API_CreateSecurityGroup.html",
            pattern=r"[a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*]+",
            autoname=True,
            prefix_prop="namePrefix",
            checks=(_not_prefixed("sg-"),),
        ),
    ),
    "aws:iam/instanceProfile:InstanceProfile": (
        NameRule(
            "name",
            128,
            f"{_API}/IAM/latest/APIReference/API_CreateInstanceProfile.html",
            pattern=_IAM_NAME,
            autoname=True,
            prefix_prop="namePrefix",
        ),
    ),
    "aws:iam/role:Role": (
        NameRule(
            "name",
            64,
            f"{_API}/IAM/latest/APIReference/API_CreateRole.html",
            pattern=_IAM_NAME,
            autoname=True,
            autoname_max=64,
            prefix_prop="namePrefix",
            note="Terraform's name_prefix is therefore at most 38 characters",
        ),
    ),
    "aws:iam/rolePolicy:RolePolicy": (
        NameRule(
            "name",
            128,
            f"{_API}/IAM/latest/APIReference/API_PutRolePolicy.html",
            pattern=_IAM_NAME,
            autoname=True,
            prefix_prop="namePrefix",
        ),
    ),
    "aws:iam/policy:Policy": (
        NameRule(
            "name",
            128,
            f"{_API}/IAM/latest/APIReference/API_CreatePolicy.html",
            pattern=_IAM_NAME,
            autoname=True,
            prefix_prop="namePrefix",
        ),
    ),
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": (
        NameRule(
            "name",
            64,
            f"{_API}/firehose/latest/APIReference/API_CreateDeliveryStream.html",
            pattern=r"[a-zA-Z0-9_.-]+",
            autoname=True,
        ),
    ),
    "aws:kms/alias:Alias": (
        NameRule(
            "name",
            256,
            f"{_API}/kms/latest/APIReference/API_CreateAlias.html",
            pattern=r"alias/[a-zA-Z0-9/_-]+",
            autoname=True,
            autoname_max=238,
            autoname_prefix="alias/",
            prefix_prop="namePrefix",
            checks=(_prefixed("alias/"), _not_prefixed("alias/aws/")),
        ),
    ),
    "aws:lambda/function:Function": (
        NameRule(
            "name",
            64,
            f"{_API}/lambda/latest/api/API_CreateFunction.html",
            pattern=r"[a-zA-Z0-9_-]+",
            autoname=True,
            autoname_max=64,
        ),
    ),
    "aws:lambda/permission:Permission": (
        NameRule(
            "statementId",
            100,
            f"{_API}/lambda/latest/api/API_AddPermission.html",
            pattern=r"[a-zA-Z0-9_-]+",
            autoname=True,
            autoname_max=100,
            prefix_prop="statementIdPrefix",
        ),
    ),
    "aws:lb/loadBalancer:LoadBalancer": (
        NameRule(
            "name",
            32,
            f"{_API}/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html",
            pattern=_ELB_NAME,
            autoname=True,
            prefix_prop="namePrefix",
            checks=(_not_prefixed("internal-"),),
            note="alphanumerics and hyphens, no hyphen first or last; namePrefix is at most 6 (32 - 26)",
        ),
    ),
    "aws:lb/targetGroup:TargetGroup": (
        NameRule(
            "name",
            32,
            f"{_API}/elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html",
            pattern=_ELB_NAME,
            autoname=True,
            autoname_max=32,
            prefix_prop="namePrefix",
        ),
    ),
    "aws:rds/globalCluster:GlobalCluster": (
        NameRule(
            "globalClusterIdentifier",
            63,
            # ModifyGlobalCluster NewGlobalClusterIdentifier states the rules an identifier follows.
            f"{_API}/AmazonRDS/latest/APIReference/API_ModifyGlobalCluster.html",
            pattern=_RDS_IDENTIFIER,
        ),
    ),
    "aws:rds/cluster:Cluster": (
        NameRule(
            "clusterIdentifier",
            63,
            f"{_API}/AmazonRDS/latest/APIReference/API_CreateDBCluster.html",
            pattern=_RDS_IDENTIFIER,
            prefix_prop="clusterIdentifierPrefix",
            tf_default_prefix="tf-",
            checks=(_no_double_hyphen,),
        ),
        NameRule(
            "finalSnapshotIdentifier",
            255,
            f"{_API}/AmazonRDS/latest/APIReference/API_DeleteDBCluster.html",
            pattern=r"[a-zA-Z][a-zA-Z0-9-]*[a-zA-Z0-9]|[a-zA-Z]",
            checks=(_no_double_hyphen,),
        ),
    ),
    "aws:rds/clusterInstance:ClusterInstance": (
        NameRule(
            "identifier",
            63,
            f"{_API}/AmazonRDS/latest/APIReference/API_CreateDBInstance.html",
            pattern=_RDS_IDENTIFIER,
            autoname=True,
            lower=True,
            prefix_prop="identifierPrefix",
            checks=(_no_double_hyphen,),
            note="modelled as autonamed (the SDK says Pulumi assigns it); Terraform's own default tf-+26 is shorter",
        ),
    ),
    "aws:rds/clusterParameterGroup:ClusterParameterGroup": (
        NameRule(
            "name",
            255,
            f"{_API}/AmazonRDS/latest/APIReference/API_CreateDBClusterParameterGroup.html",
            pattern=_RDS_IDENTIFIER,
            autoname=True,
            prefix_prop="namePrefix",
            checks=(_no_double_hyphen,),
        ),
    ),
    "aws:rds/parameterGroup:ParameterGroup": (
        NameRule(
            "name",
            255,
            f"{_API}/AmazonRDS/latest/APIReference/API_CreateDBParameterGroup.html",
            pattern=_RDS_IDENTIFIER,
            autoname=True,
            prefix_prop="namePrefix",
            checks=(_no_double_hyphen,),
        ),
    ),
    "aws:rds/subnetGroup:SubnetGroup": (
        NameRule(
            "name",
            255,
            f"{_API}/AmazonRDS/latest/APIReference/API_CreateDBSubnetGroup.html",
            pattern=r"[a-z0-9 ._-]+",
            autoname=True,
            prefix_prop="namePrefix",
            checks=(lambda n: "must not be 'default'" if n == "default" else None,),
        ),
    ),
    "aws:route53/record:Record": (
        NameRule(
            "name",
            253,
            f"{_API}/Route53/latest/DeveloperGuide/DomainNameFormat.html",
            pattern=r"[a-z0-9_*.-]+",
            checks=(_dns_name,),
        ),
    ),
    "aws:s3/bucket:Bucket": (
        NameRule(
            "bucket",
            63,
            f"{_API}/AmazonS3/latest/userguide/bucketnamingrules.html",
            pattern=r"[a-z0-9][a-z0-9.-]*[a-z0-9]",
            min_len=3,
            autoname=True,
            autoname_max=63,
            lower=True,
            prefix_prop="bucketPrefix",
            checks=(_s3_bucket,),
        ),
    ),
    "aws:s3/bucketObjectv2:BucketObjectv2": (
        NameRule(
            "key",
            1024,
            f"{_API}/AmazonS3/latest/userguide/object-keys.html",
            note="1024 bytes of UTF-8; the program's keys are ASCII",
        ),
    ),
    "aws:secretsmanager/secret:Secret": (
        NameRule(
            "name",
            512,
            f"{_API}/secretsmanager/latest/apireference/API_CreateSecret.html",
            pattern=r"[A-Za-z0-9/_+=.@-]+",
            autoname=True,
            prefix_prop="namePrefix",
            checks=(_secret_name,),
        ),
    ),
    "aws:signer/signingProfile:SigningProfile": (
        NameRule(
            "name",
            64,
            f"{_API}/signer/latest/api/API_PutSigningProfile.html",
            pattern=r"[a-zA-Z0-9_]+",
            min_len=2,
            autoname=True,
            prefix_prop="namePrefix",
            note="no hyphens: pulumi-aws's autoname (<logical>-<hex>) is always invalid here, use namePrefix <= 38",
        ),
    ),
    "aws:backup/framework:Framework": (
        NameRule(
            "name",
            256,
            f"{_API}/aws-backup/latest/devguide/API_CreateFramework.html",
            pattern=r"[a-zA-Z][_a-zA-Z0-9]*",
            autoname=True,
        ),
    ),
    "aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault": (
        NameRule(
            "name",
            50,
            f"{_API}/aws-backup/latest/devguide/API_CreateLogicallyAirGappedBackupVault.html",
            pattern=r"[a-zA-Z0-9\-_]{2,50}",
            autoname=True,
        ),
    ),
    "aws:ssm/parameter:Parameter": (
        NameRule(
            "name",
            2048,
            f"{_API}/systems-manager/latest/APIReference/API_PutParameter.html",
            pattern=r"/?[A-Za-z0-9_.\-]+(?:/[A-Za-z0-9_.\-]+)*",
            autoname=True,
        ),
    ),
    "aws:sns/topic:Topic": (
        NameRule(
            "name",
            256,
            f"{_API}/sns/latest/api/API_CreateTopic.html",
            pattern=r"[A-Za-z0-9_-]+",
            autoname=True,
            autoname_max=80,
            prefix_prop="namePrefix",
        ),
    ),
    "aws:wafv2/webAcl:WebAcl": (
        NameRule(
            "name",
            128,
            f"{_API}/waf/latest/APIReference/API_CreateWebACL.html",
            pattern=r"[\w-]+",
            autoname=True,
            prefix_prop="namePrefix",
        ),
    ),
    # The account baseline (components/site/baseline.py). AWS Config's recorder and delivery channel
    # are named 1-256 characters (RecorderName, ChannelName); the program always names them.
    "aws:cfg/recorder:Recorder": (
        NameRule("name", 256, f"{_API}/config/latest/APIReference/API_ConfigurationRecorder.html"),
    ),
    "aws:cfg/deliveryChannel:DeliveryChannel": (
        NameRule("name", 256, f"{_API}/config/latest/APIReference/API_DeliveryChannel.html"),
    ),
    # Not a name of its own: the recorder it starts (StartConfigurationRecorder ConfigurationRecorderName).
    "aws:cfg/recorderStatus:RecorderStatus": (
        NameRule("name", 256, f"{_API}/config/latest/APIReference/API_StartConfigurationRecorder.html"),
    ),
    # Not a name either: which protection of the detector, one of the API's feature names.
    "aws:guardduty/detectorFeature:DetectorFeature": (
        NameRule(
            "name",
            32,
            f"{_API}/guardduty/latest/APIReference/API_DetectorFeatureConfiguration.html",
            pattern=r"S3_DATA_EVENTS|EKS_AUDIT_LOGS|EBS_MALWARE_PROTECTION|RDS_LOGIN_EVENTS|EKS_RUNTIME_MONITORING"
            r"|LAMBDA_NETWORK_LOGS|RUNTIME_MONITORING",
        ),
    ),
}

_ID = "AWS assigns the identifier; the Args class has no name input"
UNNAMED: dict[str, str] = {
    "aws:ec2/vpcPeeringConnection:VpcPeeringConnection": "AWS assigns the id (pcx-...); a Name tag only",
    "aws:ec2/vpcPeeringConnectionAccepter:VpcPeeringConnectionAccepter": "the accepter's side of that connection",
    "aws:acm/certificateValidation:CertificateValidation": "not an AWS object: waits for validation",
    "aws:backup/vaultLockConfiguration:VaultLockConfiguration": "a setting of the vault",
    "aws:backup/vaultPolicy:VaultPolicy": "a setting of the vault",
    "aws:cloudwatch/eventTarget:EventTarget": (
        "Terraform generates the target id (terraform- + 26 characters, within the 64 PutTargets allows)"
    ),
    "aws:cloudfront/distribution:Distribution": (
        f"{_ID} (E...); {_API}/cloudfront/latest/APIReference/API_CreateDistribution.html"
    ),
    "aws:cloudwatch/logResourcePolicy:LogResourcePolicy": (
        "a setting of its log group (resource_arn): a resource-scoped policy has no name"
    ),
    "aws:cloudwatch/logDelivery:LogDelivery": (
        f"{_ID}; {_API}/AmazonCloudWatchLogs/latest/APIReference/API_CreateDelivery.html"
    ),
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "adopts the VPC's existing group named 'default'",
    "aws:ec2/eip:Eip": f"{_ID} (eipalloc-...)",
    "aws:ec2/flowLog:FlowLog": f"{_ID} (fl-...)",
    "aws:ec2/internetGateway:InternetGateway": f"{_ID} (igw-...); the Name tag is checked as a tag",
    "aws:ec2/natGateway:NatGateway": f"{_ID} (nat-...)",
    "aws:ec2/route:Route": "a route table entry, identified by its destination",
    "aws:ec2/routeTable:RouteTable": f"{_ID} (rtb-...)",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": f"{_ID} (rtbassoc-...)",
    "aws:ec2/subnet:Subnet": f"{_ID} (subnet-...)",
    "aws:ec2/vpc:Vpc": f"{_ID} (vpc-...)",
    "aws:ec2/vpcEndpoint:VpcEndpoint": f"{_ID} (vpce-...)",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "an attachment of a policy ARN to a role",
    "aws:kms/key:Key": f"{_ID} (a key ID); its aliases are named",
    "aws:lambda/codeSigningConfig:CodeSigningConfig": f"{_ID} (csc-...)",
    "aws:lambda/invocation:Invocation": "not an AWS object: one function invocation",
    "aws:lb/listener:Listener": f"{_ID} (listener ARN)",
    "aws:lb/listenerRule:ListenerRule": f"{_ID} (rule ARN)",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": "a subresource of the bucket",
    "aws:s3/bucketLogging:BucketLogging": "a subresource of the bucket",
    "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration": "a subresource of the bucket",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": "a subresource of the bucket",
    "aws:s3/bucketPolicy:BucketPolicy": "a subresource of the bucket",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": "a subresource of the bucket",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": "a subresource",
    "aws:s3/bucketVersioning:BucketVersioning": "a subresource of the bucket",
    "aws:s3/bucketReplicationConfig:BucketReplicationConfig": "a subresource of the source bucket",
    "aws:route53/healthCheck:HealthCheck": (
        f"{_ID} (a UUID); {_API}/Route53/latest/APIReference/API_CreateHealthCheck.html"
    ),
    "aws:secretsmanager/secretRotation:SecretRotation": "a setting of the secret",
    "aws:secretsmanager/secretVersion:SecretVersion": f"{_ID} (a version UUID)",
    "aws:signer/signingJob:SigningJob": f"{_ID} (a job ID); {_API}/signer/latest/api/API_StartSigningJob.html",
    "aws:sns/topicPolicy:TopicPolicy": "an attribute of the topic",
    "aws:sns/topicSubscription:TopicSubscription": f"{_ID} (subscription ARN)",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": f"{_ID} (sgr-...)",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": f"{_ID} (sgr-...)",
    "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration": "a setting of the web ACL",
    "aws:guardduty/detector:Detector": (
        f"{_ID} (a detector ID); {_API}/guardduty/latest/APIReference/API_CreateDetector.html"
    ),
    "aws:securityhub/account:Account": "Security Hub in the account and Region: identified by the account ID",
    "aws:securityhub/standardsSubscription:StandardsSubscription": (
        f"{_ID} (the subscription ARN); {_API}/securityhub/1.0/APIReference/API_BatchEnableStandards.html"
    ),
    "aws:iam/serviceLinkedRole:ServiceLinkedRole": (
        "AWS names it after the service (AWSServiceRoleForConfig); "
        f"{_API}/IAM/latest/APIReference/API_CreateServiceLinkedRole.html"
    ),
}

TAG_KEY_MAX = 128
TAG_VALUE_MAX = 256
TAG_SOURCE = f"{_API}/tag-editor/latest/userguide/tagging.html"


def tags_of(inputs: Mapping[str, Any]) -> dict[str, str]:
    """A resource's tags as a map, whether given as ``tags: {k: v}`` or an ASG's ``tags: [{key, value}]``."""
    tags = inputs.get("tags")
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    if isinstance(tags, list):
        return {str(t["key"]): str(t["value"]) for t in tags if isinstance(t, dict) and "key" in t}
    return {}
