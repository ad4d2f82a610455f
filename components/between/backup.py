"""Backup tier: AWS Backup of the data stores into locked vaults, copied to a second region, restore-tested.

Prod's data already survives a mistaken ``pulumi destroy`` (protect, deletion protection, final
snapshot, Object Lock); this tier makes it survive someone with admin rights in the account and a
region outage: recovery points live in vaults whose lock (compliance mode) nobody in the account,
root included, can lift once its grace period is over, and every point is copied to a vault in
another region. A restore testing plan restores the latest points on a schedule to prove them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

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


@dataclass(frozen=True)
class BackupArgs:
    vault_key_arn: pulumi.Input[str]
    """CMK of the vault in the stack's region."""
    cluster_arn: pulumi.Input[str]
    bucket_arns: Sequence[pulumi.Input[str]]
    """Versioned buckets (S3 backup requires versioning)."""
    db_subnet_group_name: pulumi.Input[str]
    """Where an Aurora restore test puts the restored cluster (not in a default VPC)."""
    db_security_group_id: pulumi.Input[str]
    retention: Retention
    window: Window
    restore_test_schedule: str
    """AWS cron expression, UTC."""
    lock: VaultLock | None = None
    copy_region: str | None = None
    copy_vault_key_arn: pulumi.Input[str] | None = None
    """CMK of the copy vault, in ``copy_region``."""
    protect: bool = False
    """Pulumi protect, no force-destroy, and a vault policy no one can delete points past."""


class Backup(pulumi.ComponentResource):
    """Locked vaults (stack region and copy region), a daily-continuous and a monthly rule, a
    selection of the data stores by ARN, and restore testing."""

    vault_name: pulumi.Output[str]
    vault_arn: pulumi.Output[str]
    copy_vault_arn: pulumi.Output[str] | None
    plan_id: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    restore_testing_plan_name: pulumi.Output[str]

    def __init__(self, name: str, args: BackupArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("fintech:backup:Backup", name, None, opts)
        if (args.copy_region is None) != (args.copy_vault_key_arn is None):
            raise ValueError("copy_region and copy_vault_key_arn are given together, or neither")
        account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id

        vault = self._vault(name, args, args.vault_key_arn, region=None)
        copy_vault = None
        if args.copy_region:
            copy_vault = self._vault(name, args, args.copy_vault_key_arn, region=args.copy_region)
        role_arn = self._role(name, account_id)
        plan = self._plan(name, args, vault, copy_vault)
        self._selection(name, args, plan, role_arn)
        restore_plan = self._restore_testing(name, args, vault, role_arn)

        self.vault_name = vault.name
        self.vault_arn = vault.arn
        self.copy_vault_arn = copy_vault.arn if copy_vault else None
        self.plan_id = plan.id
        self.role_arn = role_arn
        self.restore_testing_plan_name = restore_plan.name
        self.register_outputs(
            {
                "vault_name": self.vault_name,
                "vault_arn": self.vault_arn,
                "copy_vault_arn": self.copy_vault_arn,
                "plan_id": self.plan_id,
                "role_arn": self.role_arn,
                "restore_testing_plan_name": self.restore_testing_plan_name,
            }
        )

    def _vault(
        self, name: str, args: BackupArgs, key_arn: pulumi.Input[str] | None, *, region: str | None
    ) -> aws.backup.Vault:
        """A vault encrypted with its region's CMK, locked, and (protected stacks) guarded by policy.

        Returns the vault; ``region`` None is the stack's region."""
        suffix = "" if region is None else f"-{region}"
        vault = aws.backup.Vault(
            f"{name}-vault{suffix}",
            name=f"{name}-vault",
            kms_key_arn=key_arn,
            # Unprotected stacks must destroy cleanly; a protected vault keeps its points.
            force_destroy=not args.protect,
            region=region,
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
                region=region,
                opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
            )
        if args.protect:
            aws.backup.VaultPolicy(
                f"{name}-vault-policy{suffix}",
                backup_vault_name=vault.name,
                policy=vault.arn.apply(lambda arn: json.dumps(policies.backup_vault_policy(arn))),
                region=region,
                opts=pulumi.ResourceOptions(parent=self),
            )
        return vault

    def _role(self, name: str, account_id: pulumi.Output[str]) -> pulumi.Output[str]:
        """The role AWS Backup backs up, copies and restores with; its ARN resolves once it holds its policies."""
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
        self, name: str, args: BackupArgs, vault: aws.backup.Vault, copy_vault: aws.backup.Vault | None
    ) -> aws.backup.Plan:
        hour, minute = (int(part) for part in args.window.start.split(":"))

        def rule(rule_name: str, days: int, day_of_month: str, continuous: bool) -> aws.backup.PlanRuleArgs:
            # Cold storage is left out on purpose: AWS Backup supports it for neither Aurora nor S3.
            copies = [
                aws.backup.PlanRuleCopyActionArgs(
                    destination_vault_arn=destination.arn,
                    lifecycle=aws.backup.PlanRuleCopyActionLifecycleArgs(delete_after=days),
                )
                for destination in ([copy_vault] if copy_vault else [])
            ]
            return aws.backup.PlanRuleArgs(
                rule_name=rule_name,
                target_vault_name=vault.name,
                schedule=f"cron({minute} {hour} {day_of_month} * ? *)",
                schedule_expression_timezone="Etc/UTC",
                start_window=START_WINDOW_MINUTES,
                completion_window=args.window.minutes,
                enable_continuous_backup=continuous,
                lifecycle=aws.backup.PlanRuleLifecycleArgs(delete_after=days),
                copy_actions=copies or None,
            )

        return aws.backup.Plan(
            f"{name}-plan",
            name=f"{name}-plan",
            rules=[
                # Continuous backup: point-in-time recovery for Aurora and S3, kept up to 35 days.
                # Its copies to the other region are snapshots (AWS Backup copies no PITR stream).
                rule(DAILY_RULE, args.retention.daily_days, "*", continuous=True),
                rule(MONTHLY_RULE, args.retention.monthly_days, "1", continuous=False),
            ],
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _selection(self, name: str, args: BackupArgs, plan: aws.backup.Plan, role_arn: pulumi.Output[str]) -> None:
        # By ARN: a tag-based selection would let anyone who can tag a resource take it out.
        aws.backup.Selection(
            f"{name}-selection",
            name=f"{name}-data-stores",
            plan_id=plan.id,
            iam_role_arn=role_arn,
            resources=[args.cluster_arn, *args.bucket_arns],
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _restore_testing(
        self, name: str, args: BackupArgs, vault: aws.backup.Vault, role_arn: pulumi.Output[str]
    ) -> aws.backup.RestoreTestingPlan:
        """Restores the newest Aurora and S3 points on a schedule; AWS Backup deletes each restored
        copy after the validation window. Failures reach the alert topic (monitoring tier)."""
        child = pulumi.ResourceOptions(parent=self)
        # Restore testing names allow letters, digits and underscores only.
        plan = aws.backup.RestoreTestingPlan(
            f"{name}-restore-tests",
            name=f"{name.replace('-', '_')}_restore_tests",
            schedule_expression=args.restore_test_schedule,
            schedule_expression_timezone="Etc/UTC",
            start_window_hours=RESTORE_START_WINDOW_HOURS,
            recovery_point_selection=aws.backup.RestoreTestingPlanRecoveryPointSelectionArgs(
                algorithm="LATEST_WITHIN_WINDOW",
                include_vaults=[vault.arn],
                recovery_point_types=["CONTINUOUS", "SNAPSHOT"],
                selection_window_days=RESTORE_SELECTION_WINDOW_DAYS,
            ),
            opts=child,
        )
        aws.backup.RestoreTestingSelection(
            f"{name}-restore-aurora",
            name="aurora",
            restore_testing_plan_name=plan.name,
            protected_resource_type="Aurora",
            protected_resource_arns=[args.cluster_arn],
            iam_role_arn=role_arn,
            # The restored cluster goes to the database subnets, behind the database's security
            # group: there is no default VPC for AWS Backup's inferred placement to use.
            restore_metadata_overrides={
                "dbsubnetgroupname": args.db_subnet_group_name,
                "vpcsecuritygroupids": pulumi.Output.from_input(args.db_security_group_id).apply(
                    lambda sg: json.dumps([sg])
                ),
            },
            validation_window_hours=RESTORE_VALIDATION_HOURS,
            opts=child,
        )
        aws.backup.RestoreTestingSelection(
            f"{name}-restore-s3",
            name="s3",
            restore_testing_plan_name=plan.name,
            protected_resource_type="S3",
            protected_resource_arns=list(args.bucket_arns),
            iam_role_arn=role_arn,
            validation_window_hours=RESTORE_VALIDATION_HOURS,
            opts=child,
        )
        return plan
