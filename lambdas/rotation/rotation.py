"""Secrets Manager rotation of the app's MySQL credential (alternating users) and of the master's (single user).

The secret's AWSCURRENT value decides the strategy (AWS's two, docs.aws.amazon.com/secretsmanager/
latest/userguide/rotation-strategy.html):

- Alternating users, a secret with ``masterarn`` (the app's). Two users share the app's
  privileges, ``<name>`` and ``<name>_clone``. Each rotation gives the user that is *not*
  current a new password, set with the master credential, and then makes it current, so the
  credential the app holds keeps working until the rotation after next: no request fails
  mid-rotation.
- Single user, a secret without ``masterarn`` (the self-managed master secret of an Aurora
  global database, where RDS cannot manage it): the user logs in and changes its own password.
  Its old password stops working at setSecret, before finishSecret publishes the new one; only
  this function and operators use it, and they retry.

Events:
- Secrets Manager: ``{"SecretId", "ClientRequestToken", "Step"}`` with Step one of
  createSecret, setSecret, testSecret, finishSecret. Each step is idempotent.
- The Pulumi program, once per initial version and again whenever the database's host changes:
  ``{"action": "bootstrap", "SecretId", "host", "port"}`` creates the schema and the app user with
  a password generated here (Secrets Manager ``GetRandomPassword``), then publishes it as the new
  AWSCURRENT. The version Pulumi wrote (label ``PULUMI_BOOTSTRAP``) carries connection fields
  only: no password that Pulumi's state holds is ever a login. ``host`` and ``port`` (both or
  neither) are where the published secret must point: the program's current database, which the
  version Pulumi wrote stops following once created (see `bootstrap`). Uses the master credential
  (``masterarn``). Refused for a single-user secret: rotation alone manages that one.

The app secret's setSecret and bootstrap log in as the master. The master secret may be mid-rotation
(both rotations start on the first deploy and run every 30 days): between its setSecret and
finishSecret the database has its AWSPENDING password, not its AWSCURRENT one. So the master's
AWSCURRENT is tried first, then its AWSPENDING, then its AWSPREVIOUS, each only if it is the same
login as AWSCURRENT (see `connect_as_master`).

Passwords are never logged. The database is reached over TLS with the server certificate and
host name verified against the RDS CA bundle shipped next to this file (``DB_CA_BUNDLE``
overrides the path); ``DB_TLS=disabled`` exists only for the local test server.

Where a secret names an Aurora global database's writer endpoint, the function connects to the
current writer cluster's endpoint instead, found through the RDS API (see `connect_host`): an
Aurora instance's certificate names its cluster's endpoints and its own, and no AWS document says
it names the global writer endpoint, which full verification would then refuse.

Two regions (sites), one function each. The secrets' primaries live in the home region, replicated
to the standby; the home function rotates the primaries. After a region-loss failover, ``./deploy
failover`` promotes the standby's replicas to standalone secrets and attaches the standby's function
to them; ``./deploy failover <stack> --rejoin-secrets`` later makes the home copies primary again.
So where it runs matters:

- The master secret is read in the function's own region (`master_secret_arn`): ``masterarn`` names
  the home region's copy, and a copy in another region has the same ARN but for its region field.
- Before every rotation step (never the bootstrap), a function that has a peer region
  (``PEER_REGION``) checks that its copy is still the one that counts (`check_authority`): when the
  home region comes back after a failover, its stale standalone copies are still scheduled to rotate,
  and rotating them would give database users passwords the live copies in the standby do not know.

Environment: ``AWS_REGION`` (set by Lambda), ``PEER_REGION`` (the other region of a two-region stack;
absent in a one-region stack), and optionally ``SECRETS_MANAGER_ENDPOINT``, ``RDS_ENDPOINT``,
``DB_TLS``, ``DB_CA_BUNDLE``, ``EXCLUDE_CHARACTERS``.

What the function's role needs for this, besides rotating and reading its secrets in its own region
and the RDS lookups (`connect_host`):
- ``secretsmanager:DescribeSecret`` on the peer region's copy of every secret it rotates (the
  rotated secret's ARN with the region field changed: ``arn:<partition>:secretsmanager:
  <PEER_REGION>:<account>:secret:<name>-<suffix>``);
- ``secretsmanager:DescribeSecret`` and ``secretsmanager:GetSecretValue`` on the master secret's
  copy in the function's own region (``masterarn`` with the region field set to ``AWS_REGION``),
  and ``kms:Decrypt`` on the key of that copy through Secrets Manager in that region;
- a way to ``secretsmanager.<PEER_REGION>.amazonaws.com`` (an interface endpoint serves its own
  region only: through NAT). A function that cannot reach it takes the peer region for lost and
  rotates.
"""

from __future__ import annotations

import json
import logging
import os
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import boto3
import botocore.config
import botocore.exceptions
import pymysql

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
CONNECTION_FIELDS = ("engine", "host", "port", "username", "dbname", "masterarn")
REQUIRED_FIELDS = (*CONNECTION_FIELDS, "password")
# A single-user secret (AWS's format for RDS MySQL): no schema, no master secret.
SINGLE_USER_FIELDS = ("engine", "host", "port", "username", "password")
# Where and as whom a single-user secret logs in: a rotation changes only the password.
LOGIN_FIELDS = ("host", "port", "username")
# A master secret: RDS-managed ones hold only these; the self-managed one is a single-user secret.
MASTER_FIELDS = ("username", "password")
# The master's other passwords, after AWSCURRENT: AWSPENDING is the database's between the master
# rotation's setSecret and finishSecret; AWSPREVIOUS after a restore or failover lost the last change.
MASTER_FALLBACK_STAGES = ("AWSPENDING", "AWSPREVIOUS")
# The version the Pulumi program wrote keeps this label for good (see components/secrets.py).
BOOTSTRAP_STAGE = "PULUMI_BOOTSTRAP"
# Marks the version bootstrap staged but has not yet made current (a retry picks it up).
BOOTSTRAP_PENDING_STAGE = "PULUMI_BOOTSTRAP_PENDING"
# Bootstrap's version id is derived from the version it replaces, so every retry (or a second,
# concurrent invocation) stages the same version instead of a second password.
_BOOTSTRAP_TOKENS = uuid.UUID("0b5e3c0e-5d7c-4c8e-9a41-6f1d2c3b4a50")
# AWS's RDS CA certificates (rds-ca-rsa2048-g1 and the others), shipped in the function's zip:
# Lambda's base images do not carry them. See scripts/refresh-rds-ca-bundle.sh.
DEFAULT_CA_BUNDLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rds-ca-bundle.pem")
CLONE_SUFFIX = "_clone"
# Data access only: schema changes go through migrations run by another identity.
APP_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
MAX_MYSQL_USER_LENGTH = 32
# Characters that break connection strings or shell quoting in consumers.
EXCLUDE_CHARACTERS = os.environ.get("EXCLUDE_CHARACTERS", "/@\"'\\`:;%")
_IDENTIFIER = re.compile(r"^[A-Za-z0-9_]{1,64}$")
# An Aurora global database's writer endpoint, "<global database name>.global-<id>.global.rds.
# amazonaws.com" (Aurora User Guide, "Connecting to Amazon Aurora Global Database": the first part
# of the writer endpoint's name is the global database's name). Host names are matched lower-cased.
GLOBAL_WRITER_ENDPOINT = re.compile(
    r"^(?P<global_cluster>[a-z][a-z0-9-]*)\.global-[a-z0-9]+\.global\.rds\.amazonaws\.com$"
)
# The peer region's Secrets Manager, asked before each step (`check_authority`): a lost region
# must not hold a rotation for long (at most 2 attempts of 3 s to connect and 5 s to answer).
PEER_CLIENT_CONFIG = botocore.config.Config(
    connect_timeout=3, read_timeout=5, retries={"mode": "standard", "total_max_attempts": 2}
)
# What a peer region that cannot be reached raises: taken for a lost region (`check_authority`).
# botocore.exceptions: EndpointConnectionError (name resolution or connection refused) and
# ConnectTimeoutError are ConnectionErrors, ReadTimeoutError and ConnectionClosedError HTTPClientErrors.
_PEER_UNREACHABLE = (
    botocore.exceptions.EndpointConnectionError,
    botocore.exceptions.ConnectTimeoutError,
    botocore.exceptions.ReadTimeoutError,
    botocore.exceptions.ConnectionClosedError,
)
REJOIN_COMMAND = "./deploy failover <stack> --rejoin-secrets"
# Lookups that fail with these are a host this function cannot resolve (one RotationError).
_LOOKUP_ERRORS = (
    botocore.exceptions.BotoCoreError,
    botocore.exceptions.ClientError,
    LookupError,
    TypeError,
    ValueError,
)


class RotationError(RuntimeError):
    """A step cannot complete; Secrets Manager retries the step later."""


class HostResolver:
    """Where this invocation connects for each host a secret names (`connect_host`), and the
    writer cluster behind a global writer endpoint (`writer_cluster`), each looked up once per
    invocation: a switchover or failover between two invocations is followed."""

    def __init__(self, rds: Any = None) -> None:
        self._rds = rds
        self._writers: dict[str, str] = {}
        self._resolved: dict[str, str] = {}

    def writer_cluster(self, host: str) -> str | None:
        """The ARN of the writer cluster of the global database whose writer endpoint ``host``
        is (DescribeGlobalClusters), or None for any other host."""
        global_cluster = _global_cluster(host)
        return None if global_cluster is None else self._writer(global_cluster, host)

    def __call__(self, host: str) -> str:
        if host not in self._resolved:
            self._resolved[host] = self._connect_host(host)
        return self._resolved[host]

    def _writer(self, global_cluster: str, host: str) -> str:
        if global_cluster not in self._writers:
            try:
                self._writers[global_cluster] = _writer_cluster_arn(_rds(self._rds, None), global_cluster)
            except _LOOKUP_ERRORS as exc:
                raise _unresolvable(global_cluster, host, exc) from None
        return self._writers[global_cluster]

    def _connect_host(self, host: str) -> str:
        global_cluster = _global_cluster(host)
        if global_cluster is None:
            return host
        writer = self._writer(global_cluster, host)
        try:
            (cluster,) = _rds(self._rds, arn_region(writer)).describe_db_clusters(DBClusterIdentifier=writer)[
                "DBClusters"
            ]
            endpoint = cluster["Endpoint"]
            if not isinstance(endpoint, str) or not endpoint:
                raise ValueError("no endpoint")
        except _LOOKUP_ERRORS as exc:
            raise _unresolvable(global_cluster, host, exc) from None
        logger.info("connecting to %s, the writer cluster of global database %s", endpoint, global_cluster)
        return endpoint


# The resolver of the running invocation (lambda_handler sets it; outside one, a fresh default).
_RESOLVER: ContextVar[HostResolver | None] = ContextVar("rotation_host_resolver", default=None)


def lambda_handler(
    event: dict[str, Any], context: object, client: Any = None, rds: Any = None, peer: Any = None
) -> dict[str, Any] | None:
    """``client`` (Secrets Manager), ``rds`` (one RDS client for every region) and ``peer`` (Secrets
    Manager in ``PEER_REGION``, see `check_authority`) are for tests: None makes the real ones."""
    client = client or boto3.client("secretsmanager", endpoint_url=os.environ.get("SECRETS_MANAGER_ENDPOINT"))
    resolver = _RESOLVER.set(HostResolver(rds))
    try:
        return _handle(event, client, peer)
    finally:
        _RESOLVER.reset(resolver)


def peer_client(region: str) -> Any:
    """Secrets Manager in the peer region, quick to give up (`PEER_CLIENT_CONFIG`)."""
    return boto3.client("secretsmanager", region_name=region, config=PEER_CLIENT_CONFIG)


def _handle(event: dict[str, Any], client: Any, peer: Any = None) -> dict[str, Any] | None:
    if not isinstance(event, dict):
        raise ValueError("event must be a JSON object")
    if event.get("action") == "bootstrap":
        return bootstrap(client, _required(event, "SecretId"), target=_bootstrap_target(event))

    arn = _required(event, "SecretId")
    token = _required(event, "ClientRequestToken")
    step = _required(event, "Step")
    if step not in STEPS:
        raise ValueError(f"unknown rotation step {step!r}; expected one of {', '.join(STEPS)}")

    metadata = client.describe_secret(SecretId=arn)
    if not metadata.get("RotationEnabled"):
        raise ValueError(f"secret {arn} is not enabled for rotation")
    versions = metadata.get("VersionIdsToStages", {})
    if token not in versions:
        raise ValueError(f"secret version {token} has no stage for rotation of secret {arn}")
    if "AWSCURRENT" in versions[token]:
        logger.info("%s: version %s is already AWSCURRENT for %s", step, token, arn)
        return None
    if "AWSPENDING" not in versions[token]:
        raise ValueError(f"secret version {token} is not staged AWSPENDING for rotation of secret {arn}")

    peer_region = os.environ.get("PEER_REGION")
    if peer_region:
        check_authority(client, str(metadata.get("ARN") or arn), peer_region, peer or peer_client(peer_region))

    single_user = is_single_user(client, arn)
    logger.info(
        "%s: starting for %s version %s (%s)", step, arn, token, "single user" if single_user else "alternating"
    )
    if step == "createSecret":
        create_secret(client, arn, token, single_user=single_user)
    elif step == "setSecret":
        (set_own_password if single_user else set_secret)(client, arn, token)
    elif step == "testSecret":
        test_secret(client, arn, token, single_user=single_user)
    else:
        finish_secret(client, arn, token)
    logger.info("%s: done for %s version %s", step, arn, token)
    return None


def _required(event: dict[str, Any], key: str) -> str:
    value = event.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"event is missing {key}")
    return value


def _bootstrap_target(event: dict[str, Any]) -> dict[str, Any] | None:
    """The bootstrap event's ``host`` and ``port`` (both or neither): where the secret must point."""
    if "host" not in event and "port" not in event:
        return None
    host, port = event.get("host"), event.get("port")
    if not isinstance(host, str) or not re.fullmatch(r"[A-Za-z0-9.-]{1,253}", host):
        raise ValueError("bootstrap event's host must be a host name (and comes with a port)")
    if isinstance(port, str) and port.isdigit():
        port = int(port)
    if isinstance(port, float) and port.is_integer():
        port = int(port)  # JSON numbers may arrive as 3306.0
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError("bootstrap event's port must be a TCP port (and comes with a host)")
    return {"host": host, "port": port}


# --------------------------------------------------------------------------- which copy rotates


def check_authority(client: Any, arn: str, peer_region: str, peer: Any) -> None:
    """Raise RotationError unless this region's copy ``arn`` is the one to rotate, asking the
    peer region's Secrets Manager (``peer``) about its copy of the secret.

    The peer's copy has this ARN with the region field changed (a replica's ARN "is the same as
    the original primary secret except the Region is changed", StopReplicationToReplica API
    reference; a promoted replica keeps it). The answer's shape, from botocore's service model
    (botocore/data/secretsmanager/2017-10-17/service-2.json, DescribeSecretResponse, checked with
    botocore 1.44): ``PrimaryRegion``, a string, "The Region the secret is in. If a secret is
    replicated to other Regions, the replicas are listed in ReplicationStatus" (for a replica, its
    primary's region); ``ReplicationStatus``, a list of {Region, KmsKeyId, Status (InSync, Failed,
    InProgress, Pending, Detached), StatusMessage, LastAccessedDate}, the replicas of a primary,
    not needed here; and "Secrets Manager only returns fields that have a value" (DescribeSecret),
    so a copy without replicas may have no ``PrimaryRegion``. The copy there is:

    - a replica of this copy (``PrimaryRegion`` is this function's region): rotate;
    - not there (ResourceNotFoundException) or the region cannot be reached (`_PEER_UNREACHABLE`):
      rotate, with a warning: the peer region is lost, which is when the standby rotates;
    - anything else (standalone, or primary itself): two standalone copies exist since a failover.
      Rotate only when the secret's host is an Aurora global database's writer endpoint whose
      writer cluster is in this function's region (`HostResolver.writer_cluster`: the lookup the
      connection itself reuses); otherwise the copy that rotates is the other one.

    Any other error (AccessDeniedException, throttling past the retries...) refuses: rotating a
    superseded copy breaks every client of the live one, and Secrets Manager retries a step.
    """
    region = os.environ.get("AWS_REGION")
    if not region:
        raise RotationError("AWS_REGION is not set: cannot tell this copy's region from the peer's")
    if peer_region == region:
        raise RotationError(f"PEER_REGION is this function's own region ({region}): it must name the other region")
    peer_arn = arn_in_region(arn, peer_region)
    try:
        described = peer.describe_secret(SecretId=peer_arn)
    except botocore.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "?")
        if code != "ResourceNotFoundException":
            raise RotationError(
                f"cannot tell whether {arn} may rotate: DescribeSecret of its copy in {peer_region} failed with "
                f"{code}; refusing to rotate"
            ) from None
        logger.warning("%s has no copy in %s (%s): rotating this copy", arn, peer_region, code)
        return
    except _PEER_UNREACHABLE as exc:
        logger.warning(
            "cannot reach Secrets Manager in %s (%s): taking that region for lost and rotating %s",
            peer_region,
            type(exc).__name__,
            arn,
        )
        return
    except botocore.exceptions.BotoCoreError as exc:
        raise RotationError(
            f"cannot tell whether {arn} may rotate: DescribeSecret of its copy in {peer_region} failed "
            f"({type(exc).__name__}); refusing to rotate"
        ) from None

    if described.get("PrimaryRegion") == region:
        return  # the peer's copy is this one's replica: this is the primary
    host = json.loads(client.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"]).get("host")
    resolver = _RESOLVER.get() or HostResolver()
    writer = resolver.writer_cluster(host) if isinstance(host, str) else None
    both = (
        f"both {arn} and its copy in {peer_region} are standalone secrets (the copy there names primary region "
        f"{described.get('PrimaryRegion') or 'none'}), as after a failover"
    )
    if writer is None:
        raise RotationError(
            f"{both}, and this secret's host {host!r} is not an Aurora global database's writer endpoint, so which "
            f"copy is live cannot be told; refusing to rotate. Run `{REJOIN_COMMAND}` to rejoin the copies."
        )
    if arn_region(writer) != region:
        raise RotationError(
            f"this copy was superseded by the copy in {peer_region} since a failover: {both}, and the global "
            f"database's writer {writer} is not in {region}; refusing to rotate. Run `{REJOIN_COMMAND}` to "
            "rejoin the copies."
        )
    logger.warning(
        "%s has a standalone copy in %s too; rotating this one: the global database's writer %s is in %s",
        arn,
        peer_region,
        writer,
        region,
    )


def arn_region(arn: str) -> str:
    """The region field of a regional ARN (``arn:partition:service:region:account:resource``)."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[3]:
        raise ValueError(f"{arn!r} is not a regional ARN")
    return parts[3]


def arn_in_region(arn: str, region: str) -> str:
    """``arn`` with its region field set to ``region``: a secret's copy there."""
    arn_region(arn)
    parts = arn.split(":", 5)
    parts[3] = region
    return ":".join(parts)


def master_secret_arn(app_secret: dict[str, Any]) -> str:
    """The master secret's copy in this function's region (``AWS_REGION``).

    ``masterarn`` names the home region's copy; a function in the other region (the standby's,
    after a failover promoted its replicas) reads its own region's copy, whose ARN differs only
    in the region field. A name (no ARN) already resolves in the function's region.
    """
    arn = str(app_secret["masterarn"])
    region = os.environ.get("AWS_REGION")
    if not region or not arn.startswith("arn:"):
        return arn
    return arn if arn_region(arn) == region else arn_in_region(arn, region)


# --------------------------------------------------------------------------- steps


def create_secret(client: Any, arn: str, token: str, *, single_user: bool) -> None:
    """Stage a new password, unless already staged: for the user that is not current, or
    (single user) for the same user."""
    fields = SINGLE_USER_FIELDS if single_user else REQUIRED_FIELDS
    current = get_secret(client, arn, "AWSCURRENT", fields=fields)
    try:
        get_secret(client, arn, "AWSPENDING", token, fields=fields)
        logger.info("createSecret: a pending version already exists for %s", arn)
        return
    except client.exceptions.ResourceNotFoundException:
        pass
    pending = dict(current, password=new_password(client))
    if not single_user:
        pending["username"] = alternate_username(current["username"])
    client.put_secret_value(
        SecretId=arn, ClientRequestToken=token, SecretString=json.dumps(pending), VersionStages=["AWSPENDING"]
    )
    logger.info("createSecret: staged a new password for user %s", pending["username"])


def set_secret(client: Any, arn: str, token: str) -> None:
    """Give the pending user its new password (creating the user on first use)."""
    current = get_secret(client, arn, "AWSCURRENT")
    pending = get_secret(client, arn, "AWSPENDING", token)
    # The master credential must only ever be presented to the database this secret is for.
    _refuse_other_target(pending, current, ("host", "port", "dbname", "masterarn"))

    existing = connect(pending)
    if existing is not None:
        existing.close()
        logger.info("setSecret: user %s already has the pending password", pending["username"])
        return

    with connect_as_master(client, current) as master:
        ensure_app_user(master, pending["username"], pending["password"], pending["dbname"])
    logger.info("setSecret: set the pending password for user %s", pending["username"])


def set_own_password(client: Any, arn: str, token: str) -> None:
    """Single user: log in as the user and change its own password to the pending one.

    It logs in with the first password the database accepts, among those AWS's single-user
    function tries (SecretsManagerRDSMySQLRotationSingleUser, aws-samples/aws-secrets-manager-
    rotation-lambdas): AWSCURRENT; AWSPREVIOUS, for a database that lost the last change (a
    restore, or a global database failover, which "can result in a loss of write transaction data",
    RDS API FailoverGlobalCluster); AWSPENDING last, accepted only when an earlier attempt already
    set it, so a retry changes nothing.
    """
    current = get_secret(client, arn, "AWSCURRENT", fields=SINGLE_USER_FIELDS)
    pending = get_secret(client, arn, "AWSPENDING", token, fields=SINGLE_USER_FIELDS)
    # No password of this secret is ever presented to another host, nor used to change another user.
    _refuse_other_target(pending, current, LOGIN_FIELDS)
    candidates = [
        ("AWSCURRENT", current),
        *_same_login_versions(client, arn, pending, ("AWSPREVIOUS",), fields=SINGLE_USER_FIELDS),
        ("AWSPENDING", pending),
    ]

    for stage, secret in candidates:
        conn = connect(dict(pending, password=secret["password"]))
        if conn is None:
            continue
        with conn:
            if stage != "AWSPENDING":
                _alter_own_password(conn, pending["username"], pending["password"])
        logger.info("setSecret: user %s has the pending password (logged in with %s)", pending["username"], stage)
        return
    raise RotationError(
        f"cannot log in to {pending['host']} as {pending['username']} with the AWSCURRENT, AWSPREVIOUS or "
        "AWSPENDING password"
    )


def test_secret(client: Any, arn: str, token: str, *, single_user: bool) -> None:
    """Prove the pending credential logs in (and, for the app, can use its schema)."""
    pending = get_secret(
        client, arn, "AWSPENDING", token, fields=SINGLE_USER_FIELDS if single_user else REQUIRED_FIELDS
    )
    with _connect_or_raise(pending, database=pending.get("dbname")) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchall()
    logger.info("testSecret: user %s logs in with the pending password", pending["username"])


def finish_secret(client: Any, arn: str, token: str) -> None:
    """Make the pending version current; the old one stays valid as AWSPREVIOUS."""
    metadata = client.describe_secret(SecretId=arn)
    current_version = next(
        (version for version, stages in metadata["VersionIdsToStages"].items() if "AWSCURRENT" in stages), None
    )
    if current_version == token:
        logger.info("finishSecret: version %s is already AWSCURRENT", token)
        return
    client.update_secret_version_stage(
        SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=token, RemoveFromVersionId=current_version
    )
    logger.info("finishSecret: version %s is now AWSCURRENT (was %s)", token, current_version)


def bootstrap(client: Any, arn: str, target: dict[str, Any] | None = None) -> dict[str, Any]:
    """Create the app schema and user and publish their first password; safe to repeat.

    The version Pulumi wrote has no password (and on stacks made before that rule, one that
    Pulumi's state holds): bootstrap never uses a password from it. It stages a generated one
    under a version id derived from that version, sets it on the database, checks it logs in,
    and only then moves AWSCURRENT to it. A retry after a failure at any point finds the staged
    version and carries on; once AWSCURRENT has a generated password, bootstrap only brings the
    database in line with it (it never resets a rotated password).

    ``target`` (``host`` and ``port``, from the program) is where the secret must point; None
    keeps AWSCURRENT's. Everything connects there, and what bootstrap publishes names it: the
    first password, or, already bootstrapped and pointing elsewhere, a new version with the same
    user and password (set there first if that database lacks it) under a version id derived
    from the current version and the target, so a retry publishes the same one. That deliberate
    change is the only way a password reaches a host other than the one it was set for; it waits
    for a rotation in progress to finish (its pending version names the old host).
    """
    stages = client.describe_secret(SecretId=arn).get("VersionIdsToStages", {})
    current_version = next((v for v, labels in stages.items() if "AWSCURRENT" in labels), None)
    if current_version is None:
        raise ValueError(f"secret {arn} has no AWSCURRENT version")
    if is_single_user(client, arn):
        raise ValueError(
            f"secret {arn} has no masterarn: it is a single-user secret (a master credential), which only "
            "rotation changes; bootstrap is for the app secret only"
        )
    current = get_secret(client, arn, "AWSCURRENT", fields=CONNECTION_FIELDS)
    target = target or {"host": current["host"], "port": current["port"]}
    moving = bool(_differing(target, current, ("host", "port")))
    first = "password" not in current or BOOTSTRAP_STAGE in stages[current_version]
    if moving and not first:
        in_progress = [v for v, labels in stages.items() if "AWSPENDING" in labels and "AWSCURRENT" not in labels]
        if in_progress:
            raise RotationError(
                f"bootstrap: {arn} is to move to {target['host']}:{target['port']}, but a rotation is in progress "
                f"(version {in_progress[0]} is AWSPENDING, for the old host): retry once it has finished"
            )
    there = current | target
    token = _bootstrap_token(arn, current_version, target if moving else None)
    # One master session for all of it: a master rotation finishing meanwhile cannot log it out.
    with connect_as_master(client, there) as master:
        with master.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{_identifier(current['dbname'])}`")
        if first:
            current = _publish(client, arn, current_version, token, _first_password_value(client, there), master)
        elif moving:
            current = _publish(client, arn, current_version, token, lambda: there, master)
            logger.info("bootstrap: %s now names %s:%s (same user and password)", arn, there["host"], there["port"])
        else:
            ensure_app_user(master, current["username"], current["password"], current["dbname"])
        _revoke_state_password(client, arn, current, master)
    logger.info("bootstrap: user %s can use schema %s", current["username"], current["dbname"])
    return {"username": current["username"], "dbname": current["dbname"]}


def _bootstrap_token(arn: str, replaced_version: str, target: dict[str, Any] | None) -> str:
    """The version id bootstrap publishes under: one per replaced version and (moving) target."""
    name = (
        f"{arn}/{replaced_version}" if target is None else f"{arn}/{replaced_version}/{target['host']}:{target['port']}"
    )
    return str(uuid.uuid5(_BOOTSTRAP_TOKENS, name))


def _first_password_value(client: Any, there: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    """The first value: the connection fields (pointing ``there``) and a generated password."""
    return lambda: {field: there[field] for field in CONNECTION_FIELDS} | {"password": new_password(client)}


def _publish(
    client: Any,
    arn: str,
    replaced_version: str,
    token: str,
    make_value: Callable[[], dict[str, Any]],
    master: Any,
) -> dict[str, Any]:
    """Stage ``make_value()`` as ``token`` (unless a retry finds it staged), make its login work
    with the ``master`` connection, and publish it once it logs in."""
    staged = _version(client, arn, token)
    if staged is None:
        value = make_value()
        try:
            client.put_secret_value(
                SecretId=arn,
                ClientRequestToken=token,
                SecretString=json.dumps(value),
                VersionStages=[BOOTSTRAP_PENDING_STAGE],
            )
            staged = value
            logger.info("bootstrap: staged version %s for user %s", token, value["username"])
        except client.exceptions.ResourceExistsException:
            # A concurrent bootstrap staged its own password under the same id first: use that one.
            staged = _version(client, arn, token)
            if staged is None:
                raise RotationError(f"bootstrap: version {token} of {arn} exists but cannot be read") from None

    existing = connect(staged)
    if existing is not None:
        existing.close()  # set before a failure that kept it from being published
    else:
        ensure_app_user(master, staged["username"], staged["password"], staged["dbname"])
    with _connect_or_raise(staged, database=staged["dbname"]):
        pass  # never publish a password the database does not accept
    client.update_secret_version_stage(
        SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=token, RemoveFromVersionId=replaced_version
    )
    client.update_secret_version_stage(SecretId=arn, VersionStage=BOOTSTRAP_PENDING_STAGE, RemoveFromVersionId=token)
    logger.info("bootstrap: version %s is now AWSCURRENT (was %s)", token, replaced_version)
    return staged


def _revoke_state_password(client: Any, arn: str, current: dict[str, Any], master: Any) -> None:
    """Stacks made before bootstrap generated passwords hold one in Pulumi's state: kill it.

    That password was only ever set on the base user, which may still be AWSPREVIOUS (the
    rotation after next would change it). The current user's password was set just before;
    only the other user can still accept it, and it gets a random password nobody stores:
    the next rotation gives it the one it publishes.
    """
    try:
        response = client.get_secret_value(SecretId=arn, VersionStage=BOOTSTRAP_STAGE)
    except client.exceptions.ResourceNotFoundException:
        return  # a secret this program did not write
    stale = json.loads(response["SecretString"]).get("password")
    if not stale:
        return
    other = alternate_username(current["username"])
    probe = connect(dict(current, username=other, password=stale))
    if probe is None:
        return
    probe.close()
    ensure_app_user(master, other, new_password(client), current["dbname"])
    logger.info("bootstrap: user %s no longer accepts the password Pulumi's state holds", other)


def _version(client: Any, arn: str, version_id: str) -> dict[str, Any] | None:
    try:
        value = client.get_secret_value(SecretId=arn, VersionId=version_id)["SecretString"]
    except client.exceptions.ResourceNotFoundException:
        return None
    return dict(json.loads(value))


# --------------------------------------------------------------------------- helpers


def is_single_user(client: Any, arn: str) -> bool:
    """A secret whose current value names no master secret rotates its own user (see module doc)."""
    current = json.loads(client.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"])
    return "masterarn" not in current


def new_password(client: Any) -> str:
    """A password from Secrets Manager's generator, without the characters consumers choke on."""
    response = client.get_random_password(
        PasswordLength=32, ExcludeCharacters=EXCLUDE_CHARACTERS, RequireEachIncludedType=True
    )
    return str(response["RandomPassword"])


def alternate_username(username: str) -> str:
    """``app`` <-> ``app_clone``: the user the next rotation changes."""
    if username.endswith(CLONE_SUFFIX):
        return username[: -len(CLONE_SUFFIX)]
    alternate = username + CLONE_SUFFIX
    if len(alternate) > MAX_MYSQL_USER_LENGTH:
        raise ValueError(f"username {username!r} is too long to alternate with {CLONE_SUFFIX!r} (MySQL max 32)")
    return alternate


def ensure_app_user(conn: Any, username: str, password: str, dbname: str) -> None:
    """Create or update ``username`` with ``password`` and exactly the app's privileges on ``dbname``."""
    user = _identifier(username)
    schema = _identifier(dbname)
    with conn.cursor() as cursor:
        cursor.execute("CREATE USER IF NOT EXISTS %s@'%%' IDENTIFIED BY %s", (user, password))
        cursor.execute("ALTER USER %s@'%%' IDENTIFIED BY %s", (user, password))
        cursor.execute(f"GRANT {APP_PRIVILEGES} ON `{schema}`.* TO %s@'%%'", (user,))
    conn.commit()


def _alter_own_password(conn: Any, username: str, password: str) -> None:
    """Give the account this connection logged in as ``password``: the account the server
    matched (whatever its host part), and only if it is ``username``'s."""
    with conn.cursor() as cursor:
        cursor.execute("SELECT CURRENT_USER()")
        account = cursor.fetchone()[0]
        user, _, host = account.rpartition("@")
        if user != username:  # e.g. an anonymous account accepted the login
            raise RotationError(f"logged in as {username} but the server chose account {account!r}; refusing")
        cursor.execute("ALTER USER %s@%s IDENTIFIED BY %s", (user, host, password))
    conn.commit()


def _differing(secret: dict[str, Any], other: dict[str, Any], fields: tuple[str, ...]) -> list[str]:
    """The ``fields`` whose values differ; a field only one of the two has differs too."""
    return [
        field
        for field in fields
        if (field in secret, str(secret.get(field))) != (field in other, str(other.get(field)))
    ]


def _refuse_other_target(pending: dict[str, Any], current: dict[str, Any], fields: tuple[str, ...]) -> None:
    differing = _differing(pending, current, fields)
    if differing:
        raise ValueError(f"pending secret's {differing[0]} differs from the current secret's; refusing to rotate")


def get_secret(
    client: Any, arn: str, stage: str, token: str | None = None, *, fields: tuple[str, ...] = REQUIRED_FIELDS
) -> dict[str, Any]:
    """A version's value, checked to hold ``fields`` (the app's by default) and to be for MySQL."""
    kwargs: dict[str, str] = {"SecretId": arn, "VersionStage": stage}
    if token:
        kwargs["VersionId"] = token
    secret = json.loads(client.get_secret_value(**kwargs)["SecretString"])
    missing = [field for field in fields if field not in secret]
    if missing:
        raise KeyError(f"secret {arn} ({stage}) lacks {', '.join(missing)}")
    if "engine" in secret and secret["engine"] not in ("mysql", "mariadb"):  # RDS-managed master secrets have none
        raise KeyError(f"secret {arn} is for engine {secret['engine']!r}, not mysql")
    return dict(secret)


def _same_login_versions(
    client: Any, arn: str, login: dict[str, Any], stages: tuple[str, ...], *, fields: tuple[str, ...]
) -> list[tuple[str, dict[str, Any]]]:
    """The versions of ``arn`` labelled ``stages`` (in that order) that exist, hold ``fields`` and
    are ``login``'s user at ``login``'s host and port (or, like ``login``, name none): a password
    is only ever tried for the login it was set for."""
    versions = []
    for stage in stages:
        try:
            secret = get_secret(client, arn, stage, fields=fields)
        except (client.exceptions.ResourceNotFoundException, KeyError):
            continue  # not staged (before a rotation, or AWSPENDING before createSecret), or another format
        if _differing(secret, login, LOGIN_FIELDS):
            logger.info("not trying %s's %s password: it is for another login", arn, stage)
        else:
            versions.append((stage, secret))
    return versions


def connect_as_master(client: Any, app_secret: dict[str, Any]) -> Any:
    """A connection as the master user to the app secret's database.

    The master secret (``masterarn``, read in this function's region: `master_secret_arn`) is
    RDS-managed (only username and password) or, in a global database, this function's
    single-user secret. Its AWSCURRENT is tried first, then its
    AWSPENDING and AWSPREVIOUS when they are the same login (`MASTER_FALLBACK_STAGES`): a
    single-user rotation changes the password at setSecret and moves AWSCURRENT only at
    finishSecret (docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_how.html).
    AWS's own alternating-users function tries AWSCURRENT alone (SecretsManagerRDSMySQLRotation-
    MultiUser, aws-samples/aws-secrets-manager-rotation-lambdas) and fails in that window.

    Where to connect comes from the app secret, never from the master secret: the master's
    password is presented only to the database the app secret is for.
    """
    arn = master_secret_arn(app_secret)
    current = get_secret(client, arn, "AWSCURRENT", fields=MASTER_FIELDS)
    *earlier, (last_stage, last) = [
        ("AWSCURRENT", current),
        *_same_login_versions(client, arn, current, MASTER_FALLBACK_STAGES, fields=MASTER_FIELDS),
    ]
    target = {"host": app_secret["host"], "port": app_secret["port"], "username": current["username"]}
    for stage, master in earlier:
        conn = connect(dict(target, password=master["password"]))
        if conn is not None:
            logger.info("logged in as master user %s with its %s password", current["username"], stage)
            return conn
    conn = _connect_or_raise(dict(target, password=last["password"]), database=None)
    logger.info("logged in as master user %s with its %s password", current["username"], last_stage)
    return conn


def _identifier(value: str) -> str:
    if not _IDENTIFIER.match(value):
        raise ValueError(f"{value!r} is not a safe MySQL identifier")
    return value


def connect_host(host: str, rds: Any = None) -> str:
    """Where to connect for ``host``: ``host`` itself, unless it is an Aurora global database's
    writer endpoint (`GLOBAL_WRITER_ENDPOINT`); then the cluster endpoint of the global database's
    current writer cluster, which follows a switchover or failover.

    The writer is the member RDS reports with ``IsWriter`` (DescribeGlobalClusters), its endpoint
    the ``Endpoint`` of that cluster (DescribeDBClusters, in the cluster's region). That name is
    one the server certificate carries: an Aurora instance's certificate has the cluster endpoint,
    the cluster reader endpoint and the instance endpoint as names (mysql-net/MySqlConnector#498,
    seen on a real Aurora MySQL cluster), and AWS DMS takes the host name to verify for an Aurora
    MySQL cluster from DescribeDBClusters' ``Endpoint`` (AWS::DMS::DataProvider MySqlSettings
    ServerName). ``rds`` is one client for every call (tests); None makes one per region.
    A handler invocation looks each up once (`HostResolver`).
    """
    return HostResolver(rds)(host)


def _global_cluster(host: str) -> str | None:
    """The global database whose writer endpoint ``host`` is, or None."""
    match = GLOBAL_WRITER_ENDPOINT.match(host.lower())
    return None if match is None else match["global_cluster"]


def _writer_cluster_arn(rds: Any, global_cluster: str) -> str:
    """The ARN of the member RDS reports with ``IsWriter``; raises one of `_LOOKUP_ERRORS` when
    there is not exactly one."""
    (described,) = rds.describe_global_clusters(GlobalClusterIdentifier=global_cluster)["GlobalClusters"]
    (writer_arn,) = [m["DBClusterArn"] for m in described["GlobalClusterMembers"] if m.get("IsWriter")]
    arn_region(writer_arn)
    return str(writer_arn)


def _unresolvable(global_cluster: str, host: str, exc: Exception) -> RotationError:
    return RotationError(
        f"cannot find the writer cluster's endpoint of global database {global_cluster} (for {host}): "
        f"{type(exc).__name__}: {exc}"
    )


def _rds(rds: Any, region: str | None) -> Any:
    if rds is not None:
        return rds
    return boto3.client("rds", region_name=region, endpoint_url=os.environ.get("RDS_ENDPOINT"))


def _connect_kwargs(secret: dict[str, Any], database: str | None) -> dict[str, Any]:
    resolver = _RESOLVER.get() or HostResolver()
    kwargs: dict[str, Any] = {
        "host": resolver(secret["host"]),
        "port": int(secret["port"]),
        "user": secret["username"],
        "password": secret["password"],
        "database": database,
        "connect_timeout": 5,
    }
    if os.environ.get("DB_TLS", "required") == "disabled":
        # The local test server only. Without this PyMySQL would still try TLS, unverified.
        kwargs["ssl_disabled"] = True
    else:
        # Only the CAs in this file are trusted (not the system store), and the certificate
        # must name the host connected to (`connect_host`): a certificate for another host is refused.
        kwargs["ssl_ca"] = os.environ.get("DB_CA_BUNDLE") or DEFAULT_CA_BUNDLE
        kwargs["ssl_verify_cert"] = True
        kwargs["ssl_verify_identity"] = True
    return kwargs


def connect(secret: dict[str, Any], database: str | None = None) -> Any:
    """A connection as ``secret``'s user, or None when the login is refused."""
    try:
        return pymysql.connect(**_connect_kwargs(secret, database))
    except pymysql.err.OperationalError as exc:
        logger.info("login as %s refused (%s)", secret["username"], exc.args[0] if exc.args else "?")
        return None


def _connect_or_raise(secret: dict[str, Any], database: str | None) -> Any:
    kwargs = _connect_kwargs(secret, database)
    host = kwargs["host"]
    try:
        return pymysql.connect(**kwargs)
    except pymysql.err.OperationalError as exc:
        code = exc.args[0] if exc.args else "?"
        raise RotationError(
            f"cannot log in to {secret['host']} as {secret['username']} (MySQL error {code}"
            f"{'' if host == secret['host'] else f', connected to {host}'})"
        ) from None
