"""A rotation function per region: which copy of a secret rotates (the peer region's copy is asked
before each step), and the master secret read in the function's own region.

The function runs in ``REGION`` (the home region, moto's), its peer is ``PEER``. The peer's Secrets
Manager is a real client in ``PEER`` whose answers botocore's Stubber gives (it checks each request
and answer against the service model), or, for a lost region, whose requests fail to connect. RDS is
`FakeRds`; the one MariaDB server plays both regions' writer clusters.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import botocore.exceptions
import pytest
import rotation  # lambdas/rotation is on the test path: the handler as Lambda imports it
from botocore.stub import Stubber

from tests.rotation.conftest import (
    GLOBAL_WRITER_ENDPOINT,
    HOME_ARN,
    REGION,
    STANDBY_ARN,
    FakeRds,
    MariaDB,
    SecretsManagerService,
    can_login,
    members,
    new_app_secret,
    new_master_secret,
)

PEER = "eu-central-1"
SUPERSEDED = rf"superseded by the copy in {PEER} since a failover.*\./deploy failover <stack> --rejoin-secrets"
WRITES = ("put_secret_value", "update_secret_version_stage")


def in_region(arn: str, region: str) -> str:
    parts = arn.split(":")
    parts[3] = region
    return ":".join(parts)


def writer(arn: str, mariadb: MariaDB) -> FakeRds:
    """The global database with its writer cluster ``arn``; both clusters are the test server."""
    return FakeRds(members(arn), {HOME_ARN: mariadb.host, STANDBY_ARN: mariadb.host})


class Peer:
    """Secrets Manager in ``PEER``, the production client (`rotation.peer_client`) with stubbed answers
    about ``arn``'s copy there: each answer is for one DescribeSecret of exactly that ARN."""

    def __init__(self, arn: str) -> None:
        self.client = rotation.peer_client(PEER)
        self.arn = in_region(arn, PEER)
        self.stubber = Stubber(self.client)
        self.stubber.activate()

    def _answer(self, times: int, **response: Any) -> None:
        name = self.arn.split(":")[6].rsplit("-", 1)[0]
        for _ in range(times):
            self.stubber.add_response(
                "describe_secret", {"ARN": self.arn, "Name": name, **response}, {"SecretId": self.arn}
            )

    def replica(self, times: int = 1) -> None:
        """The copy there is a replica of this region's copy."""
        self._answer(times, PrimaryRegion=REGION)

    def standalone(self, times: int = 1, *, names_itself: bool = True) -> None:
        """The copy there was promoted (StopReplicationToReplica) and rotates with the peer's function.
        A secret without replicas may leave PrimaryRegion out ("only returns fields that have a value")."""
        self._answer(times, RotationEnabled=True, **({"PrimaryRegion": PEER} if names_itself else {}))

    def error(self, code: str, times: int = 1) -> None:
        for _ in range(times):
            self.stubber.add_client_error(
                "describe_secret", service_error_code=code, http_status_code=400, expected_params={"SecretId": self.arn}
            )

    def asked_as_often_as_answered(self) -> None:
        self.stubber.assert_no_pending_responses()


class LostPeer:
    """Secrets Manager in ``PEER`` (the production client) when that region cannot be reached."""

    def __init__(self, failure: Callable[..., Exception]) -> None:
        self.client = rotation.peer_client(PEER)
        self.attempts: list[str] = []
        self.failure = failure
        self.client.meta.events.register_first("before-send.secrets-manager.DescribeSecret", self._fail)

    def _fail(self, request: Any, **_: Any) -> None:
        self.attempts.append(request.url)
        raise self.failure(endpoint_url=request.url)


class NeverAsked:
    """A peer client that fails the test if the function asks it anything."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        self.calls.append(name)
        raise AssertionError(f"the peer region was asked ({name})")


class Recording:
    """This region's Secrets Manager client, recording each call's operation and arguments."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._client, name)
        if not callable(target) or name.startswith("_") or name == "exceptions":
            return target

        def call(**kwargs: Any) -> Any:
            self.calls.append((name, kwargs))
            return target(**kwargs)

        return call

    def writes(self) -> list[str]:
        return [name for name, _ in self.calls if name in WRITES]


@pytest.fixture
def two_regions(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The function of a two-region stack, running in ``REGION``."""
    monkeypatch.setenv("PEER_REGION", PEER)


def run_step(client: Any, arn: str, token: str, step: str, rds: Any, peer: Any) -> None:
    """One invocation by Secrets Manager, for ``step``."""
    event = {"SecretId": arn, "ClientRequestToken": token, "Step": step}
    rotation.lambda_handler(event, None, client, rds, peer)


def global_app_secret(aws: Any, mariadb: MariaDB, rds: FakeRds) -> str:
    """An app secret naming the global writer endpoint, bootstrapped (the peer is never asked)."""
    arn = new_app_secret(aws, mariadb, host=GLOBAL_WRITER_ENDPOINT)
    rotation.lambda_handler({"action": "bootstrap", "SecretId": arn}, None, aws, rds, NeverAsked())
    return arn


def global_secret(kind: str, aws: Any, mariadb: MariaDB, rds: FakeRds) -> str:
    if kind == "app":
        return global_app_secret(aws, mariadb, rds)
    return new_master_secret(aws, mariadb, host=GLOBAL_WRITER_ENDPOINT)


def no_peer_client(region: str) -> Any:
    raise AssertionError(f"a client for the peer region {region} was made")


# --------------------------------------------------------------------------- the peer's copy decides


@pytest.mark.usefixtures("two_regions")
def test_a_copy_whose_peer_copy_is_its_replica_rotates_asking_before_each_step(
    aws: Any, service: SecretsManagerService, mariadb: MariaDB
) -> None:
    # The writer is in the other region (after a switchover): a primary rotates wherever the writer is.
    rds = writer(STANDBY_ARN, mariadb)
    arn = global_app_secret(aws, mariadb, rds)
    service.enable_rotation(arn)
    before = service.current(arn)
    peer = Peer(arn)
    peer.replica(times=len(rotation.STEPS))

    service.rotate(arn, rds=rds, peer=peer.client)

    after = service.current(arn)
    assert after["username"] == before["username"] + "_clone"
    assert can_login(mariadb, after)
    assert can_login(mariadb, before)
    peer.asked_as_often_as_answered()  # once per step, for this secret's ARN in PEER


@pytest.mark.usefixtures("two_regions")
@pytest.mark.parametrize("kind", ["app", "master"])
@pytest.mark.parametrize("names_itself", [True, False], ids=["primary-region-given", "primary-region-left-out"])
def test_a_copy_superseded_since_a_failover_refuses_every_step_and_changes_nothing(
    aws: Any, service: SecretsManagerService, mariadb: MariaDB, kind: str, names_itself: bool
) -> None:
    """The home region is back after a failover: its copy is standalone, still scheduled to rotate,
    the standby's copy is standalone too and the writer is in the standby."""
    rds = writer(STANDBY_ARN, mariadb)
    arn = global_secret(kind, aws, mariadb, rds)
    service.enable_rotation(arn)
    current = service.current(arn)
    client = Recording(aws)

    # A rotation the schedule starts now: createSecret stages nothing.
    token = service.start(arn)
    peer = Peer(arn)
    peer.standalone(names_itself=names_itself)
    with pytest.raises(rotation.RotationError, match=SUPERSEDED):
        run_step(client, arn, token, "createSecret", rds, peer.client)
    assert client.writes() == []
    with pytest.raises(aws.exceptions.ResourceNotFoundException):
        aws.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")

    # A rotation that had staged its password before the region was lost: no later step goes on.
    peer = Peer(arn)
    peer.replica()
    run_step(client, arn, token, "createSecret", rds, peer.client)
    pending = json.loads(aws.get_secret_value(SecretId=arn, VersionId=token)["SecretString"])
    client.calls.clear()
    stages = service.stages(arn)
    peer = Peer(arn)
    peer.standalone(times=3, names_itself=names_itself)
    for name in ("setSecret", "testSecret", "finishSecret"):
        with pytest.raises(rotation.RotationError, match=SUPERSEDED):
            run_step(client, arn, token, name, rds, peer.client)
    peer.asked_as_often_as_answered()

    assert client.writes() == []
    assert service.stages(arn) == stages
    assert service.current(arn) == current
    assert can_login(mariadb, current), "the password the live copy may know still logs in"
    assert not can_login(mariadb, pending), "the staged password was never set"


@pytest.mark.usefixtures("two_regions")
@pytest.mark.parametrize("kind", ["app", "master"])
def test_a_standalone_copy_in_the_writers_region_rotates(
    aws: Any, service: SecretsManagerService, mariadb: MariaDB, kind: str
) -> None:
    """Both copies standalone (after a failover, before the secrets rejoin) and the global
    database's writer in this function's region: this copy is the live one."""
    rds = writer(HOME_ARN, mariadb)  # the cluster in REGION, where the function runs
    arn = global_secret(kind, aws, mariadb, rds)
    service.enable_rotation(arn)
    before = service.current(arn)
    peer = Peer(arn)
    peer.standalone(times=len(rotation.STEPS))
    rds.calls.clear()

    service.rotate(arn, rds=rds, peer=peer.client)

    after = service.current(arn)
    assert after["password"] != before["password"]
    assert can_login(mariadb, after)
    peer.asked_as_often_as_answered()
    # One writer lookup per invocation, shared by the check and the connection.
    global_lookups = [call for call in rds.calls if call[0] == "DescribeGlobalClusters"]
    assert len(global_lookups) == len(rotation.STEPS)


@pytest.mark.usefixtures("two_regions")
@pytest.mark.parametrize(
    ("host", "rds_writer", "message"),
    [
        ("127.0.0.1", HOME_ARN, "is not an Aurora global database's writer endpoint"),
        (GLOBAL_WRITER_ENDPOINT, "none", "writer cluster's endpoint of global database"),
    ],
    ids=["not-a-global-writer-endpoint", "no-writer-found"],
)
def test_a_standalone_copy_whose_writer_cannot_be_told_refuses(
    aws: Any, service: SecretsManagerService, mariadb: MariaDB, host: str, rds_writer: str, message: str
) -> None:
    rds = writer(rds_writer, mariadb)
    arn = new_master_secret(aws, mariadb, host=host)
    service.enable_rotation(arn)
    token = service.start(arn)
    peer = Peer(arn)
    peer.standalone()
    client = Recording(aws)
    with pytest.raises(rotation.RotationError, match=message):
        run_step(client, arn, token, "createSecret", rds, peer.client)
    assert client.writes() == []


@pytest.mark.usefixtures("two_regions")
@pytest.mark.parametrize(
    "failure",
    [
        botocore.exceptions.EndpointConnectionError,
        botocore.exceptions.ConnectTimeoutError,
        botocore.exceptions.ReadTimeoutError,
        botocore.exceptions.ConnectionClosedError,
    ],
)
def test_a_copy_whose_peer_region_cannot_be_reached_rotates(
    aws: Any,
    service: SecretsManagerService,
    mariadb: MariaDB,
    failure: Callable[..., Exception],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The standby after a region-loss failover: its home region is gone (writer here or not)."""
    rds = writer(STANDBY_ARN, mariadb)
    arn = global_app_secret(aws, mariadb, rds)
    service.enable_rotation(arn)
    before = service.current(arn)
    peer = LostPeer(failure)

    with caplog.at_level(logging.WARNING, logger="rotation"):
        service.rotate(arn, rds=rds, peer=peer.client)

    assert service.current(arn)["username"] == before["username"] + "_clone"
    assert can_login(mariadb, service.current(arn))
    # Two attempts a step (PEER_CLIENT_CONFIG), each at the peer region's endpoint.
    assert len(peer.attempts) == 2 * len(rotation.STEPS)
    assert all(url.startswith(f"https://secretsmanager.{PEER}.amazonaws.com") for url in peer.attempts)
    assert any(f"cannot reach Secrets Manager in {PEER}" in r.getMessage() for r in caplog.records)


@pytest.mark.usefixtures("two_regions")
def test_a_copy_without_a_copy_in_the_peer_region_rotates(
    aws: Any, service: SecretsManagerService, mariadb: MariaDB, caplog: pytest.LogCaptureFixture
) -> None:
    rds = writer(STANDBY_ARN, mariadb)
    arn = global_app_secret(aws, mariadb, rds)
    service.enable_rotation(arn)
    before = service.current(arn)
    peer = Peer(arn)
    peer.error("ResourceNotFoundException", times=len(rotation.STEPS))

    with caplog.at_level(logging.WARNING, logger="rotation"):
        service.rotate(arn, rds=rds, peer=peer.client)

    assert service.current(arn)["username"] == before["username"] + "_clone"
    peer.asked_as_often_as_answered()
    assert any(f"has no copy in {PEER}" in r.getMessage() for r in caplog.records)


@pytest.mark.usefixtures("two_regions")
@pytest.mark.parametrize("code", ["AccessDeniedException", "InvalidRequestException", "InternalServiceError"])
def test_any_other_answer_from_the_peer_region_refuses_naming_the_error(
    aws: Any, service: SecretsManagerService, mariadb: MariaDB, code: str
) -> None:
    rds = writer(HOME_ARN, mariadb)
    arn = global_app_secret(aws, mariadb, rds)
    service.enable_rotation(arn)
    token = service.start(arn)
    peer = Peer(arn)
    peer.error(code)
    client = Recording(aws)
    with pytest.raises(rotation.RotationError, match=f"in {PEER} failed with {code}; refusing to rotate"):
        run_step(client, arn, token, "createSecret", rds, peer.client)
    assert client.writes() == []


def test_without_a_peer_region_the_peer_is_never_asked(
    aws: Any, service: SecretsManagerService, app_secret: str, mariadb: MariaDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A one-region stack: no PEER_REGION, no peer client is even made."""
    monkeypatch.setattr(rotation, "peer_client", no_peer_client)
    rotation.lambda_handler({"action": "bootstrap", "SecretId": app_secret}, None, aws)
    service.enable_rotation(app_secret)
    peer = NeverAsked()
    service.rotate(app_secret, peer=peer)
    assert peer.calls == []
    assert can_login(mariadb, service.current(app_secret))


@pytest.mark.usefixtures("two_regions")
def test_the_bootstrap_never_asks_the_peer(
    aws: Any, service: SecretsManagerService, app_secret: str, mariadb: MariaDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rotation, "peer_client", no_peer_client)
    peer = NeverAsked()
    rotation.lambda_handler({"action": "bootstrap", "SecretId": app_secret}, None, aws, None, peer)
    rotation.lambda_handler({"action": "bootstrap", "SecretId": app_secret}, None, aws, None, peer)
    assert peer.calls == []
    assert can_login(mariadb, service.current(app_secret))


@pytest.mark.parametrize(
    ("region", "message"), [(PEER, "PEER_REGION is this function's own region"), ("", "AWS_REGION is not set")]
)
def test_a_function_that_cannot_tell_its_region_from_its_peers_refuses(
    aws: Any,
    service: SecretsManagerService,
    app_secret: str,
    monkeypatch: pytest.MonkeyPatch,
    region: str,
    message: str,
) -> None:
    rotation.lambda_handler({"action": "bootstrap", "SecretId": app_secret}, None, aws)
    monkeypatch.setenv("PEER_REGION", PEER)
    monkeypatch.setenv("AWS_REGION", region)
    service.enable_rotation(app_secret)
    token = service.start(app_secret)
    peer = NeverAsked()
    with pytest.raises(rotation.RotationError, match=message):
        service.run(app_secret, token, ("createSecret",), peer=peer)
    assert peer.calls == []


def test_the_peer_client_gives_up_on_a_lost_region_quickly() -> None:
    client = rotation.peer_client(PEER)
    assert client.meta.region_name == PEER
    config = client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (3, 5)
    assert config.retries == {"mode": "standard", "total_max_attempts": 2}


# --------------------------------------------------------------------------- the master secret, in this region


def test_the_function_reads_the_master_secret_in_its_own_region(
    aws: Any, service: SecretsManagerService, mariadb: MariaDB
) -> None:
    """The standby's function after a failover: the app secret (copied from the home region) names
    the home region's master secret; the copy here has the same ARN but for the region field."""
    here = aws.create_secret(
        Name="rds-master-standby",
        SecretString=json.dumps({"username": mariadb.master_user, "password": mariadb.master_password}),
    )["ARN"]
    elsewhere = in_region(here, PEER)
    arn = new_app_secret(aws, mariadb, master_arn=elsewhere)
    client = Recording(aws)

    rotation.lambda_handler({"action": "bootstrap", "SecretId": arn}, None, client)
    service.enable_rotation(arn)
    service.client = client
    service.rotate(arn)

    assert can_login(mariadb, service.current(arn))
    assert service.current(arn)["masterarn"] == elsewhere, "the secret's value is never rewritten"
    asked = {kwargs.get("SecretId") for _, kwargs in client.calls}
    assert here in asked
    assert elsewhere not in asked


@pytest.mark.parametrize(
    ("masterarn", "expected"),
    [
        ("arn:aws:secretsmanager:eu-west-1:123456789012:secret:m-AbCdEf", None),
        ("arn:aws:secretsmanager:eu-central-1:123456789012:secret:m-AbCdEf", "eu-west-1"),
        ("arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:a:b-AbCdEf", "eu-west-1"),
        ("rds-master-secret", None),
    ],
    ids=["same-region", "other-region", "other-partition-colon-in-name", "a-name"],
)
def test_the_master_secret_arn_gets_this_functions_region_and_nothing_else(
    monkeypatch: pytest.MonkeyPatch, masterarn: str, expected: str | None
) -> None:
    monkeypatch.setenv("AWS_REGION", REGION)
    arn = rotation.master_secret_arn({"masterarn": masterarn})
    assert arn == (masterarn if expected is None else in_region(masterarn, expected))
