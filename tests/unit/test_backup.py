"""Backup tier: locked vaults in two regions, rules copied with their retention, exactly the data
stores selected by ARN, a role AWS Backup alone assumes, restore tests, and settings that refuse
a backup design AWS would reject or that would not survive a region or an admin."""

import json
import re
from typing import Any

import pytest

from components.settings import PROJECT, SettingsError, parse_settings
from offline.harness import ResourceRecord, StackRun, run_stack, stack_config
from tests.helpers import doc, record_by_output

VAULT = "aws:backup/vault:Vault"
LOCK = "aws:backup/vaultLockConfiguration:VaultLockConfiguration"
PLAN = "aws:backup/plan:Plan"
SELECTION = "aws:backup/selection:Selection"
KEY = "aws:kms/key:Key"
STACK_REGION, COPY_REGION = "eu-west-1", "eu-central-1"


def region_of(record: ResourceRecord) -> str:
    return str(record.inputs.get("region") or STACK_REGION)


def vaults(run: StackRun) -> dict[str, ResourceRecord]:
    return {region_of(v): v for v in run.of_type(VAULT)}


def rules(run: StackRun) -> dict[str, dict[str, Any]]:
    (plan,) = run.of_type(PLAN)
    return {r["ruleName"]: r for r in plan.inputs["rules"]}


def test_dev_has_no_backup_tier_and_no_backup_key(dev: StackRun) -> None:
    assert not [r for r in dev.resources if r.type.startswith("aws:backup/")]
    assert "backup" not in dev.outputs["kms_key_arns"]
    assert not dev.of_type("aws:cloudwatch/eventRule:EventRule")


def test_a_vault_in_each_region_encrypted_with_that_regions_backup_key(prod: StackRun) -> None:
    found = vaults(prod)
    assert set(found) == {STACK_REGION, COPY_REGION}
    for region, vault in found.items():
        key = record_by_output(prod, vault.inputs["kmsKeyArn"])
        assert region_of(key) == region, "a vault's key lives in the vault's region"
        assert key.inputs["description"].endswith("AWS Backup vault (recovery points)")
        assert key.inputs["enableKeyRotation"] is True
        statements = {s["Sid"]: s for s in doc(key)["Statement"]}
        via = statements["UseThroughBackupAndRds"]["Condition"]["StringEquals"]
        assert via["kms:ViaService"] == [f"backup.{region}.amazonaws.com", f"rds.{region}.amazonaws.com"]
        assert via["kms:CallerAccount"] == "123456789012"
        assert vault.protect, "a prod vault is Pulumi-protected"
        assert vault.inputs["forceDestroy"] is False


def test_prod_vaults_are_locked_in_compliance_mode_with_the_retention_bounds(prod: StackRun) -> None:
    locks = {region_of(lock): lock for lock in prod.of_type(LOCK)}
    assert set(locks) == {STACK_REGION, COPY_REGION}
    for region, lock in locks.items():
        assert lock.inputs["backupVaultName"] == vaults(prod)[region].inputs["name"]
        # changeableForDays set is compliance mode; AWS requires at least 3 days of grace.
        assert lock.inputs["changeableForDays"] == 3
        # The minimum is the shortest rule's retention: a shorter job would be refused by the vault.
        assert lock.inputs["minRetentionDays"] == 35 == min(r["lifecycle"]["deleteAfter"] for r in rules(prod).values())
        assert lock.inputs["maxRetentionDays"] >= max(r["lifecycle"]["deleteAfter"] for r in rules(prod).values())
        assert lock.protect


def test_no_principal_may_delete_or_shorten_a_recovery_point(prod: StackRun) -> None:
    policies = prod.of_type("aws:backup/vaultPolicy:VaultPolicy")
    assert {region_of(p) for p in policies} == {STACK_REGION, COPY_REGION}
    for policy in policies:
        vault = vaults(prod)[region_of(policy)]
        (statement,) = doc(policy)["Statement"]
        assert statement["Effect"] == "Deny"
        assert statement["Principal"] == {"AWS": "*"}
        assert statement["Action"] == ["backup:DeleteRecoveryPoint", "backup:UpdateRecoveryPointLifecycle"]
        assert statement["Resource"] == vault.state["arn"]
        assert "Condition" not in statement


def test_daily_continuous_and_monthly_rules_copy_to_the_other_region_with_the_same_retention(prod: StackRun) -> None:
    found = rules(prod)
    assert set(found) == {"daily-continuous", "monthly"}
    daily, monthly = found["daily-continuous"], found["monthly"]
    assert daily["enableContinuousBackup"] is True, "point-in-time recovery for Aurora and S3"
    assert daily["lifecycle"] == {"deleteAfter": 35}, "continuous backups keep at most 35 days, no cold storage"
    assert monthly.get("enableContinuousBackup") in (False, None)
    assert monthly["lifecycle"] == {"deleteAfter": 365}
    copy_vault_arn = vaults(prod)[COPY_REGION].state["arn"]
    assert f":{COPY_REGION}:" in copy_vault_arn
    for rule in found.values():
        assert rule["targetVaultName"] == vaults(prod)[STACK_REGION].inputs["name"]
        (copy,) = rule["copyActions"]
        assert copy["destinationVaultArn"] == copy_vault_arn
        assert copy["lifecycle"] == rule["lifecycle"]


def test_jobs_start_and_finish_inside_the_backup_window(prod: StackRun) -> None:
    # backupWindow 22:00-01:00 UTC: start at 22:00 within the hour, complete within 3 hours.
    for name, rule in rules(prod).items():
        assert rule["scheduleExpressionTimezone"] == "Etc/UTC"
        assert rule["startWindow"] == 60
        assert rule["completionWindow"] == 180
        day = "1" if name == "monthly" else "*"
        assert rule["schedule"] == f"cron(0 22 {day} * ? *)"


def test_the_selection_is_exactly_the_data_stores_by_arn(prod: StackRun) -> None:
    (selection,) = prod.of_type(SELECTION)
    cluster = prod.one("aws:rds/cluster:Cluster")
    archives = [
        b
        for b in prod.of_type("aws:s3/bucket:Bucket")
        if b.inputs["tags"]["Purpose"] in ("transaction-archive", "audit-log-archive")
    ]
    assert len(archives) == 2
    assert sorted(selection.inputs["resources"]) == sorted([cluster.state["arn"], *(b.state["arn"] for b in archives)])
    # Not by tag: anyone able to tag a resource could take it out of the backups.
    assert not selection.inputs.get("selectionTags")
    assert not selection.inputs.get("conditions")
    (plan,) = prod.of_type(PLAN)
    assert selection.inputs["planId"] == plan.id
    for bucket in archives:
        versioning = [
            v for v in prod.of_type("aws:s3/bucketVersioning:BucketVersioning") if v.inputs["bucket"] == bucket.id
        ]
        assert versioning[0].inputs["versioningConfiguration"]["status"] == "Enabled", "S3 backup needs versioning"


def test_the_backup_role_is_assumed_by_aws_backup_of_this_account_with_exactly_the_managed_policies(
    prod: StackRun,
) -> None:
    (selection,) = prod.of_type(SELECTION)
    role = record_by_output(prod, selection.inputs["iamRoleArn"])
    (statement,) = doc(role, "assumeRolePolicy")["Statement"]
    assert statement["Principal"] == {"Service": "backup.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    attached = sorted(
        a.inputs["policyArn"]
        for a in prod.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if a.inputs["role"] == role.state["name"]
    )
    assert attached == [
        "arn:aws:iam::aws:policy/AWSBackupServiceRolePolicyForS3Backup",
        "arn:aws:iam::aws:policy/AWSBackupServiceRolePolicyForS3Restore",
        "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
        "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
    ]
    assert not [p for p in prod.of_type("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == role.state["name"]]
    # The selection is created only once the role holds its policies.
    role_attachments = {
        a.urn
        for a in prod.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if a.inputs["role"] == role.state["name"]
    }
    assert role_attachments <= set(selection.property_dependencies["iamRoleArn"])


def test_restore_tests_restore_the_latest_aurora_and_s3_points_on_schedule(prod: StackRun) -> None:
    (plan,) = prod.of_type("aws:backup/restoreTestingPlan:RestoreTestingPlan")
    assert re.fullmatch(r"\w{1,50}", plan.inputs["name"]), "restore testing names take letters, digits and _ only"
    assert plan.inputs["scheduleExpression"] == "cron(0 9 8 * ? *)"
    selection = plan.inputs["recoveryPointSelection"]
    assert selection["algorithm"] == "LATEST_WITHIN_WINDOW"
    assert selection["includeVaults"] == [vaults(prod)[STACK_REGION].state["arn"]]
    assert set(selection["recoveryPointTypes"]) == {"CONTINUOUS", "SNAPSHOT"}
    by_type = {
        s.inputs["protectedResourceType"]: s
        for s in prod.of_type("aws:backup/restoreTestingSelection:RestoreTestingSelection")
    }
    assert set(by_type) == {"Aurora", "S3"}
    cluster = prod.one("aws:rds/cluster:Cluster")
    aurora = by_type["Aurora"]
    assert aurora.inputs["protectedResourceArns"] == [cluster.state["arn"]]
    overrides = aurora.inputs["restoreMetadataOverrides"]
    assert overrides["dbsubnetgroupname"] == cluster.inputs["dbSubnetGroupName"]
    assert json.loads(overrides["vpcsecuritygroupids"]) == [prod.outputs["security_group_ids"]["database"]]
    (backup_selection,) = prod.of_type(SELECTION)
    assert sorted(by_type["S3"].inputs["protectedResourceArns"]) == sorted(
        arn for arn in backup_selection.inputs["resources"] if arn.startswith("arn:aws:s3:::")
    )
    for selection_record in by_type.values():
        assert re.fullmatch(r"\w{1,50}", selection_record.inputs["name"])
        assert selection_record.inputs["restoreTestingPlanName"] == plan.inputs["name"]
        assert selection_record.inputs["iamRoleArn"] == backup_selection.inputs["iamRoleArn"]
        assert 1 <= selection_record.inputs["validationWindowHours"] <= 168


def test_a_disposable_stack_with_backups_destroys_cleanly() -> None:
    run = run_stack(
        "dev",
        {"backupEnabled": "true", "backupLockMode": "governance", "dbBackupRetentionDays": "35"},
    )
    (vault,) = run.of_type(VAULT)
    assert vault.inputs["forceDestroy"] is True
    assert not vault.protect
    (lock,) = run.of_type(LOCK)
    assert "changeableForDays" not in lock.inputs, "governance: removable by an administrator"
    assert not run.of_type("aws:backup/vaultPolicy:VaultPolicy"), "nothing blocks deleting its points"
    (plan,) = run.of_type(PLAN)
    assert all(not r.get("copyActions") for r in plan.inputs["rules"]), "no copy region, no copies"


def problems(stack: str, **overrides: Any) -> list[str]:
    with pytest.raises(SettingsError) as excinfo:
        parse_settings(stack_config(stack, overrides), stack=stack)
    return excinfo.value.problems


@pytest.mark.parametrize(
    ("stack", "overrides", "key", "says"),
    [
        ("prod", {"backupCopyRegion": STACK_REGION}, "backupCopyRegion", "must differ from aws:region"),
        ("prod", {"backupCopyRegion": ""}, "backupCopyRegion", "must be set when environment is prod"),
        ("prod", {"backupLockMode": "governance"}, "backupLockMode", "must be compliance"),
        ("prod", {"backupEnabled": "false"}, "backupEnabled", "must be true"),
        (
            "prod",
            {"backupDailyRetentionDays": 14, "dbBackupRetentionDays": 14},
            "backupDailyRetentionDays",
            "at least 35",
        ),
        ("prod", {"backupDailyRetentionDays": 0}, "backupDailyRetentionDays", "from 1 to 35"),
        ("prod", {"backupMonthlyRetentionDays": 180}, "backupMonthlyRetentionDays", "at least 365"),
        ("prod", {"backupLockChangeableDays": 2}, "backupLockChangeableDays", "from 3 to 365"),
        (
            "prod",
            {"backupLockMaxRetentionDays": 300},
            "backupLockMaxRetentionDays",
            "at least backupMonthlyRetentionDays",
        ),
        ("prod", {"backupWindow": "01:30-04:00"}, "backupWindow", "must not overlap dbBackupWindow"),
        (
            "prod",
            {"backupWindow": "00:00-03:30", "dbBackupWindow": "05:00-05:30"},
            "backupWindow",
            "an hour before dbMaintenanceWindow",
        ),
        ("prod", {"backupWindow": "22:00-23:00"}, "backupWindow", "at least 2 hours"),
        ("prod", {"backupRestoreTestSchedule": "cron(0 9 8 * * *)"}, "backupRestoreTestSchedule", "AWS cron"),
        ("prod", {"dbBackupRetentionDays": 14}, "dbBackupRetentionDays", "must equal backupDailyRetentionDays"),
        (
            "dev",
            {"backupEnabled": "true", "backupLockMode": "compliance", "dbBackupRetentionDays": 35},
            "backupLockMode",
            "compliance needs protectData true",
        ),
    ],
)
def test_a_bad_backup_setting_is_named_with_what_is_allowed(
    stack: str, overrides: dict[str, Any], key: str, says: str
) -> None:
    found = problems(stack, **overrides)
    assert len(found) == 1, found
    assert found[0].startswith(f"{PROJECT}:{key} = "), found
    assert says in found[0], found


def test_every_bad_backup_setting_is_reported_at_once() -> None:
    found = problems("dev", backupEnabled="true", backupLockMode="compliance", backupDailyRetentionDays=0)
    keys = sorted(p.split(" ", 1)[0] for p in found)
    assert keys == [f"{PROJECT}:backupDailyRetentionDays", f"{PROJECT}:backupLockMode"], found


def test_a_window_meeting_the_weekly_maintenance_on_one_day_is_refused() -> None:
    # 03:30-06:00 daily meets sun:04:00-sun:05:00 (and its lead hour) only on Sunday, which is enough to refuse it.
    found = problems("prod", backupWindow="03:30-06:00")
    assert "dbMaintenanceWindow" in found[0]
    settings = parse_settings(
        stack_config("prod", {"backupWindow": "03:30-06:00", "dbMaintenanceWindow": "sun:10:00-sun:11:00"}),
        stack="prod",
    )
    assert settings.backup_window == "03:30-06:00"
