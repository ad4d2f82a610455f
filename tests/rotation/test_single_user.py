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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pymysql
import pytest
import rotation  # lambdas/rotation is on the test path: the handler as Lambda imports it

from tests.rotation.conftest import (
    BOOTSTRAP_STAGE,
    MASTER_PASSWORD,
    MASTER_USER,
    FailOnce,
    FlakyClient,
    MariaDB,
    SecretsManagerService,
    bootstrap,
    can_login,
    new_admin,
    new_app_secret,
    new_master_secret,
    single_user_secret,
)

EXCLUDED = set("/@\"'\\`:;%")


def rotate_app_to_its_clone(service: Any, mariadb: Any, app: str) -> dict[str, Any]:
    """One app rotation: the clone user becomes current, and both users still log in."""
    service.enable_rotation(app)
    before = service.current(app)
    service.rotate(app)
    after: dict[str, Any] = service.current(app)
    assert after["username"] == before["username"] + "_clone"
    assert can_login(mariadb, after)
    assert can_login(mariadb, before)
    return after


def new_rds_managed_master_secret(aws: Any, db: MariaDB) -> str:
    """A master-like user and its secret as RDS manages one: only username and password."""
    return str(aws.create_secret(Name=f"rds-{uuid.uuid4().hex[:8]}", SecretString=json.dumps(new_admin(db)))["ARN"])


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

    after = rotate_app_to_its_clone(service, mariadb, app)
    bootstrap(aws, app)  # a later `pulumi up` re-running it
    assert service.current(app) == after


def test_the_handler_picks_the_strategy_from_awscurrent(aws: Any, master_secret: str, app_secret: str) -> None:
    assert rotation.is_single_user(aws, master_secret)
    assert not rotation.is_single_user(aws, app_secret)


# --------------------------------------------------------------------------- the app's master login mid-rotation


def master_between_set_and_finish(
    aws: Any, service: SecretsManagerService, db: MariaDB, arn: str
) -> Callable[[], None]:
    """Run the master secret's rotation up to its setSecret (single user: this function's; RDS-managed:
    what RDS does) and return what finishes it. Meanwhile the database has the master's AWSPENDING
    password and AWSCURRENT no longer logs in."""
    current = service.current(arn)
    if "host" in current:
        service.enable_rotation(arn)
        token = service.start(arn)
        service.run(arn, token, ("createSecret", "setSecret"))
        pending = json.loads(aws.get_secret_value(SecretId=arn, VersionId=token)["SecretString"])

        def finish() -> None:
            service.run(arn, token, ("testSecret", "finishSecret"))

    else:
        pending = dict(current, password=f"Rds-Rotated-{uuid.uuid4().hex}")
        token = aws.put_secret_value(SecretId=arn, SecretString=json.dumps(pending), VersionStages=["AWSPENDING"])[
            "VersionId"
        ]
        set_password(db, current["username"], pending["password"])
        current_version = version_with(service, arn, "AWSCURRENT")

        def finish() -> None:
            aws.update_secret_version_stage(
                SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=token, RemoveFromVersionId=current_version
            )

    assert version_with(service, arn, "AWSPENDING") == token
    assert not can_login(db, current)
    assert can_login(db, dict(current, password=pending["password"]))
    return finish


@pytest.mark.parametrize("master_kind", ["single-user", "rds-managed"])
def test_an_app_rotation_started_while_the_master_rotates_completes(
    aws: Any, service: SecretsManagerService, mariadb: MariaDB, master_kind: str
) -> None:
    """Both rotations start on the first deploy and run every 30 days: they meet."""
    new_master = new_master_secret if master_kind == "single-user" else new_rds_managed_master_secret
    master = new_master(aws, mariadb)
    app = new_app_secret(aws, mariadb, master_arn=master)
    bootstrap(aws, app)
    finish_master_rotation = master_between_set_and_finish(aws, service, mariadb, master)

    after = rotate_app_to_its_clone(service, mariadb, app)
    finish_master_rotation()
    service.rotate(app)  # and with the master's new AWSCURRENT
    assert service.current(app)["username"] == after["username"].removesuffix("_clone")
    assert can_login(mariadb, service.current(app))


def test_a_bootstrap_run_while_the_master_rotates_completes(
    aws: Any, service: SecretsManagerService, mariadb: MariaDB
) -> None:
    """The first deploy: the master's first rotation and the app's bootstrap run at once."""
    master = new_master_secret(aws, mariadb)
    app = new_app_secret(aws, mariadb, master_arn=master)
    master_between_set_and_finish(aws, service, mariadb, master)

    bootstrap(aws, app)

    assert can_login(mariadb, service.current(app))


def test_a_legacy_bootstrap_run_while_the_master_rotates_revokes_the_state_password(
    aws: Any, service: SecretsManagerService, mariadb: MariaDB
) -> None:
    """Bootstrap's other uses of the master: bringing the user in line with AWSCURRENT, and taking
    the password Pulumi's state holds away from the other user (see test_rotation's legacy tests)."""
    master = new_master_secret(aws, mariadb)
    state_password = f"State-{uuid.uuid4().hex}"
    app = new_app_secret(aws, mariadb, password=state_password, master_arn=master)
    initial = service.current(app)
    with mariadb.connect(mariadb.master_user, mariadb.master_password) as conn:  # the old program's bootstrap
        with conn.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{initial['dbname']}`")
        rotation.ensure_app_user(conn, initial["username"], state_password, initial["dbname"])
    service.enable_rotation(app)
    service.rotate(app)  # the old program's first rotation: the base user keeps the state's password
    clone = service.current(app)
    master_between_set_and_finish(aws, service, mariadb, master)

    bootstrap(aws, app)

    assert service.current(app) == clone
    assert can_login(mariadb, clone)
    for username in (initial["username"], clone["username"]):
        assert not can_login(mariadb, dict(initial, username=username, password=state_password))


def test_the_app_rotation_logs_in_with_the_masters_awsprevious_when_the_database_lost_the_last_change(
    aws: Any, service: SecretsManagerService, mariadb: MariaDB
) -> None:
    master = new_master_secret(aws, mariadb)
    app = new_app_secret(aws, mariadb, master_arn=master)
    bootstrap(aws, app)
    initial_master = service.current(master)
    service.enable_rotation(master)
    service.rotate(master)
    # A restore, or a global database failover that lost the last writes: the old password is back.
    set_password(mariadb, initial_master["username"], initial_master["password"])

    service.enable_rotation(app)
    before = service.current(app)
    service.rotate(app)

    assert can_login(mariadb, service.current(app))
    assert can_login(mariadb, before)


class LoginRecorder:
    """pymysql.connect, recording where and as whom each login was tried, with which password."""

    def __init__(self) -> None:
        self.connect = pymysql.connect
        self.attempts: list[tuple[str, int, str, str]] = []

    def __call__(self, **kwargs: Any) -> Any:
        self.attempts.append((kwargs["host"], kwargs["port"], kwargs["user"], kwargs["password"]))
        return self.connect(**kwargs)


@pytest.mark.parametrize(
    ("master_kind", "stage", "other", "tried"),
    [
        ("single-user", "AWSPENDING", {}, True),
        ("single-user", "AWSPENDING", {"username": MASTER_USER, "password": MASTER_PASSWORD}, False),
        ("single-user", "AWSPENDING", {"host": "elsewhere.example.com"}, False),
        ("single-user", "AWSPENDING", {"port": 1}, False),
        ("single-user", "AWSPREVIOUS", {"username": MASTER_USER, "password": MASTER_PASSWORD}, False),
        ("rds-managed", "AWSPENDING", {}, True),
        # Even the app secret's host: AWSCURRENT names none, so this is another login's.
        ("rds-managed", "AWSPENDING", {"host": "127.0.0.1"}, False),
    ],
    ids=[
        "same-login-is-tried",
        "pending-other-user",
        "pending-other-host",
        "pending-other-port",
        "previous-other-user",
        "rds-managed-same-login-is-tried",
        "rds-managed-pending-with-a-host",
    ],
)
def test_only_a_master_version_for_the_same_login_is_tried_and_only_at_the_apps_database(
    aws: Any,
    service: SecretsManagerService,
    mariadb: MariaDB,
    monkeypatch: pytest.MonkeyPatch,
    master_kind: str,
    stage: str,
    other: dict[str, Any],
    tried: bool,
) -> None:
    """The other version's password would log in if it were tried. The single-user master secret
    names the server by another name (localhost) than the app secret (127.0.0.1): only the app's
    counts."""
    if master_kind == "single-user":
        master = new_master_secret(aws, mariadb, host="localhost")
    else:
        master = new_rds_managed_master_secret(aws, mariadb)
    app = new_app_secret(aws, mariadb, master_arn=master)
    assert mariadb.host == "127.0.0.1"
    bootstrap(aws, app)
    current = service.current(master)
    # The database has a password that AWSCURRENT does not hold: only the other version's logs in.
    database_has = f"Only-the-other-has-it-{uuid.uuid4().hex}"
    set_password(mariadb, current["username"], database_has)
    version = dict(current, **{"password": database_has, **other})
    if stage == "AWSPENDING":
        aws.put_secret_value(SecretId=master, SecretString=json.dumps(version), VersionStages=["AWSPENDING"])
    else:  # staged AWSCURRENT, then AWSCURRENT again on the current value: it becomes AWSPREVIOUS
        aws.put_secret_value(SecretId=master, SecretString=json.dumps(version), VersionStages=["AWSCURRENT"])
        aws.put_secret_value(SecretId=master, SecretString=json.dumps(current), VersionStages=["AWSCURRENT"])
    assert json.loads(aws.get_secret_value(SecretId=master, VersionStage=stage)["SecretString"]) == version
    service.enable_rotation(app)
    before = service.current(app)
    recorder = LoginRecorder()

    with monkeypatch.context() as patched:
        patched.setattr(pymysql, "connect", recorder)  # the module rotation calls
        if tried:
            service.rotate(app)
        else:
            expected = rf"^cannot log in to 127\.0\.0\.1 as {current['username']} \(MySQL error 1045\)$"
            with pytest.raises(rotation.RotationError, match=expected):
                service.rotate(app)

    # AWSCURRENT first, then the other version only if it is the same login; as the master user, at
    # the app secret's host and port.
    passwords = [current["password"], version["password"]] if tried else [current["password"]]
    masters = [attempt for attempt in recorder.attempts if attempt[3] in (current["password"], version["password"])]
    assert masters == [(mariadb.host, mariadb.port, current["username"], password) for password in passwords]
    assert {(host, port) for host, port, _, _ in recorder.attempts} == {(mariadb.host, mariadb.port)}
    if tried:
        assert service.current(app)["username"] == before["username"] + "_clone"
    else:
        assert service.current(app) == before
