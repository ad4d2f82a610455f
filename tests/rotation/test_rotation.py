"""The rotation Lambda against a real MySQL-protocol server, with Secrets Manager faked by moto.

Moto stores secrets and versions; `SecretsManagerService` plays the part of the Secrets
Manager rotation service (enable rotation, stage AWSPENDING on a new token, call the four
steps in order, clear AWSPENDING when finishSecret succeeded), as AWS documents it.
"""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path
from typing import Any

import pytest
import rotation  # lambdas/rotation is on the test path: the handler as Lambda imports it

from tests.rotation.conftest import (
    BOOTSTRAP_STAGE,
    SHIPPED_BUNDLE,
    FailOnce,
    FlakyClient,
    MariaDB,
    SecretsManagerService,
    bootstrap,
    can_login,
    new_app_secret,
)


def state_value(aws: Any, arn: str) -> dict[str, Any]:
    """The version Pulumi wrote: what Pulumi's state holds."""
    return dict(json.loads(aws.get_secret_value(SecretId=arn, VersionStage=BOOTSTRAP_STAGE)["SecretString"]))


def legacy_stack(aws: Any, db: MariaDB) -> tuple[str, dict[str, Any], str]:
    """A stack the old program bootstrapped: its state's password is the app user's, and live."""
    legacy_password = f"State-{uuid.uuid4().hex}"
    arn = new_app_secret(aws, db, password=legacy_password)
    initial = state_value(aws, arn)
    with db.connect(db.master_user, db.master_password) as conn:
        with conn.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{initial['dbname']}`")
        rotation.ensure_app_user(conn, initial["username"], legacy_password, initial["dbname"])
    return arn, initial, legacy_password


def logs_in_as_either_user(db: MariaDB, secret: dict[str, Any], password: str) -> list[str]:
    users = [secret["username"], rotation.alternate_username(secret["username"])]
    return [u for u in users if can_login(db, dict(secret, username=u, password=password))]


def versions_with_passwords(aws: Any, service: SecretsManagerService, arn: str) -> list[dict[str, Any]]:
    values = [json.loads(aws.get_secret_value(SecretId=arn, VersionId=v)["SecretString"]) for v in service.stages(arn)]
    return [v for v in values if "password" in v]


# --------------------------------------------------------------------------- bootstrap


def test_bootstrap_creates_schema_and_app_user_with_only_data_privileges(
    aws: Any, service: SecretsManagerService, app_secret: str, mariadb: MariaDB
) -> None:
    result = bootstrap(aws, app_secret)
    secret = service.current(app_secret)
    assert result == {"username": secret["username"], "dbname": secret["dbname"]}
    assert "password" not in json.dumps(result)
    assert can_login(mariadb, secret)
    with mariadb.connect(mariadb.master_user, mariadb.master_password) as conn, conn.cursor() as cursor:
        cursor.execute("SHOW GRANTS FOR %s@'%%'", (secret["username"],))
        grants = " ".join(row[0] for row in cursor.fetchall())
    assert f"GRANT SELECT, INSERT, UPDATE, DELETE ON `{secret['dbname']}`.*" in grants
    assert "ALL PRIVILEGES" not in grants
    assert "ON *.*" not in grants.replace("GRANT USAGE ON *.*", "")


def test_bootstrap_is_idempotent_and_never_resets_a_rotated_password(
    aws: Any, service: SecretsManagerService, app_secret: str, mariadb: MariaDB
) -> None:
    bootstrap(aws, app_secret)
    bootstrap(aws, app_secret)
    service.enable_rotation(app_secret)
    service.rotate(app_secret)
    rotated = service.current(app_secret)
    bootstrap(aws, app_secret)  # e.g. a later `pulumi up` re-running the invocation
    assert service.current(app_secret) == rotated
    assert can_login(mariadb, rotated)


# --------------------------------------------------------------------------- no password from Pulumi's state


def test_the_version_pulumi_writes_has_no_password_and_bootstrap_publishes_a_generated_one(
    aws: Any, service: SecretsManagerService, app_secret: str, mariadb: MariaDB
) -> None:
    initial = state_value(aws, app_secret)
    assert "password" not in initial
    bootstrap(aws, app_secret)

    current = service.current(app_secret)
    assert {k: v for k, v in current.items() if k != "password"} == initial
    assert len(current["password"]) == 32
    assert not set(current["password"]) & set("/@\"'\\`:;%"), "GetRandomPassword with the excluded characters"
    assert can_login(mariadb, current)
    stages = service.stages(app_secret)
    bootstrap_version = next(v for v, s in stages.items() if BOOTSTRAP_STAGE in s)
    assert "AWSCURRENT" not in stages[bootstrap_version], "AWSCURRENT moved off the version Pulumi wrote"
    assert all(rotation.BOOTSTRAP_PENDING_STAGE not in s for s in stages.values()), "no half-done marker left"
    assert state_value(aws, app_secret) == initial, "Pulumi's version is never rewritten"


def test_no_password_in_pulumis_state_logs_in_after_bootstrap_and_rotations(
    aws: Any, service: SecretsManagerService, mariadb: MariaDB
) -> None:
    """Stacks created before bootstrap generated passwords: their state holds a live one."""
    arn, initial, legacy_password = legacy_stack(aws, mariadb)
    assert logs_in_as_either_user(mariadb, initial, legacy_password) == [initial["username"]]

    bootstrap(aws, arn)
    assert logs_in_as_either_user(mariadb, initial, legacy_password) == []
    assert can_login(mariadb, service.current(arn))

    service.enable_rotation(arn)
    previous = service.current(arn)
    service.rotate(arn)
    assert logs_in_as_either_user(mariadb, initial, legacy_password) == []
    assert can_login(mariadb, service.current(arn))
    assert can_login(mariadb, previous)


def test_a_legacy_password_still_valid_as_awsprevious_is_revoked_without_touching_awscurrent(
    aws: Any, service: SecretsManagerService, mariadb: MariaDB
) -> None:
    """The old bootstrap, then one rotation: the state's password is AWSPREVIOUS, and live."""
    arn, initial, legacy_password = legacy_stack(aws, mariadb)
    # What the old program did: the first rotation ran on the version Pulumi wrote.
    service.enable_rotation(arn)
    service.rotate(arn)
    clone = service.current(arn)
    assert clone["username"] == initial["username"] + "_clone"
    assert logs_in_as_either_user(mariadb, initial, legacy_password) == [initial["username"]]

    bootstrap(aws, arn)  # the next `pulumi up` re-runs it (its triggers changed)

    assert logs_in_as_either_user(mariadb, initial, legacy_password) == []
    assert service.current(arn) == clone, "the app's current credential is left alone"
    assert can_login(mariadb, clone)
    service.rotate(arn)  # and rotation carries on with the base user
    assert service.current(arn)["username"] == initial["username"]
    assert can_login(mariadb, service.current(arn))
    assert can_login(mariadb, clone)


@pytest.mark.parametrize(
    ("inject", "after"),
    [
        ("get_random_password", False),
        # The version was stored but the response lost: the retry must use it, not stage another.
        ("put_secret_value", True),
        # The user has the password but the function died before publishing it.
        ("ensure_app_user", True),
        ("update_secret_version_stage", False),
        # AWSCURRENT moved but the response was lost: the retry finds the published version.
        ("update_secret_version_stage", True),
    ],
    ids=["generate-failed", "stage-lost-response", "set-then-died", "publish-failed", "publish-lost-response"],
)
def test_a_bootstrap_retried_after_a_failure_at_any_point_publishes_one_working_password(
    aws: Any,
    service: SecretsManagerService,
    app_secret: str,
    mariadb: MariaDB,
    monkeypatch: pytest.MonkeyPatch,
    inject: str,
    after: bool,
) -> None:
    initial = state_value(aws, app_secret)
    client: Any = aws
    if hasattr(aws, inject):
        client = FlakyClient(aws, inject, after=after)
    else:
        monkeypatch.setattr(rotation, inject, FailOnce(getattr(rotation, inject), after=after))

    with pytest.raises(ConnectionError, match="injected failure"):
        bootstrap(client, app_secret)
    published = inject == "update_secret_version_stage" and after
    if not published:
        assert service.current(app_secret) == initial, "nothing without a working password is published"
    staged = versions_with_passwords(aws, service, app_secret)

    bootstrap(client, app_secret)  # Pulumi reports the failure; the next `pulumi up` runs it again

    current = service.current(app_secret)
    assert can_login(mariadb, current)
    if staged:
        assert [current] == staged, "the retry used the password already staged, not a second one"
    assert len(versions_with_passwords(aws, service, app_secret)) == 1
    assert state_value(aws, app_secret) == initial


def test_a_password_the_database_does_not_accept_is_never_published(
    aws: Any, service: SecretsManagerService, app_secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    initial = service.current(app_secret)
    monkeypatch.setattr(rotation, "ensure_app_user", lambda *args: None)  # the change did not stick
    with pytest.raises(rotation.RotationError, match="cannot log in"):
        bootstrap(aws, app_secret)
    assert service.current(app_secret) == initial


class RacingClient:
    """A client that, just before this invocation stages its password, lets a concurrent
    bootstrap stage a different one under the same version id."""

    def __init__(self, client: Any, competitor: str) -> None:
        self._client, self.competitor, self.raced = client, competitor, False

    def put_secret_value(self, **kwargs: Any) -> Any:
        if not self.raced:
            self.raced = True
            value = dict(json.loads(kwargs["SecretString"]), password=self.competitor)
            self._client.put_secret_value(**dict(kwargs, SecretString=json.dumps(value)))
        return self._client.put_secret_value(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_two_concurrent_bootstraps_publish_the_same_password(
    aws: Any, service: SecretsManagerService, app_secret: str, mariadb: MariaDB
) -> None:
    competitor = "Competitor-" + uuid.uuid4().hex
    bootstrap(RacingClient(aws, competitor), app_secret)
    assert service.current(app_secret)["password"] == competitor
    assert can_login(mariadb, service.current(app_secret))


# --------------------------------------------------------------------------- over TLS, as in AWS


def test_bootstrap_and_a_rotation_run_over_tls_verifying_the_certificate_and_host_name(
    aws: Any, service: SecretsManagerService, tls: Path, tls_mariadb: MariaDB
) -> None:
    arn = new_app_secret(aws, tls_mariadb)
    bootstrap(aws, arn)
    service.enable_rotation(arn)
    first = service.current(arn)
    service.rotate(arn)

    current = service.current(arn)
    assert current["username"] == first["username"] + "_clone"
    assert can_login(tls_mariadb, current)
    assert can_login(tls_mariadb, first)
    conn = rotation.connect(current, current["dbname"])
    assert conn is not None
    with conn, conn.cursor() as cursor:
        cursor.execute("SHOW SESSION STATUS LIKE 'Ssl_version'")
        (_, version) = cursor.fetchone()
    assert version in ("TLSv1.2", "TLSv1.3")


def test_by_default_the_handler_trusts_only_the_shipped_rds_bundle(
    aws: Any, service: SecretsManagerService, monkeypatch: pytest.MonkeyPatch, tls_mariadb: MariaDB
) -> None:
    monkeypatch.delenv("DB_TLS")
    monkeypatch.delenv("DB_CA_BUNDLE", raising=False)
    kwargs = rotation._connect_kwargs({"host": "h", "port": 3306, "username": "u", "password": "p"}, None)
    assert kwargs["ssl_ca"] == str(SHIPPED_BUNDLE)
    assert kwargs["ssl_verify_cert"] is True
    assert kwargs["ssl_verify_identity"] is True

    # The shipped bundle lacks the test server's CA (as it lacks any CA but RDS's): refused.
    arn = new_app_secret(aws, tls_mariadb)
    initial = service.current(arn)
    with pytest.raises(rotation.RotationError, match=f"cannot log in to localhost as {tls_mariadb.master_user}"):
        bootstrap(aws, arn)
    assert service.current(arn) == initial


def test_a_certificate_for_another_host_name_is_refused(
    aws: Any, service: SecretsManagerService, tls: Path, tls_mariadb: MariaDB
) -> None:
    # The same server, reached by an address its certificate does not name (it names localhost).
    arn = new_app_secret(aws, tls_mariadb, host="127.0.0.1")
    initial = service.current(arn)
    with pytest.raises(rotation.RotationError, match=f"cannot log in to 127.0.0.1 as {tls_mariadb.master_user}"):
        bootstrap(aws, arn)
    assert service.current(arn) == initial
    master = {"host": "127.0.0.1", "port": tls_mariadb.port, "username": "master", "password": "x"}
    assert rotation.connect(master) is None


def test_the_tls_server_refuses_plain_connections_like_aurora(
    aws: Any, monkeypatch: pytest.MonkeyPatch, tls: Path, tls_mariadb: MariaDB
) -> None:
    monkeypatch.setenv("DB_TLS", "disabled")
    arn = new_app_secret(aws, tls_mariadb)
    with pytest.raises(rotation.RotationError, match="cannot log in"):
        bootstrap(aws, arn)


# --------------------------------------------------------------------------- rotation


def test_full_rotation_switches_to_the_clone_user_and_keeps_the_old_one_working(
    aws: Any, service: SecretsManagerService, app_secret: str, mariadb: MariaDB
) -> None:
    bootstrap(aws, app_secret)
    service.enable_rotation(app_secret)
    before = service.current(app_secret)

    token = service.rotate(app_secret)

    after = service.current(app_secret)
    assert after["username"] == before["username"] + "_clone"
    assert after["password"] != before["password"]
    assert {k: v for k, v in after.items() if k not in ("username", "password")} == {
        k: v for k, v in before.items() if k not in ("username", "password")
    }
    assert "AWSCURRENT" in service.stages(app_secret)[token]
    assert "AWSPENDING" not in service.stages(app_secret)[token]
    assert can_login(mariadb, after)
    assert can_login(mariadb, before), "the credential the app still holds must keep working"


def test_second_rotation_alternates_back_and_the_previous_credential_survives_until_the_next(
    aws: Any, service: SecretsManagerService, app_secret: str, mariadb: MariaDB
) -> None:
    bootstrap(aws, app_secret)
    service.enable_rotation(app_secret)
    first = service.current(app_secret)
    service.rotate(app_secret)
    second = service.current(app_secret)
    service.rotate(app_secret)
    third = service.current(app_secret)

    assert [first["username"], second["username"], third["username"]] == [
        first["username"],
        first["username"] + "_clone",
        first["username"],
    ]
    assert third["password"] not in (first["password"], second["password"])
    assert can_login(mariadb, third)
    assert can_login(mariadb, second), "AWSPREVIOUS keeps working until the rotation after next"
    assert not can_login(mariadb, first), "the password two rotations old is gone"


def test_the_handler_never_logs_a_password(
    aws: Any, service: SecretsManagerService, app_secret: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bootstrap(aws, app_secret)
    service.enable_rotation(app_secret)
    passwords = [service.current(app_secret)["password"]]
    for _ in range(2):
        service.rotate(app_secret)
        passwords.append(service.current(app_secret)["password"])
    assert caplog.records, "the handler logs its steps"
    text = "\n".join(r.getMessage() for r in caplog.records if r.name == "rotation")
    for password in [*passwords, "Master-Pw-0123456789"]:
        assert password not in text


# --------------------------------------------------------------------------- failures and retries


@pytest.mark.parametrize(
    ("step", "inject", "after"),
    [
        # The value is stored but the response is lost: the retry must find it, not stage another.
        ("createSecret", "put_secret_value", True),
        # The password changed but the connection dropped: the retry must see it already works.
        ("setSecret", "ensure_app_user", True),
        ("testSecret", "_connect_or_raise", False),
        ("finishSecret", "update_secret_version_stage", False),
        # The label moved but the response was lost: the retry is a no-op.
        ("finishSecret", "update_secret_version_stage", True),
    ],
    ids=[
        "create-lost-response",
        "set-dropped-connection",
        "test-db-unreachable",
        "finish-failed",
        "finish-lost-response",
    ],
)
def test_a_retry_after_a_failure_at_each_step_completes_the_rotation(
    aws: Any,
    app_secret: str,
    mariadb: MariaDB,
    monkeypatch: pytest.MonkeyPatch,
    step: str,
    inject: str,
    after: bool,
) -> None:
    bootstrap(aws, app_secret)
    service = SecretsManagerService(aws)
    service.enable_rotation(app_secret)
    before = service.current(app_secret)
    if hasattr(aws, inject):
        service.client = FlakyClient(aws, inject, after=after)
    else:
        monkeypatch.setattr(rotation, inject, FailOnce(getattr(rotation, inject), after=after))

    token = service.start(app_secret)
    with pytest.raises(ConnectionError, match="injected failure"):
        service.run(app_secret, token)
    if step != "finishSecret" or not after:
        assert service.current(app_secret) == before, f"a failure in {step} must leave AWSCURRENT alone"
    assert can_login(mariadb, before)
    # Real Secrets Manager refuses a second, different value for the same token: a retry must
    # keep the password already staged rather than generate another.
    staged = aws.get_secret_value(SecretId=app_secret, VersionId=token)["SecretString"]

    service.run(app_secret, token)  # Secrets Manager retries the rotation with the same token

    assert aws.get_secret_value(SecretId=app_secret, VersionId=token)["SecretString"] == staged

    rotated = service.current(app_secret)
    assert rotated["username"] == before["username"] + "_clone"
    assert can_login(mariadb, rotated)
    assert can_login(mariadb, before)


def test_a_failing_test_step_leaves_awscurrent_untouched(
    aws: Any, service: SecretsManagerService, app_secret: str, mariadb: MariaDB
) -> None:
    bootstrap(aws, app_secret)
    service.enable_rotation(app_secret)
    before = service.current(app_secret)
    versions_before = {v for v, s in service.stages(app_secret).items() if "AWSCURRENT" in s}
    token = service.start(app_secret)
    service.run(app_secret, token, ("createSecret", "setSecret"))
    pending = json.loads(aws.get_secret_value(SecretId=app_secret, VersionId=token)["SecretString"])
    with mariadb.connect(mariadb.master_user, mariadb.master_password) as conn, conn.cursor() as cursor:
        cursor.execute("DROP USER %s@'%%'", (pending["username"],))  # the database lost the new user

    with pytest.raises(rotation.RotationError, match=f"as {pending['username']}"):
        service.run(app_secret, token, ("testSecret",))

    assert {v for v, s in service.stages(app_secret).items() if "AWSCURRENT" in s} == versions_before
    assert service.current(app_secret) == before
    assert can_login(mariadb, before)


# --------------------------------------------------------------------------- refusals


def test_a_secret_without_rotation_enabled_is_refused(
    aws: Any, service: SecretsManagerService, app_secret: str
) -> None:
    token = service.start(app_secret)
    with pytest.raises(ValueError, match="is not enabled for rotation"):
        service.run(app_secret, token, ("createSecret",))


def test_a_version_not_staged_awspending_is_refused(aws: Any, service: SecretsManagerService, app_secret: str) -> None:
    service.enable_rotation(app_secret)
    current = next(v for v, s in service.stages(app_secret).items() if "AWSCURRENT" in s)
    previous_token = service.start(app_secret)
    service.start(app_secret)  # a newer rotation took AWSPENDING away from the first token
    with pytest.raises(ValueError, match="not staged AWSPENDING"):
        service.run(app_secret, previous_token, ("createSecret",))
    # A version already current is a no-op, not an error (Secrets Manager may repeat finishSecret).
    service.run(app_secret, current, ("finishSecret",))


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({}, "missing SecretId"),
        ({"SecretId": "x", "Step": "createSecret"}, "missing ClientRequestToken"),
        ({"SecretId": "x", "ClientRequestToken": "t", "Step": "dropDatabase"}, "unknown rotation step 'dropDatabase'"),
        ({"action": "bootstrap"}, "missing SecretId"),
    ],
)
def test_bad_events_get_a_clear_error(aws: Any, event: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rotation.lambda_handler(event, None, aws)


def test_an_unknown_token_is_refused(aws: Any, service: SecretsManagerService, app_secret: str) -> None:
    service.enable_rotation(app_secret)
    with pytest.raises(ValueError, match="has no stage for rotation"):
        service.run(app_secret, str(uuid.uuid4()), ("createSecret",))


def test_pending_secret_pointing_elsewhere_is_refused(
    aws: Any, service: SecretsManagerService, app_secret: str
) -> None:
    bootstrap(aws, app_secret)
    service.enable_rotation(app_secret)
    token = service.start(app_secret)
    tampered = dict(service.current(app_secret), host="attacker.example.com", username="x", password="y")
    aws.put_secret_value(
        SecretId=app_secret, ClientRequestToken=token, SecretString=json.dumps(tampered), VersionStages=["AWSPENDING"]
    )
    with pytest.raises(ValueError, match="host differs"):
        service.run(app_secret, token, ("setSecret",))


def test_usernames_alternate_within_mysql_limits() -> None:
    assert rotation.alternate_username("app") == "app_clone"
    assert rotation.alternate_username("app_clone") == "app"
    with pytest.raises(ValueError, match="too long"):
        rotation.alternate_username("a" * 27)
