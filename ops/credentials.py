"""The database credentials' copies in the two regions (Secrets Manager): their take-over by a failover
away from the home region, and their rejoin once it answers again.

    ./deploy failover prod --allow-data-loss      # away from home: the target's copies promoted, rotated there
    ./deploy failover prod --rejoin-secrets       # the lost home region answers again: BEFORE `up`

The app and master secrets have their primaries in the home region (``aws:region``,
the record's ``home_region``), each replicated to the other region and encrypted there with its
secrets key. Each site has a rotation function; the home one rotates the primaries wherever the
writer is (the VPCs are peered for it), so a switchover changes no secret. A failover away from the
home region (it is lost: its primaries cannot rotate, and a replica cannot) promotes the target's
copy of each (``StopReplicationToReplica``, in the target) and rotates it with the target's function
every ``rotation_days``, once at once (``RotateSecret``), after the traffic follows and before
``primaryRegion`` is recorded; a failover to the home region touches no secret (its copies are the
primaries). The failover cannot tell a region loss from a database-only impairment without asking
the old region, which it never does: it promotes in both. ``--rejoin-secrets``, once the home region
answers and before ``up``: for each credential whose standby copy is not an ``InSync`` replica of
home, wait (bounded) until no rotation is under way on the standby copy; ``CancelRotateSecret`` on
it; ``PutSecretValue`` of its ``AWSCURRENT`` value into the home copy with the standby version's id
as ``ClientRequestToken``; ``ReplicateSecretToRegions`` from home over it (its key,
``ForceOverwriteReplicaSecret``); wait (bounded) until it is an ``InSync`` replica. It says whether
each home copy rotates with the home function, and leaves turning that on to ``up``. No secret value
is printed. Until then ``up`` and ``switchover`` refuse (``split_credentials``, run by ops/deploy.py):
``up``, whose replicas have ``force_overwrite_replica_secret``, would overwrite the live standby
copies with the older home values.

The failover (ops/regions.py) adds the take-over's steps to its own; the rejoin gets the failover record
from ops/regions.py. Both run as ops/steps.py describes: numbered, each first asking AWS whether it is
done, so the same command resumes.

AWS facts used (API names, parameters and error codes checked against the botocore 1.44 service models
on this machine and the API references, docs.aws.amazon.com/<service>/latest/APIReference/API_<Operation>.html):
- SSM (2014-11-06): ``GetParameter(Name)`` -> ``Parameter.Value`` (``ParameterNotFound``): the failover
  record, read by ``split_credentials``.
- What the operator's credentials need beyond the Secrets Manager actions named here: RotateSecret
  "also need[s] lambda:InvokeFunction permissions on the rotation function", ReplicateSecretToRegions
  ``kms:Decrypt`` on the primary's key and ``kms:GenerateDataKey``/``kms:Encrypt`` on the replica's
  (API reference, "Required permissions"). ``UpdateSecretVersionStage(SecretId, VersionStage,
  MoveToVersionId, RemoveFromVersionId)``: a label attached to another version moves only with
  ``RemoveFromVersionId`` naming it; ``RemoveFromVersionId`` alone takes the label off.
- Secrets Manager (2017-10-17, ``botocore/data/secretsmanager/2017-10-17/service-2.json.gz``):
  ``DescribeSecret(SecretId)`` (``ResourceNotFoundException``): ``PrimaryRegion``,
  ``ReplicationStatus[].Region/Status/StatusMessage`` (``StatusType``: InSync, Failed, InProgress,
  Pending, Detached), ``VersionIdsToStages`` (AWSPENDING: "the version of the secret that contains new
  secret information that will become the next current version when rotation finishes"),
  ``RotationEnabled`` ("If the secret has never been configured for rotation, Secrets Manager returns
  null"), ``RotationLambdaARN``. ``PrimaryRegion`` reads "The Region the secret is in. If a secret is
  replicated to other Regions, the replicas are listed in ReplicationStatus", which does not say what a
  replica reports. Relied on: a replica reports its primary's Region (ListSecrets
  ``SecretListEntry.PrimaryRegion``: "The Region where Secrets Manager originated the secret"; moto 5.2.5
  ``ReplicaSecret``), a primary or standalone secret its own Region or nothing (moto leaves it out); so a
  copy is a replica of home only when ``PrimaryRegion`` is home and not its own Region, and anything else
  counts as standalone. ``StopReplicationToReplica(SecretId)``: "You call this operation from the
  replica account or Region"; a cross-Region replica is promoted "to a standalone primary secret in the
  replica Region". ``RotateSecret(SecretId, RotationLambdaARN, RotationRules.AutomaticallyAfterDays)``
  (1-1000): "If you include the configuration parameters, the operation sets the values for the secret
  and then immediately starts a rotation"; ``RotateImmediately`` "The default ... is true" (false runs
  only the function's testSecret step); "If the AWSPENDING staging label is present but not attached to
  the same version as AWSCURRENT, then any later invocation of RotateSecret assumes that a previous
  rotation request is still in progress and returns an error"; the SDK fills ``ClientRequestToken``.
  ``CancelRotateSecret(SecretId)``: "Turns off automatic rotation, and if a rotation is currently in
  progress, cancels the rotation", which "can leave the VersionStage labels in an unexpected state" (so
  the rejoin waits for a rotation first). ``GetSecretValue(SecretId, VersionStage="AWSCURRENT")`` ->
  ``VersionId``, ``SecretString``. ``PutSecretValue(SecretId, SecretString, ClientRequestToken)``
  (32-64 characters, as a ``VersionId``): without ``VersionStages`` AWSCURRENT moves to the new version;
  "If a version with this value already exists and that version's SecretString or SecretBinary values
  are the same as those in the request then the request is ignored. The operation is idempotent";
  "This value becomes the VersionId of the new version". ``ReplicateSecretToRegions(SecretId,
  AddReplicaRegions=[{Region, KmsKeyId}], ForceOverwriteReplicaSecret)``: "Specifies whether to
  overwrite a secret with the same name in the destination Region", called on the primary. User Guide,
  "Promote a replica secret to a standalone secret": "as a disaster recovery solution if the primary
  secret becomes unavailable" or "if you want to turn on rotation for the replica"; a replica's ARN is
  the primary's with the Region changed ("Replicate secrets across Regions"). Not documented: what the
  primary's ``ReplicationStatus`` lists for a replica promoted while the primary's Region was down; the
  rejoin trusts the standby copy's own ``PrimaryRegion``, and a listing not InProgress or Pending does
  not skip the replication.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from components.failover_record import FailoverRecord, FailoverRecordError, parameter_name
from ops.steps import ActionError, Aws, AwsError, Polling, Step, confirm, reading, refuse, run_steps

# The credentials' copies (Secrets Manager)


@dataclass(frozen=True)
class Credential:
    """One database credential's two copies: Pulumi's primary in the home region and its replica."""

    what: str  # "master credential", "app credential"
    arns: Mapping[str, str]  # region -> that region's copy


def credentials(r: FailoverRecord) -> list[Credential]:
    """Master first: the app credential's rotation logs in as master."""
    return [Credential("master credential", r.master_secret_arns), Credential("app credential", r.app_secret_arns)]


def secret(aws: Aws, region: str, arn: str) -> dict[str, Any]:
    """DescribeSecret of a region's copy; empty when there is none (``ResourceNotFoundException``)."""
    try:
        return aws.call("secretsmanager", region, "describe_secret", SecretId=arn)
    except AwsError as exc:
        if exc.code == "ResourceNotFoundException":
            return {}
        raise


def replica_of(described: Mapping[str, Any], region: str) -> str:
    """The region whose primary this copy (in ``region``) replicates; empty for a primary or standalone secret.

    A replica reports its primary's Region as ``PrimaryRegion``; a secret that is its own primary
    reports its own Region, or nothing (see the module docstring)."""
    primary = str(described.get("PrimaryRegion") or "")
    return primary if primary != region else ""


def labelled(described: Mapping[str, Any], label: str) -> list[str]:
    """The version ids carrying a staging label (``VersionIdsToStages``)."""
    return [str(v) for v, stages in (described.get("VersionIdsToStages") or {}).items() if label in (stages or [])]


def current_version(described: Mapping[str, Any]) -> str:
    return next(iter(labelled(described, "AWSCURRENT")), "")


def rotation_under_way(described: Mapping[str, Any]) -> str:
    """The version a rotation is writing (AWSPENDING on a version that is not AWSCURRENT); empty if none."""
    current = labelled(described, "AWSCURRENT")
    return next((v for v in labelled(described, "AWSPENDING") if v not in current), "")


def rotates_with(described: Mapping[str, Any], function_arn: str) -> bool:
    return bool(described.get("RotationEnabled")) and described.get("RotationLambdaARN") == function_arn


# ReplicationStatus Status values (StatusType) of a replication that was asked for and has not ended.
UNDER_WAY = ("InProgress", "Pending")


def replication_to(described: Mapping[str, Any], region: str) -> dict[str, Any]:
    """A primary's ``ReplicationStatus`` entry for ``region`` (``Status``: InProgress, InSync, Failed, ...)."""
    return dict(next((s for s in described.get("ReplicationStatus") or [] if s.get("Region") == region), {}))


def split_credentials(aws: Aws, stack: str, env_suffix: str, regions: Sequence[str]) -> str | None:
    """Why ``up`` (and so a switchover, which ends with one) must wait: the other region's copies of the
    credentials are standalone since a failover, and Pulumi's replicas (``force_overwrite_replica_secret``)
    would overwrite their live values with the home region's older ones. None when they are replicas,
    when no record exists (the first ``up``) or it is an older format (no failover of this program
    split them; ``up`` writes it again). An AWS error is raised: the caller refuses (fails closed)."""
    name, record = parameter_name(env_suffix), None
    for region in regions:
        try:
            value = aws.call("ssm", region, "get_parameter", Name=name)["Parameter"]["Value"]
        except AwsError as exc:
            if exc.code == "ParameterNotFound":
                continue
            raise
        try:
            record = FailoverRecord.from_json(str(value))
        except FailoverRecordError:
            return None
        break
    if record is None:
        return None
    home = record.home_region
    standby = record.other(home)
    split = [
        c.what
        for c in credentials(record)
        if (d := secret(aws, standby, c.arns[standby])) and replica_of(d, standby) != home
    ]
    if not split:
        return None
    return (
        f"{standby}'s copies of the {' and '.join(split)} are standalone secrets since a failover, not replicas of "
        f"{home}'s: `up` would overwrite their live values with {home}'s older ones. Run "
        f"`./deploy failover {stack} --rejoin-secrets` first (it copies them home and makes them replicas again). "
        "Nothing was changed."
    )


# The credentials after a region-loss failover, and their rejoin

# How long a failover waits for the first rotation by the target's function (four steps, seconds each when
# the function works; Secrets Manager retries a failed one): longer means it does not work yet.
ROTATION_WAIT = 5 * 60.0


def take_over_credentials(
    r: FailoverRecord, aws: Aws, target: str, *, again: str, rejoin: str, polling: Polling
) -> list[Step]:
    """Failover away from the home region: the target's copies are read-only replicas of primaries in the
    lost region, so each is promoted and rotated by the target's own function (a full rotation at once
    proves that function). Failover to the home region needs none of it: its copies are the primaries.

    ``again`` runs the failover again, ``rejoin`` is the command that rejoins the credentials."""
    if target == r.home_region:
        return []
    return [
        step
        for c in credentials(r)
        for step in _take_over(c, r, aws, target, again=again, rejoin=rejoin, polling=polling)
    ]


def _take_over(
    c: Credential, r: FailoverRecord, aws: Aws, region: str, *, again: str, rejoin: str, polling: Polling
) -> list[Step]:
    home = r.home_region
    arn, function = c.arns[region], r.rotation_function_arns[region]
    then = f"run `{again}` again (then, once {home} answers, `{rejoin}` before any up)"

    def under_way() -> str | None:
        pending = rotation_under_way(secret(aws, region, arn))
        return f"{region}'s copy of the {c.what}: version {pending} is AWSPENDING (rotating)" if pending else None

    def rotate() -> None:
        found = secret(aws, region, arn)
        pending = rotation_under_way(found)
        if pending and not rotates_with(found, function):
            raise ActionError(
                f"{arn} carries a rotation begun in {home} before it was lost (version {pending} is AWSPENDING, "
                "not AWSCURRENT), and RotateSecret refuses to start another: see docs/standby-region.md, "
                "'A rotation caught by the region loss'"
            )
        if not pending:
            aws.call(
                "secretsmanager",
                region,
                "rotate_secret",
                SecretId=arn,
                RotationLambdaARN=function,
                RotationRules={"AutomaticallyAfterDays": r.rotation_days},
            )
        # RotateSecret only starts the rotation ("Configures and starts the asynchronous process"): the
        # function is proven once AWSCURRENT has moved and no version is left AWSPENDING.
        polling.until(f"the first rotation of {arn} by {region}'s function", under_way, timeout=ROTATION_WAIT)

    return [
        Step(
            f"promote {region}'s copy of the {c.what} to a standalone secret (StopReplicationToReplica): its "
            f"primary in {home} is out of reach, and a replica cannot rotate",
            lambda: aws.call("secretsmanager", region, "stop_replication_to_replica", SecretId=arn),
            f"{region} holds the writer and takes the traffic; its copy of the {c.what} ({arn}) is still a "
            f"read-only replica: fix the cause and {then}",
            done=lambda: bool(d := secret(aws, region, arn)) and not replica_of(d, region),
        ),
        Step(
            f"rotate {region}'s copy of the {c.what} with {region}'s function every {r.rotation_days} days, once now "
            f"(RotateSecret, {function})",
            rotate,
            f"{region}'s copy of the {c.what} ({arn}) is standalone and does not rotate yet: fix the cause and {then}",
            done=lambda: rotates_with(found := secret(aws, region, arn), function) and not rotation_under_way(found),
        ),
    ]


def rejoin_secrets(
    r: FailoverRecord, aws: Aws, *, stack: str, primary: str, again: str, yes: bool, polling: Polling
) -> None:
    """Once the home region answers again, BEFORE ``up``: each credential's standby copy, standalone since a
    failover, hands its value back to the home copy and becomes its replica again.

    ``r``: the failover record (ops/regions.py reads it); ``primary``: where the stack file says the writer
    is; ``again``: this command."""
    home = r.home_region
    standby = r.other(home)
    found: dict[str, tuple[dict[str, Any], dict[str, Any]]] = reading(
        lambda: {
            c.what: (secret(aws, home, c.arns[home]), secret(aws, standby, c.arns[standby])) for c in credentials(r)
        }
    )
    problems = []
    for c in credentials(r):
        at_home, away = found[c.what]
        for region, described in ((home, at_home), (standby, away)):
            if not described:
                problems.append(f"{region} has no copy of the {c.what} {c.arns[region]}: nothing was changed.")
        if at_home and replica_of(at_home, home):
            problems.append(
                f"{home}'s copy of the {c.what} is a replica of {replica_of(at_home, home)}'s: not a state a failover "
                "leaves, and not one this command undoes. Nothing was changed."
            )
    refuse(problems)
    todo = [c for c in credentials(r) if not _rejoined(found[c.what], home, standby)]
    if not todo:
        print(
            f"nothing to rejoin: {standby}'s copies of the master and app credentials are replicas of {home}'s, "
            "in sync."
        )
        return
    for c in credentials(r):
        if c not in todo:
            print(f"already done: {standby}'s copy of the {c.what} is a replica of {home}'s, InSync")
    steps = [step for c in todo for step in _rejoin(c, aws, r, polling, again)]
    whats = " and ".join(c.what for c in todo)
    confirm(
        f"rejoin-secrets {stack}: {standby}'s copies of the {whats} are standalone since a failover; copy their "
        f"current values home to {home}, then make them replicas of {home}'s again (before `./deploy up {stack}`)",
        steps,
        yes=yes,
    )
    run_steps(steps, again)
    print(f"done: {home}'s copies of the {whats} hold the values {standby}'s held, and {standby}'s are their replicas.")
    for c in todo:
        at_home, function = secret(aws, home, c.arns[home]), r.rotation_function_arns[home]
        if rotates_with(at_home, function):
            print(f"  {home}'s copy of the {c.what} rotates with {function} (RotationEnabled).")
        else:
            print(
                f"  note: {home}'s copy of the {c.what} does not rotate with {home}'s function {function} "
                f"(RotationEnabled {at_home.get('RotationEnabled')}, function "
                f"{at_home.get('RotationLambdaARN') or 'none'}): `./deploy refresh {stack}` then `./deploy up "
                f"{stack}` set it again (up alone trusts its state); this command leaves it."
            )
    print("next:")
    print(f"  1. ./deploy up {stack}: both sites, the DNS roles and the failover record follow the writer")
    if primary != home:
        print(f"  2. ./deploy switchover {stack}: the writer and the traffic back to {home}, when you choose")


def _rejoined(copies: tuple[Mapping[str, Any], Mapping[str, Any]], home: str, standby: str) -> bool:
    at_home, away = copies
    return replica_of(away, standby) == home and replication_to(at_home, standby).get("Status") == "InSync"


def _rejoin(c: Credential, aws: Aws, r: FailoverRecord, polling: Polling, again: str) -> list[Step]:
    home = r.home_region
    standby = r.other(home)
    home_arn, arn = c.arns[home], c.arns[standby]

    def replica() -> bool:
        return replica_of(secret(aws, standby, arn), standby) == home

    def rotating() -> str | None:
        pending = rotation_under_way(secret(aws, standby, arn))
        return (
            f"{standby}'s copy of the {c.what}: version {pending} is AWSPENDING (a rotation is under way)"
            if pending
            else None
        )

    def copied() -> bool:
        version = current_version(secret(aws, standby, arn))
        at_home = secret(aws, home, home_arn)
        return bool(version) and current_version(at_home) == version and not rotation_under_way(at_home)

    def copy_home() -> None:
        if pending := rotating():
            raise ActionError(f"{pending}: it began after the wait; nothing was copied")
        at_home = secret(aws, home, home_arn)
        # A scheduled rotation of the home copy, refused while the copies were split (the function's
        # guard), leaves AWSPENDING on an empty version; RotateSecret then takes "a previous rotation
        # request" for "still in progress" (RotateSecret API reference): the home copy would never
        # rotate again. No rotation of it runs now (refused until it has a replica): the label goes.
        if stale := rotation_under_way(at_home):
            aws.call(
                "secretsmanager",
                home,
                "update_secret_version_stage",
                SecretId=home_arn,
                VersionStage="AWSPENDING",
                RemoveFromVersionId=stale,
            )
        value = aws.call("secretsmanager", standby, "get_secret_value", SecretId=arn, VersionStage="AWSCURRENT")
        if "SecretString" not in value:
            raise ActionError(f"{arn} in {standby}: its AWSCURRENT version holds no SecretString")
        version, current = value["VersionId"], current_version(at_home)
        if version in (at_home.get("VersionIdsToStages") or {}) and version != current:
            # The home copy has that version already (it was replicated from there before the loss) but
            # its AWSCURRENT moved on: PutSecretValue ignores a version that exists with the same value
            # (API reference), so the label is moved instead.
            aws.call(
                "secretsmanager",
                home,
                "update_secret_version_stage",
                SecretId=home_arn,
                VersionStage="AWSCURRENT",
                MoveToVersionId=version,
                RemoveFromVersionId=current,
            )
            return
        aws.call(
            "secretsmanager",
            home,
            "put_secret_value",
            SecretId=home_arn,
            SecretString=value["SecretString"],
            ClientRequestToken=version,  # the same version id at home: a repeat is a no-op
        )

    def syncing() -> str | None:
        status = replication_to(secret(aws, home, home_arn), standby)
        state = str(status.get("Status") or "not listed")
        if state == "Failed":
            raise ActionError(
                f"{home} reports replication of {home_arn} to {standby} Failed: "
                f"{status.get('StatusMessage') or 'no message'}"
            )
        away = replica_of(secret(aws, standby, arn), standby)
        if state == "InSync" and away == home:
            return None
        return f"replication to {standby}: {state}; {standby}'s copy reports PrimaryRegion {away or standby}"

    kept = f"{standby}'s copy holds the live value: fix the cause and run `{again}` again (not `./deploy up`)"
    return [
        Step(
            f"wait until no rotation of {standby}'s copy of the {c.what} is under way (no version AWSPENDING but the "
            "AWSCURRENT one)",
            lambda: polling.until(f"the rotation of {arn} in {standby} to finish", rotating),
            f"nothing was changed: a rotation of {arn} has not finished; see {standby}'s rotation function's log and "
            f"the rotation-errors alarm, and run `{again}` again once it has",
            done=replica,
        ),
        Step(
            f"turn rotation off on {standby}'s copy of the {c.what} (CancelRotateSecret): from here on the home copy "
            "rotates",
            lambda: aws.call("secretsmanager", standby, "cancel_rotate_secret", SecretId=arn),
            kept,
            done=lambda: replica() or not secret(aws, standby, arn).get("RotationEnabled"),
        ),
        Step(
            f"copy its AWSCURRENT value home: a new AWSCURRENT version of {home}'s copy, with {standby}'s version id "
            "(PutSecretValue; a repeat is a no-op), or AWSCURRENT moved to that version where the home copy has it "
            "(UpdateSecretVersionStage); an AWSPENDING label a refused home rotation left is taken off",
            copy_home,
            kept,
            done=lambda: replica() or copied(),
        ),
        Step(
            f"replicate {home}'s copy over {standby}'s, encrypted with {standby}'s key (ReplicateSecretToRegions, "
            "ForceOverwriteReplicaSecret)",
            lambda: aws.call(
                "secretsmanager",
                home,
                "replicate_secret_to_regions",
                SecretId=home_arn,
                AddReplicaRegions=[{"Region": standby, "KmsKeyId": r.secrets_key_arns[standby]}],
                ForceOverwriteReplicaSecret=True,
            ),
            f"{home}'s copy holds the live value; {standby}'s is standalone and does not rotate: fix the cause and run "
            f"`{again}` again (not `./deploy up`)",
            # Under way once asked; a listing in another state may be what the promotion left (see above).
            done=lambda: replica() or replication_to(secret(aws, home, home_arn), standby).get("Status") in UNDER_WAY,
        ),
        Step(
            f"wait until {standby}'s copy of the {c.what} is a replica of {home}'s, InSync",
            lambda: polling.until(f"{standby}'s copy of {home_arn} to be InSync", syncing),
            f"replication to {standby} was requested: run `{again}` again, it waits for it",
        ),
    ]
