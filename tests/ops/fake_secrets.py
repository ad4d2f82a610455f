"""Secrets Manager as the simulated regions of test_regions.py answer it: each credential's copy in each region.

Pulumi declares each credential's primary in the home region (``aws:region``) and replicates it to the
standby. What the fake does follows the service model's documentation (botocore secretsmanager
2017-10-17): a replica reports its primary's region as ``PrimaryRegion`` and refuses to rotate;
``StopReplicationToReplica`` (called in the replica's region) promotes it; ``RotateSecret`` with a
function and rules turns rotation on and starts a rotation at once (an ``AWSPENDING`` version that
becomes ``AWSCURRENT`` a few looks later) and refuses while one is under way; ``CancelRotateSecret``
turns rotation off; ``PutSecretValue`` with a ``ClientRequestToken`` already used for the same value
does nothing, for another value fails; ``ReplicateSecretToRegions`` with ``ForceOverwriteReplicaSecret``
replaces a same-named secret in the region by a replica, ``InProgress`` a few looks, then ``InSync``.
Not documented, and chosen here: a promotion while the primary's region is down takes the region off
the primary's ``ReplicationStatus`` (the tests also try a stale ``InSync`` entry left behind)."""

from __future__ import annotations

import copy
import uuid
from typing import Any

HOME, STANDBY = "eu-west-1", "eu-central-1"
ACCOUNT = "123456789012"
MASTER = {
    r: f"arn:aws:secretsmanager:{r}:{ACCOUNT}:secret:fintech-prod-database-master-Ab3dEf" for r in (HOME, STANDBY)
}
APP = {r: f"arn:aws:secretsmanager:{r}:{ACCOUNT}:secret:fintech-prod/app/db-Gh8iJk" for r in (HOME, STANDBY)}
KEYS = {r: f"arn:aws:kms:{r}:{ACCOUNT}:key/{uuid.UUID(int=n)}" for n, r in enumerate((HOME, STANDBY), 1)}
FUNCTIONS = {r: f"arn:aws:lambda:{r}:{ACCOUNT}:function:fintech-prod-rotation-{r}" for r in (HOME, STANDBY)}
DAYS = 30
SECRET_MUTATIONS = (
    "stop_replication_to_replica",
    "rotate_secret",
    "cancel_rotate_secret",
    "put_secret_value",
    "replicate_secret_to_regions",
)


class FaultError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.code, self.message = code, message


class Copy:
    """One region's copy of a secret: its versions (id -> labels, value), rotation and replicas."""

    def __init__(self, region: str, arn: str) -> None:
        self.region, self.arn = region, arn
        self.source: Copy | None = None  # the primary this copy replicates
        self.stages: dict[str, list[str]] = {}
        self.values: dict[str, str] = {}
        self.rotation: dict[str, Any] = {}  # RotationEnabled, RotationLambdaARN, days
        self.replicas: dict[str, dict[str, Any]] = {}  # region -> ReplicationStatus entry (+ "looks")
        self.rotating = 0  # looks until a rotation under way finishes
        self.lagging: tuple[dict[str, list[str]], int] | None = None  # what DescribeSecret still shows, how often

    # what the copy shows: a replica its primary's versions and rotation

    def shown(self) -> Copy:
        return self.source or self

    def primary_region(self) -> str:
        return self.source.region if self.source else self.region

    def current(self) -> str:
        return next(v for v, labels in self.shown().stages.items() if "AWSCURRENT" in labels)

    def pending(self) -> str:
        shown = self.shown()
        return next((v for v, labels in shown.stages.items() if "AWSPENDING" in labels and v != self.current()), "")

    def add_version(self, version: str, value: str, label: str) -> None:
        self.stages[version], self.values[version] = [], value
        self.label(version, label)

    def label(self, version: str, label: str) -> None:
        """Moves ``label`` to ``version``; AWSCURRENT leaves AWSPREVIOUS on the version it left."""
        if label == "AWSCURRENT":
            old = next((v for v, labels in self.stages.items() if "AWSCURRENT" in labels), None)
            for labels in self.stages.values():
                if "AWSPREVIOUS" in labels:
                    labels.remove("AWSPREVIOUS")
            if old is not None:
                self.stages[old].remove("AWSCURRENT")
                self.stages[old].append("AWSPREVIOUS")
        for labels in self.stages.values():
            if label in labels:
                labels.remove(label)
        self.stages[version].append(label)
        self.stages = {v: labels for v, labels in self.stages.items() if labels}  # unlabelled: deprecated

    def finish_rotation(self) -> None:
        """The rotation function's finishSecret: AWSCURRENT moves to the pending version."""
        pending = self.pending()
        self.label(pending, "AWSCURRENT")
        self.stages[pending].remove("AWSPENDING")


def shown_status(status: dict[str, Any]) -> dict[str, Any]:
    """A ReplicationStatus entry without the fake's own bookkeeping."""
    return {k: v for k, v in status.items() if k not in ("looks", "fails")}


def version_id(n: int) -> str:
    """A version id as Secrets Manager makes them (a UUID: VersionId is 32-64 characters)."""
    return str(uuid.UUID(int=n))


class SecretsManager:
    """The operations ops/credentials.py calls, on the copies of the master and app credentials."""

    def __init__(self) -> None:
        self.copies: dict[tuple[str, str], Copy] = {}
        self.versions_made = 0
        self.report_own_region = True  # a primary's PrimaryRegion: its own region (False: left out)
        self.answers_lost: set[str] = set()  # operations done at AWS whose answer does not arrive, once
        self.replication_fails: dict[str, str] = {}  # region -> StatusMessage of the next replication there
        for name, arns in (("master", MASTER), ("app", APP)):
            primary, replica = Copy(HOME, arns[HOME]), Copy(STANDBY, arns[STANDBY])
            first = self.new_version()
            primary.stages[first] = ["AWSCURRENT"]
            primary.values[first] = f"SECRET-VALUE-{name}-1"
            primary.rotation = {"RotationEnabled": True, "RotationLambdaARN": FUNCTIONS[HOME], "days": DAYS}
            primary.replicas[STANDBY] = {"Region": STANDBY, "KmsKeyId": KEYS[STANDBY], "Status": "InSync"}
            replica.source = primary
            self.copies[HOME, arns[HOME]] = primary
            self.copies[STANDBY, arns[STANDBY]] = replica

    def new_version(self) -> str:
        self.versions_made += 1
        return version_id(self.versions_made)

    def copy_of(self, region: str, arn: str) -> Copy:
        found = self.copies.get((region, arn))
        if found is None:
            raise FaultError("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
        return found

    def _own(self, region: str, arn: str) -> Copy:
        """A copy this region may change: not a replica."""
        found = self.copy_of(region, arn)
        if found.source is not None:
            raise FaultError("InvalidRequestException", "Operation not permitted on a replica secret.")
        return found

    # states the tests set up

    def split(self, rotated: bool = True) -> None:
        """What a region-loss failover leaves: the standby's copies promoted, rotating with its function
        and (``rotated``) rotated there once since, the home copies as they were."""
        for arns in (MASTER, APP):
            self.promote(self.copies[STANDBY, arns[STANDBY]])
            away = self.copies[STANDBY, arns[STANDBY]]
            away.rotation = {"RotationEnabled": True, "RotationLambdaARN": FUNCTIONS[STANDBY], "days": DAYS}
            if rotated:
                away.add_version(self.new_version(), f"SECRET-VALUE-rotated-in-{STANDBY}", "AWSPENDING")
                away.finish_rotation()

    def promote(self, replica: Copy) -> None:
        primary = replica.source
        assert primary is not None
        replica.stages = copy.deepcopy(primary.stages)
        replica.values = dict(primary.values)
        replica.rotation = dict(primary.rotation)  # the metadata it had (the home function)
        replica.source = None
        primary.replicas.pop(replica.region, None)

    def rotation_started(self, found: Copy, looks: int = 2) -> None:
        found.add_version(self.new_version(), f"SECRET-VALUE-rotated-{self.versions_made}", "AWSPENDING")
        found.rotating = looks

    def values_of(self) -> set[str]:
        return {value for c in self.copies.values() for value in c.values.values()}

    # the operations

    def describe_secret(self, region: str, **params: Any) -> dict[str, Any]:
        found = self.copy_of(region, params["SecretId"])
        shown = found.shown()
        if shown.rotating:
            shown.rotating -= 1
            if not shown.rotating:
                shown.finish_rotation()
        for status in found.replicas.values():
            if status.get("looks"):
                status["looks"] -= 1
                if not status["looks"]:
                    failed = status.pop("fails", None)
                    status.update({"Status": "Failed", "StatusMessage": failed} if failed else {"Status": "InSync"})
        stages = shown.stages
        if found.lagging is not None:
            stages, looks = found.lagging
            found.lagging = (stages, looks - 1) if looks > 1 else None
        answer: dict[str, Any] = {
            "ARN": found.arn,
            "Name": found.arn.split(":secret:")[1],
            "KmsKeyId": KEYS[region],
            "VersionIdsToStages": copy.deepcopy(stages),
        }
        if found.source or self.report_own_region:
            answer["PrimaryRegion"] = found.primary_region()
        if shown.rotation:
            answer["RotationEnabled"] = shown.rotation["RotationEnabled"]
            answer["RotationLambdaARN"] = shown.rotation["RotationLambdaARN"]
            answer["RotationRules"] = {"AutomaticallyAfterDays": shown.rotation["days"]}
        if found.replicas:
            answer["ReplicationStatus"] = [shown_status(status) for status in found.replicas.values()]
        return answer

    def stop_replication_to_replica(self, region: str, **params: Any) -> dict[str, Any]:
        found = self.copy_of(region, params["SecretId"])
        if found.source is None:
            raise FaultError("InvalidRequestException", "The secret is not a replica.")
        self.promote(found)
        return {"ARN": found.arn}

    def rotate_secret(self, region: str, **params: Any) -> dict[str, Any]:
        assert "RotateImmediately" not in params, "RotateImmediately=false runs the test-only path"
        found = self._own(region, params["SecretId"])
        function = params["RotationLambdaARN"]
        assert function.split(":")[3] == region, "the rotation function must be in the secret's region"
        if found.pending():
            raise FaultError("InvalidRequestException", "A previous rotation isn't complete.")
        found.rotation = {
            "RotationEnabled": True,
            "RotationLambdaARN": function,
            "days": params["RotationRules"]["AutomaticallyAfterDays"],
        }
        self.rotation_started(found)
        return {"ARN": found.arn, "Name": found.arn.split(":secret:")[1], "VersionId": found.pending()}

    def cancel_rotate_secret(self, region: str, **params: Any) -> dict[str, Any]:
        found = self._own(region, params["SecretId"])
        found.rotation["RotationEnabled"] = False
        return {"ARN": found.arn, "Name": found.arn.split(":secret:")[1]}

    def get_secret_value(self, region: str, **params: Any) -> dict[str, Any]:
        found = self.copy_of(region, params["SecretId"])
        assert params.get("VersionStage") == "AWSCURRENT"
        current = found.current()
        return {
            "ARN": found.arn,
            "Name": found.arn.split(":secret:")[1],
            "VersionId": current,
            "SecretString": found.shown().values[current],
            "VersionStages": ["AWSCURRENT"],
        }

    def put_secret_value(self, region: str, **params: Any) -> dict[str, Any]:
        found = self._own(region, params["SecretId"])
        token, value = params["ClientRequestToken"], params["SecretString"]
        if token in found.values:
            if found.values[token] != value:
                raise FaultError("ResourceExistsException", "You can't modify an existing version.")
        else:
            before = copy.deepcopy(found.stages)
            found.add_version(token, value, "AWSCURRENT")
            found.lagging = (before, 2) if "put_secret_value" in self.answers_lost else None
        self._lose_answer("put_secret_value")
        return {"ARN": found.arn, "VersionId": token, "VersionStages": found.stages[token]}

    def update_secret_version_stage(self, region: str, **params: Any) -> dict[str, Any]:
        """UpdateSecretVersionStage: a label attached elsewhere moves only with RemoveFromVersionId naming
        where it is (API reference); RemoveFromVersionId alone takes the label off."""
        found = self._own(region, params["SecretId"])
        label, to, off = params["VersionStage"], params.get("MoveToVersionId"), params.get("RemoveFromVersionId")
        holder = next((v for v, labels in found.stages.items() if label in labels), None)
        if off is not None and off != holder:
            raise FaultError("InvalidParameterException", f"{label} is not attached to version {off}")
        if to is None:
            assert off is not None
            found.stages[off].remove(label)
            found.stages = {v: labels for v, labels in found.stages.items() if labels or v in found.values}
            return {"ARN": found.arn, "Name": found.arn.split(":secret:")[1]}
        if holder is not None and holder != to and off is None:
            raise FaultError("InvalidParameterException", "the label is attached to another version")
        found.label(to, label)
        return {"ARN": found.arn, "Name": found.arn.split(":secret:")[1]}

    def replicate_secret_to_regions(self, region: str, **params: Any) -> dict[str, Any]:
        found = self._own(region, params["SecretId"])
        for add in params["AddReplicaRegions"]:
            there, key = add["Region"], add["KmsKeyId"]
            assert key == KEYS[there], "the replica is encrypted with its region's secrets key"
            arn = found.arn.replace(f":{region}:", f":{there}:")
            existing = self.copies.get((there, arn))
            if existing is not None and existing.source is None and not params.get("ForceOverwriteReplicaSecret"):
                message = "Secret with this name already exists in this region"
                found.replicas[there] = {"Region": there, "KmsKeyId": key, "Status": "Failed", "StatusMessage": message}
                continue
            if there in self.replication_fails:
                message = self.replication_fails.pop(there)
                found.replicas[there] = {"Region": there, "KmsKeyId": key, "Status": "InProgress"}
                found.replicas[there] |= {"looks": 1, "fails": message}
                continue
            replica = Copy(there, arn)
            replica.source = found
            self.copies[there, arn] = replica
            found.replicas[there] = {"Region": there, "KmsKeyId": key, "Status": "InProgress", "looks": 2}
        return {
            "ARN": found.arn,
            "ReplicationStatus": [shown_status(status) for status in found.replicas.values()],
        }

    def _lose_answer(self, operation: str) -> None:
        if operation in self.answers_lost:
            self.answers_lost.discard(operation)
            raise FaultError("InternalServiceError", "the request was processed; its answer was lost")
