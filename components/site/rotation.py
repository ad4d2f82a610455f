"""Rotation tier: a site's secret rotation function, its role, log group and (optionally) signed code.

Secrets Manager calls a rotation function in the secret's own Region, so every site has one, in its
rotation subnets (``network.py``), attached to the secrets of its region:

- the home site's function rotates the primaries (the app credential and, in a global database, the
  master credential): the Secrets tier (``between/secrets.py``) schedules it. With a standby, the
  regions' VPCs are peered for the rotation subnets alone (``between/peering.py``), so while both
  regions answer it reaches the writer wherever it is (a switchover, a database-only failover);
- the standby site's function may rotate that region's copies, which are read-only replicas until
  ``./deploy failover`` promotes them (the home region lost) and attaches this function to them
  (RotateSecret). Until then it is never invoked. ``./deploy failover --rejoin-secrets`` carries the
  live values home and makes the copies replicas again.

Each function knows its peer region (``PEER_REGION``): before a rotation step it asks the peer's copy
whether it is this copy's replica, and refuses when the other copy has taken over (a home region back
after a failover must not rotate its stale copy: lambdas/rotation/rotation.py). The role may read the
peer's copies' metadata (DescribeSecret) and nothing else of them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pymysql

from components import policies
from components.site.storage import _bucket, _secure

# Days an overwritten artifact (and an unfinished upload) is kept: the bucket is versioned for Signer.
ARTIFACT_VERSION_DAYS = 7

ROTATION_SOURCE = Path(__file__).resolve().parents[2] / "lambdas" / "rotation"
# AWS's RDS CA certificates, next to the handler, which trusts them by default (the Lambda base
# images lack the rds-ca-*-g1 roots). Refreshed by scripts/refresh-rds-ca-bundle.sh.
CA_BUNDLE = "rds-ca-bundle.pem"
LAMBDA_RUNTIME = "python3.12"
# Characters that break connection strings or quoting in consumers; no generated password
# contains them (the handler passes EXCLUDE_CHARACTERS to GetRandomPassword).
EXCLUDED_PASSWORD_CHARACTERS = "/@\"'\\`:;%"
# AWS Signer's platform for Lambda zip files.
SIGNING_PLATFORM = "AWSLambda-SHA384-ECDSA"
# Signer profile names: letters, digits and underscores, at most 64; Terraform adds a 26-character
# unique suffix to a prefix, which may have at most 38 (terraform-provider-aws signing_profile.go).
# A name, once cancelled, can never be used again: always a fresh suffix, never a fixed name.
_SIGNING_PREFIX_RE = re.compile(r"^[0-9A-Za-z_]{1,38}$")
ARTIFACTS_PURPOSE = "lambda-artifacts"
UNSIGNED_KEY = "unsigned/rotation.zip"
SIGNED_PREFIX = "signed/"
# Days between rotations of every credential (SecretRotation; RotateSecret on a promoted copy).
ROTATION_DAYS = 30
# Lambda reserves this out of the account's unreserved pool and refuses any reservation that
# would leave the pool under 100, so a deploy fails rather than starving other functions.
MAX_RESERVED_CONCURRENCY = 5


def rotation_bundle(source: Path = ROTATION_SOURCE) -> dict[str, Path]:
    """Files of the rotation Lambda's zip: the handler, the RDS CA bundle and PyMySQL.

    Keyed by path inside the zip and sorted, without bytecode, so the archive (and with it
    the function's code hash) only changes when a source file does.
    """
    files: dict[str, Path] = {p.name: p for p in sorted(source.glob("*.py"))}
    files[CA_BUNDLE] = source / CA_BUNDLE
    driver = Path(pymysql.__file__).resolve().parent
    for path in sorted(driver.rglob("*.py")):
        files[f"pymysql/{path.relative_to(driver).as_posix()}"] = path
    return dict(sorted(files.items()))


def signing_profile_prefix(name: str) -> str:
    """A Signer profile name prefix from a component name (``fintech-dev-secrets`` -> ``fintech_dev_secrets_``)."""
    prefix = re.sub(r"[^0-9A-Za-z]", "_", name)[:37] + "_"
    if not _SIGNING_PREFIX_RE.match(prefix):
        raise ValueError(f"cannot make a Signer profile name prefix from {name!r}")
    return prefix


@dataclass(frozen=True)
class Replication:
    """Where what the function writes is replicated: a region and that region's secrets key."""

    region: str
    key_arn: pulumi.Input[str]


@dataclass(frozen=True)
class RotationArgs:
    subnet_ids: Sequence[pulumi.Input[str]]
    """The site's rotation subnets (network.py): Secrets Manager, RDS's API and, peered, the other region's writer."""
    security_group_id: pulumi.Input[str]
    secrets_key_arn: pulumi.Input[str]
    """The key of this region's copies."""
    logs_key_arn: pulumi.Input[str]
    lambda_key_arn: pulumi.Input[str]
    """CMK for the function's environment variables and (with code signing) its artifacts bucket."""
    log_group_name: str
    log_retention_days: int
    app_secret_arn: pulumi.Input[str]
    """This region's copy of the app credential (the primary at home, the replica elsewhere)."""
    master_secret_arn: pulumi.Input[str]
    """This region's copy of the master credential (read to set the app users' passwords)."""
    rotate_master: bool = False
    """Also rotate the master secret (a global database's self-managed one, single user)."""
    replication: Replication | None = None
    """Where this region's copies are replicated (the home site's, with a standby): each write is
    re-encrypted there with that region's key."""
    peer_region: str | None = None
    """The other site's region: the function asks its copies whether they are this one's replicas."""
    code_signing: bool = False
    """Deploy the function only from code signed by this tier's AWS Signer profile (Enforce)."""
    reserved_concurrency: int = 0
    """Concurrent executions reserved for the function (at most this many copies run at once: one
    rotation step plus a retry or the bootstrap), 0 for none: Lambda's own 0 would throttle the
    function, so the argument is then left out (unreserved)."""
    retain_logs: bool = False
    """Keep the log group when the stack is deleted: the audit trail outlives the platform."""
    global_cluster_id: pulumi.Input[str] | None = None
    """The Aurora global database whose writer endpoint the secrets name, None without one: the function
    looks up its writer cluster (DescribeGlobalClusters) to connect to that cluster's endpoint."""
    global_member_clusters: pulumi.Input[Mapping[str, pulumi.Input[str]]] = field(default_factory=dict)
    """With ``global_cluster_id``: its member clusters' identifiers by region, the clusters whose
    endpoint the function may read (DescribeDBClusters); ignored without one."""
    formerly_under: pulumi.Input[str] | None = None
    """The URN of the component these resources were first built under (the home site's were the
    Secrets tier's children): each child keeps its name and aliases its old URN, so moving it here
    replaces nothing (the log group's fixed name would otherwise collide with itself)."""

    def __post_init__(self) -> None:
        if not 0 <= self.reserved_concurrency <= MAX_RESERVED_CONCURRENCY:
            raise ValueError(
                f"reserved_concurrency must be from 0 to {MAX_RESERVED_CONCURRENCY}, got {self.reserved_concurrency}"
            )
        if self.global_cluster_id is not None and not self.global_member_clusters:
            raise ValueError(
                "global_cluster_id needs global_member_clusters: the function finds the writer of that global "
                "database among those clusters"
            )
        if self.replication is not None and self.replication.region != self.peer_region:
            raise ValueError("the copies are replicated to the peer region: replication.region must be peer_region")


class Rotation(pulumi.ComponentResource):
    """A site's rotation function, allowed to rotate its region's copies of the credentials."""

    function_name: pulumi.Output[str]
    function_arn: pulumi.Output[str]
    """Resolves only once Secrets Manager may invoke the function for each copy: a schedule that names
    it starts a rotation at once."""
    log_group_name: pulumi.Output[str]
    app_secret_arn: pulumi.Output[str]
    """The copies the function may rotate (``args``), as outputs: what a failover promotes here."""
    master_secret_arn: pulumi.Output[str]

    def __init__(self, name: str, args: RotationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        """``name`` prefixes the children's names (the home site's are those the Secrets tier gave them)."""
        if args.formerly_under is not None:
            opts = pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(transformations=[partial(_moved_from, args.formerly_under)])
            )
        super().__init__("fintech:data:Rotation", name, None, opts)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        region = aws.get_region_output(opts=invoke).region
        account_id = aws.get_caller_identity_output(opts=invoke).account_id
        partition = aws.get_partition_output(opts=invoke).partition

        log_group = self._log_group(name, args)
        role, grants = self._rotation_role(name, args, log_group.arn, region, partition, account_id)
        function = self._function(name, args, role.arn, grants, log_group.name, region)
        permissions = [
            self._invoke_permission(f"{name}-rotation-invoke", function.name, args.app_secret_arn, account_id)
        ]
        if args.rotate_master:
            permissions.append(
                self._invoke_permission(
                    f"{name}-master-rotation-invoke", function.name, args.master_secret_arn, account_id
                )
            )

        self.function_name = function.name
        self.function_arn = pulumi.Output.all(function.arn, *[p.id for p in permissions]).apply(lambda v: str(v[0]))
        self.log_group_name = log_group.name
        self.app_secret_arn = pulumi.Output.from_input(args.app_secret_arn)
        self.master_secret_arn = pulumi.Output.from_input(args.master_secret_arn)
        self.register_outputs(
            {
                "function_name": self.function_name,
                "function_arn": self.function_arn,
                "log_group_name": self.log_group_name,
            }
        )

    def _log_group(self, name: str, args: RotationArgs) -> aws.cloudwatch.LogGroup:
        return aws.cloudwatch.LogGroup(
            f"{name}-rotation-logs",
            name=args.log_group_name,
            retention_in_days=args.log_retention_days,
            kms_key_id=args.logs_key_arn,
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=args.retain_logs),
        )

    def _rotation_role(
        self,
        name: str,
        args: RotationArgs,
        log_group_arn: pulumi.Output[str],
        region: pulumi.Output[str],
        partition: pulumi.Output[str],
        account_id: pulumi.Output[str],
    ) -> tuple[aws.iam.Role, list[pulumi.Resource]]:
        """The function's role and its grants, which the function must wait for."""
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-rotation-role",
            description="Secret rotation Lambda for the app database credential",
            assume_role_policy=json.dumps(policies.service_assume_role_policy("lambda.amazonaws.com")),
            opts=child,
        )
        grants: list[pulumi.Resource] = [
            aws.iam.RolePolicyAttachment(
                f"{name}-rotation-{short}",
                role=role.name,
                policy_arn=pulumi.Output.concat("arn:", partition, ":iam::aws:policy/", managed),
                opts=child,
            )
            # X-Ray's actions take no resource ARNs; this is the policy Lambda's docs name for
            # active tracing ("Using AWS Lambda with AWS X-Ray").
            for short, managed in (
                ("vpc-access", "service-role/AWSLambdaVPCAccessExecutionRole"),
                ("xray", "AWSXRayDaemonWriteAccess"),
            )
        ]
        grants.append(
            aws.iam.RolePolicy(
                f"{name}-rotation-policy",
                role=role.name,
                policy=pulumi.Output.all(
                    app_secret_arn=args.app_secret_arn,
                    master_secret_arn=args.master_secret_arn,
                    secrets_key_arn=args.secrets_key_arn,
                    log_group=log_group_arn,
                    region=region,
                    replica_key_arn=args.replication.key_arn if args.replication else "",
                    partition=partition,
                    account_id=account_id,
                    global_cluster_id=args.global_cluster_id or "",
                    member_clusters=args.global_member_clusters,
                ).apply(partial(_rotation_policy_json, args)),
                opts=child,
            )
        )
        return role, grants

    def _function(
        self,
        name: str,
        args: RotationArgs,
        role_arn: pulumi.Output[str],
        grants: Sequence[pulumi.Resource],
        log_group_name: pulumi.Output[str],
        region: pulumi.Output[str],
    ) -> aws.lambda_.Function:
        return aws.lambda_.Function(
            f"{name}-rotation",
            description="Rotates the app database credential (alternating users)",
            runtime=LAMBDA_RUNTIME,
            architectures=["arm64"],
            handler="rotation.lambda_handler",
            **self._code(name, args),
            role=role_arn,
            timeout=60,
            memory_size=256,
            reserved_concurrent_executions=args.reserved_concurrency or None,
            tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active"),
            vpc_config=aws.lambda_.FunctionVpcConfigArgs(
                subnet_ids=list(args.subnet_ids), security_group_ids=[args.security_group_id]
            ),
            kms_key_arn=args.lambda_key_arn,
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables={
                    # Resolves to the interface endpoint where one exists, else through NAT.
                    "SECRETS_MANAGER_ENDPOINT": pulumi.Output.concat(
                        "https://secretsmanager.", region, ".amazonaws.com"
                    ),
                    "DB_TLS": "required",
                    "EXCLUDE_CHARACTERS": EXCLUDED_PASSWORD_CHARACTERS,
                    # The other region, whose copy says whether this one may rotate (rotation.py).
                    **({"PEER_REGION": args.peer_region} if args.peer_region else {}),
                }
            ),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(
                log_format="JSON", log_group=log_group_name, application_log_level="INFO", system_log_level="WARN"
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(grants)),
        )

    def _invoke_permission(
        self,
        resource_name: str,
        function_name: pulumi.Output[str],
        secret_arn: pulumi.Input[str],
        account_id: pulumi.Output[str],
    ) -> aws.lambda_.Permission:
        """Secrets Manager may invoke the function, for this secret only (a standby's: once promoted)."""
        return aws.lambda_.Permission(
            resource_name,
            action="lambda:InvokeFunction",
            function=function_name,
            principal="secretsmanager.amazonaws.com",
            source_arn=secret_arn,
            source_account=account_id,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _code(self, name: str, args: RotationArgs) -> dict[str, Any]:
        """The function's code arguments: the zip inline, or only as signed by this tier's profile."""
        archive = pulumi.AssetArchive({key: pulumi.FileAsset(str(path)) for key, path in rotation_bundle().items()})
        if not args.code_signing:
            return {"code": archive}
        child = pulumi.ResourceOptions(parent=self)
        bucket, upload_ready = self._artifacts_bucket(name, args)
        # Signer reads a specific version of the source: the bucket must be versioned (and
        # encrypting with the CMK) before the first upload.
        unsigned = aws.s3.BucketObjectv2(
            f"{name}-rotation-unsigned",
            bucket=bucket.id,
            key=UNSIGNED_KEY,
            source=archive,
            opts=pulumi.ResourceOptions(parent=self, depends_on=upload_ready),
        )
        profile = aws.signer.SigningProfile(
            f"{name}-signing",
            name_prefix=signing_profile_prefix(name),
            platform_id=SIGNING_PLATFORM,
            opts=child,
        )
        job = aws.signer.SigningJob(
            f"{name}-rotation-signing",
            profile_name=profile.name,
            source=aws.signer.SigningJobSourceArgs(
                s3=aws.signer.SigningJobSourceS3Args(bucket=bucket.id, key=unsigned.key, version=unsigned.version_id)
            ),
            destination=aws.signer.SigningJobDestinationArgs(
                s3=aws.signer.SigningJobDestinationS3Args(bucket=bucket.id, prefix=SIGNED_PREFIX)
            ),
            ignore_signing_job_failure=False,
            opts=child,
        )
        config = aws.lambda_.CodeSigningConfig(
            f"{name}-code-signing",
            description=f"{name}: only code signed by this tier's Signer profile deploys",
            allowed_publishers=aws.lambda_.CodeSigningConfigAllowedPublishersArgs(
                signing_profile_version_arns=[profile.version_arn]
            ),
            policies=aws.lambda_.CodeSigningConfigPoliciesArgs(untrusted_artifact_on_deployment="Enforce"),
            opts=child,
        )
        signed = job.signed_objects.apply(_signed_s3_object)
        return {
            "s3_bucket": signed.apply(lambda o: o["bucket"]),
            "s3_key": signed.apply(lambda o: o["key"]),
            "code_signing_config_arn": config.arn,
        }

    def _artifacts_bucket(self, name: str, args: RotationArgs) -> tuple[aws.s3.Bucket, list[pulumi.Resource]]:
        """The bucket Signer reads from and writes to, and what an upload must wait for."""
        # Holds only what this program rebuilds from the repo on every deploy: emptied on destroy.
        bucket = _bucket(
            self, f"{name}-artifacts", purpose=ARTIFACTS_PURPOSE, force_destroy=True, object_lock=False, protect=False
        )
        versioning, public_access, encryption = _secure(
            self, f"{name}-artifacts", bucket, sse=("aws:kms", args.lambda_key_arn)
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-artifacts-lifecycle",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-old-versions",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    # An overwritten upload matters only while Signer reads it (minutes). Current objects
                    # stay: each signed zip is what its function's code, or a replacement of it, reads.
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=ARTIFACT_VERSION_DAYS
                    ),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=ARTIFACT_VERSION_DAYS
                    ),
                )
            ],
            # Rules on noncurrent versions need versioning on first (the provider's own advice).
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]),
        )
        aws.s3.BucketPolicy(
            f"{name}-artifacts-policy",
            bucket=bucket.id,
            policy=bucket.arn.apply(lambda arn: json.dumps(policies.lambda_artifacts_bucket_policy(arn))),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access]),
        )
        return bucket, [versioning, encryption]


def _moved_from(old_parent_urn: pulumi.Input[str], args: pulumi.ResourceTransformationArgs) -> Any:
    """Every child keeps its name and answers to its URN under its old parent as well (the component
    itself is new: nothing to alias)."""
    if args.type_ == "fintech:data:Rotation":
        return None
    return pulumi.ResourceTransformationResult(
        args.props,
        pulumi.ResourceOptions.merge(args.opts, pulumi.ResourceOptions(aliases=[pulumi.Alias(parent=old_parent_urn)])),
    )


def _signed_s3_object(objects: Sequence[aws.signer.outputs.SigningJobSignedObject]) -> dict[str, str]:
    (signed,) = objects
    (s3,) = signed.s3s or []
    if not s3.bucket or not s3.key:
        raise ValueError("the signing job reported no signed object")
    return {"bucket": s3.bucket, "key": s3.key}


def copy_arn(arn: str, region: str) -> str:
    """A secret's copy in ``region``: a replica keeps its primary's name, its ARN differs only in the
    region field (StopReplicationToReplica API reference: "The ARN is the same as the original primary
    secret except the Region is changed")."""
    parts = arn.split(":")
    if len(parts) < 7 or parts[2] != "secretsmanager":
        raise ValueError(f"not a secret ARN: {arn}")
    return ":".join([*parts[:3], region, *parts[4:]])


def _rotation_policy_json(args: RotationArgs, values: dict[str, Any]) -> str:
    document = policies.rotation_lambda_policy(
        app_secret_arn=values["app_secret_arn"],
        master_secret_arn=values["master_secret_arn"],
        rotate_master=args.rotate_master,
        replica=(args.replication.region, values["replica_key_arn"]) if args.replication else None,
        secrets_key_arn=values["secrets_key_arn"],
        log_group=values["log_group"],
        region=values["region"],
        peer_copies=[copy_arn(values[k], args.peer_region) for k in ("app_secret_arn", "master_secret_arn")]
        if args.peer_region
        else (),
    )
    if values["global_cluster_id"]:
        document["Statement"] += writer_lookup_statements(
            partition=values["partition"],
            account_id=values["account_id"],
            global_cluster_id=values["global_cluster_id"],
            member_clusters=values["member_clusters"],
        )
    return json.dumps(document)


def writer_lookup_statements(
    *, partition: str, account_id: str, global_cluster_id: str, member_clusters: Mapping[str, str]
) -> list[dict[str, Any]]:
    """The function may find a global database's writer cluster and read that cluster's endpoint.

    Service Authorization Reference (Amazon RDS): DescribeGlobalClusters takes the ``global-cluster``
    resource type and DescribeDBClusters the ``cluster`` type, neither an action condition key. RDS
    "Constructing an ARN": a global cluster's ARN has no region, a cluster's has its own.
    """
    return [
        {
            "Sid": "FindGlobalDatabaseWriter",
            "Effect": "Allow",
            "Action": "rds:DescribeGlobalClusters",
            "Resource": f"arn:{partition}:rds::{account_id}:global-cluster:{global_cluster_id}",
        },
        {
            "Sid": "ReadWriterClusterEndpoint",
            "Effect": "Allow",
            "Action": "rds:DescribeDBClusters",
            "Resource": [
                f"arn:{partition}:rds:{region}:{account_id}:cluster:{identifier}"
                for region, identifier in sorted(member_clusters.items())
            ],
        },
    ]
