"""IAM and KMS policy documents, one small pure function per document.

Every function returns a plain dict (serialise with ``json.dumps``) built only from
ARNs, account ids and region names passed in, so each is unit-tested on its own and
no document ever needs a wildcard action.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

PolicyDocument = dict[str, Any]
KeyPurpose = Literal["logs", "database", "secrets", "storage", "alerts", "ebs", "lambda", "audit", "backup"]

# What the account (through IAM policies of its administrators) may do with a key:
# manage it, never read data with it. Data-plane use is granted per service below.
KEY_ADMIN_ACTIONS = (
    "kms:CancelKeyDeletion",
    "kms:Create*",
    "kms:Delete*",
    "kms:Describe*",
    "kms:Disable*",
    "kms:Enable*",
    "kms:Get*",
    "kms:List*",
    "kms:Put*",
    "kms:Revoke*",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:Update*",
)
# What an AWS service needs to encrypt on a caller's behalf (RDS and EBS also create grants).
KEY_USE_ACTIONS = (
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey*",
    "kms:ReEncrypt*",
)
# Services that use a key on behalf of a principal of this account, per purpose.
VIA_SERVICE: dict[KeyPurpose, str] = {
    "database": "rds",
    "secrets": "secretsmanager",
    "storage": "s3",
    "alerts": "sns",
}


def _document(*statements: dict[str, Any]) -> PolicyDocument:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def account_root(partition: str, account_id: str) -> str:
    return f"arn:{partition}:iam::{account_id}:root"


def kms_key_policy(
    purpose: KeyPurpose,
    *,
    partition: str,
    account_id: str,
    region: str,
    eventbridge: bool = False,
    trail_arn: str | None = None,
    config_delivery: bool = False,
) -> PolicyDocument:
    """Key policy for one customer-managed key.

    The account may administer the key; data-plane use is limited to the one AWS
    service the key exists for (``kms:ViaService``), or to that service's principal
    where the service acts on its own (CloudWatch Logs, CloudWatch alarms). The audit key
    also admits the stack's CloudTrail trail (``trail_arn``) and, with ``config_delivery``,
    AWS Config delivering into the audit archive.
    """
    if (trail_arn is not None or config_delivery) and purpose != "audit":
        raise ValueError("the trail and AWS Config deliver into the audit archive: only the audit key admits them")
    statements = [_account_administers_key(partition=partition, account_id=account_id)]
    if purpose in VIA_SERVICE:
        statements.append(_use_through_service(purpose, partition=partition, account_id=account_id, region=region))
    if purpose in _PURPOSE_STATEMENTS:
        statements += _PURPOSE_STATEMENTS[purpose](partition=partition, account_id=account_id, region=region)
    if purpose == "alerts" and eventbridge:
        statements.append(_eventbridge_publishes())
    if trail_arn is not None:
        statements += cloudtrail_key_statements(trail_arn)
    if config_delivery:
        statements.append(config_key_statement(account_id))
    return _document(*statements)


# --------------------------------------------------------------------------- the audit trail

CLOUDTRAIL_SERVICE = "cloudtrail.amazonaws.com"
CONFIG_SERVICE = "config.amazonaws.com"
TRAIL_PREFIX = "cloudtrail"
"""Where the stack's trail delivers in the audit archive (``s3_key_prefix``, no slash: CloudTrail
adds ``/AWSLogs/<account>/``)."""
CONFIG_PREFIX = "config"
"""Where AWS Config delivers in the audit archive, when the account baseline turns it on."""


def cloudtrail_trail_arn(*, partition: str, region: str, account_id: str, name: str) -> str:
    """A trail's ARN, known before the trail exists from its fixed name and home region
    (``arn:aws:cloudtrail:region:account-id:trail/trailName``, CloudTrail User Guide, "Amazon S3
    bucket policy for CloudTrail")."""
    return f"arn:{partition}:cloudtrail:{region}:{account_id}:trail/{name}"


def cloudtrail_key_statements(trail_arn: str) -> list[dict[str, Any]]:
    """What CloudTrail needs of the key that encrypts one trail's log files, and no more.

    "Configure AWS KMS key policies for CloudTrail" (CloudTrail User Guide,
    https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html)
    requires three statements for a trail: encrypt (``kms:GenerateDataKey*`` on the encryption
    context ``aws:cloudtrail:arn``), describe the key (``kms:DescribeKey``) and, because the
    archive uses an S3 Bucket Key, ``kms:Decrypt`` ("kms:Decrypt permissions are required to
    create or update a trail with SSE-KMS encryption enabled"). Each is scoped by ``aws:SourceArn``
    to this trail, as the guide recommends; encryption only for this trail's context (the guide's
    example allows any trail of the account: ``arn:aws:cloudtrail:*:account-id:trail/*``).

    Readers need nothing here: they read log files through S3 in this account, which the audit
    key's ``UseThroughS3AndFirehose`` statement already allows (what the guide's "decrypt
    permissions" grant), and digest files are not encrypted with the key ("Encrypting CloudTrail
    log files with AWS KMS keys": digest files use SSE-S3)."""
    this_trail = {"aws:SourceArn": trail_arn}
    return [
        {
            "Sid": "CloudTrailEncryptsThisTrailsLogs",
            "Effect": "Allow",
            "Principal": {"Service": CLOUDTRAIL_SERVICE},
            "Action": "kms:GenerateDataKey*",
            "Resource": "*",
            "Condition": {
                "StringEquals": {"kms:EncryptionContext:aws:cloudtrail:arn": trail_arn, **this_trail},
            },
        },
        {
            "Sid": "CloudTrailDescribesKey",
            "Effect": "Allow",
            "Principal": {"Service": CLOUDTRAIL_SERVICE},
            "Action": "kms:DescribeKey",
            "Resource": "*",
            "Condition": {"StringEquals": dict(this_trail)},
        },
        {
            "Sid": "CloudTrailDecryptsWithTheBucketKey",
            "Effect": "Allow",
            "Principal": {"Service": CLOUDTRAIL_SERVICE},
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {"StringEquals": dict(this_trail)},
        },
    ]


def config_key_statement(account_id: str) -> dict[str, Any]:
    """AWS Config delivering configuration items with the key, as its service principal, for this
    account only ("Permissions for the KMS Key", AWS Config Developer Guide,
    https://docs.aws.amazon.com/config/latest/developerguide/s3-kms-key-policy.html: the statement
    for a service-linked role, which delivers as ``config.amazonaws.com``)."""
    return {
        "Sid": "AWSConfigKMSPolicy",
        "Effect": "Allow",
        "Principal": {"Service": CONFIG_SERVICE},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": "*",
        "Condition": {"StringEquals": {"AWS:SourceAccount": account_id}},
    }


def cloudtrail_bucket_statements(*, bucket_arn: str, trail_arn: str, account_id: str) -> list[dict[str, Any]]:
    """The two statements CloudTrail needs on the bucket it delivers to, as the CloudTrail User Guide
    gives them ("Amazon S3 bucket policy for CloudTrail",
    https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-s3-bucket-policy-for-cloudtrail.html),
    each for this one trail (``aws:SourceArn``), writing only under its prefix. The digest files of
    log file validation go to ``<prefix>/AWSLogs/<account>/CloudTrail-Digest/``, under the same grant."""
    this_trail = {"aws:SourceArn": trail_arn}
    return [
        {
            "Sid": "AWSCloudTrailAclCheck",
            "Effect": "Allow",
            "Principal": {"Service": CLOUDTRAIL_SERVICE},
            "Action": "s3:GetBucketAcl",
            "Resource": bucket_arn,
            "Condition": {"StringEquals": dict(this_trail)},
        },
        {
            "Sid": "AWSCloudTrailWrite",
            "Effect": "Allow",
            "Principal": {"Service": CLOUDTRAIL_SERVICE},
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/{TRAIL_PREFIX}/AWSLogs/{account_id}/*",
            "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", **this_trail}},
        },
    ]


def cloudtrail_logs_delivery_policy(*, log_group_arn: str, account_id: str) -> PolicyDocument:
    """What CloudTrail needs to send a trail's events into one log group ("Role policy document for
    CloudTrail to use CloudWatch Logs for monitoring", CloudTrail User Guide,
    https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-required-policy-for-cloudwatch-logs.html):
    create its streams and put events, in that group only. CloudTrail names the streams
    ``<account>_CloudTrail_<region>`` (and ``_<n>`` when it needs several); a multi-Region trail's
    events come from every region, hence the region's wildcard."""
    streams = f"{log_group_arn}:log-stream:{account_id}_CloudTrail_*"
    return _document(
        {
            "Sid": "AWSCloudTrailCreateLogStream",
            "Effect": "Allow",
            "Action": "logs:CreateLogStream",
            "Resource": streams,
        },
        {"Sid": "AWSCloudTrailPutLogEvents", "Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": streams},
    )


def config_bucket_statements(*, bucket_arn: str, account_id: str) -> list[dict[str, Any]]:
    """The three statements AWS Config needs on its delivery bucket, for this account only
    ("Permissions for the Amazon S3 Bucket", AWS Config Developer Guide,
    https://docs.aws.amazon.com/config/latest/developerguide/s3-bucket-policy.html), delivering
    under ``config/``. Config's delivery channel must name the audit key (``s3_kms_key_arn``): the
    archive refuses puts that name another key or none (``DenyOtherEncryption``, ``DenyOtherKeys``)."""
    this_account = {"AWS:SourceAccount": account_id}
    return [
        {
            "Sid": "AWSConfigBucketPermissionsCheck",
            "Effect": "Allow",
            "Principal": {"Service": CONFIG_SERVICE},
            "Action": "s3:GetBucketAcl",
            "Resource": bucket_arn,
            "Condition": {"StringEquals": dict(this_account)},
        },
        {
            "Sid": "AWSConfigBucketExistenceCheck",
            "Effect": "Allow",
            "Principal": {"Service": CONFIG_SERVICE},
            "Action": "s3:ListBucket",
            "Resource": bucket_arn,
            "Condition": {"StringEquals": dict(this_account)},
        },
        {
            "Sid": "AWSConfigBucketDelivery",
            "Effect": "Allow",
            "Principal": {"Service": CONFIG_SERVICE},
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/{CONFIG_PREFIX}/AWSLogs/{account_id}/Config/*",
            "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", **this_account}},
        },
    ]


def _eventbridge_publishes() -> dict[str, Any]:
    """The alert key's statement for EventBridge rules (failed backup, copy and restore-test jobs)
    publishing to the encrypted alert topic.

    Without ``aws:SourceAccount``/``aws:SourceArn``: the Amazon SNS Developer Guide ("Key management",
    https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html) says these conditions are not
    supported in the key policy for EventBridge deliveries to an encrypted topic, so a key policy
    with them drops every notification. Who may publish stays guarded where the conditions do work:
    the topic policy (``alert_topic_policy``) admits this account's rules only."""
    return {
        "Sid": "EventBridgeRulesPublish",
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": list(_TOPIC_KEY_ACTIONS),
        "Resource": "*",
    }


class _KeyStatements(Protocol):
    def __call__(self, *, partition: str, account_id: str, region: str) -> list[dict[str, Any]]: ...


def _account_administers_key(*, partition: str, account_id: str) -> dict[str, Any]:
    return {
        "Sid": "AccountAdministersKey",
        "Effect": "Allow",
        "Principal": {"AWS": account_root(partition, account_id)},
        "Action": list(KEY_ADMIN_ACTIONS),
        # In a key policy "*" means "this key"; no other value is valid here.
        "Resource": "*",
    }


def _use_via(
    sid: str, principal: str, actions: list[str], via_service: str | list[str], account_id: str
) -> dict[str, Any]:
    """Key use by ``principal``, only through the named service endpoint(s) and for this account."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"AWS": principal},
        "Action": actions,
        "Resource": "*",
        "Condition": {"StringEquals": {"kms:ViaService": via_service, "kms:CallerAccount": account_id}},
    }


# RDS also creates and lists grants on its key (storage, snapshots, Performance Insights).
_VIA_SERVICE_EXTRA_ACTIONS: dict[KeyPurpose, tuple[str, ...]] = {"database": ("kms:CreateGrant", "kms:ListGrants")}


def _use_through_service(purpose: KeyPurpose, *, partition: str, account_id: str, region: str) -> dict[str, Any]:
    service = VIA_SERVICE[purpose]
    return _use_via(
        f"UseThrough{service.capitalize()}",
        account_root(partition, account_id),
        sorted([*KEY_USE_ACTIONS, *_VIA_SERVICE_EXTRA_ACTIONS.get(purpose, ())]),
        f"{service}.{region}.amazonaws.com",
        account_id,
    )


def _audit_archive_use(*, partition: str, account_id: str, region: str) -> list[dict[str, Any]]:
    # The audit-log archive: S3 encrypts objects with it, and Firehose encrypts the stream that
    # feeds the archive (Firehose creates a grant for itself when the stream is created).
    return [
        _use_via(
            "UseThroughS3AndFirehose",
            account_root(partition, account_id),
            sorted([*KEY_USE_ACTIONS, "kms:CreateGrant"]),
            [f"s3.{region}.amazonaws.com", f"firehose.{region}.amazonaws.com"],
            account_id,
        )
    ]


def _ebs_use(*, partition: str, account_id: str, region: str) -> list[dict[str, Any]]:
    # Volumes are created by EC2 for whichever principal launches the instance, including
    # the Auto Scaling service-linked role (which has no KMS rights of its own); the
    # conditions keep this to EC2 acting for this account, as AWS's own aws/ebs key does.
    return [
        _use_via(
            "UseThroughEc2ForThisAccount",
            "*",
            ["kms:CreateGrant", *KEY_USE_ACTIONS],
            f"ec2.{region}.amazonaws.com",
            account_id,
        )
    ]


def _cloudwatch_logs_use(*, partition: str, account_id: str, region: str) -> list[dict[str, Any]]:
    return [
        {
            "Sid": "CloudWatchLogsEncryptsLogGroups",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{region}.amazonaws.com"},
            "Action": ["kms:Decrypt*", "kms:Describe*", "kms:Encrypt*", "kms:GenerateDataKey*", "kms:ReEncrypt*"],
            "Resource": "*",
            "Condition": {
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": f"arn:{partition}:logs:{region}:{account_id}:log-group:*"
                }
            },
        }
    ]


# What CloudWatch alarms and EventBridge rules publish to an SNS topic as.
_PUBLISHERS = {
    "CloudWatchAlarmsPublish": ("cloudwatch.amazonaws.com", "arn:{partition}:cloudwatch:{region}:{account_id}:alarm:*"),
    "EventBridgeRulesPublish": ("events.amazonaws.com", "arn:{partition}:events:{region}:{account_id}:rule/*"),
}


def _publishes(
    sid: str, actions: str | list[str], resource: str, *, partition: str, account_id: str, region: str
) -> dict[str, Any]:
    """A publisher's rights, for this account's alarms or rules only (confused-deputy guard)."""
    service, source_arn = _PUBLISHERS[sid]
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": actions,
        "Resource": resource,
        "Condition": {
            "StringEquals": {"aws:SourceAccount": account_id},
            "ArnLike": {"aws:SourceArn": source_arn.format(partition=partition, region=region, account_id=account_id)},
        },
    }


# A publisher needs these two actions on a topic's CMK (it cannot use the AWS-managed SNS key).
_TOPIC_KEY_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey*"]


def _cloudwatch_alarms_use(*, partition: str, account_id: str, region: str) -> list[dict[str, Any]]:
    # The alert topic's key: this account's alarms publish to it.
    return [
        _publishes(
            "CloudWatchAlarmsPublish",
            _TOPIC_KEY_ACTIONS,
            "*",
            partition=partition,
            account_id=account_id,
            region=region,
        )
    ]


def lambda_key_use_statements(*, partition: str, account_id: str, region: str) -> list[dict[str, Any]]:
    """Data-plane use of the Lambda key: function environment variables and code artifacts.

    Lambda encrypts a function's environment variables with the caller's rights and creates a
    grant on the key, with which it decrypts them at run time: whoever creates or updates the
    function needs kms:CreateGrant and kms:Encrypt, and kms:Decrypt to read them back
    ("Securing Lambda environment variables"). The execution role needs nothing. S3 uses the
    key for the code-signing artifacts bucket (SSE-KMS), for the deployer, Signer and Lambda
    reading the code, all on a caller's behalf. Each only through its service, for this account.
    """
    root = account_root(partition, account_id)
    return [
        {
            "Sid": "UseThroughLambda",
            "Effect": "Allow",
            "Principal": {"AWS": root},
            "Action": sorted([*KEY_USE_ACTIONS, "kms:CreateGrant"]),
            "Resource": "*",
            "Condition": {
                "StringEquals": {"kms:ViaService": f"lambda.{region}.amazonaws.com", "kms:CallerAccount": account_id}
            },
        },
        {
            "Sid": "UseThroughS3",
            "Effect": "Allow",
            "Principal": {"AWS": root},
            "Action": sorted(KEY_USE_ACTIONS),
            "Resource": "*",
            "Condition": {
                "StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com", "kms:CallerAccount": account_id}
            },
        },
    ]


def _backup_vault_use(*, partition: str, account_id: str, region: str) -> list[dict[str, Any]]:
    # A backup vault's key: AWS Backup encrypts S3 recovery points with it, and RDS re-encrypts
    # Aurora snapshots copied into the vault with it ("Encryption for backups in AWS Backup":
    # cross-Region copies take the destination vault's key); both create grants for themselves.
    return [
        _use_via(
            "UseThroughBackupAndRds",
            account_root(partition, account_id),
            sorted([*KEY_USE_ACTIONS, "kms:CreateGrant"]),
            [f"backup.{region}.amazonaws.com", f"rds.{region}.amazonaws.com"],
            account_id,
        )
    ]


# Statements a purpose's key policy adds after administration and any ``VIA_SERVICE`` use.
_PURPOSE_STATEMENTS: dict[KeyPurpose, _KeyStatements] = {
    "backup": _backup_vault_use,
    "lambda": lambda_key_use_statements,
    "audit": _audit_archive_use,
    "ebs": _ebs_use,
    "logs": _cloudwatch_logs_use,
    "alerts": _cloudwatch_alarms_use,
}


def service_assume_role_policy(
    service: str, *, account_id: str | None = None, source_arn: str | None = None
) -> PolicyDocument:
    """Trust policy letting one AWS service assume a role; with ``source_arn``, for this account only."""
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if source_arn is not None and account_id is not None:
        # Confused-deputy guard for services that act for other accounts too.
        statement["Condition"] = {
            "StringEquals": {"aws:SourceAccount": account_id},
            "ArnLike": {"aws:SourceArn": source_arn},
        }
    return _document(statement)


RDS_MONITORING_SERVICE = "monitoring.rds.amazonaws.com"


def rds_monitoring_assume_role_policy(*, partition: str, region: str, account_id: str) -> PolicyDocument:
    """Trust of the Enhanced Monitoring role: RDS monitoring, for this account's DB instances in
    ``region`` only. The RDS guide ("Setting up and enabling Enhanced Monitoring", "Protecting
    against the confused deputy problem") recommends ``aws:SourceArn`` and ``aws:SourceAccount``,
    with the same account, and the DB instance's ARN (``arn:aws:rds:Region:my-account-id:db:dbname``)
    as the source. The instances take this role's ARN and their identifiers are auto-named, so the
    role cannot name them (a cycle): any DB instance of the account in the region (``db:*``).
    """
    return service_assume_role_policy(
        RDS_MONITORING_SERVICE,
        account_id=account_id,
        source_arn=f"arn:{partition}:rds:{region}:{account_id}:db:*",
    )


def firehose_assume_role_policy(account_id: str) -> PolicyDocument:
    """Trust for Firehose as its documentation gives it: the account id as external id."""
    return _document(
        {
            "Effect": "Allow",
            "Principal": {"Service": "firehose.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": account_id}},
        }
    )


def log_group_arn(partition: str, region: str, account_id: str, name: str) -> str:
    return f"arn:{partition}:logs:{region}:{account_id}:log-group:{name}"


def flow_log_delivery_policy(log_group: str) -> PolicyDocument:
    """What VPC Flow Logs needs to write into one existing log group (``log_group`` is its ARN)."""
    return _document(
        {
            "Sid": "WriteFlowLogs",
            "Effect": "Allow",
            "Action": [
                "logs:CreateLogStream",
                "logs:DescribeLogGroups",
                "logs:DescribeLogStreams",
                "logs:PutLogEvents",
            ],
            "Resource": [log_group, f"{log_group}:*"],
        }
    )


def app_secrets_read_policy(
    *, partition: str, region: str, account_id: str, secret_name_prefix: str, secrets_key_arn: str
) -> PolicyDocument:
    """Read access to the app's own secrets (by name prefix) and nothing else."""
    return _document(
        {
            "Sid": "ReadOwnSecrets",
            "Effect": "Allow",
            "Action": ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
            "Resource": f"arn:{partition}:secretsmanager:{region}:{account_id}:secret:{secret_name_prefix}*",
        },
        {
            "Sid": "DecryptOwnSecrets",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": secrets_key_arn,
            "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}},
        },
    )


# Actions AWS offers no resource-level permissions for; "*" is the only valid Resource.
UNSCOPABLE_ACTIONS = frozenset({"secretsmanager:GetRandomPassword"})


def rotation_lambda_policy(
    *,
    app_secret_arn: str,
    master_secret_arn: str,
    secrets_key_arn: str,
    log_group: str,
    region: str,
    rotate_master: bool = False,
    replica: tuple[str, str] | None = None,
    peer_copies: Sequence[str] = (),
) -> PolicyDocument:
    """What the rotation function needs: rotate the app secret (and, self-managed, the master
    secret), read the master secret, log; with ``peer_copies`` (the other region's copies of both),
    read their metadata: whether they are this region's replicas decides whether it may rotate."""
    rotate = ["secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"]
    read = ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]
    return _document(
        {
            "Sid": "RotateAppSecret",
            "Effect": "Allow",
            "Action": [*read, *rotate],
            "Resource": app_secret_arn,
        },
        {
            "Sid": "RotateMasterSecret" if rotate_master else "ReadMasterSecret",
            "Effect": "Allow",
            "Action": [*read, *rotate] if rotate_master else read,
            "Resource": master_secret_arn,
        },
        {
            "Sid": "GeneratePasswords",
            "Effect": "Allow",
            "Action": "secretsmanager:GetRandomPassword",
            "Resource": "*",
        },
        {
            "Sid": "UseSecretsKeyThroughSecretsManager",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": secrets_key_arn,
            "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}},
        },
        # A rotated value reaches the replicas re-encrypted with their region's key; Secrets
        # Manager may do that as the writer ("Troubleshoot replication": kms:GenerateDataKey and
        # kms:Encrypt on the replica's key), so the function may, through Secrets Manager there.
        *(
            [
                {
                    "Sid": "EncryptReplicasThroughSecretsManager",
                    "Effect": "Allow",
                    "Action": ["kms:Encrypt", "kms:GenerateDataKey"],
                    "Resource": replica[1],
                    "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{replica[0]}.amazonaws.com"}},
                }
            ]
            if replica
            else []
        ),
        *(
            [
                {
                    "Sid": "AskPeerCopiesWhoIsPrimary",
                    "Effect": "Allow",
                    "Action": "secretsmanager:DescribeSecret",
                    "Resource": list(peer_copies),
                }
            ]
            if peer_copies
            else []
        ),
        {
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [log_group, f"{log_group}:*"],
        },
    )


# Account ids of Elastic Load Balancing's log writers in regions opened before August 2022
# (AWS "Enable access logs for your Application Load Balancer"). Newer regions use the
# log-delivery service principal instead.
ELB_LOG_ACCOUNTS = {
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
    "af-south-1": "098369216593",
    "ap-east-1": "754344448648",
    "ap-south-1": "718504428378",
    "ap-northeast-1": "582318560864",
    "ap-northeast-2": "600734575887",
    "ap-northeast-3": "383597477331",
    "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266",
    "ap-southeast-3": "589379963580",
    "ca-central-1": "985666609251",
    "eu-central-1": "054676820928",
    "eu-west-1": "156460612806",
    "eu-west-2": "652711504416",
    "eu-west-3": "009996457667",
    "eu-south-1": "635631232127",
    "eu-north-1": "897822967062",
    "me-south-1": "076674570225",
    "sa-east-1": "507241528517",
    "us-gov-west-1": "048591011584",
    "us-gov-east-1": "190560391635",
    "cn-north-1": "638102146993",
    "cn-northwest-1": "037604701340",
}
ELB_LOG_DELIVERY_SERVICE = "logdelivery.elasticloadbalancing.amazonaws.com"


def elb_log_delivery_principal(partition: str, region: str) -> dict[str, str]:
    """Who writes ALB access logs in ``region``: ELB's account there, or the service principal."""
    if region in ELB_LOG_ACCOUNTS:
        return {"AWS": account_root(partition, ELB_LOG_ACCOUNTS[region])}
    return {"Service": ELB_LOG_DELIVERY_SERVICE}


def deny_insecure_transport(bucket_arn: str) -> dict[str, Any]:
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def lambda_artifacts_bucket_policy(bucket_arn: str) -> PolicyDocument:
    """TLS only. Unlike the archive, no header rules: Signer and Lambda write and read here
    with headers this program does not choose; the bucket's default CMK encrypts every object."""
    return _document(deny_insecure_transport(bucket_arn))


@dataclass(frozen=True)
class ArchiveDeliveries:
    """AWS services that deliver into an archive (the audit archive of the stack's home site)."""

    account_id: str
    trail_arn: str | None = None
    """The stack's CloudTrail trail, delivering under ``cloudtrail/``."""
    config: bool = False
    """AWS Config, delivering under ``config/`` (the account baseline)."""


def data_bucket_policy(bucket_arn: str, key_arn: str, deliveries: ArchiveDeliveries | None = None) -> PolicyDocument:
    """TLS only; uploads either rely on the bucket's default CMK or name exactly that key; with
    ``deliveries``, the statements those services need.

    The stack's trail is exempt from the two encryption denies (``aws:SourceArn`` is the trail's
    only in its own deliveries): CloudTrail encrypts log files with the trail's key, the audit
    key, but its digest files with SSE-S3 ("Encrypting CloudTrail log files with AWS KMS keys"),
    and "if you have modified your Amazon S3 bucket policy to only allow SSE-KMS encrypted files,
    you will not be able to create trails that utilize that bucket" ("Security best practices in
    AWS CloudTrail", https://docs.aws.amazon.com/awscloudtrail/latest/userguide/best-practices-security.html).
    Within one condition operator the keys combine with AND: the deny applies to a put with the
    wrong encryption that is not the trail's."""
    not_the_trail = {"aws:SourceArn": deliveries.trail_arn} if deliveries and deliveries.trail_arn else {}
    statements: list[dict[str, Any]] = [
        deny_insecure_transport(bucket_arn),
        {
            "Sid": "DenyOtherEncryption",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/*",
            "Condition": {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms", **not_the_trail}},
        },
        {
            "Sid": "DenyOtherKeys",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/*",
            "Condition": {
                "StringNotEqualsIfExists": {
                    "s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn,
                    **not_the_trail,
                }
            },
        },
    ]
    if deliveries and deliveries.trail_arn:
        statements += cloudtrail_bucket_statements(
            bucket_arn=bucket_arn, trail_arn=deliveries.trail_arn, account_id=deliveries.account_id
        )
    if deliveries and deliveries.config:
        statements += config_bucket_statements(bucket_arn=bucket_arn, account_id=deliveries.account_id)
    return _document(*statements)


# Where CloudFront's access logs come from: its delivery sources live in us-east-1, whatever
# the bucket's region (components/between/edge.py, EDGE_REGION).
VENDED_LOG_SOURCE_REGION = "us-east-1"
VENDED_LOG_DELIVERY_SERVICE = "delivery.logs.amazonaws.com"


def vended_log_delivery_statements(
    *, bucket_arn: str, account_id: str, partition: str, source_region: str
) -> list[dict[str, Any]]:
    """The two statements CloudWatch Logs requires on a bucket it delivers vended logs to, as the
    CloudWatch Logs User Guide gives them ("Logs sent to Amazon S3"): ``AWSLogDeliveryAclCheck``
    and ``AWSLogDeliveryWrite``, each for this account's log deliveries from ``source_region``
    only (``aws:SourceArn`` ``arn:aws:logs:source-region:source-account-id:*``).

    On its first delivery AWS appends these statements to a bucket policy that lacks them, so
    any other form drifts. The ACL condition stays although the bucket enforces owner
    ownership: the guide shows it, and S3 accepts the canned ACL there.
    """
    source_account = {"aws:SourceAccount": [account_id]}
    source_arn = {"aws:SourceArn": [f"arn:{partition}:logs:{source_region}:{account_id}:*"]}
    return [
        {
            "Sid": "AWSLogDeliveryAclCheck",
            "Effect": "Allow",
            "Principal": {"Service": VENDED_LOG_DELIVERY_SERVICE},
            "Action": "s3:GetBucketAcl",
            "Resource": bucket_arn,
            "Condition": {"StringEquals": dict(source_account), "ArnLike": dict(source_arn)},
        },
        {
            "Sid": "AWSLogDeliveryWrite",
            "Effect": "Allow",
            "Principal": {"Service": VENDED_LOG_DELIVERY_SERVICE},
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/AWSLogs/{account_id}/*",
            "Condition": {
                "StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", **source_account},
                "ArnLike": dict(source_arn),
            },
        },
    ]


def vended_log_group_policy(
    *, log_group_arn: str, account_id: str, partition: str, source_region: str
) -> PolicyDocument:
    """The resource policy CloudWatch Logs requires on a log group it delivers vended logs to (WAF
    logs), as the CloudWatch Logs User Guide gives it ("Logs sent to CloudWatch Logs",
    ``AWSLogDeliveryWrite20150319``), scoped to this one group. Owned by the stack at the log group
    (a resource-scoped policy), AWS neither creates its own nor adds to an account-level policy
    (ten per region, 5,120 characters each), and `destroy` removes it with the group."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AWSLogDeliveryWrite20150319",
                "Effect": "Allow",
                "Principal": {"Service": [VENDED_LOG_DELIVERY_SERVICE]},
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": [f"{log_group_arn}:log-stream:*"],
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": [account_id]},
                    "ArnLike": {"aws:SourceArn": [f"arn:{partition}:logs:{source_region}:{account_id}:*"]},
                },
            }
        ],
    }


def logs_bucket_policy(
    *,
    bucket_arn: str,
    account_id: str,
    partition: str,
    region: str,
    access_log_sources: list[str],
    access_log_prefix: str,
    alb_log_prefix: str,
    vended_log_source_region: str = VENDED_LOG_SOURCE_REGION,
) -> PolicyDocument:
    """TLS only; S3 server access logs from our buckets, ALB access logs from this account, and
    CloudFront standard logging (v2, CloudWatch vended logs) from this account's delivery sources."""
    return _document(
        deny_insecure_transport(bucket_arn),
        {
            "Sid": "S3ServerAccessLogs",
            "Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/{access_log_prefix}*",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account_id},
                "ArnLike": {"aws:SourceArn": access_log_sources},
            },
        },
        {
            "Sid": "AlbAccessLogs",
            "Effect": "Allow",
            "Principal": elb_log_delivery_principal(partition, region),
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/{alb_log_prefix}AWSLogs/{account_id}/*",
        },
        *vended_log_delivery_statements(
            bucket_arn=bucket_arn, account_id=account_id, partition=partition, source_region=vended_log_source_region
        ),
    )


TOPIC_ADMIN_ACTIONS = (
    "sns:AddPermission",
    "sns:DeleteTopic",
    "sns:GetTopicAttributes",
    "sns:ListSubscriptionsByTopic",
    "sns:RemovePermission",
    "sns:SetTopicAttributes",
    "sns:Subscribe",
)


def alert_topic_policy(
    *, topic_arn: str, partition: str, region: str, account_id: str, eventbridge: bool = False
) -> PolicyDocument:
    """Only this account's CloudWatch alarms (and, with ``eventbridge``, its EventBridge rules)
    publish; the account manages the topic."""
    where = {"partition": partition, "account_id": account_id, "region": region}
    publishers = ["CloudWatchAlarmsPublish", *(["EventBridgeRulesPublish"] if eventbridge else [])]
    return _document(
        *(_publishes(sid, "sns:Publish", topic_arn, **where) for sid in publishers),
        {
            "Sid": "AccountManagesTopic",
            "Effect": "Allow",
            "Principal": {"AWS": account_root(partition, account_id)},
            "Action": list(TOPIC_ADMIN_ACTIONS),
            "Resource": topic_arn,
        },
    )


def firehose_to_bucket_policy(*, bucket_arn: str, prefix: str, key_arn: str, region: str) -> PolicyDocument:
    """What Firehose needs to deliver into one prefix of one SSE-KMS bucket ("Grant Firehose
    access to an Amazon S3 destination"). With S3 Bucket Keys the encryption context is the
    bucket's ARN, without them the object's: both are allowed, nothing else."""
    return _document(
        {
            "Sid": "DeliverToBucket",
            "Effect": "Allow",
            "Action": [
                "s3:AbortMultipartUpload",
                "s3:GetBucketLocation",
                "s3:GetObject",
                "s3:ListBucket",
                "s3:ListBucketMultipartUploads",
                "s3:PutObject",
            ],
            "Resource": [bucket_arn, f"{bucket_arn}/{prefix}*"],
        },
        {
            "Sid": "EncryptWithTheArchiveKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": key_arn,
            "Condition": {
                "StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"},
                "StringLike": {"kms:EncryptionContext:aws:s3:arn": [bucket_arn, f"{bucket_arn}/{prefix}*"]},
            },
        },
    )


def logs_to_firehose_policy(stream_arn: str) -> PolicyDocument:
    """What CloudWatch Logs needs to feed a subscription into one delivery stream."""
    return _document(
        {
            "Sid": "FeedDeliveryStream",
            "Effect": "Allow",
            "Action": ["firehose:PutRecord", "firehose:PutRecordBatch"],
            "Resource": stream_arn,
        }
    )


# What nobody, whatever their IAM rights, may do to a recovery point in a protected vault. AWS
# Backup's own lifecycle still expires points ("Vault access policies"); Vault Lock adds what a
# policy cannot: the vault's retention bounds, and (compliance) that the policy's owner cannot lift it.
# What the vault access policy denies everyone. DeleteRecoveryPoint and UpdateRecoveryPointLifecycle
# are authorised against the recovery point's ARN, not the vault's, so the statement names "*" (in a
# vault access policy, this vault's points); PutBackupVaultAccessPolicy keeps the policy from being
# rewritten: the three actions, Principal and Resource "*", are what AWS Config's
# backup-recovery-point-manual-deletion-disabled checks for. DeleteBackupVaultAccessPolicy keeps it
# from being removed (otherwise the first step of anyone deleting points).
RECOVERY_POINT_GUARDED_ACTIONS = (
    "backup:DeleteRecoveryPoint",
    "backup:UpdateRecoveryPointLifecycle",
    "backup:PutBackupVaultAccessPolicy",
    "backup:DeleteBackupVaultAccessPolicy",
)


def backup_vault_policy() -> PolicyDocument:
    """Vault access policy: no principal deletes a recovery point, shortens its life, or changes or
    removes this policy. Permanent by design: a later change to it cannot be applied."""
    return _document(
        {
            "Sid": "NobodyDeletesRecoveryPoints",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": list(RECOVERY_POINT_GUARDED_ACTIONS),
            "Resource": "*",
        }
    )


# The role AWS Backup assumes: AWS's managed policies for backup and restore (Aurora, S3),
# by ARN path (the S3 ones have no service-role/ path).
BACKUP_MANAGED_POLICIES = (
    "service-role/AWSBackupServiceRolePolicyForBackup",
    "service-role/AWSBackupServiceRolePolicyForRestores",
    "AWSBackupServiceRolePolicyForS3Backup",
    "AWSBackupServiceRolePolicyForS3Restore",
)


def backup_assume_role_policy(account_id: str) -> PolicyDocument:
    """AWS Backup may assume the role, for this account only."""
    return _document(
        {
            "Effect": "Allow",
            "Principal": {"Service": "backup.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        }
    )


# S3 replication (components/between/replication.py)

# What the role S3 replicates with needs, as "Setting up permissions for live replication" and
# "Using Object Lock with replication" (S3 User Guide) list them: read the configuration and list
# the source bucket (ListBucket: to read delete markers), read each source object version with its
# ACL, tags, retention and legal hold, and write replicas, delete markers and tags.
REPLICATION_SOURCE_BUCKET_ACTIONS = ("s3:GetReplicationConfiguration", "s3:ListBucket")
REPLICATION_SOURCE_OBJECT_ACTIONS = (
    "s3:GetObjectLegalHold",
    "s3:GetObjectRetention",
    "s3:GetObjectVersionAcl",
    "s3:GetObjectVersionForReplication",
    "s3:GetObjectVersionTagging",
)
REPLICATION_DESTINATION_ACTIONS = ("s3:ReplicateDelete", "s3:ReplicateObject", "s3:ReplicateTags")
# "Replicating encrypted objects": kms:Decrypt with the source object's key, kms:Encrypt with the
# replica key; with S3 Bucket Keys the replica key must also allow kms:Decrypt ("S3 Bucket Keys and
# replication"). kms:GenerateDataKey is only for plaintext sources, which the archives refuse.
REPLICATION_SOURCE_KEY_ACTIONS = ("kms:Decrypt",)
REPLICATION_DESTINATION_KEY_ACTIONS = ("kms:Decrypt", "kms:Encrypt")

# A bucket's ARN and the ARN of the CMK that encrypts it (a key in the bucket's region).
BucketAndKey = tuple[str, str]


def s3_replication_assume_role_policy(account_id: str) -> PolicyDocument:
    """S3 may assume the replication role, acting for this account only."""
    return _document(
        {
            "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        }
    )


BATCH_OPERATIONS_SERVICE = "batchoperations.s3.amazonaws.com"
# Where a Batch Replication job writes its generated manifest and its completion report.
BATCH_REPLICATION_PREFIX = "batch-replication"


def s3_batch_replication_policy(jobs: Sequence[tuple[str, str]]) -> PolicyDocument:
    """What S3 Batch Operations needs to replicate the objects live replication never copied (those
    written before the rules, and failed ones), per (source bucket ARN, reports bucket ARN): the
    S3 User Guide's "Configuring an IAM role for S3 Batch Replication", policy for an Amazon S3
    generated manifest, with the manifest and the report under ``batch-replication/`` of the site's
    logs bucket. Replicating itself uses each bucket's replication role: no key is needed here."""
    sources = sorted({source for source, _ in jobs})
    outputs = sorted({f"{reports}/{BATCH_REPLICATION_PREFIX}/*" for _, reports in jobs})
    return _document(
        {
            "Sid": "InitiateReplication",
            "Effect": "Allow",
            "Action": ["s3:InitiateReplication"],
            "Resource": [f"{source}/*" for source in sources],
        },
        {
            "Sid": "GenerateManifest",
            "Effect": "Allow",
            "Action": ["s3:GetReplicationConfiguration", "s3:PutInventoryConfiguration"],
            "Resource": sources,
        },
        {
            "Sid": "ReadManifest",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": outputs,
        },
        {"Sid": "WriteManifestAndReport", "Effect": "Allow", "Action": ["s3:PutObject"], "Resource": outputs},
    )


def s3_replication_policy(
    *,
    source_region: str,
    sources: dict[str, BucketAndKey],
    destination_region: str,
    destinations: dict[str, BucketAndKey],
) -> PolicyDocument:
    """What S3 needs to replicate each source bucket (by purpose) to the destination bucket of the
    same purpose: SSE-KMS objects of versioned, object-locked buckets, replicas encrypted with the
    destination's key.

    Each key is usable only through S3 in its own region and only for its own bucket: the
    encryption context is the bucket's ARN with S3 Bucket Keys, the object's without (an upload may
    opt out of the bucket key, and its replica keeps that choice), so both are allowed, nothing else.
    """
    if sources.keys() != destinations.keys():
        raise ValueError(f"sources {sorted(sources)} and destinations {sorted(destinations)} differ")
    purposes = sorted(sources)
    return _document(
        {
            "Sid": "ReadSourceBuckets",
            "Effect": "Allow",
            "Action": list(REPLICATION_SOURCE_BUCKET_ACTIONS),
            "Resource": [sources[p][0] for p in purposes],
        },
        {
            "Sid": "ReadSourceObjectVersions",
            "Effect": "Allow",
            "Action": list(REPLICATION_SOURCE_OBJECT_ACTIONS),
            "Resource": [f"{sources[p][0]}/*" for p in purposes],
        },
        {
            "Sid": "WriteReplicas",
            "Effect": "Allow",
            "Action": list(REPLICATION_DESTINATION_ACTIONS),
            "Resource": [f"{destinations[p][0]}/*" for p in purposes],
        },
        *(
            _s3_key_use(f"DecryptSource{p.capitalize()}", REPLICATION_SOURCE_KEY_ACTIONS, sources[p], source_region)
            for p in purposes
        ),
        *(
            _s3_key_use(
                f"EncryptReplica{p.capitalize()}",
                REPLICATION_DESTINATION_KEY_ACTIONS,
                destinations[p],
                destination_region,
            )
            for p in purposes
        ),
    )


def _s3_key_use(sid: str, actions: tuple[str, ...], bucket_and_key: BucketAndKey, region: str) -> dict[str, Any]:
    """``actions`` on one bucket's CMK, through S3 in the key's region, for that bucket's objects only."""
    bucket, key = bucket_and_key
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": list(actions),
        "Resource": key,
        "Condition": {
            "StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"},
            "StringLike": {"kms:EncryptionContext:aws:s3:arn": [bucket, f"{bucket}/*"]},
        },
    }
