"""Stack settings: every invalid value is named, with what is allowed, before anything is declared."""

from typing import Any

import pytest
import yaml

from components.settings import (
    CONFIG_KEYS,
    PROJECT,
    REGION_KEY,
    Settings,
    SettingsError,
    parse_settings,
    windows_overlap,
)
from offline.harness import PROJECT_DIR, ProgramError, known_stacks, run_stack, stack_config


def settings_for(stack: str, **overrides: Any) -> Settings:
    return parse_settings(stack_config(stack, overrides), stack=stack)


def problems_for(stack: str, **overrides: Any) -> list[str]:
    with pytest.raises(SettingsError) as excinfo:
        settings_for(stack, **overrides)
    return excinfo.value.problems


def test_shipped_stacks_are_valid_and_differ_where_it_matters() -> None:
    dev, prod = settings_for("dev"), settings_for("prod")
    assert (dev.environment, dev.env_suffix, dev.protect_data) == ("dev", "dev", False)
    assert (prod.environment, prod.env_suffix, prod.protect_data) == ("prod", "prod", True)
    assert prod.az_count == 3
    assert prod.nat_strategy == "per_az"
    assert prod.db_instance_count >= 2
    assert prod.alarm_emails
    assert dev.vpc_cidr != prod.vpc_cidr


def test_standard_tags_are_always_present() -> None:
    tags = settings_for("dev").tags
    assert tags == {
        "Application": "payments-platform",
        "CostCenter": "payments-eng",
        "Environment": "dev",
        "ManagedBy": "pulumi",
    }


def test_pulumi_yaml_declares_exactly_the_keys_the_program_reads() -> None:
    declared = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())["config"]
    project_keys = {k: v for k, v in declared.items() if ":" not in k}
    assert set(project_keys) == set(CONFIG_KEYS)
    for key, kind in CONFIG_KEYS.items():
        assert project_keys[key]["type"] == kind, key
        assert project_keys[key].get("description"), f"{key} has no description"


def test_stack_files_only_set_declared_keys() -> None:
    for stack in known_stacks():
        stack_keys = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())["config"]
        for key in stack_keys:
            namespace, _, short = key.partition(":")
            if namespace == PROJECT:
                assert short in CONFIG_KEYS, f"Pulumi.{stack}.yaml sets undeclared key {key}"


INVALID = [
    ("dev", "environment", "qa", "must be one of dev, staging, prod"),
    ("dev", "envSuffix", "Dev_1", "1-12 characters of a-z"),
    ("dev", "envSuffix", "averylongsuffix", "1-12 characters"),
    ("dev", "envSuffix", "dev-", "not ending with a hyphen"),
    ("dev", REGION_KEY, "mars-north", "AWS region code"),
    ("dev", REGION_KEY, "eu-west-9", "no AWS partition has a region eu-west-9"),
    ("prod", "standbyRegion", "eu-west-9", "the eu-west regions are eu-west-1, eu-west-2, eu-west-3"),
    ("prod", "primaryRegion", "eu-west-9", "no AWS partition has a region eu-west-9"),
    ("prod", "backupCopyRegion", "eu-wset-1", "did you mean eu-west-1?"),
    ("dev", "costCenter", "", "tag value"),
    ("dev", "vpcCidr", "10.0.0.0/8", "/16 to /20"),
    ("dev", "vpcCidr", "10.0.0.0/24", "/16 to /20"),
    ("dev", "vpcCidr", "10.0.0.1/16", "no host bits set"),
    ("dev", "vpcCidr", "8.8.0.0/16", "private (RFC 1918)"),
    ("dev", "vpcCidr", "not-a-cidr", "private (RFC 1918) IPv4 network"),
    ("dev", "azCount", "4", "must be 2 or 3"),
    ("dev", "azCount", "three", "must be 2 or 3"),
    ("prod", "azCount", "2", "must be 3 when environment is prod"),
    ("dev", "natStrategy", "gateway", "must be one of single, per_az"),
    ("prod", "natStrategy", "single", "must be per_az when environment is prod"),
    ("dev", "interfaceEndpoints", "maybe", "true or false"),
    ("dev", "flowLogRetentionDays", "30", "at least 90 days"),
    ("dev", "logRetentionDays", "100", "one of 90, 120"),
    ("prod", "protectData", "false", "must be true when environment is prod"),
    ("dev", "protectData", "yes", "true or false"),
    ("dev", "dbInstanceClass", "db.m5.large", "Aurora MySQL class"),
    ("prod", "dbInstanceClass", "db.t4g.medium", "must not be burstable"),
    ("dev", "dbInstanceCount", "0", "from 1 to 16"),
    ("dev", "dbInstanceCount", "17", "from 1 to 16"),
    ("prod", "dbInstanceCount", "1", "at least 2 when environment is prod"),
    ("dev", "dbEngineVersion", "8.0.mysql_aurora.2.11.2", "Aurora MySQL 3 version"),
    ("dev", "dbBackupRetentionDays", "3", "from 7 to 35 days"),
    ("prod", "dbBackupRetentionDays", "7", "at least 14 when environment is prod"),
    ("dev", "dbBackupWindow", "2am-3am", "daily UTC window"),
    ("dev", "dbBackupWindow", "02:00-02:15", "at least 30 minutes"),
    ("dev", "dbMaintenanceWindow", "sunday 4am", "weekly UTC window"),
    ("dev", "dbMaintenanceWindow", "sun:02:30-sun:03:30", "must not overlap dbBackupWindow (02:00-03:00)"),
    ("dev", "dbMonitoringIntervalSeconds", "2", "0 (off) or one of 1, 5, 10, 15, 30, 60"),
    ("prod", "dbMonitoringIntervalSeconds", "0", "must not be 0 when environment is prod"),
    ("dev", "dbInsightsRetentionDays", "30", "multiple of 31"),
    ("dev", "objectLockMode", "forever", "must be one of none, governance, compliance"),
    ("prod", "objectLockMode", "none", "must be governance or compliance when environment is prod"),
    ("dev", "objectLockDays", "0", "from 1 to 36500 days"),
    ("dev", "logBucketRetentionDays", "30", "from 90 to 36500 days"),
    ("prod", "logBucketRetentionDays", "180", "at least 365 when environment is prod"),
    ("dev", "healthCheckIntervalSeconds", "1", "from 5 to 300 seconds"),
    ("dev", "healthCheckUnhealthyThreshold", "1", "from 2 to 10 checks"),
    ("dev", "deregistrationDelaySeconds", "7200", "from 0 to 3600 seconds"),
    ("dev", "scheduleTimeZone", "Mars/Olympus_Mons", "IANA time zone"),
    ("dev", "detailedMonitoring", "sometimes", "true or false"),
    ("dev", "instanceType", "large", "EC2 instance type"),
    ("dev", "instanceType", "t3.humongous", "t3 comes in nano, micro, small, medium, large, xlarge, 2xlarge"),
    ("dev", "instanceType", "t9.large", "EC2 has no instance type t9.large"),
    ("dev", "dbInstanceClass", "db.r6g.humongous", "db.r6g comes in medium, large, xlarge"),
    ("dev", "dbInstanceClass", "db.r6g.metal", "db.r6g comes in"),
    ("dev", "appPort", "80", "1024 to 65535"),
    ("dev", "asgMaxSize", "1000", "from 1 to 100"),
    ("prod", "asgMinSize", "1", "at least 2 when environment is prod"),
    ("dev", "alarmEmails", '["not-an-email"]', "e-mail address"),
    ("dev", "alarmEmails", "oncall@example.com", "a list of e-mail addresses"),
    ("prod", "alarmEmails", "[]", "at least one address"),
    ("dev", "domainName", "Pay.Example.com", "lower-case DNS name"),
    ("dev", "hostedZoneId", "zone-1", "Route 53 hosted zone id"),
    ("dev", "wafBodySizeAction", "allow", "must be one of count, block"),
    ("prod", "codeSigning", "false", "must be true when environment is prod"),
    ("prod", "auditLockDays", "180", "at least 365 when environment is prod"),
    ("prod", "auditLockDays", "500", "must not exceed logBucketRetentionDays (400)"),
    ("dev", "auditLockDays", "0", "from 1 to 36500 days"),
]


@pytest.mark.parametrize(("stack", "key", "value", "allowed"), INVALID, ids=[f"{c[0]}-{c[1]}={c[2]}" for c in INVALID])
def test_each_invalid_value_is_named_with_what_is_allowed(stack: str, key: str, value: str, allowed: str) -> None:
    problems = problems_for(stack, **{key: value})
    full_key = key if ":" in key else f"{PROJECT}:{key}"
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{full_key} = "), problems[0]
    assert value.strip('[]"').lower() in problems[0].lower(), "the message shows the bad value"
    assert allowed in problems[0]


@pytest.mark.parametrize(
    ("overrides", "key", "allowed"),
    [
        ({"asgMinSize": 5, "asgMaxSize": 3, "asgDesiredCapacity": 4}, "asgMinSize", "must not exceed asgMaxSize (3)"),
        ({"asgDesiredCapacity": 9}, "asgDesiredCapacity", "between asgMinSize (1) and asgMaxSize (2)"),
        ({"domainName": "pay.example.com"}, "hostedZoneId", "must be set together"),
        ({"hostedZoneId": "Z0123456789ABC"}, "domainName", "must be set together"),
    ],
)
def test_inconsistent_values_name_the_key_to_fix(overrides: dict[str, Any], key: str, allowed: str) -> None:
    problems = problems_for("dev", **overrides)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{PROJECT}:{key} = ")
    assert allowed in problems[0]


def test_prod_requires_a_domain_for_end_to_end_tls() -> None:
    problems = problems_for("prod", domainName="", hostedZoneId="")
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{PROJECT}:domainName = ")
    assert "must be set when environment is prod" in problems[0]


@pytest.mark.parametrize("key", ["environment", "envSuffix", "costCenter", REGION_KEY])
def test_missing_required_value_is_named(key: str) -> None:
    problems = problems_for("dev", **{key: None})
    full_key = key if ":" in key else f"{PROJECT}:{key}"
    (problem,) = problems
    assert problem.startswith(f"{full_key} is missing: set it to ")


def test_every_problem_is_reported_in_one_error() -> None:
    with pytest.raises(SettingsError) as excinfo:
        settings_for("prod", vpcCidr="10.0.0.0/8", azCount="2", natStrategy="bogus", appPort="22")
    message = str(excinfo.value)
    assert "Stack 'prod' has 4 invalid configuration value(s)" in message
    assert "Pulumi.prod.yaml" in message
    for key in ("vpcCidr", "azCount", "natStrategy", "appPort"):
        assert f"{PROJECT}:{key} = " in message


def test_optional_domain_is_none_when_empty() -> None:
    settings = settings_for("dev")
    assert settings.domain_name is None
    assert settings.hosted_zone_id is None
    with_domain = settings_for("dev", domainName="pay.example.com", hostedZoneId="Z0123456789ABC")
    assert with_domain.domain_name == "pay.example.com"


def test_invalid_settings_declare_no_resource() -> None:
    with pytest.raises(ProgramError) as excinfo:
        run_stack("dev", {"vpcCidr": "10.0.0.0/8", "azCount": "7"})
    assert isinstance(excinfo.value.__cause__, SettingsError)
    assert len(excinfo.value.__cause__.problems) == 2
    assert excinfo.value.resources == []


def test_unknown_stack_names_the_known_ones() -> None:
    with pytest.raises(FileNotFoundError, match=r"known stacks: dev, prod"):
        stack_config("qa")


@pytest.mark.parametrize(
    ("backup", "maintenance", "overlap"),
    [
        ("02:00-03:00", "sun:04:00-sun:05:00", False),
        ("02:00-03:00", "sun:02:30-sun:03:30", True),
        ("02:00-03:00", "wed:01:00-wed:02:00", False),  # touching, not overlapping
        ("23:30-00:30", "mon:00:00-mon:01:00", True),  # the daily window wraps midnight
        ("23:30-00:30", "sun:23:45-mon:00:15", True),  # the weekly window wraps the week
        ("10:00-11:00", "sat:22:00-sun:02:00", False),
    ],
)
def test_backup_and_maintenance_window_overlap(backup: str, maintenance: str, overlap: bool) -> None:
    assert windows_overlap(backup, maintenance) is overlap


def test_pulumi_yaml_defaults_match_their_declared_types() -> None:
    declared = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())["config"]
    python_type = {"string": str, "integer": int, "boolean": bool, "array": list}
    for key, decl in declared.items():
        if "default" in decl:
            default = decl["default"]
            assert type(default) is python_type[decl["type"]], f"{key}: default {default!r} is not {decl['type']}"
        if decl["type"] == "array":
            assert decl["items"]["type"] == "string", key


def test_pulumi_yaml_defaults_alone_are_a_valid_prod_baseline() -> None:
    """A new stack that only names itself gets prod-grade defaults, not permissive ones."""
    raw = {f"{PROJECT}:{k}": v for k, v in {"environment": "staging", "envSuffix": "stg", "costCenter": "x"}.items()}
    declared = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())["config"]
    for key, decl in declared.items():
        if "default" in decl:
            value = decl["default"]
            raw[f"{PROJECT}:{key}"] = str(value).lower() if isinstance(value, bool) else str(value)
    raw[f"{PROJECT}:alarmEmails"] = "[]"
    raw[REGION_KEY] = "eu-west-1"
    settings = parse_settings(raw, stack="staging")
    assert settings.protect_data is True
    assert settings.nat_strategy == "per_az"
    assert settings.az_count == 3
    assert settings.object_lock_mode == "GOVERNANCE"
