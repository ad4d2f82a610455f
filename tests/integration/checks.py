"""What a user would check on a deployed stack, as functions of boto3 clients and stack outputs.

Each check returns the problems it found (empty: the stack is right). The same functions run
against a live stack (test_live.py) and, in CI, against moto's fakes built from a recorded
plan (test_checks_offline.py), so a refactor cannot silently break a check that only runs
against a real account.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import boto3

Outputs = Mapping[str, Any]


@dataclass(frozen=True)
class Expectations:
    """What the stack's settings promise."""

    az_count: int
    nat_gateways: int
    protected: bool
    rotation_days: int = 30
    resource_prefix: str = ""


class Aws:
    """boto3 clients for the stack's region, and us-east-1 for the edge."""

    def __init__(self, region: str, session: boto3.Session | None = None) -> None:
        self.session = session or boto3.Session(region_name=region)
        self.region = region

    def client(self, service: str, region: str | None = None) -> Any:
        return self.session.client(service, region_name=region or self.region)


def check_network(aws: Aws, outputs: Outputs, expect: Expectations) -> list[str]:
    ec2 = aws.client("ec2")
    problems = []
    vpc_id = outputs["vpc_id"]
    tiers = {tier: outputs[f"{tier}_subnet_ids"] for tier in ("public", "private", "database")}
    for tier, ids in tiers.items():
        subnets = ec2.describe_subnets(SubnetIds=ids)["Subnets"]
        zones = {s["AvailabilityZone"] for s in subnets}
        if len(zones) != expect.az_count:
            problems.append(f"{tier} subnets span {len(zones)} AZs, expected {expect.az_count}")
        if any(s["VpcId"] != vpc_id for s in subnets):
            problems.append(f"{tier} subnets outside VPC {vpc_id}")
        if tier != "public" and any(s.get("MapPublicIpOnLaunch") for s in subnets):
            problems.append(f"{tier} subnets assign public IPs")
    nats = ec2.describe_nat_gateways(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["NatGateways"]
    available = [n for n in nats if n["State"] == "available"]
    if len(available) != expect.nat_gateways:
        problems.append(f"{len(available)} NAT gateways available, expected {expect.nat_gateways}")
    nat_ids = {n["NatGatewayId"] for n in available}
    for tier in ("private", "database"):
        for subnet_id in tiers[tier]:
            routes = _routes_of(ec2, vpc_id, subnet_id)
            default = [r for r in routes if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
            if tier == "private" and not (default and default[0].get("NatGatewayId") in nat_ids):
                problems.append(f"private subnet {subnet_id} has no default route through a NAT gateway")
            if tier == "database" and default:
                problems.append(f"database subnet {subnet_id} has a route to the internet: {default[0]}")
    flow_logs = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc_id]}])["FlowLogs"]
    if not any(f.get("FlowLogStatus") == "ACTIVE" and f.get("TrafficType") == "ALL" for f in flow_logs):
        problems.append(f"VPC {vpc_id} has no active flow log of all traffic")
    return problems


def _routes_of(ec2: Any, vpc_id: str, subnet_id: str) -> list[dict[str, Any]]:
    tables = ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}])[
        "RouteTables"
    ]
    if not tables:  # falls back to the VPC's main table
        tables = ec2.describe_route_tables(
            Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "association.main", "Values": ["true"]}]
        )["RouteTables"]
    return [route for table in tables for route in table["Routes"]]


def check_database(aws: Aws, outputs: Outputs, expect: Expectations) -> list[str]:
    rds = aws.client("rds")
    identifier = outputs["db_cluster_endpoint"].split(".")[0]
    (cluster,) = rds.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"]
    problems = []
    if not cluster.get("StorageEncrypted"):
        problems.append("cluster storage is not encrypted")
    if cluster.get("KmsKeyId") != outputs["kms_key_arns"]["database"]:
        problems.append(f"cluster encrypted with {cluster.get('KmsKeyId')}, not the stack's database key")
    if bool(cluster.get("DeletionProtection")) != expect.protected:
        problems.append(f"deletion protection is {cluster.get('DeletionProtection')}, expected {expect.protected}")
    parameters = rds.describe_db_cluster_parameters(DBClusterParameterGroupName=cluster["DBClusterParameterGroup"])[
        "Parameters"
    ]
    values = {p["ParameterName"]: p.get("ParameterValue") for p in parameters}
    if str(values.get("require_secure_transport", "")).upper() not in ("ON", "1"):
        problems.append(f"require_secure_transport is {values.get('require_secure_transport')}")
    return problems


def check_database_available(aws: Aws, outputs: Outputs) -> list[str]:
    """Live only: the cluster is up (a fake cluster stays 'creating')."""
    identifier = outputs["db_cluster_endpoint"].split(".")[0]
    (cluster,) = aws.client("rds").describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"]
    return [] if cluster["Status"] == "available" else [f"cluster status is {cluster['Status']}"]


def check_secrets(aws: Aws, outputs: Outputs, expect: Expectations) -> list[str]:
    problems = []
    secret = aws.client("secretsmanager").describe_secret(SecretId=outputs["app_db_secret_arn"])
    if not secret.get("RotationEnabled"):
        problems.append("app credential rotation is not enabled")
    days = (secret.get("RotationRules") or {}).get("AutomaticallyAfterDays")
    if days != expect.rotation_days:
        problems.append(f"app credential rotates every {days} days, expected {expect.rotation_days}")
    exported = json.dumps(dict(outputs), default=str).lower()
    if "password" in exported:
        problems.append("a stack output mentions a password")
    return problems


def check_last_rotation_succeeded(aws: Aws, outputs: Outputs) -> list[str]:
    """Live only: a rotation has completed (AWSCURRENT moved) and none is stuck pending."""
    secret = aws.client("secretsmanager").describe_secret(SecretId=outputs["app_db_secret_arn"])
    stages = secret.get("VersionIdsToStages", {})
    problems = []
    if not secret.get("LastRotatedDate"):
        problems.append("the app credential has never rotated")
    pending = [v for v, s in stages.items() if "AWSPENDING" in s and "AWSCURRENT" not in s]
    if pending:
        problems.append(f"a rotation is stuck at version {pending[0]}")
    return problems


def check_instances(aws: Aws, outputs: Outputs, expect: Expectations) -> list[str]:
    ec2 = aws.client("ec2")
    reservations = ec2.describe_instances(
        Filters=[
            {"Name": "tag:aws:autoscaling:groupName", "Values": [outputs["asg_name"]]},
            {"Name": "instance-state-name", "Values": ["pending", "running"]},
        ]
    )["Reservations"]
    instances = [i for r in reservations for i in r["Instances"]]
    problems = [] if instances else [f"no running instance in {outputs['asg_name']}"]
    for instance in instances:
        metadata = instance.get("MetadataOptions", {})
        if metadata.get("HttpTokens") != "required" or metadata.get("HttpPutResponseHopLimit") != 1:
            problems.append(f"{instance['InstanceId']} allows IMDSv1 or a hop limit above 1: {metadata}")
        if instance.get("PublicIpAddress"):
            problems.append(f"{instance['InstanceId']} has a public IP {instance['PublicIpAddress']}")
        if instance.get("SubnetId") not in outputs["private_subnet_ids"]:
            problems.append(f"{instance['InstanceId']} is not in a private subnet")
    return problems


def check_alarms(aws: Aws, outputs: Outputs, expect: Expectations) -> list[str]:
    problems = []
    for region in (aws.region, "us-east-1"):
        alarms = aws.client("cloudwatch", region).describe_alarms(AlarmNamePrefix=expect.resource_prefix)[
            "MetricAlarms"
        ]
        for alarm in alarms:
            if not alarm.get("AlarmActions") or not alarm.get("OKActions"):
                problems.append(f"alarm {alarm['AlarmName']} ({region}) notifies nobody")
            if alarm.get("ActionsEnabled") is False:
                problems.append(f"alarm {alarm['AlarmName']} ({region}) has its actions disabled")
            if alarm.get("AlarmActions") and not all(a.split(":")[3] == region for a in alarm["AlarmActions"]):
                problems.append(f"alarm {alarm['AlarmName']} notifies a topic in another region")
        if region == aws.region and not alarms:
            problems.append(f"no alarm named {expect.resource_prefix}* in {region}")
    return problems


def check_buckets(aws: Aws, outputs: Outputs, expect: Expectations) -> list[str]:
    s3 = aws.client("s3")
    problems = []
    for key in ("data_bucket_name", "audit_bucket_name", "logs_bucket_name"):
        bucket = outputs[key]
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        algorithm = rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]
        if key != "logs_bucket_name" and algorithm != "aws:kms":
            problems.append(f"{bucket} is encrypted with {algorithm}, not a CMK")
        if s3.get_bucket_versioning(Bucket=bucket).get("Status") != "Enabled":
            problems.append(f"{bucket} is not versioned")
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        if not all(block.values()):
            problems.append(f"{bucket} public access block is {block}")
    return problems


def check_edge(aws: Aws, outputs: Outputs, expect: Expectations) -> list[str]:
    distribution = aws.client("cloudfront", "us-east-1").get_distribution(Id=outputs["cloudfront_distribution_id"])
    config = distribution["Distribution"]["DistributionConfig"]
    problems = []
    if config.get("WebACLId") != outputs["web_acl_arn"]:
        problems.append(f"distribution is protected by {config.get('WebACLId')!r}, not the stack's web ACL")
    if config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] not in ("redirect-to-https", "https-only"):
        problems.append("viewers may use plain HTTP")
    return problems


def check_targets_healthy(aws: Aws, outputs: Outputs) -> list[str]:
    """Live only: every registered target passes /health."""
    health = aws.client("elbv2").describe_target_health(TargetGroupArn=outputs["alb_target_group_arn"])
    states = [t["TargetHealth"]["State"] for t in health["TargetHealthDescriptions"]]
    if not states:
        return ["no target registered"]
    return [f"target {s}" for s in states if s != "healthy"]


Check = Callable[[Aws, Outputs, Expectations], list[str]]
CHECKS: dict[str, Check] = {
    "network": check_network,
    "database": check_database,
    "secrets": check_secrets,
    "instances": check_instances,
    "alarms": check_alarms,
    "buckets": check_buckets,
    "edge": check_edge,
}
