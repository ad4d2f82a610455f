"""The policy pack: both stacks pass, every policy sees real resources, and every policy fails a bad one."""

import copy
from pathlib import Path
from typing import Any

import pytest

from offline.harness import StackRun, run_stack
from offline.policy_check import Violation, evaluate, load_policy_config
from policypack.rules import APPLIES_TO, POLICIES, TRAIL_TYPE

POLICY_BY_NAME = {p.name: p for p in POLICIES}
# The policies only prod enforces, switched on as policypack/prod.json does.
PROTECTED: dict[str, dict[str, bool]] = {
    **{name: {"protectData": True} for name in ("prod-data-protected", "prod-backups-locked")},
    "prod-audit-trail": {"requireAuditTrail": True},
}

PRELUDE = """
import json
import pulumi, pulumi_aws as aws
tags = {"Application": "a", "CostCenter": "c", "Environment": "e", "ManagedBy": "pulumi"}
p = aws.Provider("p", region="eu-west-1", default_tags=aws.ProviderDefaultTagsArgs(tags=tags))
o = pulumi.ResourceOptions(provider=p)
"""

BAD = {
    "cmk-encryption-at-rest": (
        'aws.cloudwatch.LogGroup("bad-logs", retention_in_days=90, opts=o)',
        "bad-logs",
        "kmsKeyId",
    ),
    "s3-cmk-encryption": (
        'b = aws.s3.Bucket("bad-bucket", opts=o)\n'
        'aws.s3.BucketServerSideEncryptionConfiguration("bad-sse", bucket=b.id, rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}], opts=o)',
        "bad-sse",
        "sseAlgorithm",
    ),
    "aurora-tls-required": (
        'g = aws.rds.ClusterParameterGroup("bad-params", family="aurora-mysql8.0", parameters=[{"name": "require_secure_transport", "value": "OFF"}], opts=o)\n'
        'aws.rds.Cluster("bad-cluster", engine="aurora-mysql", db_cluster_parameter_group_name=g.name, opts=o)',
        "bad-cluster",
        "require_secure_transport",
    ),
    "alb-tls13": (
        'aws.lb.Listener("bad-listener", load_balancer_arn="arn", port=443, protocol="HTTPS", ssl_policy="ELBSecurityPolicy-2016-08", default_actions=[{"type": "forward", "target_group_arn": "tg"}], opts=o)',
        "bad-listener",
        "sslPolicy",
    ),
    "cloudfront-https-only": (
        'aws.cloudfront.Distribution("bad-cdn", enabled=True, web_acl_id="acl", origins=[{"origin_id": "o", "domain_name": "x.example.com"}], default_cache_behavior={"target_origin_id": "o", "viewer_protocol_policy": "allow-all", "allowed_methods": ["GET", "HEAD"], "cached_methods": ["GET", "HEAD"]}, restrictions={"geo_restriction": {"restriction_type": "none"}}, viewer_certificate={"cloudfront_default_certificate": True}, opts=o)',
        "bad-cdn",
        "viewerProtocolPolicy",
    ),
    "s3-tls-only": ('aws.s3.Bucket("bad-open-bucket", opts=o)', "bad-open-bucket", "bucket policy"),
    "imdsv2-required": (
        'aws.ec2.LaunchTemplate("bad-template", metadata_options={"http_tokens": "optional", "http_put_response_hop_limit": 2}, opts=o)',
        "bad-template",
        "httpTokens",
    ),
    "no-public-ingress": (
        'aws.vpc.SecurityGroupIngressRule("bad-ssh", security_group_id="sg", ip_protocol="tcp", from_port=22, to_port=22, cidr_ipv4="0.0.0.0/0", opts=o)',
        "bad-ssh",
        "0.0.0.0/0",
    ),
    "no-iam-wildcards": (
        'aws.iam.RolePolicy("bad-policy", role="r", policy=json.dumps({"Version": "2012-10-17", "Statement": [{"Sid": "All", "Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}), opts=o)',
        "bad-policy",
        "Action",
    ),
    "kms-rotation": ('aws.kms.Key("bad-key", enable_key_rotation=False, opts=o)', "bad-key", "enableKeyRotation"),
    "s3-public-access-block": (
        'aws.s3.Bucket("bad-public-bucket", opts=o)',
        "bad-public-bucket",
        "public access block",
    ),
    "secret-rotation": ('aws.secretsmanager.Secret("bad-secret", kms_key_id="k", opts=o)', "bad-secret", "rotation"),
    "log-retention": (
        'aws.cloudwatch.LogGroup("bad-short-logs", retention_in_days=30, kms_key_id="k", opts=o)',
        "bad-short-logs",
        "retentionInDays",
    ),
    "prod-data-protected": (
        'aws.rds.Cluster("bad-prod-cluster", engine="aurora-mysql", deletion_protection=False, skip_final_snapshot=True, opts=o)',
        "bad-prod-cluster",
        "deletionProtection",
    ),
    "prod-backups-locked": (
        'aws.rds.Cluster("bad-unbacked-cluster", engine="aurora-mysql", opts=o)',
        "bad-unbacked-cluster",
        "AWS Backup",
    ),
    "prod-audit-trail": (
        'archive = aws.s3.Bucket("trail-archive", tags={"Purpose": "audit-log-archive"}, opts=o)\n'
        'aws.cloudtrail.Trail("bad-trail", s3_bucket_name=archive.bucket, is_multi_region_trail=True, enable_log_file_validation=False, kms_key_id="arn:aws:kms:eu-west-1:123456789012:key/k", advanced_event_selectors=[{"name": "archive", "field_selectors": [{"field": "eventCategory", "equals": ["Data"]}, {"field": "resources.type", "equals": ["AWS::S3::Object"]}, {"field": "resources.ARN", "starts_withs": [archive.arn.apply(lambda a: f"{a}/")]}]}], opts=o)',
        "bad-trail",
        "enableLogFileValidation",
    ),
    "vpc-flow-logs": ('aws.ec2.Vpc("bad-vpc", cidr_block="10.0.0.0/16", opts=o)', "bad-vpc", "flow logs"),
    "waf-on-cloudfront": (
        'aws.cloudfront.Distribution("bad-unprotected-cdn", enabled=True, origins=[{"origin_id": "o", "domain_name": "x.example.com"}], default_cache_behavior={"target_origin_id": "o", "viewer_protocol_policy": "redirect-to-https", "allowed_methods": ["GET", "HEAD"], "cached_methods": ["GET", "HEAD"]}, restrictions={"geo_restriction": {"restriction_type": "none"}}, viewer_certificate={"cloudfront_default_certificate": True}, opts=o)',
        "bad-unprotected-cdn",
        "webAclId",
    ),
    "required-tags": (
        'bare = aws.Provider("bare", region="eu-west-1")\n'
        'aws.ec2.Vpc("bad-untagged-vpc", cidr_block="10.0.0.0/16", opts=pulumi.ResourceOptions(provider=bare))',
        "bad-untagged-vpc",
        "CostCenter",
    ),
}


def test_pack_and_program_agree_on_unscopable_actions() -> None:
    """The pack runs on its own (no import of components/), so it keeps its own copy."""
    from components import policies
    from policypack import rules

    assert rules.UNSCOPABLE_ACTIONS == policies.UNSCOPABLE_ACTIONS


def test_every_policy_has_a_failing_case() -> None:
    assert set(BAD) == set(POLICY_BY_NAME)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_both_stacks_pass_every_policy(stack: str, dev: StackRun, prod: StackRun) -> None:
    run = dev if stack == "dev" else prod
    assert evaluate(run) == []


@pytest.mark.parametrize("name", sorted(APPLIES_TO))
def test_no_policy_passes_vacuously(name: str, dev: StackRun, prod: StackRun) -> None:
    for run in (dev, prod):
        seen = [r for r in run.resources if r.type in APPLIES_TO[name]]
        assert seen, f"{name} inspects no resource of the {run.stack} stack"


@pytest.mark.parametrize("name", sorted(BAD))
def test_each_policy_fails_a_bad_resource_with_a_useful_message(tmp_path: Path, name: str) -> None:
    source, resource, prop = BAD[name]
    program = tmp_path / "bad.py"
    program.write_text(PRELUDE + source + "\n")
    run = run_stack("dev", program=program)
    violations = evaluate(run, [POLICY_BY_NAME[name]], PROTECTED)
    mine = [v for v in violations if resource in v.message]
    assert mine, f"{name} did not flag {resource}: {violations}"
    message = mine[0].message
    assert prop in message, message
    assert " is " in message, "the message shows the value found"
    assert "Fix: " in message, "the message says how to fix it"
    assert all(v.policy == name for v in violations)


def test_prod_protection_is_only_enforced_when_configured(tmp_path: Path) -> None:
    program = tmp_path / "bad.py"
    program.write_text(PRELUDE + BAD["prod-data-protected"][0] + "\n")
    run = run_stack("dev", program=program)
    policy = [POLICY_BY_NAME["prod-data-protected"]]
    assert evaluate(run, policy, {"prod-data-protected": {"protectData": False}}) == []
    assert evaluate(run, policy, {"prod-data-protected": {"protectData": True}})


def test_the_prod_pack_config_turns_protection_on() -> None:
    import json

    config = json.loads((Path(__file__).resolve().parents[2] / "policypack" / "prod.json").read_text())
    assert config == {
        "prod-data-protected": {"protectData": True},
        "prod-backups-locked": {"protectData": True},
        "prod-audit-trail": {"requireAuditTrail": True},
    }


def test_the_pack_rejects_an_unprotected_prod() -> None:
    prod_config = load_policy_config("prod")
    run = run_stack("prod", {"protectData": "true"})
    assert evaluate(run, config=prod_config) == []
    unprotected = run_stack("dev")
    flagged = evaluate(unprotected, config=prod_config)
    assert {v.policy for v in flagged} == {"prod-data-protected", "prod-backups-locked"}
    assert any("deletionProtection" in v.message for v in flagged)
    assert any("compliance mode" in v.message for v in flagged), "dev's vaults are not compliance-locked"


@pytest.mark.parametrize("purpose", ["transaction-archive", "audit-log-archive"])
def test_prod_archives_must_be_locked_and_protected(tmp_path: Path, purpose: str) -> None:
    program = tmp_path / "bad.py"
    program.write_text(PRELUDE + f'aws.s3.Bucket("bad-archive", tags={{"Purpose": "{purpose}"}}, opts=o)\n')
    run = run_stack("dev", program=program)
    flagged = evaluate(run, [POLICY_BY_NAME["prod-data-protected"]], {"prod-data-protected": {"protectData": True}})
    assert {m for v in flagged for m in ("objectLockEnabled", "Pulumi protect") if m in v.message} == {
        "objectLockEnabled",
        "Pulumi protect",
    }


# --------------------------------------------------------------------------- prod-backups-locked

COMPLIANCE_LOCK = "changeable_for_days=3, min_retention_days=35, max_retention_days=3650, "
GOVERNANCE_LOCK = "min_retention_days=35, max_retention_days=3650, "


def _backed_up(
    *,
    selected: str = "cluster.arn, archive.arn",
    lock: str | None = COMPLIANCE_LOCK,
    purpose: str = "transaction-archive",
    plan_vault: str = "vault",
    air_gapped: bool = True,
) -> str:
    """A cluster, an archive and a plain bucket; ``selected`` is backed up to ``plan_vault``, ``vault`` has
    ``lock``; with ``air_gapped`` the rule also copies to a logically air-gapped vault."""
    copy = (
        ', "copy_actions": [{"destination_vault_arn": gapped.arn, "lifecycle": {"delete_after": 35}}]'
        if air_gapped
        else ""
    )
    lines = [
        'cluster = aws.rds.Cluster("store-cluster", engine="aurora-mysql", opts=o)',
        f'archive = aws.s3.Bucket("store-archive", tags={{"Purpose": "{purpose}"}}, opts=o)',
        'aws.s3.Bucket("plain-bucket", tags={"Purpose": "assets"}, opts=o)',
        'vault = aws.backup.Vault("vault", name="payments-vault", opts=o)',
        'other_vault = aws.backup.Vault("other-vault", name="other-vault", opts=o)',
        'aws.backup.VaultLockConfiguration("other-lock", backup_vault_name=other_vault.name, changeable_for_days=3, opts=o)',
        'gapped = aws.backup.LogicallyAirGappedVault("gapped", name="payments-air-gapped", min_retention_days=35, '
        "max_retention_days=3650, opts=o)",
        f'plan = aws.backup.Plan("plan", name="payments", rules=[{{"rule_name": "daily", "target_vault_name": {plan_vault}.name, '
        f'"schedule": "cron(0 22 * * ? *)", "lifecycle": {{"delete_after": 35}}{copy}}}], opts=o)',
        f'aws.backup.Selection("selection", name="stores", plan_id=plan.id, iam_role_arn="arn:aws:iam::123456789012:role/backup", '
        f"resources=[{selected}], opts=o)",
    ]
    if lock is not None:
        lines.append(f'aws.backup.VaultLockConfiguration("lock", backup_vault_name=vault.name, {lock}opts=o)')
    return PRELUDE + "\n".join(lines) + "\n"


def _backup_violations(tmp_path: Path, source: str, protect_data: bool = True) -> list[Violation]:
    program = tmp_path / "backups.py"
    program.write_text(source)
    run = run_stack("dev", program=program)
    name = "prod-backups-locked"
    return evaluate(run, [POLICY_BY_NAME[name]], {name: {"protectData": protect_data}})


def _reported(violations: list[Violation]) -> list[str]:
    """The resources reported, one entry per violation."""
    return sorted(v.message.split(" ", 1)[0] for v in violations)


@pytest.mark.parametrize("purpose", ["transaction-archive", "audit-log-archive"])
def test_data_stores_backed_up_to_a_compliance_locked_vault_pass(tmp_path: Path, purpose: str) -> None:
    assert _backup_violations(tmp_path, _backed_up(purpose=purpose)) == []


@pytest.mark.parametrize("purpose", ["transaction-archive", "audit-log-archive"])
def test_an_archive_left_out_of_the_selection_is_reported(tmp_path: Path, purpose: str) -> None:
    violations = _backup_violations(tmp_path, _backed_up(selected="cluster.arn", purpose=purpose))
    assert _reported(violations) == ["store-archive"]
    (violation,) = violations
    assert str(violation.urn).endswith("::store-archive"), "reported on the bucket itself"
    assert violation.message.startswith("store-archive (aws:s3/bucket:Bucket): AWS Backup is []. Fix: ")
    assert "compliance mode" in violation.message


def test_a_locked_vault_without_an_air_gapped_copy_covers_no_store(tmp_path: Path) -> None:
    """#25 item 4: the compliance lock keeps points, not the keys they are encrypted with; a copy in a
    logically air-gapped vault (AWS-owned key) is what survives an admin deleting the account's keys."""
    violations = _backup_violations(tmp_path, _backed_up(air_gapped=False))
    assert _reported(violations) == ["store-archive", "store-cluster"]
    assert all('"selection -> plan -> vault (compliance, no air-gapped copy)"' in v.message for v in violations)
    assert all("logically air-gapped vault" in v.message for v in violations)


def test_prod_without_its_air_gapped_copies_fails() -> None:
    run = run_stack("prod")
    policy = [POLICY_BY_NAME["prod-backups-locked"]]
    config = {"prod-backups-locked": {"protectData": True}}
    assert evaluate(run, policy, config) == []
    cut = copy.deepcopy(run)
    cut.resources = [r for r in cut.resources if r.type != "aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault"]
    assert len(cut.resources) == len(run.resources) - 2
    assert len(evaluate(cut, policy, config)) == 6, "both sites' cluster and two archives"


def test_a_governance_lock_covers_no_store(tmp_path: Path) -> None:
    violations = _backup_violations(tmp_path, _backed_up(lock=GOVERNANCE_LOCK))
    assert _reported(violations) == ["store-archive", "store-cluster"]
    assert all('"selection -> plan -> vault (governance)"' in v.message for v in violations)


def test_an_unlocked_vault_covers_no_store(tmp_path: Path) -> None:
    violations = _backup_violations(tmp_path, _backed_up(lock=None))
    assert _reported(violations) == ["store-archive", "store-cluster"]
    assert all('"selection -> plan -> vault (unlocked)"' in v.message for v in violations)


def test_only_a_lock_on_the_vault_the_plan_writes_to_counts(tmp_path: Path) -> None:
    """other-vault is compliance-locked in every program: it covers the stores once the plan writes to it."""
    assert _reported(_backup_violations(tmp_path, _backed_up(lock=None))) == ["store-archive", "store-cluster"]
    assert _backup_violations(tmp_path, _backed_up(lock=None, plan_vault="other_vault")) == []


def test_a_selection_without_a_plan_of_the_stack_covers_nothing(tmp_path: Path) -> None:
    source = _backed_up().replace("plan_id=plan.id", 'plan_id="plan-made-elsewhere"')
    violations = _backup_violations(tmp_path, source)
    assert _reported(violations) == ["store-archive", "store-cluster"]
    assert all('"selection -> no plan of this stack"' in v.message for v in violations)


def test_backups_are_only_enforced_when_configured(tmp_path: Path) -> None:
    source = _backed_up(selected="", lock=None)
    assert _backup_violations(tmp_path, source, protect_data=False) == []
    program = tmp_path / "backups.py"
    program.write_text(source)
    assert evaluate(run_stack("dev", program=program), [POLICY_BY_NAME["prod-backups-locked"]], {}) == []
    assert _reported(_backup_violations(tmp_path, source)) == ["store-archive", "store-cluster"]


def _standby_stores(run: StackRun) -> set[str]:
    return {
        r.name
        for r in run.standby().resources
        if r.type == "aws:rds/cluster:Cluster"
        or (r.type == "aws:s3/bucket:Bucket" and (r.inputs.get("tags") or {}).get("Purpose", "").endswith("archive"))
    }


def test_an_unprotected_standby_store_is_reported_replica_or_not() -> None:
    """The standby's global secondary and replicated archives hold the writer and the live archives
    after a switchover or failover: each needs its own selection in its region; replicating a
    backed-up store is no exemption."""
    run = run_stack("prod")
    policy = [POLICY_BY_NAME["prod-backups-locked"]]
    config = {"prod-backups-locked": {"protectData": True}}
    assert evaluate(run, policy, config) == []
    standby_stores = _standby_stores(run)
    assert len(standby_stores) == 3
    cut = copy.deepcopy(run)
    cut.resources = [
        r
        for r in cut.resources
        if not (r.type == "aws:backup/selection:Selection" and r.inputs.get("region") == run.setting("standbyRegion"))
    ]
    assert len(cut.resources) == len(run.resources) - 1
    # The global database and the replication rules are still there: they cover nothing.
    assert [r for r in cut.resources if r.type == "aws:rds/globalCluster:GlobalCluster"]
    assert [r for r in cut.resources if r.type == "aws:s3/bucketReplicationConfig:BucketReplicationConfig"]
    flagged = {str(v.urn).rsplit("::", 1)[-1] for v in evaluate(cut, policy, config)}
    assert flagged == standby_stores


def test_a_store_selected_by_a_plan_of_another_region_is_reported(tmp_path: Path) -> None:
    """AWS Backup backs a resource up only through a plan of its region: a store in eu-central-1 in
    an eu-west-1 selection, or an eu-central-1 plan writing to a locked vault elsewhere, is unprotected."""
    elsewhere = (
        'q = aws.Provider("q", region="eu-central-1", default_tags=aws.ProviderDefaultTagsArgs(tags=tags))\n'
        "oq = pulumi.ResourceOptions(provider=q)\n"
    )
    source = _backed_up().replace(
        'cluster = aws.rds.Cluster("store-cluster", engine="aurora-mysql", opts=o)',
        elsewhere + 'cluster = aws.rds.Cluster("store-cluster", engine="aurora-mysql", opts=oq)',
    )
    violations = _backup_violations(tmp_path, source)
    assert _reported(violations) == ["store-cluster"]
    assert "not the store's eu-central-1" in violations[0].message
    assert "its own region" in violations[0].message


# --------------------------------------------------------------------------- no-public-ingress

PUBLIC_INGRESS = """
sg = aws.ec2.SecurityGroup("web", vpc_id="vpc-1", opts=o)
def rule(name, protocol, low, high, **source):
    aws.vpc.SecurityGroupIngressRule(name, security_group_id=sg.id, ip_protocol=protocol, from_port=low, to_port=high, opts=o, **source)
rule("range-443-65535", "tcp", 443, 65535, cidr_ipv4="0.0.0.0/0")
rule("range-80-443", "tcp", 80, 443, cidr_ipv4="0.0.0.0/0")
rule("all-protocols-443", "-1", 443, 443, cidr_ipv6="::/0")
rule("udp-443", "udp", 443, 443, cidr_ipv4="0.0.0.0/0")
rule("exact-443", "tcp", 443, 443, cidr_ipv4="0.0.0.0/0")
rule("exact-80", "tcp", 80, 80, cidr_ipv6="::/0")
rule("private-range", "tcp", 0, 65535, cidr_ipv4="10.0.0.0/8")
aws.ec2.SecurityGroupRule("legacy-range", type="ingress", security_group_id=sg.id, protocol="tcp", from_port=443, to_port=65535, cidr_blocks=["0.0.0.0/0"], opts=o)
aws.ec2.SecurityGroupRule("legacy-exact-443", type="ingress", security_group_id=sg.id, protocol="tcp", from_port=443, to_port=443, cidr_blocks=["0.0.0.0/0"], opts=o)
aws.ec2.SecurityGroupRule("legacy-egress", type="egress", security_group_id=sg.id, protocol="-1", from_port=0, to_port=0, cidr_blocks=["0.0.0.0/0"], opts=o)
aws.ec2.SecurityGroup("inline-all", vpc_id="vpc-1", ingress=[{"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_blocks": ["0.0.0.0/0"]}], opts=o)
"""


def test_public_ingress_admits_exactly_tcp_80_and_443(tmp_path: Path) -> None:
    """#26: a public range that merely starts at 443 (443-65535) or ends at it is not port 443; protocol -1
    admits every port whatever the range says; a SecurityGroupRule of type ingress is a public rule too."""
    program = tmp_path / "ingress.py"
    program.write_text(PRELUDE + PUBLIC_INGRESS)
    violations = evaluate(run_stack("dev", program=program), [POLICY_BY_NAME["no-public-ingress"]], {})
    flagged = {v.message.split(" ", 1)[0]: v.message for v in violations}
    assert set(flagged) == {
        "range-443-65535",
        "range-80-443",
        "all-protocols-443",
        "udp-443",
        "legacy-range",
        "inline-all",
    }
    assert "ingress 0.0.0.0/0 on tcp 443-65535" in flagged["range-443-65535"]
    assert "all protocols and ports (-1)" in flagged["all-protocols-443"]
    assert "from_port == to_port" in flagged["legacy-range"]


# --------------------------------------------------------------------------- prod-audit-trail

TRAIL_STACK = """
data = aws.s3.Bucket("data-archive", tags={"Purpose": "transaction-archive"}, opts=o)
audit = aws.s3.Bucket("audit-archive", tags={"Purpose": "audit-log-archive"}, opts=o)
aws.s3.Bucket("plain-bucket", tags={"Purpose": "assets"}, opts=o)
def objects(bucket):
    return bucket.arn.apply(lambda a: f"{a}/")
def own_logs(bucket):
    return bucket.arn.apply(lambda a: f"{a}/cloudtrail/")
"""
DATA = [
    {"field": "eventCategory", "equals": ["Data"]},
    {"field": "resources.type", "equals": ["AWS::S3::Object"]},
]


def _trail(
    tmp_path: Path, selectors: str = "", config: dict[str, Any] | None = None, arguments: dict[str, str] | None = None
) -> list[Violation]:
    """The prod-audit-trail violations of a stack with two archives and one trail (``arguments`` replace the trail's)."""
    archives = '{"field": "resources.ARN", "starts_withs": [objects(data), objects(audit)]}'
    trail = {
        "s3_bucket_name": "audit.bucket",
        "s3_key_prefix": '"cloudtrail"',
        "is_multi_region_trail": "True",
        "enable_log_file_validation": "True",
        "kms_key_id": '"arn:aws:kms:eu-west-1:123456789012:key/audit"',
        "advanced_event_selectors": selectors or f'[{{"name": "archives", "field_selectors": {DATA} + [{archives}]}}]',
        **(arguments or {}),
    }
    source = ", ".join(f"{k}={v}" for k, v in trail.items() if v)
    program = tmp_path / "trail.py"
    program.write_text(PRELUDE + TRAIL_STACK + (f'aws.cloudtrail.Trail("trail", {source}, opts=o)\n' if source else ""))
    name = "prod-audit-trail"
    return evaluate(
        run_stack("dev", program=program), [POLICY_BY_NAME[name]], config if config is not None else PROTECTED
    )


def test_a_trail_recording_every_archive_object_passes(tmp_path: Path) -> None:
    assert _trail(tmp_path) == []


def test_the_trail_may_leave_its_own_log_files_out(tmp_path: Path) -> None:
    """Recording the trail's own deliveries would record each delivery again ("Suppressing recursive
    events", CloudTrail User Guide): excluding exactly its log prefix still covers the archive."""
    own = '{"field": "resources.ARN", "starts_withs": [objects(data), objects(audit)], "not_starts_withs": [own_logs(audit)]}'
    assert _trail(tmp_path, f'[{{"name": "archives", "field_selectors": {DATA} + [{own}]}}]') == []


def test_basic_event_selectors_count_too(tmp_path: Path) -> None:
    selectors = '[{"read_write_type": "All", "include_management_events": True, "data_resources": [{"type": "AWS::S3::Object", "values": [objects(data), objects(audit)]}]}]'
    assert _trail(tmp_path, arguments={"advanced_event_selectors": "", "event_selectors": selectors}) == []


@pytest.mark.parametrize(
    ("selectors", "flagged"),
    [
        (
            '[{"name": "data", "field_selectors": DATA + [{"field": "resources.ARN", "starts_withs": [objects(data)]}]}]',
            ["audit-archive"],
        ),
        (
            '[{"name": "reads", "field_selectors": DATA + [{"field": "readOnly", "equals": ["true"]}, {"field": "resources.ARN", "starts_withs": [objects(data), objects(audit)]}]}]',
            ["audit-archive", "data-archive"],
        ),
        (
            '[{"name": "gets", "field_selectors": DATA + [{"field": "eventName", "equals": ["GetObject"]}, {"field": "resources.ARN", "starts_withs": [objects(data), objects(audit)]}]}]',
            ["audit-archive", "data-archive"],
        ),
        (
            '[{"name": "most", "field_selectors": DATA + [{"field": "resources.ARN", "starts_withs": [objects(data), objects(audit)], "not_starts_withs": [audit.arn.apply(lambda a: f"{a}/secret/")]}]}]',
            ["audit-archive", "data-archive"],
        ),
        (
            '[{"name": "management", "field_selectors": [{"field": "eventCategory", "equals": ["Management"]}]}]',
            ["audit-archive", "data-archive"],
        ),
    ],
    ids=["one-archive-left-out", "reads-only", "one-event-name", "a-prefix-excluded", "management-only"],
)
def test_an_archive_whose_objects_the_trail_does_not_fully_record_is_reported(
    tmp_path: Path, selectors: str, flagged: list[str]
) -> None:
    violations = _trail(tmp_path, selectors.replace("DATA", repr(DATA)))
    assert sorted(v.message.split(" ", 1)[0] for v in violations) == flagged
    assert all("CloudTrail data events" in v.message and "Fix: " in v.message for v in violations)


@pytest.mark.parametrize(
    ("argument", "value", "prop"),
    [
        ("is_multi_region_trail", "False", "isMultiRegionTrail"),
        ("enable_log_file_validation", "False", "enableLogFileValidation"),
        ("kms_key_id", "None", "kmsKeyId"),
        ("enable_logging", "False", "enableLogging"),
    ],
)
def test_a_trail_that_is_not_multi_region_validated_encrypted_and_logging_is_reported(
    tmp_path: Path, argument: str, value: str, prop: str
) -> None:
    (violation,) = _trail(tmp_path, arguments={argument: value})
    assert violation.message.startswith(f"trail (aws:cloudtrail/trail:Trail): {prop} is ")


def test_no_trail_reports_every_archive(tmp_path: Path) -> None:
    program = tmp_path / "none.py"
    program.write_text(PRELUDE + TRAIL_STACK)
    violations = evaluate(run_stack("dev", program=program), [POLICY_BY_NAME["prod-audit-trail"]], PROTECTED)
    assert sorted(v.message.split(" ", 1)[0] for v in violations) == ["audit-archive", "data-archive"]
    assert evaluate(run_stack("dev", program=program), [POLICY_BY_NAME["prod-audit-trail"]], {}) == [], "off by default"


def test_prod_without_its_trail_fails() -> None:
    run = run_stack("prod")
    policy = [POLICY_BY_NAME["prod-audit-trail"]]
    assert evaluate(run, policy, PROTECTED) == []
    cut = copy.deepcopy(run)
    cut.resources = [r for r in cut.resources if r.type != TRAIL_TYPE]
    flagged = {str(v.urn).rsplit("::", 1)[-1] for v in evaluate(cut, policy, PROTECTED)}
    archives = {
        r.name
        for r in run.resources
        if r.type == "aws:s3/bucket:Bucket" and r.inputs["tags"]["Purpose"].endswith("archive")
    }
    assert flagged == archives
    assert len(archives) == 4, "both sites' transaction and audit archives"
