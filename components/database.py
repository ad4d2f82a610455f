"""Data tier: an Aurora MySQL 3 cluster in the database subnets, encrypted, audited and monitored."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import policies

ENGINE = "aurora-mysql"
PARAMETER_FAMILY = "aurora-mysql8.0"
LOG_EXPORTS = ("audit", "error", "slowquery")
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
    """CMK for the RDS-managed master user secret."""
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
    port: pulumi.Output[int]
    master_secret_arn: pulumi.Output[str]
    instance_ids: list[pulumi.Output[str]]
    instance_identifiers: list[pulumi.Output[str]]
    log_group_names: list[pulumi.Output[str]]

    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("fintech:data:Database", name, None, opts)
        if args.instance_count < 1:
            raise ValueError(f"instance_count must be at least 1, got {args.instance_count}")
        # Known before the cluster exists, so its log groups can be created (encrypted) first.
        identifier = f"{name}-cluster"

        subnet_group = self._subnet_group(name, args)
        cluster_parameters, instance_parameters = self._parameter_groups(name)
        log_groups = self._log_groups(name, args, identifier)
        monitoring_role, monitoring_attachment = self._monitoring_role(name)
        cluster = self._cluster(name, args, identifier, subnet_group.name, cluster_parameters.name, log_groups)
        instances = self._instances(
            name, args, cluster.id, instance_parameters.name, monitoring_role.arn, monitoring_attachment
        )

        self.cluster_identifier = identifier
        self.cluster_arn = cluster.arn
        self.subnet_group_name = subnet_group.name
        self.endpoint = cluster.endpoint
        self.reader_endpoint = cluster.reader_endpoint
        self.port = cluster.port
        self.master_secret_arn = cluster.master_user_secrets.apply(_master_secret_arn)
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
                "port": self.port,
                "master_secret_arn": self.master_secret_arn,
                "instance_ids": self.instance_ids,
                "instance_identifiers": self.instance_identifiers,
                "log_group_names": self.log_group_names,
            }
        )

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
        role = aws.iam.Role(
            f"{name}-monitoring-role",
            description="RDS enhanced monitoring",
            assume_role_policy=json.dumps(policies.service_assume_role_policy("monitoring.rds.amazonaws.com")),
            opts=child,
        )
        attachment = aws.iam.RolePolicyAttachment(
            f"{name}-monitoring-policy",
            role=role.name,
            policy_arn=pulumi.Output.concat(
                "arn:",
                aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self)).partition,
                ":iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole",
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
    ) -> aws.rds.Cluster:
        serverless = args.instance_class == "db.serverless"
        return aws.rds.Cluster(
            f"{name}-cluster",
            cluster_identifier=identifier,
            engine=ENGINE,
            engine_mode="provisioned",
            engine_version=args.engine_version,
            database_name=args.database_name,
            master_username=args.master_username,
            # RDS generates, stores (in Secrets Manager, with our key) and rotates the master
            # password: it never passes through Pulumi state, and a rotation causes no drift.
            manage_master_user_password=True,
            master_user_secret_kms_key_id=args.secrets_key_arn,
            port=args.port,
            db_subnet_group_name=subnet_group_name,
            vpc_security_group_ids=[args.security_group_id],
            db_cluster_parameter_group_name=parameter_group_name,
            storage_encrypted=True,
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
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, depends_on=list(log_groups)),
        )

    def _instances(
        self,
        name: str,
        args: DatabaseArgs,
        cluster_id: pulumi.Output[str],
        parameter_group_name: pulumi.Output[str],
        monitoring_role_arn: pulumi.Output[str],
        monitoring_attachment: aws.iam.RolePolicyAttachment,
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
                    ca_cert_identifier="rds-ca-rsa2048-g1",
                    monitoring_interval=args.monitoring_interval_seconds,
                    monitoring_role_arn=monitoring_role_arn,
                    performance_insights_enabled=insights,
                    performance_insights_kms_key_id=args.storage_key_arn if insights else None,
                    performance_insights_retention_period=args.insights_retention_days if insights else None,
                    preferred_maintenance_window=args.maintenance_window,
                    promotion_tier=min(i, 15),
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[monitoring_attachment, *instances[:1]]),
                )
            )
        return instances


def _master_secret_arn(secrets: Sequence[aws.rds.outputs.ClusterMasterUserSecret]) -> str:
    if not secrets or not secrets[0].secret_arn:
        raise ValueError("the cluster reports no RDS-managed master user secret")
    return secrets[0].secret_arn
