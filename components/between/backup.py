"""Backup tier: each site's data stores backed up into a locked vault in its own region, copied to
the other site's region, and restore-tested there too.

Prod's data already survives a mistaken ``pulumi destroy`` (protect, deletion protection, final
snapshot, Object Lock); this tier makes it survive someone with admin rights in the account and a
region outage: recovery points live in vaults whose lock (compliance mode) nobody in the account,
root included, can lift once its grace period is over, and every point is copied to another region.

**Vault layout: one locked vault per region, serving both roles.** The vault in a site's region
holds that site's own recovery points and the copies of the other site's. Separate "home" and
"copy" vaults per region would double the locks, policies and lock dates to keep in step for no
gain: the lock's retention bounds are the same for both, and AWS Backup keeps a copy apart from a
backup by its source anyway (``list-recovery-points-by-backup-vault --by-resource-arn``). It also
keeps every existing resource as it was: the stack region's vault (``<name>-vault``) and the
copy region's (``<name>-vault-<region>``, the standby's region in prod) keep their logical names,
inputs and options, so no locked vault or lock is replaced (tests/unit/test_backup.py pins them).
Each site has its own plan (the same two rules) and selection in its region, so a switchover or
failover changes nothing here: the writer and the archives that take the writes are already in a
locked vault's selection in their own region, whichever site holds them.

**What AWS allows, and what that means here** (AWS Backup Developer Guide):
- Continuous backup (point-in-time recovery) is at most 35 days; a copy of a continuous backup to
  another region is a snapshot ("Copying continuous backups",
  https://docs.aws.amazon.com/aws-backup/latest/devguide/point-in-time-recovery-copying.html), and
  an S3 copy has no point-in-time restore ("Amazon S3 backups",
  https://docs.aws.amazon.com/aws-backup/latest/devguide/s3-backups.html). So the region-loss
  restore is from a daily snapshot copy, or from the surviving site's own continuous backups.
- A resource should be in one continuous rule: with several plans AWS Backup makes a continuous
  backup for the first it evaluates and snapshots for the others ("Overlapping continuous backups
  on the same resource", .../point-in-time-recovery-overlapping.html). Each store is in exactly one
  selection here (its site's).
- S3: versioning is required, and a bucket's continuous and periodic backups must be in the same
  vault (s3-backups.html): both rules of a site's plan target its region's vault. A replica
  bucket is an ordinary versioned bucket to AWS Backup; the guide sets no condition on replication.
- Aurora global database secondary cluster: no page of the AWS Backup guide or of the Aurora User
  Guide's global database pages found says AWS Backup does or does not back one up. The standby's
  cluster is selected anyway: when it holds the writer it is the global database's primary, an
  ordinary cluster, and that is when its own backups matter; while it is a secondary its data is
  the writer's (storage-level replication), backed up in the writer's region and copied into this
  region's vault. If AWS Backup cannot make a continuous backup it falls back to a snapshot
  ("Continuous backups and point-in-time recovery", .../point-in-time-recovery.html); whether a
  secondary's jobs succeed is confirmed at the first deploy (docs/backups.md).

**Restore testing follows the region-loss path.** Each region's restore testing plan restores its
own site's newest points (same-region restore) and, from the same vault, the newest copy of the
other site's cluster into this site's network (its DB subnet group and database security group):
the restore an operator runs when the other region is gone. A restore testing plan chooses points
from vaults of its own region (``include_vaults``; "RestoreTestingRecoveryPointSelection",
.../API_RestoreTestingRecoveryPointSelection.html), so each lives in its region (``region``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import pulumi
import pulumi_aws as aws

from components import policies
from components.settings import window_minutes

# Rule names (schedule, retention) and the restore test selections, by what they protect.
DAILY_RULE, MONTHLY_RULE = "daily-continuous", "monthly"
# AWS Backup needs at least an hour to start a job ("BackupRuleInput": StartWindowMinutes >= 60).
START_WINDOW_MINUTES = 60
# A restore test picks the newest recovery point of the last week; the restored copy is kept this
# long for validation, then AWS Backup deletes it.
RESTORE_SELECTION_WINDOW_DAYS = 7
RESTORE_VALIDATION_HOURS = 1
RESTORE_START_WINDOW_HOURS = 24
# A restored S3 test bucket is encrypted with SSE-KMS under the archive's key (the S3 restore
# metadata's EncryptionType and KMSKey; override keys are not case sensitive).
S3_RESTORE_ENCRYPTION = "SSE-KMS"
# Restore testing names: letters, digits and underscores, at most 50 ("RestoreTestingPlanForCreate").
RESTORE_NAME_MAX = 50
# A logically air-gapped vault retains points at least this long ("CreateLogicallyAirGappedBackupVault").
AIR_GAP_MIN_DAYS = 7


@dataclass(frozen=True)
class Retention:
    daily_days: int
    """Point-in-time recovery (continuous backup), 1-35 days; copies are kept as long."""
    monthly_days: int
    """Each monthly snapshot, and its copy."""


@dataclass(frozen=True)
class VaultLock:
    mode: Literal["governance", "compliance"]
    """compliance: after ``changeable_days`` nobody can change or remove the lock."""
    max_days: int
    """Longest retention the vault accepts; its shortest is the shortest rule's (a job kept less would be refused)."""
    changeable_days: int = 3


@dataclass(frozen=True)
class AirGap:
    """A logically air-gapped vault in each site's region, which every rule of that site's plan also
    copies to: locked in compliance mode by AWS and encrypted with an AWS-owned key, so no key, lock
    or admin of this account can make its copies unreadable or delete them before they expire."""

    max_days: int
    """Longest retention it accepts; its shortest is the shortest rule's (at least 7: AWS's minimum)."""


@dataclass(frozen=True)
class Window:
    start: str
    """UTC ``hh:mm`` when jobs start (within the first hour)."""
    minutes: int
    """Minutes from ``start`` by which a job must complete."""

    @classmethod
    def daily(cls, text: str) -> Window:
        """From a daily UTC window ``hh:mm-hh:mm`` (the settings' format, validated there)."""
        start, end = window_minutes(text, weekly=False)[0]
        return cls(start=text.partition("-")[0], minutes=end - start)


class BackedUpArchive(Protocol):
    """One archive bucket and the key its objects are encrypted with (``across_sites.ArchiveStore``)."""

    @property
    def role(self) -> str:
        """A stable short name (``data``, ``audit``): the restore test selection is named by it."""
        ...

    @property
    def bucket_arn(self) -> pulumi.Input[str]: ...
    @property
    def key_arn(self) -> pulumi.Input[str]: ...


class BackedUpSite(Protocol):
    """One site's data stores, and where a restore lands in its region (``across_sites.SiteStores``)."""

    @property
    def region(self) -> str: ...
    @property
    def cluster_arn(self) -> pulumi.Input[str]: ...
    @property
    def archives(self) -> Sequence[BackedUpArchive]:
        """Versioned buckets (S3 backup requires versioning), each with its key."""
        ...

    @property
    def db_subnet_group_name(self) -> pulumi.Input[str]:
        """Where an Aurora restore test in this region puts the restored cluster (not in a default VPC)."""
        ...

    @property
    def db_security_group_id(self) -> pulumi.Input[str]: ...
    @property
    def copies_to(self) -> str | None:
        """The region every recovery point of this site is copied to (the other site's); None: no copy."""
        ...


@dataclass(frozen=True)
class BackupArgs:
    vault_key_arns: Mapping[str, pulumi.Input[str]]
    """One vault per region, each encrypted with the CMK given here, in that region."""
    sites: Sequence[BackedUpSite]
    """The first is the stack's region: its resources take the provider's region."""
    retention: Retention
    window: Window
    restore_test_schedule: str
    """AWS cron expression, UTC."""
    lock: VaultLock | None = None
    air_gap: AirGap | None = None
    """None: no logically air-gapped copy."""
    protect: bool = False
    """Pulumi protect, no force-destroy, and a vault policy no one can delete points past."""

    def __post_init__(self) -> None:
        if self.air_gap is not None:
            shortest = min(self.retention.daily_days, self.retention.monthly_days)
            longest = max(self.retention.daily_days, self.retention.monthly_days)
            # CreateLogicallyAirGappedBackupVault: MinRetentionDays is at least 7.
            if shortest < AIR_GAP_MIN_DAYS:
                raise ValueError(
                    f"an air-gapped vault keeps points at least {AIR_GAP_MIN_DAYS} days; a rule keeps {shortest}"
                )
            if self.air_gap.max_days < longest:
                raise ValueError(
                    f"air-gapped max_days {self.air_gap.max_days} is below the longest rule's {longest} days"
                )
        regions = [site.region for site in self.sites]
        if not regions or len(set(regions)) != len(regions):
            raise ValueError(f"Backup needs one entry per site, each in its own region; got {regions}")
        for site in self.sites:
            if site.copies_to == site.region:
                raise ValueError(f"site {site.region} copies to its own region: a copy must survive the region")
            for role, region in (("its vault", site.region), ("its copies", site.copies_to)):
                if region is not None and region not in self.vault_key_arns:
                    raise ValueError(
                        f"site {site.region}: no backup vault key in {region} for {role} "
                        f"(keys in {sorted(self.vault_key_arns)}; with a standby, backupCopyRegion is its region)"
                    )

    @property
    def region(self) -> str:
        """The stack's region."""
        return self.sites[0].region


class Backup(pulumi.ComponentResource):
    """A locked vault per region; per site, a daily-continuous and a monthly rule copied to the
    other site's region and a selection of its data stores by ARN; restore testing per region."""

    vault_name: pulumi.Output[str]
    """The same in every region."""
    vault_arn: pulumi.Output[str]
    """The stack region's vault."""
    vault_arns: dict[str, pulumi.Output[str]]
    copy_vault_arn: pulumi.Output[str] | None
    """Where the stack region's site copies to; None: no copies."""
    plan_id: pulumi.Output[str]
    """The stack region's site's plan."""
    role_arn: pulumi.Output[str]
    restore_testing_plan_name: pulumi.Output[str]
    """The stack region's restore testing plan."""
    restore_testing_plan_names: dict[str, pulumi.Output[str]]
    air_gapped_vault_arns: dict[str, pulumi.Output[str]]
    """Per site region; empty without ``air_gap``."""

    def __init__(self, name: str, args: BackupArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("fintech:backup:Backup", name, None, opts)
        account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id

        vaults = {region: self._vault(name, args, key, region) for region, key in args.vault_key_arns.items()}
        air_gapped = (
            {site.region: self._air_gapped_vault(name, args, args.air_gap, site.region) for site in args.sites}
            if args.air_gap
            else {}
        )
        role_arn = self._role(name, account_id)
        plans = {site.region: self._plan(name, args, site, vaults, air_gapped.get(site.region)) for site in args.sites}
        for site in args.sites:
            self._selection(name, args, site, plans[site.region], role_arn)
        restore_plans = {
            site.region: self._restore_testing(name, args, site, vaults[site.region], role_arn) for site in args.sites
        }

        home = args.sites[0]
        self.vault_name = vaults[home.region].name
        self.vault_arn = vaults[home.region].arn
        self.vault_arns = {region: vault.arn for region, vault in vaults.items()}
        self.copy_vault_arn = vaults[home.copies_to].arn if home.copies_to else None
        self.plan_id = plans[home.region].id
        self.role_arn = role_arn
        self.restore_testing_plan_names = {region: plan.name for region, plan in restore_plans.items()}
        self.restore_testing_plan_name = self.restore_testing_plan_names[home.region]
        self.air_gapped_vault_arns = {region: vault.arn for region, vault in air_gapped.items()}
        self.register_outputs(
            {
                "vault_name": self.vault_name,
                "vault_arn": self.vault_arn,
                "vault_arns": self.vault_arns,
                "copy_vault_arn": self.copy_vault_arn,
                "plan_id": self.plan_id,
                "role_arn": self.role_arn,
                "restore_testing_plan_name": self.restore_testing_plan_name,
                "restore_testing_plan_names": self.restore_testing_plan_names,
                "air_gapped_vault_arns": self.air_gapped_vault_arns,
            }
        )

    @staticmethod
    def _where(args: BackupArgs, region: str) -> tuple[str | None, str]:
        """The ``region`` input (None in the stack's region, as the resources there were first
        declared: their inputs must not change) and the logical-name suffix for ``region``."""
        return (None, "") if region == args.region else (region, f"-{region}")

    def _vault(self, name: str, args: BackupArgs, key_arn: pulumi.Input[str], region: str) -> aws.backup.Vault:
        """A vault encrypted with its region's CMK, locked, and (protected stacks) guarded by policy.

        Returns the vault. Its logical names never change: a replaced locked vault loses the lock's
        guarantee and cannot be deleted (tests/unit/test_backup.py)."""
        region_input, suffix = self._where(args, region)
        vault = aws.backup.Vault(
            f"{name}-vault{suffix}",
            name=f"{name}-vault",
            kms_key_arn=key_arn,
            # Unprotected stacks must destroy cleanly; a protected vault keeps its points.
            force_destroy=not args.protect,
            region=region_input,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        if args.lock is not None:
            aws.backup.VaultLockConfiguration(
                f"{name}-vault-lock{suffix}",
                backup_vault_name=vault.name,
                min_retention_days=min(args.retention.daily_days, args.retention.monthly_days),
                max_retention_days=args.lock.max_days,
                # Set, the lock is in compliance mode: permanent once these days have passed.
                changeable_for_days=args.lock.changeable_days if args.lock.mode == "compliance" else None,
                region=region_input,
                # Every argument forces a replacement, and the new lock and the old are one vault's:
                # created first, the old one's deletion would leave the vault unlocked.
                opts=pulumi.ResourceOptions(parent=self, protect=args.protect, delete_before_replace=True),
            )
        if args.protect:
            aws.backup.VaultPolicy(
                f"{name}-vault-policy{suffix}",
                backup_vault_name=vault.name,
                policy=json.dumps(policies.backup_vault_policy()),
                region=region_input,
                # One policy per vault: a replacement must not delete the new one's (same object).
                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
            )
        return vault

    def _air_gapped_vault(
        self, name: str, args: BackupArgs, air_gap: AirGap, region: str
    ) -> aws.backup.LogicallyAirGappedVault:
        """A logically air-gapped vault in ``region``: AWS locks it in compliance mode and encrypts it
        with an AWS-owned key (no ``encryption_key_arn``: a key of this account would be the back
        door again). Its retention bounds are the standard vaults' lock bounds."""
        region_input, suffix = self._where(args, region)
        return aws.backup.LogicallyAirGappedVault(
            f"{name}-air-gapped-vault{suffix}",
            name=f"{name}-air-gapped",
            min_retention_days=min(args.retention.daily_days, args.retention.monthly_days),
            max_retention_days=air_gap.max_days,
            region=region_input,
            # Its points cannot be deleted before they expire, nor the vault while it holds any.
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )

    def _role(self, name: str, account_id: pulumi.Output[str]) -> pulumi.Output[str]:
        """The role AWS Backup backs up, copies and restores with, in every region (IAM is global);
        its ARN resolves once it holds its policies."""
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-role",
            description="AWS Backup: back up, copy and restore-test the Aurora cluster and archive buckets",
            assume_role_policy=account_id.apply(lambda acct: json.dumps(policies.backup_assume_role_policy(acct))),
            opts=child,
        )
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self)).partition
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{name}-role-{managed.rpartition('/')[2]}",
                role=role.name,
                policy_arn=pulumi.Output.concat("arn:", partition, ":iam::aws:policy/", managed),
                opts=child,
            )
            for managed in policies.BACKUP_MANAGED_POLICIES
        ]
        return pulumi.Output.all(role.arn, *[a.id for a in attachments]).apply(lambda v: str(v[0]))

    def _plan(
        self,
        name: str,
        args: BackupArgs,
        site: BackedUpSite,
        vaults: Mapping[str, aws.backup.Vault],
        air_gapped: aws.backup.LogicallyAirGappedVault | None,
    ) -> aws.backup.Plan:
        """The site's plan, in its region: both rules into its region's vault (S3 needs a bucket's
        continuous and periodic points in one vault), each copied to ``site.copies_to`` and to the
        air-gapped vault of the site's region (a same-region copy), if any."""
        hour, minute = (int(part) for part in args.window.start.split(":"))
        region_input, suffix = self._where(args, site.region)
        destinations = [vaults[site.copies_to].arn] if site.copies_to else []
        if air_gapped is not None:
            destinations.append(air_gapped.arn)

        def rule(rule_name: str, days: int, day_of_month: str, continuous: bool) -> aws.backup.PlanRuleArgs:
            # Cold storage is left out on purpose: AWS Backup supports it for neither Aurora nor S3.
            copies = [
                aws.backup.PlanRuleCopyActionArgs(
                    destination_vault_arn=destination,
                    lifecycle=aws.backup.PlanRuleCopyActionLifecycleArgs(delete_after=days),
                )
                for destination in destinations
            ]
            return aws.backup.PlanRuleArgs(
                rule_name=rule_name,
                target_vault_name=vaults[site.region].name,
                schedule=f"cron({minute} {hour} {day_of_month} * ? *)",
                schedule_expression_timezone="Etc/UTC",
                start_window=START_WINDOW_MINUTES,
                completion_window=args.window.minutes,
                enable_continuous_backup=continuous,
                lifecycle=aws.backup.PlanRuleLifecycleArgs(delete_after=days),
                copy_actions=copies or None,
            )

        return aws.backup.Plan(
            f"{name}-plan{suffix}",
            name=f"{name}-plan",
            rules=[
                # Continuous backup: point-in-time recovery for Aurora and S3, kept up to 35 days.
                # Its copies to the other region are snapshots (AWS Backup copies no PITR stream).
                rule(DAILY_RULE, args.retention.daily_days, "*", continuous=True),
                rule(MONTHLY_RULE, args.retention.monthly_days, "1", continuous=False),
            ],
            region=region_input,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _selection(
        self, name: str, args: BackupArgs, site: BackedUpSite, plan: aws.backup.Plan, role_arn: pulumi.Output[str]
    ) -> None:
        region_input, suffix = self._where(args, site.region)
        # By ARN: a tag-based selection would let anyone who can tag a resource take it out.
        aws.backup.Selection(
            f"{name}-selection{suffix}",
            name=f"{name}-data-stores",
            plan_id=plan.id,
            iam_role_arn=role_arn,
            resources=[site.cluster_arn, *(archive.bucket_arn for archive in site.archives)],
            region=region_input,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _restore_testing(
        self, name: str, args: BackupArgs, site: BackedUpSite, vault: aws.backup.Vault, role_arn: pulumi.Output[str]
    ) -> aws.backup.RestoreTestingPlan:
        """Restores, in the site's region, the newest Aurora and S3 points of the site and the
        newest copy of each other site's cluster (the region-loss restore) into the site's network;
        AWS Backup deletes each restored copy after the validation window. Failures reach the alert
        topic (monitoring tier)."""
        region_input, suffix = self._where(args, site.region)
        child = pulumi.ResourceOptions(parent=self)
        # Restore testing names allow letters, digits and underscores only.
        plan_name = f"{name}_restore_tests" + (f"_{site.region}" if region_input else "")
        plan_name = plan_name.replace("-", "_")
        if len(plan_name) > RESTORE_NAME_MAX:
            raise ValueError(f"restore testing plan name {plan_name!r} is longer than {RESTORE_NAME_MAX} characters")
        plan = aws.backup.RestoreTestingPlan(
            f"{name}-restore-tests{suffix}",
            name=plan_name,
            schedule_expression=args.restore_test_schedule,
            schedule_expression_timezone="Etc/UTC",
            start_window_hours=RESTORE_START_WINDOW_HOURS,
            recovery_point_selection=aws.backup.RestoreTestingPlanRecoveryPointSelectionArgs(
                algorithm="LATEST_WITHIN_WINDOW",
                include_vaults=[vault.arn],
                recovery_point_types=["CONTINUOUS", "SNAPSHOT"],
                selection_window_days=RESTORE_SELECTION_WINDOW_DAYS,
            ),
            region=region_input,
            opts=child,
        )
        # The provider's update never sends a changed protected_resource_arns (hashicorp/terraform-
        # provider-aws#48316: the apply "succeeds", AWS keeps the old ARNs, the diff comes back):
        # such a change replaces the selection, deleting first (its name is fixed within the plan).
        selection_options = pulumi.ResourceOptions(
            parent=self, replace_on_changes=["protectedResourceArns"], delete_before_replace=True
        )
        copied_from = [other for other in args.sites if other.copies_to == site.region]
        aurora = [("aurora", "", site.cluster_arn)]
        aurora += [("aurora_copy", "-copy", other.cluster_arn) for other in copied_from]
        for selection_name, role, cluster_arn in aurora:
            aws.backup.RestoreTestingSelection(
                f"{name}-restore-aurora{role}{suffix}",
                name=selection_name,
                restore_testing_plan_name=plan.name,
                protected_resource_type="Aurora",
                protected_resource_arns=[cluster_arn],
                iam_role_arn=role_arn,
                # The restored cluster goes to this site's database subnets, behind its database
                # security group: there is no default VPC for AWS Backup's inferred placement to use.
                restore_metadata_overrides={
                    "dbsubnetgroupname": site.db_subnet_group_name,
                    "vpcsecuritygroupids": pulumi.Output.from_input(site.db_security_group_id).apply(
                        lambda sg: json.dumps([sg])
                    ),
                },
                validation_window_hours=RESTORE_VALIDATION_HOURS,
                region=region_input,
                opts=selection_options,
            )
        for archive in site.archives:
            # One selection per archive: overrides apply to every resource of a selection, and each
            # archive has its own key. Without them AWS Backup infers the restored bucket's
            # encryption ("Restore testing inferred metadata"); with them the full copy restored
            # into this account is encrypted with the archive's own key, as the archive is.
            aws.backup.RestoreTestingSelection(
                f"{name}-restore-s3-{archive.role}{suffix}",
                name=f"s3_{archive.role}",
                restore_testing_plan_name=plan.name,
                protected_resource_type="S3",
                protected_resource_arns=[archive.bucket_arn],
                iam_role_arn=role_arn,
                restore_metadata_overrides={
                    "encryptiontype": S3_RESTORE_ENCRYPTION,
                    "kmskey": archive.key_arn,
                },
                validation_window_hours=RESTORE_VALIDATION_HOURS,
                region=region_input,
                opts=selection_options,
            )
        return plan
