"""Security tier as declared: keys, roles and security group rules in both stacks."""

import ipaddress
import json
from typing import Any

import pytest

from components.policies import UNSCOPABLE_ACTIONS
from components.site.network import tier_block
from components.site.security import KEY_PURPOSES
from components.site.security_groups import ROLES, rule_plan
from offline.harness import ResourceRecord, StackRun, run_stack
from tests.helpers import as_list, doc, record_by_output

KEY = "aws:kms/key:Key"
ALIAS = "aws:kms/alias:Alias"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
SG = "aws:ec2/securityGroup:SecurityGroup"


def key_for(run: StackRun, purpose: str) -> ResourceRecord:
    return record_by_output(run, run.outputs["kms_key_arns"][purpose])


def role_named(run: StackRun, suffix: str) -> ResourceRecord:
    (role,) = [r for r in run.of_type(ROLE) if r.name.endswith(suffix)]
    return role


def policies_of(run: StackRun, role: ResourceRecord) -> list[dict[str, Any]]:
    return [doc(p) for p in run.of_type(ROLE_POLICY) if p.inputs["role"] == role.state["name"]]


# ----------------------------------------------------------------- KMS


def purposes(run: StackRun) -> list[str]:
    """The stack region's key purposes: a backup vault key only where backups are on."""
    backups = run.config.get("payments-platform:backupEnabled", "true") == "true"
    return sorted([*KEY_PURPOSES, *(["backup"] if backups else [])])


def test_one_rotating_key_per_purpose(stack_run: StackRun) -> None:
    assert sorted(stack_run.outputs["kms_key_arns"]) == purposes(stack_run)
    for purpose in purposes(stack_run):
        key = key_for(stack_run, purpose)
        assert key.inputs["enableKeyRotation"] is True
        assert key.inputs["rotationPeriodInDays"] == 365


def test_each_key_has_a_stable_alias(stack_run: StackRun) -> None:
    suffix = stack_run.config["payments-platform:envSuffix"]
    aliases = {a.inputs["name"]: a.inputs["targetKeyId"] for a in stack_run.of_type(ALIAS) if "region" not in a.inputs}
    for purpose in purposes(stack_run):
        assert aliases[f"alias/fintech-{suffix}/{purpose}"] == key_for(stack_run, purpose).state["keyId"]


@pytest.mark.parametrize(
    ("purpose", "services"),
    [
        ("logs", {"logs.eu-west-1.amazonaws.com"}),
        ("alerts", {"cloudwatch.amazonaws.com"}),
        ("database", set()),
        ("secrets", set()),
        ("storage", set()),
        ("ebs", set()),
        # The stack's trail encrypts its log files with the home site's audit key (test_audit_trail.py).
        ("audit", {"cloudtrail.amazonaws.com"}),
    ],
)
def test_declared_key_policies_grant_only_intended_service_principals(
    stack_run: StackRun, purpose: str, services: set[str]
) -> None:
    policy = doc(key_for(stack_run, purpose))
    found = {svc for s in policy["Statement"] for svc in as_list(s["Principal"].get("Service", []))}
    accounts = {a for s in policy["Statement"] for a in as_list(s["Principal"].get("AWS", []))}
    if purpose == "alerts" and "backup" in purposes(stack_run):
        services = services | {"events.amazonaws.com"}  # failed backup jobs, through EventBridge
    assert found == services
    assert accounts - {"*"} == {"arn:aws:iam::123456789012:root"}
    assert ("*" in accounts) == (purpose == "ebs"), "only the EBS key opens up, and only through EC2"


def test_eventbridge_may_use_the_alert_key_without_source_conditions(prod: StackRun) -> None:
    """Failed backup, copy and restore-test jobs reach the encrypted alert topic through EventBridge.
    The Amazon SNS Developer Guide ("Key management") says aws:SourceAccount/aws:SourceArn are not
    supported in the key policy for EventBridge deliveries to an encrypted topic: with them, every
    notification is dropped. The conditions belong on the topic policy (test_monitoring checks it)."""
    statements = [
        s for s in doc(key_for(prod, "alerts"))["Statement"] if s["Principal"].get("Service") == "events.amazonaws.com"
    ]
    assert len(statements) == 1
    (statement,) = statements
    assert statement["Effect"] == "Allow"
    assert sorted(as_list(statement["Action"])) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    conditions = json.dumps(statement.get("Condition", {}))
    assert "aws:SourceAccount" not in conditions
    assert "aws:SourceArn" not in conditions


def test_edge_keys_live_in_us_east_1_with_us_east_1_policies(stack_run: StackRun) -> None:
    edge = [k for k in stack_run.of_type(KEY) if k.inputs.get("region") == "us-east-1"]
    assert sorted(k.name.split("-sec-")[1] for k in edge) == ["alerts-us-east-1-key", "logs-us-east-1-key"]
    for key in edge:
        assert key.inputs["region"] == "us-east-1"
        assert key.inputs["enableKeyRotation"] is True
        services = {s for st in doc(key)["Statement"] for s in as_list(st["Principal"].get("Service", []))}
        assert services <= {"logs.us-east-1.amazonaws.com", "cloudwatch.amazonaws.com"}
        assert "eu-west-1" not in key.inputs["policy"]
    edge_aliases = [a for a in stack_run.of_type(ALIAS) if a.inputs.get("region") == "us-east-1"]
    assert len(edge_aliases) == 2


def test_prod_keys_are_protected_with_the_longest_deletion_window(prod: StackRun) -> None:
    for key in prod.of_type(KEY):
        assert key.protect is True
        assert key.inputs["deletionWindowInDays"] == 30


def test_dev_keys_are_disposable(dev: StackRun) -> None:
    for key in dev.of_type(KEY):
        assert key.protect is False
        assert key.inputs["deletionWindowInDays"] == 7


# ----------------------------------------------------------------- IAM


def test_no_iam_document_has_wildcard_actions_or_write_on_every_resource(stack_run: StackRun) -> None:
    documents = [doc(p) for p in stack_run.of_type(ROLE_POLICY)]
    documents += [doc(r, "assumeRolePolicy") for r in stack_run.of_type(ROLE)]
    assert documents
    for document in documents:
        for statement in document["Statement"]:
            actions = as_list(statement["Action"])
            assert not any(a == "*" or a.endswith(":*") for a in actions), statement
            if statement.get("Resource") == "*":
                assert set(actions) <= UNSCOPABLE_ACTIONS, (
                    f"only actions without resource-level permissions: {statement}"
                )


def test_flow_log_role_is_trusted_by_flow_logs_and_writes_only_its_group(stack_run: StackRun) -> None:
    role = role_named(stack_run, "-flow-logs-role")
    (trust,) = doc(role, "assumeRolePolicy")["Statement"]
    assert trust["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}
    group = record_by_output(stack_run, stack_run.one("aws:ec2/flowLog:FlowLog").inputs["logDestination"])
    (permissions,) = policies_of(stack_run, role)
    (statement,) = permissions["Statement"]
    assert statement["Resource"] == [group.state["arn"], group.state["arn"] + ":*"]


def test_app_role_has_ssm_agent_and_its_own_secrets_only(stack_run: StackRun) -> None:
    role = role_named(stack_run, "-app-role")
    (trust,) = doc(role, "assumeRolePolicy")["Statement"]
    assert trust["Principal"] == {"Service": "ec2.amazonaws.com"}
    attached = sorted(
        a.inputs["policyArn"]
        for a in stack_run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if a.inputs["role"] == role.state["name"]
    )
    assert attached == [
        "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
        "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy",
    ]
    (permissions,) = policies_of(stack_run, role)
    read, decrypt = permissions["Statement"]
    suffix = stack_run.config["payments-platform:envSuffix"]
    assert read["Resource"] == f"arn:aws:secretsmanager:eu-west-1:123456789012:secret:fintech-{suffix}/app/*"
    assert decrypt["Resource"] == stack_run.outputs["kms_key_arns"]["secrets"]
    profile = stack_run.one("aws:iam/instanceProfile:InstanceProfile")
    assert profile.inputs["role"] == role.state["name"]
    assert stack_run.outputs["app_instance_profile_name"] == profile.state["name"]


# ----------------------------------------------------------------- security groups


def group_role(run: StackRun, group_id: str) -> str:
    ids: dict[str, str] = run.outputs["security_group_ids"]
    (role,) = [r for r, i in ids.items() if i == group_id]
    return role


def rules(run: StackRun) -> list[tuple[str, str, int, str]]:
    """(direction, group role, port, peer) for every rule; peer is a role or a CIDR."""
    found = []
    for direction, type_ in (("ingress", INGRESS), ("egress", EGRESS)):
        for rule in run.of_type(type_):
            if rule.inputs["securityGroupId"] not in run.outputs["security_group_ids"].values():
                continue  # the network tier's endpoint group
            assert rule.inputs["fromPort"] == rule.inputs["toPort"]
            assert rule.inputs["ipProtocol"] == "tcp"
            peer = rule.inputs.get("referencedSecurityGroupId")
            found.append(
                (
                    direction,
                    group_role(run, rule.inputs["securityGroupId"]),
                    int(rule.inputs["fromPort"]),
                    group_role(run, peer) if peer else rule.inputs.get("cidrIpv4") or rule.inputs["prefixListId"],
                )
            )
    return sorted(found)


def prefix_list(run: StackRun, group: str, name: str) -> str:
    """The AWS-managed prefix list ``group``'s ingress admits; the program looked ``name`` up (not hard-coded)."""
    assert [args for token, args in run.calls if token.endswith("getManagedPrefixList") and args["name"] == name]
    group_id = run.outputs["security_group_ids"][group]
    (found,) = [
        r.inputs["prefixListId"]
        for r in run.of_type(INGRESS)
        if r.inputs.get("prefixListId") and r.inputs["securityGroupId"] == group_id
    ]
    return str(found)


def cloudfront_prefix_list(run: StackRun) -> str:
    return prefix_list(run, "alb", "com.amazonaws.global.cloudfront.origin-facing")


def test_security_group_rules_are_exactly_these(stack_run: StackRun) -> None:
    """The reviewed rule table, written out: a new or widened rule must be added here on purpose."""
    app_port = int(stack_run.config["payments-platform:appPort"])
    origin_port = 443 if stack_run.config["payments-platform:domainName"] else 80
    expected = [
        ("egress", "alb", app_port, "app"),
        ("egress", "app", 443, "0.0.0.0/0"),
        ("egress", "app", 3306, "database"),
        ("egress", "rotation", 443, "0.0.0.0/0"),
        ("egress", "rotation", 3306, "database"),
        ("ingress", "alb", origin_port, cloudfront_prefix_list(stack_run)),
        ("ingress", "app", app_port, "alb"),
        ("ingress", "database", 3306, "app"),
        ("ingress", "database", 3306, "rotation"),
    ]
    groups: list[str] = sorted(ROLES)
    expected += peer_rules(stack_run)
    if "alb-health-checks" in stack_run.outputs["security_group_ids"]:
        # With a standby, Route 53's health checkers reach /health, through a group of their own.
        checkers = f"com.amazonaws.{stack_run.config['aws:region']}.route53-healthchecks"
        expected.append(("ingress", "alb-health-checks", 443, prefix_list(stack_run, "alb-health-checks", checkers)))
        groups = sorted([*ROLES, "alb-health-checks"])
    assert rules(stack_run) == sorted(expected)
    assert sorted(stack_run.outputs["security_group_ids"]) == groups


def peer_rules(run: StackRun) -> list[tuple[str, str, int, str]]:
    """With a standby, the two rules across the peering: the other site's rotation subnets may reach
    this database, this rotation function the other's database subnets; never its app subnets."""
    other = run.config.get("payments-platform:standbyVpcCidr") if run.outputs.get("standby_region") else None
    if not other:
        return []
    return [
        ("egress", "rotation", 3306, tier_block(other, "database")),
        ("ingress", "database", 3306, tier_block(other, "rotation")),
    ]


def test_only_https_leaves_the_vpc(stack_run: StackRun) -> None:
    """AWS APIs and OS updates are HTTPS: no other port may reach a CIDR (e.g. MySQL to the internet),
    but MySQL from the rotation function to the other site's database subnets (peered)."""
    to_cidrs = {(g, p, peer) for d, g, p, peer in rules(stack_run) if d == "egress" and "/" in peer}
    assert {(g, p) for g, p, _ in to_cidrs} - {("rotation", 3306)} == {("app", 443), ("rotation", 443)}
    assert {(d, g, p, peer) for d, g, p, peer in rules(stack_run) if p == 3306 and "/" in peer} == set(
        peer_rules(stack_run)
    )


def test_the_peer_blocks_are_the_other_sites_rotation_and_database_subnets(prod: StackRun) -> None:
    standby = run_stack("prod").standby()
    for tier in ("rotation", "database"):
        block = ipaddress.ip_network(tier_block(prod.config["payments-platform:standbyVpcCidr"], tier))
        subnets = [s.inputs["cidrBlock"] for s in standby.of_type("aws:ec2/subnet:Subnet")]
        inside = [c for c in subnets if ipaddress.ip_network(c).subnet_of(block)]  # type: ignore[arg-type]
        tiers = {
            s.inputs["tags"]["Tier"]
            for s in standby.of_type("aws:ec2/subnet:Subnet")
            if s.inputs["cidrBlock"] in inside
        }
        assert inside, f"the {tier} block holds the standby's {tier} subnets"
        assert tiers == {tier}, f"the {tier} block holds the standby's {tier} subnets and nothing else"


def test_the_load_balancer_admits_only_cloudfront_on_its_origin_port(stack_run: StackRun) -> None:
    origin_port = 443 if stack_run.config["payments-platform:domainName"] else 80
    alb_ingress = [(p, peer) for d, g, p, peer in rules(stack_run) if d == "ingress" and g == "alb"]
    assert alb_ingress == [(origin_port, cloudfront_prefix_list(stack_run))]


def test_no_group_admits_a_cidr(stack_run: StackRun) -> None:
    """But the database, from the other site's rotation subnets (a group across Regions cannot be named)."""
    admitted = [("ingress", g, p, peer) for d, g, p, peer in rules(stack_run) if d == "ingress" and "/" in peer]
    assert admitted == [r for r in peer_rules(stack_run) if r[0] == "ingress"]


def test_cloudfront_prefix_list_is_referenced_on_one_port_only() -> None:
    with pytest.raises(ValueError, match="one port"):
        rule_plan(8080, 3306, alb_source="cloudfront", alb_ports=(443, 80))


def test_database_admits_only_the_app_and_rotation_on_mysql(stack_run: StackRun) -> None:
    db_ingress = [(p, peer) for d, g, p, peer in rules(stack_run) if d == "ingress" and g == "database"]
    peered = [(p, peer) for d, g, p, peer in peer_rules(stack_run) if d == "ingress"]
    assert sorted(db_ingress) == sorted([(3306, "app"), (3306, "rotation"), *peered])


def test_security_groups_live_in_the_vpc(stack_run: StackRun) -> None:
    vpc = stack_run.one("aws:ec2/vpc:Vpc")
    for group in stack_run.of_type(SG):
        assert group.inputs["vpcId"] == vpc.id
        assert group.inputs["description"] != "Managed by Pulumi"
        assert not group.inputs.get("ingress")
        assert not group.inputs.get("egress"), "rules are separate resources; inline ones would fight them"


def test_policies_are_json_documents(stack_run: StackRun) -> None:
    for record in stack_run.of_type(KEY) + stack_run.of_type(ROLE_POLICY):
        assert json.loads(record.inputs["policy"])["Version"] == "2012-10-17"
