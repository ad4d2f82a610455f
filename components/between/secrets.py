"""Secrets tier: the app's database credential, rotated every 30 days by an in-VPC Lambda.

Rotation uses alternating users (``<user>`` and ``<user>_clone``), so the credential the app
holds keeps working until the rotation after next. The master credential is RDS-managed
(see ``database.py``); this tier only reads it to create and update the app users. In a global
database RDS cannot manage it: the data tier creates it, and this tier's function also rotates it
(single user), starting at once.

No password passes through Pulumi: the version the program writes holds connection fields
only, and the function's bootstrap generates the first password (Secrets Manager
``GetRandomPassword``), sets it on the database and publishes it as AWSCURRENT. Nothing in
Pulumi's state is ever a valid login.

The bootstrap's input names the host and port the secret must point to (and its triggers the host):
a changed ``db_host`` reaches the secret through the function, never through the version Pulumi
wrote, which ignores changes. Where the host is an Aurora global database's writer endpoint, the
function connects to the writer cluster's endpoint, found through the RDS API (``global_cluster_id``,
``global_member_clusters``): the role may describe exactly that global cluster and its members.
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
from components.site.database import PERMANENT_STAGE
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
# A permanent label on the first version: after two rotations AWS would otherwise strip its
# last label and delete it, and the next `pulumi up` would recreate it (and bootstrap again).
BOOTSTRAP_STAGE = PERMANENT_STAGE
# AWS Signer's platform for Lambda zip files.
SIGNING_PLATFORM = "AWSLambda-SHA384-ECDSA"
# Signer profile names: letters, digits and underscores, at most 64; Terraform adds a 26-character
# unique suffix to a prefix, which may have at most 38 (terraform-provider-aws signing_profile.go).
# A name, once cancelled, can never be used again: always a fresh suffix, never a fixed name.
_SIGNING_PREFIX_RE = re.compile(r"^[0-9A-Za-z_]{1,38}$")
ARTIFACTS_PURPOSE = "lambda-artifacts"
UNSIGNED_KEY = "unsigned/rotation.zip"
SIGNED_PREFIX = "signed/"
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
class SecretReplica:
    region: str
    key_arn: pulumi.Input[str]
    """A CMK of ``region``: Secrets Manager re-encrypts the replica with it."""


@dataclass(frozen=True)
class SecretsArgs:
    secret_name_prefix: str
    """The app secret's name starts with this; the app role may read exactly this prefix."""
    secrets_key_arn: pulumi.Input[str]
    logs_key_arn: pulumi.Input[str]
    lambda_key_arn: pulumi.Input[str]
    """CMK for the function's environment variables and (with code signing) its artifacts bucket."""
    log_group_name: str
    """The rotation function's log group (one naming scheme for the stack's groups, set by the caller)."""
    log_retention_days: int
    db_host: pulumi.Input[str]
    db_port: pulumi.Input[int]
    db_name: str
    master_secret_arn: pulumi.Input[str]
    db_instance_ids: Sequence[pulumi.Input[str]]
    """Every instance of the cluster: the bootstrap runs only once all of them exist."""
    subnet_ids: Sequence[pulumi.Input[str]]
    """Private subnets the rotation function runs in (they reach Secrets Manager)."""
    security_group_id: pulumi.Input[str]
    recovery_window_days: int
    """Days a deleted secret can be restored; 0 deletes at once (disposable stacks)."""
    code_signing: bool = False
    """Deploy the function only from code signed by this tier's AWS Signer profile (Enforce)."""
    rotate_master: bool = False
    """Also rotate the master secret (single-user) with this function: a self-managed master
    secret (global database) whose first password passed through Pulumi's state."""
    replica: SecretReplica | None = None
    """A read-only copy of the app secret in the standby region (rotations propagate to it)."""
    app_username: str = "payments_app"
    rotation_days: int = 30
    reserved_concurrency: int = 0
    """Concurrent executions reserved for the function (at most this many copies run at once: one
    rotation step plus a retry or the bootstrap), 0 for none: Lambda's own 0 would throttle the
    function, so the argument is then left out (unreserved)."""
    retain_logs: bool = False
    """Keep the log group when the stack is deleted: the audit trail outlives the platform."""
    global_cluster_id: pulumi.Input[str] | None = None
    """The Aurora global database whose writer endpoint ``db_host`` is, None without one: the function
    looks up its writer cluster (DescribeGlobalClusters) to connect to that cluster's endpoint."""
    global_member_clusters: Mapping[str, str] = field(default_factory=dict)
    """With ``global_cluster_id``: its member clusters' identifiers by region, the clusters whose
    endpoint the function may read (DescribeDBClusters); ignored without one."""


class Secrets(pulumi.ComponentResource):
    """App credential secret, its rotation function and schedule, and the first-run bootstrap."""

    app_secret_arn: pulumi.Output[str]
    """Resolves only once the bootstrap has published the first password: consumers never read
    a secret without one."""
    replica_secret_arn_or_none: pulumi.Output[str] | None
    """The app secret's replica in ``replica.region`` (same name, that region in its ARN); None without one."""
    rotation_function_name: pulumi.Output[str]
    rotation_function_arn: pulumi.Output[str]
    rotation_log_group_name: pulumi.Output[str]

    def __init__(self, name: str, args: SecretsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("fintech:data:Secrets", name, None, opts)
        _validate(args)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        region = aws.get_region_output(opts=invoke).region
        account_id = aws.get_caller_identity_output(opts=invoke).account_id
        partition = aws.get_partition_output(opts=invoke).partition

        secret, initial = self._secret(name, args)
        log_group = self._log_group(name, args)
        role, grants = self._rotation_role(name, args, secret.arn, log_group.arn, region, partition, account_id)
        function = self._function(name, args, role.arn, grants, log_group.name, region)
        permission = self._invoke_permission(f"{name}-rotation-invoke", function.name, secret.arn, account_id)
        bootstrap = self._bootstrap(name, args, function.name, secret.arn, initial.version_id)
        self._rotation_schedule(f"{name}-app-db-rotation", args, secret.id, function.arn, ready=[bootstrap, permission])
        if args.rotate_master:
            # The master's first password passed through Pulumi's state: the first rotation, at
            # once, makes it useless. The app secret's bootstrap (which logs in as master) goes first.
            master_permission = self._invoke_permission(
                f"{name}-master-rotation-invoke", function.name, args.master_secret_arn, account_id
            )
            self._rotation_schedule(
                f"{name}-master-rotation",
                args,
                args.master_secret_arn,
                function.arn,
                ready=[bootstrap, master_permission],
            )

        self.app_secret_arn = pulumi.Output.all(secret.arn, bootstrap.id).apply(lambda v: str(v[0]))
        self.replica_secret_arn_or_none = (
            pulumi.Output.all(self.app_secret_arn, region).apply(partial(_replica_arn, args.replica.region))
            if args.replica
            else None
        )
        self.rotation_function_name = function.name
        self.rotation_function_arn = function.arn
        self.rotation_log_group_name = log_group.name
        self.register_outputs(
            {
                "app_secret_arn": self.app_secret_arn,
                "replica_secret_arn": self.replica_secret_arn_or_none,
                "rotation_function_name": self.rotation_function_name,
                "rotation_function_arn": self.rotation_function_arn,
                "rotation_log_group_name": self.rotation_log_group_name,
            }
        )

    @property
    def replica_secret_arn(self) -> pulumi.Output[str]:
        if self.replica_secret_arn_or_none is None:
            raise ValueError("the app secret has no replica")
        return self.replica_secret_arn_or_none

    def _secret(
        self, name: str, args: SecretsArgs
    ) -> tuple[aws.secretsmanager.Secret, aws.secretsmanager.SecretVersion]:
        """The app secret and its first version, which holds connection fields only."""
        secret = aws.secretsmanager.Secret(
            f"{name}-app-db",
            name_prefix=f"{args.secret_name_prefix}db-",
            description="App tier MySQL credential (alternating users, rotated by Lambda)",
            kms_key_id=args.secrets_key_arn,
            recovery_window_in_days=args.recovery_window_days,
            replicas=[aws.secretsmanager.SecretReplicaArgs(region=r.region, kms_key_id=r.key_arn)]
            if (r := args.replica)
            else None,
            opts=pulumi.ResourceOptions(parent=self),
        )
        initial = aws.secretsmanager.SecretVersion(
            f"{name}-app-db-initial",
            secret_id=secret.id,
            # Where to connect, never a password: this value lives in Pulumi's state.
            secret_string=pulumi.Output.json_dumps(
                {
                    "engine": "mysql",
                    "host": args.db_host,
                    "port": args.db_port,
                    "username": args.app_username,
                    "dbname": args.db_name,
                    "masterarn": args.master_secret_arn,
                }
            ),
            version_stages=["AWSCURRENT", BOOTSTRAP_STAGE],
            # Bootstrap and rotation move AWSCURRENT and write new values: Pulumi must not move them back.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["secretString", "versionStages"]),
        )
        return secret, initial

    def _log_group(self, name: str, args: SecretsArgs) -> aws.cloudwatch.LogGroup:
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
        args: SecretsArgs,
        secret_arn: pulumi.Output[str],
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
                    secret_arn,
                    args.master_secret_arn,
                    args.secrets_key_arn,
                    log_group_arn,
                    region,
                    args.replica.key_arn if args.replica else "",
                    partition,
                    account_id,
                    args.global_cluster_id or "",
                ).apply(
                    partial(
                        _rotation_policy_json,
                        args.rotate_master,
                        args.replica.region if args.replica else "",
                        dict(args.global_member_clusters),
                    )
                ),
                opts=child,
            )
        )
        return role, grants

    def _function(
        self,
        name: str,
        args: SecretsArgs,
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
        """Secrets Manager may invoke the function, for this secret only."""
        return aws.lambda_.Permission(
            resource_name,
            action="lambda:InvokeFunction",
            function=function_name,
            principal="secretsmanager.amazonaws.com",
            source_arn=secret_arn,
            source_account=account_id,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _bootstrap(
        self,
        name: str,
        args: SecretsArgs,
        function_name: pulumi.Output[str],
        secret_arn: pulumi.Output[str],
        initial_version_id: pulumi.Output[str],
    ) -> aws.lambda_.Invocation:
        """The first password: generated, set on the database and published by the function."""
        return aws.lambda_.Invocation(
            f"{name}-app-db-bootstrap",
            function_name=function_name,
            # Where the secret must point: the version Pulumi wrote ignores changes, the function
            # publishes one that names this host (same user and password once bootstrapped).
            input=pulumi.Output.json_dumps(
                {"action": "bootstrap", "SecretId": secret_arn, "host": args.db_host, "port": args.db_port}
            ),
            # Runs again if the initial version is replaced, the instances or the host change; the
            # handler is idempotent. Naming every instance makes the invocation wait for all of them.
            triggers={
                "initial_version": initial_version_id,
                "instances": pulumi.Output.all(*args.db_instance_ids).apply(lambda ids: ",".join(map(str, ids))),
                "host": pulumi.Output.all(args.db_host, args.db_port).apply(lambda v: f"{v[0]}:{int(v[1])}"),
            },
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _rotation_schedule(
        self,
        resource_name: str,
        args: SecretsArgs,
        secret_id: pulumi.Input[str],
        function_arn: pulumi.Output[str],
        ready: Sequence[pulumi.Resource],
    ) -> None:
        aws.secretsmanager.SecretRotation(
            resource_name,
            secret_id=secret_id,
            rotation_lambda_arn=function_arn,
            rotation_rules=aws.secretsmanager.SecretRotationRotationRulesArgs(
                automatically_after_days=args.rotation_days
            ),
            # The first rotation starts at once: the app user must already exist (bootstrap) and
            # Secrets Manager must be allowed to call the function (permission).
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(ready)),
        )

    def _code(self, name: str, args: SecretsArgs) -> dict[str, Any]:
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

    def _artifacts_bucket(self, name: str, args: SecretsArgs) -> tuple[aws.s3.Bucket, list[pulumi.Resource]]:
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


def _validate(args: SecretsArgs) -> None:
    """Reject arguments that cannot work, before any child resource is declared."""
    if not 1 <= args.rotation_days <= 365:
        raise ValueError(f"rotation_days must be from 1 to 365, got {args.rotation_days}")
    if args.recovery_window_days != 0 and not 7 <= args.recovery_window_days <= 30:
        raise ValueError(f"recovery_window_days must be 0 or 7-30, got {args.recovery_window_days}")
    if not 0 <= args.reserved_concurrency <= MAX_RESERVED_CONCURRENCY:
        raise ValueError(
            f"reserved_concurrency must be from 0 to {MAX_RESERVED_CONCURRENCY}, got {args.reserved_concurrency}"
        )
    if not args.db_instance_ids:
        raise ValueError("db_instance_ids must name at least one instance (the bootstrap connects to it)")
    if args.global_cluster_id is not None and not args.global_member_clusters:
        raise ValueError(
            "global_cluster_id needs global_member_clusters: the function finds the writer of that global "
            "database among those clusters"
        )


def _replica_arn(replica_region: str, values: list[str]) -> str:
    """A replica keeps its primary's name: its ARN differs only in the region field."""
    arn, region = values
    parts = arn.split(":")
    if len(parts) < 7 or parts[3] != region:
        raise ValueError(f"not a secret ARN in {region}: {arn}")
    return ":".join([*parts[:3], replica_region, *parts[4:]])


def _signed_s3_object(objects: Sequence[aws.signer.outputs.SigningJobSignedObject]) -> dict[str, str]:
    (signed,) = objects
    (s3,) = signed.s3s or []
    if not s3.bucket or not s3.key:
        raise ValueError("the signing job reported no signed object")
    return {"bucket": s3.bucket, "key": s3.key}


def _rotation_policy_json(
    rotate_master: bool, replica_region: str, member_clusters: dict[str, str], values: list[str]
) -> str:
    (app_secret_arn, master_secret_arn, secrets_key_arn, log_group, region, replica_key_arn) = values[:6]
    partition, account_id, global_cluster_id = values[6:]
    document = policies.rotation_lambda_policy(
        app_secret_arn=app_secret_arn,
        master_secret_arn=master_secret_arn,
        rotate_master=rotate_master,
        replica=(replica_region, replica_key_arn) if replica_region else None,
        secrets_key_arn=secrets_key_arn,
        log_group=log_group,
        region=region,
    )
    if global_cluster_id:
        document["Statement"] += writer_lookup_statements(
            partition=partition,
            account_id=account_id,
            global_cluster_id=global_cluster_id,
            member_clusters=member_clusters,
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
