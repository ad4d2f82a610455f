"""A site: one region's tiers (keys, network, security groups, database member, archives, load
balancer, app tier, monitoring), built as one component through the provider it is given.

The stack builds one site per region: the stack's own region (``home``: it founds the global
database and holds what the stack has once — the edge's keys in us-east-1, the backup keys), and
the standby region if there is one. A site is ``active`` (holds the Aurora writer and takes traffic)
or ``passive`` (keeps the capacity ``standbyMode`` says, ready to take over).

A few things a site uses are built after it, between the sites: the app's credential (the secret
or its replica) and the copies its rotation function may rotate, the edge and the backup vault that
its monitoring watches, and the other site's secrets key, database cluster and replication rules.
The site receives each as a Pulumi deferred output (``pulumi.deferred_output``), which ``connect``
resolves once the piece exists: the resources that use it wait for it as for any output, and
depend on what it came from.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pulumi

from components.naming import app_secret_prefix, audit_trail_name, log_group_name
from components.settings import Settings
from components.site.baseline import AuditFramework, Baseline, BaselineArgs, ConfigDelivery
from components.site.compute import Compute, ComputeArgs, Schedule
from components.site.database import Database, DatabaseArgs, GlobalPrimary, GlobalSecondary, MasterReplica
from components.site.load_balancer import HealthCheck, LoadBalancer, LoadBalancerArgs
from components.site.monitoring import (
    ArchiveErrors,
    BackupAudit,
    Monitoring,
    MonitoringArgs,
    Thresholds,
    Watched,
    WatchedReplicationRule,
)
from components.site.network import INTERFACE_ENDPOINT_SERVICES, Network, NetworkArgs, lookup_zones, tier_block
from components.site.rotation import Replication, Rotation, RotationArgs
from components.site.security import Security, SecurityArgs
from components.site.security_groups import PeerBlocks, SecurityGroups, SecurityGroupsArgs
from components.site.storage import Storage, StorageArgs

Role = Literal["active", "passive"]


@dataclass(frozen=True)
class Capacity:
    """How many database instances and app instances a site starts with."""

    db_instances: int
    app_min: int
    """The app group's floor and desired capacity at creation (scaling owns them afterwards)."""
    app_desired: int

    @classmethod
    def of(cls, settings: Settings, *, home: bool, role: Role) -> Capacity:
        """The stack's sizes at the home site and at an active one; what ``standbyMode`` keeps warm
        (one of each) or cold (none: pilot light) at a passive standby."""
        if home or role == "active":
            return cls(settings.db_instance_count, settings.asg_min_size, settings.asg_desired_capacity)
        warm = 1 if settings.standby_mode == "warm" else 0
        return cls(db_instances=warm, app_min=warm, app_desired=warm)


@dataclass(frozen=True)
class SiteArgs:
    settings: Settings
    """The stack's validated settings: what applies to every site (sizes of things, retention,
    thresholds, protection); the site turns them into its tiers' arguments."""
    region: str
    cidr: str
    """The site's VPC CIDR (the sites' must not overlap: settings check it)."""
    role: Role
    capacity: Capacity
    home: bool
    """The stack's own region: founds the global database, holds the edge's and the backups' keys,
    and watches the edge, the rotation function and the backups."""
    peer_region: str | None = None
    """The other site's region; None: a single-region stack."""
    peer_cidr: str | None = None
    """The other site's VPC CIDR (with ``peer_region``): its rotation function reaches this site's
    database across the peering, and this site's the other's (``between/peering.py``)."""
    global_cluster_id: pulumi.Input[str] | None = None
    """A standby joins this Aurora Global Database (founded by the home site)."""
    origin_verify_secrets: Sequence[pulumi.Input[str]] = ()
    """What CloudFront may send every origin: a standby accepts the home site's
    (``load_balancer.origin_verify_values``)."""
    origin_validation_record_fqdn: pulumi.Input[str] | None = None
    """A standby's certificate for ``origin.<domain>`` validates against the home site's ACM
    validation record (``load_balancer.validation_record_fqdn``): one owner of one record. None: the
    site declares its own (the home site always does)."""
    peer_backup_key_arn: pulumi.Input[str] | None = None
    """The home site's backup key in this site's region (the copies' key, ``keys.backup_copy_key_arn``):
    this region's key-change rule watches it with the site's own keys."""
    config_role_arn: pulumi.Input[str] | None = None
    """With ``accountBaseline``: AWS Config's service-linked role, which the home site's baseline
    creates (IAM is global: one per account) and a standby's recorder uses."""

    @classmethod
    def at_home(cls, settings: Settings) -> SiteArgs:
        """The site of the stack's own region (``aws:region``), peered with the standby if there is one."""
        return cls.in_region(
            settings,
            settings.region,
            settings.vpc_cidr,
            home=True,
            peer_region=settings.standby_region,
            peer_cidr=settings.standby_vpc_cidr if settings.standby_region else None,
        )

    @classmethod
    def joining(cls, settings: Settings, home: Site) -> SiteArgs:
        """The standby site of ``standbyRegion``: it joins the home site's global database, accepts the
        origin secrets CloudFront sends the home site, validates against the home site's ACM record and
        watches the home site's backup key in its region."""
        if not settings.standby_region or not settings.standby_vpc_cidr:
            raise ValueError("a standby site needs standbyRegion and standbyVpcCidr")
        return dataclasses.replace(
            cls.in_region(
                settings,
                settings.standby_region,
                settings.standby_vpc_cidr,
                home=False,
                peer_region=home.region,
                peer_cidr=settings.vpc_cidr,
                global_cluster_id=home.database.global_cluster_id,
                origin_verify_secrets=home.load_balancer.origin_verify_values,
                origin_validation_record_fqdn=home.load_balancer.validation_record_fqdn,
            ),
            peer_backup_key_arn=home.keys.backup_copy_key_arn
            if settings.backup_copy_region == settings.standby_region
            else None,
            config_role_arn=home.baseline.config_role_arn if home.baseline is not None else None,
        )

    @classmethod
    def in_region(
        cls,
        settings: Settings,
        region: str,
        cidr: str,
        *,
        home: bool,
        peer_region: str | None,
        peer_cidr: str | None = None,
        global_cluster_id: pulumi.Input[str] | None = None,
        origin_verify_secrets: Sequence[pulumi.Input[str]] = (),
        origin_validation_record_fqdn: pulumi.Input[str] | None = None,
    ) -> SiteArgs:
        """The site in ``region``: active where the writer is (``primaryRegion``), passive elsewhere."""
        role: Role = "active" if region == settings.active_region else "passive"
        return cls(
            settings,
            region=region,
            cidr=cidr,
            role=role,
            capacity=Capacity.of(settings, home=home, role=role),
            home=home,
            peer_region=peer_region,
            peer_cidr=peer_cidr,
            global_cluster_id=global_cluster_id,
            origin_verify_secrets=origin_verify_secrets,
            origin_validation_record_fqdn=origin_validation_record_fqdn,
        )

    def __post_init__(self) -> None:
        if self.home == (self.global_cluster_id is not None):
            raise ValueError("a standby site joins the home site's global database: global_cluster_id is for it alone")
        if self.home and self.origin_validation_record_fqdn is not None:
            raise ValueError(
                "the home site declares the origin's ACM validation record: origin_validation_record_fqdn is for a "
                "standby"
            )
        if self.home and self.peer_backup_key_arn is not None:
            raise ValueError("the home site's backup keys are its own: peer_backup_key_arn is for a standby")
        if self.home and self.config_role_arn is not None:
            raise ValueError("the home site creates AWS Config's service-linked role: config_role_arn is for a standby")
        if not self.home and self.peer_region is None:
            raise ValueError("a standby site needs peer_region, the home site's region")
        if (self.peer_region is None) != (self.peer_cidr is None):
            raise ValueError("peer_region and peer_cidr come together: the other site's region and VPC CIDR")


@dataclass(frozen=True)
class RotatedCopies:
    """What a site's rotation function may rotate: the site's region's copies of the credentials."""

    app_secret_arn: pulumi.Input[str]
    """The app secret's copy here, resolving as soon as the secret exists (the bootstrap needs the grant)."""
    master_secret_arn: pulumi.Input[str]
    member_clusters: pulumi.Input[dict[str, str]]
    """The stack's database clusters by region: in a global database the function reads the writer's endpoint."""


@dataclass(frozen=True)
class EdgeWatch:
    web_acl_metric_name: pulumi.Input[str]
    """``Edge.web_acl_metric_name``: WAF publishes under the web ACL's metric name, not its name."""
    distribution_id: pulumi.Input[str]


@dataclass(frozen=True)
class Links:
    """What a site takes from the pieces built after it (``Site.connect``, in one call or several)."""

    app_secret_arn: pulumi.Input[str] | None = None
    """The app's credential in the site's region: the secret, or its replica."""
    rotated: RotatedCopies | None = None
    edge: EdgeWatch | None = None
    backup_vault_name: pulumi.Input[str] | None = None
    peer_secrets_key_arn: pulumi.Input[str] | None = None
    """The other site's secrets key: the home site's master secret is replicated there with it."""
    outgoing_replication: Sequence[WatchedReplicationRule] = ()
    incoming_replication: Sequence[WatchedReplicationRule] = ()
    audit_trail_log_group_name: pulumi.Input[str] | None = None
    """The home site's: the log group of the stack's CloudTrail trail, for the CIS alarms."""


class Site(pulumi.ComponentResource):
    """One region's tiers. Their outputs are read through the tiers (``site.network.vpc_id``)."""

    region: str
    role: Role
    app_secret_arn: pulumi.Output[str]
    """The app's credential in this region (resolves once connected)."""
    keys: Security
    network: Network
    groups: SecurityGroups
    database: Database
    rotation: Rotation
    archives: Storage
    load_balancer: LoadBalancer
    app: Compute
    monitoring: Monitoring
    baseline: Baseline | None
    """GuardDuty, AWS Config and Security Hub in the site's region (``accountBaseline``); None: off."""

    def __init__(self, name: str, args: SiteArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("fintech:site:Site", name, None, opts)
        self.region, self.role = args.region, args.role
        self._later = _Deferred()
        self.app_secret_arn = self._later("app_secret_arn")
        # The other site's secrets key, which the home site's copies are replicated with (asked for once).
        self._peer_secrets_key_arn: pulumi.Output[str] | None = (
            self._later("peer_secrets_key_arn") if args.home and args.peer_region else None
        )
        try:
            self._build(name, args)
        except BaseException as exc:
            # What already waits for a deferred value fails with the site instead of hanging.
            self._later.fail(exc)
            raise
        self.register_outputs(
            {
                "vpc_id": self.network.vpc_id,
                "db_cluster_arn": self.database.cluster_arn,
                "alb_dns_name": self.load_balancer.dns_name,
                "asg_name": self.app.asg_name,
                "alert_topic_arn": self.monitoring.topic_arn,
            }
        )

    def _build(self, name: str, args: SiteArgs) -> None:
        # A region with too few zones fails here, before the site's tiers are declared.
        zones = lookup_zones(args.settings.az_count, pulumi.InvokeOptions(parent=self))
        self.keys = self._keys(name, args)
        self.network = self._network(name, args, zones)
        self.groups = self._groups(name, args)
        self.database = self._database(name, args, zones)
        self.rotation = self._rotation(name, args)
        self.archives = self._archives(name, args)
        self.load_balancer = self._load_balancer(name, args)
        self.app = self._app(name, args)
        self.monitoring = self._monitoring(name, args)
        self.baseline = self._baseline(name, args) if args.settings.account_baseline else None

    def connect(self, links: Links) -> None:
        """Hand the site some of what was built after it: only what it was built to wait for, once."""
        given = dict(_leaves(links))
        if unexpected := sorted(given.keys() - self._later.keys()):
            raise ValueError(f"site {self.region} does not wait for {', '.join(unexpected)} (or has it already)")
        for key, value in given.items():
            self._later.resolve(key, value)

    def fail(self, exc: BaseException) -> None:
        """Fail whatever the site still waits for with ``exc`` (the program failed before giving it)."""
        self._later.fail(exc)

    def check_connected(self) -> None:
        """Raise unless everything the site waits for was given: a deferred output that is never
        resolved would hang ``pulumi up`` instead of failing it."""
        if waiting := sorted(self._later.keys()):
            raise ValueError(f"site {self.region} still waits for {', '.join(waiting)}: give them to connect()")

    # --------------------------------------------------------------------------- the tiers

    def _child(self) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self)

    def _keys(self, name: str, args: SiteArgs) -> Security:
        settings = args.settings
        return Security(
            f"{name}-sec",
            SecurityArgs(
                alias_prefix=settings.name_prefix,
                flow_log_group_name=log_group_name(settings, "vpc-flow-logs"),
                app_secret_name_prefix=app_secret_prefix(settings),
                backup=args.home and settings.backup_enabled,
                # Each site backs up into its own region's vault (between/backup.py): each hears of its jobs.
                backup_notifications=settings.backup_enabled,
                backup_copy_region=settings.backup_copy_region if args.home else None,
                # The edge and its alarms' keys live in us-east-1, once per stack.
                edge=args.home,
                key_deletion_window_days=30 if settings.protect_data else 7,
                protect=settings.protect_data,
                # The stack's trail (between/audit_trail.py) encrypts with the home site's audit key.
                audit_trail_name=audit_trail_name(settings) if args.home else None,
                # The account baseline's AWS Config encrypts what it delivers with the audit key.
                config_delivery=settings.account_baseline,
            ),
            self._child(),
        )

    def _network(self, name: str, args: SiteArgs, zones: tuple[str, ...]) -> Network:
        settings = args.settings
        return Network(
            f"{name}-net",
            NetworkArgs(
                vpc_cidr=args.cidr,
                availability_zones=zones,
                nat_strategy=settings.nat_strategy,
                flow_log_group_name=log_group_name(settings, "vpc-flow-logs"),
                flow_log_retention_days=settings.flow_log_retention_days,
                flow_log_key_arn=self.keys.key_arns["logs"],
                flow_log_role_arn=self.keys.flow_log_role_arn,
                interface_endpoint_services=INTERFACE_ENDPOINT_SERVICES if settings.interface_endpoints else (),
                retain_logs=settings.protect_data,
            ),
            self._child(),
        )

    def _groups(self, name: str, args: SiteArgs) -> SecurityGroups:
        return SecurityGroups(
            f"{name}-sg",
            SecurityGroupsArgs(
                vpc_id=self.network.vpc_id,
                app_port=args.settings.app_port,
                # Only CloudFront reaches the load balancer, on the one port its origin uses.
                alb_source="cloudfront",
                alb_ports=(443,) if args.settings.domain_name else (80,),
                # With two sites, Route 53 checks the origin's health (its own group: see security_groups.py).
                health_checker_ports=(443,) if args.peer_region else (),
                # ... and each site's rotation function reaches the other's database (between/peering.py).
                peer=PeerBlocks(
                    rotation_cidr=tier_block(args.peer_cidr, "rotation"),
                    database_cidr=tier_block(args.peer_cidr, "database"),
                )
                if args.peer_cidr
                else None,
            ),
            self._child(),
        )

    def _database(self, name: str, args: SiteArgs, zones: tuple[str, ...]) -> Database:
        settings = args.settings
        global_role: GlobalPrimary | GlobalSecondary | None = None
        master_replica = None
        if args.peer_region and (peer_key := self._peer_secrets_key_arn) is not None:
            # The home site of two: an Aurora Global Database founded from this cluster (its identifier
            # never changes: the primary region is a role, not a name).
            global_role = GlobalPrimary(identifier=f"{settings.name_prefix}-global")
            master_replica = MasterReplica(region=args.peer_region, key_arn=peer_key)
        elif args.global_cluster_id is not None:
            global_role = GlobalSecondary(global_cluster_id=args.global_cluster_id, source_region=settings.region)
        return Database(
            f"{name}-db",
            DatabaseArgs(
                subnet_ids=self.network.database_subnet_ids,
                security_group_id=self.groups.ids["database"],
                availability_zones=zones,
                storage_key_arn=self.keys.key_arns["database"],
                secrets_key_arn=self.keys.key_arns["secrets"],
                logs_key_arn=self.keys.key_arns["logs"],
                log_retention_days=settings.log_retention_days,
                engine_version=settings.db_engine_version,
                instance_class=settings.db_instance_class,
                instance_count=args.capacity.db_instances,
                backup_retention_days=settings.db_backup_retention_days,
                retention_owned_by_aws_backup=settings.backup_enabled,
                backup_window=settings.db_backup_window,
                maintenance_window=settings.db_maintenance_window,
                monitoring_interval_seconds=settings.db_monitoring_interval_seconds,
                insights_retention_days=settings.db_insights_retention_days,
                protect=settings.protect_data,
                global_role=global_role,
                master_replica=master_replica,
            ),
            self._child(),
        )

    def _rotation(self, name: str, args: SiteArgs) -> Rotation:
        """The site's rotation function, for its region's copies of the credentials (``rotated``)."""
        settings, later = args.settings, self._later
        global_cluster_id = self.database.global_cluster_identifier_or_none if args.home else args.global_cluster_id
        return Rotation(
            # The children keep the names the Secrets tier gave the home site's (``formerly_under``).
            f"{name}-secrets",
            RotationArgs(
                subnet_ids=self.network.rotation_subnet_ids,
                security_group_id=self.groups.ids["rotation"],
                secrets_key_arn=self.keys.key_arns["secrets"],
                logs_key_arn=self.keys.key_arns["logs"],
                lambda_key_arn=self.keys.key_arns["lambda"],
                log_group_name=log_group_name(settings, "secret-rotation"),
                log_retention_days=settings.log_retention_days,
                app_secret_arn=later("rotated.app_secret_arn"),
                master_secret_arn=later("rotated.master_secret_arn"),
                # In a global database the master secret is the stack's own: rotated by the same function.
                rotate_master=args.peer_region is not None,
                replication=Replication(args.peer_region, peer_key)
                if args.peer_region and (peer_key := self._peer_secrets_key_arn) is not None
                else None,
                peer_region=args.peer_region,
                code_signing=settings.code_signing,
                reserved_concurrency=settings.rotation_reserved_concurrency,
                retain_logs=settings.protect_data,
                global_cluster_id=global_cluster_id,
                global_member_clusters=later("rotated.member_clusters"),
                # Built by the Secrets tier until the standby could take over rotation: moved, not replaced.
                formerly_under=pulumi.resource.create_urn(f"{settings.name_prefix}-secrets", "fintech:data:Secrets")
                if args.home
                else None,
            ),
            self._child(),
        )

    def _archives(self, name: str, args: SiteArgs) -> Storage:
        settings = args.settings
        return Storage(
            f"{name}-storage",
            StorageArgs(
                storage_key_arn=self.keys.key_arns["storage"],
                audit_key_arn=self.keys.key_arns["audit"],
                log_retention_days=settings.log_bucket_retention_days,
                object_lock_mode=settings.object_lock_mode,
                object_lock_days=settings.object_lock_days,
                audit_lock_days=settings.audit_lock_days,
                protect=settings.protect_data,
                # The stack's trail delivers into the home site's audit archive.
                audit_trail_name=audit_trail_name(settings) if args.home else None,
                # AWS Config delivers into the audit archive only where it has no default retention
                # (``baseline.ConfigDelivery``): a locked archive's site gives it a bucket of its own.
                config_delivery=settings.account_baseline and settings.object_lock_mode is None,
            ),
            self._child(),
        )

    def _load_balancer(self, name: str, args: SiteArgs) -> LoadBalancer:
        settings = args.settings
        two_sites = args.peer_region is not None
        return LoadBalancer(
            f"{name}-lb",
            LoadBalancerArgs(
                vpc_id=self.network.vpc_id,
                public_subnet_ids=self.network.public_subnet_ids,
                security_group_id=self.groups.ids["alb"],
                logs_bucket_name=self.archives.logs_bucket_name,
                logs_prefix=self.archives.alb_log_prefix,
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
                # CloudFront sends one header value, whichever site answers.
                origin_verify_generation=settings.origin_verify_generation,
                origin_verify_secrets=args.origin_verify_secrets,
                # With two sites the origin name fails over in DNS (between/origin_dns.py), checked on /health.
                health_checkers=two_sites,
                origin_record=not two_sites,
                extra_security_group_ids=[self.groups.ids["alb-health-checks"]] if two_sites else [],
                # One owner of the origin certificate's validation record: the home site (certificates.py).
                validation_record_fqdn=args.origin_validation_record_fqdn if settings.domain_name else None,
            ),
            self._child(),
        )

    def _app(self, name: str, args: SiteArgs) -> Compute:
        settings = args.settings
        return Compute(
            f"{name}-app",
            ComputeArgs(
                subnet_ids=self.network.private_subnet_ids,
                security_group_id=self.groups.ids["app"],
                instance_profile_name=self.keys.app_instance_profile_name,
                target_group_arn=self.load_balancer.target_group_arn,
                ebs_key_arn=self.keys.key_arns["ebs"],
                logs_key_arn=self.keys.key_arns["logs"],
                log_group_name=log_group_name(settings, "app"),
                log_retention_days=settings.log_retention_days,
                app_secret_arn=self.app_secret_arn,
                app_port=settings.app_port,
                instance_type=settings.instance_type,
                min_size=args.capacity.app_min,
                max_size=settings.asg_max_size,
                desired_capacity=args.capacity.app_desired,
                detailed_monitoring=settings.detailed_monitoring,
                schedule=Schedule(time_zone=settings.schedule_time_zone),
                instance_tags=settings.tags,
                retain_logs=settings.protect_data,
            ),
            self._child(),
        )

    def _monitoring(self, name: str, args: SiteArgs) -> Monitoring:
        """The site's alarms, dashboard and log archive, alerting through its own topic: the standby
        must page when the stack's region is the one that is down."""
        settings, home, later = args.settings, args.home, self._later
        outgoing = self._replication_rules("outgoing", args.peer_region)
        return Monitoring(
            f"{name}-monitoring",
            MonitoringArgs(
                alerts_key_arn=self.keys.key_arns["alerts"],
                edge_alerts_key_arn=self.keys.edge_key_arns["alerts"] if home else None,
                alarm_emails=settings.alarm_emails,
                watched=Watched(
                    alb_arn_suffix=self.load_balancer.arn_suffix,
                    target_group_arn_suffix=self.load_balancer.target_group_arn_suffix,
                    asg_name=self.app.asg_name,
                    app_min_instances=args.capacity.app_min,
                    db_cluster_identifier=self.database.cluster_identifier,
                    db_instance_identifiers=self.database.instance_identifiers,
                    rotation_function_name=self.rotation.function_name,
                    # With a peer, a rotation the other region did not confirm is counted (monitoring.py).
                    rotation_log_group_name=self.rotation.log_group_name if args.peer_region else None,
                    web_acl_metric_name=later("edge.web_acl_metric_name") if home else None,
                    distribution_id=later("edge.distribution_id") if home else None,
                    # The passive site's app cannot reach the writer in the other region (its subnets have
                    # no route there; only the rotation subnets are peered): watched only where it is active.
                    app_dependency_metric=self.app.dependency_metric if args.role == "active" else None,
                    backup_vault_name=later("backup_vault_name") if settings.backup_enabled else None,
                    # The keys of this region the site's data and (home) recovery points are encrypted with.
                    key_arns=[
                        *self.keys.key_arns.values(),
                        *([args.peer_backup_key_arn] if args.peer_backup_key_arn is not None else []),
                    ]
                    if settings.backup_enabled
                    else (),
                    # A member's lag exists only while it is the secondary.
                    global_db=args.peer_region is not None,
                    outgoing_replication=outgoing,
                    incoming_replication=self._replication_rules("incoming", args.peer_region),
                    # The stack's trail is built in the home site's region, after the sites.
                    audit_trail_log_group_name=later("audit_trail_log_group_name") if home else None,
                ),
                thresholds=Thresholds(**dataclasses.asdict(settings.alarms)),
                # With the account baseline, its AWS Config records first: the baseline builds it then.
                backup_audit=None if settings.account_baseline else self._backup_audit(args),
                archive_bucket_arn=self.archives.audit_bucket_arn,
                archive_key_arn=self.keys.key_arns["audit"],
                # Two sites: the audit archive's stream starts once that archive replicates.
                archive_replication_ready=[r.ready for r in outgoing if r.key == "audit" and r.ready is not None],
                archived_log_groups=[
                    self.network.flow_log_group_name,
                    *self.database.log_group_names,
                    self.rotation.log_group_name,
                    self.app.log_group_name,
                ],
                archive_errors=ArchiveErrors(
                    log_group_name=log_group_name(settings, "audit-archive-delivery"),
                    key_arn=self.keys.key_arns["logs"],
                    retention_days=settings.log_retention_days,
                    retain=settings.protect_data,
                ),
            ),
            self._child(),
        )

    def _baseline(self, name: str, args: SiteArgs) -> Baseline:
        """GuardDuty, AWS Config and Security Hub in the site's region (``accountBaseline``): one
        of each per account and region, so each site has its own, through its provider."""
        settings = args.settings
        return Baseline(
            f"{name}-baseline",
            BaselineArgs(
                alert_topic_arn=self.monitoring.topic_arn,
                delivery=ConfigDelivery(
                    key_arn=self.keys.key_arns["audit"],
                    # Resolves once the archive's policy admits AWS Config (storage.py).
                    audit_bucket_name=self.archives.audit_bucket_name if settings.object_lock_mode is None else None,
                    retention_days=settings.log_bucket_retention_days,
                ),
                record_global_types=args.home,
                config_role_arn=args.config_role_arn,
                protect=settings.protect_data,
                framework=AuditFramework(audit, f"{name}-monitoring-backup-audit", self.monitoring.urn)
                if (audit := self._backup_audit(args)) is not None
                else None,
            ),
            self._child(),
        )

    @staticmethod
    def _backup_audit(args: SiteArgs) -> BackupAudit | None:
        """The site's AWS Backup Audit Manager framework (``backupAuditFramework``, or the account
        baseline, which makes AWS Config record the region): its points are copied to the other
        site's region (or the copy region)."""
        settings = args.settings
        copy_region = args.peer_region or settings.backup_copy_region
        audited = settings.backup_audit_framework or settings.account_baseline
        if not (audited and settings.backup_enabled and copy_region):
            return None
        return BackupAudit(min_retention_days=settings.backup_daily_retention_days, copy_region=copy_region)

    def _replication_rules(self, direction: str, peer_region: str | None) -> list[WatchedReplicationRule]:
        """With a peer, each archive replicates both ways: failures are watched where a rule leaves,
        latency where it lands (the rules are built between the sites, after this)."""
        if peer_region is None:
            return []
        return [
            WatchedReplicationRule(
                key=purpose,
                source_bucket_name=self._later(f"{direction}_replication.{purpose}.source_bucket_name"),
                destination_bucket_name=self._later(f"{direction}_replication.{purpose}.destination_bucket_name"),
                rule_id=self._later(f"{direction}_replication.{purpose}.rule_id"),
                # A rule leaving this site is in place once its configuration is on this site's bucket.
                ready=self._later(f"{direction}_replication.{purpose}.ready") if direction == "outgoing" else None,
            )
            for purpose in sorted(self.archive_arns)
        ]

    @property
    def archive_arns(self) -> dict[str, pulumi.Output[str]]:
        """The archives that replicate to the other site, by purpose."""
        return {"data": self.archives.data_bucket_arn, "audit": self.archives.audit_bucket_arn}

    @property
    def archive_key_arns(self) -> dict[str, pulumi.Output[str]]:
        """The key of each archive, by purpose: replicas written here are encrypted with it."""
        return {"data": self.keys.key_arns["storage"], "audit": self.keys.key_arns["audit"]}


class _Deferred:
    """Named deferred outputs, each resolved exactly once."""

    def __init__(self) -> None:
        self._resolvers: dict[str, Callable[[pulumi.Output[Any]], None]] = {}

    def __call__(self, key: str) -> pulumi.Output[Any]:
        output: pulumi.Output[Any]
        output, self._resolvers[key] = pulumi.deferred_output()
        return output

    def keys(self) -> set[str]:
        return set(self._resolvers)

    def resolve(self, key: str, value: pulumi.Input[Any]) -> None:
        self._resolvers.pop(key)(pulumi.Output.from_input(value))

    def fail(self, exc: BaseException) -> None:
        def reraise(_: object) -> Any:
            raise exc

        if self._resolvers:
            _quiet_echoes_of(exc)
        for key in list(self._resolvers):
            self.resolve(key, pulumi.Output.from_input("").apply(reraise))


def _quiet_echoes_of(exc: BaseException) -> None:
    """Every output derived from a failed deferred one fails with ``exc``; asyncio would print each
    of those it collects unread ("Future exception was never retrieved": a thousand tracebacks of
    one error, which Pulumi reports once anyway). Drop those echoes, and nothing else."""
    loop = asyncio.get_event_loop()
    previous = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        error: BaseException | None = context.get("exception")
        while error is not None and error is not exc:
            error = error.__cause__ or error.__context__
        if error is None and previous is not None:
            previous(loop, context)
        elif error is None:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)


@contextlib.contextmanager
def connecting(sites: Sequence[Site]) -> Iterator[None]:
    """Build what stands between the sites in this block. If it fails, what the sites wait for
    fails with it (an unresolved deferred output would hang ``pulumi up`` instead of failing it);
    if it succeeds, every site must have been given everything it waits for."""
    try:
        yield
        for site in sites:
            site.check_connected()
    except BaseException as exc:
        for site in sites:
            site.fail(exc)
        raise


def _leaves(links: Links) -> Iterator[tuple[str, pulumi.Input[Any]]]:
    """``links`` as dotted keys: ``rotation.function_name``, ``outgoing_replication.data.rule_id``."""
    for f in dataclasses.fields(links):
        value = getattr(links, f.name)
        if value is None or value == ():
            continue
        if f.name.endswith("_replication"):
            for rule in value:
                for attr in ("source_bucket_name", "destination_bucket_name", "rule_id", "ready"):
                    if getattr(rule, attr) is not None:
                        yield f"{f.name}.{rule.key}.{attr}", getattr(rule, attr)
        elif dataclasses.is_dataclass(value):
            for inner in dataclasses.fields(value):
                yield f"{f.name}.{inner.name}", getattr(value, inner.name)
        else:
            yield f.name, value
