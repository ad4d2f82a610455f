"""Security tier, network half: one security group per role, rules referencing each other.

Only the load balancer's public listener ports admit a CIDR; every other rule names the
security group on the other side, so access follows roles, not addresses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

Role = Literal["alb", "app", "database", "rotation"]
ROLES: tuple[Role, ...] = ("alb", "app", "database", "rotation")
_DESCRIPTIONS: dict[Role, str] = {
    "alb": "Application Load Balancer: public HTTP/HTTPS listeners",
    "app": "App instances: traffic from the load balancer only",
    "database": "Aurora MySQL: the app and the rotation Lambda only",
    "rotation": "Secret rotation Lambda: database and AWS APIs",
}
ANYWHERE_IPV4 = "0.0.0.0/0"
HTTPS = 443
HTTP = 80
# AWS-managed list of CloudFront's origin-facing addresses. A rule referencing it counts as
# ~55 rules against the 60-rule group quota, so the ALB admits it on one port only.
CLOUDFRONT_PREFIX_LIST = "com.amazonaws.global.cloudfront.origin-facing"
AlbSource = Literal["internet", "cloudfront"]


@dataclass(frozen=True)
class Rule:
    """One security group rule in a form tests and policies can read."""

    key: str
    direction: Literal["ingress", "egress"]
    group: Role
    port: int
    peer_group: Role | None = None
    cidr: str | None = None
    prefix_list: str | None = None
    description: str = ""


def rule_plan(
    app_port: int, db_port: int, *, alb_source: AlbSource = "internet", alb_ports: tuple[int, ...] = (HTTPS, HTTP)
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
        Rule("alb-out-app", "egress", "alb", app_port, peer_group="app", description="To app instances"),
        Rule("app-in-alb", "ingress", "app", app_port, peer_group="alb", description="From the load balancer"),
        Rule("app-out-db", "egress", "app", db_port, peer_group="database", description="To Aurora"),
        Rule("app-out-https", "egress", "app", HTTPS, cidr=ANYWHERE_IPV4, description="AWS APIs and OS updates"),
        Rule("db-in-app", "ingress", "database", db_port, peer_group="app", description="From app instances"),
        Rule("db-in-rotation", "ingress", "database", db_port, peer_group="rotation", description="From rotation"),
        Rule("rotation-out-db", "egress", "rotation", db_port, peer_group="database", description="To Aurora"),
        Rule("rotation-out-https", "egress", "rotation", HTTPS, cidr=ANYWHERE_IPV4, description="Secrets Manager API"),
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


class SecurityGroups(pulumi.ComponentResource):
    """Security groups for the ALB, app instances, database and rotation Lambda."""

    ids: dict[Role, pulumi.Output[str]]

    def __init__(self, name: str, args: SecurityGroupsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("fintech:security:SecurityGroups", name, None, opts)
        groups = self._groups(name, args.vpc_id)
        self._rules(name, args, groups)

        self.ids = {role: group.id for role, group in groups.items()}
        self.register_outputs({"ids": dict(self.ids)})

    def _groups(self, name: str, vpc_id: pulumi.Input[str]) -> dict[Role, aws.ec2.SecurityGroup]:
        """One empty group per role: rules are separate resources so groups can reference each other."""
        return {
            role: aws.ec2.SecurityGroup(
                f"{name}-{role}",
                vpc_id=vpc_id,
                description=_DESCRIPTIONS[role],
                tags={"Name": f"{name}-{role}"},
                opts=pulumi.ResourceOptions(parent=self),
            )
            for role in ROLES
        }

    def _rules(self, name: str, args: SecurityGroupsArgs, groups: dict[Role, aws.ec2.SecurityGroup]) -> None:
        """Declare ``rule_plan`` as it reads, one resource per rule."""
        prefix_list_id = (
            aws.ec2.get_managed_prefix_list_output(
                name=CLOUDFRONT_PREFIX_LIST, opts=pulumi.InvokeOutputOptions(parent=self)
            ).id
            if args.alb_source == "cloudfront"
            else None
        )
        for rule in rule_plan(args.app_port, args.db_port, alb_source=args.alb_source, alb_ports=args.alb_ports):
            resource = (
                aws.vpc.SecurityGroupIngressRule if rule.direction == "ingress" else aws.vpc.SecurityGroupEgressRule
            )
            resource(
                f"{name}-{rule.key}",
                security_group_id=groups[rule.group].id,
                description=rule.description,
                ip_protocol="tcp",
                from_port=rule.port,
                to_port=rule.port,
                referenced_security_group_id=groups[rule.peer_group].id if rule.peer_group else None,
                cidr_ipv4=rule.cidr,
                prefix_list_id=prefix_list_id if rule.prefix_list else None,
                opts=pulumi.ResourceOptions(parent=self),
            )
