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
from components.naming import kms_alias
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
    "backup": "AWS Backup vault (recovery points)",
}
# AWS-managed policies every app instance needs, by the short name in their logical names.
_APP_MANAGED_POLICIES: tuple[tuple[str, str], ...] = (
    ("ssm", "AmazonSSMManagedInstanceCore"),
    ("cw-agent", "CloudWatchAgentServerPolicy"),
)


@dataclass(frozen=True)
class SecurityArgs:
    alias_prefix: str
    """KMS aliases are ``alias/<alias_prefix>/<purpose>``; keep it unique per stack."""
    flow_log_group_name: str
    """Name of the log group the network tier creates for VPC flow logs."""
    app_secret_name_prefix: str
    """App instances may read the secrets whose names start with this, and no others."""
    backup: bool = False
    """A ``backup`` key for the backup vault in the stack's region (``key_arns["backup"]``)."""
    backup_copy_region: str | None = None
    """With ``backup``: a ``backup`` key in this region too, for the vault backups are copied to."""
    backup_notifications: bool = False
    """AWS Backup job events of this region reach the site's encrypted alert topic through EventBridge:
    the alerts key admits EventBridge (every site whose vault region is its own, with backups on)."""
    edge: bool = True
    """Keys in us-east-1 for the edge's logs and alarms; the standby site shares the stack's edge."""
    key_deletion_window_days: int = 30
    """Waiting period before a destroyed key is deleted (7-30 days)."""
    protect: bool = False
    """Pulumi ``protect`` on the keys: data encrypted with them is lost with them."""
    audit_trail_name: str | None = None
    """The stack's CloudTrail trail (in this site's region) encrypts its log files with the audit key:
    the key policy lets CloudTrail use it for that trail alone; None: no trail here."""
    config_delivery: bool = False
    """AWS Config encrypts what it delivers into the audit archive with the audit key (the account
    baseline)."""


@dataclass(frozen=True)
class _KeyUsers:
    """Who else a key of the site's region admits besides its own service."""

    eventbridge: bool = False
    """Failed backup jobs reach the site's alert topic through EventBridge (the alerts key)."""
    trail_name: str | None = None
    """The stack's trail encrypts with the audit key."""
    config_delivery: bool = False
    """AWS Config encrypts with the audit key."""


def _key_policy_json(purpose: KeyPurpose, users: _KeyUsers, context: list[str]) -> str:
    partition, account_id, region = context
    trail_arn = (
        policies.cloudtrail_trail_arn(partition=partition, region=region, account_id=account_id, name=users.trail_name)
        if users.trail_name and purpose == "audit"
        else None
    )
    return json.dumps(
        policies.kms_key_policy(
            purpose,
            partition=partition,
            account_id=account_id,
            region=region,
            eventbridge=users.eventbridge,
            trail_arn=trail_arn,
            config_delivery=users.config_delivery and purpose == "audit",
        )
    )


def _flow_logs_trust_json(context: list[str]) -> str:
    """VPC Flow Logs may assume the role, only for this account's flow logs in this region."""
    partition, region, account_id = context
    return json.dumps(
        policies.service_assume_role_policy(
            "vpc-flow-logs.amazonaws.com",
            account_id=account_id,
            source_arn=f"arn:{partition}:ec2:{region}:{account_id}:vpc-flow-log/*",
        )
    )


def _app_secrets_policy_json(secret_name_prefix: str, context: list[str]) -> str:
    partition, region, account_id, secrets_key_arn = context
    return json.dumps(
        policies.app_secrets_read_policy(
            partition=partition,
            region=region,
            account_id=account_id,
            secret_name_prefix=secret_name_prefix,
            secrets_key_arn=secrets_key_arn,
        )
    )


@dataclass(frozen=True)
class _Where:
    """The stack's partition, account and region, as the provider reports them."""

    partition: pulumi.Output[str]
    account_id: pulumi.Output[str]
    region: pulumi.Output[str]


class Security(pulumi.ComponentResource):
    """KMS keys (one per purpose, rotated yearly) and the IAM roles other tiers assume."""

    key_arns: dict[KeyPurpose, pulumi.Output[str]]
    edge_key_arns: dict[KeyPurpose, pulumi.Output[str]]
    """Keys in us-east-1 for CloudFront-scope logs and alarms."""
    backup_copy_key_arn: pulumi.Output[str] | None
    """The backup vault key in ``backup_copy_region``; None without one."""
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
        invoke = pulumi.InvokeOutputOptions(parent=self)
        where = _Where(
            account_id=aws.get_caller_identity_output(opts=invoke).account_id,
            partition=aws.get_partition_output(opts=invoke).partition,
            region=aws.get_region_output(opts=invoke).region,
        )

        purposes = (*KEY_PURPOSES, "backup") if args.backup else KEY_PURPOSES
        self.key_arns = self._keys(name, args, where, purposes, key_region=None)
        # CloudFront's WAF logs and metrics live in us-east-1, whatever the stack's region:
        # their log group and alert topic need keys there.
        self.edge_key_arns = (
            self._keys(name, args, where, EDGE_KEY_PURPOSES, key_region=EDGE_REGION) if args.edge else {}
        )
        # A vault's key must be in the vault's region: copies are re-encrypted with it there.
        copy = args.backup_copy_region if args.backup else None
        copy_keys = self._keys(name, args, where, ("backup",), key_region=copy) if copy else {}
        self.backup_copy_key_arn = copy_keys.get("backup")
        self.flow_log_role_arn = self._flow_log_role(name, args.flow_log_group_name, where)
        app_role, self.app_instance_profile_name = self._app_role(
            name, args.app_secret_name_prefix, self.key_arns["secrets"], where
        )
        self.app_role_name = app_role.name
        self.app_role_arn = app_role.arn
        self.register_outputs(
            {
                "key_arns": dict(self.key_arns),
                "edge_key_arns": dict(self.edge_key_arns),
                "backup_copy_key_arn": self.backup_copy_key_arn,
                "flow_log_role_arn": self.flow_log_role_arn,
                "app_role_name": self.app_role_name,
                "app_role_arn": self.app_role_arn,
                "app_instance_profile_name": self.app_instance_profile_name,
            }
        )

    def _keys(
        self,
        name: str,
        args: SecurityArgs,
        where: _Where,
        purposes: tuple[KeyPurpose, ...],
        *,
        key_region: str | None,
    ) -> dict[KeyPurpose, pulumi.Output[str]]:
        """One rotating CMK and its alias per purpose; ``key_region`` None means the stack's region.

        Returns each key's ARN by purpose.
        """
        suffix = "" if key_region is None else f"-{key_region}"
        policy_region = where.region if key_region is None else pulumi.Output.from_input(key_region)
        # The trail, AWS Config and EventBridge use the keys of the site's own region only.
        users = (
            _KeyUsers(args.backup_notifications, args.audit_trail_name, args.config_delivery)
            if key_region is None
            else _KeyUsers()
        )
        arns: dict[KeyPurpose, pulumi.Output[str]] = {}
        for purpose in purposes:
            key = aws.kms.Key(
                f"{name}-{purpose}{suffix}-key",
                description=f"{args.alias_prefix}: {_KEY_DESCRIPTIONS[purpose]}",
                enable_key_rotation=True,
                rotation_period_in_days=365,
                deletion_window_in_days=args.key_deletion_window_days,
                policy=pulumi.Output.all(where.partition, where.account_id, policy_region).apply(
                    partial(_key_policy_json, purpose, users)
                ),
                region=key_region,
                opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
            )
            aws.kms.Alias(
                f"{name}-{purpose}{suffix}-alias",
                name=kms_alias(args.alias_prefix, purpose),
                target_key_id=key.key_id,
                region=key_region,
                opts=pulumi.ResourceOptions(parent=self),
            )
            arns[purpose] = key.arn
        return arns

    def _flow_log_role(self, name: str, flow_log_group_name: str, where: _Where) -> pulumi.Output[str]:
        """The role VPC Flow Logs assumes to write into the one flow-log group; returns its ARN."""
        context = pulumi.Output.all(where.partition, where.region, where.account_id)
        flow_log_group_arn = context.apply(lambda v: policies.log_group_arn(v[0], v[1], v[2], flow_log_group_name))
        role = aws.iam.Role(
            f"{name}-flow-logs-role",
            description="VPC Flow Logs delivery to CloudWatch Logs",
            assume_role_policy=context.apply(_flow_logs_trust_json),
            opts=pulumi.ResourceOptions(parent=self),
        )
        policy = aws.iam.RolePolicy(
            f"{name}-flow-logs-policy",
            role=role.name,
            policy=flow_log_group_arn.apply(lambda arn: json.dumps(policies.flow_log_delivery_policy(arn))),
            opts=pulumi.ResourceOptions(parent=self),
        )
        # Resolves only once the role can write, so the flow log is never created without rights.
        return pulumi.Output.all(role.arn, policy.id).apply(lambda v: v[0])

    def _app_role(
        self, name: str, secret_name_prefix: str, secrets_key_arn: pulumi.Output[str], where: _Where
    ) -> tuple[aws.iam.Role, pulumi.Output[str]]:
        """The app instances' role: SSM, the CloudWatch agent and their own secrets.

        Returns the role and its instance profile's name, gated on the role's grants.
        """
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-app-role",
            description="App tier EC2 instances: SSM access, CloudWatch agent, own secrets",
            assume_role_policy=json.dumps(policies.service_assume_role_policy("ec2.amazonaws.com")),
            opts=child,
        )
        grants: list[pulumi.CustomResource] = [
            aws.iam.RolePolicyAttachment(
                f"{name}-app-{short}",
                role=role.name,
                policy_arn=pulumi.Output.concat("arn:", where.partition, ":iam::aws:policy/", managed),
                opts=child,
            )
            for short, managed in _APP_MANAGED_POLICIES
        ]
        grants.append(
            aws.iam.RolePolicy(
                f"{name}-app-secrets-policy",
                role=role.name,
                policy=pulumi.Output.all(where.partition, where.region, where.account_id, secrets_key_arn).apply(
                    partial(_app_secrets_policy_json, secret_name_prefix)
                ),
                opts=child,
            )
        )
        profile = aws.iam.InstanceProfile(f"{name}-app-profile", role=role.name, opts=child)
        # Resolves only once the role's policies are in place, so no instance boots without the
        # rights to read its secret, ship logs and publish metrics.
        profile_name = pulumi.Output.all(profile.name, *[g.id for g in grants]).apply(lambda v: str(v[0]))
        return role, profile_name
