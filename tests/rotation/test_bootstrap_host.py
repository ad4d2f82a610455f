"""Where the rotation function connects: the host the program gives the bootstrap, and the writer
cluster behind an Aurora global database's writer endpoint (RDS faked here, MariaDB real)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import rotation  # lambdas/rotation is on the test path: the handler as Lambda imports it

from tests.rotation.conftest import (
    ENDPOINTS,
    GLOBAL_ID,
    GLOBAL_WRITER_ENDPOINT,
    HOME_ARN,
    STANDBY_ARN,
    TLS_HOSTNAME,
    FakeRds,
    FlakyClient,
    MariaDB,
    SecretsManagerService,
    bootstrap,
    can_login,
    members,
    new_app_secret,
)


def bootstrap_at(aws: Any, arn: str, host: str, port: int, rds: Any = None) -> Any:
    """The event the program sends: the secret, and where it must point."""
    event = {"action": "bootstrap", "SecretId": arn, "host": host, "port": port}
    return rotation.lambda_handler(event, None, aws, rds)


def versions(service: SecretsManagerService, arn: str) -> dict[str, list[str]]:
    return {v: sorted(s) for v, s in service.stages(arn).items()}


# --------------------------------------------------------------------------- the host is an input


def test_a_bootstrap_for_another_host_publishes_the_first_password_naming_that_host(
    aws: Any, service: SecretsManagerService, mariadb: MariaDB
) -> None:
    # The version Pulumi wrote names a host that no longer is the database (it ignores changes).
    arn = new_app_secret(aws, mariadb, host="old-endpoint.invalid")
    bootstrap_at(aws, arn, mariadb.host, mariadb.port)

    current = service.current(arn)
    assert (current["host"], current["port"]) == (mariadb.host, mariadb.port)
    assert can_login(mariadb, current)
    pulumis = json.loads(aws.get_secret_value(SecretId=arn, VersionStage=rotation.BOOTSTRAP_STAGE)["SecretString"])
    assert pulumis["host"] == "old-endpoint.invalid", "the version Pulumi wrote is never rewritten"


def test_a_repeated_bootstrap_for_the_same_host_changes_nothing(
    aws: Any, service: SecretsManagerService, mariadb: MariaDB
) -> None:
    arn = new_app_secret(aws, mariadb, host="old-endpoint.invalid")
    bootstrap_at(aws, arn, mariadb.host, mariadb.port)
    before, current = versions(service, arn), service.current(arn)

    bootstrap_at(aws, arn, mariadb.host, mariadb.port)

    assert versions(service, arn) == before
    assert service.current(arn) == current
    assert can_login(mariadb, current)


def test_a_bootstrapped_secret_moved_to_a_new_host_keeps_its_user_and_rotated_password(
    aws: Any, service: SecretsManagerService, app_secret: str, mariadb: MariaDB
) -> None:
    bootstrap(aws, app_secret)
    service.enable_rotation(app_secret)
    service.rotate(app_secret)
    rotated = service.current(app_secret)
    old_version = next(v for v, s in service.stages(app_secret).items() if "AWSCURRENT" in s)

    # The same server by another name (as the global writer endpoint and a cluster endpoint are).
    bootstrap_at(aws, app_secret, "localhost", mariadb.port)

    moved = service.current(app_secret)
    assert moved == dict(rotated, host="localhost"), "same user and password, new host"
    assert can_login(mariadb, moved)
    assert "AWSPREVIOUS" in service.stages(app_secret)[old_version]
    after_move = versions(service, app_secret)
    bootstrap_at(aws, app_secret, "localhost", mariadb.port)  # the next `pulumi up`
    assert versions(service, app_secret) == after_move, "a repeat publishes nothing"
    # Rotation carries on at the new host.
    service.rotate(app_secret)
    assert service.current(app_secret)["host"] == "localhost"
    assert can_login(mariadb, service.current(app_secret))


def test_a_move_retried_after_a_lost_response_publishes_one_version(
    aws: Any, service: SecretsManagerService, app_secret: str, mariadb: MariaDB
) -> None:
    bootstrap(aws, app_secret)
    first = service.current(app_secret)
    flaky = FlakyClient(aws, "put_secret_value", after=True)
    with pytest.raises(ConnectionError, match="injected failure"):
        bootstrap_at(flaky, app_secret, "localhost", mariadb.port)
    assert service.current(app_secret) == first, "nothing is published before it logs in"

    bootstrap_at(flaky, app_secret, "localhost", mariadb.port)

    assert service.current(app_secret) == dict(first, host="localhost")
    assert len(service.stages(app_secret)) == 3, "Pulumi's, the first password's and the moved one"


def test_a_move_waits_for_a_rotation_in_progress(
    aws: Any, service: SecretsManagerService, app_secret: str, mariadb: MariaDB
) -> None:
    bootstrap(aws, app_secret)
    service.enable_rotation(app_secret)
    before = service.current(app_secret)
    token = service.start(app_secret)
    service.run(app_secret, token, ("createSecret",))

    with pytest.raises(rotation.RotationError, match="a rotation is in progress"):
        bootstrap_at(aws, app_secret, "localhost", mariadb.port)
    assert service.current(app_secret) == before

    service.run(app_secret, token, ("setSecret", "testSecret", "finishSecret"))
    bootstrap_at(aws, app_secret, "localhost", mariadb.port)
    assert service.current(app_secret)["host"] == "localhost"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"host": "db.example"}, "port must be a TCP port"),
        ({"port": 3306}, "host must be a host name"),
        ({"host": "db.example", "port": 0}, "port must be a TCP port"),
        ({"host": "db example", "port": 3306}, "host must be a host name"),
    ],
)
def test_a_bootstrap_event_with_half_a_target_is_refused(aws: Any, extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rotation.lambda_handler({"action": "bootstrap", "SecretId": "x", **extra}, None, aws)


# --------------------------------------------------------------------------- the global writer endpoint


@pytest.mark.parametrize("writer", [HOME_ARN, STANDBY_ARN], ids=["home-writes", "after-switchover"])
def test_a_global_writer_endpoint_is_connected_to_at_the_writer_clusters_endpoint(writer: str) -> None:
    rds = FakeRds(members(writer), ENDPOINTS)
    assert rotation.connect_host(GLOBAL_WRITER_ENDPOINT, rds) == ENDPOINTS[writer]
    assert rotation.connect_host(GLOBAL_WRITER_ENDPOINT.upper(), rds) == ENDPOINTS[writer]
    assert rds.calls[:2] == [("DescribeGlobalClusters", GLOBAL_ID), ("DescribeDBClusters", writer)]


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        ENDPOINTS[HOME_ARN],
        "fintech-prod-cluster.cluster-ro-c1.eu-west-1.rds.amazonaws.com",
        "global-a1b2.global.rds.amazonaws.com.attacker.example",
    ],
)
def test_any_other_host_is_connected_to_as_it_is(host: str) -> None:
    rds = FakeRds(members(HOME_ARN), ENDPOINTS)
    assert rotation.connect_host(host, rds) == host
    assert rds.calls == []


@pytest.mark.parametrize(
    ("rds", "host"),
    [
        (FakeRds(members("none"), ENDPOINTS), GLOBAL_WRITER_ENDPOINT),  # no member is the writer
        (FakeRds(members(HOME_ARN), {}), GLOBAL_WRITER_ENDPOINT),  # the writer cluster is not found
        (FakeRds(members(HOME_ARN), ENDPOINTS), "other-global.global-a1b2c3.global.rds.amazonaws.com"),
    ],
    ids=["no-writer", "writer-not-found", "no-such-global-database"],
)
def test_a_global_writer_endpoint_that_cannot_be_resolved_is_one_clear_error(rds: FakeRds, host: str) -> None:
    global_id = host.split(".", maxsplit=1)[0]
    with pytest.raises(rotation.RotationError, match=f"writer cluster's endpoint of global database {global_id} "):
        rotation.connect_host(host, rds)


def test_the_bootstrap_verifies_the_writer_clusters_name_behind_a_global_writer_endpoint(
    aws: Any, service: SecretsManagerService, tls: Path, tls_mariadb: MariaDB
) -> None:
    """The test server's certificate names ``localhost`` only, as Aurora's names its cluster's
    endpoints and not the global writer endpoint: the bootstrap succeeds with full verification
    only by connecting to the writer cluster's endpoint."""
    rds = FakeRds(members(STANDBY_ARN), {STANDBY_ARN: TLS_HOSTNAME})
    arn = new_app_secret(aws, tls_mariadb, host=GLOBAL_WRITER_ENDPOINT)

    bootstrap_at(aws, arn, GLOBAL_WRITER_ENDPOINT, tls_mariadb.port, rds)

    current = service.current(arn)
    assert current["host"] == GLOBAL_WRITER_ENDPOINT, "the secret keeps naming the endpoint the app uses"
    assert can_login(tls_mariadb, current)
    assert ("DescribeDBClusters", STANDBY_ARN) in rds.calls


def test_an_unresolvable_global_writer_endpoint_fails_the_bootstrap_before_any_login(
    aws: Any, service: SecretsManagerService, mariadb: MariaDB
) -> None:
    rds = FakeRds(members("none"), ENDPOINTS)
    arn = new_app_secret(aws, mariadb, host=GLOBAL_WRITER_ENDPOINT)
    initial = service.current(arn)
    with pytest.raises(rotation.RotationError, match=f"global database {GLOBAL_ID} "):
        bootstrap_at(aws, arn, GLOBAL_WRITER_ENDPOINT, mariadb.port, rds)
    assert service.current(arn) == initial
