"""switchover and failover, offline: fake `aws` and `pulumi` on PATH log their argv and answer from a scenario."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from ops import deploy, regions
from tests.ops.test_deploy import S3_BACKEND, install, offline_machine, use_real_prod_values

# One script for both tools: it logs `<tool> <argv>` and answers the command keyed by its leading words
# and region ("aws rds describe-global-clusters@eu-west-1", "pulumi stack output") from the answers
# Cloud.on wrote for that key, in order, the last one repeating; an unknown command prints nothing.
FAKE_CLI = """#!/usr/bin/env bash
tool=${0##*/}
printf '%s\\n' "$tool $*" >> "$FAKE_CLI_LOG"
key=$tool region= words=1 prev=
for arg in "$@"; do
  case $arg in --*) words= ;; esac
  if [ -n "$words" ]; then key="$key $arg"; fi
  if [ "$prev" = --region ]; then region=$arg; fi
  prev=$arg
done
if [ -n "$region" ]; then key="$key@$region"; fi
dir=$FAKE_CLI_ANSWERS/$key
[ -d "$dir" ] || exit 0
seen=$(cat "$dir/seen" 2>/dev/null || echo 0)
echo $((seen + 1)) > "$dir/seen"
last=$(($(cat "$dir/count") - 1))
n=$((seen < last ? seen : last))
cat "$dir/$n.out"
cat "$dir/$n.err" >&2
exit "$(cat "$dir/$n.code")"
"""

PRIMARY, STANDBY = "eu-west-1", "eu-central-1"
GLOBAL = "fintech-prod-global"
IDS = {PRIMARY: "fintech-prod-aurora", STANDBY: "fintech-prod-standby-aurora"}
ARNS = {region: f"arn:aws:rds:{region}:123456789012:cluster:{IDS[region]}" for region in IDS}
ASGS = {PRIMARY: "fintech-prod-app", STANDBY: "fintech-prod-standby-app"}
VERSION = "8.0.mysql_aurora.3.10.1"
TEMPORARY = "fintech-prod-standby-aurora-failover"
MUTATING = (
    "update-auto-scaling-group",
    "switchover-global-cluster",
    "failover-global-cluster",
    "create-db-instance",
    "pulumi config set",
    "pulumi up",
)


def outputs(mode: str = "warm") -> dict[str, Any]:
    """What `pulumi stack output --json` prints for prod with its standby (the contract's outputs)."""
    return {
        "primary_region": PRIMARY,
        "standby_region": STANDBY,
        "standby_mode": mode,
        "global_cluster_id": GLOBAL,
        "db_cluster_arns": ARNS,
        "db_cluster_ids": IDS,
        "asg_names": ASGS,
        "app_capacity": {"min": 2, "max": 10, "desired": 3},
        "db_instance_class": "db.r6g.large",
        "origin_name": "origin.payments.acme-pay.co.uk",
        "origin_health_check_ids": {PRIMARY: "hc-primary", STANDBY: "hc-standby"},
        "vpc_id": "vpc-0abc",
    }


def global_cluster(
    writer: str | None,
    status: str = "available",
    underway: str | None = None,
    members: tuple[str, ...] = (PRIMARY, STANDBY),
) -> dict[str, Any]:
    """describe-global-clusters (awscli/examples/rds/failover-global-cluster.rst shapes)."""
    cluster: dict[str, Any] = {
        "GlobalClusterIdentifier": GLOBAL,
        "Status": status,
        "Engine": "aurora-mysql",
        "EngineVersion": VERSION,
        "GlobalClusterMembers": [
            {"DBClusterArn": ARNS[region], "IsWriter": region == writer, "SynchronizationStatus": "connected"}
            for region in members
        ],
    }
    if underway:
        cluster["FailoverState"] = {"Status": underway, "FromDbClusterArn": ARNS[PRIMARY], "IsDataLossAllowed": True}
    return {"GlobalClusters": [cluster]}


def db_cluster(region: str, instances: int, version: str = VERSION) -> dict[str, Any]:
    """describe-db-clusters (awscli/examples/rds/describe-db-clusters.rst shape)."""
    return {
        "DBClusters": [
            {
                "DBClusterIdentifier": IDS[region],
                "DBClusterArn": ARNS[region],
                "Status": "available",
                "Engine": "aurora-mysql",
                "EngineVersion": version,
                "DBClusterMembers": [
                    {"DBInstanceIdentifier": f"{IDS[region]}-{n}", "IsClusterWriter": n == 0} for n in range(instances)
                ],
            }
        ]
    }


def asg(in_service: int, pending: int = 0) -> dict[str, Any]:
    states = ["InService"] * in_service + ["Pending"] * pending
    instances = [
        {"InstanceId": f"i-{n:08x}", "LifecycleState": s, "HealthStatus": "Healthy"} for n, s in enumerate(states)
    ]
    return {
        "AutoScalingGroups": [{"AutoScalingGroupName": ASGS[STANDBY], "DesiredCapacity": 3, "Instances": instances}]
    }


def ok(out: Any) -> dict[str, Any]:
    return {"out": out}


def fails(code: int, err: str) -> dict[str, Any]:
    return {"code": code, "err": err}


class Cloud:
    """The scenario the fakes answer from, and what they were asked."""

    def __init__(self, answers: Path, log: Path) -> None:
        self.answers, self.log = answers, log

    def on(self, key: str, *replies: dict[str, Any]) -> None:
        """The fakes answer ``key`` with these replies in order, the last one repeating."""
        folder = self.answers / key
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        (folder / "count").write_text(str(len(replies)))
        for n, reply in enumerate(replies):
            (folder / f"{n}.out").write_text(json.dumps(reply["out"]) + "\n" if "out" in reply else "")
            (folder / f"{n}.err").write_text(reply.get("err", "") + "\n" if "err" in reply else "")
            (folder / f"{n}.code").write_text(str(reply.get("code", 0)))

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def mutations(self) -> list[str]:
        return [call for call in self.calls() if any(word in call for word in MUTATING)]

    def switchover_ready(self) -> None:
        """A warm standby: both regions healthy, the writer in the primary, its roles swap when asked."""
        self.on("pulumi stack output", ok(outputs("warm")))
        # The writer moves before the global cluster is available again: both are awaited.
        self.on(f"aws rds describe-global-clusters@{PRIMARY}", ok(global_cluster(PRIMARY)),
                ok(global_cluster(STANDBY, "switching-over")), ok(global_cluster(STANDBY)))  # fmt: skip
        self.on(f"aws rds describe-db-clusters@{PRIMARY}", ok(db_cluster(PRIMARY, 2)))
        self.on(f"aws rds describe-db-clusters@{STANDBY}", ok(db_cluster(STANDBY, 1)))
        self.on(f"aws autoscaling describe-auto-scaling-groups@{STANDBY}", ok(asg(1, 2)), ok(asg(3)))

    def failover_ready(self, mode: str) -> None:
        """The primary region does not answer; the standby (headless when pilot-light) does."""
        self.on("pulumi stack output", ok(outputs(mode)))
        failing_over = global_cluster(PRIMARY, "failing-over", "failing-over")
        self.on(f"aws rds describe-global-clusters@{STANDBY}", ok(global_cluster(PRIMARY)), ok(failing_over),
                ok(global_cluster(STANDBY, "modifying")))  # fmt: skip
        self.on(f"aws rds describe-db-clusters@{STANDBY}", ok(db_cluster(STANDBY, 0 if mode == "pilot-light" else 1)))
        for key in ("describe-global-clusters", "describe-db-clusters"):
            self.on(f"aws rds {key}@{PRIMARY}", fails(255, f"Could not connect to the endpoint URL: rds.{PRIMARY}"))


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


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(regions, "POLLING", regions.Polling(interval=15, timeout=60, sleep=fake.sleep, clock=fake.time))
    return fake


@pytest.fixture
def cloud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> Cloud:
    """prod as deployed (S3 backend, real values) on a machine whose `aws` and `pulumi` are the fakes."""
    bin_dir = offline_machine(tmp_path, monkeypatch)
    install(bin_dir, "aws", FAKE_CLI)
    install(bin_dir, "pulumi", FAKE_CLI)
    monkeypatch.setenv("FAKE_CLI_LOG", str(tmp_path / "calls.log"))
    monkeypatch.setenv("FAKE_CLI_ANSWERS", str(tmp_path / "answers"))
    monkeypatch.setenv("PULUMI_BACKEND_URL", S3_BACKEND)
    use_real_prod_values(monkeypatch)
    fake = Cloud(tmp_path / "answers", tmp_path / "calls.log")
    fake.on("pulumi stack output", ok({}))
    return fake


def answer(monkeypatch: pytest.MonkeyPatch, *lines: str) -> None:
    """What the operator types at the prompts."""
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(f"{line}\n" for line in lines)))


def one_error(err: str) -> str:
    assert "Traceback" not in err
    assert err.count("\n") == 1, err
    assert err.startswith("deploy: ")
    return err


def aws(region: str, *args: str) -> str:
    return " ".join(regions.aws_command(region, *args))


PACK = deploy.PROJECT_DIR / "policypack"
POLICY = f"--policy-pack {PACK} --policy-pack-config {PACK / 'prod.json'}"
SCALE_STANDBY = aws(STANDBY, "autoscaling", "update-auto-scaling-group", "--auto-scaling-group-name", ASGS[STANDBY],
                    "--min-size", "2", "--max-size", "10", "--desired-capacity", "3")  # fmt: skip
DESCRIBE_ASG = aws(STANDBY, "autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", ASGS[STANDBY])
OUTPUTS_READ = "pulumi stack output --json --show-secrets=false --stack prod"


def describe_global(region: str) -> str:
    return aws(region, "rds", "describe-global-clusters", "--global-cluster-identifier", GLOBAL)


def describe_cluster(region: str) -> str:
    return aws(region, "rds", "describe-db-clusters", "--db-cluster-identifier", IDS[region])


# switchover


def test_switchover_runs_the_documented_steps_in_order(cloud: Cloud, capsys: pytest.CaptureFixture[str]) -> None:
    cloud.switchover_ready()
    assert deploy.main(["switchover", "prod", "--yes"]) == 0
    assert cloud.calls() == [
        OUTPUTS_READ,
        describe_global(PRIMARY),
        describe_cluster(PRIMARY),
        describe_cluster(STANDBY),
        SCALE_STANDBY,
        DESCRIBE_ASG,
        DESCRIBE_ASG,
        aws(PRIMARY, "rds", "switchover-global-cluster", "--global-cluster-identifier", GLOBAL,
            "--target-db-cluster-identifier", ARNS[STANDBY]),
        describe_global(PRIMARY),
        describe_global(PRIMARY),
        "pulumi config set primaryRegion eu-central-1 --stack prod",
        "pulumi stack select prod --non-interactive",
        f"pulumi up --stack prod {POLICY} --yes",
    ]  # fmt: skip
    out = capsys.readouterr().out
    steps = [line for line in out.splitlines() if line.startswith("step ")]
    assert [line.split(":")[0] for line in steps] == [f"step {n}/6" for n in range(1, 7)]
    assert "switch the Aurora writer" in steps[2]
    assert "commit it" in out.splitlines()[-1]
    assert "Pulumi.prod.yaml" in out.splitlines()[-1]


SWITCHOVER_REFUSALS = {
    "global cluster busy": (
        lambda c: c.on(f"aws rds describe-global-clusters@{PRIMARY}", ok(global_cluster(PRIMARY, "modifying"))),
        ["global cluster fintech-prod-global is modifying in eu-west-1, not available"],
    ),
    "headless target": (
        lambda c: c.on(f"aws rds describe-db-clusters@{STANDBY}", ok(db_cluster(STANDBY, 0))),
        ["has no DB instance", "standbyMode: warm", "./deploy up prod"],
    ),
    "engine versions differ": (
        lambda c: c.on(
            f"aws rds describe-db-clusters@{STANDBY}", ok(db_cluster(STANDBY, 1, "8.0.mysql_aurora.3.09.0"))
        ),
        ["engine versions differ", "eu-west-1 8.0.mysql_aurora.3.10.1", "eu-central-1 8.0.mysql_aurora.3.09.0"],
    ),
    "standby not a member": (
        lambda c: c.on(f"aws rds describe-global-clusters@{PRIMARY}", ok(global_cluster(PRIMARY, members=(PRIMARY,)))),
        ["has no member in eu-central-1"],
    ),
    "writer already moved": (
        lambda c: c.on(f"aws rds describe-global-clusters@{PRIMARY}", ok(global_cluster(STANDBY))),
        ["eu-central-1 already holds the writer", "pulumi config set primaryRegion eu-central-1 --stack prod"],
    ),
    "global cluster unreadable": (
        lambda c: c.on(
            f"aws rds describe-global-clusters@{PRIMARY}",
            fails(254, "An error occurred (AccessDenied) when calling the DescribeGlobalClusters operation: denied"),
        ),
        ["exited 254: An error occurred (AccessDenied)", "nothing was changed"],
    ),
}


@pytest.mark.parametrize(("change", "expected"), SWITCHOVER_REFUSALS.values(), ids=SWITCHOVER_REFUSALS.keys())
def test_switchover_refuses_with_nothing_changed(
    cloud: Cloud, capsys: pytest.CaptureFixture[str], change: Any, expected: list[str]
) -> None:
    cloud.switchover_ready()
    change(cloud)
    assert deploy.main(["switchover", "prod", "--yes"]) == deploy.EXIT_SETUP
    err = one_error(capsys.readouterr().err)
    for words in expected:
        assert words in err
    assert cloud.mutations() == []


def test_switchover_lists_every_problem_at_once(cloud: Cloud, capsys: pytest.CaptureFixture[str]) -> None:
    cloud.switchover_ready()
    cloud.on(f"aws rds describe-global-clusters@{PRIMARY}", ok(global_cluster(PRIMARY, "upgrading")))
    cloud.on(f"aws rds describe-db-clusters@{STANDBY}", ok(db_cluster(STANDBY, 0, "8.0.mysql_aurora.3.09.0")))
    assert deploy.main(["switchover", "prod", "--yes"]) == deploy.EXIT_SETUP
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3
    assert all(line.startswith("deploy: ") for line in lines)
    assert ["upgrading" in lines[0], "no DB instance" in lines[1], "versions differ" in lines[2]] == [True] * 3
    assert cloud.mutations() == []


@pytest.mark.parametrize("argv", [["switchover", "dev", "--yes"], ["failover", "dev", "--yes", "--allow-data-loss"]])
def test_a_stack_without_a_standby_region_is_refused_before_anything_is_asked(
    cloud: Cloud, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    assert deploy.main(argv) == deploy.EXIT_SETUP
    err = one_error(capsys.readouterr().err)
    assert err.startswith("deploy: dev has no standbyRegion in Pulumi.dev.yaml: it runs in eu-west-1 alone")
    assert cloud.calls() == [], "neither pulumi nor aws is asked"


@pytest.mark.parametrize(
    ("argv", "verb"), [(["switchover", "dev"], "switch over"), (["failover", "dev", "--allow-data-loss"], "fail over")]
)
def test_on_a_bare_machine_a_stack_without_a_standby_region_says_that_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str], verb: str
) -> None:
    """Issue 21: `./deploy switchover dev` listed missing tools and credentials, never that dev has one region."""
    monkeypatch.setenv("PATH", str(tmp_path))  # no pulumi, no aws
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "PULUMI_CONFIG_PASSPHRASE", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    assert deploy.main(argv) == deploy.EXIT_SETUP == 2
    assert one_error(capsys.readouterr().err) == (
        f"deploy: dev has no standbyRegion in Pulumi.dev.yaml: it runs in eu-west-1 alone, so there is no other "
        f"region to {verb} to (switchover and failover apply to a stack with a standby region).\n"
    )


def test_a_stack_whose_outputs_have_no_standby_yet_is_refused(cloud: Cloud, capsys: pytest.CaptureFixture[str]) -> None:
    """standbyRegion set but never deployed: the outputs say so."""
    cloud.on("pulumi stack output", ok({"vpc_id": "vpc-0abc", "alb_dns_name": "prod-alb.example"}))
    assert deploy.main(["switchover", "prod", "--yes"]) == deploy.EXIT_SETUP
    err = one_error(capsys.readouterr().err)
    assert "prod has no standby region (its outputs have no standby_region)" in err
    assert cloud.calls() == [OUTPUTS_READ], "no aws call"


def test_unreadable_outputs_are_one_line(cloud: Cloud, capsys: pytest.CaptureFixture[str]) -> None:
    cloud.on("pulumi stack output", fails(255, "error: failed to load checkpoint: AccessDenied"))
    assert deploy.main(["switchover", "prod", "--yes"]) == deploy.EXIT_SETUP
    err = one_error(capsys.readouterr().err)
    assert "cannot read prod's outputs" in err
    assert "AccessDenied" in err
    assert cloud.calls() == [OUTPUTS_READ]


def test_a_failing_step_stops_there_with_one_line(cloud: Cloud, capsys: pytest.CaptureFixture[str]) -> None:
    cloud.switchover_ready()
    denied = "An error occurred (InvalidGlobalClusterStateFault) when calling the SwitchoverGlobalCluster operation"
    cloud.on(f"aws rds switchover-global-cluster@{PRIMARY}", fails(254, f"\n{denied}\n"))  # as the CLI prints it
    assert deploy.main(["switchover", "prod", "--yes"]) == regions.EXIT_STEP_FAILED
    err = one_error(capsys.readouterr().err)
    assert err.startswith("deploy: step 3/6 failed: `aws rds switchover-global-cluster")
    assert f"exited 254: {denied}" in err
    assert "The writer has not moved" in err
    # `up` never resizes a group (compute.py ignores its size): the exact command to scale it back.
    assert (
        "scale it back with `aws autoscaling update-auto-scaling-group "
        "--auto-scaling-group-name fintech-prod-standby-app "
        "--min-size 1 --desired-capacity 1 --region eu-central-1 --output json`" in err
    )
    assert cloud.calls()[-1].startswith("aws rds switchover-global-cluster"), "nothing after the failing step"


def test_a_failing_up_names_what_is_done(cloud: Cloud, capsys: pytest.CaptureFixture[str]) -> None:
    cloud.switchover_ready()
    cloud.on("pulumi up", fails(255, "error: update failed"))
    assert deploy.main(["switchover", "prod", "--yes"]) == regions.EXIT_STEP_FAILED
    err = one_error(capsys.readouterr().err)
    assert err.startswith("deploy: step 6/6 failed: `./deploy up prod` exited 255")
    assert "eu-central-1 holds the writer and Pulumi.prod.yaml says so" in err


def test_waiting_for_instances_times_out_cleanly(
    cloud: Cloud, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    cloud.switchover_ready()
    cloud.on(f"aws autoscaling describe-auto-scaling-groups@{STANDBY}", ok(asg(1, 2)))
    assert deploy.main(["switchover", "prod", "--yes"]) == regions.EXIT_STEP_FAILED
    err = one_error(capsys.readouterr().err)
    assert err.startswith("deploy: step 2/6 failed: timed out after 1 min waiting for 3 InService instances")
    assert "last seen: fintech-prod-standby-app: 1/3 instances InService" in err
    assert "The writer has not moved" in err
    assert cloud.calls().count(DESCRIBE_ASG) == 60 / 15 + 1, "every 15 s for a minute"
    assert "switchover-global-cluster" not in " ".join(cloud.calls())


def test_waiting_for_the_writer_times_out_cleanly(cloud: Cloud, capsys: pytest.CaptureFixture[str]) -> None:
    cloud.switchover_ready()
    cloud.on(f"aws rds describe-global-clusters@{PRIMARY}", ok(global_cluster(PRIMARY)),
             ok(global_cluster(PRIMARY, "switching-over")))  # fmt: skip
    assert deploy.main(["switchover", "prod", "--yes"]) == regions.EXIT_STEP_FAILED
    err = one_error(capsys.readouterr().err)
    assert err.startswith("deploy: step 4/6 failed: timed out after 1 min waiting for eu-central-1 to hold the writer")
    assert "pulumi config set primaryRegion eu-central-1 --stack prod" in err
    assert not any(call.startswith(("pulumi config", "pulumi up")) for call in cloud.calls())


# confirmation


def test_nothing_happens_unless_the_operator_says_yes(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cloud.switchover_ready()
    answer(monkeypatch, "y")
    assert deploy.main(["switchover", "prod"]) == deploy.EXIT_SETUP
    captured = capsys.readouterr()
    assert "  6. ./deploy up prod" in captured.out, "the plan is shown before the question"
    assert "Type yes to go ahead" in captured.out
    assert one_error(captured.err) == "deploy: stopped at the confirmation: nothing was changed.\n"
    assert cloud.mutations() == []


def test_yes_at_the_prompt_goes_ahead_and_up_asks_again(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    cloud.switchover_ready()
    answer(monkeypatch, "yes")
    assert deploy.main(["switchover", "prod"]) == 0
    assert cloud.calls()[-1] == f"pulumi up --stack prod {POLICY}", "without --yes, pulumi shows its diff and asks"


def test_no_terminal_and_no_yes_is_refused(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cloud.failover_ready("warm")
    answer(monkeypatch)
    assert deploy.main(["failover", "prod", "--allow-data-loss"]) == deploy.EXIT_SETUP
    assert "pass --yes" in one_error(capsys.readouterr().err)
    assert cloud.mutations() == []


# failover


def test_failover_refuses_without_allow_data_loss(cloud: Cloud, capsys: pytest.CaptureFixture[str]) -> None:
    cloud.failover_ready("warm")
    assert deploy.main(["failover", "prod", "--yes"]) == deploy.EXIT_SETUP
    err = one_error(capsys.readouterr().err)
    assert err.startswith("deploy: Refusing to fail over without --allow-data-loss")
    for words in ("are lost", "RPO lag", "AuroraGlobalDBRPOLag", "./deploy switchover prod"):
        assert words in err
    assert cloud.calls() == [], "not even the outputs are read"


def test_allow_data_loss_belongs_to_failover(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        deploy.main(["switchover", "prod", "--allow-data-loss"])
    assert exit_.value.code == deploy.EXIT_SETUP
    assert "--allow-data-loss goes with failover only" in capsys.readouterr().err


def test_pilot_light_failover_creates_a_writer_first_and_never_runs_up(
    cloud: Cloud, capsys: pytest.CaptureFixture[str]
) -> None:
    cloud.failover_ready("pilot-light")
    assert deploy.main(["failover", "prod", "--allow-data-loss", "--yes"]) == 0
    assert cloud.calls() == [
        OUTPUTS_READ,
        describe_global(STANDBY),
        describe_cluster(STANDBY),
        aws(STANDBY, "rds", "create-db-instance", "--db-instance-identifier", TEMPORARY,
            "--db-cluster-identifier", IDS[STANDBY], "--db-instance-class", "db.r6g.large", "--engine", "aurora-mysql",
            "--no-publicly-accessible"),
        aws(STANDBY, "rds", "wait", "db-instance-available", "--db-instance-identifier", TEMPORARY),
        aws(STANDBY, "rds", "failover-global-cluster", "--global-cluster-identifier", GLOBAL,
            "--target-db-cluster-identifier", ARNS[STANDBY], "--allow-data-loss"),
        describe_global(STANDBY),
        describe_global(STANDBY),
        SCALE_STANDBY,
        "pulumi config set primaryRegion eu-central-1 --stack prod",
    ]  # fmt: skip
    out = capsys.readouterr().out
    assert [line.split(":")[0] for line in out.splitlines() if line.startswith("step ")] == [
        f"step {n}/5" for n in range(1, 6)
    ]
    follow_up = out[out.index("next:") :]
    for words in (
        "1. done: `pulumi config set primaryRegion eu-central-1 --stack prod`",
        "2. commit Pulumi.prod.yaml (primaryRegion: eu-central-1)",
        "3. leave `./deploy up prod` until eu-west-1 answers again",
        "rejoins the old primary as a secondary",
        f"4. once that up has created the managed DB instance in eu-central-1, delete the temporary one: "
        f"`aws rds delete-db-instance --db-instance-identifier {TEMPORARY} --region eu-central-1 --output json`",
    ):
        assert words in follow_up
    assert "hc-standby" in out, "how to see whether Route 53 sends the traffic"


def test_warm_failover_promotes_the_running_instance(cloud: Cloud, capsys: pytest.CaptureFixture[str]) -> None:
    cloud.failover_ready("warm")
    assert deploy.main(["failover", "prod", "--allow-data-loss", "--yes"]) == 0
    calls = cloud.calls()
    assert not any("create-db-instance" in call or " wait " in call for call in calls)
    assert calls[3].startswith("aws rds failover-global-cluster")
    assert "delete-db-instance" not in capsys.readouterr().out


@pytest.mark.parametrize("mode", ["pilot-light", "warm"])
def test_failover_asks_only_the_target_region(cloud: Cloud, mode: str) -> None:
    cloud.failover_ready(mode)
    assert deploy.main(["failover", "prod", "--allow-data-loss", "--yes"]) == 0
    aws_calls = [call for call in cloud.calls() if call.startswith("aws ")]
    assert aws_calls
    assert all(call.endswith(f"--region {STANDBY} --output json") for call in aws_calls)
    assert not any(call.startswith(("pulumi up", "pulumi stack select")) for call in cloud.calls())


def test_recording_the_new_primary_is_offered(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cloud.failover_ready("warm")
    answer(monkeypatch, "yes", "no")
    assert deploy.main(["failover", "prod", "--allow-data-loss"]) == 0
    out = capsys.readouterr().out
    assert "Run `pulumi config set primaryRegion eu-central-1 --stack prod` now?" in out
    assert "1. run `pulumi config set primaryRegion eu-central-1 --stack prod`" in out
    assert not any(call.startswith("pulumi config") for call in cloud.calls())
    assert cloud.calls()[-1] == SCALE_STANDBY


FAILOVER_REFUSALS = {
    "target already the writer": (
        lambda c: c.on(f"aws rds describe-global-clusters@{STANDBY}", ok(global_cluster(STANDBY))),
        "eu-central-1 already holds the writer",
    ),
    "another move underway": (
        lambda c: c.on(
            f"aws rds describe-global-clusters@{STANDBY}", ok(global_cluster(PRIMARY, "failing-over", "pending"))
        ),
        "is already pending",
    ),
    "standby region unreachable too": (
        lambda c: c.on(
            f"aws rds describe-global-clusters@{STANDBY}", fails(255, "Could not connect to the endpoint URL")
        ),
        "exited 255: Could not connect",
    ),
}


@pytest.mark.parametrize(("change", "expected"), FAILOVER_REFUSALS.values(), ids=FAILOVER_REFUSALS.keys())
def test_failover_refuses_with_nothing_changed(
    cloud: Cloud, capsys: pytest.CaptureFixture[str], change: Any, expected: str
) -> None:
    cloud.failover_ready("pilot-light")
    change(cloud)
    assert deploy.main(["failover", "prod", "--allow-data-loss", "--yes"]) == deploy.EXIT_SETUP
    assert expected in one_error(capsys.readouterr().err)
    assert cloud.mutations() == []


def test_a_failed_failover_call_leaves_the_app_alone(cloud: Cloud, capsys: pytest.CaptureFixture[str]) -> None:
    cloud.failover_ready("warm")
    cloud.on(f"aws rds failover-global-cluster@{STANDBY}", fails(254, "An error occurred (GlobalClusterNotFoundFault)"))
    assert deploy.main(["failover", "prod", "--allow-data-loss", "--yes"]) == regions.EXIT_STEP_FAILED
    err = one_error(capsys.readouterr().err)
    assert err.startswith("deploy: step 1/3 failed: `aws rds failover-global-cluster")
    assert "The writer has not moved" in err
    assert cloud.calls()[-1].startswith("aws rds failover-global-cluster")


# the machine


def test_no_aws_cli_is_one_more_setup_line(cloud: Cloud, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bin" / "aws").unlink()
    assert deploy.main(["switchover", "prod", "--yes"]) == deploy.EXIT_SETUP
    assert one_error(capsys.readouterr().err).startswith("deploy: The AWS CLI is not on PATH")
    assert cloud.calls() == []


def test_usage_documents_the_moves_and_their_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        deploy.main(["--help"])
    usage = " ".join(capsys.readouterr().out.split())
    for words in (
        "./deploy switchover prod",
        "./deploy failover prod --allow-data-loss",
        "2 the machine, the stack file or the request is not ready, a switchover or failover precondition fails",
        "(first of all: the stack has a standbyRegion)",
        "3 a switchover or failover step failed or timed out after changes began",
        "130 interrupted",
    ):
        assert words in usage
    assert (deploy.EXIT_SETUP, regions.EXIT_STEP_FAILED, regions.EXIT_INTERRUPTED) == (2, 3, 130)
    wrapper = (deploy.PROJECT_DIR / "deploy").read_text().splitlines()[1]
    assert "switchover|failover" in wrapper
    assert "--allow-data-loss" in wrapper


def test_temporary_instance_identifiers_fit_rds_limits() -> None:
    """CreateDBInstance: 1 to 63 letters, digits or hyphens, no trailing hyphen or two in a row."""
    assert regions.temporary_instance_id("fintech-prod-standby-aurora") == TEMPORARY
    long = regions.temporary_instance_id("a" * 53 + "-" + "b" * 20)
    assert len(long) <= 63
    assert long.endswith("a-failover")
    assert "--" not in long


def test_ctrl_c_during_a_wait_is_one_line(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(regions, "POLLING", regions.Polling(interval=15, timeout=60, sleep=interrupted))
    cloud.switchover_ready()
    assert deploy.main(["switchover", "prod", "--yes"]) == regions.EXIT_INTERRUPTED
    err = one_error(capsys.readouterr().err)
    assert err.startswith("deploy: interrupted during step 2/6. The writer has not moved")
    assert "switchover-global-cluster" not in " ".join(cloud.calls())


MALFORMED = {
    "a third region": {"db_cluster_arns": {**ARNS, "us-east-1": "arn:aws:rds:us-east-1:1:cluster:x"}},
    "primary not a site": {"primary_region": "us-east-1"},
    "maps as strings": {"asg_names": "fintech-prod-app"},
    "no app group in the target": {"asg_names": {PRIMARY: ASGS[PRIMARY]}},
    "capacity without desired": {"app_capacity": {"min": 2, "max": 10}},
    "some outputs missing": {"global_cluster_id": "", "db_instance_class": None},
}


@pytest.mark.parametrize("change", MALFORMED.values(), ids=MALFORMED.keys())
def test_outputs_that_do_not_describe_two_sites_are_refused(change: dict[str, Any]) -> None:
    with pytest.raises(regions.RefusedError, match=r"^prod's .*\./deploy up prod"):
        regions.standby_from_outputs("prod", {**outputs(), **change})
