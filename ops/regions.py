"""Move a stack's database writer and traffic to its other region: switchover and failover.

    ./deploy switchover prod                    # planned, both regions up: no data loss
    ./deploy failover prod --allow-data-loss    # the primary region is lost: unreplicated writes are lost

A stack with ``standbyRegion`` runs two sites; ``primaryRegion`` names the one that holds the Aurora writer
and takes the traffic, the other one is the target of these commands. Both read the stack's outputs
(``pulumi stack output``), check the regions with the ``aws`` CLI, print the plan and ask (unless
``--yes``), then run numbered steps, each printed before it runs. The first failure stops them with one
line that says what is done and what to do next.

switchover refuses (nothing changed) unless the global cluster is ``available`` with both clusters as
members and the writer in primary_region, the target cluster has a DB instance (a pilot-light one has
none: set ``standbyMode: warm`` and ``./deploy up`` first) and both run the same engine version. Steps:
scale the target's app to the active capacity and wait for it, switch the writer over, wait for it,
``pulumi config set primaryRegion <target>``, ``./deploy up``: Route 53 roles and capacities follow the
writer without replacing either cluster.

failover asks only the target region (the primary may not answer). A pilot-light target first gets a
temporary DB instance; then the failover with data loss allowed, a wait for the new writer, the target's
app scaled up. It never runs ``up`` (that would have to reach the lost region) and prints what follows:
record primaryRegion (offered), commit it, ``./deploy up`` once the old region is back, and delete the
temporary instance after that ``up`` created the managed one.

AWS CLI facts used (every flag checked against ``aws <command> help``, aws-cli 1.45 / botocore 1.43):
- ``rds switchover-global-cluster --global-cluster-identifier --target-db-cluster-identifier <ARN>``:
  "without losing any data. Your database is unavailable for a short time" (docs.aws.amazon.com/cli/latest/
  reference/rds/switchover-global-cluster.html); "Run this command in the Region that hosts the current
  primary cluster" (aws/aws-cli awscli/examples/rds/switchover-global-cluster.rst).
- ``rds failover-global-cluster ... --allow-data-loss``: "Failing over - Specify the AllowDataLoss parameter
  and don't specify the Switchover parameter" (.../reference/rds/failover-global-cluster.html); "Run this
  command in the Region that hosts the secondary cluster that you're promoting" (examples/rds/
  failover-global-cluster.rst). Both take the target as an ARN "so that Aurora can locate the cluster in
  its Amazon Web Services Region" (SwitchoverGlobalCluster API).
- ``rds describe-global-clusters``: ``GlobalClusters[].Status`` ("available"), ``GlobalClusterMembers[]``
  ``.DBClusterArn``/``.IsWriter`` (API GlobalClusterMember); ``FailoverState`` "is empty unless a switchover
  or failover operation is scheduled or is in progress" (API FailoverState).
- ``rds describe-db-clusters``: ``DBClusters[].DBClusterMembers[]`` (its instances), ``EngineVersion``,
  ``Engine`` (examples/rds/describe-db-clusters.rst).
- ``rds create-db-instance --db-instance-identifier --db-cluster-identifier --db-instance-class --engine``
  (``aurora-mysql``); identifiers are 1-63 letters, digits or hyphens, start with a letter, no trailing or
  double hyphen (CreateDBInstance). ``--no-publicly-accessible``: without it "If the subnets are part of a
  VPC that has an internet gateway attached to it, the DB instance is public" (CreateDBInstance
  PubliclyAccessible), and the stack's VPCs have one for the load balancers.
- ``rds wait db-instance-available`` "will poll every 30 seconds ... exit with a return code of 255 after 60
  failed checks" (.../reference/rds/wait/db-instance-available.html).
- ``rds delete-db-instance --db-instance-identifier``: all the provider sends for an Aurora cluster
  instance (terraform-provider-aws internal/service/rds/cluster_instance.go, resourceClusterInstanceDelete).
- ``autoscaling update-auto-scaling-group --auto-scaling-group-name --min-size --max-size
  --desired-capacity`` "returns to the prompt if successful" (examples/autoscaling/
  update-auto-scaling-group.rst); ``describe-auto-scaling-groups --auto-scaling-group-names``:
  ``AutoScalingGroups[].Instances[].LifecycleState`` ``InService``.
- ``route53 get-health-check-status --health-check-id``: Route 53's one endpoint signs in us-east-1
  (botocore endpoints.json, route53 ``aws-global`` credentialScope).
- ``pulumi stack output --json --show-secrets``; ``pulumi config set <key> [value] --stack``: values live in
  ``Pulumi.<stack>.yaml``, which "should be committed" (pulumi.com/docs/iac/concepts/config).
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

MOVES = ("switchover", "failover")
EXIT_STEP_FAILED = 3  # a step failed or timed out once changes had begun
EXIT_INTERRUPTED = 130  # Ctrl-C during a step
# What the stack exports when it has a standby region (__main__.py); origin_name, origin_health_check_ids
# and standby_mode only make the messages more precise.
STANDBY_OUTPUTS = (
    "primary_region",
    "standby_region",
    "global_cluster_id",
    "db_cluster_arns",
    "db_cluster_ids",
    "asg_names",
    "app_capacity",
    "db_instance_class",
)
TEMPORARY_SUFFIX = "-failover"
MAX_INSTANCE_ID = 63  # CreateDBInstance DBInstanceIdentifier
ROUTE53_REGION = "us-east-1"  # Route 53 is global; its endpoint signs in us-east-1
T = TypeVar("T")


class RefusedError(Exception):
    """Nothing was changed; one line per problem."""


class StepError(Exception):
    """A step failed after changes began; the message says what is done and what to do next."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class CommandError(Exception):
    def __init__(self, command: Sequence[str], code: int, reason: str) -> None:
        super().__init__(f"`{shlex.join(command)}` exited {code}: {reason or 'no message'}")


class WaitTimeoutError(Exception):
    pass


def one_line(text: str) -> str:
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def aws_command(region: str, *args: str) -> list[str]:
    """Every call names its region and asks for JSON: nothing depends on the caller's AWS profile."""
    return ["aws", *args, "--region", region, "--output", "json"]


def shown(region: str, *args: str) -> str:
    return shlex.join(aws_command(region, *args))


def find_aws(env: Mapping[str, str]) -> str | None:
    return shutil.which("aws", path=env.get("PATH"))


def check_aws_cli(aws: str | None) -> str | None:
    if aws is None:
        return (
            "The AWS CLI is not on PATH: switchover and failover call it. Install it "
            "(https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html) and run this again."
        )
    return None


def require_standby_region(action: str, stack: str, config: Mapping[str, str], project: str) -> None:
    """Before anything else: a stack without ``standbyRegion`` has no other site to move to."""
    if not config.get(f"{project}:standbyRegion"):
        region, verb = config.get("aws:region") or "one region", {"switchover": "switch over"}.get(action, "fail over")
        raise RefusedError(
            f"{stack} has no standbyRegion in Pulumi.{stack}.yaml: it runs in {region} alone, so there is no "
            f"other region to {verb} to (switchover and failover apply to a stack with a standby region)."
        )


def require_data_loss_ack(stack: str, allow_data_loss: bool) -> None:
    if not allow_data_loss:
        raise RefusedError(
            "Refusing to fail over without --allow-data-loss: the writes the primary accepted after its last "
            "replication to the standby are lost. Check the RPO lag first (CloudWatch AWS/RDS "
            "AuroraGlobalDBRPOLag of the standby cluster, in the standby region), and whether the primary "
            f"answers at all (then `./deploy switchover {stack}` loses nothing); then run "
            f"`./deploy failover {stack} --allow-data-loss`."
        )


def temporary_instance_id(cluster_id: str) -> str:
    """The stand-in writer of a pilot-light cluster: the cluster's identifier, cut to fit, plus a suffix."""
    return cluster_id[: MAX_INSTANCE_ID - len(TEMPORARY_SUFFIX)].rstrip("-") + TEMPORARY_SUFFIX


@dataclass(frozen=True)
class Polling:
    """How often and how long to wait for AWS to reach a state (tests pass a fake clock)."""

    interval: float = 15.0
    timeout: float = 30 * 60.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    def until(self, what: str, pending: Callable[[], str | None]) -> None:
        """Ask ``pending`` until it answers None (done); it otherwise describes the state, printed on change."""
        deadline = self.clock() + self.timeout
        last = None
        while (state := pending()) is not None:
            if state != last:
                print(f"  {state}", flush=True)
                last = state
            if self.clock() >= deadline:
                raise WaitTimeoutError(
                    f"timed out after {self.timeout / 60:g} min waiting for {what} (last seen: {state})"
                )
            self.sleep(self.interval)


POLLING = Polling()


@dataclass(frozen=True)
class Clis:
    """The two command-line tools, the environment they run in and the project directory."""

    pulumi: str
    aws: str
    env: Mapping[str, str]
    cwd: Path

    def aws_json(self, region: str, *args: str, echo: bool = False) -> dict[str, Any]:
        command = aws_command(region, *args)
        if echo:
            print(f"  $ {shlex.join(command)}", flush=True)
        stdout = self._run(self.aws, command)
        try:
            return dict(json.loads(stdout)) if stdout.strip() else {}
        except ValueError:
            raise CommandError(command, 0, f"printed no JSON: {one_line(stdout)[:200]}") from None

    def pulumi_text(self, *args: str) -> str:
        return self._run(self.pulumi, ["pulumi", *args])

    def _run(self, executable: str, command: list[str]) -> str:
        done = subprocess.run(
            [executable, *command[1:]], cwd=self.cwd, env=dict(self.env), capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise CommandError(command, done.returncode, one_line(done.stderr))
        return done.stdout


@dataclass(frozen=True)
class Capacity:
    min_size: int
    max_size: int
    desired: int

    def args(self) -> list[str]:
        return [
            "--min-size",
            str(self.min_size),
            "--max-size",
            str(self.max_size),
            "--desired-capacity",
            str(self.desired),
        ]

    def __str__(self) -> str:
        return f"min {self.min_size}, max {self.max_size}, desired {self.desired}"


@dataclass(frozen=True)
class Standby:
    """A stack's two sites as its outputs describe them: ``source`` holds the writer, ``target`` is the other."""

    stack: str
    source: str
    target: str
    mode: str
    global_cluster_id: str
    cluster_arns: Mapping[str, str]
    cluster_ids: Mapping[str, str]
    asg_names: Mapping[str, str]
    capacity: Capacity
    instance_class: str
    origin_name: str
    health_check_ids: Mapping[str, str]

    def scale_args(self) -> list[str]:
        return [
            "autoscaling",
            "update-auto-scaling-group",
            "--auto-scaling-group-name",
            self.asg_names[self.target],
            *self.capacity.args(),
        ]

    def watch_global_cluster(self, region: str) -> str:
        return shown(region, "rds", "describe-global-clusters", "--global-cluster-identifier", self.global_cluster_id)

    @property
    def config_command(self) -> list[str]:
        return ["pulumi", "config", "set", "primaryRegion", self.target, "--stack", self.stack]


@dataclass(frozen=True)
class Step:
    title: str
    action: Callable[[], object]
    if_failed: str  # what is done and what to do next, should this step fail


def standby_from_outputs(stack: str, outputs: Mapping[str, Any]) -> Standby:
    """The two sites, or a refusal naming what the outputs lack."""
    if not outputs.get("standby_region"):
        raise RefusedError(
            f"{stack} has no standby region (its outputs have no standby_region): set standbyRegion in "
            f"Pulumi.{stack}.yaml and run `./deploy up {stack}` first."
        )
    missing = [key for key in STANDBY_OUTPUTS if not outputs.get(key)]
    if missing:
        raise RefusedError(
            f"{stack}'s outputs lack {', '.join(missing)}: run `./deploy up {stack}` to export them first."
        )
    source, per_site = str(outputs["primary_region"]), ("db_cluster_arns", "db_cluster_ids", "asg_names")
    arns = outputs["db_cluster_arns"] if all(isinstance(outputs[key], dict) for key in per_site) else {}
    others = sorted(region for region in arns if region != source)
    if source not in arns or len(others) != 1 or any({source, *others} - set(outputs[key]) for key in per_site):
        raise RefusedError(
            f"{stack}'s outputs do not map two regions, primary_region {source} one of them, to clusters and "
            f"app groups (db_cluster_arns: {outputs['db_cluster_arns']}): run `./deploy up {stack}` first."
        )
    try:
        size = outputs["app_capacity"]
        capacity = Capacity(int(size["min"]), int(size["max"]), int(size["desired"]))
    except (KeyError, TypeError, ValueError):
        raise RefusedError(
            f"{stack}'s app_capacity output is not {{min, max, desired}} ({outputs['app_capacity']}): run "
            f"`./deploy up {stack}` first."
        ) from None
    return Standby(
        stack=stack,
        source=source,
        target=others[0],
        mode=str(outputs.get("standby_mode") or "unknown mode"),
        global_cluster_id=str(outputs["global_cluster_id"]),
        cluster_arns=dict(arns),
        cluster_ids=dict(outputs["db_cluster_ids"]),
        asg_names=dict(outputs["asg_names"]),
        capacity=capacity,
        instance_class=str(outputs["db_instance_class"]),
        origin_name=str(outputs.get("origin_name") or "the origin name"),
        health_check_ids=dict(outputs.get("origin_health_check_ids") or {}),
    )


def read_standby(stack: str, clis: Clis) -> Standby:
    command = ["stack", "output", "--json", "--show-secrets=false", "--stack", stack]
    try:
        outputs = json.loads(clis.pulumi_text(*command))
    except CommandError as exc:
        raise RefusedError(f"cannot read {stack}'s outputs: {exc}") from None
    except ValueError:
        outputs = None
    if not isinstance(outputs, dict):
        raise RefusedError(f"cannot read {stack}'s outputs: `pulumi {shlex.join(command)}` printed no JSON object")
    return standby_from_outputs(stack, outputs)


def global_cluster(clis: Clis, region: str, global_cluster_id: str) -> dict[str, Any]:
    answer = clis.aws_json(region, "rds", "describe-global-clusters", "--global-cluster-identifier", global_cluster_id)
    return dict((answer.get("GlobalClusters") or [{}])[0])


def members(cluster: Mapping[str, Any]) -> dict[str, bool]:
    """Member cluster ARN -> whether it holds the writer."""
    return {str(m.get("DBClusterArn")): bool(m.get("IsWriter")) for m in cluster.get("GlobalClusterMembers") or []}


def db_cluster(clis: Clis, region: str, cluster_id: str) -> dict[str, Any]:
    answer = clis.aws_json(region, "rds", "describe-db-clusters", "--db-cluster-identifier", cluster_id)
    return dict((answer.get("DBClusters") or [{}])[0])


def switchover_problems(s: Standby, clis: Clis) -> list[str]:
    """Why a planned switchover cannot start (asked in both regions); empty when it can."""
    found = global_cluster(clis, s.source, s.global_cluster_id)
    problems = []
    if found.get("Status") != "available":
        problems.append(
            f"global cluster {s.global_cluster_id} is {found.get('Status') or 'not found'} in {s.source}, not "
            f"available: wait until it is (`{s.watch_global_cluster(s.source)}`), nothing was changed."
        )
    roles = members(found)
    absent = [region for region in (s.source, s.target) if s.cluster_arns[region] not in roles]
    if found and absent:
        problems.append(
            f"global cluster {s.global_cluster_id} has no member in {' and '.join(absent)} "
            f"({', '.join(s.cluster_arns[r] for r in absent)}): run `./deploy up {s.stack}` to rejoin it first."
        )
    writers = [arn for arn, writer in roles.items() if writer]
    if writers == [s.cluster_arns[s.target]]:
        problems.append(
            f"{s.target} already holds the writer of {s.global_cluster_id}: record it with "
            f"`{shlex.join(s.config_command)}` and run `./deploy up {s.stack}`."
        )
    elif roles and writers != [s.cluster_arns[s.source]]:
        problems.append(
            f"the writer of {s.global_cluster_id} is {', '.join(writers) or 'nowhere'}, not {s.source} as "
            f"primary_region says: check `{s.watch_global_cluster(s.source)}`."
        )
    source = db_cluster(clis, s.source, s.cluster_ids[s.source])
    target = db_cluster(clis, s.target, s.cluster_ids[s.target])
    if not target.get("DBClusterMembers"):
        problems.append(
            f"{s.target}'s cluster {s.cluster_ids[s.target]} has no DB instance ({s.mode}), and a headless "
            f"cluster cannot take the writer: set standbyMode: warm in Pulumi.{s.stack}.yaml, run "
            f"`./deploy up {s.stack}`, then switch over."
        )
    versions = {s.source: source.get("EngineVersion"), s.target: target.get("EngineVersion")}
    if versions[s.source] != versions[s.target]:
        problems.append(
            f"engine versions differ ({', '.join(f'{r} {v}' for r, v in versions.items())}): finish the "
            "upgrade (the standby first) before switching over."
        )
    return problems


def failover_problems(s: Standby, clis: Clis) -> tuple[dict[str, Any], list[str]]:
    """The target cluster and why a failover cannot start, asking the target region only."""
    found = global_cluster(clis, s.target, s.global_cluster_id)
    roles, arn = members(found), s.cluster_arns[s.target]
    problems = []
    if arn not in roles:
        problems.append(
            f"{s.target}'s cluster {arn} is not a member of global cluster {s.global_cluster_id} as seen from "
            f"{s.target}: there is nothing to fail over to (`{s.watch_global_cluster(s.target)}`)."
        )
    elif roles[arn]:
        problems.append(
            f"{s.target} already holds the writer of {s.global_cluster_id}: nothing to fail over. Record it "
            f"with `{shlex.join(s.config_command)}`."
        )
    underway = (found.get("FailoverState") or {}).get("Status")
    if underway:
        problems.append(
            f"a switchover or failover of {s.global_cluster_id} is already {underway}: wait for it "
            f"(`{s.watch_global_cluster(s.target)}`)."
        )
    target = db_cluster(clis, s.target, s.cluster_ids[s.target])
    if not target:
        problems.append(f"{s.target} has no cluster {s.cluster_ids[s.target]}: there is nothing to fail over to.")
    return target, problems


def reading(check: Callable[[], T]) -> T:
    """A precondition check: a read that fails refuses, nothing having been changed."""
    try:
        return check()
    except CommandError as exc:
        raise RefusedError(f"{exc}; nothing was changed.") from None


def refuse(problems: Sequence[str]) -> None:
    if problems:
        raise RefusedError("\n".join(problems))


def confirm(headline: str, steps: Sequence[Step], *, yes: bool) -> None:
    print(headline)
    for number, step in enumerate(steps, 1):
        print(f"  {number}. {step.title}")
    if yes:
        return
    try:
        answer = input("Type yes to go ahead: ")
    except EOFError:
        raise RefusedError(
            "no answer to the confirmation (no terminal): pass --yes to go ahead without asking."
        ) from None
    if answer.strip().lower() != "yes":
        raise RefusedError("stopped at the confirmation: nothing was changed.")


def run_steps(steps: Sequence[Step]) -> None:
    total = len(steps)
    for number, step in enumerate(steps, 1):
        print(f"step {number}/{total}: {step.title}", flush=True)
        try:
            step.action()
        except (CommandError, WaitTimeoutError) as exc:
            raise StepError(EXIT_STEP_FAILED, f"step {number}/{total} failed: {exc}. {step.if_failed}") from None
        except KeyboardInterrupt:
            raise StepError(EXIT_INTERRUPTED, f"interrupted during step {number}/{total}. {step.if_failed}") from None


def wait_in_service(s: Standby, clis: Clis, polling: Polling) -> None:
    asg, wanted = s.asg_names[s.target], s.capacity.desired

    def pending() -> str | None:
        answer = clis.aws_json(
            s.target, "autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", asg
        )
        instances = (answer.get("AutoScalingGroups") or [{}])[0].get("Instances") or []
        ready = sum(1 for instance in instances if instance.get("LifecycleState") == "InService")
        return None if ready >= wanted else f"{asg}: {ready}/{wanted} instances InService"

    polling.until(f"{wanted} InService instances in {asg}", pending)


def wait_for_writer(s: Standby, clis: Clis, polling: Polling, *, region: str, available: bool) -> None:
    """Until the target cluster holds the writer (and, for a switchover, the global cluster is available)."""
    arn = s.cluster_arns[s.target]

    def pending() -> str | None:
        found = global_cluster(clis, region, s.global_cluster_id)
        writer, status = members(found).get(arn, False), found.get("Status")
        if writer and (status == "available" or not available):
            return None
        return f"{s.global_cluster_id}: {status}, writer {'in' if writer else 'not yet in'} {s.target}"

    polling.until(f"{s.target} to hold the writer", pending)


def run_up(up: Callable[[], int], stack: str) -> None:
    code = up()
    if code != 0:
        raise CommandError(["./deploy", "up", stack], code, "see its output above")


def switchover(stack: str, clis: Clis, *, up: Callable[[], int], yes: bool, polling: Polling) -> None:
    """Planned move of the writer and the traffic to the other site; ``up`` runs ``./deploy up <stack>``."""
    s = read_standby(stack, clis)
    refuse(reading(lambda: switchover_problems(s, clis)))
    asg, arn = s.asg_names[s.target], s.cluster_arns[s.target]
    # `pulumi up` leaves an Auto Scaling group's size alone (compute.py ignores it): say the command.
    idle = "1" if s.mode == "warm" else "0"
    scale_back = (
        "scale it back with `"
        + shown(
            s.target,
            "autoscaling",
            "update-auto-scaling-group",
            "--auto-scaling-group-name",
            asg,
            "--min-size",
            idle,
            "--desired-capacity",
            idle,
        )
        + "`"
    )
    record = shlex.join(s.config_command)
    steps = [
        Step(
            f"scale {asg} in {s.target} to {s.capacity}",
            lambda: clis.aws_json(s.target, *s.scale_args(), echo=True),
            "Nothing was changed: fix the cause and run the switchover again.",
        ),
        Step(
            f"wait until {s.capacity.desired} instances of {asg} are InService",
            lambda: wait_in_service(s, clis, polling),
            f"The writer has not moved; {asg} is scaled up but not serving: see why (`aws autoscaling "
            f"describe-scaling-activities --auto-scaling-group-name {asg} --region {s.target} --output json`), "
            f"then switch over again, or {scale_back}.",
        ),
        Step(
            f"switch the Aurora writer of {s.global_cluster_id} from {s.source} to {s.target} (no data loss; the "
            "database is unavailable for a short time)",
            lambda: clis.aws_json(
                s.source,
                "rds",
                "switchover-global-cluster",
                "--global-cluster-identifier",
                s.global_cluster_id,
                "--target-db-cluster-identifier",
                arn,
                echo=True,
            ),
            f"The writer has not moved; {asg} is scaled up: fix the cause and switch over again, or {scale_back}.",
        ),
        Step(
            f"wait until {s.target} holds the writer and {s.global_cluster_id} is available",
            lambda: wait_for_writer(s, clis, polling, region=s.source, available=True),
            f"The switchover was requested and has not finished: watch it (`{s.watch_global_cluster(s.source)}`); "
            f"once {s.target} holds the writer, run `{record}` and `./deploy up {stack}`; if it was cancelled, "
            f"{scale_back}.",
        ),
        Step(
            f"record it: `{record}` (edits Pulumi.{stack}.yaml)",
            lambda: clis.pulumi_text(*s.config_command[1:]),
            f"{s.target} holds the writer now: run `{record}` and `./deploy up {stack}`, and commit "
            f"Pulumi.{stack}.yaml.",
        ),
        Step(
            f"./deploy up {stack}: Route 53 roles and app capacities follow the writer (no database is replaced)",
            lambda: run_up(up, stack),
            f"{s.target} holds the writer and Pulumi.{stack}.yaml says so: fix what Pulumi reported, run "
            f"`./deploy up {stack}` and commit Pulumi.{stack}.yaml.",
        ),
    ]
    confirm(f"switchover {stack}: {s.source} -> {s.target}, planned, no data loss", steps, yes=yes)
    run_steps(steps)
    print(
        f"done: {s.target} holds {stack}'s writer and takes its traffic. Pulumi.{stack}.yaml now says "
        f"primaryRegion: {s.target}: commit it."
    )


def failover(stack: str, clis: Clis, *, yes: bool, polling: Polling) -> None:
    """Unplanned: promote the other site while the primary's region is lost, asking only the target region."""
    s = read_standby(stack, clis)
    target, problems = reading(lambda: failover_problems(s, clis))
    refuse(problems)
    cluster_id, arn, asg = s.cluster_ids[s.target], s.cluster_arns[s.target], s.asg_names[s.target]
    temporary = None if target.get("DBClusterMembers") else temporary_instance_id(cluster_id)
    scale, record = shown(s.target, *s.scale_args()), shlex.join(s.config_command)
    steps = []
    if temporary:
        steps += [
            Step(
                f"create a temporary DB instance {temporary} ({s.instance_class}) in {cluster_id}: pilot-light, "
                "it has none to take the writer",
                lambda: clis.aws_json(
                    s.target,
                    "rds",
                    "create-db-instance",
                    "--db-instance-identifier",
                    temporary,
                    "--db-cluster-identifier",
                    cluster_id,
                    "--db-instance-class",
                    s.instance_class,
                    # the cluster's own engine (aurora-mysql): an instance must match it
                    "--engine",
                    str(target.get("Engine") or "aurora-mysql"),
                    "--no-publicly-accessible",
                    echo=True,
                ),
                "Nothing was changed: fix the cause and run the failover again.",
            ),
            Step(
                f"wait until {temporary} is available (the CLI's waiter: up to 30 min)",
                lambda: clis.aws_json(
                    s.target, "rds", "wait", "db-instance-available", "--db-instance-identifier", temporary
                ),
                f"{temporary} exists but is not available: see why (`aws rds describe-db-instances "
                f"--db-instance-identifier {temporary} --region {s.target} --output json`), then run the failover "
                "again (it creates no second instance).",
            ),
        ]
    steps += [
        Step(
            f"fail the Aurora writer of {s.global_cluster_id} over to {s.target}, allowing data loss",
            lambda: clis.aws_json(
                s.target,
                "rds",
                "failover-global-cluster",
                "--global-cluster-identifier",
                s.global_cluster_id,
                "--target-db-cluster-identifier",
                arn,
                "--allow-data-loss",
                echo=True,
            ),
            "The writer has not moved: fix the cause and run the failover again.",
        ),
        Step(
            f"wait until {s.target} holds the writer",
            lambda: wait_for_writer(s, clis, polling, region=s.target, available=False),
            f"The failover was requested and has not finished: watch it (`{s.watch_global_cluster(s.target)}`); "
            f"once {s.target} holds the writer, run `{scale}` and `{record}`.",
        ),
        Step(
            f"scale {asg} in {s.target} to {s.capacity}",
            lambda: clis.aws_json(s.target, *s.scale_args(), echo=True),
            f"{s.target} holds the writer now: scale its app (`{scale}`) and run `{record}`.",
        ),
    ]
    confirm(
        f"failover {stack}: to {s.target} without asking {s.source}; writes not yet replicated from {s.source} "
        "are lost",
        steps,
        yes=yes,
    )
    run_steps(steps)
    follow_up(s, clis, temporary=temporary, yes=yes)


def follow_up(s: Standby, clis: Clis, *, temporary: str | None, yes: bool) -> None:
    """What a failover leaves to do: record primaryRegion (offered), commit, `up` once the old region is back."""
    check = s.health_check_ids.get(s.target)
    how = f" (`aws route53 get-health-check-status --health-check-id {check} --region {ROUTE53_REGION} --output json`)"
    print(
        f"done: {s.target} holds {s.stack}'s writer and its app is scaled to {s.capacity}. Route 53 answers "
        f"{s.origin_name} with {s.target} once its health check passes{how if check else ''}."
    )
    record = shlex.join(s.config_command)
    failed = None
    if yes or offered(f"Run `{record}` now? Type yes: "):
        try:
            clis.pulumi_text(*s.config_command[1:])
            recorded = f"done: `{record}`"
        except CommandError as exc:
            failed, recorded = exc, f"run `{record}` (it failed: see below)"
    else:
        recorded = f"run `{record}`"
    todo = [
        recorded,
        f"commit Pulumi.{s.stack}.yaml (primaryRegion: {s.target}): every later deploy must keep {s.target} primary",
        f"leave `./deploy up {s.stack}` until {s.source} answers again: it would have to reach {s.source}. Aurora "
        f"then rejoins the old primary as a secondary (`{s.watch_global_cluster(s.target)}`: both members, "
        f"available); run `./deploy up {s.stack}` after that",
    ]
    if temporary:
        todo.append(
            f"once that up has created the managed DB instance in {s.target}, delete the temporary one: "
            f"`{shown(s.target, 'rds', 'delete-db-instance', '--db-instance-identifier', temporary)}`"
        )
    print("next:")
    for number, item in enumerate(todo, 1):
        print(f"  {number}. {item}")
    if failed:
        raise StepError(EXIT_STEP_FAILED, f"{failed}. The failover is done: run `{record}` yourself.")


def offered(question: str) -> bool:
    try:
        return input(question).strip().lower() == "yes"
    except EOFError:
        return False
