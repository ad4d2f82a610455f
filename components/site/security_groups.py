"""Security tier, network half: one security group per role, rules referencing each other.

Only the load balancer's public listener ports and the two rules across the regions' peering admit
a CIDR; every other rule names the security group on the other side, so access follows roles, not
addresses. Across an inter-region peering a rule cannot name the other VPC's group ("You can't
reference the security group of a peer VPC that's in a different Region. Instead, use the CIDR block
of the peer VPC", VPC Peering guide, "Update your security groups to reference peer security groups"):
those two name the other site's rotation and database subnet blocks (``network.tier_block``), never
its app subnets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

Role = Literal["alb", "app", "database", "rotation"]
ROLES: tuple[Role, ...] = ("alb", "app", "database", "rotation")
HealthCheckGroup = Literal["alb-health-checks"]
HEALTH_CHECK_GROUP: HealthCheckGroup = "alb-health-checks"
"""A second group for the load balancer, only with ``health_checker_ports``: Route 53's checkers."""
GroupKey = Literal[Role, HealthCheckGroup]
_DESCRIPTIONS: dict[GroupKey, str] = {
    "alb": "Application Load Balancer: public HTTP/HTTPS listeners",
    "app": "App instances: traffic from the load balancer only",
    "database": "Aurora MySQL: the app and the rotation Lambda only",
    "rotation": "Secret rotation Lambda: database and AWS APIs",
    "alb-health-checks": "Application Load Balancer: Route 53 health checkers only",
}
ANYWHERE_IPV4 = "0.0.0.0/0"
HTTPS = 443
HTTP = 80
# A rule referencing an AWS-managed prefix list counts as the list's weight against the group's
# quota of 60 inbound rules (VPC user guide, "AWS-managed prefix lists": CloudFront origin-facing
# 55, Route 53 health checks 25; docs.aws.amazon.com/vpc/latest/userguide/working-with-aws-managed-prefix-lists.html).
# So the ALB admits CloudFront on one port only, and Route 53's checkers in a group of their own:
# 55 + 25 = 80 would not fit one group.
RULES_PER_GROUP = 60
CLOUDFRONT_PREFIX_LIST = "com.amazonaws.global.cloudfront.origin-facing"
# Per region: looked up in the group's own region (the name embeds it).
ROUTE53_HEALTH_CHECKS_PREFIX_LIST = "com.amazonaws.{region}.route53-healthchecks"
ROUTE53_HEALTH_CHECKS_WEIGHT = 25
AlbSource = Literal["internet", "cloudfront"]


@dataclass(frozen=True)
class PeerBlocks:
    """The other site's subnet blocks this site's groups name across the peering."""

    rotation_cidr: str
    database_cidr: str


@dataclass(frozen=True)
class Rule:
    """One security group rule in a form tests and policies can read."""

    key: str
    direction: Literal["ingress", "egress"]
    group: GroupKey
    port: int
    peer_group: Role | None = None
    cidr: str | None = None
    prefix_list: str | None = None
    """An AWS-managed prefix list's name; ``{region}`` stands for the group's region."""
    description: str = ""


def rule_plan(
    app_port: int,
    db_port: int,
    *,
    alb_source: AlbSource = "internet",
    alb_ports: tuple[int, ...] = (HTTPS, HTTP),
    health_checker_ports: tuple[int, ...] = (),
    peer: PeerBlocks | None = None,
) -> list[Rule]:
    """Every rule of every group: the reviewed source of truth the component declares."""
    if alb_source == "cloudfront":
        if len(alb_ports) != 1:
            raise ValueError("admit CloudFront's prefix list on one port: each reference costs ~55 rules of 60")
        alb_in = [
            Rule(
                f"alb-in-{alb_ports[0]}",
                "ingress",
                "alb",
                alb_ports[0],
                prefix_list=CLOUDFRONT_PREFIX_LIST,
                description="From CloudFront only",
            )
        ]
    else:
        alb_in = [
            Rule(f"alb-in-{port}", "ingress", "alb", port, cidr=ANYWHERE_IPV4, description="From clients")
            for port in alb_ports
        ]
    return [
        *alb_in,
        *_health_checker_rules(health_checker_ports),
        Rule("alb-out-app", "egress", "alb", app_port, peer_group="app", description="To app instances"),
        Rule("app-in-alb", "ingress", "app", app_port, peer_group="alb", description="From the load balancer"),
        Rule("app-out-db", "egress", "app", db_port, peer_group="database", description="To Aurora"),
        Rule("app-out-https", "egress", "app", HTTPS, cidr=ANYWHERE_IPV4, description="AWS APIs and OS updates"),
        Rule("db-in-app", "ingress", "database", db_port, peer_group="app", description="From app instances"),
        Rule("db-in-rotation", "ingress", "database", db_port, peer_group="rotation", description="From rotation"),
        Rule("rotation-out-db", "egress", "rotation", db_port, peer_group="database", description="To Aurora"),
        Rule("rotation-out-https", "egress", "rotation", HTTPS, cidr=ANYWHERE_IPV4, description="Secrets Manager API"),
        *_peer_rules(db_port, peer),
    ]


def _peer_rules(db_port: int, peer: PeerBlocks | None) -> list[Rule]:
    """The other region's rotation function reaches this region's writer, and this one the other's:
    whichever region holds the writer, the function attached to the secrets reaches it."""
    if peer is None:
        return []
    return [
        Rule(
            "db-in-peer-rotation",
            "ingress",
            "database",
            db_port,
            cidr=peer.rotation_cidr,
            description="From the other region's rotation function (peering)",
        ),
        Rule(
            "rotation-out-peer-db",
            "egress",
            "rotation",
            db_port,
            cidr=peer.database_cidr,
            description="To the other region's Aurora (peering)",
        ),
    ]


def _health_checker_rules(ports: tuple[int, ...]) -> list[Rule]:
    """Route 53's health checkers on ``ports``, in their own group (never CloudFront's: see above)."""
    if len(ports) * ROUTE53_HEALTH_CHECKS_WEIGHT > RULES_PER_GROUP:
        raise ValueError(
            f"admit Route 53's health checkers on at most {RULES_PER_GROUP // ROUTE53_HEALTH_CHECKS_WEIGHT} ports: "
            f"each reference costs {ROUTE53_HEALTH_CHECKS_WEIGHT} rules of {RULES_PER_GROUP}"
        )
    return [
        Rule(
            f"{HEALTH_CHECK_GROUP}-in-{port}",
            "ingress",
            HEALTH_CHECK_GROUP,
            port,
            prefix_list=ROUTE53_HEALTH_CHECKS_PREFIX_LIST,
            description="From Route 53 health checkers only",
        )
        for port in ports
    ]


@dataclass(frozen=True)
class SecurityGroupsArgs:
    vpc_id: pulumi.Input[str]
    app_port: int
    """Port the app instances listen on behind the load balancer."""
    db_port: int = 3306
    alb_source: AlbSource = "internet"
    """Who may reach the load balancer: anyone, or only CloudFront's origin-facing servers."""
    alb_ports: tuple[int, ...] = (HTTPS, HTTP)
    health_checker_ports: tuple[int, ...] = ()
    """Ports on which Route 53's health checkers may reach the load balancer, through a separate
    group (``ids["alb-health-checks"]``, for the load balancer's extra groups); none: no group."""
    peer: PeerBlocks | None = None
    """With a peer region: its rotation function may reach this database, this one its database."""


class SecurityGroups(pulumi.ComponentResource):
    """Security groups for the ALB, app instances, database and rotation Lambda (and, with
    ``health_checker_ports``, a second ALB group for Route 53's health checkers)."""

    ids: dict[GroupKey, pulumi.Output[str]]

    def __init__(self, name: str, args: SecurityGroupsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("fintech:security:SecurityGroups", name, None, opts)
        plan = rule_plan(
            args.app_port,
            args.db_port,
            alb_source=args.alb_source,
            alb_ports=args.alb_ports,
            health_checker_ports=args.health_checker_ports,
            peer=args.peer,
        )
        groups = self._groups(name, args.vpc_id, {rule.group for rule in plan})
        rules = self._rules(name, plan, groups)

        # A group's rules are separate API calls after CreateSecurityGroup (each
        # SecurityGroupIngressRule/EgressRule is one AuthorizeSecurityGroupIngress/Egress:
        # terraform-provider-aws internal/service/ec2/vpc_security_group_ingress_rule.go, Create;
        # EC2 API reference, AuthorizeSecurityGroupIngress "Adds the specified inbound (ingress)
        # rules to a security group"). Waiting for the group alone lets a Lambda, an instance or a
        # cluster start in a group with no rules yet: each id resolves only once all of its group's
        # rules exist, so whatever takes it depends on them (as the interface endpoints' group's
        # users do in network.py). Rules themselves reference the raw ids (``_rules``): a rule
        # naming its peer's gated id would wait for the peer's rules, which name this group: a cycle.
        self.ids = {
            key: pulumi.Output.all(group.id, *[rule.id for rule in rules[key]]).apply(lambda v: str(v[0]))
            for key, group in groups.items()
        }
        self.register_outputs({"ids": dict(self.ids)})

    def _groups(
        self, name: str, vpc_id: pulumi.Input[str], with_rules: set[GroupKey]
    ) -> dict[GroupKey, aws.ec2.SecurityGroup]:
        """One empty group per role (and the health checkers' when it has rules): rules are separate
        resources so groups can reference each other."""
        keys: list[GroupKey] = [*ROLES, *([HEALTH_CHECK_GROUP] if HEALTH_CHECK_GROUP in with_rules else [])]
        return {
            key: aws.ec2.SecurityGroup(
                f"{name}-{key}",
                vpc_id=vpc_id,
                description=_DESCRIPTIONS[key],
                tags={"Name": f"{name}-{key}"},
                opts=pulumi.ResourceOptions(parent=self),
            )
            for key in keys
        }

    def _rules(
        self, name: str, plan: list[Rule], groups: dict[GroupKey, aws.ec2.SecurityGroup]
    ) -> dict[GroupKey, list[aws.vpc.SecurityGroupIngressRule | aws.vpc.SecurityGroupEgressRule]]:
        """Declare ``rule_plan`` as it reads, one resource per rule; returns each group's rules.

        Groups are named by their raw ids (never the gated ``ids``: see ``__init__``)."""
        prefix_list_ids = {
            prefix_list: self._prefix_list_id(prefix_list)
            for prefix_list in dict.fromkeys(rule.prefix_list for rule in plan if rule.prefix_list)
        }
        declared: dict[GroupKey, list[aws.vpc.SecurityGroupIngressRule | aws.vpc.SecurityGroupEgressRule]] = {
            key: [] for key in groups
        }
        for rule in plan:
            resource = (
                aws.vpc.SecurityGroupIngressRule if rule.direction == "ingress" else aws.vpc.SecurityGroupEgressRule
            )
            declared[rule.group].append(
                resource(
                    f"{name}-{rule.key}",
                    security_group_id=groups[rule.group].id,
                    description=rule.description,
                    ip_protocol="tcp",
                    from_port=rule.port,
                    to_port=rule.port,
                    referenced_security_group_id=groups[rule.peer_group].id if rule.peer_group else None,
                    cidr_ipv4=rule.cidr,
                    prefix_list_id=prefix_list_ids[rule.prefix_list] if rule.prefix_list else None,
                    opts=pulumi.ResourceOptions(parent=self),
                )
            )
        return declared

    def _prefix_list_id(self, prefix_list: str) -> pulumi.Output[str]:
        """An AWS-managed prefix list's id, looked up by name in this component's region."""
        invoke = pulumi.InvokeOutputOptions(parent=self)
        name: pulumi.Input[str] = prefix_list
        if "{region}" in prefix_list:
            name = aws.get_region_output(opts=invoke).region.apply(lambda region: prefix_list.format(region=region))
        return aws.ec2.get_managed_prefix_list_output(name=name, opts=invoke).id
