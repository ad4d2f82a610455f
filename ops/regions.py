"""Move a stack's database writer and traffic to its other region: switchover and failover.

    ./deploy switchover prod                      # planned, both regions up: no data loss
    ./deploy failover prod --allow-data-loss      # the primary region is lost: unreplicated writes are lost
    ./deploy failover prod --remove-temporary     # pilot-light, after the `up` that follows a failover
    ./deploy failover prod --rejoin-secrets       # the lost home region answers again: BEFORE `up`

A stack with ``standbyRegion`` runs two sites; ``primaryRegion`` in ``Pulumi.<stack>.yaml`` (empty:
``aws:region``) names the one that holds the Aurora writer and takes the traffic, the other one is the
target. Both commands read the **failover record** (components/failover_record.py) that every ``up``
writes into each site's region as an SSM parameter: failover from the target region only, so nothing is
asked of the lost region, not even the Pulumi state backend that lives there. They call AWS, print the
plan and ask (unless ``--yes``), then run numbered steps, as ops/steps.py describes.

**Resume.** Each step first asks AWS whether it is done (the writer already in the target, a failover
under way, the temporary instance already there, the app group already at its size) and says
"already done" instead of doing it again, so after any interruption the same command goes on from
where AWS is. Every exit names the next command in one line.

switchover refuses (nothing changed) unless the global cluster is ``available`` with both clusters as
members and the writer in the primary, the target cluster has a DB instance and both run the same
engine version. Steps: scale the target's app to the active capacity; wait for its instances
``InService`` and as many healthy targets in its load balancer's target group (the target's own Route 53
check cannot pass before the move: it means "this site reaches the writer"); switch the writer over;
wait for it; wait until Route 53 answers the origin name with the target (its check healthy, the old
site's unhealthy: bounded, ``DNS_TIMEOUT``); record ``primaryRegion`` in the stack file; ``./deploy up``.

failover: a pilot-light target first gets a temporary DB instance with the managed instances' parameter
group, CA and monitoring (from the record); then the failover with data loss allowed, the wait for the
writer, the app scaled and waited for, the same DNS check, ``primaryRegion`` recorded. It never runs
``up`` (that needs the lost region) and prints what follows. ``--remove-temporary`` (after that ``up``
created the managed instance) first fails the cluster over to the managed instance, then deletes the
temporary one, which until then is the writer.

**Credentials.** A failover away from the home region (``aws:region``) also promotes the target's
copies of the database credentials and rotates them there, after the traffic follows and before
``primaryRegion`` is recorded; ``--rejoin-secrets`` makes them replicas of the home copies again, and
until then ``up`` and ``switchover`` refuse: ops/credentials.py.

AWS facts used (API names, parameters and error codes checked against the botocore 1.44 service models
on this machine, ``botocore/data/<service>/<version>/service-2.json.gz`` and ``waiters-2.json``, and the
API references, docs.aws.amazon.com/<service>/latest/APIReference/API_<Operation>.html):
- RDS (2014-10-31): ``DescribeGlobalClusters`` (``GlobalClusterNotFoundFault``): ``Status``,
  ``GlobalClusterMembers[].DBClusterArn/IsWriter``, ``FailoverState`` "is empty unless a switchover or
  failover operation is scheduled or is in progress" (API FailoverState). No waiter exists for global
  clusters (waiters-2.json has DBClusterAvailable, DBInstanceAvailable, DBInstanceDeleted, ...): polled,
  bounded. ``SwitchoverGlobalCluster(GlobalClusterIdentifier, TargetDbClusterIdentifier)`` "without
  losing any data", called in the current primary's region; ``FailoverGlobalCluster(..., AllowDataLoss)``
  "Specify the AllowDataLoss parameter and don't specify the Switchover parameter", called in the
  secondary's region; both take the target as an ARN "so that Aurora can locate the cluster in its
  Amazon Web Services Region". ``DescribeDBClusters`` (``DBClusterNotFoundFault``):
  ``DBClusterMembers[].DBInstanceIdentifier/IsClusterWriter/PromotionTier``, ``Engine``,
  ``EngineVersion``. ``DescribeDBInstances`` (``DBInstanceNotFound``). ``CreateDBInstance``
  (DBInstanceIdentifier 1-63 letters, digits, hyphens, no trailing or double hyphen; DBClusterIdentifier,
  DBInstanceClass, Engine, DBParameterGroupName, CACertificateIdentifier, MonitoringInterval "If
  MonitoringRoleArn is specified, then you must set MonitoringInterval to a value other than 0",
  PubliclyAccessible=False: otherwise "If the subnets are part of a VPC that has an internet gateway
  attached to it, the DB instance is public", PromotionTier 15: the last choice of an in-cluster
  failover). Waiters ``db_instance_available`` (30 s x 60) and ``db_instance_deleted`` (its success on
  ``DBInstanceNotFound``). ``FailoverDBCluster(DBClusterIdentifier, TargetDBInstanceIdentifier)``: "The
  name of the DB instance to promote to the primary DB instance" (``InvalidDBClusterStateFault``,
  ``InvalidDBInstanceState``). ``DeleteDBInstance(DBInstanceIdentifier)``: all the provider sends for
  an Aurora cluster instance (terraform-provider-aws resourceClusterInstanceDelete).
- Auto Scaling (2011-01-01): ``UpdateAutoScalingGroup(AutoScalingGroupName, MinSize, MaxSize,
  DesiredCapacity)``; ``DescribeAutoScalingGroups(AutoScalingGroupNames)``: ``MinSize``, ``MaxSize``,
  ``DesiredCapacity``, ``Instances[].LifecycleState`` ``InService``. No waiter: polled.
- ELBv2 (2015-12-01): ``DescribeTargetHealth(TargetGroupArn)`` (``TargetGroupNotFound``):
  ``TargetHealthDescriptions[].TargetHealth.State`` ``healthy`` (the TargetInService waiter wants all
  targets healthy, also none: counted here instead).
- Route 53 (2013-04-01; one endpoint, signing in us-east-1: botocore endpoints ``aws-global``):
  ``GetHealthCheckStatus(HealthCheckId)`` -> ``HealthCheckObservations[].StatusReport.Status``
  ("Success: ..."/"Failure: ..."); "If more than 18% of health checkers report that an endpoint is
  healthy, Route 53 considers it healthy" (Developer Guide, dns-failover-determining-health-of-endpoints).
  ``ListResourceRecordSets(HostedZoneId, StartRecordName, StartRecordType)``: ``Failover``,
  ``HealthCheckId``; the primary answers while healthy, else a healthy secondary, and "When the secondary
  resource record set is unhealthy, Route 53 responds to DNS queries with the applicable value from the
  primary" (API ResourceRecordSet, Failover). The control plane answers while either site's region is
  down; its data plane (checks, answers) does not depend on it.
- SSM (2014-11-06): ``GetParameter(Name)`` -> ``Parameter.Value`` (``ParameterNotFound``).
- ``Pulumi.<stack>.yaml`` "should be committed" (pulumi.com/docs/iac/concepts/config): the commands
  edit the ``primaryRegion`` line in place instead of ``pulumi config set``, which needs the backend.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from components.failover_record import AppCapacity, FailoverRecord, FailoverRecordError, parameter_name
from ops import credentials
from ops.steps import (
    ActionError,
    Aws,
    AwsError,
    Polling,
    RefusedError,
    Step,
    confirm,
    reading,
    refuse,
    run_steps,
)

MOVES = ("switchover", "failover")
TEMPORARY_SUFFIX = "-failover"
MAX_INSTANCE_ID = 63  # CreateDBInstance DBInstanceIdentifier
TEMPORARY_PROMOTION_TIER = 15  # CreateDBInstance PromotionTier: 0-15, the highest is promoted last
ROUTE53_REGION = "us-east-1"  # Route 53 is global; its endpoint signs in us-east-1
HEALTHY_SHARE = 0.18  # Route 53: healthy when MORE than 18 % of its checkers say so


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
class Placement:
    """Where the stack file says the writer is (``primary``) and where a move goes (``target``)."""

    stack: str
    env_suffix: str
    primary: str
    target: str
    stack_file: Path
    project: str

    def command(self, action: str) -> str:
        """The command an operator types to run (or resume) ``action``."""
        return {
            "switchover": f"./deploy switchover {self.stack}",
            "failover": f"./deploy failover {self.stack} --allow-data-loss",
            "remove-temporary": f"./deploy failover {self.stack} --remove-temporary",
            "rejoin-secrets": f"./deploy failover {self.stack} --rejoin-secrets",
        }[action]


def placement(stack: str, config: Mapping[str, str], project: str, stack_file: Path) -> Placement:
    home, standby = config.get("aws:region", ""), config.get(f"{project}:standbyRegion", "")
    primary = config.get(f"{project}:primaryRegion") or home
    if primary not in (home, standby):
        raise RefusedError(
            f"Pulumi.{stack}.yaml: primaryRegion {primary} is neither aws:region {home} nor standbyRegion {standby}."
        )
    return Placement(
        stack=stack,
        env_suffix=config.get(f"{project}:envSuffix") or stack,
        primary=primary,
        target=standby if primary == home else home,
        stack_file=stack_file,
        project=project,
    )


def read_record(aws: Aws, p: Placement, regions: Sequence[str], *, moved: bool = True) -> FailoverRecord:
    """The failover record from the first of ``regions`` that has it; a refusal naming each failure.

    ``moved``: refuse a record whose writer is not where the stack file says (a move recorded in the
    file and not yet followed by ``up``); the rejoin of the credentials runs exactly then."""
    name, problems = parameter_name(p.env_suffix), []
    for region in regions:
        try:
            value = aws.call("ssm", region, "get_parameter", Name=name)["Parameter"]["Value"]
        except AwsError as exc:
            if exc.code == "ParameterNotFound":
                problems.append(f"{region} has no failover record {name} (`./deploy up {p.stack}` writes it)")
            else:
                problems.append(f"cannot read the failover record: {exc}")
            continue
        try:
            record = FailoverRecord.from_json(str(value))
        except FailoverRecordError as exc:
            raise RefusedError(f"{name} in {region}: {exc}; run `./deploy up {p.stack}` to write it again.") from None
        if record.stack != p.stack or set(record.regions) != {p.primary, p.target}:
            raise RefusedError(
                f"{name} in {region} describes stack {record.stack} in {' and '.join(record.regions)}, not "
                f"{p.stack} in {p.primary} and {p.target}: check envSuffix in Pulumi.{p.stack}.yaml."
            )
        if moved and record.primary_region != p.primary:
            raise RefusedError(
                f"Pulumi.{p.stack}.yaml says primaryRegion {p.primary}, the failover record in {region} (written by "
                f"the last up) says {record.primary_region}: a move recorded in the file has not been followed by "
                f"`./deploy up {p.stack}` (run it once both regions answer), or the file is behind (pull it). "
                "Nothing was changed."
            )
        return record
    raise RefusedError("; ".join(problems) + ". Nothing was changed.")


# What AWS says


def _described(aws: Aws, region: str, operation: str, listed: str, not_found: str, **params: str) -> dict[str, Any]:
    """The one item a Describe* call lists under ``listed``; empty when AWS answers ``not_found``."""
    try:
        found = aws.call("rds", region, operation, **params)
    except AwsError as exc:
        if exc.code == not_found:
            return {}
        raise
    return dict((found.get(listed) or [{}])[0])


def global_cluster(aws: Aws, region: str, global_cluster_id: str) -> dict[str, Any]:
    return _described(
        aws,
        region,
        "describe_global_clusters",
        "GlobalClusters",
        "GlobalClusterNotFoundFault",
        GlobalClusterIdentifier=global_cluster_id,
    )


def members(cluster: Mapping[str, Any]) -> dict[str, bool]:
    """Member cluster ARN -> whether it holds the writer."""
    return {str(m.get("DBClusterArn")): bool(m.get("IsWriter")) for m in cluster.get("GlobalClusterMembers") or []}


def move_under_way(cluster: Mapping[str, Any]) -> str:
    return str((cluster.get("FailoverState") or {}).get("Status") or "")


def db_cluster(aws: Aws, region: str, cluster_id: str) -> dict[str, Any]:
    return _described(
        aws, region, "describe_db_clusters", "DBClusters", "DBClusterNotFoundFault", DBClusterIdentifier=cluster_id
    )


def db_instance(aws: Aws, region: str, instance_id: str) -> dict[str, Any] | None:
    described = _described(
        aws, region, "describe_db_instances", "DBInstances", "DBInstanceNotFound", DBInstanceIdentifier=instance_id
    )
    return described or None


def app_group(aws: Aws, region: str, name: str) -> dict[str, Any]:
    found = aws.call("autoscaling", region, "describe_auto_scaling_groups", AutoScalingGroupNames=[name])
    return dict((found.get("AutoScalingGroups") or [{}])[0])


def at_capacity(group: Mapping[str, Any], capacity: AppCapacity) -> bool:
    sizes = (group.get("MinSize"), group.get("MaxSize"), group.get("DesiredCapacity"))
    return sizes == (capacity.min, capacity.max, capacity.desired)


def healthy_targets(aws: Aws, region: str, target_group_arn: str) -> int:
    found = aws.call("elbv2", region, "describe_target_health", TargetGroupArn=target_group_arn)
    states = [d.get("TargetHealth", {}).get("State") for d in found.get("TargetHealthDescriptions") or []]
    return states.count("healthy")


def check_is_healthy(aws: Aws, health_check_id: str) -> bool:
    """Route 53's verdict: more than 18 % of its checkers see the endpoint healthy."""
    found = aws.call("route53", ROUTE53_REGION, "get_health_check_status", HealthCheckId=health_check_id)
    seen = [str(o.get("StatusReport", {}).get("Status", "")) for o in found.get("HealthCheckObservations") or []]
    return bool(seen) and sum(status.startswith("Success") for status in seen) / len(seen) > HEALTHY_SHARE


def answering_site(aws: Aws, r: FailoverRecord) -> tuple[str, str]:
    """The region Route 53 answers the origin name with, and why (failover routing over the two records)."""
    found = aws.call(
        "route53",
        ROUTE53_REGION,
        "list_resource_record_sets",
        HostedZoneId=r.hosted_zone_id,
        StartRecordName=r.origin_name,
        StartRecordType="A",
    )
    name = r.origin_name.rstrip(".") + "."
    by_role = {
        str(s["Failover"]): s
        for s in found.get("ResourceRecordSets") or []
        if s.get("Name") == name and s.get("Type") == "A" and s.get("Failover")
    }
    if set(by_role) != {"PRIMARY", "SECONDARY"}:
        return "neither site", f"{r.hosted_zone_id} has no PRIMARY and SECONDARY record for {r.origin_name}"
    site = {check: region for region, check in r.origin_health_check_ids.items()}
    healthy = {role: check_is_healthy(aws, str(s.get("HealthCheckId"))) for role, s in by_role.items()}
    role = "PRIMARY" if healthy["PRIMARY"] or not healthy["SECONDARY"] else "SECONDARY"
    region = site.get(str(by_role[role].get("HealthCheckId")), "an unknown site")
    checks = ", ".join(
        f"{site.get(str(s.get('HealthCheckId')), '?')}'s check {'healthy' if healthy[k] else 'unhealthy'}"
        for k, s in sorted(by_role.items())
    )
    return region, f"its {role} record; {checks}"


@dataclass
class Move:
    """One switchover, failover or clean-up: the stack file's view, the record, AWS and the clock."""

    p: Placement
    r: FailoverRecord
    aws: Aws
    polling: Polling
    again: str = field(default="")

    @property
    def source(self) -> str:
        return self.p.primary

    @property
    def target(self) -> str:
        return self.p.target

    def writer_in_target(self, region: str) -> bool:
        return members(global_cluster(self.aws, region, self.r.global_cluster_id)).get(self.target_arn, False)

    @property
    def target_arn(self) -> str:
        return self.r.db_cluster_arns[self.target]

    def scale_app(self) -> Step:
        asg, capacity = self.r.asg_names[self.target], self.r.app_capacity
        return Step(
            f"scale {asg} in {self.target} to {capacity}",
            lambda: self.aws.call(
                "autoscaling",
                self.target,
                "update_auto_scaling_group",
                AutoScalingGroupName=asg,
                MinSize=capacity.min,
                MaxSize=capacity.max,
                DesiredCapacity=capacity.desired,
            ),
            f"fix the cause and run `{self.again}` again",
            done=lambda: at_capacity(app_group(self.aws, self.target, asg), capacity),
        )

    def wait_app_ready(self, if_failed: str) -> Step:
        asg, wanted = self.r.asg_names[self.target], self.r.app_capacity.desired
        group_arn = self.r.target_group_arns[self.target]

        def pending() -> str | None:
            instances = app_group(self.aws, self.target, asg).get("Instances") or []
            ready = sum(1 for instance in instances if instance.get("LifecycleState") == "InService")
            healthy = healthy_targets(self.aws, self.target, group_arn)
            if ready >= wanted and healthy >= wanted:
                return None
            return f"{asg}: {ready}/{wanted} instances InService, {healthy}/{wanted} targets healthy"

        return Step(
            f"wait until {wanted} instances of {asg} are InService and healthy behind {self.target}'s load balancer",
            lambda: self.polling.until(f"{wanted} InService, healthy instances in {asg}", pending),
            if_failed,
        )

    def wait_for_writer(self, region: str, *, settled: bool) -> Step:
        """Until the target holds the writer (switchover: and the global cluster is available, no move under way)."""
        gid = self.r.global_cluster_id

        def pending() -> str | None:
            found = global_cluster(self.aws, region, gid)
            writer, status = members(found).get(self.target_arn, False), found.get("Status")
            under_way = move_under_way(found)
            if writer and (not settled or (status == "available" and not under_way)):
                return None
            moving = f", {under_way}" if under_way else ""
            return f"{gid}: {status}{moving}, writer {'in' if writer else 'not yet in'} {self.target}"

        return Step(
            f"wait until {self.target} holds the writer" + (f" and {gid} is available" if settled else ""),
            lambda: self.polling.until(f"{self.target} to hold the writer", pending),
            f"the move was requested and has not finished: run `{self.again}` again, it waits for it",
        )

    def traffic_follows(self) -> Step:
        """Route 53 answers the origin name with the target: its readiness check passes, the old one fails."""

        def pending() -> str | None:
            region, why = answering_site(self.aws, self.r)
            return None if region == self.target else f"Route 53 answers {self.r.origin_name} with {region} ({why})"

        return Step(
            f"wait until Route 53 answers {self.r.origin_name} with {self.target} (up to "
            f"{self.polling.dns_timeout / 60:g} min)",
            lambda: self.polling.until(
                f"Route 53 to answer {self.r.origin_name} with {self.target}", pending, timeout=self.polling.dns_timeout
            ),
            f"{self.target} holds the writer, but clients resolving {self.r.origin_name} still reach the other site, "
            f"whose app cannot reach the writer (its payments fail): see {self.target}'s Route 53 check "
            f"{self.r.origin_health_check_ids[self.target]} and app, then run `{self.again}` again",
        )

    def take_over_credentials(self) -> list[Step]:
        """The target's copies of the credentials promoted and rotated there (ops/credentials.py); none when
        the target is the home region."""
        return credentials.take_over_credentials(
            self.r,
            self.aws,
            self.target,
            again=self.again,
            rejoin=self.p.command("rejoin-secrets"),
            polling=self.polling,
        )

    def record_primary(self) -> Step:
        return Step(
            f"record primaryRegion: {self.target} in {self.p.stack_file.name}",
            lambda: record_primary_region(self.p.stack_file, self.p.project, self.target),
            f"set primaryRegion: {self.target} in {self.p.stack_file.name} yourself",
            done=lambda: stack_file_primary(self.p.stack_file, self.p.project) == self.target,
        )


def switchover_problems(m: Move, found: Mapping[str, Any]) -> list[str]:
    """Why a planned switchover cannot start (asked in both regions); empty when it can."""
    r, problems = m.r, []
    if found.get("Status") != "available":
        problems.append(
            f"global cluster {r.global_cluster_id} is {found.get('Status') or 'not found'} in {m.source}, not "
            "available: wait until it is, nothing was changed."
        )
    roles = members(found)
    absent = [region for region in r.regions if r.db_cluster_arns[region] not in roles]
    if found and absent:
        problems.append(
            f"global cluster {r.global_cluster_id} has no member in {' and '.join(absent)} "
            f"({', '.join(r.db_cluster_arns[a] for a in absent)}): run `./deploy up {r.stack}` to rejoin it first."
        )
    writers = [arn for arn, writer in roles.items() if writer]
    if roles and writers != [r.db_cluster_arns[m.source]]:
        problems.append(
            f"the writer of {r.global_cluster_id} is {', '.join(writers) or 'nowhere'}, not {m.source} as "
            f"Pulumi.{r.stack}.yaml says: nothing was changed."
        )
    source = db_cluster(m.aws, m.source, r.db_cluster_ids[m.source])
    target = db_cluster(m.aws, m.target, r.db_cluster_ids[m.target])
    if not target.get("DBClusterMembers"):
        problems.append(
            f"{m.target}'s cluster {r.db_cluster_ids[m.target]} has no DB instance ({r.standby_mode}), and a "
            f"headless cluster cannot take the writer: set standbyMode: warm in Pulumi.{r.stack}.yaml, run "
            f"`./deploy up {r.stack}`, then switch over."
        )
    versions = {m.source: source.get("EngineVersion"), m.target: target.get("EngineVersion")}
    if versions[m.source] != versions[m.target]:
        problems.append(
            f"engine versions differ ({', '.join(f'{k} {v}' for k, v in versions.items())}): finish the "
            "upgrade (the standby first) before switching over."
        )
    return problems


def run_up(up: Callable[[], int], stack: str) -> None:
    code = up()
    if code != 0:
        raise ActionError(f"`./deploy up {stack}` exited {code} (see its output above)")


def switchover(p: Placement, aws: Aws, *, up: Callable[[], int], yes: bool, polling: Polling) -> None:
    """Planned move of the writer and the traffic to the other site; ``up`` runs ``./deploy up <stack>``."""
    r = reading(lambda: read_record(aws, p, [p.primary, p.target]))
    m = Move(p, r, aws, polling, again=p.command("switchover"))
    found = reading(lambda: global_cluster(aws, m.source, r.global_cluster_id))
    resuming = members(found).get(m.target_arn, False) or bool(move_under_way(found))
    if not resuming:
        refuse(reading(lambda: switchover_problems(m, found)))
    asg, idle = r.asg_names[m.target], 1 if r.standby_mode == "warm" else 0
    # `up` leaves an Auto Scaling group's size alone (compute.py ignores it): say what to set.
    scale_back = f"or scale {asg} in {m.target} back to min {idle}, desired {idle}"
    steps = [
        m.scale_app(),
        m.wait_app_ready(f"the writer has not moved: see why {asg} is not ready, run `{m.again}` again {scale_back}"),
        Step(
            f"switch the Aurora writer of {r.global_cluster_id} from {m.source} to {m.target} (no data loss; the "
            "database is unavailable for a short time)",
            lambda: aws.call(
                "rds",
                m.source,
                "switchover_global_cluster",
                GlobalClusterIdentifier=r.global_cluster_id,
                TargetDbClusterIdentifier=m.target_arn,
            ),
            f"the writer has not moved: fix the cause and run `{m.again}` again, {scale_back}",
            done=lambda: bool(
                (g := global_cluster(aws, m.source, r.global_cluster_id))
                and (members(g).get(m.target_arn) or move_under_way(g))
            ),
        ),
        m.wait_for_writer(m.source, settled=True),
        m.traffic_follows(),
        m.record_primary(),
        Step(
            f"./deploy up {p.stack}: Route 53 roles, capacities and the failover record follow the writer "
            "(no database is replaced)",
            lambda: run_up(up, p.stack),
            f"{m.target} holds the writer and takes the traffic, Pulumi.{p.stack}.yaml says so: fix what Pulumi "
            f"reported, run `./deploy up {p.stack}` and commit Pulumi.{p.stack}.yaml",
            resume=f"./deploy up {p.stack}",
        ),
    ]
    state = " (resuming: the writer has moved or is moving)" if resuming else ""
    confirm(f"switchover {p.stack}: {m.source} -> {m.target}, planned, no data loss{state}", steps, yes=yes)
    run_steps(steps, m.again)
    print(
        f"done: {m.target} holds {p.stack}'s writer and takes its traffic; Pulumi.{p.stack}.yaml says "
        f"primaryRegion: {m.target}: commit it."
    )


def failover(p: Placement, aws: Aws, *, yes: bool, polling: Polling) -> None:
    """Unplanned: promote the other site while the primary's region is lost, asking only the target region."""
    r = reading(lambda: read_record(aws, p, [p.target]))
    m = Move(p, r, aws, polling, again=p.command("failover"))
    cluster_id, gid = r.db_cluster_ids[m.target], r.global_cluster_id
    found = reading(lambda: global_cluster(aws, m.target, gid))
    target = reading(lambda: db_cluster(aws, m.target, cluster_id))
    roles, temporary_id = members(found), temporary_instance_id(cluster_id)
    resuming = roles.get(m.target_arn, False) or bool(move_under_way(found))
    if not resuming:
        problems = []
        if m.target_arn not in roles:
            problems.append(
                f"{m.target}'s cluster {m.target_arn} is not a member of global cluster {gid} as seen from "
                f"{m.target}: there is nothing to fail over to."
            )
        if not target:
            problems.append(f"{m.target} has no cluster {cluster_id}: there is nothing to fail over to.")
        refuse(problems)
    names = [str(i.get("DBInstanceIdentifier")) for i in target.get("DBClusterMembers") or []]
    temporary = temporary_id if (not names or temporary_id in names) else None
    steps = []
    if temporary:
        steps += [
            Step(
                f"create a temporary DB instance {temporary} ({r.db_instance_class}) in {cluster_id} with the managed "
                "instances' parameter group, CA and monitoring: pilot-light has none to take the writer",
                lambda: create_temporary(m, temporary, str(target.get("Engine") or "aurora-mysql")),
                f"the writer has not moved: fix the cause and run `{m.again}` again",
                done=lambda: db_instance(aws, m.target, temporary) is not None,
            ),
            Step(
                f"wait until {temporary} is available (RDS waiter db_instance_available)",
                lambda: aws.wait("rds", m.target, "db_instance_available", polling, DBInstanceIdentifier=temporary),
                f"{temporary} exists but is not available: see its events in the RDS console, then run "
                f"`{m.again}` again (it creates no second instance)",
                done=lambda: m.writer_in_target(m.target),
            ),
        ]
    steps += [
        Step(
            f"fail the Aurora writer of {gid} over to {m.target}, allowing data loss",
            lambda: aws.call(
                "rds",
                m.target,
                "failover_global_cluster",
                GlobalClusterIdentifier=gid,
                TargetDbClusterIdentifier=m.target_arn,
                AllowDataLoss=True,
            ),
            f"the writer has not moved: fix the cause and run `{m.again}` again",
            done=lambda: bool(
                (g := global_cluster(aws, m.target, gid)) and (members(g).get(m.target_arn) or move_under_way(g))
            ),
        ),
        m.wait_for_writer(m.target, settled=False),
        m.scale_app(),
        m.wait_app_ready(f"{m.target} holds the writer: see why its app is not ready, then run `{m.again}` again"),
        m.traffic_follows(),
        *m.take_over_credentials(),
        m.record_primary(),
    ]
    state = " (resuming: the writer has moved or is moving)" if resuming else ""
    confirm(
        f"failover {p.stack}: to {m.target} without asking {m.source}; writes not yet replicated from {m.source} "
        f"are lost{state}",
        steps,
        yes=yes,
    )
    run_steps(steps, m.again)
    follow_up(m, temporary)


def create_temporary(m: Move, instance_id: str, engine: str) -> None:
    settings = m.r.db_instance_settings[m.target]
    monitoring = {"MonitoringRoleArn": settings.monitoring_role_arn} if settings.monitoring_interval else {}
    m.aws.call(
        "rds",
        m.target,
        "create_db_instance",
        DBInstanceIdentifier=instance_id,
        DBClusterIdentifier=m.r.db_cluster_ids[m.target],
        DBInstanceClass=m.r.db_instance_class,
        Engine=engine,  # the cluster's own (aurora-mysql): an instance must match it
        DBParameterGroupName=settings.db_instance_parameter_group,
        CACertificateIdentifier=settings.ca_certificate_identifier,
        MonitoringInterval=settings.monitoring_interval,
        **monitoring,
        PubliclyAccessible=False,
        AutoMinorVersionUpgrade=False,  # as the managed instances (LTS)
        PromotionTier=TEMPORARY_PROMOTION_TIER,
    )


def follow_up(m: Move, temporary: str | None) -> None:
    """What a failover leaves to do, once the old region is back."""
    stack = m.p.stack
    promoted = (
        f" Its copies of the master and app credentials are standalone and rotate with {m.target}'s function."
        if m.take_over_credentials()
        else ""
    )
    print(
        f"done: {m.target} holds {stack}'s writer, its app runs at {m.r.app_capacity}, Route 53 answers "
        f"{m.r.origin_name} with {m.target}, and Pulumi.{stack}.yaml says primaryRegion: {m.target}.{promoted}"
    )
    todo = [
        f"commit Pulumi.{stack}.yaml (primaryRegion: {m.target}): every later deploy must keep {m.target} primary",
    ]
    if m.take_over_credentials():
        todo.append(
            f"once {m.source} answers again, and BEFORE any up, run `{m.p.command('rejoin-secrets')}`: {m.target}'s "
            f"copies of the credentials are standalone and rotate there; it copies their values home to {m.source} "
            "and makes them replicas again (up refuses until then: it would overwrite them with older values)"
        )
    todo.append(
        f"leave `./deploy up {stack}` until {m.source} answers again: it would have to reach {m.source}. Aurora "
        f"then rejoins the old primary as a secondary; run `./deploy up {stack}` after that (both sites, the DNS "
        "roles and the failover record follow the writer)"
    )
    if temporary:
        todo.append(
            f"once that up has created the managed DB instance in {m.target}, run `{m.p.command('remove-temporary')}`"
            f": it moves the writer to the managed instance, then deletes {temporary} (deleting it first would "
            "fail the production writer over unplanned)"
        )
    print("next:")
    for number, item in enumerate(todo, 1):
        print(f"  {number}. {item}")


def remove_temporary(p: Placement, aws: Aws, *, yes: bool, polling: Polling) -> None:
    """After a pilot-light failover and the `up` after it: writer to a managed instance, then delete the temporary."""
    r = reading(lambda: read_record(aws, p, [p.primary, p.target]))
    m = Move(p, r, aws, polling, again=p.command("remove-temporary"))
    region, cluster_id = p.primary, r.db_cluster_ids[p.primary]
    temporary = temporary_instance_id(cluster_id)
    if reading(lambda: db_instance(aws, region, temporary)) is None:
        print(f"done: {cluster_id} in {region} has no temporary instance {temporary}: nothing to remove.")
        return
    cluster = reading(lambda: db_cluster(aws, region, cluster_id))
    managed = [i for i in cluster.get("DBClusterMembers") or [] if i.get("DBInstanceIdentifier") != temporary]
    if not managed:
        raise RefusedError(
            f"{cluster_id} in {region} has no DB instance but {temporary} yet: run `./deploy up {p.stack}` first "
            f"(it creates the managed one), then `{m.again}`. Nothing was changed."
        )
    chosen = str(
        min(managed, key=lambda i: (i.get("PromotionTier", 15), str(i.get("DBInstanceIdentifier"))))[
            "DBInstanceIdentifier"
        ]
    )

    def writer() -> str:
        found = db_cluster(aws, region, cluster_id)
        return next(
            (str(i["DBInstanceIdentifier"]) for i in found.get("DBClusterMembers") or [] if i.get("IsClusterWriter")),
            "",
        )

    def moved() -> str | None:
        found, current = db_cluster(aws, region, cluster_id), writer()
        if current and current != temporary and found.get("Status") == "available":
            return None
        return f"{cluster_id}: {found.get('Status')}, writer {current or 'none'}"

    steps = [
        Step(
            f"wait until {chosen} is available (RDS waiter db_instance_available)",
            lambda: aws.wait("rds", region, "db_instance_available", polling, DBInstanceIdentifier=chosen),
            f"nothing was changed: see why {chosen} is not available, then run `{m.again}` again",
        ),
        Step(
            f"fail {cluster_id} over in-cluster to {chosen} (writes pause for well under a minute)",
            lambda: aws.call(
                "rds", region, "failover_db_cluster", DBClusterIdentifier=cluster_id, TargetDBInstanceIdentifier=chosen
            ),
            f"{temporary} is still the writer: fix the cause and run `{m.again}` again",
            done=lambda: writer() not in ("", temporary),
        ),
        Step(
            f"wait until the writer of {cluster_id} is a managed instance and the cluster is available",
            lambda: polling.until(f"the writer of {cluster_id} to leave {temporary}", moved),
            f"the in-cluster failover was requested: run `{m.again}` again, it waits for it",
        ),
        Step(
            f"delete {temporary}, no longer the writer",
            lambda: aws.call("rds", region, "delete_db_instance", DBInstanceIdentifier=temporary),
            f"the writer is on {chosen}: fix the cause and run `{m.again}` again",
            done=lambda: (
                (db_instance(aws, region, temporary) or {"DBInstanceStatus": "deleting"}).get("DBInstanceStatus")
                == "deleting"
            ),
        ),
        Step(
            f"wait until {temporary} is deleted (RDS waiter db_instance_deleted)",
            lambda: aws.wait("rds", region, "db_instance_deleted", polling, DBInstanceIdentifier=temporary),
            f"{temporary} is being deleted: run `{m.again}` again to wait for it",
        ),
    ]
    confirm(f"remove the temporary writer {temporary} of {cluster_id} in {region}", steps, yes=yes)
    run_steps(steps, m.again)
    print(f"done: {chosen} is the writer of {cluster_id} and {temporary} is gone.")


def rejoin_secrets(p: Placement, aws: Aws, *, yes: bool, polling: Polling) -> None:
    """Once the home region answers again, BEFORE ``up``: the credentials' copies rejoined (ops/credentials.py),
    from the failover record of either region, whose writer may not yet be where the stack file says."""
    r = reading(lambda: read_record(aws, p, [p.primary, p.target], moved=False))
    credentials.rejoin_secrets(
        r, aws, stack=p.stack, primary=p.primary, again=p.command("rejoin-secrets"), yes=yes, polling=polling
    )


# The stack file


def stack_file_primary(stack_file: Path, project: str) -> str:
    config = (yaml.safe_load(stack_file.read_text()) or {}).get("config") or {}
    return str(config.get(f"{project}:primaryRegion") or "")


def record_primary_region(stack_file: Path, project: str, region: str) -> None:
    """Set ``<project>:primaryRegion`` in the stack file, every other line and comment kept byte for byte.

    The line is edited in place (a comment after the value stays); a file without it gets it after
    ``standbyRegion``, else first under ``config:``. No Pulumi call: the backend may be the lost region."""
    key = f"{project}:primaryRegion"
    text = stack_file.read_text()
    lines = text.splitlines(keepends=True)
    line_end = "\r\n" if text.endswith("\r\n") or "\r\n" in text else "\n"
    pattern = re.compile(
        rf"^(?P<indent>[ \t]+){re.escape(key)}:[ \t]*[^#\r\n]*?(?P<comment>[ \t]+#[^\r\n]*)?(?P<eol>\r?\n?)$"
    )
    for n, line in enumerate(lines):
        if found := pattern.match(line):
            lines[n] = f"{found['indent']}{key}: {region}{found['comment'] or ''}{found['eol']}"
            break
    else:
        after = next((n for n, line in enumerate(lines) if line.lstrip().startswith(f"{project}:standbyRegion:")), None)
        config = next((n for n, line in enumerate(lines) if re.match(r"^config:[ \t]*(#.*)?\r?\n?$", line)), None)
        if after is None and config is None:
            ending = "" if not text or text.endswith(("\n", "\r")) else line_end
            lines.append(f"{ending}config:{line_end}  {key}: {region}{line_end}")
        else:
            anchor = after if after is not None else config
            assert anchor is not None
            indent = re.match(r"^[ \t]*", lines[after])[0] if after is not None else "  "  # type: ignore[index]
            if not lines[anchor].endswith("\n"):
                lines[anchor] += line_end
            lines.insert(anchor + 1, f"{indent}{key}: {region}{line_end}")
    updated = "".join(lines)
    if str(((yaml.safe_load(updated) or {}).get("config") or {}).get(key)) != region:
        raise ActionError(f"could not set {key} in {stack_file.name}: the edited file does not read back")
    temporary = stack_file.with_name(f".{stack_file.name}.tmp")
    temporary.write_text(updated)
    os.replace(temporary, stack_file)
