"""Whole-stack properties of dev and prod: warnings, tags, structure, determinism, outputs."""

import json
from typing import Any

import pulumi
import pytest

from offline.harness import StackRun, run_stack

STANDARD_TAGS = ("Application", "CostCenter", "Environment", "ManagedBy")


def _contains_resource(value: Any) -> bool:
    if isinstance(value, pulumi.Resource):
        return True
    if isinstance(value, dict):
        return any(_contains_resource(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_resource(v) for v in value)
    return False


def test_runs_without_any_warning(stack_run: StackRun) -> None:
    assert stack_run.warnings == []


def test_every_aws_resource_uses_the_tagged_provider(stack_run: StackRun) -> None:
    (provider,) = stack_run.of_type("pulumi:providers:aws")
    tags = json.loads(provider.inputs["defaultTags"])["tags"]
    suffix = stack_run.config["payments-platform:envSuffix"]
    assert tags["Environment"] == suffix
    assert tags["ManagedBy"] == "pulumi"
    assert set(STANDARD_TAGS) <= set(tags)
    assert all(tags[k] for k in STANDARD_TAGS)
    assert provider.inputs["region"] == stack_run.config["aws:region"]
    aws_resources = [r for r in stack_run.resources if r.custom and r.type.startswith("aws:")]
    assert aws_resources
    for record in aws_resources:
        assert record.provider.startswith(provider.urn + "::"), (
            f"{record.name} uses {record.provider or 'the default provider'}"
        )


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
    first, second = run_stack(stack), run_stack(stack)
    assert json.dumps(first.graph(), sort_keys=True, default=str) == json.dumps(
        second.graph(), sort_keys=True, default=str
    )
    assert first.outputs == second.outputs


def test_outputs_name_the_network_and_keys(stack_run: StackRun) -> None:
    outputs = stack_run.outputs
    assert outputs["vpc_id"] == stack_run.one("aws:ec2/vpc:Vpc").id
    for tier in ("public", "private", "database"):
        assert len(outputs[f"{tier}_subnet_ids"]) == 3
    assert set(outputs["kms_key_arns"]) == {"logs", "database", "secrets", "storage", "alerts"}
    assert stack_run.secret_outputs == frozenset()


def test_prod_is_bigger_where_availability_needs_it(dev: StackRun, prod: StackRun) -> None:
    def count(run: StackRun, type_: str) -> int:
        return len(run.of_type(type_))

    assert count(prod, "aws:ec2/natGateway:NatGateway") > count(dev, "aws:ec2/natGateway:NatGateway")
    assert sum(r.protect for r in prod.resources) > 0
    assert sum(r.protect for r in dev.resources) == 0
