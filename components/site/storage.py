"""Storage tier: the transaction archive, the audit-log archive, and the bucket ALB and CloudFront log to.

The audit trail (flow, database audit, rotation and app logs, through Firehose) has a bucket of
its own: SSE-KMS with its own key, versioned, TLS only and, in prod, object-locked for a year
(PCI DSS 10.3, 10.5). The ALB log bucket cannot be that: ALB access logs only land in SSE-S3.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

from components import policies

ACCESS_LOG_PREFIX = "s3-access/"
ALB_LOG_PREFIX = "alb/"
ABORT_MULTIPART_DAYS = 7
ARCHIVE_PURPOSE = "transaction-archive"
AUDIT_PURPOSE = "audit-log-archive"
LOGS_PURPOSE = "logs"
# PCI DSS 10.5.1: the last three months of audit logs immediately available.
HOT_LOG_DAYS = 90


@dataclass(frozen=True)
class StorageArgs:
    storage_key_arn: pulumi.Input[str]
    """CMK of the transaction archive (SSE-KMS with bucket keys)."""
    audit_key_arn: pulumi.Input[str]
    """CMK of the audit-log archive (SSE-KMS with bucket keys); the log shipper encrypts with it too."""
    log_retention_days: int
    """Days objects stay in the logs bucket and the audit-log archive."""
    object_lock_mode: Literal["GOVERNANCE", "COMPLIANCE"] | None
    """Default Object Lock retention of both archives; None: no Object Lock."""
    object_lock_days: int
    audit_lock_days: int
    """Object Lock retention of archived audit logs (PCI DSS 10.5.1: at least a year in prod)."""
    protect: bool
    """Pulumi ``protect`` on the archive and no ``force_destroy``; False empties buckets on destroy."""
    data_noncurrent_days: int = 365
    """Days an overwritten or deleted archive object's old version is kept."""
    audit_trail_name: str | None = None
    """The stack's CloudTrail trail (in this site's region, built between the sites) delivers into the
    audit archive under ``cloudtrail/``: its bucket policy admits that trail; None: no trail here."""
    config_delivery: bool = False
    """AWS Config delivers into the audit archive under ``config/`` (the account baseline)."""


class Storage(pulumi.ComponentResource):
    """Transaction archive (versioned, SSE-KMS, optionally object-locked) and logs bucket."""

    data_bucket_name: pulumi.Output[str]
    data_bucket_arn: pulumi.Output[str]
    logs_bucket_name: pulumi.Output[str]
    """Resolves once the bucket policy admits log writers: deliveries configured after it succeed."""
    logs_bucket_arn: pulumi.Output[str]
    """Like the name, resolves only once the bucket policy admits log writers."""
    audit_bucket_name: pulumi.Output[str]
    """Like the ARN, resolves once the bucket's encryption, lock and policy are in place."""
    audit_bucket_arn: pulumi.Output[str]
    """Resolves once the bucket's encryption, lock and TLS policy are in place."""
    alb_log_prefix: str

    def __init__(self, name: str, args: StorageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("fintech:storage:Storage", name, None, opts)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account_id = aws.get_caller_identity_output(opts=invoke).account_id
        partition = aws.get_partition_output(opts=invoke).partition
        region = aws.get_region_output(opts=invoke).region

        logs, logs_public_access = self._logs_bucket(name, args)
        data, data_ready = self._archive(
            name,
            "data",
            purpose=ARCHIVE_PURPOSE,
            key_arn=args.storage_key_arn,
            lock_days=args.object_lock_days,
            args=args,
            rule=_archive_transactions(args.data_noncurrent_days),
        )
        audit, audit_ready = self._archive(
            name,
            "audit",
            purpose=AUDIT_PURPOSE,
            key_arn=args.audit_key_arn,
            lock_days=args.audit_lock_days,
            args=args,
            rule=_expire_logs("expire-audit-logs", args.log_retention_days),
            deliveries=_deliveries(args, account_id, partition, region),
        )
        logs_policy = self._logs_policy(
            name, logs, logs_public_access, [data, audit], account_id=account_id, partition=partition, region=region
        )
        self._access_logging(name, logs, logs_policy, {"data": data, "audit": audit})

        self.data_bucket_name = data.bucket
        self.data_bucket_arn = data_ready
        self.logs_bucket_name = pulumi.Output.all(logs.bucket, logs_policy.id).apply(lambda v: str(v[0]))
        self.logs_bucket_arn = pulumi.Output.all(logs.arn, logs_policy.id).apply(lambda v: str(v[0]))
        # The name too: CloudTrail refuses to create a trail until the bucket policy admits it.
        self.audit_bucket_name = audit_ready.apply(lambda arn: arn.split(":::", 1)[1])
        self.audit_bucket_arn = audit_ready
        self.alb_log_prefix = ALB_LOG_PREFIX.rstrip("/")
        self.register_outputs(
            {
                "data_bucket_name": self.data_bucket_name,
                "data_bucket_arn": self.data_bucket_arn,
                "logs_bucket_name": self.logs_bucket_name,
                "logs_bucket_arn": self.logs_bucket_arn,
                "audit_bucket_name": self.audit_bucket_name,
                "audit_bucket_arn": self.audit_bucket_arn,
                "alb_log_prefix": self.alb_log_prefix,
            }
        )

    def _logs_bucket(self, name: str, args: StorageArgs) -> tuple[aws.s3.Bucket, aws.s3.BucketPublicAccessBlock]:
        """ALB, CloudFront and S3 server access logs: these services only write to SSE-S3 buckets,
        the documented exception to "a CMK everywhere". Nothing else is kept here."""
        logs = _bucket(
            self, f"{name}-logs", purpose=LOGS_PURPOSE, force_destroy=not args.protect, object_lock=False, protect=False
        )
        _, public_access, _ = _secure(self, f"{name}-logs", logs, sse=("AES256", None))
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-logs-lifecycle",
            bucket=logs.id,
            rules=[_expire_logs("expire-logs", args.log_retention_days)],
            opts=pulumi.ResourceOptions(parent=self),
        )
        return logs, public_access

    def _logs_policy(
        self,
        name: str,
        logs: aws.s3.Bucket,
        logs_public_access: aws.s3.BucketPublicAccessBlock,
        access_log_sources: list[aws.s3.Bucket],
        *,
        account_id: pulumi.Output[str],
        partition: pulumi.Output[str],
        region: pulumi.Output[str],
    ) -> aws.s3.BucketPolicy:
        """TLS only; admits S3 server access logs of ``access_log_sources``, this account's ALB access
        logs and CloudFront's, delivered by CloudWatch Logs with the statements its guide gives."""
        return aws.s3.BucketPolicy(
            f"{name}-logs-policy",
            bucket=logs.id,
            policy=pulumi.Output.all(
                logs.arn, account_id, partition, region, *[source.arn for source in access_log_sources]
            ).apply(_logs_policy_json),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[logs_public_access]),
        )

    def _access_logging(
        self, name: str, logs: aws.s3.Bucket, logs_policy: aws.s3.BucketPolicy, buckets: dict[str, aws.s3.Bucket]
    ) -> None:
        """S3 server access logs of each archive, under its short name, once the logs bucket admits them."""
        for short, bucket in buckets.items():
            aws.s3.BucketLogging(
                f"{name}-{short}-access-logs",
                bucket=bucket.id,
                target_bucket=logs.id,
                target_prefix=f"{ACCESS_LOG_PREFIX}{short}/",
                opts=pulumi.ResourceOptions(parent=self, depends_on=[logs_policy]),
            )

    def _archive(
        self,
        name: str,
        short: str,
        *,
        purpose: str,
        key_arn: pulumi.Input[str],
        lock_days: int,
        args: StorageArgs,
        rule: aws.s3.BucketLifecycleConfigurationRuleArgs,
        deliveries: pulumi.Output[policies.ArchiveDeliveries] | None = None,
    ) -> tuple[aws.s3.Bucket, pulumi.Output[str]]:
        """A bucket whose objects must outlive mistakes: SSE-KMS with ``key_arn`` only, versioned,
        TLS only, object-locked (when a mode is set) and Pulumi-protected (when ``args.protect``).

        Also returns the bucket's ARN resolving only once all of that is in place, for writers
        that must never put an object the lock or the key does not cover. ``deliveries``: the AWS
        services the bucket policy admits (``policies.data_bucket_policy``)."""
        locked = args.object_lock_mode is not None
        bucket = _bucket(
            self, f"{name}-{short}", purpose=purpose, force_destroy=not args.protect, object_lock=locked,
            protect=args.protect,
        )  # fmt: skip
        versioning, public_access, encryption = _secure(self, f"{name}-{short}", bucket, sse=("aws:kms", key_arn))
        controls: list[pulumi.CustomResource] = [versioning, public_access, encryption]
        after_versioning = pulumi.ResourceOptions(parent=self, depends_on=[versioning])
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-{short}-lifecycle", bucket=bucket.id, rules=[rule], opts=after_versioning
        )
        if locked:
            lock = aws.s3.BucketObjectLockConfiguration(
                f"{name}-{short}-object-lock",
                bucket=bucket.id,
                rule=aws.s3.BucketObjectLockConfigurationRuleArgs(
                    default_retention=aws.s3.BucketObjectLockConfigurationRuleDefaultRetentionArgs(
                        mode=args.object_lock_mode, days=lock_days
                    )
                ),
                opts=after_versioning,
            )
            controls.append(lock)
        policy = aws.s3.BucketPolicy(
            f"{name}-{short}-policy",
            bucket=bucket.id,
            policy=pulumi.Output.all(bucket.arn, key_arn, deliveries).apply(
                lambda v: json.dumps(policies.data_bucket_policy(v[0], v[1], v[2]))
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access]),
        )
        controls.append(policy)
        return bucket, pulumi.Output.all(bucket.arn, *[c.id for c in controls]).apply(lambda v: str(v[0]))


def _deliveries(
    args: StorageArgs, account_id: pulumi.Output[str], partition: pulumi.Output[str], region: pulumi.Output[str]
) -> pulumi.Output[policies.ArchiveDeliveries] | None:
    """What the audit archive admits besides its writers in the account: the stack's trail (its ARN
    from its fixed name, before it exists) and AWS Config."""
    if args.audit_trail_name is None and not args.config_delivery:
        return None
    trail_name = args.audit_trail_name
    return pulumi.Output.all(account_id, partition, region).apply(
        lambda v: policies.ArchiveDeliveries(
            account_id=v[0],
            trail_arn=policies.cloudtrail_trail_arn(partition=v[1], region=v[2], account_id=v[0], name=trail_name)
            if trail_name
            else None,
            config=args.config_delivery,
        )
    )


def _abort_multipart() -> aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs:
    return aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
        days_after_initiation=ABORT_MULTIPART_DAYS
    )


def _archive_transactions(noncurrent_days: int) -> aws.s3.BucketLifecycleConfigurationRuleArgs:
    """Infrequent access after a month, Glacier Instant Retrieval after three; old versions go after
    ``noncurrent_days``. Never Glacier Flexible Retrieval or Deep Archive: AWS Backup does not back up
    objects in those classes ("Amazon S3 backups", AWS Backup Developer Guide), so a backup would hold
    only the last 90 days and end "Completed with issues"."""
    return aws.s3.BucketLifecycleConfigurationRuleArgs(
        id="archive-transactions",
        status="Enabled",
        filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
        transitions=[
            aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(days=30, storage_class="STANDARD_IA"),
            aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(days=90, storage_class="GLACIER_IR"),
        ],
        noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
            noncurrent_days=noncurrent_days
        ),
        abort_incomplete_multipart_upload=_abort_multipart(),
    )


def _expire_logs(rule_id: str, days: int) -> aws.s3.BucketLifecycleConfigurationRuleArgs:
    """Hot for the first 90 days (PCI DSS 10.5.1), then instant-retrieval archive, gone after ``days``."""
    return aws.s3.BucketLifecycleConfigurationRuleArgs(
        id=rule_id,
        status="Enabled",
        filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
        transitions=[
            aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(days=HOT_LOG_DAYS, storage_class="GLACIER_IR")
        ]
        if days > HOT_LOG_DAYS
        else None,
        expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=days),
        noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
            noncurrent_days=30
        ),
        abort_incomplete_multipart_upload=_abort_multipart(),
    )


def _bucket(
    parent: pulumi.Resource, name: str, *, purpose: str, force_destroy: bool, object_lock: bool, protect: bool
) -> aws.s3.Bucket:
    # Pulumi auto-naming: globally unique, stable for the life of the stack.
    return aws.s3.Bucket(
        name,
        force_destroy=force_destroy,
        # Read by the policy pack: only log buckets may use SSE-S3, archives must be protected.
        tags={"Purpose": purpose},
        object_lock_enabled=object_lock or None,
        opts=pulumi.ResourceOptions(parent=parent, protect=protect),
    )


def _secure(
    parent: pulumi.Resource, name: str, bucket: aws.s3.Bucket, *, sse: tuple[str, pulumi.Input[str] | None]
) -> tuple[aws.s3.BucketVersioning, aws.s3.BucketPublicAccessBlock, aws.s3.BucketServerSideEncryptionConfiguration]:
    """The controls every bucket gets: no public access, no ACLs, versioning, default encryption."""
    child = pulumi.ResourceOptions(parent=parent)
    public_access = aws.s3.BucketPublicAccessBlock(
        f"{name}-public-access",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=child,
    )
    aws.s3.BucketOwnershipControls(
        f"{name}-ownership",
        bucket=bucket.id,
        rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
        opts=child,
    )
    versioning = aws.s3.BucketVersioning(
        f"{name}-versioning",
        bucket=bucket.id,
        versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
        opts=child,
    )
    algorithm, key = sse
    encryption = aws.s3.BucketServerSideEncryptionConfiguration(
        f"{name}-encryption",
        bucket=bucket.id,
        rules=[
            aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm=algorithm, kms_master_key_id=key
                ),
                bucket_key_enabled=True if key is not None else None,
            )
        ],
        opts=child,
    )
    return versioning, public_access, encryption


def _logs_policy_json(values: list[str]) -> str:
    bucket_arn, account_id, partition, region, *access_log_sources = values
    return json.dumps(
        policies.logs_bucket_policy(
            bucket_arn=bucket_arn,
            account_id=account_id,
            partition=partition,
            region=region,
            access_log_sources=access_log_sources,
            access_log_prefix=ACCESS_LOG_PREFIX,
            alb_log_prefix=ALB_LOG_PREFIX,
        )
    )
