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


@dataclass(frozen=True)
class Rule:
    """One security group rule in a form tests and policies can read."""

    key: str
    direction: Literal["ingress", "egress"]
    group: Role
    port: int
    peer_group: Role | None = None
    cidr: str | None = None
    description: str = ""


def rule_plan(app_port: int, db_port: int) -> list[Rule]:
    """Every rule of every group: the reviewed source of truth the component declares."""
    return [
        Rule("alb-in-https", "ingress", "alb", HTTPS, cidr=ANYWHERE_IPV4, description="HTTPS from clients"),
        Rule("alb-in-http", "ingress", "alb", HTTP, cidr=ANYWHERE_IPV4, description="HTTP, redirected to HTTPS"),
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


class SecurityGroups(pulumi.ComponentResource):
    """Security groups for the ALB, app instances, database and rotation Lambda."""

    ids: dict[Role, pulumi.Output[str]]

    def __init__(self, name: str, args: SecurityGroupsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("fintech:security:SecurityGroups", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        groups = {
            role: aws.ec2.SecurityGroup(
                f"{name}-{role}",
                vpc_id=args.vpc_id,
                description=_DESCRIPTIONS[role],
                tags={"Name": f"{name}-{role}"},
                opts=child,
            )
            for role in ROLES
        }
        for rule in rule_plan(args.app_port, args.db_port):
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
                opts=child,
            )

        self.ids = {role: group.id for role, group in groups.items()}
        self.register_outputs({"ids": dict(self.ids)})
