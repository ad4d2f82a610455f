"""Secrets tier: the app's database credential, rotated every 30 days by an in-VPC Lambda.

Rotation uses alternating users (``<user>`` and ``<user>_clone``), so the credential the app
holds keeps working until the rotation after next. The master credential is RDS-managed
(see ``database.py``); this tier only reads it to create and update the app users.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_random as random
import pymysql

from components import policies

ROTATION_SOURCE = Path(__file__).resolve().parent.parent / "lambdas" / "rotation"
LAMBDA_RUNTIME = "python3.12"
# Characters that break connection strings or quoting in consumers; neither the initial
# password nor any rotated one (the handler reads EXCLUDE_CHARACTERS) contains them.
EXCLUDED_PASSWORD_CHARACTERS = "/@\"'\\`:;%"
PASSWORD_SPECIALS = "!#$^*()-_=+[]{}<>?.,~"
# A permanent label on the first version: after two rotations AWS would otherwise strip its
# last label and delete it, and the next `pulumi up` would recreate it with the old password.
BOOTSTRAP_STAGE = "PULUMI_BOOTSTRAP"


def rotation_bundle(source: Path = ROTATION_SOURCE) -> dict[str, Path]:
    """Files of the rotation Lambda's zip: the handler and its pure-Python driver, PyMySQL.

    Keyed by path inside the zip and sorted, without bytecode, so the archive (and with it
    the function's code hash) only changes when a source file does.
    """
    files: dict[str, Path] = {p.name: p for p in sorted(source.glob("*.py"))}
    driver = Path(pymysql.__file__).resolve().parent
    for path in sorted(driver.rglob("*.py")):
        files[f"pymysql/{path.relative_to(driver).as_posix()}"] = path
    return files


@dataclass(frozen=True)
class SecretsArgs:
    secret_name_prefix: str
    """The app secret's name starts with this; the app role may read exactly this prefix."""
    secrets_key_arn: pulumi.Input[str]
    logs_key_arn: pulumi.Input[str]
    log_retention_days: int
    db_host: pulumi.Input[str]
    db_port: pulumi.Input[int]
    db_name: str
    master_secret_arn: pulumi.Input[str]
    db_instance_ids: Sequence[pulumi.Input[str]]
    """The bootstrap runs only once the database has instances to connect to."""
    subnet_ids: Sequence[pulumi.Input[str]]
    """Private subnets the rotation function runs in (they reach Secrets Manager)."""
    security_group_id: pulumi.Input[str]
    recovery_window_days: int
    """Days a deleted secret can be restored; 0 deletes at once (disposable stacks)."""
    app_username: str = "payments_app"
    rotation_days: int = 30


class Secrets(pulumi.ComponentResource):
    """App credential secret, its rotation function and schedule, and the first-run bootstrap."""

    app_secret_arn: pulumi.Output[str]
    rotation_function_name: pulumi.Output[str]
    rotation_function_arn: pulumi.Output[str]
    rotation_log_group_name: pulumi.Output[str]

    def __init__(self, name: str, args: SecretsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("fintech:data:Secrets", name, None, opts)
        if not 1 <= args.rotation_days <= 365:
            raise ValueError(f"rotation_days must be from 1 to 365, got {args.rotation_days}")
        if args.recovery_window_days != 0 and not 7 <= args.recovery_window_days <= 30:
            raise ValueError(f"recovery_window_days must be 0 or 7-30, got {args.recovery_window_days}")
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        region = aws.get_region_output(opts=invoke).region
        account_id = aws.get_caller_identity_output(opts=invoke).account_id
        partition = aws.get_partition_output(opts=invoke).partition

        secret = aws.secretsmanager.Secret(
            f"{name}-app-db",
            name_prefix=f"{args.secret_name_prefix}db-",
            description="App tier MySQL credential (alternating users, rotated by Lambda)",
            kms_key_id=args.secrets_key_arn,
            recovery_window_in_days=args.recovery_window_days,
            opts=child,
        )
        password = random.RandomPassword(
            f"{name}-app-db-password",
            length=32,
            special=True,
            override_special=PASSWORD_SPECIALS,
            min_lower=2,
            min_upper=2,
            min_numeric=2,
            min_special=2,
            opts=child,
        )
        initial = aws.secretsmanager.SecretVersion(
            f"{name}-app-db-initial",
            secret_id=secret.id,
            secret_string=pulumi.Output.json_dumps(
                {
                    "engine": "mysql",
                    "host": args.db_host,
                    "port": args.db_port,
                    "username": args.app_username,
                    "password": password.result,
                    "dbname": args.db_name,
                    "masterarn": args.master_secret_arn,
                }
            ),
            version_stages=["AWSCURRENT", BOOTSTRAP_STAGE],
            # Rotation moves AWSCURRENT and writes new values: Pulumi must not move them back.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["secretString", "versionStages"]),
        )

        log_group = aws.cloudwatch.LogGroup(
            f"{name}-rotation-logs",
            name=f"/fintech/{name}/secret-rotation",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.logs_key_arn,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-rotation-role",
            description="Secret rotation Lambda for the app database credential",
            assume_role_policy=json.dumps(policies.service_assume_role_policy("lambda.amazonaws.com")),
            opts=child,
        )
        vpc_access = aws.iam.RolePolicyAttachment(
            f"{name}-rotation-vpc-access",
            role=role.name,
            policy_arn=pulumi.Output.concat(
                "arn:", partition, ":iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
            ),
            opts=child,
        )
        role_policy = aws.iam.RolePolicy(
            f"{name}-rotation-policy",
            role=role.name,
            policy=pulumi.Output.all(
                secret.arn, args.master_secret_arn, args.secrets_key_arn, log_group.arn, region
            ).apply(_rotation_policy_json),
            opts=child,
        )

        function = aws.lambda_.Function(
            f"{name}-rotation",
            description="Rotates the app database credential (alternating users)",
            runtime=LAMBDA_RUNTIME,
            architectures=["arm64"],
            handler="rotation.lambda_handler",
            code=pulumi.AssetArchive({key: pulumi.FileAsset(str(path)) for key, path in rotation_bundle().items()}),
            role=role.arn,
            timeout=60,
            memory_size=256,
            vpc_config=aws.lambda_.FunctionVpcConfigArgs(
                subnet_ids=list(args.subnet_ids), security_group_ids=[args.security_group_id]
            ),
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables={
                    # Resolves to the interface endpoint where one exists, else through NAT.
                    "SECRETS_MANAGER_ENDPOINT": pulumi.Output.concat(
                        "https://secretsmanager.", region, ".amazonaws.com"
                    ),
                    "DB_TLS": "required",
                    "EXCLUDE_CHARACTERS": EXCLUDED_PASSWORD_CHARACTERS,
                }
            ),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(
                log_format="JSON", log_group=log_group.name, application_log_level="INFO", system_log_level="WARN"
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[vpc_access, role_policy]),
        )
        permission = aws.lambda_.Permission(
            f"{name}-rotation-invoke",
            action="lambda:InvokeFunction",
            function=function.name,
            principal="secretsmanager.amazonaws.com",
            source_arn=secret.arn,
            source_account=account_id,
            opts=child,
        )
        bootstrap = aws.lambda_.Invocation(
            f"{name}-app-db-bootstrap",
            function_name=function.name,
            input=pulumi.Output.json_dumps({"action": "bootstrap", "SecretId": secret.arn}),
            # Runs again only if the initial version is replaced; the handler is idempotent.
            triggers={
                "initial_version": initial.version_id,
                "writer": pulumi.Output.from_input(args.db_instance_ids[0]),
            },
            opts=child,
        )
        aws.secretsmanager.SecretRotation(
            f"{name}-app-db-rotation",
            secret_id=secret.id,
            rotation_lambda_arn=function.arn,
            rotation_rules=aws.secretsmanager.SecretRotationRotationRulesArgs(
                automatically_after_days=args.rotation_days
            ),
            # The first rotation starts at once: the app user must already exist.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[bootstrap, permission]),
        )
        self.app_secret_arn = secret.arn
        self.rotation_function_name = function.name
        self.rotation_function_arn = function.arn
        self.rotation_log_group_name = log_group.name
        self.register_outputs(
            {
                "app_secret_arn": self.app_secret_arn,
                "rotation_function_name": self.rotation_function_name,
                "rotation_function_arn": self.rotation_function_arn,
                "rotation_log_group_name": self.rotation_log_group_name,
            }
        )


def _rotation_policy_json(values: list[str]) -> str:
    app_secret_arn, master_secret_arn, secrets_key_arn, log_group, region = values
    return json.dumps(
        policies.rotation_lambda_policy(
            app_secret_arn=app_secret_arn,
            master_secret_arn=master_secret_arn,
            secrets_key_arn=secrets_key_arn,
            log_group=log_group,
            region=region,
        )
    )
