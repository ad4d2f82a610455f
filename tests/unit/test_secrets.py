"""Secrets tier as declared: the app credential, its rotation function and schedule."""

import json
from pathlib import Path

import rotation

from components.secrets import (
    BOOTSTRAP_STAGE,
    EXCLUDED_PASSWORD_CHARACTERS,
    PASSWORD_SPECIALS,
    rotation_bundle,
)
from offline.harness import ResourceRecord, StackRun
from tests.helpers import app_db_password, doc, record_by_output

SECRET = "aws:secretsmanager/secret:Secret"
VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
FUNCTION = "aws:lambda/function:Function"


def app_secret(run: StackRun) -> ResourceRecord:
    return record_by_output(run, run.outputs["app_db_secret_arn"])


def function(run: StackRun) -> ResourceRecord:
    return run.one(FUNCTION)


def test_app_secret_is_encrypted_and_readable_by_the_app_role(stack_run: StackRun) -> None:
    secret = app_secret(stack_run)
    assert secret.inputs["kmsKeyId"] == stack_run.outputs["kms_key_arns"]["secrets"]
    app_policy = next(
        doc(p) for p in stack_run.of_type("aws:iam/rolePolicy:RolePolicy") if p.name.endswith("-app-secrets-policy")
    )
    readable = app_policy["Statement"][0]["Resource"].split(":secret:")[1].rstrip("*")
    assert secret.state["name"].startswith(readable)


def test_recovery_window_keeps_prod_secrets_and_lets_dev_go(dev: StackRun, prod: StackRun) -> None:
    assert app_secret(prod).inputs["recoveryWindowInDays"] == 30
    assert app_secret(dev).inputs["recoveryWindowInDays"] == 0


def test_initial_value_points_at_the_cluster_and_is_secret(stack_run: StackRun) -> None:
    version = stack_run.one(VERSION)
    assert "secretString" in version.secret_inputs
    value = json.loads(version.inputs["secretString"])
    assert value == {
        "engine": "mysql",
        "host": stack_run.outputs["db_cluster_endpoint"],
        "port": stack_run.outputs["db_port"],
        "username": "payments_app",
        "password": app_db_password(stack_run),
        "dbname": "payments",
        "masterarn": stack_run.outputs["db_master_secret_arn"],
    }
    assert value["username"] != stack_run.one("aws:rds/cluster:Cluster").inputs["masterUsername"]


def test_rotation_never_fights_pulumi(stack_run: StackRun) -> None:
    version = stack_run.one(VERSION)
    assert set(version.ignore_changes) == {"secretString", "versionStages"}
    assert version.inputs["versionStages"] == ["AWSCURRENT", BOOTSTRAP_STAGE]


def test_rotation_every_30_days_by_the_function(stack_run: StackRun) -> None:
    schedule = stack_run.one("aws:secretsmanager/secretRotation:SecretRotation")
    assert schedule.inputs["rotationRules"] == {"automaticallyAfterDays": 30}
    assert schedule.inputs["rotationLambdaArn"] == function(stack_run).state["arn"]
    assert schedule.inputs["secretId"] == app_secret(stack_run).id
    bootstrap = stack_run.one("aws:lambda/invocation:Invocation")
    permission = stack_run.one("aws:lambda/permission:Permission")
    assert {bootstrap.urn, permission.urn} <= set(schedule.dependencies), "the first rotation starts at once"


def test_function_runs_in_the_private_subnets_with_its_own_group(stack_run: StackRun) -> None:
    fn = function(stack_run)
    assert fn.inputs["vpcConfig"]["subnetIds"] == stack_run.outputs["private_subnet_ids"]
    assert fn.inputs["vpcConfig"]["securityGroupIds"] == [stack_run.outputs["security_group_ids"]["rotation"]]
    assert fn.inputs["handler"] == "rotation.lambda_handler"
    assert fn.inputs["runtime"] == "python3.12"
    assert fn.inputs["environment"]["variables"]["DB_TLS"] == "required"
    assert fn.inputs["environment"]["variables"]["SECRETS_MANAGER_ENDPOINT"] == (
        "https://secretsmanager.eu-west-1.amazonaws.com"
    )


def test_function_is_packaged_from_this_repo_with_pymysql(stack_run: StackRun) -> None:
    assets = function(stack_run).inputs["code"]["assetArchive"]
    assert {"rotation.py", "pymysql/__init__.py", "pymysql/connections.py"} <= set(assets)
    assert not any(key.endswith(".pyc") or "__pycache__" in key for key in assets)


def test_bundle_is_source_only_and_ships_the_tested_handler() -> None:
    bundle = rotation_bundle()
    assert all(path.suffix == ".py" and "__pycache__" not in path.parts for path in bundle.values())
    assert bundle["rotation.py"].resolve() == Path(rotation.__file__).resolve()


def test_only_secrets_manager_may_invoke_the_function_for_this_secret(stack_run: StackRun) -> None:
    permission = stack_run.one("aws:lambda/permission:Permission")
    assert permission.inputs["principal"] == "secretsmanager.amazonaws.com"
    assert permission.inputs["action"] == "lambda:InvokeFunction"
    assert permission.inputs["sourceArn"] == app_secret(stack_run).state["arn"]
    assert permission.inputs["sourceAccount"] == "123456789012"


def test_function_logs_to_an_encrypted_group(stack_run: StackRun) -> None:
    group_name = function(stack_run).inputs["loggingConfig"]["logGroup"]
    (group,) = [g for g in stack_run.of_type("aws:cloudwatch/logGroup:LogGroup") if g.inputs["name"] == group_name]
    assert group.inputs["kmsKeyId"] == stack_run.outputs["kms_key_arns"]["logs"]


def test_function_role_rotates_only_this_secret(stack_run: StackRun) -> None:
    policy = next(
        doc(p) for p in stack_run.of_type("aws:iam/rolePolicy:RolePolicy") if p.name.endswith("-rotation-policy")
    )
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["RotateAppSecret"]["Resource"] == app_secret(stack_run).state["arn"]
    assert by_sid["ReadMasterSecret"]["Resource"] == stack_run.outputs["db_master_secret_arn"]
    assert "secretsmanager:PutSecretValue" not in by_sid["ReadMasterSecret"]["Action"]


def test_bootstrap_invocation_carries_no_password(stack_run: StackRun) -> None:
    bootstrap = stack_run.one("aws:lambda/invocation:Invocation")
    assert json.loads(bootstrap.inputs["input"]) == {
        "action": "bootstrap",
        "SecretId": app_secret(stack_run).state["arn"],
    }
    assert bootstrap.inputs["functionName"] == function(stack_run).state["name"]
    writer = stack_run.of_type("aws:rds/clusterInstance:ClusterInstance")[0]
    assert writer.urn in bootstrap.dependencies, "the database must have an instance to connect to"


def test_passwords_avoid_characters_consumers_break_on() -> None:
    assert not set(PASSWORD_SPECIALS) & set(EXCLUDED_PASSWORD_CHARACTERS)
    assert rotation.EXCLUDE_CHARACTERS == EXCLUDED_PASSWORD_CHARACTERS
