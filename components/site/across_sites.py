"""What is built from several sites at once: values that stand between them, not in any one."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import pulumi

from components.failover_record import AppCapacity, FailoverRecord
from components.settings import Settings
from components.site.rotation import ROTATION_DAYS, copy_arn
from components.site.site import RotatedCopies, Site


def failover_record(
    settings: Settings,
    sites: Sequence[Site],
    origin_name: str,
    health_check_ids: dict[str, pulumi.Output[str]],
) -> pulumi.Output[str]:
    """The failover record of a two-site stack, as JSON (components/failover_record.py): what the
    operator commands need of both sites, written into each site's region by ``connect``."""
    per_site = {
        "db_cluster_arns": {s.region: s.database.cluster_arn for s in sites},
        "db_cluster_ids": {s.region: s.database.cluster_identifier for s in sites},
        "asg_names": {s.region: s.app.asg_name for s in sites},
        "target_group_arns": {s.region: s.load_balancer.target_group_arn for s in sites},
        "db_instance_settings": {s.region: s.database.instance_settings for s in sites},
        "origin_health_check_ids": health_check_ids,
        # Each region's copies of the credentials, their key and the function that may rotate them there.
        "app_secret_arns": {s.region: s.rotation.app_secret_arn for s in sites},
        "master_secret_arns": {s.region: s.rotation.master_secret_arn for s in sites},
        "secrets_key_arns": {s.region: s.keys.key_arns["secrets"] for s in sites},
        "rotation_function_arns": {s.region: s.rotation.function_arn for s in sites},
    }
    (standby,) = [s.region for s in sites if s.region != settings.active_region]
    return pulumi.Output.all(per_site, sites[0].database.global_cluster_id).apply(
        lambda values: FailoverRecord(
            stack=pulumi.get_stack(),
            primary_region=settings.active_region,
            standby_region=standby,
            standby_mode=settings.standby_mode,
            global_cluster_id=str(values[1]),
            app_capacity=AppCapacity(**settings.app_capacity),
            db_instance_class=settings.db_instance_class,
            origin_name=origin_name,
            hosted_zone_id=settings.hosted_zone_id or "",
            home_region=settings.region,
            rotation_days=ROTATION_DAYS,
            **values[0],
        ).to_json()
    )


def rotated_copies(
    site: Site, sites: Sequence[Site], app_copy_in: Callable[[str], pulumi.Output[str]]
) -> RotatedCopies:
    """What ``site``'s rotation function may rotate: its region's copies of the app secret
    (``app_copy_in``, the Secrets tier's) and of the home site's master secret, and the clusters
    whose endpoint it may read."""
    return RotatedCopies(
        app_secret_arn=app_copy_in(site.region),
        master_secret_arn=sites[0].database.master_secret_arn.apply(partial(copy_arn, region=site.region)),
        member_clusters={s.region: s.database.cluster_identifier for s in sites},
    )


def origin_secret_accepted_by(sites: Sequence[Site]) -> pulumi.Output[str]:
    """The secret CloudFront is to send, once every site's load balancer accepts it: a rotation
    (``originVerifyGeneration``) changes each site's edge rule before the distribution."""
    return pulumi.Output.all(*(site.load_balancer.origin_verify_secret for site in sites)).apply(
        lambda accepted: str(accepted[0])
    )


@dataclass(frozen=True)
class ArchiveStore:
    """One archive as the Backup tier takes it (``between.backup.BackedUpArchive``)."""

    role: str
    bucket_arn: pulumi.Input[str]
    key_arn: pulumi.Input[str]


@dataclass(frozen=True)
class SiteStores:
    """One site's data stores as the Backup tier takes them (``between.backup.BackedUpSite``)."""

    region: str
    cluster_arn: pulumi.Input[str]
    archives: Sequence[ArchiveStore]
    db_subnet_group_name: pulumi.Input[str]
    db_security_group_id: pulumi.Input[str]
    copies_to: str | None


def backed_up(settings: Settings, sites: Sequence[Site]) -> tuple[dict[str, pulumi.Output[str]], list[SiteStores]]:
    """What the Backup tier takes: the backup key of each vault region (the home site made them: one
    in the stack's region, one in ``backupCopyRegion``), and each site's data stores, copied to the
    other site's region (a single site: to ``backupCopyRegion``, if any)."""
    home = sites[0]
    keys = {home.region: home.keys.key_arns["backup"]}
    if settings.backup_copy_region and home.keys.backup_copy_key_arn is not None:
        keys[settings.backup_copy_region] = home.keys.backup_copy_key_arn
    regions = [s.region for s in sites]
    stores = [
        SiteStores(
            region=s.region,
            cluster_arn=s.database.cluster_arn,
            archives=tuple(ArchiveStore(role, arn, s.archive_key_arns[role]) for role, arn in s.archive_arns.items()),
            db_subnet_group_name=s.database.subnet_group_name,
            db_security_group_id=s.groups.ids["database"],
            copies_to=next((r for r in regions if r != s.region), settings.backup_copy_region or None),
        )
        for s in sites
    ]
    return keys, stores
