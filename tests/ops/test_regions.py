"""switchover and failover, offline: boto3 clients answered by a simulated pair of regions.

The simulation hooks botocore's own events as botocore's Stubber does (``before-parameter-build`` sees the
call, ``before-call`` answers it): every request still goes through the client's validation against the
service model, and every answer is checked against the operation's output shape
(``botocore.validate.validate_parameters``, Stubber's check), so a wrong API name, parameter or field
fails here. Unlike Stubber's queue the answers follow a state (where the writer is, what is creating),
so a command can be interrupted at any step and run again. A lost region's endpoint raises
``EndpointConnectionError``, as an unreachable one does."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber
from botocore.validate import validate_parameters

from components.failover_record import AppCapacity, DbInstanceSettings, FailoverRecord, parameter_name
from offline import harness
from ops import deploy, leftovers, regions, steps
from tests.ops.fake_secrets import APP, DAYS, FUNCTIONS, KEYS, MASTER, SECRET_MUTATIONS, FaultError, SecretsManager
from tests.ops.test_deploy import install, lambda_quota, offline_machine  # noqa: F401 (lambda_quota: autouse)

PRIMARY, STANDBY = "eu-west-1", "eu-central-1"
GLOBAL = "fintech-prod-global"
IDS = {PRIMARY: "fintech-prod-aurora", STANDBY: "fintech-prod-standby-aurora"}
ARNS = {region: f"arn:aws:rds:{region}:123456789012:cluster:{IDS[region]}" for region in IDS}
ASGS = {PRIMARY: "fintech-prod-app", STANDBY: "fintech-prod-standby-app"}
GROUPS = {r: f"arn:aws:elasticloadbalancing:{r}:123456789012:targetgroup/app/0123456789abcdef" for r in IDS}
CHECKS = {PRIMARY: "hc-primary", STANDBY: "hc-standby"}
ZONE, ORIGIN = "Z04811223ABCDEFGHIJK", "origin.payments.acme-pay.co.uk"
VERSION = "8.0.mysql_aurora.3.10.1"
TEMPORARY = "fintech-prod-standby-aurora-failover"
CAPACITY = AppCapacity(min=2, max=10, desired=3)
MUTATING = (
    "update_auto_scaling_group",
    "switchover_global_cluster",
    "failover_global_cluster",
    "create_db_instance",
    "failover_db_cluster",
    "delete_db_instance",
    *SECRET_MUTATIONS,
)
# What a failover away from the home region does to the credentials' copies there: master, then app.
TAKE_OVER = ["stop_replication_to_replica", "rotate_secret"] * 2
CHECKERS = ("us-east-1", "us-west-1", "us-west-2", "eu-west-1", "ap-southeast-1", "ap-southeast-2", "sa-east-1")


def record(mode: str = "warm", primary: str = PRIMARY) -> FailoverRecord:
    """What prod's `up` writes (the program side's resource): the same in both regions."""
    return FailoverRecord(
        stack="prod",
        primary_region=primary,
        standby_region=STANDBY if primary == PRIMARY else PRIMARY,
        standby_mode=mode,
        global_cluster_id=GLOBAL,
        db_cluster_arns=ARNS,
        db_cluster_ids=IDS,
        asg_names=ASGS,
        target_group_arns=GROUPS,
        app_capacity=CAPACITY,
        db_instance_class="db.r6g.large",
        db_instance_settings={
            r: DbInstanceSettings(
                f"{IDS[r]}-instance-params", "rds-ca-rsa2048-g1", 15, f"arn:aws:iam::123456789012:role/mon-{r}"
            )
            for r in IDS
        },
        origin_name=ORIGIN,
        origin_health_check_ids=CHECKS,
        hosted_zone_id=ZONE,
        home_region=PRIMARY,  # aws:region: the credentials' primaries never move
        rotation_days=DAYS,
        master_secret_arns=MASTER,
        app_secret_arns=APP,
        secrets_key_arns=KEYS,
        rotation_function_arns=FUNCTIONS,
    )


class Region:
    """One site as AWS would answer about it."""

    def __init__(self, region: str, instances: int, app: int) -> None:
        self.instances: dict[str, dict[str, Any]] = {
            f"{IDS[region]}-{n}": {"status": "available", "tier": n, "polls": 0} for n in range(instances)
        }
        self.cluster_writer = f"{IDS[region]}-0" if instances else ""
        self.cluster_status, self.cluster_polls = "available", 0
        self.sizes = (1, 1, app) if app else (0, 0, 0)
        self.in_service = app
        self.engine_version = VERSION


class Cloud(SecretsManager):
    """Two regions, the global cluster between them, Route 53, the SSM records and the credentials' copies."""

    def __init__(self, mode: str = "warm", lost: tuple[str, ...] = ()) -> None:
        super().__init__()
        warm = mode == "warm"
        self.sites = {PRIMARY: Region(PRIMARY, 2, 3), STANDBY: Region(STANDBY, 1 if warm else 0, 1 if warm else 0)}
        self.lost = set(lost)
        self.writer, self.status, self.members = PRIMARY, "available", [PRIMARY, STANDBY]
        self.moving: list[str] = []  # FailoverState statuses the next describes show
        self.move_to: str | None = None
        self.parameters = {r: record(mode).to_json() for r in IDS}
        self.calls: list[tuple[str, str, str, dict[str, Any]]] = []
        self.failures: dict[str, tuple[str, str]] = {}  # operation -> (code, message), every time

    # what the commands asked

    def asked(self, operation: str) -> list[dict[str, Any]]:
        return [params for _, _, op, params in self.calls if op == operation]

    def mutations(self) -> list[str]:
        return [op for _, _, op, _ in self.calls if op in MUTATING]

    def regions_asked(self) -> set[str]:
        return {region for _, region, _, _ in self.calls}

    # the session the commands get

    def session(self) -> boto3.Session:
        session = boto3.Session(aws_access_key_id="AKIAOFFLINE", aws_secret_access_key="offline")
        session.events.register("before-parameter-build", self._remember)
        session.events.register("before-call", self._answer)
        return session

    def _remember(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        # Route 53's client reports its partition endpoint (aws-global), which signs in us-east-1.
        region = "us-east-1" if context["client_region"] == "aws-global" else context["client_region"]
        context["fake_call"] = (model.service_model.endpoint_prefix, region, model.name, dict(params))
        self.calls.append((model.service_model.endpoint_prefix, region, botocore.xform_name(model.name), dict(params)))
        if region in self.lost:
            raise botocore.exceptions.EndpointConnectionError(endpoint_url=f"https://{region}.amazonaws.com/")

    def _answer(self, model: Any, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        _, region, operation, params = context["fake_call"]
        snake = botocore.xform_name(operation)
        try:
            if snake in self.failures:
                raise FaultError(*self.failures[snake])
            answer = getattr(self, snake)(region, **params)
        except FaultError as fault:
            error = {"Error": {"Code": fault.code, "Message": fault.message, "Type": "Sender"}}
            return AWSResponse(None, 400, {}, None), {**error, "ResponseMetadata": {"HTTPStatusCode": 400}}
        if model.output_shape is not None:
            validate_parameters(answer, model.output_shape)  # what Stubber checks of a response
        return AWSResponse(None, 200, {}, None), {**answer, "ResponseMetadata": {"HTTPStatusCode": 200}}

    # SSM

    def get_parameter(self, region: str, **params: Any) -> dict[str, Any]:
        if params["Name"] != parameter_name("prod") or region not in self.parameters:
            raise FaultError("ParameterNotFound", "")
        return {"Parameter": {"Name": params["Name"], "Type": "String", "Value": self.parameters[region], "Version": 3}}

    # RDS

    def _global(self) -> dict[str, Any]:
        if self.move_to and not self.moving:
            self.writer, self.move_to, self.status = self.move_to, None, "available"
        cluster: dict[str, Any] = {
            "GlobalClusterIdentifier": GLOBAL,
            "Status": self.status,
            "Engine": "aurora-mysql",
            "GlobalClusterMembers": [
                {"DBClusterArn": ARNS[r], "IsWriter": r == self.writer, "SynchronizationStatus": "connected"}
                for r in self.members
            ],
        }
        if self.moving:
            state = self.moving.pop(0)
            cluster["FailoverState"] = {"Status": state, "FromDbClusterArn": ARNS[self.writer]}
            cluster["Status"] = "failing-over"
        return cluster

    def describe_global_clusters(self, region: str, **params: Any) -> dict[str, Any]:
        return {"GlobalClusters": [self._global()]}

    def _begin_move(self, target_arn: str) -> None:
        self.move_to = next(r for r, arn in ARNS.items() if arn == target_arn)
        self.moving = ["pending", "failing-over"]

    def switchover_global_cluster(self, region: str, **params: Any) -> dict[str, Any]:
        assert region == self.writer, "SwitchoverGlobalCluster runs in the current primary's region"
        self._begin_move(params["TargetDbClusterIdentifier"])
        return {"GlobalCluster": {"GlobalClusterIdentifier": GLOBAL}}

    def failover_global_cluster(self, region: str, **params: Any) -> dict[str, Any]:
        assert params["TargetDbClusterIdentifier"] == ARNS[region], "FailoverGlobalCluster runs in the target's"
        assert params.get("AllowDataLoss") is True
        assert any(i["status"] == "available" for i in self.sites[region].instances.values()), "no instance"
        self._begin_move(params["TargetDbClusterIdentifier"])
        return {"GlobalCluster": {"GlobalClusterIdentifier": GLOBAL}}

    def describe_db_clusters(self, region: str, **params: Any) -> dict[str, Any]:
        site = self.sites[region]
        if site.cluster_polls:
            site.cluster_polls -= 1
            if not site.cluster_polls:
                site.cluster_writer, site.cluster_status = site.failing_to, "available"  # type: ignore[attr-defined]
        return {
            "DBClusters": [
                {
                    "DBClusterIdentifier": IDS[region],
                    "DBClusterArn": ARNS[region],
                    "Status": site.cluster_status,
                    "Engine": "aurora-mysql",
                    "EngineVersion": site.engine_version,
                    "DBClusterMembers": [
                        {
                            "DBInstanceIdentifier": i,
                            "IsClusterWriter": i == site.cluster_writer,
                            "PromotionTier": v["tier"],
                        }
                        for i, v in site.instances.items()
                    ],
                }
            ]
        }

    def describe_db_instances(self, region: str, **params: Any) -> dict[str, Any]:
        site = self.sites[region]
        name = params["DBInstanceIdentifier"]
        instance = site.instances.get(name)
        if instance is None:
            raise FaultError("DBInstanceNotFound", f"DBInstance {name} not found.")
        if instance["polls"]:
            instance["polls"] -= 1
        elif instance["status"] == "creating":
            instance["status"] = "available"
        elif instance["status"] == "deleting":
            del site.instances[name]
            raise FaultError("DBInstanceNotFound", f"DBInstance {name} not found.")
        return {"DBInstances": [{"DBInstanceIdentifier": name, "DBInstanceStatus": instance["status"]}]}

    def create_db_instance(self, region: str, **params: Any) -> dict[str, Any]:
        site, name = self.sites[region], params["DBInstanceIdentifier"]
        if name in site.instances:
            raise FaultError("DBInstanceAlreadyExists", "DB instance already exists")
        site.instances[name] = {"status": "creating", "tier": params.get("PromotionTier", 1), "polls": 1}
        if not site.cluster_writer:
            site.cluster_writer = name
        return {"DBInstance": {"DBInstanceIdentifier": name, "DBInstanceStatus": "creating"}}

    def failover_db_cluster(self, region: str, **params: Any) -> dict[str, Any]:
        site = self.sites[region]
        site.cluster_status, site.cluster_polls = "failing-over", 2
        site.failing_to = params["TargetDBInstanceIdentifier"]  # type: ignore[attr-defined]
        return {"DBCluster": {"DBClusterIdentifier": IDS[region], "Status": "failing-over"}}

    def delete_db_instance(self, region: str, **params: Any) -> dict[str, Any]:
        site, name = self.sites[region], params["DBInstanceIdentifier"]
        assert site.cluster_writer != name, "deleting the cluster's writer: an unplanned failover"
        site.instances[name].update(status="deleting", polls=1)
        return {"DBInstance": {"DBInstanceIdentifier": name, "DBInstanceStatus": "deleting"}}

    # Auto Scaling, ELB

    def describe_auto_scaling_groups(self, region: str, **params: Any) -> dict[str, Any]:
        site = self.sites[region]
        low, high, desired = site.sizes
        states = ["InService"] * site.in_service + ["Pending"] * max(0, desired - site.in_service)
        if site.in_service < desired:
            site.in_service += 1  # one more instance passes its checks before the next look
        return {
            "AutoScalingGroups": [
                {
                    "AutoScalingGroupName": ASGS[region],
                    "MinSize": low,
                    "MaxSize": high,
                    "DesiredCapacity": desired,
                    "DefaultCooldown": 300,
                    "AvailabilityZones": [f"{region}a"],
                    "HealthCheckType": "ELB",
                    "CreatedTime": "2026-01-01T00:00:00Z",
                    "Instances": [
                        {
                            "InstanceId": f"i-{n:08x}",
                            "AvailabilityZone": f"{region}a",
                            "LifecycleState": state,
                            "HealthStatus": "Healthy",
                            "ProtectedFromScaleIn": False,
                        }
                        for n, state in enumerate(states)
                    ],
                }
            ]
        }

    def update_auto_scaling_group(self, region: str, **params: Any) -> dict[str, Any]:
        assert params["AutoScalingGroupName"] == ASGS[region]
        self.sites[region].sizes = (params["MinSize"], params["MaxSize"], params["DesiredCapacity"])
        return {}

    def describe_target_health(self, region: str, **params: Any) -> dict[str, Any]:
        assert params["TargetGroupArn"] == GROUPS[region]
        healthy = self.sites[region].in_service
        return {
            "TargetHealthDescriptions": [
                {"Target": {"Id": f"i-{n:08x}", "Port": 8080}, "TargetHealth": {"State": "healthy"}}
                for n in range(healthy)
            ]
        }

    # Route 53: a site passes its readiness check when its region answers, it reaches the writer (it is
    # the writer's site) and it runs an app instance.

    def ready(self, region: str) -> bool:
        return region not in self.lost and region == self.writer and self.sites[region].in_service > 0

    def get_health_check_status(self, region: str, **params: Any) -> dict[str, Any]:
        assert region == regions.ROUTE53_REGION
        site = next(r for r, check in CHECKS.items() if check == params["HealthCheckId"])
        status = "Success: HTTP Status Code 200, OK" if self.ready(site) else "Failure: HTTP Status Code 503"
        return {
            "HealthCheckObservations": [
                {"Region": checker, "IPAddress": "15.177.0.1", "StatusReport": {"Status": status}}
                for checker in CHECKERS
            ]
        }

    def list_resource_record_sets(self, region: str, **params: Any) -> dict[str, Any]:
        assert (params["HostedZoneId"], params["StartRecordName"], params["StartRecordType"]) == (ZONE, ORIGIN, "A")
        primary = json.loads(self.parameters[STANDBY])["primary_region"]  # the roles the last up set
        roles = {"PRIMARY": primary, "SECONDARY": PRIMARY if primary == STANDBY else STANDBY}
        return {
            "ResourceRecordSets": [
                {
                    "Name": f"{ORIGIN}.",
                    "Type": "A",
                    "SetIdentifier": role.lower(),
                    "Failover": role,
                    "HealthCheckId": CHECKS[site],
                    "AliasTarget": {
                        "HostedZoneId": "Z32O12XQLNTSW2",
                        "DNSName": f"app-{site}.elb.amazonaws.com.",
                        "EvaluateTargetHealth": False,
                    },
                }
                for role, site in roles.items()
            ],
            "IsTruncated": False,
            "MaxItems": "100",
        }


# The machine


class FakeClock:
    """Polling.clock/sleep: time passes only when the command sleeps, so waits take no real time."""

    def __init__(self) -> None:
        self.now, self.sleeps = 0.0, 0

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        assert self.sleeps < 1000, "polling never gives up"
        self.now += seconds


ALWAYS_FAILS = """#!/usr/bin/env bash
printf '%s\\n' "pulumi $*" >> "$FAKE_PULUMI_LOG"
echo "error: failed to load checkpoint: could not reach s3://payments-pulumi-state (eu-west-1)" >&2
exit 255
"""

FAKE_PULUMI = """#!/usr/bin/env bash
printf '%s\\n' "pulumi $*" >> "$FAKE_PULUMI_LOG"
if [ "$1" = up ]; then exit "${FAKE_PULUMI_EXIT:-0}"; fi
"""

CHECK_CREDENTIALS_JOINED = deploy.check_credentials_joined
REAL = {
    "payments-platform:domainName": "payments.acme-pay.co.uk",
    "payments-platform:hostedZoneId": ZONE,
    "payments-platform:alarmEmails": '["payments-oncall@acme-pay.co.uk"]',
}


class Machine:
    """The operator's machine: a stack file copy, a pulumi on PATH, and the cloud the session reaches."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cloud: Cloud) -> None:
        self.project = tmp_path / "project"
        self.project.mkdir()
        for name in ("Pulumi.yaml", "Pulumi.prod.yaml", "Pulumi.dev.yaml"):
            shutil.copy(deploy.PROJECT_DIR / name, self.project / name)
        self.bin = offline_machine(tmp_path, monkeypatch)
        install(self.bin, "pulumi", FAKE_PULUMI)
        self.log = tmp_path / "pulumi.log"
        monkeypatch.setenv("FAKE_PULUMI_LOG", str(self.log))
        monkeypatch.setenv("PULUMI_BACKEND_URL", "s3://payments-pulumi-state")
        project = self.project

        def config(stack: str, **kwargs: Any) -> dict[str, str]:
            kwargs["project_dir"] = project
            return harness.stack_config(stack, **kwargs) | (REAL if stack == "prod" else {})

        shipped = deploy.stack_file_config
        monkeypatch.setattr(deploy, "stack_config", config)
        monkeypatch.setattr(deploy, "stack_file_config", lambda s: shipped(s) | (REAL if s == "prod" else {}))
        monkeypatch.setattr(deploy, "stack_file", lambda stack: project / f"Pulumi.{stack}.yaml")
        monkeypatch.setattr(deploy, "aws_session", lambda env: (cloud.session(), None))
        monkeypatch.setattr(leftovers, "check", lambda *args, **kwargs: [])  # tested in test_leftovers.py
        # up's credentials check asks this cloud (test_deploy.py's autouse fixture answers None).
        monkeypatch.setattr(deploy, "check_credentials_joined", CHECK_CREDENTIALS_JOINED)

    @property
    def stack_file(self) -> Path:
        return self.project / "Pulumi.prod.yaml"

    def pulumi_calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    polling = steps.Polling(interval=15, timeout=60, sleep=fake.sleep, clock=fake.time, waiter_delay=0, dns_timeout=60)
    monkeypatch.setattr(steps, "POLLING", polling)
    return fake


@pytest.fixture
def cloud() -> Cloud:
    return Cloud("warm")


@pytest.fixture
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cloud: Cloud, clock: FakeClock) -> Machine:
    return Machine(tmp_path, monkeypatch, cloud)


def answer(monkeypatch: pytest.MonkeyPatch, *lines: str) -> None:
    """What the operator types at the prompts."""
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(f"{line}\n" for line in lines)))


def one_error(err: str) -> str:
    assert "Traceback" not in err
    assert err.count("\n") == 1, err
    assert err.startswith("deploy: ")
    return err


def steps_of(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("step ")]


SWITCHOVER = ["switchover", "prod", "--yes"]
FAILOVER = ["failover", "prod", "--allow-data-loss", "--yes"]
REMOVE = ["failover", "prod", "--remove-temporary", "--yes"]
PACK = deploy.PROJECT_DIR / "policypack"
UP = f"pulumi up --stack prod --policy-pack {PACK} --policy-pack-config {PACK / 'prod.json'} --yes"


# switchover


def test_switchover_moves_the_writer_then_verifies_dns_records_and_runs_up(
    machine: Machine, cloud: Cloud, capsys: pytest.CaptureFixture[str]
) -> None:
    assert deploy.main(SWITCHOVER) == 0
    out = capsys.readouterr().out
    assert [s.split(":")[0] for s in steps_of(out)] == [f"step {n}/7" for n in range(1, 8)]
    assert cloud.mutations() == ["update_auto_scaling_group", "switchover_global_cluster"]
    assert cloud.asked("update_auto_scaling_group") == [
        {"AutoScalingGroupName": ASGS[STANDBY], "MinSize": 2, "MaxSize": 10, "DesiredCapacity": 3}
    ]
    assert cloud.asked("switchover_global_cluster") == [
        {"GlobalClusterIdentifier": GLOBAL, "TargetDbClusterIdentifier": ARNS[STANDBY]}
    ]
    assert cloud.writer == STANDBY
    assert machine.pulumi_calls()[-1] == UP
    assert "payments-platform:primaryRegion: eu-central-1\n" in machine.stack_file.read_text()
    assert "commit it" in out.splitlines()[-1]


def test_switchover_checks_the_targets_before_it_moves_the_writer(machine: Machine, cloud: Cloud) -> None:
    """Item 3: the target's app at capacity and its load balancer's targets healthy, before the switchover."""
    assert deploy.main(SWITCHOVER) == 0
    operations = [op for _, region, op, _ in cloud.calls]
    moved = operations.index("switchover_global_cluster")
    assert "describe_target_health" in operations[:moved]
    last_look = max(i for i, op in enumerate(operations[:moved]) if op == "describe_target_health")
    healthy = cloud.calls[last_look]
    assert (healthy[1], healthy[3]) == (STANDBY, {"TargetGroupArn": GROUPS[STANDBY]})


def test_switchover_waits_until_route53_answers_with_the_target(machine: Machine, cloud: Cloud) -> None:
    """Item 2: traffic follows the writer, verified before the move is recorded and up runs."""
    assert deploy.main(SWITCHOVER) == 0
    operations = [op for _, _, op, _ in cloud.calls]
    assert "list_resource_record_sets" in operations
    assert operations.index("list_resource_record_sets") > operations.index("switchover_global_cluster")
    checks = {params["HealthCheckId"] for params in cloud.asked("get_health_check_status")}
    assert checks == set(CHECKS.values())


def test_traffic_that_does_not_follow_stops_before_recording_with_one_line(
    machine: Machine, cloud: Cloud, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The old site still passes its check (say it still reaches the writer): Route 53 keeps answering with it."""
    monkeypatch.setattr(cloud, "ready", lambda region: region == PRIMARY)
    assert deploy.main(SWITCHOVER) == steps.EXIT_STEP_FAILED
    err = one_error(capsys.readouterr().err)
    assert err.startswith("deploy: step 5/7 failed: timed out after 1 min waiting for Route 53 to answer")
    assert f"Route 53 answers {ORIGIN} with eu-west-1 (its PRIMARY record; eu-west-1's check healthy" in err
    assert "clients resolving origin.payments.acme-pay.co.uk still reach the other site" in err
    assert err.rstrip().endswith("run `./deploy switchover prod` again")
    assert "primaryRegion" not in machine.stack_file.read_text()
    assert not any(call.startswith("pulumi up") for call in machine.pulumi_calls())


SWITCHOVER_REFUSALS = {
    "global cluster busy": (lambda c: setattr(c, "status", "modifying"), ["is modifying in eu-west-1, not available"]),
    "headless target": (
        lambda c: c.sites[STANDBY].instances.clear(),
        ["has no DB instance", "standbyMode: warm", "./deploy up prod"],
    ),
    "engine versions differ": (
        lambda c: setattr(c.sites[STANDBY], "engine_version", "8.0.mysql_aurora.3.09.0"),
        ["engine versions differ", "eu-west-1 8.0.mysql_aurora.3.10.1", "eu-central-1 8.0.mysql_aurora.3.09.0"],
    ),
    "standby not a member": (lambda c: setattr(c, "members", [PRIMARY]), ["has no member in eu-central-1"]),
    "global cluster unreadable": (
        lambda c: c.failures.update(describe_global_clusters=("AccessDenied", "not authorized")),
        ["rds DescribeGlobalClusters in eu-west-1: AccessDenied: not authorized; nothing was changed."],
    ),
    "no record in either region": (
        lambda c: c.parameters.clear(),
        ["eu-west-1 has no failover record /fintech/prod/failover-record (`./deploy up prod` writes it)"],
    ),
}


@pytest.mark.parametrize(("change", "expected"), SWITCHOVER_REFUSALS.values(), ids=SWITCHOVER_REFUSALS.keys())
def test_switchover_refuses_with_nothing_changed(
    machine: Machine, cloud: Cloud, capsys: pytest.CaptureFixture[str], change: Any, expected: list[str]
) -> None:
    change(cloud)
    assert deploy.main(SWITCHOVER) == deploy.EXIT_SETUP
    err = one_error(capsys.readouterr().err)
    for words in expected:
        assert words in err
    assert cloud.mutations() == []


def test_switchover_lists_every_problem_at_once(
    machine: Machine, cloud: Cloud, capsys: pytest.CaptureFixture[str]
) -> None:
    cloud.status = "upgrading"
    cloud.sites[STANDBY].instances.clear()
    cloud.sites[STANDBY].engine_version = "8.0.mysql_aurora.3.09.0"
    assert deploy.main(SWITCHOVER) == deploy.EXIT_SETUP
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3
    assert ["upgrading" in lines[0], "no DB instance" in lines[1], "versions differ" in lines[2]] == [True] * 3
    assert cloud.mutations() == []


def test_a_failing_step_stops_there_with_one_line(
    machine: Machine, cloud: Cloud, capsys: pytest.CaptureFixture[str]
) -> None:
    cloud.failures["switchover_global_cluster"] = ("InvalidGlobalClusterStateFault", "is not available")
    assert deploy.main(SWITCHOVER) == steps.EXIT_STEP_FAILED
    err = one_error(capsys.readouterr().err)
    assert err.startswith(
        "deploy: step 3/7 failed: rds SwitchoverGlobalCluster in eu-west-1: InvalidGlobalClusterStateFault: "
        "is not available. the writer has not moved: fix the cause and run `./deploy switchover prod` again, "
        "or scale fintech-prod-standby-app in eu-central-1 back to min 1, desired 1"
    )
    assert cloud.calls[-1][2] == "switchover_global_cluster", "nothing after the failing step"


def test_a_failing_up_names_what_is_done(
    machine: Machine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FAKE_PULUMI_EXIT", "255")
    assert deploy.main(SWITCHOVER) == steps.EXIT_STEP_FAILED
    err = one_error(capsys.readouterr().err)
    assert err.startswith("deploy: step 7/7 failed: `./deploy up prod` exited 255")
    assert "eu-central-1 holds the writer and takes the traffic, Pulumi.prod.yaml says so" in err


def test_waiting_for_instances_times_out_cleanly(
    machine: Machine, cloud: Cloud, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cloud, "describe_target_health", lambda region, **_: {"TargetHealthDescriptions": []})
    assert deploy.main(SWITCHOVER) == steps.EXIT_STEP_FAILED
    err = one_error(capsys.readouterr().err)
    assert err.startswith("deploy: step 2/7 failed: timed out after 1 min waiting for 3 InService, healthy instances")
    assert "last seen: fintech-prod-standby-app: 3/3 instances InService, 0/3 targets healthy" in err
    assert "the writer has not moved" in err
    assert "switchover_global_cluster" not in cloud.mutations()


def test_ctrl_c_during_a_wait_is_one_line_naming_the_command_to_resume(
    machine: Machine, monkeypatch: pytest.MonkeyPatch, cloud: Cloud, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(steps, "POLLING", steps.Polling(interval=15, timeout=60, sleep=interrupted, waiter_delay=0))
    assert deploy.main(SWITCHOVER) == steps.EXIT_INTERRUPTED
    err = one_error(capsys.readouterr().err)
    assert err == "deploy: interrupted during step 2/7; run `./deploy switchover prod` again: it goes on from there.\n"
    assert "switchover_global_cluster" not in cloud.mutations()


# confirmation


def test_nothing_happens_unless_the_operator_says_yes(
    machine: Machine, cloud: Cloud, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    answer(monkeypatch, "y")
    assert deploy.main(["switchover", "prod"]) == deploy.EXIT_SETUP
    captured = capsys.readouterr()
    assert "  7. ./deploy up prod" in captured.out, "the plan is shown before the question"
    assert "Type yes to go ahead" in captured.out
    assert one_error(captured.err) == "deploy: stopped at the confirmation: nothing was changed.\n"
    assert cloud.mutations() == []


def test_yes_at_the_prompt_goes_ahead_and_up_asks_again(machine: Machine, monkeypatch: pytest.MonkeyPatch) -> None:
    answer(monkeypatch, "yes")
    assert deploy.main(["switchover", "prod"]) == 0
    assert machine.pulumi_calls()[-1] == UP.removesuffix(" --yes"), "without --yes, pulumi shows its diff and asks"


def test_no_terminal_and_no_yes_is_refused(
    machine: Machine, cloud: Cloud, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    answer(monkeypatch)
    assert deploy.main(["failover", "prod", "--allow-data-loss"]) == deploy.EXIT_SETUP
    assert "pass --yes" in one_error(capsys.readouterr().err)
    assert cloud.mutations() == []


# failover: nothing from the lost region (item 1)


@pytest.fixture
def region_lost(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> tuple[Machine, Cloud]:
    """eu-west-1 is gone: its endpoints do not answer, and neither does the state backend in it."""
    lost = Cloud("pilot-light", lost=(PRIMARY,))
    machine = Machine(tmp_path, monkeypatch, lost)
    install(machine.bin, "pulumi", ALWAYS_FAILS)
    return machine, lost


def test_failover_needs_nothing_from_the_lost_region(
    region_lost: tuple[Machine, Cloud], capsys: pytest.CaptureFixture[str]
) -> None:
    machine, cloud = region_lost
    assert deploy.main(FAILOVER) == 0, capsys.readouterr().err
    assert cloud.regions_asked() == {STANDBY, regions.ROUTE53_REGION}, "not one call to eu-west-1"
    assert cloud.writer == STANDBY, "the database failed over"
    assert cloud.sites[STANDBY].sizes == (2, 10, 3), "the app scaled"
    assert "  payments-platform:primaryRegion: eu-central-1\n" in machine.stack_file.read_text()
    assert machine.pulumi_calls() == [], "pulumi (the state backend) is never asked"


def test_failover_reads_the_record_from_the_target_region_only(
    region_lost: tuple[Machine, Cloud], capsys: pytest.CaptureFixture[str]
) -> None:
    _, cloud = region_lost
    del cloud.parameters[STANDBY]
    assert deploy.main(FAILOVER) == deploy.EXIT_SETUP
    err = one_error(capsys.readouterr().err)
    assert "eu-central-1 has no failover record /fintech/prod/failover-record" in err
    assert [region for _, region, _, _ in cloud.calls] == [STANDBY]


def test_pilot_light_failover_creates_the_temporary_writer_like_the_managed_ones(
    region_lost: tuple[Machine, Cloud], capsys: pytest.CaptureFixture[str]
) -> None:
    _, cloud = region_lost
    assert deploy.main(FAILOVER) == 0
    assert cloud.mutations() == [
        "create_db_instance",
        "failover_global_cluster",
        "update_auto_scaling_group",
        *TAKE_OVER,
    ]
    assert cloud.asked("create_db_instance") == [
        {
            "DBInstanceIdentifier": TEMPORARY,
            "DBClusterIdentifier": IDS[STANDBY],
            "DBInstanceClass": "db.r6g.large",
            "Engine": "aurora-mysql",
            "DBParameterGroupName": f"{IDS[STANDBY]}-instance-params",
            "CACertificateIdentifier": "rds-ca-rsa2048-g1",
            "MonitoringInterval": 15,
            "MonitoringRoleArn": f"arn:aws:iam::123456789012:role/mon-{STANDBY}",
            "PubliclyAccessible": False,
            "AutoMinorVersionUpgrade": False,
            "PromotionTier": 15,
        }
    ]
    assert cloud.asked("failover_global_cluster") == [
        {"GlobalClusterIdentifier": GLOBAL, "TargetDbClusterIdentifier": ARNS[STANDBY], "AllowDataLoss": True}
    ]
    out = capsys.readouterr().out
    assert [s.split(":")[0] for s in steps_of(out)] == [f"step {n}/12" for n in range(1, 13)]
    follow_up = out[out.index("next:") :]
    for words in (
        "1. commit Pulumi.prod.yaml (primaryRegion: eu-central-1)",
        "2. once eu-west-1 answers again, and BEFORE any up, run `./deploy failover prod --rejoin-secrets`",
        "3. leave `./deploy up prod` until eu-west-1 answers again",
        "4. once that up has created the managed DB instance in eu-central-1, run "
        "`./deploy failover prod --remove-temporary`: it moves the writer to the managed instance, then deletes "
        f"{TEMPORARY}",
    ):
        assert words in follow_up
    assert "delete-db-instance" not in out


def test_warm_failover_promotes_the_running_instance(machine: Machine, cloud: Cloud) -> None:
    cloud.lost.add(PRIMARY)
    assert deploy.main(FAILOVER) == 0
    assert cloud.mutations() == ["failover_global_cluster", "update_auto_scaling_group", *TAKE_OVER]


FAILOVER_REFUSALS = {
    "target not a member": (lambda c: setattr(c, "members", [PRIMARY]), "is not a member of global cluster"),
    "standby region unreachable too": (
        lambda c: c.lost.add(STANDBY),
        "cannot read the failover record: ssm GetParameter in eu-central-1: EndpointConnectionError",
    ),
    "record malformed": (
        lambda c: c.parameters.update({STANDBY: '{"format": 2}'}),
        "/fintech/prod/failover-record in eu-central-1: failover record: stack is missing",
    ),
}


@pytest.mark.parametrize(("change", "expected"), FAILOVER_REFUSALS.values(), ids=FAILOVER_REFUSALS.keys())
def test_failover_refuses_with_nothing_changed(
    region_lost: tuple[Machine, Cloud], capsys: pytest.CaptureFixture[str], change: Any, expected: str
) -> None:
    _, cloud = region_lost
    change(cloud)
    assert deploy.main(FAILOVER) == deploy.EXIT_SETUP
    assert expected in one_error(capsys.readouterr().err)
    assert cloud.mutations() == []


def test_a_failed_failover_call_leaves_the_app_alone(
    machine: Machine, cloud: Cloud, capsys: pytest.CaptureFixture[str]
) -> None:
    cloud.lost.add(PRIMARY)
    cloud.failures["failover_global_cluster"] = ("GlobalClusterNotFoundFault", "not found")
    assert deploy.main(FAILOVER) == steps.EXIT_STEP_FAILED
    err = one_error(capsys.readouterr().err)
    assert err.startswith(
        "deploy: step 1/10 failed: rds FailoverGlobalCluster in eu-central-1: GlobalClusterNotFoundFault"
    )
    assert "the writer has not moved: fix the cause and run `./deploy failover prod --allow-data-loss` again" in err
    assert cloud.mutations() == ["failover_global_cluster"]


def test_failover_refuses_without_allow_data_loss(
    machine: Machine, cloud: Cloud, capsys: pytest.CaptureFixture[str]
) -> None:
    assert deploy.main(["failover", "prod", "--yes"]) == deploy.EXIT_SETUP
    err = one_error(capsys.readouterr().err)
    assert err.startswith("deploy: Refusing to fail over without --allow-data-loss")
    for words in ("are lost", "RPO lag", "AuroraGlobalDBRPOLag", "./deploy switchover prod"):
        assert words in err
    assert cloud.calls == [], "not even the record is read"


def test_a_recorded_move_without_up_is_refused_naming_it(
    machine: Machine, cloud: Cloud, capsys: pytest.CaptureFixture[str]
) -> None:
    """After a failover recorded primaryRegion, running a move again must not go back: the record says why."""
    regions.record_primary_region(machine.stack_file, "payments-platform", STANDBY)
    assert deploy.main(SWITCHOVER) == deploy.EXIT_SETUP
    err = one_error(capsys.readouterr().err)
    assert (
        "Pulumi.prod.yaml says primaryRegion eu-central-1, the failover record in eu-central-1 (written by the " in err
    )
    assert "run it once both regions answer" in err
    assert cloud.mutations() == []


# resume (item 4): interrupted after each step, the same command goes on


def interrupt_at(monkeypatch: pytest.MonkeyPatch, number: int) -> None:
    """Ctrl-C (a lost terminal) just as step ``number`` begins: every step before it is done."""
    begin = steps.starting

    def starting(n: int, total: int, step: steps.Step, already: bool) -> None:
        if n == number:
            monkeypatch.setattr(steps, "starting", begin)
            raise KeyboardInterrupt
        begin(n, total, step, already)

    monkeypatch.setattr(steps, "starting", starting)


@pytest.mark.parametrize("boundary", range(2, 8))
def test_switchover_resumes_after_every_step(
    machine: Machine, cloud: Cloud, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], boundary: int
) -> None:
    interrupt_at(monkeypatch, boundary)
    assert deploy.main(SWITCHOVER) == steps.EXIT_INTERRUPTED
    err = one_error(capsys.readouterr().err)
    # Once primaryRegion is recorded (step 6), what is left is the up (a switchover would now go back).
    if boundary == 7:
        assert err.endswith("run `./deploy up prod`: it goes on from there.\n")
        assert deploy.main(["up", "prod", "--yes"]) == 0, capsys.readouterr().err
    else:
        assert err.endswith("run `./deploy switchover prod` again: it goes on from there.\n")
        assert deploy.main(SWITCHOVER) == 0, capsys.readouterr().err
    assert cloud.mutations() == ["update_auto_scaling_group", "switchover_global_cluster"], "nothing done twice"
    assert cloud.writer == STANDBY
    assert machine.pulumi_calls()[-1] == UP
    if boundary < 7:
        assert "already done" in capsys.readouterr().out, "the re-run says what it skips"


@pytest.mark.parametrize("boundary", range(2, 13))
def test_failover_resumes_after_every_step(
    region_lost: tuple[Machine, Cloud],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    boundary: int,
) -> None:
    machine, cloud = region_lost
    interrupt_at(monkeypatch, boundary)
    assert deploy.main(FAILOVER) == steps.EXIT_INTERRUPTED
    assert one_error(capsys.readouterr().err).endswith(
        "run `./deploy failover prod --allow-data-loss` again: it goes on from there.\n"
    )
    assert deploy.main(FAILOVER) == 0, capsys.readouterr().err
    assert cloud.mutations() == [
        "create_db_instance",
        "failover_global_cluster",
        "update_auto_scaling_group",
        *TAKE_OVER,
    ]
    assert cloud.writer == STANDBY
    assert "primaryRegion: eu-central-1" in machine.stack_file.read_text()
    assert "next:" in capsys.readouterr().out, "the follow-up is printed on the run that finishes"


def test_a_failover_already_under_way_is_waited_for(
    region_lost: tuple[Machine, Cloud], capsys: pytest.CaptureFixture[str]
) -> None:
    """Someone (or an earlier run) started it: no second FailoverGlobalCluster."""
    _, cloud = region_lost
    cloud.sites[STANDBY].instances[TEMPORARY] = {"status": "available", "tier": 15, "polls": 0}
    cloud._begin_move(ARNS[STANDBY])
    cloud.moving = ["pending"] + ["failing-over"] * 5  # it takes a while
    assert deploy.main(FAILOVER) == 0
    assert "failover_global_cluster" not in cloud.mutations()
    assert "create_db_instance" not in cloud.mutations()
    assert "(resuming: the writer has moved or is moving)" in capsys.readouterr().out


def test_a_temporary_instance_still_creating_is_waited_for(region_lost: tuple[Machine, Cloud]) -> None:
    _, cloud = region_lost
    cloud.sites[STANDBY].instances[TEMPORARY] = {"status": "creating", "tier": 15, "polls": 2}
    cloud.sites[STANDBY].cluster_writer = TEMPORARY
    assert deploy.main(FAILOVER) == 0
    assert cloud.mutations() == ["failover_global_cluster", "update_auto_scaling_group", *TAKE_OVER]
    waited = [p for p in cloud.asked("describe_db_instances") if p["DBInstanceIdentifier"] == TEMPORARY]
    assert len(waited) >= 3, "the waiter polled until available"


def test_an_app_group_at_capacity_is_not_scaled_again(region_lost: tuple[Machine, Cloud]) -> None:
    _, cloud = region_lost
    cloud.sites[STANDBY].sizes = (2, 10, 3)
    assert deploy.main(FAILOVER) == 0
    assert "update_auto_scaling_group" not in cloud.mutations()


# item 8: the temporary writer goes only after the writer left it


@pytest.fixture
def after_pilot_light_failover(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> tuple[Machine, Cloud]:
    """eu-central-1 holds the writer on the temporary instance; the `up` since recorded it and added a managed one."""
    cloud = Cloud("pilot-light")
    machine = Machine(tmp_path, monkeypatch, cloud)
    cloud.writer = STANDBY
    cloud.parameters = {r: record("pilot-light", primary=STANDBY).to_json() for r in IDS}
    standby = cloud.sites[STANDBY]
    standby.instances = {
        TEMPORARY: {"status": "available", "tier": 15, "polls": 0},
        "fintech-prod-standby-aurora-instance-0-ab12cd3": {"status": "available", "tier": 0, "polls": 0},
    }
    standby.cluster_writer = TEMPORARY
    regions.record_primary_region(machine.stack_file, "payments-platform", STANDBY)
    return machine, cloud


def test_remove_temporary_fails_over_to_the_managed_instance_before_deleting(
    after_pilot_light_failover: tuple[Machine, Cloud], capsys: pytest.CaptureFixture[str]
) -> None:
    _, cloud = after_pilot_light_failover
    assert deploy.main(REMOVE) == 0, capsys.readouterr().err
    assert cloud.mutations() == ["failover_db_cluster", "delete_db_instance"]
    assert cloud.asked("failover_db_cluster") == [
        {
            "DBClusterIdentifier": IDS[STANDBY],
            "TargetDBInstanceIdentifier": "fintech-prod-standby-aurora-instance-0-ab12cd3",
        }
    ]
    assert cloud.asked("delete_db_instance") == [{"DBInstanceIdentifier": TEMPORARY}]
    assert TEMPORARY not in cloud.sites[STANDBY].instances
    assert capsys.readouterr().out.splitlines()[-1].startswith("done: fintech-prod-standby-aurora-instance-0-ab12cd3")


@pytest.mark.parametrize("boundary", range(2, 6))
def test_remove_temporary_resumes_after_every_step(
    after_pilot_light_failover: tuple[Machine, Cloud],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    boundary: int,
) -> None:
    _, cloud = after_pilot_light_failover
    interrupt_at(monkeypatch, boundary)
    assert deploy.main(REMOVE) == steps.EXIT_INTERRUPTED
    assert one_error(capsys.readouterr().err).endswith(
        "run `./deploy failover prod --remove-temporary` again: it goes on from there.\n"
    )
    assert deploy.main(REMOVE) == 0, capsys.readouterr().err
    assert cloud.mutations() == ["failover_db_cluster", "delete_db_instance"]
    assert TEMPORARY not in cloud.sites[STANDBY].instances


def test_remove_temporary_before_up_created_the_managed_instance_is_refused(
    after_pilot_light_failover: tuple[Machine, Cloud], capsys: pytest.CaptureFixture[str]
) -> None:
    _, cloud = after_pilot_light_failover
    del cloud.sites[STANDBY].instances["fintech-prod-standby-aurora-instance-0-ab12cd3"]
    assert deploy.main(REMOVE) == deploy.EXIT_SETUP
    assert "has no DB instance but fintech-prod-standby-aurora-failover yet: run `./deploy up prod` first" in one_error(
        capsys.readouterr().err
    )
    assert cloud.mutations() == []


def test_the_in_cluster_failover_call_checks_against_the_model_with_stubber() -> None:
    """botocore's Stubber: FailoverDBCluster's and DeleteDBInstance's parameters as the service model has them."""
    client = boto3.Session(aws_access_key_id="A", aws_secret_access_key="s").client("rds", region_name=STANDBY)
    with Stubber(client) as stub:
        stub.add_response("failover_db_cluster", {}, {"DBClusterIdentifier": "c", "TargetDBInstanceIdentifier": "i"})
        stub.add_client_error("delete_db_instance", "InvalidDBInstanceState", http_status_code=400)
        client.failover_db_cluster(DBClusterIdentifier="c", TargetDBInstanceIdentifier="i")
        with pytest.raises(botocore.exceptions.ClientError) as error:
            client.delete_db_instance(DBInstanceIdentifier="i")
    assert error.value.response["Error"]["Code"] == "InvalidDBInstanceState"


# the machine and the stack file


def test_no_aws_cli_is_needed(machine: Machine, cloud: Cloud) -> None:
    assert shutil.which("aws", path=str(machine.bin)) is None
    assert deploy.main(SWITCHOVER) == 0


def test_the_clients_have_timeouts_and_standard_retries() -> None:
    config = steps.CLIENT_CONFIG
    assert (config.connect_timeout, config.read_timeout) == (5, 30)
    assert config.retries == {"mode": "standard", "total_max_attempts": 5}
    session = boto3.Session(aws_access_key_id="A", aws_secret_access_key="s")
    aws = steps.Aws(session)
    assert aws.client("rds", STANDBY).meta.config.retries["mode"] == "standard"
    assert aws.client("rds", STANDBY) is aws.client("rds", STANDBY), "one client per service and region"


@pytest.mark.parametrize("argv", [["switchover", "dev", "--yes"], ["failover", "dev", "--yes", "--allow-data-loss"]])
def test_a_stack_without_a_standby_region_is_refused_before_anything_is_asked(
    machine: Machine, cloud: Cloud, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    assert deploy.main(argv) == deploy.EXIT_SETUP
    err = one_error(capsys.readouterr().err)
    assert err.startswith("deploy: dev has no standbyRegion in Pulumi.dev.yaml: it runs in eu-west-1 alone")
    assert cloud.calls == []
    assert machine.pulumi_calls() == []


@pytest.mark.parametrize(
    ("argv", "verb"), [(["switchover", "dev"], "switch over"), (["failover", "dev", "--allow-data-loss"], "fail over")]
)
def test_on_a_bare_machine_a_stack_without_a_standby_region_says_that_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str], verb: str
) -> None:
    """Issue 21: `./deploy switchover dev` listed missing tools and credentials, never that dev has one region."""
    monkeypatch.setenv("PATH", str(tmp_path))  # no pulumi
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "PULUMI_CONFIG_PASSPHRASE", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    assert deploy.main(argv) == deploy.EXIT_SETUP
    assert capsys.readouterr().err == (
        "deploy: dev has no standbyRegion in Pulumi.dev.yaml: it runs in eu-west-1 alone, so there is no other "
        f"region to {verb} to (switchover and failover apply to a stack with a standby region).\n"
    )


def test_failover_without_credentials_is_one_line(
    machine: Machine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(deploy, "aws_session", lambda env: (None, "No AWS credentials found. Log in first."))
    assert deploy.main(FAILOVER) == deploy.EXIT_SETUP
    assert one_error(capsys.readouterr().err) == "deploy: No AWS credentials found. Log in first.\n"


def test_allow_data_loss_and_remove_temporary_belong_to_failover(capsys: pytest.CaptureFixture[str]) -> None:
    for argv, message in (
        (["switchover", "prod", "--allow-data-loss"], "--allow-data-loss goes with failover only"),
        (["failover", "prod", "--allow-data-loss", "--remove-temporary"], "--remove-temporary goes with failover"),
    ):
        with pytest.raises(SystemExit) as exit_:
            deploy.main(argv)
        assert exit_.value.code == deploy.EXIT_SETUP
        assert message in capsys.readouterr().err


def test_usage_documents_the_moves_and_their_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        deploy.main(["--help"])
    usage = " ".join(capsys.readouterr().out.split())
    for words in (
        "./deploy switchover prod",
        "./deploy failover prod --allow-data-loss",
        "./deploy failover prod --remove-temporary",
        "2 the machine, the stack file or the request is not ready, a switchover or failover precondition fails",
        "(first of all: the stack has a standbyRegion)",
        "3 a switchover or failover step failed or timed out after changes began",
        "130 interrupted",
        "no AWS CLI",
    ):
        assert words in usage
    assert (deploy.EXIT_SETUP, steps.EXIT_STEP_FAILED, steps.EXIT_INTERRUPTED) == (2, 3, 130)


def test_temporary_instance_identifiers_fit_rds_limits() -> None:
    """CreateDBInstance: 1 to 63 letters, digits or hyphens, no trailing hyphen or two in a row."""
    assert regions.temporary_instance_id("fintech-prod-standby-aurora") == TEMPORARY
    long = regions.temporary_instance_id("a" * 53 + "-" + "b" * 20)
    assert len(long) <= 63
    assert long.endswith("a-failover")
    assert "--" not in long


# recording primaryRegion in the stack file


def test_recording_the_primary_region_keeps_every_other_byte(tmp_path: Path) -> None:
    shipped = (deploy.PROJECT_DIR / "Pulumi.prod.yaml").read_text()
    stack_file = tmp_path / "Pulumi.prod.yaml"
    stack_file.write_text(shipped)
    regions.record_primary_region(stack_file, "payments-platform", STANDBY)
    first = stack_file.read_text()
    standby_line = "  payments-platform:standbyRegion: eu-central-1\n"
    assert first == shipped.replace(standby_line, standby_line + "  payments-platform:primaryRegion: eu-central-1\n")
    regions.record_primary_region(stack_file, "payments-platform", PRIMARY)
    assert stack_file.read_text() == first.replace("primaryRegion: eu-central-1", "primaryRegion: eu-west-1")
    assert regions.stack_file_primary(stack_file, "payments-platform") == PRIMARY


def test_recording_keeps_a_comment_on_the_line_and_adds_config_when_absent(tmp_path: Path) -> None:
    stack_file = tmp_path / "Pulumi.x.yaml"
    stack_file.write_text("config:\n  # who\n  p:primaryRegion: eu-west-1  # set by ./deploy\n  p:other: 1\n")
    regions.record_primary_region(stack_file, "p", STANDBY)
    assert (
        stack_file.read_text() == "config:\n  # who\n  p:primaryRegion: eu-central-1  # set by ./deploy\n  p:other: 1\n"
    )
    bare = tmp_path / "Pulumi.y.yaml"
    bare.write_text("# nothing yet\n")
    regions.record_primary_region(bare, "p", STANDBY)
    assert bare.read_text() == "# nothing yet\nconfig:\n  p:primaryRegion: eu-central-1\n"
    top = tmp_path / "Pulumi.z.yaml"
    top.write_text("config:\n  aws:region: eu-west-1\n")
    regions.record_primary_region(top, "p", STANDBY)
    assert top.read_text() == "config:\n  p:primaryRegion: eu-central-1\n  aws:region: eu-west-1\n"
