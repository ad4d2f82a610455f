"""Network tier: subnets, AZ spread, NAT, routes, flow logs and endpoints."""

import ipaddress
import itertools

import pytest

from components.site.network import INTERFACE_ENDPOINT_SERVICES, TIERS, carve_subnets, pick_zones, tier_block
from offline.harness import ProgramError, ResourceRecord, StackRun, run_stack
from tests.helpers import record_by_output

SUBNET = "aws:ec2/subnet:Subnet"
ROUTE = "aws:ec2/route:Route"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
NAT = "aws:ec2/natGateway:NatGateway"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"


# ----------------------------------------------------------------- pure helpers


@pytest.mark.parametrize(("cidr", "size"), [("10.0.0.0/16", 20), ("172.16.0.0/18", 22), ("192.168.0.0/20", 24)])
@pytest.mark.parametrize("az_count", [2, 3])
def test_carved_subnets_are_disjoint_inside_the_vpc(cidr: str, size: int, az_count: int) -> None:
    carved = carve_subnets(cidr, az_count)
    vpc = ipaddress.IPv4Network(cidr)
    nets = [ipaddress.IPv4Network(c) for tier in TIERS for c in carved[tier]]
    assert len(nets) == len(TIERS) * az_count == 4 * az_count
    assert all(n.subnet_of(vpc) and n.prefixlen == size for n in nets)
    assert not any(a.overlaps(b) for a, b in itertools.combinations(nets, 2))


def test_adding_an_az_does_not_renumber_existing_subnets() -> None:
    two, three = carve_subnets("10.0.0.0/16", 2), carve_subnets("10.0.0.0/16", 3)
    for tier in TIERS:
        assert three[tier][:2] == two[tier]


def test_too_few_zones_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"azCount is 3 but the region offers only 2"):
        pick_zones(["xx-1a", "xx-1b"], 3)


# ----------------------------------------------------------------- the recorded graph


def subnets(run: StackRun, tier: str) -> list[ResourceRecord]:
    return sorted((s for s in run.of_type(SUBNET) if s.inputs["tags"]["Tier"] == tier), key=lambda s: s.name)


def route_table_of(run: StackRun, subnet: ResourceRecord) -> ResourceRecord:
    (assoc,) = [a for a in run.of_type(ASSOCIATION) if a.inputs["subnetId"] == subnet.id]
    return run.by_id(assoc.inputs["routeTableId"])


def routes_of(run: StackRun, table: ResourceRecord) -> list[ResourceRecord]:
    return [r for r in run.of_type(ROUTE) if r.inputs["routeTableId"] == table.id]


def test_one_subnet_per_tier_in_each_of_three_distinct_azs(stack_run: StackRun) -> None:
    zones = stack_run.outputs["availability_zones"]
    assert len(zones) == 3
    for tier in TIERS:
        tier_subnets = subnets(stack_run, tier)
        assert [s.inputs["availabilityZone"] for s in tier_subnets] == zones
        assert all(not s.inputs["mapPublicIpOnLaunch"] for s in tier_subnets)
    cidrs = [ipaddress.IPv4Network(s.inputs["cidrBlock"]) for s in stack_run.of_type(SUBNET)]
    vpc = ipaddress.IPv4Network(stack_run.one("aws:ec2/vpc:Vpc").inputs["cidrBlock"])
    assert all(c.subnet_of(vpc) for c in cidrs)
    assert not any(a.overlaps(b) for a, b in itertools.combinations(cidrs, 2))


def test_zones_come_from_the_provider_not_literals() -> None:
    run = run_stack("dev", {"aws:region": "ap-southeast-2", "azCount": 2})
    zones = run.outputs["availability_zones"]
    assert zones == ["ap-southeast-2a", "ap-southeast-2b"]
    assert len(run.of_type(SUBNET)) == 8  # four tiers in two zones
    (az_call,) = [args for token, args in run.calls if token.endswith("getAvailabilityZones")]
    assert az_call["state"] == "available"
    assert az_call["filters"] == [{"name": "opt-in-status", "values": ["opt-in-not-required"]}]


def test_vpc_resolves_dns(stack_run: StackRun) -> None:
    vpc = stack_run.one("aws:ec2/vpc:Vpc")
    assert vpc.inputs["enableDnsSupport"] is True
    assert vpc.inputs["enableDnsHostnames"] is True


@pytest.mark.parametrize(
    ("stack", "overrides", "expected"), [("dev", {}, 1), ("prod", {}, 3), ("dev", {"natStrategy": "per_az"}, 3)]
)
def test_nat_gateway_count_follows_the_strategy(stack: str, overrides: dict[str, str], expected: int) -> None:
    run = run_stack(stack, overrides).home()
    nats = run.of_type(NAT)
    assert len(nats) == expected
    assert len(run.of_type("aws:ec2/eip:Eip")) == expected
    public_ids = {s.id for s in subnets(run, "public")}
    assert all(n.inputs["subnetId"] in public_ids for n in nats)


def test_prod_private_subnets_leave_through_the_nat_in_their_own_az(prod: StackRun) -> None:
    for subnet in subnets(prod, "private"):
        (default,) = routes_of(prod, route_table_of(prod, subnet))
        assert default.inputs["destinationCidrBlock"] == "0.0.0.0/0"
        nat = prod.by_id(default.inputs["natGatewayId"])
        nat_subnet = prod.by_id(nat.inputs["subnetId"])
        assert nat_subnet.inputs["availabilityZone"] == subnet.inputs["availabilityZone"]


def test_public_subnets_route_to_the_internet_gateway(stack_run: StackRun) -> None:
    igw = stack_run.one("aws:ec2/internetGateway:InternetGateway")
    for subnet in subnets(stack_run, "public"):
        (default,) = routes_of(stack_run, route_table_of(stack_run, subnet))
        assert (default.inputs["destinationCidrBlock"], default.inputs["gatewayId"]) == ("0.0.0.0/0", igw.id)


def test_database_subnets_have_no_route_out_of_the_vpc(stack_run: StackRun) -> None:
    """None but, with a standby, the way back to the other site's rotation subnets over the peering."""
    other = (
        stack_run.config.get("payments-platform:standbyVpcCidr") if stack_run.outputs.get("standby_region") else None
    )
    for subnet in subnets(stack_run, "database"):
        table = route_table_of(stack_run, subnet)
        assert [
            (r.inputs["destinationCidrBlock"], "vpcPeeringConnectionId" in r.inputs)
            for r in routes_of(stack_run, table)
        ] == ([(tier_block(other, "rotation"), True)] if other else [])
        assert not table.inputs.get("routes")
        gateway_endpoints = [e for e in stack_run.of_type(ENDPOINT) if table.id in e.inputs.get("routeTableIds", [])]
        assert gateway_endpoints == []


def test_default_security_group_is_stripped(stack_run: StackRun) -> None:
    default = stack_run.one("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert not default.inputs.get("ingress")
    assert not default.inputs.get("egress")


def test_flow_logs_capture_all_traffic_into_an_encrypted_group(stack_run: StackRun) -> None:
    flow = stack_run.one("aws:ec2/flowLog:FlowLog")
    assert flow.inputs["trafficType"] == "ALL"
    assert flow.inputs["vpcId"] == stack_run.one("aws:ec2/vpc:Vpc").id
    group = record_by_output(stack_run, flow.inputs["logDestination"])
    assert group.type == "aws:cloudwatch/logGroup:LogGroup"
    assert group.inputs["kmsKeyId"] == stack_run.outputs["kms_key_arns"]["logs"]
    expected_days = int(stack_run.config["payments-platform:flowLogRetentionDays"])
    assert group.inputs["retentionInDays"] == expected_days
    role = record_by_output(stack_run, flow.inputs["iamRoleArn"])
    assert role.type == "aws:iam/role:Role"


def test_s3_gateway_endpoint_serves_the_private_route_tables(stack_run: StackRun) -> None:
    (s3,) = [e for e in stack_run.of_type(ENDPOINT) if e.inputs["vpcEndpointType"] == "Gateway"]
    assert s3.inputs["serviceName"] == "com.amazonaws.eu-west-1.s3"
    private_tables = {route_table_of(stack_run, s).id for s in subnets(stack_run, "private")}
    assert set(s3.inputs["routeTableIds"]) == private_tables


def test_prod_reaches_aws_apis_through_interface_endpoints(prod: StackRun) -> None:
    interface = [e for e in prod.of_type(ENDPOINT) if e.inputs["vpcEndpointType"] == "Interface"]
    assert sorted(e.inputs["serviceName"] for e in interface) == sorted(
        f"com.amazonaws.eu-west-1.{s}" for s in INTERFACE_ENDPOINT_SERVICES
    )
    private_ids = sorted(s.id for s in subnets(prod, "private"))
    for endpoint in interface:
        assert endpoint.inputs["privateDnsEnabled"] is True
        assert sorted(endpoint.inputs["subnetIds"]) == private_ids
    (sg_id,) = {sg for e in interface for sg in e.inputs["securityGroupIds"]}
    rules = [
        r
        for r in prod.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.inputs["securityGroupId"] == sg_id
    ]
    # The app's subnets and the rotation function's.
    assert sorted(r.inputs["cidrIpv4"] for r in rules) == sorted(
        s.inputs["cidrBlock"] for s in [*subnets(prod, "private"), *subnets(prod, "rotation")]
    )
    assert {(r.inputs["fromPort"], r.inputs["toPort"]) for r in rules} == {(443, 443)}


def test_interface_endpoints_are_only_the_services_the_workloads_call() -> None:
    """Secrets Manager, Logs, SSM + ssmmessages; kms (used only through other services) and
    ec2messages (SSM Agent prefers ssmmessages) would cost $21.90 a month each in three AZs."""
    assert sorted(INTERFACE_ENDPOINT_SERVICES) == ["logs", "secretsmanager", "ssm", "ssmmessages"]


def test_dev_saves_the_interface_endpoint_cost(dev: StackRun) -> None:
    assert [e for e in dev.of_type(ENDPOINT) if e.inputs["vpcEndpointType"] == "Interface"] == []


def test_region_with_too_few_zones_fails_before_any_tier_is_declared() -> None:
    with pytest.raises(ProgramError, match=r"azCount is 3 but the region offers only 2") as excinfo:
        run_stack("dev", {"aws:region": "us-west-1"})
    assert [r.type for r in excinfo.value.resources if r.custom] == ["pulumi:providers:aws"]
