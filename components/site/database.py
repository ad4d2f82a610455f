"""Data tier: an Aurora MySQL 3 cluster in the database subnets, encrypted, audited and monitored."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components import policies
from components.failover_record import DbInstanceSettings

ENGINE = "aurora-mysql"
PARAMETER_FAMILY = "aurora-mysql8.0"
LOG_EXPORTS = ("audit", "error", "slowquery")
# The CA that signs the instances' server certificates (RDS rotates them before they expire).
CA_CERTIFICATE = "rds-ca-rsa2048-g1"
# Master passwords: 8-41 printable characters for Aurora MySQL (CreateDBCluster MasterUserPassword).
MASTER_PASSWORD_LENGTH = 32
MASTER_PASSWORD_SPECIALS = "!#$^&*()-_=+[]{}<>?,."
# A label no rotation moves: the version Pulumi wrote is never left without one (see _master_secret).
PERMANENT_STAGE = "PULUMI_BOOTSTRAP"
# Cluster-level parameters: (name, value, apply method). Static ones wait for a reboot.
CLUSTER_PARAMETERS: tuple[tuple[str, str, str], ...] = (
    ("require_secure_transport", "ON", "immediate"),
    ("tls_version", "TLSv1.2,TLSv1.3", "pending-reboot"),
    # Advanced Auditing: logins and every privilege or schema change, shipped to CloudWatch.
    ("server_audit_logging", "1", "immediate"),
    ("server_audit_events", "CONNECT,QUERY_DCL,QUERY_DDL", "immediate"),
    ("server_audit_excl_users", "rdsadmin", "immediate"),
    ("slow_query_log", "1", "immediate"),
    ("long_query_time", "1", "immediate"),
    ("log_output", "FILE", "immediate"),
)

# Classes without Performance Insights / Database Insights for Aurora MySQL (AWS "Amazon Aurora
# DB engine, Region, and instance class support for Database Insights"): RDS rejects the flag.
_NO_INSIGHTS = re.compile(r"^db\.(t2|t3)\.|^db\.t4g\.(micro|small)$")


def supports_performance_insights(instance_class: str) -> bool:
    return not _NO_INSIGHTS.match(instance_class)


# Role changes (switchover, failover) are made by Aurora, not by Pulumi: after one, AWS reports
# the old primary with a replication source and a detached cluster without a global cluster.
# Applying either difference would promote or detach a cluster (terraform-provider-aws
# cluster.go: PromoteReadReplicaDBCluster, RemoveFromGlobalCluster), so they are never applied.
# Engine upgrades go through the global cluster, which upgrades its members in the right order.
GLOBAL_MEMBER_IGNORED = ("globalClusterIdentifier", "replicationSourceIdentifier", "engineVersion")


@dataclass(frozen=True)
class GlobalPrimary:
    """This cluster founds an Aurora Global Database named ``identifier``."""

    identifier: str


@dataclass(frozen=True)
class GlobalSecondary:
    """This cluster joins the global database ``global_cluster_id`` as a read-only secondary.

    ``source_region`` is the region the global database was founded in: fixed for the cluster's
    life (AWS needs it to copy the encrypted volume), whichever region is primary later."""

    global_cluster_id: pulumi.Input[str]
    source_region: str


@dataclass(frozen=True)
class MasterReplica:
    """A read-only copy of the self-managed master secret in another region, with that region's key."""

    region: str
    key_arn: pulumi.Input[str]


@dataclass(frozen=True)
class DatabaseArgs:
    subnet_ids: Sequence[pulumi.Input[str]]
    """Database subnets (no route out of the VPC), one per AZ."""
    security_group_id: pulumi.Input[str]
    availability_zones: tuple[str, ...]
    """Instances are spread over these in order: writer in the first."""
    storage_key_arn: pulumi.Input[str]
    """CMK for storage, snapshots and Performance Insights."""
    secrets_key_arn: pulumi.Input[str]
    """CMK for the master user secret (RDS-managed, or this tier's own in a global database)."""
    logs_key_arn: pulumi.Input[str]
    log_retention_days: int
    engine_version: str
    instance_class: str
    instance_count: int
    backup_retention_days: int
    backup_window: str
    maintenance_window: str
    monitoring_interval_seconds: int
    insights_retention_days: int
    protect: bool
    """Deletion protection, a final snapshot and Pulumi ``protect``; False makes the cluster disposable."""
    retention_owned_by_aws_backup: bool = False
    """AWS Backup runs the cluster's continuous backup (between/backup.py): it sets the cluster's
    retention to its recovery point's, and RDS refuses a different value until the next backup ran, so
    the program sets the retention at creation and leaves it alone after."""
    global_role: GlobalPrimary | GlobalSecondary | None = None
    """None: a regional cluster with an RDS-managed master secret. GlobalPrimary: the cluster
    founds a global database and its master secret is this tier's own (RDS-managed secrets are
    not supported in global databases). GlobalSecondary: a secondary with no master credential."""
    master_replica: MasterReplica | None = None
    """With GlobalPrimary: replicate the master secret to this region (operators' break-glass login there)."""
    database_name: str = "payments"
    master_username: str = "fintech_admin"
    port: int = 3306
    serverless_min_acu: float = 0.5
    serverless_max_acu: float = 8.0


class Database(pulumi.ComponentResource):
    """Aurora MySQL cluster, its instances, parameter groups, log groups and monitoring role."""

    cluster_identifier: str
    cluster_arn: pulumi.Output[str]
    subnet_group_name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    reader_endpoint: pulumi.Output[str]
    writer_endpoint: pulumi.Output[str]
    """Where writes go: the global database's writer endpoint (it follows a switchover or failover
    to the other region), else the cluster endpoint."""
    port: pulumi.Output[int]
    master_secret_arn_or_none: pulumi.Output[str] | None
    """The master credential's secret (RDS-managed, or this tier's own in a global database); None on a secondary."""
    master_secret_managed_by_rds: bool
    global_cluster_id_or_none: pulumi.Output[str] | None
    """With GlobalPrimary: the global cluster's identifier, once the cluster has its writer (secondaries can join)."""
    global_cluster_identifier_or_none: str | None
    """With GlobalPrimary: the global cluster's identifier, known before it exists (for ARNs); else None."""
    instance_ids: list[pulumi.Output[str]]
    instance_identifiers: list[pulumi.Output[str]]
    log_group_names: list[pulumi.Output[str]]
    instance_settings: pulumi.Output[DbInstanceSettings]
    """What another instance of the cluster is created with: its parameter group, CA and monitoring."""

    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("fintech:data:Database", name, None, opts)
        _validate(args)
        # Known before the cluster exists, so its log groups can be created (encrypted) first.
        identifier = f"{name}-cluster"
        founder = args.global_role if isinstance(args.global_role, GlobalPrimary) else None

        subnet_group = self._subnet_group(name, args)
        cluster_parameters, instance_parameters = self._parameter_groups(name)
        log_groups = self._log_groups(name, args, identifier)
        # Enhanced monitoring writes to the account-level RDSOSMetrics log group, which RDS creates and
        # no stack owns: off (0), there is neither that group nor the role.
        monitoring = self._monitoring_role(name) if args.monitoring_interval_seconds else None
        password = self._master_password(name) if founder else None
        cluster = self._cluster(
            name, args, identifier, subnet_group.name, cluster_parameters.name, log_groups, password
        )
        instances = self._instances(name, args, cluster.id, instance_parameters.name, monitoring)
        global_cluster = self._global_cluster(name, args, founder, cluster.arn, instances) if founder else None

        self.cluster_identifier = identifier
        self.cluster_arn = cluster.arn
        self.subnet_group_name = subnet_group.name
        self.endpoint = cluster.endpoint
        self.reader_endpoint = cluster.reader_endpoint
        self.writer_endpoint = global_cluster.endpoint if global_cluster else cluster.endpoint
        self.port = cluster.port
        self.master_secret_managed_by_rds = args.global_role is None
        if password is not None:
            self.master_secret_arn_or_none = self._master_secret(
                name, args, password, self.writer_endpoint, cluster.port
            )
        elif args.global_role is None:
            self.master_secret_arn_or_none = cluster.master_user_secrets.apply(_master_secret_arn)
        else:
            self.master_secret_arn_or_none = None
        # Resolves once the writer exists: a secondary added to a global cluster without one fails.
        self.global_cluster_id_or_none = (
            pulumi.Output.all(global_cluster.id, *[i.id for i in instances[:1]]).apply(lambda v: str(v[0]))
            if global_cluster
            else None
        )
        self.global_cluster_identifier_or_none = founder.identifier if founder else None
        # What another instance of this cluster is created with (a pilot-light failover's temporary one).
        self.instance_settings = pulumi.Output.all(
            instance_parameters.name, monitoring[0].arn if monitoring else ""
        ).apply(
            lambda values: DbInstanceSettings(
                db_instance_parameter_group=str(values[0]),
                ca_certificate_identifier=CA_CERTIFICATE,
                monitoring_interval=args.monitoring_interval_seconds,
                monitoring_role_arn=str(values[1]),
            )
        )
        self.instance_ids = [i.id for i in instances]
        self.instance_identifiers = [i.identifier for i in instances]
        self.log_group_names = [g.name for g in log_groups]
        self.register_outputs(
            {
                "cluster_identifier": self.cluster_identifier,
                "cluster_arn": self.cluster_arn,
                "subnet_group_name": self.subnet_group_name,
                "endpoint": self.endpoint,
                "reader_endpoint": self.reader_endpoint,
                "writer_endpoint": self.writer_endpoint,
                "port": self.port,
                "master_secret_arn": self.master_secret_arn_or_none,
                "global_cluster_id": self.global_cluster_id_or_none,
                "instance_ids": self.instance_ids,
                "instance_identifiers": self.instance_identifiers,
                "log_group_names": self.log_group_names,
            }
        )

    @property
    def master_secret_arn(self) -> pulumi.Output[str]:
        if self.master_secret_arn_or_none is None:
            raise ValueError("a secondary cluster has no master secret: its primary's applies")
        return self.master_secret_arn_or_none

    @property
    def global_cluster_id(self) -> pulumi.Output[str]:
        if self.global_cluster_id_or_none is None:
            raise ValueError("this cluster founds no global database")
        return self.global_cluster_id_or_none

    def _subnet_group(self, name: str, args: DatabaseArgs) -> aws.rds.SubnetGroup:
        return aws.rds.SubnetGroup(
            f"{name}-subnets",
            subnet_ids=list(args.subnet_ids),
            description=f"{name} database subnets",
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _parameter_groups(self, name: str) -> tuple[aws.rds.ClusterParameterGroup, aws.rds.ParameterGroup]:
        """The cluster's parameter group (CLUSTER_PARAMETERS) and its instances' (defaults)."""
        child = pulumi.ResourceOptions(parent=self)
        cluster_parameters = aws.rds.ClusterParameterGroup(
            f"{name}-cluster-params",
            family=PARAMETER_FAMILY,
            description=f"{name}: TLS only, audit and slow query logs",
            parameters=[
                aws.rds.ClusterParameterGroupParameterArgs(name=n, value=v, apply_method=m)
                for n, v, m in CLUSTER_PARAMETERS
            ],
            opts=child,
        )
        # Attached from day one so instance-level tuning later never needs a group swap and reboot.
        instance_parameters = aws.rds.ParameterGroup(
            f"{name}-instance-params", family=PARAMETER_FAMILY, description=f"{name} instances", opts=child
        )
        return cluster_parameters, instance_parameters

    def _log_groups(self, name: str, args: DatabaseArgs, identifier: str) -> list[aws.cloudwatch.LogGroup]:
        """One encrypted group per exported log, at the name RDS writes to."""
        return [
            aws.cloudwatch.LogGroup(
                f"{name}-{kind}-logs",
                name=f"/aws/rds/cluster/{identifier}/{kind}",
                retention_in_days=args.log_retention_days,
                kms_key_id=args.logs_key_arn,
                # The audit trail outlives the cluster: a deleted stack leaves its logs behind.
                opts=pulumi.ResourceOptions(parent=self, retain_on_delete=args.protect),
            )
            for kind in LOG_EXPORTS
        ]

    def _monitoring_role(self, name: str) -> tuple[aws.iam.Role, aws.iam.RolePolicyAttachment]:
        """The enhanced monitoring role, and its policy attachment, which instances must wait for."""
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        partition = aws.get_partition_output(opts=invoke).partition
        # RDS monitoring may assume it only for this account's DB instances in this region
        # (confused-deputy guard, as the RDS guide recommends for this role).
        trust = pulumi.Output.all(
            partition, aws.get_region_output(opts=invoke).region, aws.get_caller_identity_output(opts=invoke).account_id
        ).apply(
            lambda v: json.dumps(
                policies.rds_monitoring_assume_role_policy(partition=v[0], region=v[1], account_id=v[2])
            )
        )
        role = aws.iam.Role(
            f"{name}-monitoring-role",
            description="RDS enhanced monitoring",
            assume_role_policy=trust,
            opts=child,
        )
        attachment = aws.iam.RolePolicyAttachment(
            f"{name}-monitoring-policy",
            role=role.name,
            policy_arn=pulumi.Output.concat(
                "arn:", partition, ":iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
            ),
            opts=child,
        )
        return role, attachment

    def _cluster(
        self,
        name: str,
        args: DatabaseArgs,
        identifier: str,
        subnet_group_name: pulumi.Output[str],
        parameter_group_name: pulumi.Output[str],
        log_groups: Sequence[aws.cloudwatch.LogGroup],
        master_password: pulumi.Output[str] | None,
    ) -> aws.rds.Cluster:
        serverless = args.instance_class == "db.serverless"
        return aws.rds.Cluster(
            f"{name}-cluster",
            cluster_identifier=identifier,
            engine=ENGINE,
            engine_mode="provisioned",
            engine_version=args.engine_version,
            **_credentials(args, master_password),
            port=args.port,
            db_subnet_group_name=subnet_group_name,
            vpc_security_group_ids=[args.security_group_id],
            db_cluster_parameter_group_name=parameter_group_name,
            storage_encrypted=True,
            # A key of the cluster's own region: a secondary's volume is re-encrypted with it.
            kms_key_id=args.storage_key_arn,
            iam_database_authentication_enabled=True,
            enabled_cloudwatch_logs_exports=list(LOG_EXPORTS),
            backup_retention_period=args.backup_retention_days,
            preferred_backup_window=args.backup_window,
            preferred_maintenance_window=args.maintenance_window,
            copy_tags_to_snapshot=True,
            deletion_protection=args.protect,
            skip_final_snapshot=not args.protect,
            final_snapshot_identifier=f"{identifier}-final" if args.protect else None,
            serverlessv2_scaling_configuration=aws.rds.ClusterServerlessv2ScalingConfigurationArgs(
                min_capacity=args.serverless_min_acu, max_capacity=args.serverless_max_acu
            )
            if serverless
            else None,
            # Exports must land in the encrypted groups from _log_groups, not in ones RDS would create.
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=args.protect,
                depends_on=list(log_groups),
                ignore_changes=[
                    *(GLOBAL_MEMBER_IGNORED if args.global_role else ()),
                    *(("backupRetentionPeriod",) if args.retention_owned_by_aws_backup else ()),
                ]
                or None,
            ),
        )

    def _master_password(self, name: str) -> pulumi.Output[str]:
        """The first master password, for a cluster whose master secret RDS cannot manage.

        It passes through Pulumi's state (encrypted, as a secret): the secrets tier rotates the
        master secret as soon as it exists, which makes this value useless within minutes."""
        return random.RandomPassword(
            f"{name}-master-password",
            length=MASTER_PASSWORD_LENGTH,
            # RDS refuses "/", '"', "@" and spaces in master passwords (CreateDBCluster
            # MasterUserPassword); the rest of these also break connection strings.
            override_special=MASTER_PASSWORD_SPECIALS,
            opts=pulumi.ResourceOptions(parent=self),
        ).result

    def _master_secret(
        self,
        name: str,
        args: DatabaseArgs,
        password: pulumi.Output[str],
        host: pulumi.Output[str],
        port: pulumi.Output[int],
    ) -> pulumi.Output[str]:
        """The self-managed master secret (the rotation function's single-user format), and its replica."""
        secret = aws.secretsmanager.Secret(
            f"{name}-master",
            name_prefix=f"{name}-master-",
            description="Aurora master credential (global database: not RDS-managed; rotated by the secrets tier)",
            kms_key_id=args.secrets_key_arn,
            recovery_window_in_days=30 if args.protect else 0,
            replicas=[aws.secretsmanager.SecretReplicaArgs(region=r.region, kms_key_id=r.key_arn)]
            if (r := args.master_replica)
            else None,
            # A replica promoted by a region-loss failover is replicated over once its value is home
            # again (`./deploy failover --rejoin-secrets`); without this, re-adding it fails on the name.
            force_overwrite_replica_secret=True if args.master_replica else None,
            opts=pulumi.ResourceOptions(parent=self),
        )
        version = aws.secretsmanager.SecretVersion(
            f"{name}-master-initial",
            secret_id=secret.id,
            secret_string_wo=pulumi.Output.json_dumps(
                {
                    "engine": "mysql",
                    "host": host,
                    "port": port,
                    "username": args.master_username,
                    "password": password,
                }
            ),
            secret_string_wo_version=1,
            # A permanent label: after two rotations AWS would otherwise delete this version and the
            # next `pulumi up` would recreate it as AWSCURRENT, with the long-rotated password.
            version_stages=["AWSCURRENT", PERMANENT_STAGE],
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["secretStringWo", "versionStages"]),
        )
        return pulumi.Output.all(secret.arn, version.id).apply(lambda v: str(v[0]))

    def _global_cluster(
        self,
        name: str,
        args: DatabaseArgs,
        founder: GlobalPrimary,
        cluster_arn: pulumi.Output[str],
        instances: Sequence[aws.rds.ClusterInstance],
    ) -> aws.rds.GlobalCluster:
        """The global database, founded from this (existing) cluster.

        Setting ``global_cluster_identifier`` on an existing cluster fails ("existing RDS Clusters
        cannot be added to an existing RDS Global Cluster", terraform-provider-aws cluster.go);
        creating the global cluster from the cluster's ARN is the supported way. ``force_destroy``
        is required with a source cluster: on destroy it detaches the members first."""
        return aws.rds.GlobalCluster(
            f"{name}-global",
            global_cluster_identifier=founder.identifier,
            source_db_cluster_identifier=cluster_arn,
            force_destroy=True,
            engine_version=args.engine_version,
            deletion_protection=args.protect,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, depends_on=list(instances[:1])),
        )

    def _instances(
        self,
        name: str,
        args: DatabaseArgs,
        cluster_id: pulumi.Output[str],
        parameter_group_name: pulumi.Output[str],
        monitoring: tuple[aws.iam.Role, aws.iam.RolePolicyAttachment] | None,
    ) -> list[aws.rds.ClusterInstance]:
        insights = supports_performance_insights(args.instance_class)
        # The first instance created in a cluster becomes its writer: create it alone, then the
        # readers, so the writer is the intended one (in the first zone), not a random one.
        instances: list[aws.rds.ClusterInstance] = []
        for i in range(args.instance_count):
            instances.append(
                aws.rds.ClusterInstance(
                    f"{name}-instance-{i}",
                    cluster_identifier=cluster_id,
                    engine=aws.rds.EngineType.AURORA_MYSQL,
                    engine_version=args.engine_version,
                    instance_class=args.instance_class,
                    availability_zone=args.availability_zones[i % len(args.availability_zones)],
                    db_parameter_group_name=parameter_group_name,
                    publicly_accessible=False,
                    # LTS releases: AWS advises against automatic minor upgrades, which may leave LTS.
                    auto_minor_version_upgrade=False,
                    ca_cert_identifier=CA_CERTIFICATE,
                    monitoring_interval=args.monitoring_interval_seconds,
                    monitoring_role_arn=monitoring[0].arn if monitoring else None,
                    performance_insights_enabled=insights,
                    performance_insights_kms_key_id=args.storage_key_arn if insights else None,
                    performance_insights_retention_period=args.insights_retention_days if insights else None,
                    preferred_maintenance_window=args.maintenance_window,
                    promotion_tier=min(i, 15),
                    opts=pulumi.ResourceOptions(
                        parent=self,
                        depends_on=[*([monitoring[1]] if monitoring else []), *instances[:1]],
                        # In a global database the global cluster upgrades the members' engines.
                        ignore_changes=["engineVersion"] if args.global_role else None,
                    ),
                )
            )
        return instances


def _validate(args: DatabaseArgs) -> None:
    """Reject arguments that cannot work, before any child resource is declared."""
    secondary = isinstance(args.global_role, GlobalSecondary)
    if args.instance_count < (0 if secondary else 1):
        raise ValueError(
            f"instance_count must be at least {0 if secondary else 1} for a "
            f"{'secondary' if secondary else 'primary'} cluster, got {args.instance_count}"
        )
    if args.master_replica and not isinstance(args.global_role, GlobalPrimary):
        raise ValueError("master_replica needs GlobalPrimary: only a global database's own master secret is replicated")


def _credentials(args: DatabaseArgs, master_password: pulumi.Output[str] | None) -> dict[str, Any]:
    """The cluster's database and master credential arguments, by its place in a global database."""
    if isinstance(args.global_role, GlobalSecondary):
        # A secondary gets its database and users from the primary: AWS refuses a user name or
        # password on it; it needs the global cluster and, encrypted, the founding region.
        return {
            "global_cluster_identifier": args.global_role.global_cluster_id,
            "source_region": args.global_role.source_region,
        }
    if master_password is not None:
        # Write-only: the provider never reads the password back, so rotations cause no drift.
        return {
            "database_name": args.database_name,
            "master_username": args.master_username,
            "master_password_wo": master_password,
            "master_password_wo_version": 1,
        }
    # RDS generates, stores (in Secrets Manager, with our key) and rotates the master password:
    # it never passes through Pulumi state, and a rotation causes no drift.
    return {
        "database_name": args.database_name,
        "master_username": args.master_username,
        "manage_master_user_password": True,
        "master_user_secret_kms_key_id": args.secrets_key_arn,
    }


def _master_secret_arn(secrets: Sequence[aws.rds.outputs.ClusterMasterUserSecret]) -> str:
    if not secrets or not secrets[0].secret_arn:
        raise ValueError("the cluster reports no RDS-managed master user secret")
    return secrets[0].secret_arn
