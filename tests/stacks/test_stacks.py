"""Whole-stack properties of dev and prod: warnings, tags, structure, determinism, outputs."""

import json
import keyword
import re
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws
import pytest

from offline.harness import ResourceRecord, StackRun, run_stack

STANDARD_TAGS = ("Application", "CostCenter", "Environment", "ManagedBy")


def _contains_resource(value: Any) -> bool:
    if isinstance(value, pulumi.Resource):
        return True
    if isinstance(value, dict):
        return any(_contains_resource(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_resource(v) for v in value)
    return False


def test_runs_without_unexpected_warnings(stack_run: StackRun) -> None:
    """Allowed: the load balancer saying it serves HTTP only (no domain), and one line per
    placeholder key a real `pulumi up` would refuse (tests/unit/test_placeholders.py)."""
    has_domain = bool(stack_run.config["payments-platform:domainName"])
    http_only = [w for w in stack_run.warnings if "-lb: HTTP only" in w]
    placeholders = [w for w in stack_run.warnings if w.startswith("placeholder payments-platform:")]
    assert sorted(stack_run.warnings) == sorted(http_only + placeholders)
    assert len(http_only) == (0 if has_domain else 1)


def tagged_providers(run: StackRun) -> dict[str, ResourceRecord]:
    """The stack's AWS providers by region: the stack's region's, and the standby region's if any."""
    providers = {p.inputs["region"]: p for p in run.of_type("pulumi:providers:aws")}
    regions = {run.config["aws:region"], run.config.get("payments-platform:standbyRegion") or run.config["aws:region"]}
    assert set(providers) == regions, "one provider per site, in that site's region"
    return providers


def test_every_aws_resource_uses_the_tagged_provider(stack_run: StackRun) -> None:
    providers = tagged_providers(stack_run)
    for provider in providers.values():
        tags = json.loads(provider.inputs["defaultTags"])["tags"]
        suffix = stack_run.config["payments-platform:envSuffix"]
        assert tags["Environment"] == suffix
        assert tags["ManagedBy"] == "pulumi"
        assert set(STANDARD_TAGS) <= set(tags)
        assert all(tags[k] for k in STANDARD_TAGS)
    aws_resources = [r for r in stack_run.resources if r.custom and r.type.startswith("aws:")]
    assert aws_resources
    urns = {p.urn for p in providers.values()}
    for record in aws_resources:
        assert record.provider.rsplit("::", maxsplit=1)[0] in urns, (
            f"{record.name} uses {record.provider or 'the default provider'}"
        )


def test_every_data_source_call_goes_through_the_tagged_provider(stack_run: StackRun) -> None:
    """The default provider is disabled in real deployments: a lookup through it would fail."""
    urns = {p.urn for p in tagged_providers(stack_run).values()}
    assert stack_run.calls
    for (token, _), used in zip(stack_run.calls, stack_run.call_providers, strict=True):
        assert used.rsplit("::", maxsplit=1)[0] in urns, f"{token} uses {used or 'the default provider'}"


def test_default_aws_provider_is_disabled_for_real_deployments(stack_run: StackRun) -> None:
    assert json.loads(stack_run.config["pulumi:disable-default-providers"]) == ["aws"]


def test_every_resource_belongs_to_a_tier_component(stack_run: StackRun) -> None:
    components = {r.urn: r for r in stack_run.resources if not r.custom}
    assert all(c.type.startswith("fintech:") for c in components.values())
    for record in stack_run.resources:
        if record.custom and record.type != "pulumi:providers:aws":
            assert record.parent in components, f"{record.name} is not parented to a component"


def test_child_names_derive_from_their_component(stack_run: StackRun) -> None:
    for record in stack_run.resources:
        parent = next((r for r in stack_run.resources if r.urn == record.parent), None)
        if parent is not None:
            assert record.name.startswith(parent.name + "-"), record.name


def test_urns_are_unique(stack_run: StackRun) -> None:
    urns = [r.urn for r in stack_run.resources]
    assert len(urns) == len(set(urns))


def test_no_resource_object_is_passed_where_aws_wants_an_id(stack_run: StackRun) -> None:
    offenders = [r.name for r in stack_run.resources if r.custom and _contains_resource(r.inputs)]
    assert offenders == []


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_two_runs_declare_the_identical_graph(stack: str) -> None:
    first, second = run_stack(stack, fresh=True), run_stack(stack, fresh=True)
    assert json.dumps(first.graph(), sort_keys=True, default=str) == json.dumps(
        second.graph(), sort_keys=True, default=str
    )
    assert first.outputs == second.outputs


def test_outputs_name_the_network_and_keys(stack_run: StackRun) -> None:
    outputs = stack_run.outputs
    assert outputs["vpc_id"] == stack_run.home().one("aws:ec2/vpc:Vpc").id
    for tier in ("public", "private", "database"):
        assert len(outputs[f"{tier}_subnet_ids"]) == 3
    assert set(outputs["kms_key_arns"]) == {
        "logs",
        "database",
        "secrets",
        "storage",
        "alerts",
        "ebs",
        "lambda",
        "audit",
        # The backup vault's key, where backups are on (prod).
        *(["backup"] if stack_run.stack == "prod" else []),
    }
    assert stack_run.secret_outputs == frozenset()


def test_prod_is_bigger_where_availability_needs_it(dev: StackRun, prod: StackRun) -> None:
    def count(run: StackRun, type_: str) -> int:
        return len(run.of_type(type_))

    assert count(prod, "aws:ec2/natGateway:NatGateway") > count(dev, "aws:ec2/natGateway:NatGateway")
    assert sum(r.protect for r in prod.resources) > 0
    assert sum(r.protect for r in dev.resources) == 0


def _deprecated_arguments(type_token: str) -> set[str]:
    """camelCase inputs the pulumi-aws SDK documents as deprecated for a resource type.

    Arguments deprecated only in the provider produce no warning offline (the provider
    emits it), so the SDK's own docs are scanned instead of relying on a warning.
    """
    module_path, _, _ = type_token.split(":")[1].partition(":")
    package, _, file_camel = module_path.partition("/")
    snake_file = re.sub(r"(?<!^)([A-Z])", r"_\1", file_camel).lower()
    package = f"{package}_" if keyword.iskeyword(package) else package  # lambda -> lambda_
    source = (Path(pulumi_aws.__file__).parent / package / f"{snake_file}.py").read_text()
    names = set(re.findall(r"The `(\w+)` argument is deprecated", source))
    names |= set(re.findall(r'"""(\w+) is deprecated', source))
    camel = {re.sub(r"_([a-z])", lambda m: m.group(1).upper(), n) for n in names}
    # Docs name the Terraform block (inline_policy); the Pulumi input may be its plural.
    return camel | {c + "s" for c in camel} | {c[:-1] + "ies" for c in camel if c.endswith("y")}


def test_deprecation_scanner_sees_known_deprecations() -> None:
    assert {"managedPolicyArns", "inlinePolicies"} <= _deprecated_arguments("aws:iam/role:Role")
    assert "acl" in _deprecated_arguments("aws:s3/bucket:Bucket")


def test_no_deprecated_argument_is_used(stack_run: StackRun) -> None:
    used = [r for r in stack_run.resources if r.custom and r.type.startswith("aws:") and ":providers:" not in r.type]
    for type_token in {r.type for r in used}:
        deprecated = _deprecated_arguments(type_token)
        for record in (r for r in used if r.type == type_token):
            assert not deprecated & set(record.inputs), f"{record.name} sets {deprecated & set(record.inputs)}"


def test_prod_log_groups_survive_a_stack_deletion(prod: StackRun, dev: StackRun) -> None:
    """PCI DSS 10.5: the audit trail outlives the platform; dev's logs go with the stack."""
    groups = prod.of_type("aws:cloudwatch/logGroup:LogGroup")
    # With the stack's trail's log group (between/audit_trail.py, in the home region).
    assert len(prod.home().of_type("aws:cloudwatch/logGroup:LogGroup")) == 9, [g.name for g in groups]
    assert prod.standby().of_type("aws:cloudwatch/logGroup:LogGroup")
    for group in groups:
        assert group.retain_on_delete or group.protect, f"{group.name} is deleted with the stack"
    for group in dev.of_type("aws:cloudwatch/logGroup:LogGroup"):
        assert not group.retain_on_delete, f"dev keeps {group.name} after `pulumi destroy`"


def test_log_groups_follow_one_naming_scheme(stack_run: StackRun) -> None:
    """/fintech/<envSuffix>/<purpose>, except where AWS fixes the name (RDS exports, WAF logging)."""
    suffix = stack_run.config["payments-platform:envSuffix"]
    home = stack_run.home()
    names = sorted(g.inputs["name"] for g in home.of_type("aws:cloudwatch/logGroup:LogGroup"))
    ours = [n for n in names if not n.startswith(("/aws/rds/cluster/", "aws-waf-logs-"))]
    assert ours == [
        f"/fintech/{suffix}/app",
        f"/fintech/{suffix}/audit-archive-delivery",
        f"/fintech/{suffix}/cloudtrail",
        f"/fintech/{suffix}/secret-rotation",
        f"/fintech/{suffix}/vpc-flow-logs",
    ]
    assert len(names) - len(ours) == 4, "three RDS exports and the WAF log group"
    # The standby site's: the same names in its own region (its own rotation function; no edge there,
    # and no trail: the stack's one trail records every region from the home region).
    standby = sorted(g.inputs["name"] for g in stack_run.standby().of_type("aws:cloudwatch/logGroup:LogGroup"))
    if standby:
        assert [n for n in standby if not n.startswith("/aws/rds/cluster/")] == [
            n for n in ours if n != f"/fintech/{suffix}/cloudtrail"
        ]


def test_every_certificate_validation_fails_fast_instead_of_waiting_an_hour(prod: StackRun) -> None:
    """A zone the internet does not ask keeps ACM from issuing; the provider's own wait is 75 minutes
    per certificate. Each validation gives up after 20 so the `up` says so while someone is watching."""
    validations = prod.of_type("aws:acm/certificateValidation:CertificateValidation")
    assert len(validations) == 3  # the edge's (us-east-1) and each site's origin certificate
    for validation in validations:
        assert validation.custom_timeouts == {"create": "20m"}, validation.name


def test_every_versioned_bucket_lets_its_old_versions_go(stack_run: StackRun) -> None:
    """Versioning keeps every overwritten or deleted object for ever unless a lifecycle rule expires
    noncurrent versions: each versioned bucket has one (the Lambda artifacts bucket included)."""
    versioned = {
        v.inputs["bucket"]
        for v in stack_run.of_type("aws:s3/bucketVersioning:BucketVersioning")
        if v.inputs["versioningConfiguration"]["status"] == "Enabled"
    }
    expiring = {
        lifecycle.inputs["bucket"]
        for lifecycle in stack_run.of_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
        if any(
            rule.get("status") == "Enabled" and (rule.get("noncurrentVersionExpiration") or {}).get("noncurrentDays")
            for rule in lifecycle.inputs["rules"]
        )
    }
    assert versioned, "the stack versions its archives"
    assert sorted(versioned - expiring) == []


# Storage classes whose objects AWS Backup skips ("Amazon S3 backups", AWS Backup Developer Guide:
# archived objects in S3 Glacier Flexible Retrieval and S3 Glacier Deep Archive are not backed up).
UNREADABLE_BY_AWS_BACKUP = ("GLACIER", "DEEP_ARCHIVE")


def test_no_backed_up_bucket_moves_objects_where_aws_backup_cannot_read_them(stack_run: StackRun) -> None:
    selected = {
        arn
        for selection in stack_run.of_type("aws:backup/selection:Selection")
        for arn in selection.inputs.get("resources") or []
        if ":s3:::" in arn
    }
    names = {arn.rpartition(":")[2] for arn in selected}
    moves = {
        (lifecycle.inputs["bucket"], transition["storageClass"])
        for lifecycle in stack_run.of_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
        if lifecycle.inputs["bucket"] in names
        for rule in lifecycle.inputs["rules"]
        for transition in rule.get("transitions") or []
    }
    if stack_run.stack == "prod":
        assert names, "prod backs up its archives"
    assert [move for move in moves if move[1] in UNREADABLE_BY_AWS_BACKUP] == []
