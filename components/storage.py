"""Storage tier: the transaction archive and the logs bucket other tiers deliver to."""

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
LOGS_PURPOSE = "logs"


@dataclass(frozen=True)
class StorageArgs:
    storage_key_arn: pulumi.Input[str]
    """CMK of the transaction archive (SSE-KMS with bucket keys)."""
    log_retention_days: int
    """Days objects stay in the logs bucket."""
    object_lock_mode: Literal["GOVERNANCE", "COMPLIANCE"] | None
    """Default Object Lock retention of the archive; None: no Object Lock."""
    object_lock_days: int
    protect: bool
    """Pulumi ``protect`` on the archive and no ``force_destroy``; False empties buckets on destroy."""
    data_noncurrent_days: int = 365
    """Days an overwritten or deleted archive object's old version is kept."""


class Storage(pulumi.ComponentResource):
    """Transaction archive (versioned, SSE-KMS, optionally object-locked) and logs bucket."""

    data_bucket_name: pulumi.Output[str]
    data_bucket_arn: pulumi.Output[str]
    logs_bucket_name: pulumi.Output[str]
    """Resolves once the bucket policy admits log writers: deliveries configured after it succeed."""
    logs_bucket_arn: pulumi.Output[str]
    """Like the name, resolves only once the bucket policy admits log writers."""
    alb_log_prefix: str

    def __init__(self, name: str, args: StorageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("fintech:storage:Storage", name, None, opts)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account_id = aws.get_caller_identity_output(opts=invoke).account_id
        partition = aws.get_partition_output(opts=invoke).partition
        region = aws.get_region_output(opts=invoke).region

        # ALB and S3 server access logs can only be written to SSE-S3 buckets: this bucket is
        # the documented exception to "a CMK everywhere".
        logs = _bucket(
            self, f"{name}-logs", purpose=LOGS_PURPOSE, force_destroy=not args.protect, object_lock=False, protect=False
        )
        _, logs_public_access = _secure(self, f"{name}-logs", logs, sse=("AES256", None))
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-logs-lifecycle",
            bucket=logs.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-logs",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    # Hot for the first 90 days (PCI DSS 10.5.1), then instant-retrieval archive.
                    transitions=[
                        aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(days=90, storage_class="GLACIER_IR")
                    ]
                    if args.log_retention_days > 90
                    else None,
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=args.log_retention_days),
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=30
                    ),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=ABORT_MULTIPART_DAYS
                    ),
                )
            ],
            opts=pulumi.ResourceOptions(parent=self),
        )

        data = _bucket(
            self,
            f"{name}-data",
            purpose=ARCHIVE_PURPOSE,
            force_destroy=not args.protect,
            object_lock=args.object_lock_mode is not None,
            protect=args.protect,
        )
        data_versioning, data_public_access = _secure(self, f"{name}-data", data, sse=("aws:kms", args.storage_key_arn))
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-data-lifecycle",
            bucket=data.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="archive-transactions",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    transitions=[
                        aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(days=30, storage_class="STANDARD_IA"),
                        aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(days=90, storage_class="GLACIER"),
                    ],
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=args.data_noncurrent_days
                    ),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=ABORT_MULTIPART_DAYS
                    ),
                )
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[data_versioning]),
        )
        if args.object_lock_mode is not None:
            aws.s3.BucketObjectLockConfiguration(
                f"{name}-data-object-lock",
                bucket=data.id,
                rule=aws.s3.BucketObjectLockConfigurationRuleArgs(
                    default_retention=aws.s3.BucketObjectLockConfigurationRuleDefaultRetentionArgs(
                        mode=args.object_lock_mode, days=args.object_lock_days
                    )
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[data_versioning]),
            )

        logs_policy = aws.s3.BucketPolicy(
            f"{name}-logs-policy",
            bucket=logs.id,
            policy=pulumi.Output.all(logs.arn, account_id, partition, region, data.arn).apply(_logs_policy_json),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[logs_public_access]),
        )
        aws.s3.BucketPolicy(
            f"{name}-data-policy",
            bucket=data.id,
            policy=pulumi.Output.all(data.arn, args.storage_key_arn).apply(
                lambda v: json.dumps(policies.data_bucket_policy(v[0], v[1]))
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[data_public_access]),
        )
        aws.s3.BucketLogging(
            f"{name}-data-access-logs",
            bucket=data.id,
            target_bucket=logs.id,
            target_prefix=f"{ACCESS_LOG_PREFIX}data/",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[logs_policy]),
        )

        self.data_bucket_name = data.bucket
        self.data_bucket_arn = data.arn
        self.logs_bucket_name = pulumi.Output.all(logs.bucket, logs_policy.id).apply(lambda v: str(v[0]))
        self.logs_bucket_arn = pulumi.Output.all(logs.arn, logs_policy.id).apply(lambda v: str(v[0]))
        self.alb_log_prefix = ALB_LOG_PREFIX.rstrip("/")
        self.register_outputs(
            {
                "data_bucket_name": self.data_bucket_name,
                "data_bucket_arn": self.data_bucket_arn,
                "logs_bucket_name": self.logs_bucket_name,
                "logs_bucket_arn": self.logs_bucket_arn,
                "alb_log_prefix": self.alb_log_prefix,
            }
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
) -> tuple[aws.s3.BucketVersioning, aws.s3.BucketPublicAccessBlock]:
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
    aws.s3.BucketServerSideEncryptionConfiguration(
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
    return versioning, public_access


def _logs_policy_json(values: list[str]) -> str:
    bucket_arn, account_id, partition, region, data_bucket_arn = values
    return json.dumps(
        policies.logs_bucket_policy(
            bucket_arn=bucket_arn,
            account_id=account_id,
            partition=partition,
            region=region,
            access_log_sources=[data_bucket_arn],
            access_log_prefix=ACCESS_LOG_PREFIX,
            alb_log_prefix=ALB_LOG_PREFIX,
        )
    )
