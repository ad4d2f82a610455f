"""Network tier: a VPC across N availability zones with public, private, database and rotation subnets.

The rotation subnets hold only the secret rotation function. They have route tables of their own so
that, in a two-region stack, the route to the other region's database (over the peering,
``components/between/peering.py``) is theirs alone: the app subnets never reach the other region's
writer, which is what makes a passive site's readiness check fail (``/ready``: "reaches the writer").
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_aws as aws

Tier = Literal["public", "private", "database", "rotation"]
TIERS: tuple[Tier, ...] = ("public", "private", "database", "rotation")
# Each tier owns a fixed block of slots, so adding an AZ never renumbers existing subnets, and a
# tier's block is one aligned CIDR (``tier_block``): one rule or route names a whole tier.
_TIER_SLOT_OFFSET: dict[Tier, int] = {"public": 0, "private": 4, "database": 8, "rotation": 12}
MAX_AZS = 4
_SUBNET_NEWBITS = 4  # 16 equal slots, 4 per tier

# Services the private tiers call, reached through interface endpoints instead of NAT ($0.01 an
# endpoint-AZ-hour each): Secrets Manager (the health service, the rotation Lambda), CloudWatch
# Logs (the agent), SSM and ssmmessages (Session Manager). Not kms: nothing calls KMS directly
# (Secrets Manager, EBS and S3 use the keys from their side). Not ec2messages: SSM Agent uses
# ssmmessages when it can reach it ("Reference: ec2messages, ssmmessages, and other API
# operations", docs.aws.amazon.com/systems-manager/latest/userguide/systems-manager-setting-up-messageAPIs.html).
# Not monitoring: the health service's one 0/1 PutMetricData every 30 s carries no payment data
# and goes out signed over TLS through the AZ's own NAT gateway; an endpoint would cost $21.90 a month.
INTERFACE_ENDPOINT_SERVICES = ("secretsmanager", "ssm", "ssmmessages", "logs")


def carve_subnets(vpc_cidr: str, az_count: int) -> dict[Tier, list[str]]:
    """Split ``vpc_cidr`` into one subnet per tier and AZ, all the same size and disjoint.

    A /16 gives /20 subnets (4,091 usable addresses each); a /20 gives /24s.
    """
    if not 1 <= az_count <= MAX_AZS:
        raise ValueError(f"az_count must be from 1 to {MAX_AZS}, got {az_count}")
    network = ipaddress.IPv4Network(vpc_cidr, strict=True)
    slots = list(network.subnets(prefixlen_diff=_SUBNET_NEWBITS))
    return {tier: [str(slots[_TIER_SLOT_OFFSET[tier] + i]) for i in range(az_count)] for tier in TIERS}


def tier_block(vpc_cidr: str, tier: Tier) -> str:
    """The CIDR holding every subnet ``tier`` may ever have (a quarter of the VPC), whatever the AZ count."""
    network = ipaddress.IPv4Network(vpc_cidr, strict=True)
    slots = list(network.subnets(prefixlen_diff=_SUBNET_NEWBITS))
    offset = _TIER_SLOT_OFFSET[tier]
    (block,) = ipaddress.collapse_addresses(slots[offset : offset + MAX_AZS])
    return str(block)


def pick_zones(available: Sequence[str], az_count: int) -> tuple[str, ...]:
    """The first ``az_count`` zones, in the provider's order; fails clearly if the region has fewer."""
    if len(available) < az_count:
        raise ValueError(
            f"azCount is {az_count} but the region offers only {len(available)} default availability zones "
            f"({', '.join(available) or 'none'}); lower azCount or choose another region"
        )
    return tuple(available[:az_count])


def lookup_zones(az_count: int, opts: pulumi.InvokeOptions) -> tuple[str, ...]:
    """Default zones of the provider's region, looked up before anything is declared.

    Local Zones and Wavelength Zones are opt-in and lack NAT gateways and RDS, so they are excluded.
    """
    found = aws.get_availability_zones(
        state="available",
        filters=[{"name": "opt-in-status", "values": ["opt-in-not-required"]}],
        opts=opts,
    )
    return pick_zones(found.names, az_count)


@dataclass(frozen=True)
class NetworkArgs:
    vpc_cidr: str
    """Private IPv4 CIDR (/16-/20) the subnets are carved from."""
    availability_zones: tuple[str, ...]
    """Zones to span, one subnet per tier in each (from ``get_availability_zones``, never literals)."""
    nat_strategy: Literal["single", "per_az"]
    """One NAT gateway for the VPC, or one per AZ so an AZ outage cannot cut the others off."""
    flow_log_group_name: str
    """Name of the CloudWatch log group receiving VPC flow logs."""
    flow_log_retention_days: int
    flow_log_key_arn: pulumi.Input[str]
    """KMS key encrypting the flow-log group."""
    flow_log_role_arn: pulumi.Input[str]
    """Role VPC Flow Logs assumes to write into the group."""
    interface_endpoint_services: tuple[str, ...] = field(default=())
    """Short service names (``secretsmanager``, ``kms`` ...) to reach through interface endpoints."""
    retain_logs: bool = False
    """Keep the log group when the stack is deleted: the audit trail outlives the platform."""


class Network(pulumi.ComponentResource):
    """VPC, subnets per tier and AZ, internet and NAT gateways, routes, flow logs and endpoints."""

    vpc_id: pulumi.Output[str]
    cidr: str
    availability_zones: list[str]
    public_subnet_ids: list[pulumi.Output[str]]
    private_subnet_ids: list[pulumi.Output[str]]
    """Resolve only once the private subnets have their route out and their endpoints."""
    database_subnet_ids: list[pulumi.Output[str]]
    nat_gateway_ids: list[pulumi.Output[str]]
    private_route_table_ids: list[pulumi.Output[str]]
    rotation_subnet_ids: list[pulumi.Output[str]]
    """The rotation function's subnets; resolve only once their route out and the endpoints exist."""
    rotation_route_table_ids: list[pulumi.Output[str]]
    database_route_table_id: pulumi.Output[str]
    endpoint_security_group_id: pulumi.Output[str] | None
    flow_log_group_name: pulumi.Output[str]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("fintech:network:Network", name, None, opts)
        zones = list(args.availability_zones)
        cidrs = carve_subnets(args.vpc_cidr, len(zones))
        invoke = pulumi.InvokeOutputOptions(parent=self)
        # Endpoint service names are "<reverse DNS prefix>.<region>.<service>" in every partition.
        endpoint_prefix = aws.get_partition_output(opts=invoke).reverse_dns_prefix
        service_prefix = pulumi.Output.concat(endpoint_prefix, ".", aws.get_region_output(opts=invoke).region)

        vpc = self._vpc(name, args.vpc_cidr)
        subnets = self._subnets(name, vpc, cidrs, zones)
        igw, public_ready = self._public_routing(name, vpc, subnets["public"])
        nat_count = len(zones) if args.nat_strategy == "per_az" else 1
        nats = self._nat_gateways(name, nat_count, subnets["public"], igw)
        # What a private subnet needs before anything is launched into it: its route out and
        # the endpoints its traffic to AWS APIs takes.
        private_rts, private_ready = self._private_routing(name, vpc, subnets["private"], nats)
        rotation_rts, rotation_ready = self._private_routing(name, vpc, subnets["rotation"], nats, tier="rotation")
        database_rt = self._database_routing(name, vpc, subnets["database"])
        flow_log_group = self._flow_logs(name, vpc, args)
        private_ready += self._gateway_endpoints(name, vpc, service_prefix, private_rts)
        endpoint_sg, endpoints_ready = self._interface_endpoints(
            name,
            vpc,
            service_prefix,
            {"private": cidrs["private"], "rotation": cidrs["rotation"]},
            subnets["private"],
            args.interface_endpoint_services,
        )
        private_ready += endpoints_ready
        rotation_ready += endpoints_ready

        self.vpc_id = vpc.id
        self.cidr = args.vpc_cidr
        self.flow_log_group_name = flow_log_group.name
        self.availability_zones = zones
        # An internet-facing load balancer created in a subnet of a VPC whose gateway is not attached
        # yet fails (`InvalidSubnet: VPC ... has no internet gateway`, e.g. openshift/installer#1110):
        # what takes these ids waits for the gateway, its route and the subnets' associations.
        public_ids = [r.id for r in public_ready]
        self.public_subnet_ids = [
            pulumi.Output.all(s.id, *public_ids).apply(lambda v: str(v[0])) for s in subnets["public"]
        ]
        # Resolve only once the routes, associations and endpoints exist, so instances and
        # functions launched into these subnets can reach their dependencies from their first boot.
        ready_ids = [r.id for r in private_ready]
        self.private_subnet_ids = [
            pulumi.Output.all(s.id, *ready_ids).apply(lambda v: str(v[0])) for s in subnets["private"]
        ]
        self.rotation_subnet_ids = [
            pulumi.Output.all(s.id, *[r.id for r in rotation_ready]).apply(lambda v: str(v[0]))
            for s in subnets["rotation"]
        ]
        self.database_subnet_ids = [s.id for s in subnets["database"]]
        self.nat_gateway_ids = [n.id for n in nats]
        self.private_route_table_ids = [rt.id for rt in private_rts]
        self.rotation_route_table_ids = [rt.id for rt in rotation_rts]
        self.database_route_table_id = database_rt.id
        self.endpoint_security_group_id = endpoint_sg.id if endpoint_sg is not None else None
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "availability_zones": self.availability_zones,
                "public_subnet_ids": self.public_subnet_ids,
                "private_subnet_ids": self.private_subnet_ids,
                "database_subnet_ids": self.database_subnet_ids,
                "nat_gateway_ids": self.nat_gateway_ids,
                "private_route_table_ids": self.private_route_table_ids,
                "rotation_subnet_ids": self.rotation_subnet_ids,
                "rotation_route_table_ids": self.rotation_route_table_ids,
                "database_route_table_id": self.database_route_table_id,
                "endpoint_security_group_id": self.endpoint_security_group_id,
                "flow_log_group_name": self.flow_log_group_name,
            }
        )

    def _child(self, **options: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **options)

    def _vpc(self, name: str, cidr: str) -> aws.ec2.Vpc:
        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags={"Name": f"{name}-vpc"},
            opts=self._child(),
        )
        # Adopt the default security group and strip its rules: nothing should use it.
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg", vpc_id=vpc.id, tags={"Name": f"{name}-default"}, opts=self._child()
        )
        return vpc

    def _subnets(
        self, name: str, vpc: aws.ec2.Vpc, cidrs: dict[Tier, list[str]], zones: list[str]
    ) -> dict[Tier, list[aws.ec2.Subnet]]:
        """One subnet per tier and zone, none handing out public addresses."""
        return {
            tier: [
                aws.ec2.Subnet(
                    f"{name}-{tier}-{i}",
                    vpc_id=vpc.id,
                    cidr_block=cidr,
                    availability_zone=zones[i],
                    map_public_ip_on_launch=False,
                    tags={"Name": f"{name}-{tier}-{i}", "Tier": tier},
                    opts=self._child(),
                )
                for i, cidr in enumerate(cidrs[tier])
            ]
            for tier in TIERS
        }

    def _public_routing(
        self, name: str, vpc: aws.ec2.Vpc, public_subnets: list[aws.ec2.Subnet]
    ) -> tuple[aws.ec2.InternetGateway, list[pulumi.CustomResource]]:
        """The internet gateway (created attached: terraform-provider-aws internet_gateway.go attaches
        in Create) and the one route table all public subnets share; with what the subnets wait for."""
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags={"Name": f"{name}-igw"}, opts=self._child())
        public_rt = aws.ec2.RouteTable(
            f"{name}-public-rt", vpc_id=vpc.id, tags={"Name": f"{name}-public"}, opts=self._child()
        )
        route = aws.ec2.Route(
            f"{name}-public-default",
            route_table_id=public_rt.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=igw.id,
            opts=self._child(),
        )
        associations = [
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{i}", subnet_id=subnet.id, route_table_id=public_rt.id, opts=self._child()
            )
            for i, subnet in enumerate(public_subnets)
        ]
        return igw, [igw, route, *associations]

    def _nat_gateways(
        self, name: str, count: int, public_subnets: list[aws.ec2.Subnet], igw: aws.ec2.InternetGateway
    ) -> list[aws.ec2.NatGateway]:
        """``count`` NAT gateways, one per public subnet from the first; they need the IGW to work."""
        nats: list[aws.ec2.NatGateway] = []
        for i in range(count):
            eip = aws.ec2.Eip(f"{name}-nat-eip-{i}", domain="vpc", tags={"Name": f"{name}-nat-{i}"}, opts=self._child())
            nats.append(
                aws.ec2.NatGateway(
                    f"{name}-nat-{i}",
                    allocation_id=eip.allocation_id,
                    subnet_id=public_subnets[i].id,
                    connectivity_type="public",
                    tags={"Name": f"{name}-nat-{i}"},
                    opts=self._child(depends_on=[igw]),
                )
            )
        return nats

    def _private_routing(
        self,
        name: str,
        vpc: aws.ec2.Vpc,
        private_subnets: list[aws.ec2.Subnet],
        nats: list[aws.ec2.NatGateway],
        tier: Tier = "private",
    ) -> tuple[list[aws.ec2.RouteTable], list[pulumi.CustomResource]]:
        """A route table per subnet of ``tier``, out through a NAT gateway (its own AZ's under ``per_az``).

        Returns the tables and the routes and associations the subnets must wait for.
        """
        tables: list[aws.ec2.RouteTable] = []
        ready: list[pulumi.CustomResource] = []
        for i, subnet in enumerate(private_subnets):
            rt = aws.ec2.RouteTable(
                f"{name}-{tier}-rt-{i}", vpc_id=vpc.id, tags={"Name": f"{name}-{tier}-{i}"}, opts=self._child()
            )
            route = aws.ec2.Route(
                f"{name}-{tier}-default-{i}",
                route_table_id=rt.id,
                destination_cidr_block="0.0.0.0/0",
                nat_gateway_id=nats[i % len(nats)].id,
                opts=self._child(),
            )
            association = aws.ec2.RouteTableAssociation(
                f"{name}-{tier}-{i}", subnet_id=subnet.id, route_table_id=rt.id, opts=self._child()
            )
            tables.append(rt)
            ready += [route, association]
        return tables, ready

    def _database_routing(
        self, name: str, vpc: aws.ec2.Vpc, database_subnets: list[aws.ec2.Subnet]
    ) -> aws.ec2.RouteTable:
        # Database subnets get a table of their own with only the implicit local route (and, with a
        # peer region, the way back to its rotation subnets: between/peering.py).
        database_rt = aws.ec2.RouteTable(
            f"{name}-database-rt", vpc_id=vpc.id, tags={"Name": f"{name}-database"}, opts=self._child()
        )
        for i, subnet in enumerate(database_subnets):
            aws.ec2.RouteTableAssociation(
                f"{name}-database-{i}", subnet_id=subnet.id, route_table_id=database_rt.id, opts=self._child()
            )
        return database_rt

    def _flow_logs(self, name: str, vpc: aws.ec2.Vpc, args: NetworkArgs) -> aws.cloudwatch.LogGroup:
        """All the VPC's traffic, logged into an encrypted group (kept on delete when asked)."""
        flow_log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            name=args.flow_log_group_name,
            retention_in_days=args.flow_log_retention_days,
            kms_key_id=args.flow_log_key_arn,
            opts=self._child(retain_on_delete=args.retain_logs),
        )
        aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=flow_log_group.arn,
            iam_role_arn=args.flow_log_role_arn,
            max_aggregation_interval=60,
            tags={"Name": f"{name}-flow-log"},
            opts=self._child(),
        )
        return flow_log_group

    def _gateway_endpoints(
        self,
        name: str,
        vpc: aws.ec2.Vpc,
        service_prefix: pulumi.Output[str],
        private_rts: list[aws.ec2.RouteTable],
    ) -> list[pulumi.CustomResource]:
        """S3 through a (free) gateway endpoint on the private route tables."""
        s3_endpoint = aws.ec2.VpcEndpoint(
            f"{name}-s3-endpoint",
            vpc_id=vpc.id,
            vpc_endpoint_type="Gateway",
            service_name=pulumi.Output.concat(service_prefix, ".s3"),
            route_table_ids=[rt.id for rt in private_rts],
            tags={"Name": f"{name}-s3"},
            opts=self._child(),
        )
        return [s3_endpoint]

    def _interface_endpoints(
        self,
        name: str,
        vpc: aws.ec2.Vpc,
        service_prefix: pulumi.Output[str],
        client_cidrs: dict[Tier, list[str]],
        private_subnets: list[aws.ec2.Subnet],
        services: tuple[str, ...],
    ) -> tuple[aws.ec2.SecurityGroup | None, list[pulumi.CustomResource]]:
        """An interface endpoint per service in the private subnets, behind a group admitting HTTPS
        from the subnets of ``client_cidrs`` (the app's and the rotation function's).

        Returns the group (None when there are no services) and what the clients' subnets must wait for.
        """
        if not services:
            return None, []
        endpoint_sg = aws.ec2.SecurityGroup(
            f"{name}-endpoints-sg",
            vpc_id=vpc.id,
            description="Interface endpoints: HTTPS from the private (app) and rotation subnets",
            tags={"Name": f"{name}-endpoints"},
            opts=self._child(),
        )
        ready: list[pulumi.CustomResource] = [
            aws.vpc.SecurityGroupIngressRule(
                # The app subnets' rules keep their first names (a rename would replace them).
                f"{name}-endpoints-https-{i}" if tier == "private" else f"{name}-endpoints-https-{tier}-{i}",
                security_group_id=endpoint_sg.id,
                description=f"HTTPS from {tier} subnet {i}",
                ip_protocol="tcp",
                from_port=443,
                to_port=443,
                cidr_ipv4=cidr,
                opts=self._child(),
            )
            for tier, cidrs in client_cidrs.items()
            for i, cidr in enumerate(cidrs)
        ]
        ready += [
            aws.ec2.VpcEndpoint(
                f"{name}-{service}-endpoint",
                vpc_id=vpc.id,
                vpc_endpoint_type="Interface",
                service_name=pulumi.Output.concat(service_prefix, f".{service}"),
                private_dns_enabled=True,
                subnet_ids=[s.id for s in private_subnets],
                security_group_ids=[endpoint_sg.id],
                tags={"Name": f"{name}-{service}"},
                opts=self._child(),
            )
            for service in services
        ]
        return endpoint_sg, ready
