"""The peering between the two sites' VPCs, for the rotation functions alone.

Whichever region holds the Aurora writer, the home site's rotation function (attached to the secrets'
primaries, which live at home) must reach it: after a switchover, or a failover while the home region
still answers, the writer is in the other VPC. An inter-Region VPC peering connection joins the two
VPCs, and only two pairs of routes use it:

- each site's rotation subnets (their own route tables, ``site/network.py``) reach the other site's
  database subnets (``tier_block(cidr, "database")``);
- each site's database subnets answer the other site's rotation subnets (``tier_block(cidr, "rotation")``).

The app subnets have no route to the other VPC, so a passive site's app never reaches the other
region's writer and its readiness check (``/ready``: "reaches the writer") keeps failing, which is
what keeps Route 53's traffic on the active site. The security groups name the same blocks (an
inter-Region peering cannot reference the other VPC's groups: ``site/security_groups.py``).

AWS facts (VPC Peering Guide): "For an inter-Region VPC peering connection, the request must be made
from the Region of the requester VPC, and the request must be accepted from the Region of the
accepter VPC" ("Create a VPC peering connection"): the connection is requested through the home
site's provider with ``peer_region`` and accepted by an accepter resource in the standby's region
(``auto_accept`` on the request works only within one Region and account: Terraform AWS provider,
vpc_peering_connection docs). The VPCs must not overlap ("If they overlap, the status of the VPC
peering connection immediately goes to failed"): settings refuse overlapping ``vpcCidr`` and
``standbyVpcCidr``. Routes name the connection through the accepter, so they are created once it is
active (a route to a connection still pending acceptance is a blackhole). Aurora's endpoints of a
cluster that is not publicly accessible resolve to private addresses, reachable over the peering.
Peering has no hourly charge; traffic across Regions is billed per GB (rotations: kilobytes a month).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.site.network import Tier, tier_block


@dataclass(frozen=True)
class PeeredSite:
    """One site as the peering needs it: its VPC and the route tables that use the connection."""

    region: str
    vpc_id: pulumi.Input[str]
    cidr: str
    """The VPC's CIDR (the other site's routes name blocks of it)."""
    rotation_route_table_ids: Sequence[pulumi.Input[str]]
    database_route_table_id: pulumi.Input[str]


@dataclass(frozen=True)
class Route:
    """One route the peering adds: in ``site``'s table towards ``to`` of the other site's VPC."""

    site: str
    table: str
    destination: str


def routes(requester: PeeredSite, accepter: PeeredSite) -> list[Route]:
    """Every route across the peering: rotation subnets to the other database, and the way back."""
    out: list[Route] = []
    for here, there in ((requester, accepter), (accepter, requester)):
        to_database: Tier = "database"
        to_rotation: Tier = "rotation"
        out += [
            Route(here.region, f"rotation-{i}", tier_block(there.cidr, to_database))
            for i in range(len(here.rotation_route_table_ids))
        ]
        out.append(Route(here.region, "database", tier_block(there.cidr, to_rotation)))
    return out


@dataclass(frozen=True)
class PeeringArgs:
    requester: PeeredSite
    """The home site: the connection is requested in its region (this component's provider's)."""
    accepter: PeeredSite

    def __post_init__(self) -> None:
        if self.requester.region == self.accepter.region:
            raise ValueError("the peering joins two regions' sites: requester and accepter share a region")


class Peering(pulumi.ComponentResource):
    """An inter-Region VPC peering connection and the routes of the rotation and database subnets."""

    connection_id: pulumi.Output[str]
    """Resolves once the connection is accepted (active)."""

    def __init__(self, name: str, args: PeeringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("fintech:network:Peering", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        request = aws.ec2.VpcPeeringConnection(
            f"{name}-request",
            vpc_id=args.requester.vpc_id,
            peer_vpc_id=args.accepter.vpc_id,
            peer_region=args.accepter.region,
            tags={"Name": f"{name}"},
            opts=child,
        )
        accepted = aws.ec2.VpcPeeringConnectionAccepter(
            f"{name}-accept",
            region=args.accepter.region,
            vpc_peering_connection_id=request.id,
            auto_accept=True,
            tags={"Name": f"{name}"},
            opts=child,
        )
        self.connection_id = accepted.vpc_peering_connection_id
        tables = {
            (site.region, f"rotation-{i}"): table
            for site in (args.requester, args.accepter)
            for i, table in enumerate(site.rotation_route_table_ids)
        } | {(site.region, "database"): site.database_route_table_id for site in (args.requester, args.accepter)}
        for route in routes(args.requester, args.accepter):
            aws.ec2.Route(
                f"{name}-{route.site}-{route.table}",
                # The requester's routes go through this component's provider (its region).
                region=route.site if route.site == args.accepter.region else None,
                route_table_id=tables[(route.site, route.table)],
                destination_cidr_block=route.destination,
                vpc_peering_connection_id=self.connection_id,
                opts=child,
            )
        self.register_outputs({"connection_id": self.connection_id})
