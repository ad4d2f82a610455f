"""Financial transaction processing platform: reads the stack's settings and wires the tiers."""

import pulumi
import pulumi_aws as aws

from components.between.backup import Backup, BackupArgs, Retention, VaultLock, Window
from components.between.edge import Edge, EdgeArgs
from components.between.origin_dns import OriginFailover, OriginFailoverArgs
from components.between.origin_dns import Site as OriginSite
from components.between.replication import ReplicatedBucket, Replication, ReplicationArgs, Site, bucket_name
from components.between.secrets import SecretReplica, Secrets, SecretsArgs
from components.settings import load_settings
from components.site.compute import Compute, ComputeArgs, Schedule
from components.site.database import Database, DatabaseArgs, GlobalPrimary, GlobalSecondary, MasterReplica
from components.site.load_balancer import HealthCheck, LoadBalancer, LoadBalancerArgs
from components.site.monitoring import Monitoring, MonitoringArgs, Thresholds, Watched, WatchedReplicationRule
from components.site.network import INTERFACE_ENDPOINT_SERVICES, Network, NetworkArgs, lookup_zones
from components.site.security import Security, SecurityArgs
from components.site.security_groups import SecurityGroups, SecurityGroupsArgs
from components.site.storage import Storage, StorageArgs

# Validates everything first: a bad config declares nothing.
settings = load_settings()
prefix = settings.name_prefix

# Every AWS resource is created through this provider, so every taggable one carries the
# standard tags; the stack config disables the untagged default provider.
provider = aws.Provider(
    f"{prefix}-aws",
    region=settings.region,
    default_tags=aws.ProviderDefaultTagsArgs(tags=settings.tags),
)
tier_opts = pulumi.ResourceOptions(providers=[provider])
# A region with too few zones fails here, before any tier is declared.
zones = lookup_zones(settings.az_count, pulumi.InvokeOptions(provider=provider))

alarm_settings = settings.alarms
thresholds = Thresholds(
    http_5xx_percent=alarm_settings.http_5xx_percent,
    latency_p99_ms=alarm_settings.latency_p99_ms,
    asg_cpu_percent=alarm_settings.asg_cpu_percent,
    db_cpu_percent=alarm_settings.db_cpu_percent,
    db_free_memory_mb=alarm_settings.db_free_memory_mb,
    db_connections=alarm_settings.db_connections,
    replica_lag_ms=alarm_settings.replica_lag_ms,
    waf_blocked_requests=alarm_settings.waf_blocked_requests,
)

# The standby site: the same tiers again, in standbyRegion, through a provider of their own (the
# stack's provider never changes region: that would replace everything it created).
standby_region = settings.standby_region
if standby_region:
    dr = f"{prefix}-dr"
    dr_provider = aws.Provider(
        f"{dr}-aws", region=standby_region, default_tags=aws.ProviderDefaultTagsArgs(tags=settings.tags)
    )
    dr_opts = pulumi.ResourceOptions(providers=[dr_provider])
    dr_zones = lookup_zones(settings.az_count, pulumi.InvokeOptions(provider=dr_provider))
    # Which site holds the writer and takes traffic; the other runs what standbyMode keeps warm.
    dr_active = settings.active_region == standby_region
    dr_db_instances = settings.db_instance_count if dr_active else (1 if settings.standby_mode == "warm" else 0)


def log_group_name(purpose: str) -> str:
    """One scheme for the stack's own log groups (RDS and WAF names are fixed by AWS)."""
    return f"/fintech/{settings.env_suffix}/{purpose}"


flow_log_group_name = log_group_name("vpc-flow-logs")
# The app may read exactly the secrets under this prefix (see components/site/security.py).
app_secret_prefix = f"{prefix}/app/"


# What both sites' tiers are built from: the settings, and the site's own network, keys and groups.
def network_args(cidr: str, availability_zones: tuple[str, ...], keys: Security) -> NetworkArgs:
    return NetworkArgs(
        vpc_cidr=cidr,
        availability_zones=availability_zones,
        nat_strategy=settings.nat_strategy,
        flow_log_group_name=flow_log_group_name,
        flow_log_retention_days=settings.flow_log_retention_days,
        flow_log_key_arn=keys.key_arns["logs"],
        flow_log_role_arn=keys.flow_log_role_arn,
        interface_endpoint_services=INTERFACE_ENDPOINT_SERVICES if settings.interface_endpoints else (),
        retain_logs=settings.protect_data,
    )


def security_groups_args(net: Network) -> SecurityGroupsArgs:
    return SecurityGroupsArgs(
        vpc_id=net.vpc_id,
        app_port=settings.app_port,
        # Only CloudFront reaches the load balancer, on the one port its origin uses.
        alb_source="cloudfront",
        alb_ports=(443,) if settings.domain_name else (80,),
        # With a standby, Route 53 checks the origin's health (its own group: see security_groups.py).
        health_checker_ports=(443,) if standby_region else (),
    )


def database_args(
    net: Network,
    groups: SecurityGroups,
    keys: Security,
    availability_zones: tuple[str, ...],
    instance_count: int,
    global_role: GlobalPrimary | GlobalSecondary | None,
    master_replica: MasterReplica | None = None,
) -> DatabaseArgs:
    return DatabaseArgs(
        subnet_ids=net.database_subnet_ids,
        security_group_id=groups.ids["database"],
        availability_zones=availability_zones,
        storage_key_arn=keys.key_arns["database"],
        secrets_key_arn=keys.key_arns["secrets"],
        logs_key_arn=keys.key_arns["logs"],
        log_retention_days=settings.log_retention_days,
        engine_version=settings.db_engine_version,
        instance_class=settings.db_instance_class,
        instance_count=instance_count,
        backup_retention_days=settings.db_backup_retention_days,
        backup_window=settings.db_backup_window,
        maintenance_window=settings.db_maintenance_window,
        monitoring_interval_seconds=settings.db_monitoring_interval_seconds,
        insights_retention_days=settings.db_insights_retention_days,
        protect=settings.protect_data,
        global_role=global_role,
        master_replica=master_replica,
    )


def storage_args(keys: Security) -> StorageArgs:
    return StorageArgs(
        storage_key_arn=keys.key_arns["storage"],
        audit_key_arn=keys.key_arns["audit"],
        log_retention_days=settings.log_bucket_retention_days,
        object_lock_mode=settings.object_lock_mode,
        object_lock_days=settings.object_lock_days,
        audit_lock_days=settings.audit_lock_days,
        protect=settings.protect_data,
    )


def load_balancer_args(
    net: Network, groups: SecurityGroups, logs: Storage, origin_verify_secret: pulumi.Output[str] | None = None
) -> LoadBalancerArgs:
    return LoadBalancerArgs(
        vpc_id=net.vpc_id,
        public_subnet_ids=net.public_subnet_ids,
        security_group_id=groups.ids["alb"],
        logs_bucket_name=logs.logs_bucket_name,
        logs_prefix=logs.alb_log_prefix,
        app_port=settings.app_port,
        health_check=HealthCheck(
            interval_seconds=settings.health_check_interval_seconds,
            healthy_threshold=settings.health_check_healthy_threshold,
            unhealthy_threshold=settings.health_check_unhealthy_threshold,
        ),
        deregistration_delay_seconds=settings.deregistration_delay_seconds,
        idle_timeout_seconds=settings.alb_idle_timeout_seconds,
        deletion_protection=settings.protect_data,
        domain_name=settings.domain_name,
        hosted_zone_id=settings.hosted_zone_id,
        require_origin_header=True,
        origin_verify_secret=origin_verify_secret,
        # With a standby the origin name fails over in DNS (OriginFailover below), checked on /health.
        health_checkers=bool(standby_region),
        origin_record=not standby_region,
        extra_security_group_ids=[groups.ids["alb-health-checks"]] if standby_region else [],
    )


def compute_args(
    net: Network,
    groups: SecurityGroups,
    keys: Security,
    balancer: LoadBalancer,
    app_secret_arn: pulumi.Output[str],
    size: tuple[int, int],
) -> ComputeArgs:
    """``size``: the group's floor and desired capacity at creation (scaling owns them afterwards)."""
    return ComputeArgs(
        subnet_ids=net.private_subnet_ids,
        security_group_id=groups.ids["app"],
        instance_profile_name=keys.app_instance_profile_name,
        target_group_arn=balancer.target_group_arn,
        ebs_key_arn=keys.key_arns["ebs"],
        logs_key_arn=keys.key_arns["logs"],
        log_group_name=log_group_name("app"),
        log_retention_days=settings.log_retention_days,
        app_secret_arn=app_secret_arn,
        app_port=settings.app_port,
        instance_type=settings.instance_type,
        min_size=size[0],
        max_size=settings.asg_max_size,
        desired_capacity=size[1],
        detailed_monitoring=settings.detailed_monitoring,
        schedule=Schedule(time_zone=settings.schedule_time_zone),
        instance_tags=settings.tags,
        retain_logs=settings.protect_data,
    )


security = Security(
    f"{prefix}-sec",
    SecurityArgs(
        alias_prefix=prefix,
        flow_log_group_name=flow_log_group_name,
        app_secret_name_prefix=app_secret_prefix,
        backup=settings.backup_enabled,
        backup_copy_region=settings.backup_copy_region,
        key_deletion_window_days=30 if settings.protect_data else 7,
        protect=settings.protect_data,
    ),
    tier_opts,
)

if standby_region:
    dr_security = Security(
        f"{dr}-sec",
        SecurityArgs(
            alias_prefix=prefix,
            flow_log_group_name=flow_log_group_name,
            app_secret_name_prefix=app_secret_prefix,
            edge=False,
            key_deletion_window_days=30 if settings.protect_data else 7,
            protect=settings.protect_data,
        ),
        dr_opts,
    )

network = Network(f"{prefix}-net", network_args(settings.vpc_cidr, zones, security), tier_opts)

if standby_region:
    dr_network = Network(f"{dr}-net", network_args(settings.standby_vpc_cidr, dr_zones, dr_security), dr_opts)

security_groups = SecurityGroups(f"{prefix}-sg", security_groups_args(network), tier_opts)

if standby_region:
    dr_security_groups = SecurityGroups(f"{dr}-sg", security_groups_args(dr_network), dr_opts)

database = Database(
    f"{prefix}-db",
    database_args(
        network,
        security_groups,
        security,
        zones,
        settings.db_instance_count,
        # With a standby: an Aurora Global Database founded from this cluster (its identifier
        # never changes: the primary region is a role, not a name).
        GlobalPrimary(identifier=f"{prefix}-global") if standby_region else None,
        MasterReplica(region=standby_region, key_arn=dr_security.key_arns["secrets"]) if standby_region else None,
    ),
    tier_opts,
)

if standby_region:
    dr_database = Database(
        f"{dr}-db",
        database_args(
            dr_network,
            dr_security_groups,
            dr_security,
            dr_zones,
            dr_db_instances,
            GlobalSecondary(global_cluster_id=database.global_cluster_id, source_region=settings.region),
        ),
        dr_opts,
    )

secrets = Secrets(
    f"{prefix}-secrets",
    SecretsArgs(
        secret_name_prefix=app_secret_prefix,
        secrets_key_arn=security.key_arns["secrets"],
        logs_key_arn=security.key_arns["logs"],
        lambda_key_arn=security.key_arns["lambda"],
        log_group_name=log_group_name("secret-rotation"),
        log_retention_days=settings.log_retention_days,
        # The global writer endpoint with a standby: it follows the writer to the other region.
        db_host=database.writer_endpoint,
        db_port=database.port,
        db_name="payments",
        master_secret_arn=database.master_secret_arn,
        db_instance_ids=database.instance_ids,
        subnet_ids=network.private_subnet_ids,
        security_group_id=security_groups.ids["rotation"],
        recovery_window_days=30 if settings.protect_data else 0,
        retain_logs=settings.protect_data,
        code_signing=settings.code_signing,
        rotate_master=bool(standby_region),
        replica=SecretReplica(region=standby_region, key_arn=dr_security.key_arns["secrets"])
        if standby_region
        else None,
    ),
    tier_opts,
)

storage = Storage(f"{prefix}-storage", storage_args(security), tier_opts)

if standby_region:
    dr_storage = Storage(f"{dr}-storage", storage_args(dr_security), dr_opts)

replication = None
if standby_region:
    # Both ways: whichever site is active writes its archives, and the other keeps a copy.
    replication = Replication(
        f"{prefix}-replication",
        ReplicationArgs(
            sites=(
                Site(
                    region=settings.region,
                    buckets={
                        "data": ReplicatedBucket(storage.data_bucket_arn, security.key_arns["storage"]),
                        "audit": ReplicatedBucket(storage.audit_bucket_arn, security.key_arns["audit"]),
                    },
                ),
                Site(
                    region=standby_region,
                    buckets={
                        "data": ReplicatedBucket(dr_storage.data_bucket_arn, dr_security.key_arns["storage"]),
                        "audit": ReplicatedBucket(dr_storage.audit_bucket_arn, dr_security.key_arns["audit"]),
                    },
                ),
            )
        ),
        tier_opts,
    )


def watched_replication(region: str, *, leaving: bool) -> list[WatchedReplicationRule]:
    """The replication rules a site's monitoring watches: failures where they leave, latency where they land."""
    return [
        WatchedReplicationRule(
            key=rule.purpose,
            source_bucket_name=bucket_name(rule.source_bucket_arn),
            destination_bucket_name=bucket_name(rule.destination_bucket_arn),
            rule_id=rule.rule_id,
        )
        for rule in (replication.rules if replication else [])
        if (rule.source_region if leaving else rule.destination_region) == region
    ]


def monitoring_args(
    region: str,
    keys: Security,
    net: Network,
    db: Database,
    archive: Storage,
    balancer: LoadBalancer,
    app: Compute,
    *,
    edge: Edge | None = None,
    rotation: Secrets | None = None,
    backup: Backup | None = None,
) -> MonitoringArgs:
    """A site's alarms, dashboard and log archive; the edge, the rotation function and the backup
    vault run in the stack region's site only."""
    return MonitoringArgs(
        alerts_key_arn=keys.key_arns["alerts"],
        edge_alerts_key_arn=keys.edge_key_arns["alerts"] if edge else None,
        alarm_emails=settings.alarm_emails,
        watched=Watched(
            alb_arn_suffix=balancer.arn_suffix,
            target_group_arn_suffix=balancer.target_group_arn_suffix,
            asg_name=app.asg_name,
            db_cluster_identifier=db.cluster_identifier,
            db_instance_identifiers=db.instance_identifiers,
            rotation_function_name=rotation.rotation_function_name if rotation else None,
            web_acl_name=edge.web_acl_name if edge else None,
            distribution_id=edge.distribution_id if edge else None,
            # The passive site's app cannot reach the writer in the other region (the VPCs are not
            # connected): it is watched only where it is the active one.
            app_dependency_metric=app.dependency_metric if region == settings.active_region else None,
            backup_vault_name=backup.vault_name if backup else None,
            # A member's lag exists only while it is the secondary.
            global_db=bool(standby_region),
            outgoing_replication=watched_replication(region, leaving=True),
            incoming_replication=watched_replication(region, leaving=False),
        ),
        thresholds=thresholds,
        archive_bucket_arn=archive.audit_bucket_arn,
        archive_key_arn=keys.key_arns["audit"],
        archived_log_groups=[
            net.flow_log_group_name,
            *db.log_group_names,
            *([rotation.rotation_log_group_name] if rotation else []),
            app.log_group_name,
        ],
    )


backup = None
if settings.backup_enabled:
    backup = Backup(
        f"{prefix}-backup",
        BackupArgs(
            vault_key_arn=security.key_arns["backup"],
            copy_region=settings.backup_copy_region,
            copy_vault_key_arn=security.backup_copy_key_arn,
            cluster_arn=database.cluster_arn,
            bucket_arns=[storage.data_bucket_arn, storage.audit_bucket_arn],
            db_subnet_group_name=database.subnet_group_name,
            db_security_group_id=security_groups.ids["database"],
            retention=Retention(
                daily_days=settings.backup_daily_retention_days,
                monthly_days=settings.backup_monthly_retention_days,
            ),
            window=Window.daily(settings.backup_window),
            restore_test_schedule=settings.backup_restore_test_schedule,
            lock=None
            if settings.backup_lock_mode == "none"
            else VaultLock(
                mode=settings.backup_lock_mode,
                max_days=settings.backup_lock_max_retention_days,
                changeable_days=settings.backup_lock_changeable_days,
            ),
            protect=settings.protect_data,
        ),
        tier_opts,
    )

load_balancer = LoadBalancer(f"{prefix}-lb", load_balancer_args(network, security_groups, storage), tier_opts)

edge = Edge(
    f"{prefix}-edge",
    EdgeArgs(
        origin_domain_name=load_balancer.origin_domain_name,
        origin_protocol=load_balancer.origin_protocol,
        origin_verify_header=load_balancer.origin_verify_header,
        origin_verify_value=load_balancer.origin_verify_secret,
        logs_bucket_arn=storage.logs_bucket_arn,
        waf_logs_key_arn=security.edge_key_arns["logs"],
        # WAF logs cannot join the us-east-1-less archive below: keep them as long as flow logs.
        log_retention_days=settings.flow_log_retention_days,
        price_class=settings.price_class,
        rate_limit=settings.waf_rate_limit,
        rate_window_seconds=settings.waf_rate_window_seconds,
        body_size_action=settings.waf_body_size_action,
        geo_restriction_type=settings.geo_restriction_type,
        geo_restriction_locations=settings.geo_restriction_locations,
        domain_name=settings.domain_name,
        hosted_zone_id=settings.hosted_zone_id,
        retain_logs=settings.protect_data,
    ),
    tier_opts,
)

compute = Compute(
    f"{prefix}-app",
    compute_args(
        network,
        security_groups,
        security,
        load_balancer,
        secrets.app_secret_arn,
        (settings.asg_min_size, settings.asg_desired_capacity),
    ),
    tier_opts,
)

if standby_region:
    dr_load_balancer = LoadBalancer(
        f"{dr}-lb",
        # CloudFront sends one header value, whichever region answers.
        load_balancer_args(dr_network, dr_security_groups, dr_storage, load_balancer.origin_verify_secret),
        dr_opts,
    )
    # The passive site keeps standbyMode's capacity; failover scales it to the active site's sizes.
    dr_app_size = 1 if settings.standby_mode == "warm" else 0
    dr_compute = Compute(
        f"{dr}-app",
        compute_args(
            dr_network,
            dr_security_groups,
            dr_security,
            dr_load_balancer,
            # The app secret's replica in this region (same name, read-only, kept current by rotation).
            secrets.replica_secret_arn,
            (settings.asg_min_size, settings.asg_desired_capacity) if dr_active else (dr_app_size, dr_app_size),
        ),
        dr_opts,
    )
    # One origin name for CloudFront; Route 53 answers with the active site's load balancer while
    # its /health passes, else the other's (CloudFront origin groups would not fail over POSTs).
    origin_failover = OriginFailover(
        f"{prefix}-origin",
        OriginFailoverArgs(
            zone_id=settings.hosted_zone_id or "",
            origin_name=f"origin.{settings.domain_name}",
            sites={
                settings.region: OriginSite(load_balancer.dns_name, load_balancer.zone_id),
                standby_region: OriginSite(dr_load_balancer.dns_name, dr_load_balancer.zone_id),
            },
            primary_region=settings.active_region,
        ),
        tier_opts,
    )
    # The standby site watches itself, alerting through its own topic: it must page when the
    # stack's region is the one that is down.
    dr_monitoring = Monitoring(
        f"{dr}-monitoring",
        monitoring_args(standby_region, dr_security, dr_network, dr_database, dr_storage, dr_load_balancer, dr_compute),
        dr_opts,
    )

monitoring = Monitoring(
    f"{prefix}-monitoring",
    monitoring_args(
        settings.region,
        security,
        network,
        database,
        storage,
        load_balancer,
        compute,
        edge=edge,
        rotation=secrets,
        backup=backup,
    ),
    tier_opts,
)

pulumi.export("vpc_id", network.vpc_id)
pulumi.export("availability_zones", network.availability_zones)
pulumi.export("public_subnet_ids", network.public_subnet_ids)
pulumi.export("private_subnet_ids", network.private_subnet_ids)
pulumi.export("database_subnet_ids", network.database_subnet_ids)
pulumi.export("nat_gateway_ids", network.nat_gateway_ids)
pulumi.export("kms_key_arns", security.key_arns)
pulumi.export("app_instance_profile_name", security.app_instance_profile_name)
pulumi.export("security_group_ids", security_groups.ids)
pulumi.export("db_cluster_endpoint", database.endpoint)
pulumi.export("db_reader_endpoint", database.reader_endpoint)
pulumi.export("db_port", database.port)
pulumi.export("db_master_secret_arn", database.master_secret_arn)
pulumi.export("app_db_secret_arn", secrets.app_secret_arn)
pulumi.export("data_bucket_name", storage.data_bucket_name)
pulumi.export("logs_bucket_name", storage.logs_bucket_name)
pulumi.export("audit_bucket_name", storage.audit_bucket_name)
pulumi.export("alb_arn", load_balancer.arn)
pulumi.export("alb_dns_name", load_balancer.dns_name)
pulumi.export("alb_zone_id", load_balancer.zone_id)
pulumi.export("alb_target_group_arn", load_balancer.target_group_arn)
pulumi.export("alb_listener_arns", load_balancer.listener_arns)
pulumi.export("alb_security_group_id", load_balancer.security_group_id)
pulumi.export("alb_tls", load_balancer.tls)
pulumi.export("asg_name", compute.asg_name)
pulumi.export("launch_template_id", compute.launch_template_id)
pulumi.export("cloudfront_distribution_id", edge.distribution_id)
pulumi.export("cloudfront_domain_name", edge.domain_name)
pulumi.export("web_acl_arn", edge.web_acl_arn)
pulumi.export("edge_tls", edge.tls)
pulumi.export("alert_topic_arn", monitoring.topic_arn)
pulumi.export("edge_alert_topic_arn", monitoring.edge_topic_arn)
pulumi.export("dashboard_name", monitoring.dashboard_name)
if backup:
    pulumi.export("backup_vault_arn", backup.vault_arn)
    pulumi.export("backup_copy_vault_arn", backup.copy_vault_arn)
    pulumi.export("backup_restore_testing_plan", backup.restore_testing_plan_name)
if standby_region:
    # What ./deploy switchover/failover reads (ops/regions.py).
    pulumi.export("primary_region", settings.active_region)
    pulumi.export("standby_region", standby_region)
    pulumi.export("standby_mode", settings.standby_mode)
    pulumi.export("global_cluster_id", database.global_cluster_id)
    pulumi.export("db_global_writer_endpoint", database.writer_endpoint)
    pulumi.export("db_cluster_arns", {settings.region: database.cluster_arn, standby_region: dr_database.cluster_arn})
    pulumi.export(
        "db_cluster_ids",
        {settings.region: database.cluster_identifier, standby_region: dr_database.cluster_identifier},
    )
    pulumi.export("asg_names", {settings.region: compute.asg_name, standby_region: dr_compute.asg_name})
    pulumi.export(
        "app_capacity",
        {"min": settings.asg_min_size, "max": settings.asg_max_size, "desired": settings.asg_desired_capacity},
    )
    pulumi.export("db_instance_class", settings.db_instance_class)
    pulumi.export("origin_name", origin_failover.origin_name)
    pulumi.export("origin_health_check_ids", origin_failover.health_check_ids)
    pulumi.export("dr_alb_dns_name", dr_load_balancer.dns_name)
    pulumi.export("dr_alert_topic_arn", dr_monitoring.topic_arn)
    pulumi.export("app_db_secret_replica_arn", secrets.replica_secret_arn)
