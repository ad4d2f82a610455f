"""Financial transaction processing platform: one site per region, then what stands between them.

The settings; the home site (the stack's region) and, with ``standbyRegion``, the standby site with
what joins the two (the global database, archive replication, the origin's DNS failover); the pieces
every stack has between its sites (the app credential and its rotation, the edge, backups); the exports.
"""

import pulumi
import pulumi_aws as aws

from components.between.audit_trail import AuditTrail, AuditTrailArgs, TrailArchives
from components.between.backup import AirGap, Backup, BackupArgs, Retention, VaultLock, Window
from components.between.edge import Edge, EdgeArgs
from components.between.failover_records import FailoverRecords, FailoverRecordsArgs
from components.between.origin_dns import OriginFailover, OriginFailoverArgs, OriginTarget
from components.between.peering import PeeredSite, Peering, PeeringArgs
from components.between.replication import ReplicatedBucket, Replication, ReplicationArgs, SiteArchives
from components.between.secrets import SecretReplica, Secrets, SecretsArgs
from components.naming import app_secret_prefix
from components.settings import load_settings
from components.site.across_sites import backed_up, failover_record, origin_secret_accepted_by, rotated_copies
from components.site.site import EdgeWatch, Links, Site, SiteArgs, connecting

# Validates everything first: a bad config declares nothing.
settings = load_settings()
prefix = settings.name_prefix


def through_provider(name: str, region: str) -> pulumi.ResourceOptions:
    """Every AWS resource goes through an explicit provider per region (the stack config disables the untagged
    default one), so all carry the standard tags. Its region never changes: that would replace all it made."""
    provider = aws.Provider(f"{name}-aws", region=region, default_tags=aws.ProviderDefaultTagsArgs(tags=settings.tags))
    return pulumi.ResourceOptions(providers=[provider])


def peered(site: Site) -> PeeredSite:
    net = site.network
    return PeeredSite(site.region, net.vpc_id, net.cidr, net.rotation_route_table_ids, net.database_route_table_id)


def archives(of: Site) -> SiteArchives:
    return SiteArchives(
        region=of.region,
        buckets={p: ReplicatedBucket(arn, of.archive_key_arns[p]) for p, arn in of.archive_arns.items()},
        reports_bucket_arn=of.archives.logs_bucket_arn,
    )


# ----------------------------------------------------------------------------- the sites

in_home_region = through_provider(prefix, settings.region)
home = Site(prefix, SiteArgs.at_home(settings), in_home_region)
sites = [home]
secret_replica: SecretReplica | None = None

# What stands between the sites is built in this block: a site waits for some of it (deferred
# outputs), and if the block fails, what waits fails with it instead of hanging `pulumi up`.
with connecting(sites):
    # The standby site and what joins it to the home site: the one place that asks whether there is one.
    if settings.standby_region:
        standby_name = f"{prefix}-standby"
        standby = Site(
            standby_name,
            SiteArgs.joining(settings, home),
            through_provider(standby_name, settings.standby_region),
        )
        sites.append(standby)
        # Both ways: whichever site is active writes its archives, and the other keeps a copy.
        replication = Replication(
            f"{prefix}-replication", ReplicationArgs(sites=(archives(home), archives(standby))), in_home_region
        )
        for each in sites:
            each.connect(
                Links(
                    outgoing_replication=replication.watched(each.region, leaving=True),
                    incoming_replication=replication.watched(each.region, leaving=False),
                )
            )
        # Each site's rotation function reaches the other's database, whichever holds the writer.
        Peering(f"{prefix}-peering", PeeringArgs(requester=peered(home), accepter=peered(standby)), in_home_region)
        # The home site's master secret has a replica at the standby, with the standby's key.
        home.connect(Links(peer_secrets_key_arn=standby.keys.key_arns["secrets"]))
        secret_replica = SecretReplica(region=standby.region, key_arn=standby.keys.key_arns["secrets"])
        # One origin name for CloudFront; Route 53 answers with the active site's load balancer while
        # it is ready (reaches the writer), else the other's (CloudFront origin groups would not fail over POSTs).
        origin_failover = OriginFailover(
            f"{prefix}-origin",
            OriginFailoverArgs(
                zone_id=settings.hosted_zone_id or "",
                origin_name=f"origin.{settings.domain_name}",
                sites={s.region: OriginTarget(s.load_balancer.dns_name, s.load_balancer.zone_id) for s in sites},
                primary_region=settings.active_region,
                alert_topic_arn=home.monitoring.edge_topic_arn,
            ),
            in_home_region,
        )
        # What ./deploy switchover/failover read, kept in each site's region (components/failover_record.py).
        record = failover_record(settings, sites, origin_failover.origin_name, origin_failover.health_check_ids)
        FailoverRecords(f"{prefix}-failover-record", FailoverRecordsArgs.of(settings, record), in_home_region)
        pulumi.export("primary_region", settings.active_region)
        pulumi.export("standby_region", standby.region)
        pulumi.export("global_cluster_id", home.database.global_cluster_id)
        pulumi.export("db_global_writer_endpoint", home.database.writer_endpoint)
        pulumi.export("db_cluster_arns", {s.region: s.database.cluster_arn for s in sites})
        pulumi.export("origin_name", origin_failover.origin_name)
        pulumi.export("standby_alb_dns_name", standby.load_balancer.dns_name)
        pulumi.export("standby_alert_topic_arn", standby.monitoring.topic_arn)
        pulumi.export("app_db_secret_replica_arn", standby.app_secret_arn)

    # Every stack's pieces between its sites (in the home region).
    secrets = Secrets(
        f"{prefix}-secrets",
        SecretsArgs(
            secret_name_prefix=app_secret_prefix(settings),
            secrets_key_arn=home.keys.key_arns["secrets"],
            # The global writer endpoint with a standby: it follows the writer to the other region.
            db_host=home.database.writer_endpoint,
            db_port=home.database.port,
            db_name="payments",
            master_secret_arn=home.database.master_secret_arn,
            db_instance_ids=home.database.instance_ids,
            # The home site's function bootstraps and rotates; the standby's waits (site/rotation.py).
            rotation_function_name=home.rotation.function_name,
            rotation_function_arn=home.rotation.function_arn,
            recovery_window_days=30 if settings.protect_data else 0,
            # In a global database the master secret is the stack's own: rotated by the same function.
            rotate_master=secret_replica is not None,
            replica=secret_replica,
        ),
        in_home_region,
    )
    # What each site's function may rotate: its region's copies (replicas until a failover promotes them).
    for each in sites:
        each.connect(Links(rotated=rotated_copies(each, sites, secrets.copy_in)))

    edge = Edge(
        f"{prefix}-edge",
        EdgeArgs(
            origin_domain_name=home.load_balancer.origin_domain_name,
            origin_protocol=home.load_balancer.origin_protocol,
            origin_verify_header=home.load_balancer.origin_verify_header,
            origin_verify_value=origin_secret_accepted_by(sites),
            logs_bucket_arn=home.archives.logs_bucket_arn,
            waf_logs_key_arn=home.keys.edge_key_arns["logs"],
            # WAF logs cannot join the us-east-1-less archive: keep them as long as flow logs.
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
        in_home_region,
    )

    backup = None
    if settings.backup_enabled:
        # Each site's stores into a locked vault in its region, copied to the other's (between/backup.py).
        vault_keys, backed_up_sites = backed_up(settings, sites)
        backup = Backup(
            f"{prefix}-backup",
            BackupArgs(
                vault_key_arns=vault_keys,
                sites=backed_up_sites,
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
                air_gap=AirGap(settings.backup_lock_max_retention_days) if settings.protect_data else None,
                protect=settings.protect_data,
            ),
            in_home_region,
        )
        pulumi.export("backup_vault_arn", backup.vault_arn)
        pulumi.export("backup_copy_vault_arn", backup.copy_vault_arn)
        pulumi.export("backup_restore_testing_plan", backup.restore_testing_plan_name)

    # Who called the AWS APIs, and who read or wrote the archives' objects (between/audit_trail.py).
    watched_archives = [TrailArchives(**s.archive_arns) for s in sites]
    trail_args = AuditTrailArgs.of(settings, home.archives.audit_bucket_name, home.keys.key_arns, watched_archives)
    trail = AuditTrail(f"{prefix}-audit-trail", trail_args, in_home_region)

    # What the sites use of the pieces built after them (see components/site/site.py).
    home.connect(
        Links(
            app_secret_arn=secrets.app_secret_arn,
            edge=EdgeWatch(edge.web_acl_metric_name, edge.distribution_id),
            backup_vault_name=backup.vault_name if backup else None,
            audit_trail_log_group_name=trail.log_group_name,
        )
    )
    for other in sites[1:]:
        # The app secret's replica in that region (same name, read-only, kept current by rotation).
        other.connect(
            Links(app_secret_arn=secrets.replica_secret_arn, backup_vault_name=backup.vault_name if backup else None)
        )

# ----------------------------------------------------------------------------- exports

pulumi.export("vpc_id", home.network.vpc_id)
pulumi.export("availability_zones", home.network.availability_zones)
pulumi.export("public_subnet_ids", home.network.public_subnet_ids)
pulumi.export("private_subnet_ids", home.network.private_subnet_ids)
pulumi.export("database_subnet_ids", home.network.database_subnet_ids)
pulumi.export("nat_gateway_ids", home.network.nat_gateway_ids)
pulumi.export("kms_key_arns", home.keys.key_arns)
pulumi.export("app_instance_profile_name", home.keys.app_instance_profile_name)
pulumi.export("security_group_ids", home.groups.ids)
pulumi.export("db_cluster_endpoint", home.database.endpoint)
pulumi.export("db_reader_endpoint", home.database.reader_endpoint)
pulumi.export("db_port", home.database.port)
pulumi.export("db_master_secret_arn", home.database.master_secret_arn)
pulumi.export("app_db_secret_arn", secrets.app_secret_arn)
pulumi.export("data_bucket_name", home.archives.data_bucket_name)
pulumi.export("logs_bucket_name", home.archives.logs_bucket_name)
pulumi.export("audit_bucket_name", home.archives.audit_bucket_name)
pulumi.export("alb_arn", home.load_balancer.arn)
pulumi.export("alb_dns_name", home.load_balancer.dns_name)
pulumi.export("alb_zone_id", home.load_balancer.zone_id)
pulumi.export("alb_target_group_arn", home.load_balancer.target_group_arn)
pulumi.export("alb_listener_arns", home.load_balancer.listener_arns)
pulumi.export("alb_security_group_id", home.load_balancer.security_group_id)
pulumi.export("alb_tls", home.load_balancer.tls)
pulumi.export("asg_name", home.app.asg_name)
pulumi.export("launch_template_id", home.app.launch_template_id)
pulumi.export("cloudfront_distribution_id", edge.distribution_id)
pulumi.export("cloudfront_domain_name", edge.domain_name)
pulumi.export("web_acl_arn", edge.web_acl_arn)
pulumi.export("edge_tls", edge.tls)
pulumi.export("alert_topic_arn", home.monitoring.topic_arn)
pulumi.export("edge_alert_topic_arn", home.monitoring.edge_topic_arn)
pulumi.export("dashboard_name", home.monitoring.dashboard_name)
