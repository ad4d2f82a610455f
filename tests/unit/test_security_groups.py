"""Whatever is launched into a security group waits for the group's rules, not just the group.

Rules are separate resources (one AuthorizeSecurityGroupIngress/Egress call each, after
CreateSecurityGroup): a Lambda, instance, cluster or load balancer that waited only for the group
could start with no rules yet. ``SecurityGroups.ids`` resolve once all of a group's rules exist, so
each consumer's input names the rules among its dependencies. URNs are compared within one run
(mock URNs differ in shape from the engine's).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from offline.harness import ResourceRecord, StackRun, run_stack

RULE_TYPES = (
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
)
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
LAMBDA = "aws:lambda/function:Function"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
CLUSTER = "aws:rds/cluster:Cluster"
LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
INVOCATION = "aws:lambda/invocation:Invocation"


@pytest.fixture(scope="module", params=["dev", "prod"])
def run(request: pytest.FixtureRequest) -> StackRun:
    """The whole run, both sites (the standby site's launch template, cluster and load balancer too)."""
    return run_stack(request.param)


def _group_ids(record: ResourceRecord) -> Iterator[tuple[str, str]]:
    """(property, security group id) for every group ``record`` is launched into."""
    inputs: dict[str, Any] = record.inputs
    if record.type == LAMBDA:
        for group_id in (inputs.get("vpcConfig") or {}).get("securityGroupIds") or []:
            yield "vpcConfig", group_id
    elif record.type == LAUNCH_TEMPLATE:
        for group_id in inputs.get("vpcSecurityGroupIds") or []:
            yield "vpcSecurityGroupIds", group_id
        for interface in inputs.get("networkInterfaces") or []:
            for group_id in interface.get("securityGroups") or []:
                yield "networkInterfaces", group_id
    elif record.type == CLUSTER:
        for group_id in inputs.get("vpcSecurityGroupIds") or []:
            yield "vpcSecurityGroupIds", group_id
    elif record.type == LOAD_BALANCER:
        for group_id in inputs.get("securityGroups") or []:
            yield "securityGroups", group_id


def _rules_of(run: StackRun, group_id: str) -> list[ResourceRecord]:
    return [r for type_ in RULE_TYPES for r in run.of_type(type_) if r.inputs.get("securityGroupId") == group_id]


def _consumers(run: StackRun) -> list[tuple[ResourceRecord, str, ResourceRecord]]:
    """(consumer, property, group) for every use of a security group by the four consumers."""
    found = []
    for type_ in (LAMBDA, LAUNCH_TEMPLATE, CLUSTER, LOAD_BALANCER):
        for record in run.of_type(type_):
            for prop, group_id in _group_ids(record):
                found.append((record, prop, run.by_id(group_id)))
    return found


def _transitive_dependencies(run: StackRun, record: ResourceRecord) -> set[str]:
    by_urn = {r.urn: r for r in run.resources}
    seen: set[str] = set()
    todo = list(record.dependencies)
    while todo:
        urn = todo.pop()
        if urn not in seen:
            seen.add(urn)
            todo += by_urn[urn].dependencies if urn in by_urn else ()
    return seen


def test_every_consumer_is_checked(run: StackRun) -> None:
    """The Lambda, the launch template, the cluster and the load balancer each use a group with rules:
    the dependency test below cannot pass by finding nothing."""
    used = {(record.type, group.name) for record, _, group in _consumers(run)}
    assert {type_ for type_, _ in used} == {LAMBDA, LAUNCH_TEMPLATE, CLUSTER, LOAD_BALANCER}
    for record, _, group in _consumers(run):
        assert group.type == SECURITY_GROUP, (record.name, group.name)
        assert _rules_of(run, group.id), f"{group.name} (used by {record.name}) has no rules"


def test_consumers_wait_for_every_rule_of_their_groups(run: StackRun) -> None:
    missing = {}
    for record, prop, group in _consumers(run):
        rules = {r.urn for r in _rules_of(run, group.id)}
        waits_for = set(record.property_dependencies.get(prop, ())) & set(record.dependencies)
        if not rules <= waits_for:
            missing[f"{record.name}.{prop} ({group.name})"] = sorted(rules - waits_for)
    assert not missing, f"launched into a group before its rules exist: {missing}"


def test_the_bootstrap_waits_for_the_rotation_and_database_rules(run: StackRun) -> None:
    """The first password is set over the network: the function's and the cluster's rules first."""
    (bootstrap,) = [r for r in run.of_type(INVOCATION) if r.name.endswith("-app-db-bootstrap")]
    before = _transitive_dependencies(run, bootstrap)
    # The stack region's cluster: the standby's (prod) is a secondary the bootstrap never logs in to.
    groups = {group.urn: group for record, _, group in _consumers(run.home()) if record.type in (LAMBDA, CLUSTER)}
    assert len(groups) == 2, sorted(groups)
    for group in groups.values():
        assert {r.urn for r in _rules_of(run, group.id)} <= before, group.name


def test_rules_name_their_peers_by_raw_ids(run: StackRun) -> None:
    """A rule waits for its own group and its peer group, never for the peer's rules: those name this
    group back (app -> database -> app), and waiting on them would be a cycle."""
    groups = {g.id: g for g in run.of_type(SECURITY_GROUP)}
    peered = [r for type_ in RULE_TYPES for r in run.of_type(type_) if r.inputs.get("referencedSecurityGroupId")]
    assert peered
    for rule in peered:
        peer = groups[rule.inputs["referencedSecurityGroupId"]]
        assert rule.property_dependencies["referencedSecurityGroupId"] == (peer.urn,), rule.name
        own = groups[rule.inputs["securityGroupId"]]
        assert rule.property_dependencies["securityGroupId"] == (own.urn,), rule.name


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_security_group_is_attached_to_something(stack: str) -> None:
    """A group nothing uses is a rule set no review looks at (issue #25, item 10: the standby's rotation
    group, before the standby had its own rotation function). Rules name groups; users put them on."""
    run = run_stack(stack)
    users = [r for r in run.resources if r.custom and r.type not in (*RULE_TYPES, SECURITY_GROUP)]
    used = {group for r in users for group in _security_group_ids(r.inputs)}
    unattached = [g.name for g in run.of_type(SECURITY_GROUP) if g.id not in used]
    assert not unattached, f"no resource is launched into {unattached}"


def _security_group_ids(value: Any, key: str = "") -> Iterator[str]:
    """Every value under a key that names security groups (``securityGroupIds``, ``vpcSecurityGroupIds``...)."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _security_group_ids(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from _security_group_ids(v, key)
    elif isinstance(value, str) and "ecurityGroup" in key:
        yield value
