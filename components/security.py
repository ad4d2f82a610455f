"""Security tier, identity half: customer-managed KMS keys and IAM roles.

Security groups live in ``security_groups.py`` because they need the VPC, while the
network needs this tier's flow-log key and role first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial

import pulumi
import pulumi_aws as aws

from components import policies
from components.policies import KeyPurpose

KEY_PURPOSES: tuple[KeyPurpose, ...] = ("logs", "database", "secrets", "storage", "alerts", "ebs", "lambda", "audit")
EDGE_REGION = "us-east-1"
EDGE_KEY_PURPOSES: tuple[KeyPurpose, ...] = ("logs", "alerts")
_KEY_DESCRIPTIONS: dict[KeyPurpose, str] = {
    "logs": "CloudWatch Logs log groups",
    "database": "Aurora storage, snapshots and Performance Insights",
    "secrets": "Secrets Manager secrets",
    "storage": "S3 transaction archive",
    "alerts": "SNS alert topic",
    "ebs": "EBS volumes of the app instances",
    "audit": "Audit-log archive (S3) and the Firehose stream feeding it",
    "lambda": "Lambda environment variables and code artifacts",
}


@dataclass(frozen=True)
class SecurityArgs:
    alias_prefix: str
    """KMS aliases are ``alias/<alias_prefix>/<purpose>``; keep it unique per stack."""
    flow_log_group_name: str
    """Name of the log group the network tier creates for VPC flow logs."""
    app_secret_name_prefix: str
    """App instances may read the secrets whose names start with this, and no others."""
    key_deletion_window_days: int = 30
    """Waiting period before a destroyed key is deleted (7-30 days)."""
    protect: bool = False
    """Pulumi ``protect`` on the keys: data encrypted with them is lost with them."""


def _key_policy_json(purpose: KeyPurpose, context: list[str]) -> str:
    partition, account_id, region = context
    return json.dumps(policies.kms_key_policy(purpose, partition=partition, account_id=account_id, region=region))


class Security(pulumi.ComponentResource):
    """KMS keys (one per purpose, rotated yearly) and the IAM roles other tiers assume."""

    key_arns: dict[KeyPurpose, pulumi.Output[str]]
    edge_key_arns: dict[KeyPurpose, pulumi.Output[str]]
    """Keys in us-east-1 for CloudFront-scope logs and alarms."""
    flow_log_role_arn: pulumi.Output[str]
    app_role_name: pulumi.Output[str]
    app_role_arn: pulumi.Output[str]
    app_instance_profile_name: pulumi.Output[str]
    """Resolves only once the app role's policy and managed-policy attachments exist."""

    def __init__(self, name: str, args: SecurityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("fintech:security:Security", name, None, opts)
        if not 7 <= args.key_deletion_window_days <= 30:
            raise ValueError(
                f"key_deletion_window_days must be from 7 to 30 (KMS limit), got {args.key_deletion_window_days}"
            )
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account_id = aws.get_caller_identity_output(opts=invoke).account_id
        partition = aws.get_partition_output(opts=invoke).partition
        region = aws.get_region_output(opts=invoke).region

        def key(purpose: KeyPurpose, key_region: str | None) -> pulumi.Output[str]:
            """One rotating CMK and its alias; ``key_region`` None means the stack's region."""
            suffix = "" if key_region is None else f"-{key_region}"
            policy_region = region if key_region is None else pulumi.Output.from_input(key_region)
            created = aws.kms.Key(
                f"{name}-{purpose}{suffix}-key",
                description=f"{args.alias_prefix}: {_KEY_DESCRIPTIONS[purpose]}",
                enable_key_rotation=True,
                rotation_period_in_days=365,
                deletion_window_in_days=args.key_deletion_window_days,
                policy=pulumi.Output.all(partition, account_id, policy_region).apply(
                    partial(_key_policy_json, purpose)
                ),
                region=key_region,
                opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
            )
            aws.kms.Alias(
                f"{name}-{purpose}{suffix}-alias",
                name=f"alias/{args.alias_prefix}/{purpose}",
                target_key_id=created.key_id,
                region=key_region,
                opts=child,
            )
            return created.arn

        self.key_arns = {purpose: key(purpose, None) for purpose in KEY_PURPOSES}
        # CloudFront's WAF logs and metrics live in us-east-1, whatever the stack's region:
        # their log group and alert topic need keys there.
        self.edge_key_arns = {purpose: key(purpose, EDGE_REGION) for purpose in EDGE_KEY_PURPOSES}

        flow_log_group_arn = pulumi.Output.all(partition, region, account_id).apply(
            lambda v: policies.log_group_arn(v[0], v[1], v[2], args.flow_log_group_name)
        )
        flow_role = aws.iam.Role(
            f"{name}-flow-logs-role",
            description="VPC Flow Logs delivery to CloudWatch Logs",
            assume_role_policy=pulumi.Output.all(partition, region, account_id).apply(
                lambda v: json.dumps(
                    policies.service_assume_role_policy(
                        "vpc-flow-logs.amazonaws.com",
                        account_id=v[2],
                        source_arn=f"arn:{v[0]}:ec2:{v[1]}:{v[2]}:vpc-flow-log/*",
                    )
                )
            ),
            opts=child,
        )
        flow_policy = aws.iam.RolePolicy(
            f"{name}-flow-logs-policy",
            role=flow_role.name,
            policy=flow_log_group_arn.apply(lambda arn: json.dumps(policies.flow_log_delivery_policy(arn))),
            opts=child,
        )

        app_role = aws.iam.Role(
            f"{name}-app-role",
            description="App tier EC2 instances: SSM access, CloudWatch agent, own secrets",
            assume_role_policy=json.dumps(policies.service_assume_role_policy("ec2.amazonaws.com")),
            opts=child,
        )
        app_grants: list[pulumi.CustomResource] = []
        for short, managed in (
            ("ssm", "AmazonSSMManagedInstanceCore"),
            ("cw-agent", "CloudWatchAgentServerPolicy"),
        ):
            attachment = aws.iam.RolePolicyAttachment(
                f"{name}-app-{short}",
                role=app_role.name,
                policy_arn=pulumi.Output.concat("arn:", partition, ":iam::aws:policy/", managed),
                opts=child,
            )
            app_grants.append(attachment)
        secrets_policy = aws.iam.RolePolicy(
            f"{name}-app-secrets-policy",
            role=app_role.name,
            policy=pulumi.Output.all(partition, region, account_id, self.key_arns["secrets"]).apply(
                lambda v: json.dumps(
                    policies.app_secrets_read_policy(
                        partition=v[0],
                        region=v[1],
                        account_id=v[2],
                        secret_name_prefix=args.app_secret_name_prefix,
                        secrets_key_arn=v[3],
                    )
                )
            ),
            opts=child,
        )
        app_grants.append(secrets_policy)
        profile = aws.iam.InstanceProfile(f"{name}-app-profile", role=app_role.name, opts=child)

        # Resolves only once the role can write, so the flow log is never created without rights.
        self.flow_log_role_arn = pulumi.Output.all(flow_role.arn, flow_policy.id).apply(lambda v: v[0])
        self.app_role_name = app_role.name
        self.app_role_arn = app_role.arn
        # Resolves only once the role's policies are in place, so no instance boots without the
        # rights to read its secret, ship logs and publish metrics.
        self.app_instance_profile_name = pulumi.Output.all(profile.name, *[g.id for g in app_grants]).apply(
            lambda v: str(v[0])
        )
        self.register_outputs(
            {
                "key_arns": dict(self.key_arns),
                "edge_key_arns": dict(self.edge_key_arns),
                "flow_log_role_arn": self.flow_log_role_arn,
                "app_role_name": self.app_role_name,
                "app_role_arn": self.app_role_arn,
                "app_instance_profile_name": self.app_instance_profile_name,
            }
        )
