"""A fake of a deployed stack in moto, built from a recorded plan.

``build`` creates, with boto3, what the program declares for a stack (names, CIDRs, zones,
sizes taken from the offline run) and returns the outputs `pulumi stack output --json` would
give. Call it inside ``mock_aws``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import boto3
from moto.secretsmanager.models import secretsmanager_backends

from offline.harness import StackRun, run_stack
from tests.integration import checks
from tests.integration.stack import expectations

ACCOUNT = "123456789012"  # moto's account


@dataclass
class FakeStack:
    aws: checks.Aws
    outputs: dict[str, Any]
    expect: checks.Expectations
    plan: StackRun
    ids: dict[str, Any]


def _by_tier(plan: StackRun) -> dict[str, list[dict[str, Any]]]:
    tiers: dict[str, list[dict[str, Any]]] = {"public": [], "private": [], "database": [], "rotation": []}
    for subnet in sorted(plan.of_type("aws:ec2/subnet:Subnet"), key=lambda s: s.name):
        tiers[subnet.inputs["tags"]["Tier"]].append(subnet.inputs)
    return tiers


_PLANS: dict[str, StackRun] = {}


def recorded_plan(stack: str) -> StackRun:
    """The stack region's site: the live checks read one region (the standby's has not its own checks yet)."""
    return _PLANS.get(stack) or _PLANS.setdefault(stack, run_stack(stack).home())


def build(stack: str, plan: StackRun | None = None) -> FakeStack:
    """Inside mock_aws: the stack's resources, as the program (or ``plan``) declares them."""
    plan = plan or recorded_plan(stack)
    expect, region = expectations(stack)
    session = boto3.Session(region_name=region)
    ec2, rds, kms = session.client("ec2"), session.client("rds"), session.client("kms")
    logs, sm, s3 = session.client("logs"), session.client("secretsmanager"), session.client("s3")

    vpc_id = ec2.create_vpc(CidrBlock=plan.one("aws:ec2/vpc:Vpc").inputs["cidrBlock"])["Vpc"]["VpcId"]
    subnet_ids: dict[str, list[str]] = {}
    for tier, subnets in _by_tier(plan).items():
        subnet_ids[tier] = [
            ec2.create_subnet(VpcId=vpc_id, CidrBlock=s["cidrBlock"], AvailabilityZone=s["availabilityZone"])["Subnet"][
                "SubnetId"
            ]
            for s in subnets
        ]
    nats = []
    for i in range(len(plan.of_type("aws:ec2/natGateway:NatGateway"))):
        allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
        nats.append(
            ec2.create_nat_gateway(SubnetId=subnet_ids["public"][i], AllocationId=allocation)["NatGateway"][
                "NatGatewayId"
            ]
        )
    for i, subnet in enumerate(subnet_ids["private"] + subnet_ids["rotation"]):
        table = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
        ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nats[i % len(nats)])
        ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
    database_table = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    for subnet in subnet_ids["database"]:
        ec2.associate_route_table(RouteTableId=database_table, SubnetId=subnet)
    flow = plan.one("aws:ec2/flowLog:FlowLog").inputs
    group = flow["logDestination"].split(":log-group:")[1]
    logs.create_log_group(logGroupName=group)
    ec2.create_flow_logs(
        ResourceIds=[vpc_id],
        ResourceType="VPC",
        TrafficType=flow["trafficType"],
        LogDestinationType="cloud-watch-logs",
        LogGroupName=group,
        DeliverLogsPermissionArn=f"arn:aws:iam::{ACCOUNT}:role/flow-logs",
    )

    key_arn = kms.create_key(Description="database")["KeyMetadata"]["Arn"]
    cluster = plan.one("aws:rds/cluster:Cluster").inputs
    parameters = plan.one("aws:rds/clusterParameterGroup:ClusterParameterGroup").inputs
    rds.create_db_cluster_parameter_group(
        DBClusterParameterGroupName="cluster-params", DBParameterGroupFamily=parameters["family"], Description="plan"
    )
    rds.modify_db_cluster_parameter_group(
        DBClusterParameterGroupName="cluster-params",
        Parameters=[
            {"ParameterName": p["name"], "ParameterValue": p["value"], "ApplyMethod": p["applyMethod"]}
            for p in parameters["parameters"]
        ],
    )
    created = rds.create_db_cluster(
        DBClusterIdentifier=cluster["clusterIdentifier"],
        Engine=cluster["engine"],
        EngineVersion=cluster["engineVersion"],
        MasterUsername=cluster["masterUsername"],
        ManageMasterUserPassword=True,
        StorageEncrypted=cluster["storageEncrypted"],
        KmsKeyId=key_arn,
        DeletionProtection=cluster["deletionProtection"],
        DBClusterParameterGroupName="cluster-params",
    )["DBCluster"]

    secret_arn = sm.create_secret(Name="fintech/app/db", SecretString="{}")["ARN"]
    fake_secret: Any = secretsmanager_backends[ACCOUNT][region].secrets[secret_arn]
    (app_rotation,) = [
        r
        for r in plan.of_type("aws:secretsmanager/secretRotation:SecretRotation")
        if r.name.endswith("-app-db-rotation")
    ]
    rotation = app_rotation.inputs["rotationRules"]
    fake_secret.rotation_requested = True
    fake_secret.rotation_enabled = True
    fake_secret.auto_rotate_after_days = int(rotation["automaticallyAfterDays"])

    template = plan.one("aws:ec2/launchTemplate:LaunchTemplate").inputs
    asg_name = plan.one("aws:autoscaling/group:Group").state["name"]
    metadata = template["metadataOptions"]
    ec2.run_instances(
        ImageId="ami-12c6146b",
        MinCount=1,
        MaxCount=1,
        SubnetId=subnet_ids["private"][0],
        MetadataOptions={
            "HttpTokens": metadata["httpTokens"],
            "HttpPutResponseHopLimit": int(metadata["httpPutResponseHopLimit"]),
        },
        TagSpecifications=[
            {"ResourceType": "instance", "Tags": [{"Key": "aws:autoscaling:groupName", "Value": asg_name}]}
        ],
    )

    # Each topic the plan declares, in its region; alarms keep the plan's actions, mapped onto them.
    topics: dict[str | None, str] = {}
    topic_of: dict[str, str] = {}
    for topic in plan.of_type("aws:sns/topic:Topic"):
        topic_region = topic.inputs.get("region")
        created_topic = session.client("sns", region_name=topic_region or region).create_topic(Name=topic.name)
        topics[topic_region] = topic_of[topic.state["arn"]] = created_topic["TopicArn"]
    for alarm in plan.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"):
        alarm_region = alarm.inputs.get("region")
        session.client("cloudwatch", region_name=alarm_region or region).put_metric_alarm(
            AlarmName=alarm.state["name"],
            MetricName="Errors",
            Namespace="AWS/Lambda",
            Statistic="Sum",
            Period=300,
            EvaluationPeriods=1,
            Threshold=0,
            ComparisonOperator="GreaterThanThreshold",
            ActionsEnabled=alarm.inputs.get("actionsEnabled", True),
            AlarmActions=[topic_of[a] for a in alarm.inputs.get("alarmActions", [])],
            OKActions=[topic_of[a] for a in alarm.inputs.get("okActions", [])],
        )

    def side(type_: str, bucket: Any) -> dict[str, Any]:
        (found,) = [r.inputs for r in plan.of_type(f"aws:s3/{type_}") if r.inputs["bucket"] == bucket.id]
        return found

    buckets = {}
    for bucket in plan.of_type("aws:s3/bucket:Bucket"):
        name = bucket.state["bucket"]
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
        sse = side("bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", bucket)
        default: dict[str, str] = {
            "SSEAlgorithm": sse["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"]
        }
        if "kmsMasterKeyId" in sse["rules"][0]["applyServerSideEncryptionByDefault"]:
            default["KMSMasterKeyID"] = sse["rules"][0]["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"]
        s3.put_bucket_encryption(
            Bucket=name, ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": default}]}
        )
        versioning = side("bucketVersioning:BucketVersioning", bucket)["versioningConfiguration"]
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": versioning["status"]})
        block = side("bucketPublicAccessBlock:BucketPublicAccessBlock", bucket)
        s3.put_public_access_block(
            Bucket=name,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": block.get("blockPublicAcls", False),
                "IgnorePublicAcls": block.get("ignorePublicAcls", False),
                "BlockPublicPolicy": block.get("blockPublicPolicy", False),
                "RestrictPublicBuckets": block.get("restrictPublicBuckets", False),
            },
        )
        buckets[(bucket.inputs.get("tags") or {}).get("Purpose")] = name

    waf = session.client("wafv2", region_name="us-east-1")
    acl = waf.create_web_acl(
        Name="edge",
        Scope="CLOUDFRONT",
        DefaultAction={"Allow": {}},
        VisibilityConfig={"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": "edge"},
    )["Summary"]["ARN"]
    distribution = session.client("cloudfront", region_name="us-east-1").create_distribution(
        DistributionConfig={
            "CallerReference": str(time.time()),
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "alb",
                        "DomainName": "origin.example.com",
                        "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"},
                    }
                ],
            },
            "DefaultCacheBehavior": {
                "TargetOriginId": "alb",
                "ViewerProtocolPolicy": plan.one("aws:cloudfront/distribution:Distribution").inputs[
                    "defaultCacheBehavior"
                ]["viewerProtocolPolicy"],
            },
            "Comment": "plan",
            "Enabled": True,
            "WebACLId": acl,
        }
    )["Distribution"]

    outputs = {
        **{k: v for k, v in plan.outputs.items()},
        "vpc_id": vpc_id,
        "public_subnet_ids": subnet_ids["public"],
        "private_subnet_ids": subnet_ids["private"],
        "database_subnet_ids": subnet_ids["database"],
        "db_cluster_endpoint": created["Endpoint"],
        "kms_key_arns": {**plan.outputs["kms_key_arns"], "database": key_arn},
        "app_db_secret_arn": secret_arn,
        "asg_name": asg_name,
        "data_bucket_name": buckets["transaction-archive"],
        "logs_bucket_name": buckets["logs"],
        "audit_bucket_name": buckets["audit-log-archive"],
        "cloudfront_distribution_id": distribution["Id"],
        "web_acl_arn": acl,
    }
    ids = {"database_table": database_table, "secret": fake_secret, "acl": acl, "topics": topics}
    return FakeStack(checks.Aws(region, session), outputs, expect, plan, ids)


FAKE_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_EC2_METADATA_DISABLED": "true"}
