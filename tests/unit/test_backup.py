"""Backup tier: a locked vault in each site's region, each site's stores selected by ARN in its own
region and copied to the other site's, rules copied with their retention, a role AWS Backup alone
assumes, restore tests (the region-loss restore included), the existing vaults never replaced,
and settings that refuse a backup design AWS would reject or that would not survive a region or an
admin."""

import json
import re
from typing import Any

import pytest

from components.between.backup import AirGap, BackupArgs, Retention, Window
from components.settings import PROJECT, SettingsError, parse_settings
from components.site.across_sites import ArchiveStore, SiteStores
from offline.harness import ResourceRecord, StackRun, run_stack, stack_config
from tests.helpers import doc, record_by_output

VAULT = "aws:backup/vault:Vault"
LOCK = "aws:backup/vaultLockConfiguration:VaultLockConfiguration"
PLAN = "aws:backup/plan:Plan"
SELECTION = "aws:backup/selection:Selection"
RESTORE_PLAN = "aws:backup/restoreTestingPlan:RestoreTestingPlan"
RESTORE_SELECTION = "aws:backup/restoreTestingSelection:RestoreTestingSelection"
AIR_GAPPED = "aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault"
CLUSTER = "aws:rds/cluster:Cluster"
BUCKET = "aws:s3/bucket:Bucket"
KEY = "aws:kms/key:Key"
STACK_REGION, COPY_REGION = "eu-west-1", "eu-central-1"
ARCHIVES = ("transaction-archive", "audit-log-archive")


@pytest.fixture(scope="module")
def both_sites() -> StackRun:
    """Prod with both sites (the module's ``prod`` is the stack region's site alone)."""
    return run_stack("prod")


def region_of(record: ResourceRecord) -> str:
    return str(record.inputs.get("region") or STACK_REGION)


def vaults(run: StackRun) -> dict[str, ResourceRecord]:
    return {region_of(v): v for v in run.of_type(VAULT)}


def by_region(run: StackRun, type_: str) -> dict[str, ResourceRecord]:
    found = run.of_type(type_)
    assert len({region_of(r) for r in found}) == len(found), f"one {type_} per region"
    return {region_of(r): r for r in found}


def rules(run: StackRun, region: str = STACK_REGION) -> dict[str, dict[str, Any]]:
    return {r["ruleName"]: r for r in by_region(run, PLAN)[region].inputs["rules"]}


def standard_copies(run: StackRun, rule: dict[str, Any]) -> list[dict[str, Any]]:
    """The rule's copies to a standard vault (to another region), leaving out the air-gapped copy."""
    arns = {v.state["arn"] for v in run.of_type(VAULT)}
    return [c for c in rule.get("copyActions") or [] if c["destinationVaultArn"] in arns]


def data_stores(run: StackRun) -> list[ResourceRecord]:
    archives = [b for b in run.of_type(BUCKET) if (b.inputs.get("tags") or {}).get("Purpose") in ARCHIVES]
    return [*run.of_type(CLUSTER), *archives]


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


def test_no_principal_may_delete_or_shorten_a_recovery_point_or_touch_the_policy(prod: StackRun) -> None:
    """AWS Config's backup-recovery-point-manual-deletion-disabled: a Deny of DeleteRecoveryPoint,
    UpdateRecoveryPointLifecycle and PutBackupVaultAccessPolicy with Principal and Resource "*" (the
    recovery-point actions are authorised against the points' ARNs, never the vault's); and the policy
    cannot be deleted either. Each is one object per vault: replaced delete-first."""
    required = {
        "backup:DeleteRecoveryPoint",
        "backup:UpdateRecoveryPointLifecycle",
        "backup:PutBackupVaultAccessPolicy",
    }
    policies = prod.of_type("aws:backup/vaultPolicy:VaultPolicy")
    assert {region_of(p) for p in policies} == {STACK_REGION, COPY_REGION}
    for policy in policies:
        assert policy.delete_before_replace
        (statement,) = doc(policy)["Statement"]
        assert statement["Effect"] == "Deny"
        assert statement["Principal"] in ("*", {"AWS": "*"})
        assert statement["Resource"] == "*"
        assert required | {"backup:DeleteBackupVaultAccessPolicy"} <= set(statement["Action"])
        assert "Condition" not in statement


def test_a_replaced_vault_lock_never_leaves_the_vault_unlocked(prod: StackRun) -> None:
    """Every VaultLockConfiguration argument forces a replacement; created before the old one is
    deleted, the deletion would unlock the vault the new one just locked (one lock per vault)."""
    locks = prod.of_type(LOCK)
    assert locks
    assert all(lock.delete_before_replace for lock in locks)


def test_each_sites_rules_are_daily_continuous_and_monthly_into_its_regions_vault(prod: StackRun) -> None:
    plans = by_region(prod, PLAN)
    assert set(plans) == {STACK_REGION, COPY_REGION}, "a plan per site, in the site's region"
    for region in plans:
        found = rules(prod, region)
        assert set(found) == {"daily-continuous", "monthly"}
        daily, monthly = found["daily-continuous"], found["monthly"]
        assert daily["enableContinuousBackup"] is True, "point-in-time recovery for Aurora and S3"
        assert daily["lifecycle"] == {"deleteAfter": 35}, "continuous backups keep at most 35 days, no cold storage"
        assert monthly.get("enableContinuousBackup") in (False, None)
        assert monthly["lifecycle"] == {"deleteAfter": 365}
        for rule in found.values():
            # S3: a bucket's continuous and periodic points must be in one vault (AWS Backup, "Amazon S3 backups").
            assert rule["targetVaultName"] == vaults(prod)[region].inputs["name"]


def test_each_sites_points_are_copied_to_the_other_sites_region_with_the_same_retention(prod: StackRun) -> None:
    other = {STACK_REGION: COPY_REGION, COPY_REGION: STACK_REGION}
    for region, destination in other.items():
        destination_arn = vaults(prod)[destination].state["arn"]
        assert f":{destination}:" in destination_arn
        for rule in rules(prod, region).values():
            (copy,) = standard_copies(prod, rule)
            assert copy["destinationVaultArn"] == destination_arn, f"{region} copies to {destination}"
            assert copy["lifecycle"] == rule["lifecycle"]


def test_jobs_start_and_finish_inside_the_backup_window(prod: StackRun) -> None:
    # backupWindow 22:00-01:00 UTC: start at 22:00 within the hour, complete within 3 hours.
    for region in (STACK_REGION, COPY_REGION):
        for name, rule in rules(prod, region).items():
            assert rule["scheduleExpressionTimezone"] == "Etc/UTC"
            assert rule["startWindow"] == 60
            assert rule["completionWindow"] == 180
            day = "1" if name == "monthly" else "*"
            assert rule["schedule"] == f"cron(0 22 {day} * ? *)"


def test_every_prod_store_is_selected_by_arn_in_its_own_region_into_a_locked_vault(both_sites: StackRun) -> None:
    """Each cluster (the standby's global secondary too) and each archive of either site: exactly one
    selection, in the store's region, of a plan in that region writing to that region's
    compliance-locked vault; so a switchover or failover leaves the writer and its archives backed up."""
    stores = data_stores(both_sites)
    assert len(stores) == 6, [s.name for s in stores]
    selections, plans = both_sites.of_type(SELECTION), both_sites.of_type(PLAN)
    locked = {region_of(lock) for lock in both_sites.of_type(LOCK) if lock.inputs.get("changeableForDays")}
    for store in stores:
        arn = store.state["arn"]
        mine = [s for s in selections if arn in s.inputs["resources"]]
        assert len(mine) == 1, f"{store.name} is in {len(mine)} selections (one continuous backup per resource)"
        (selection,) = mine
        (plan,) = [p for p in plans if p.id == selection.inputs["planId"]]
        assert region_of(selection) == region_of(plan) == store.region, f"{store.name}: selected in another region"
        assert {r["targetVaultName"] for r in plan.inputs["rules"]} == {vaults(both_sites)[store.region].inputs["name"]}
        assert store.region in locked, f"{store.name}: its region's vault is not compliance-locked"


def test_each_selection_is_exactly_its_sites_stores_by_arn(both_sites: StackRun) -> None:
    for selection in both_sites.of_type(SELECTION):
        region = region_of(selection)
        mine = [s for s in data_stores(both_sites) if s.region == region]
        assert sorted(selection.inputs["resources"]) == sorted(s.state["arn"] for s in mine)
        # Not by tag: anyone able to tag a resource could take it out of the backups.
        assert not selection.inputs.get("selectionTags")
        assert not selection.inputs.get("conditions")
    for bucket in [s for s in data_stores(both_sites) if s.type == BUCKET]:
        versioning = [
            v for v in both_sites.of_type("aws:s3/bucketVersioning:BucketVersioning") if v.inputs["bucket"] == bucket.id
        ]
        assert versioning[0].inputs["versioningConfiguration"]["status"] == "Enabled", "S3 backup needs versioning"


def test_the_backup_role_is_assumed_by_aws_backup_of_this_account_with_exactly_the_managed_policies(
    prod: StackRun,
) -> None:
    selections = prod.of_type(SELECTION)
    assert len({s.inputs["iamRoleArn"] for s in selections}) == 1, "one role (IAM is global) for every region"
    selection = selections[0]
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
    # Each selection is created only once the role holds its policies.
    role_attachments = {
        a.urn
        for a in prod.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if a.inputs["role"] == role.state["name"]
    }
    for each in selections:
        assert role_attachments <= set(each.property_dependencies["iamRoleArn"])


def restore_selections(run: StackRun, plan: ResourceRecord) -> dict[str, ResourceRecord]:
    return {
        s.inputs["name"]: s
        for s in run.of_type(RESTORE_SELECTION)
        if s.inputs["restoreTestingPlanName"] == plan.inputs["name"] and region_of(s) == region_of(plan)
    }


def test_restore_tests_restore_each_sites_latest_aurora_and_s3_points_in_its_region(both_sites: StackRun) -> None:
    plans = by_region(both_sites, RESTORE_PLAN)
    assert set(plans) == {STACK_REGION, COPY_REGION}, "a restore testing plan in each site's region"
    for region, plan in plans.items():
        assert re.fullmatch(r"\w{1,50}", plan.inputs["name"]), "restore testing names take letters, digits and _ only"
        assert plan.inputs["scheduleExpression"] == "cron(0 9 8 * ? *)"
        points = plan.inputs["recoveryPointSelection"]
        assert points["algorithm"] == "LATEST_WITHIN_WINDOW"
        assert points["includeVaults"] == [vaults(both_sites)[region].state["arn"]], "its own region's vault"
        assert set(points["recoveryPointTypes"]) == {"CONTINUOUS", "SNAPSHOT"}
        found = restore_selections(both_sites, plan)
        assert set(found) == {"aurora", "aurora_copy", "s3_data", "s3_audit"}
        (cluster,) = [c for c in both_sites.of_type(CLUSTER) if c.region == region]
        aurora = found["aurora"]
        assert aurora.inputs["protectedResourceType"] == "Aurora"
        assert aurora.inputs["protectedResourceArns"] == [cluster.state["arn"]]
        overrides = aurora.inputs["restoreMetadataOverrides"]
        assert overrides["dbsubnetgroupname"] == cluster.inputs["dbSubnetGroupName"]
        assert json.loads(overrides["vpcsecuritygroupids"]) == cluster.inputs["vpcSecurityGroupIds"]
        (backup_selection,) = [s for s in both_sites.of_type(SELECTION) if region_of(s) == region]
        s3 = [found["s3_data"], found["s3_audit"]]
        assert {s.inputs["protectedResourceType"] for s in s3} == {"S3"}
        assert sorted(a for s in s3 for a in s.inputs["protectedResourceArns"]) == sorted(
            arn for arn in backup_selection.inputs["resources"] if arn.startswith("arn:aws:s3:::")
        )
        for selection_record in found.values():
            assert re.fullmatch(r"\w{1,50}", selection_record.inputs["name"])
            assert selection_record.inputs["iamRoleArn"] == backup_selection.inputs["iamRoleArn"]
            assert 1 <= selection_record.inputs["validationWindowHours"] <= 168


def test_a_copied_point_of_the_other_site_is_restore_tested_into_this_sites_network(both_sites: StackRun) -> None:
    """The region-loss restore: in each region, the newest copy of the OTHER site's cluster (in this
    region's vault, where the other site's plan copies it) restored into this site's database
    subnets behind this site's database security group."""
    clusters = {c.region: c for c in both_sites.of_type(CLUSTER)}
    other = {STACK_REGION: COPY_REGION, COPY_REGION: STACK_REGION}
    for region, plan in by_region(both_sites, RESTORE_PLAN).items():
        copied = restore_selections(both_sites, plan)["aurora_copy"]
        source, here = clusters[other[region]], clusters[region]
        assert copied.inputs["protectedResourceType"] == "Aurora"
        assert copied.inputs["protectedResourceArns"] == [source.state["arn"]], "the other site's cluster"
        # Its copies are in this region's vault, the one the plan picks points from.
        copy_targets = {
            c["destinationVaultArn"]
            for r in rules(both_sites, other[region]).values()
            for c in standard_copies(both_sites, r)
        }
        assert copy_targets == set(plan.inputs["recoveryPointSelection"]["includeVaults"])
        overrides = copied.inputs["restoreMetadataOverrides"]
        assert overrides["dbsubnetgroupname"] == here.inputs["dbSubnetGroupName"], "into this site's subnets"
        assert json.loads(overrides["vpcsecuritygroupids"]) == here.inputs["vpcSecurityGroupIds"]
        (group,) = json.loads(overrides["vpcsecuritygroupids"])
        assert both_sites.by_id(group).region == region
        assert [
            g.region
            for g in both_sites.of_type("aws:rds/subnetGroup:SubnetGroup")
            if g.state.get("name") == overrides["dbsubnetgroupname"]
        ] == [region]


# What prod's first `up` made, as committed before each site had its own backups (#24 item 6): the
# logical name and the component types above it are the resource's URN; these inputs force a
# replacement (terraform-provider-aws: a vault's name, key and region, every lock argument). A
# replaced locked vault is a disaster: the old one cannot be deleted and its lock date restarts.
# (logical name): (type, region input, inputs with their committed values)
_KEY = "arn:aws:kms:{region}:123456789012:key/fintech-prod-sec-backup{suffix}-key-"
PINNED: dict[str, tuple[str, str | None, dict[str, Any]]] = {
    "fintech-prod-backup-vault": (VAULT, None, {"name": "fintech-prod-backup-vault", "forceDestroy": False}),
    "fintech-prod-backup-vault-eu-central-1": (
        VAULT,
        COPY_REGION,
        {"name": "fintech-prod-backup-vault", "forceDestroy": False},
    ),
    **{
        f"fintech-prod-backup-vault-lock{suffix}": (
            LOCK,
            region,
            {
                "backupVaultName": "fintech-prod-backup-vault",
                "minRetentionDays": 35,
                "maxRetentionDays": 3650,
                "changeableForDays": 3,
            },
        )
        for suffix, region in (("", None), ("-eu-central-1", COPY_REGION))
    },
    **{
        f"fintech-prod-backup-vault-policy{suffix}": (
            "aws:backup/vaultPolicy:VaultPolicy",
            region,
            {"backupVaultName": "fintech-prod-backup-vault"},
        )
        for suffix, region in (("", None), ("-eu-central-1", COPY_REGION))
    },
    "fintech-prod-backup-plan": (PLAN, None, {"name": "fintech-prod-backup-plan"}),
    "fintech-prod-backup-selection": (SELECTION, None, {"name": "fintech-prod-backup-data-stores"}),
    "fintech-prod-backup-restore-tests": (RESTORE_PLAN, None, {"name": "fintech_prod_backup_restore_tests"}),
}


def type_chain(run: StackRun, record: ResourceRecord) -> list[str]:
    """The types from the top-level component down to ``record``: with its logical name, its URN."""
    by_urn = {r.urn: r for r in run.resources}
    chain = [record.type]
    while record.parent in by_urn:
        record = by_urn[record.parent]
        chain.insert(0, record.type)
    return chain


@pytest.mark.parametrize("logical_name", sorted(PINNED))
def test_the_existing_vaults_locks_and_home_plan_keep_their_identity(prod: StackRun, logical_name: str) -> None:
    type_, region, inputs = PINNED[logical_name]
    found = [r for r in prod.resources if r.name == logical_name]
    assert len(found) == 1, f"{logical_name} is gone or renamed: the engine would replace it (add an alias)"
    (record,) = found
    assert type_chain(prod, record) == ["fintech:backup:Backup", type_], "a new parent type changes the URN"
    assert record.inputs.get("region") == region, "a region input given or dropped may replace it"
    for key, value in inputs.items():
        assert record.inputs[key] == value, f"{logical_name}.{key} changed: a replacement"
    if type_ in (VAULT, LOCK):
        assert record.protect, "a prod vault and its lock stay Pulumi-protected"
    if type_ == VAULT:
        suffix = "" if region is None else f"-{region}"
        assert record.inputs["kmsKeyArn"].startswith(_KEY.format(region=region or STACK_REGION, suffix=suffix))
        assert record.provider.rsplit("::", 1)[0].endswith("fintech-prod-aws"), "the stack region's provider"


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
    assert not run.of_type(AIR_GAPPED), "governance: no air-gapped copy"


def _site(region: str, copies_to: str | None) -> SiteStores:
    return SiteStores(region, "cluster", (ArchiveStore("data", "bucket", "key"),), "subnets", "sg", copies_to)


@pytest.mark.parametrize(
    ("keys", "sites", "says"),
    [
        ({STACK_REGION: "k"}, [_site(STACK_REGION, STACK_REGION)], "copies to its own region"),
        ({STACK_REGION: "k"}, [_site(STACK_REGION, COPY_REGION)], f"no backup vault key in {COPY_REGION}"),
        (
            {STACK_REGION: "k", "us-east-1": "k"},
            [_site(STACK_REGION, COPY_REGION), _site(COPY_REGION, STACK_REGION)],
            "backupCopyRegion is its region",
        ),
        ({STACK_REGION: "k"}, [_site(STACK_REGION, None), _site(STACK_REGION, None)], "each in its own region"),
    ],
)
def test_backup_args_refuse_a_site_without_a_vault_or_a_copy_that_survives_no_region(
    keys: dict[str, str], sites: list[SiteStores], says: str
) -> None:
    with pytest.raises(ValueError, match=says):
        BackupArgs(keys, sites, Retention(35, 365), Window("22:00", 180), "cron(0 9 8 * ? *)")


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


def test_a_restore_test_selection_whose_resources_change_is_replaced_delete_first(prod: StackRun) -> None:
    """terraform-provider-aws#48316: an update of protected_resource_arns never reaches AWS. A change
    must replace the selection instead, deleting the old one first: its name is fixed in its plan."""
    selections = prod.of_type("aws:backup/restoreTestingSelection:RestoreTestingSelection")
    assert selections
    for selection in selections:
        assert "protectedResourceArns" in selection.replace_on_changes, selection.name
        assert selection.delete_before_replace, selection.name


def test_aws_backup_owns_the_clusters_retention_once_it_backs_them_up(prod: StackRun, dev: StackRun) -> None:
    """With continuous backup by AWS Backup, the cluster's retention follows the recovery point's and
    RDS refuses another value: the program sets it at creation and never changes it after. dev (no
    AWS Backup) keeps managing it."""
    for cluster in prod.of_type("aws:rds/cluster:Cluster"):
        assert "backupRetentionPeriod" in cluster.ignore_changes, cluster.name
    for cluster in dev.of_type("aws:rds/cluster:Cluster"):
        assert "backupRetentionPeriod" not in cluster.ignore_changes


# --------------------------------------------------------------------------- #25 item 4: the air-gapped copy


def test_prod_has_an_air_gapped_vault_in_each_site_region_with_an_aws_owned_key(both_sites: StackRun) -> None:
    """AWS Backup, "Logically air-gapped vault": compliance-locked by AWS, encrypted with an AWS-owned
    key by default (a customer-managed key is optional; ours would be the back door again).
    CreateLogicallyAirGappedBackupVault: MinRetentionDays >= 7; the bounds are the standard lock's."""
    found = by_region(both_sites, AIR_GAPPED)
    assert set(found) == {STACK_REGION, COPY_REGION}, "one per site region, each site copying within its region"
    for vault in found.values():
        assert not vault.inputs.get("encryptionKeyArn"), "the AWS-owned key: no key of the account to delete"
        assert vault.inputs["minRetentionDays"] == 35, "the shortest rule's; AWS's own minimum is 7"
        assert vault.inputs["maxRetentionDays"] == 3650
        assert vault.inputs["name"] == "fintech-prod-backup-air-gapped"
        assert vault.protect
    assert set(found) == {region_of(v) for v in both_sites.of_type(VAULT)}


def test_every_rule_of_every_site_copies_to_its_regions_air_gapped_vault_with_the_rules_retention(
    both_sites: StackRun,
) -> None:
    gapped = by_region(both_sites, AIR_GAPPED)
    for region in (STACK_REGION, COPY_REGION):
        for name, rule in rules(both_sites, region).items():
            mine = [c for c in rule["copyActions"] if c["destinationVaultArn"] == gapped[region].state["arn"]]
            assert len(mine) == 1, f"{region} {name}: no copy to the air-gapped vault of its region"
            assert mine[0]["lifecycle"] == rule["lifecycle"]
            lowest, highest = gapped[region].inputs["minRetentionDays"], gapped[region].inputs["maxRetentionDays"]
            assert lowest <= mine[0]["lifecycle"]["deleteAfter"] <= highest, "a copy outside the bounds fails"


def test_dev_has_no_air_gapped_vault(dev: StackRun) -> None:
    assert not dev.of_type(AIR_GAPPED)


@pytest.mark.parametrize(
    ("retention", "air_gap", "says"),
    [
        (Retention(5, 365), AirGap(3650), "at least 7 days"),
        (Retention(35, 365), AirGap(100), "below the longest rule"),
    ],
)
def test_backup_args_refuse_an_air_gap_aws_would_refuse(retention: Retention, air_gap: AirGap, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        BackupArgs(
            {STACK_REGION: "k"},
            [_site(STACK_REGION, None)],
            retention,
            Window("22:00", 180),
            "cron(0 9 8 * ? *)",
            air_gap=air_gap,
        )


# --------------------------------------------------------------------------- #25 item 9: restored archives' key


def test_each_archives_restore_test_restores_it_encrypted_with_the_archives_own_key(both_sites: StackRun) -> None:
    """AWS Backup, "Restore testing inferred metadata": without overrides the restored bucket's
    encryption is inferred; the S3 restore metadata's EncryptionType and KMSKey set it. One selection
    per archive (the overrides apply to all of a selection's resources), with that archive's key."""
    sse = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    archives = {s.state["arn"]: s for s in data_stores(both_sites) if s.type == BUCKET}
    seen = set()
    for selection in both_sites.of_type(RESTORE_SELECTION):
        if selection.inputs["protectedResourceType"] != "S3":
            continue
        (arn,) = selection.inputs["protectedResourceArns"]
        bucket = archives[arn]
        (config,) = [c for c in both_sites.of_type(sse) if c.inputs["bucket"] == bucket.id]
        (rule,) = config.inputs["rules"]
        archive_key = rule["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"]
        overrides = {k.lower(): v for k, v in selection.inputs["restoreMetadataOverrides"].items()}
        assert overrides == {"encryptiontype": "SSE-KMS", "kmskey": archive_key}, selection.name
        assert region_of(selection) == bucket.region
        seen.add(arn)
    assert seen == set(archives), "every archive is restore-tested"
