"""Single-user rotation of the self-managed master secret (an Aurora global database's), against
a real MySQL-protocol server, with Secrets Manager faked by moto (see conftest).

The secret is the data tier's format, with no ``masterarn``: the function logs in as the user
and changes its own password. Each test rotates a master-like user of its own (all privileges,
with grant option, as Aurora's master user), never the server's fixture user.
"""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path
from typing import Any

import pymysql
import pytest
import rotation  # lambdas/rotation is on the test path: the handler as Lambda imports it

from tests.rotation.conftest import (
    BOOTSTRAP_STAGE,
    FailOnce,
    FlakyClient,
    MariaDB,
    SecretsManagerService,
    bootstrap,
    can_login,
    new_app_secret,
)

EXCLUDED = set("/@\"'\\`:;%")


def single_user_secret(aws: Any, value: dict[str, Any]) -> str:
    """A secret as the data tier writes it, its first version labelled like the app secret's."""
    created = aws.create_secret(Name=f"master-{uuid.uuid4().hex[:8]}", SecretString=json.dumps(value))
    aws.update_secret_version_stage(
        SecretId=created["ARN"], VersionStage=BOOTSTRAP_STAGE, MoveToVersionId=created["VersionId"]
    )
    return str(created["ARN"])


def new_master_secret(aws: Any, db: MariaDB, *, host: str | None = None) -> str:
    """A user with the master's privileges, and its secret holding the first password (the one
    Pulumi's state holds)."""
    username = f"admin_{uuid.uuid4().hex[:12]}"
    password = f"Initial-{uuid.uuid4().hex}"
    with db.connect(db.master_user, db.master_password) as conn, conn.cursor() as cursor:
        cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (username, password))
        cursor.execute("GRANT ALL PRIVILEGES ON *.* TO %s@'%%' WITH GRANT OPTION", (username,))
        conn.commit()
    value = {"engine": "mysql", "host": host or db.host, "port": db.port, "username": username, "password": password}
    return single_user_secret(aws, value)


@pytest.fixture
def master_secret(aws: Any, mariadb: MariaDB) -> str:
    return new_master_secret(aws, mariadb)


def set_password(db: MariaDB, username: str, password: str) -> None:
    with db.connect(db.master_user, db.master_password) as conn, conn.cursor() as cursor:
        cursor.execute("ALTER USER %s@'%%' IDENTIFIED BY %s", (username, password))
        conn.commit()


def version_with(service: SecretsManagerService, arn: str, stage: str) -> str | None:
    return next((v for v, stages in service.stages(arn).items() if stage in stages), None)


def users_named(db: MariaDB, prefix: str) -> list[str]:
    with db.connect(db.master_user, db.master_password) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT user FROM mysql.user WHERE user LIKE %s", (prefix + "%",))
        return sorted(row[0] for row in cursor.fetchall())


# --------------------------------------------------------------------------- the rotation


def test_a_single_user_rotation_changes_the_users_own_password_and_only_the_new_one_logs_in(
    aws: Any, service: SecretsManagerService, master_secret: str, mariadb: MariaDB
) -> None:
    service.enable_rotation(master_secret)
    initial = service.current(master_secret)
    assert can_login(mariadb, initial)

    token = service.rotate(master_secret)

    rotated = service.current(master_secret)
    assert {k: v for k, v in rotated.items() if k != "password"} == {
        k: v for k, v in initial.items() if k != "password"
    }, "same user, host, port and engine: no masterarn or dbname added"
    assert len(rotated["password"]) == 32
    assert not set(rotated["password"]) & EXCLUDED, "GetRandomPassword with the excluded characters"
    assert "AWSCURRENT" in service.stages(master_secret)[token]
    assert can_login(mariadb, rotated)
    assert not can_login(mariadb, initial), "the password Pulumi's state holds no longer logs in"
    assert users_named(mariadb, initial["username"]) == [initial["username"]], "no clone user"

    service.rotate(master_secret)
    assert can_login(mariadb, service.current(master_secret))
    assert not can_login(mariadb, rotated), "single user: only AWSCURRENT's password logs in"


def test_finish_secret_moves_awscurrent_to_the_new_version_and_awsprevious_to_the_old(
    aws: Any, service: SecretsManagerService, master_secret: str, mariadb: MariaDB
) -> None:
    service.enable_rotation(master_secret)
    first = version_with(service, master_secret, "AWSCURRENT")
    token = service.start(master_secret)
    service.run(master_secret, token, ("createSecret", "setSecret", "testSecret"))
    assert version_with(service, master_secret, "AWSCURRENT") == first, "only finishSecret publishes"

    service.run(master_secret, token, ("finishSecret",))

    stages = service.stages(master_secret)
    assert version_with(service, master_secret, "AWSCURRENT") == token
    assert first is not None
    assert "AWSPREVIOUS" in stages[first]
    assert "AWSCURRENT" not in stages[first]
    assert BOOTSTRAP_STAGE in stages[first], "the data tier's label stays on its version"
    assert can_login(mariadb, service.current(master_secret))


def test_the_single_user_rotation_never_logs_a_password(
    aws: Any, service: SecretsManagerService, master_secret: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    service.enable_rotation(master_secret)
    passwords = [service.current(master_secret)["password"]]
    for _ in range(2):
        service.rotate(master_secret)
        passwords.append(service.current(master_secret)["password"])
    text = "\n".join(r.getMessage() for r in caplog.records if r.name == "rotation")
    assert "single user" in text
    for password in passwords:
        assert password not in text


def test_a_single_user_rotation_runs_over_tls_verifying_the_certificate_and_host_name(
    aws: Any, service: SecretsManagerService, tls: Path, tls_mariadb: MariaDB
) -> None:
    arn = new_master_secret(aws, tls_mariadb)
    service.enable_rotation(arn)
    initial = service.current(arn)
    service.rotate(arn)
    assert can_login(tls_mariadb, service.current(arn))
    assert not can_login(tls_mariadb, initial)

    # The same server by an address its certificate does not name: refused before any password is sent.
    elsewhere = new_master_secret(aws, tls_mariadb, host="127.0.0.1")
    service.enable_rotation(elsewhere)
    initial = service.current(elsewhere)
    with pytest.raises(rotation.RotationError, match=r"cannot log in to 127\.0\.0\.1"):
        service.rotate(elsewhere)
    assert service.current(elsewhere) == initial
    assert can_login(tls_mariadb, dict(initial, host=tls_mariadb.host))


# --------------------------------------------------------------------------- retries


def test_each_step_run_twice_has_the_effect_of_running_it_once(
    aws: Any, service: SecretsManagerService, master_secret: str, mariadb: MariaDB
) -> None:
    service.enable_rotation(master_secret)
    initial = service.current(master_secret)
    token = service.start(master_secret)

    def state() -> tuple[str, str, dict[str, list[str]], bool]:
        staged = aws.get_secret_value(SecretId=master_secret, VersionId=token)["SecretString"]
        pending = json.loads(staged)
        return (
            staged,
            service.current(master_secret)["password"],
            service.stages(master_secret),
            can_login(mariadb, pending),
        )

    for step in rotation.STEPS:
        service.run(master_secret, token, (step,))
        once = state()
        service.run(master_secret, token, (step,))  # Secrets Manager may invoke a step again
        assert state() == once, f"a repeated {step} changed something"

    assert can_login(mariadb, service.current(master_secret))
    assert not can_login(mariadb, initial)


@pytest.mark.parametrize(
    ("step", "inject", "after"),
    [
        # The value is stored but the response is lost: the retry must find it, not stage another.
        ("createSecret", "put_secret_value", True),
        ("setSecret", "_alter_own_password", False),
        # The password changed but the connection dropped: the retry logs in with AWSPENDING.
        ("setSecret", "_alter_own_password", True),
        ("testSecret", "_connect_or_raise", False),
        ("finishSecret", "update_secret_version_stage", False),
        # The label moved but the response was lost: the retry is a no-op.
        ("finishSecret", "update_secret_version_stage", True),
    ],
    ids=[
        "create-lost-response",
        "set-failed",
        "set-dropped-connection",
        "test-db-unreachable",
        "finish-failed",
        "finish-lost-response",
    ],
)
def test_a_retry_after_a_failure_at_each_step_completes_the_single_user_rotation(
    aws: Any,
    master_secret: str,
    mariadb: MariaDB,
    monkeypatch: pytest.MonkeyPatch,
    step: str,
    inject: str,
    after: bool,
) -> None:
    service = SecretsManagerService(aws)
    service.enable_rotation(master_secret)
    initial = service.current(master_secret)
    if hasattr(aws, inject):
        service.client = FlakyClient(aws, inject, after=after)
    else:
        monkeypatch.setattr(rotation, inject, FailOnce(getattr(rotation, inject), after=after))

    token = service.start(master_secret)
    with pytest.raises(ConnectionError, match="injected failure"):
        service.run(master_secret, token)
    if step != "finishSecret" or not after:
        assert service.current(master_secret) == initial, f"a failure in {step} must leave AWSCURRENT alone"
    staged = aws.get_secret_value(SecretId=master_secret, VersionId=token)["SecretString"]

    service.run(master_secret, token)  # Secrets Manager retries the rotation with the same token

    assert aws.get_secret_value(SecretId=master_secret, VersionId=token)["SecretString"] == staged
    rotated = service.current(master_secret)
    assert rotated == json.loads(staged)
    assert can_login(mariadb, rotated)
    assert not can_login(mariadb, initial)


def test_set_secret_falls_back_to_awsprevious_when_the_database_lost_the_last_change(
    aws: Any, service: SecretsManagerService, master_secret: str, mariadb: MariaDB
) -> None:
    service.enable_rotation(master_secret)
    initial = service.current(master_secret)
    service.rotate(master_secret)
    # A restore, or a global database failover that lost the last writes: the old password is back.
    set_password(mariadb, initial["username"], initial["password"])
    assert not can_login(mariadb, service.current(master_secret))

    service.rotate(master_secret)

    assert can_login(mariadb, service.current(master_secret))
    assert not can_login(mariadb, initial)


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(("field", "value"), [("host", "attacker.example.com"), ("port", 1), ("username", "master")])
def test_a_pending_version_for_another_login_is_refused_before_any_password_is_sent(
    aws: Any,
    service: SecretsManagerService,
    master_secret: str,
    mariadb: MariaDB,
    monkeypatch: pytest.MonkeyPatch,
    field: str,
    value: Any,
) -> None:
    service.enable_rotation(master_secret)
    initial = service.current(master_secret)
    token = service.start(master_secret)
    tampered = dict(initial, password="Chosen-by-someone-else-0", **{field: value})
    aws.put_secret_value(
        SecretId=master_secret,
        ClientRequestToken=token,
        SecretString=json.dumps(tampered),
        VersionStages=["AWSPENDING"],
    )

    def no_login(**kwargs: Any) -> None:
        raise AssertionError(f"a password was presented to {kwargs['host']}:{kwargs['port']} as {kwargs['user']}")

    with monkeypatch.context() as patched:
        patched.setattr(pymysql, "connect", no_login)  # the module rotation calls
        with pytest.raises(ValueError, match=f"pending secret's {field} differs"):
            service.run(master_secret, token, ("setSecret",))

    assert service.current(master_secret) == initial
    assert can_login(mariadb, initial)
    assert not can_login(mariadb, dict(initial, password=tampered["password"]))


def test_an_awsprevious_for_another_host_is_never_tried(
    aws: Any, service: SecretsManagerService, mariadb: MariaDB
) -> None:
    """An operator pointed the secret at another host: the old version's password belongs there."""
    arn = new_master_secret(aws, mariadb, host="localhost")  # the same server, by another name
    working = service.current(arn)
    aws.put_secret_value(
        SecretId=arn,
        SecretString=json.dumps(dict(working, host=mariadb.host, password="Not-the-password-0")),
        VersionStages=["AWSCURRENT"],
    )
    assert version_with(service, arn, "AWSPREVIOUS") is not None
    service.enable_rotation(arn)

    with pytest.raises(rotation.RotationError, match="with the AWSCURRENT, AWSPREVIOUS or AWSPENDING password"):
        service.rotate(arn)

    assert can_login(mariadb, working), "the password was not changed with AWSPREVIOUS's login"


def test_the_password_of_an_account_other_than_the_secrets_user_is_never_changed(
    aws: Any, service: SecretsManagerService, mariadb: MariaDB
) -> None:
    """A login the server grants to another account (here the anonymous one) changes nothing."""
    password = f"Anonymous-{uuid.uuid4().hex}"
    with mariadb.connect(mariadb.master_user, mariadb.master_password) as conn, conn.cursor() as cursor:
        cursor.execute("CREATE USER ''@'%%' IDENTIFIED BY %s", (password,))
        conn.commit()
    try:
        ghost = {"engine": "mysql", "host": mariadb.host, "port": mariadb.port, "username": "ghost"}
        arn = single_user_secret(aws, dict(ghost, password=password))
        service.enable_rotation(arn)
        with pytest.raises(rotation.RotationError, match="the server chose account '@%'; refusing"):
            service.rotate(arn)
        assert can_login(mariadb, dict(ghost, username="anyone", password=password))
    finally:
        with mariadb.connect(mariadb.master_user, mariadb.master_password) as conn, conn.cursor() as cursor:
            cursor.execute("DROP USER ''@'%'")
            conn.commit()


def test_bootstrap_refuses_a_single_user_secret(
    aws: Any, service: SecretsManagerService, master_secret: str, mariadb: MariaDB
) -> None:
    initial, stages = service.current(master_secret), service.stages(master_secret)
    with pytest.raises(ValueError, match=r"single-user secret .*; bootstrap is for the app secret only"):
        bootstrap(aws, master_secret)
    assert service.stages(master_secret) == stages
    assert can_login(mariadb, initial)


# --------------------------------------------------------------------------- with the app secret


def test_the_app_rotation_and_bootstrap_log_in_with_the_masters_rotated_password(
    aws: Any, service: SecretsManagerService, mariadb: MariaDB
) -> None:
    master = new_master_secret(aws, mariadb)
    app = new_app_secret(aws, mariadb, master_arn=master)
    bootstrap(aws, app)  # the program runs it before the master's first rotation
    initial_master = service.current(master)
    service.enable_rotation(master)
    service.rotate(master)
    assert not can_login(mariadb, initial_master)

    service.enable_rotation(app)
    before = service.current(app)
    service.rotate(app)

    after = service.current(app)
    assert after["username"] == before["username"] + "_clone"
    assert can_login(mariadb, after)
    assert can_login(mariadb, before)
    bootstrap(aws, app)  # a later `pulumi up` re-running it
    assert service.current(app) == after


def test_the_handler_picks_the_strategy_from_awscurrent(aws: Any, master_secret: str, app_secret: str) -> None:
    assert rotation.is_single_user(aws, master_secret)
    assert not rotation.is_single_user(aws, app_secret)
