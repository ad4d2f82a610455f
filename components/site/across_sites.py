"""What is built from several sites at once: values that stand between them, not in any one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from components.failover_record import AppCapacity, FailoverRecord
from components.settings import Settings
from components.site.site import Site


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
            **values[0],
        ).to_json()
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
