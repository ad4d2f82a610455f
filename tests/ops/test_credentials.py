"""The credentials wherever the writer is (#24 item 5), offline: the simulated regions of test_regions.py with
each credential's copies in Secrets Manager (fake_secrets.py), every call checked against the service model.

A failover away from the home region promotes the target's copies and rotates them there; a failover home
touches none. `--rejoin-secrets` carries the standby's values home and makes its copies replicas again, one
resumable step at a time; until then `up` and `switchover` refuse."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import pytest
from botocore.stub import Stubber

from ops import deploy, regions, steps
from tests.ops.fake_secrets import APP, DAYS, FUNCTIONS, KEYS, MASTER
from tests.ops.test_deploy import install, lambda_quota  # noqa: F401 (lambda_quota: autouse)
from tests.ops.test_regions import (
    FAILOVER,
    FAKE_PULUMI,
    PRIMARY,
    STANDBY,
    SWITCHOVER,
    TAKE_OVER,
    UP,
    Cloud,
    FakeClock,
    Machine,
    interrupt_at,
    one_error,
    record,
    steps_of,
)

HOME = PRIMARY  # aws:region: where Pulumi declares the credentials' primaries
REJOIN = ["failover", "prod", "--rejoin-secrets", "--yes"]
UP_PROD = ["up", "prod", "--yes"]
REJOINED = ["cancel_rotate_secret", "put_secret_value", "replicate_secret_to_regions"] * 2


def secret_calls(cloud: Cloud) -> list[tuple[str, str, dict[str, Any]]]:
    """(region, operation, parameters) of every Secrets Manager call."""
    return [(region, op, params) for service, region, op, params in cloud.calls if service == "secretsmanager"]


def nothing_secret_printed(cloud: Cloud, captured: Any) -> None:
    for value in cloud.values_of():
        assert value not in captured.out + captured.err, "a secret value was printed"


def home_copy(cloud: Cloud, arns: dict[str, str]) -> Any:
    return cloud.copies[HOME, arns[HOME]]


def standby_copy(cloud: Cloud, arns: dict[str, str]) -> Any:
    return cloud.copies[STANDBY, arns[STANDBY]]


# failover away from the home region: promote, then rotate with the target's function


def test_failover_promotes_both_copies_and_rotates_them_with_the_targets_function(
    region_lost: tuple[Machine, Cloud], capsys: pytest.CaptureFixture[str]
) -> None:
    _, cloud = region_lost
    assert deploy.main(FAILOVER) == 0, capsys.readouterr().err
    assert cloud.asked("stop_replication_to_replica") == [{"SecretId": MASTER[STANDBY]}, {"SecretId": APP[STANDBY]}]
    rotation = {"RotationLambdaARN": FUNCTIONS[STANDBY], "RotationRules": {"AutomaticallyAfterDays": DAYS}}
    asked = cloud.asked("rotate_secret")
    # RotateImmediately left at its default (a full rotation at once proves the standby's function); the
    # SDK fills ClientRequestToken itself (an idempotency token of the model).
    assert [{k: v for k, v in p.items() if k != "ClientRequestToken"} for p in asked] == [
        {"SecretId": MASTER[STANDBY], **rotation},
        {"SecretId": APP[STANDBY], **rotation},
    ]
    assert all(len(p["ClientRequestToken"]) == 36 for p in asked)
    assert {region for region, _, _ in secret_calls(cloud)} == {STANDBY}, "promoted where the replicas are"
    operations = [op for _, _, op, _ in cloud.calls]
    assert operations.index("stop_replication_to_replica") > operations.index("failover_global_cluster")
    for arns in (MASTER, APP):
        promoted = standby_copy(cloud, arns)
        assert promoted.source is None
        assert promoted.rotation["RotationLambdaARN"] == FUNCTIONS[STANDBY]
    captured = capsys.readouterr()
    assert "Its copies of the master and app credentials are standalone and rotate with eu-central-1's function" in (
        captured.out
    )
    nothing_secret_printed(cloud, captured)


@pytest.mark.parametrize(
    ("boundary", "skipped"),
    [
        (9, "step 8/12: promote eu-central-1's copy of the master credential"),
        (10, "step 9/12: rotate eu-central-1's copy of the master credential"),
        (11, "step 10/12: promote eu-central-1's copy of the app credential"),
        (12, "step 11/12: rotate eu-central-1's copy of the app credential"),
    ],
)
def test_failover_interrupted_after_promoting_or_rotating_says_already_done_and_goes_on(
    region_lost: tuple[Machine, Cloud],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    boundary: int,
    skipped: str,
) -> None:
    _, cloud = region_lost
    interrupt_at(monkeypatch, boundary)
    assert deploy.main(FAILOVER) == steps.EXIT_INTERRUPTED
    capsys.readouterr()
    assert deploy.main(FAILOVER) == 0, capsys.readouterr().err
    line = next(s for s in steps_of(capsys.readouterr().out) if s.startswith(skipped))
    assert line.endswith(": already done")
    assert cloud.mutations()[-4:] == TAKE_OVER, "each copy promoted and rotated once"


def test_failover_to_the_home_region_promotes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    """The writer was in the standby (a switchover, then up) and the standby's region is lost: the home
    copies are the primaries, and rotate with the home function as they always did."""
    cloud = Cloud("warm", lost=(STANDBY,))
    machine = Machine(tmp_path, monkeypatch, cloud)
    cloud.writer = STANDBY
    cloud.parameters = {r: record("warm", primary=STANDBY).to_json() for r in (PRIMARY, STANDBY)}
    regions.record_primary_region(machine.stack_file, "payments-platform", STANDBY)
    assert deploy.main(FAILOVER) == 0, capsys.readouterr().err
    assert cloud.writer == HOME
    assert secret_calls(cloud) == [], "not one Secrets Manager call"
    out = capsys.readouterr().out
    assert "--rejoin-secrets" not in out
    assert "standalone" not in out


def test_a_rotation_caught_by_the_region_loss_stops_the_rotation_step_with_one_line(
    region_lost: tuple[Machine, Cloud], capsys: pytest.CaptureFixture[str]
) -> None:
    """A rotation the home function had begun when the region went: the copy carries its AWSPENDING version,
    and RotateSecret would refuse; the step says so instead."""
    _, cloud = region_lost
    half = cloud.new_version()
    home_copy(cloud, MASTER).add_version(half, "SECRET-VALUE-half-rotated", "AWSPENDING")
    assert deploy.main(FAILOVER) == steps.EXIT_STEP_FAILED
    err = one_error(capsys.readouterr().err)
    assert err.startswith(
        f"deploy: step 9/12 failed: {MASTER[STANDBY]} carries a rotation begun in eu-west-1 before it was lost "
        f"(version {half} is AWSPENDING, not AWSCURRENT)"
    )
    assert "'A rotation caught by the region loss'" in err
    assert "rotate_secret" not in cloud.mutations()
    assert err.rstrip().endswith("`./deploy failover prod --rejoin-secrets` before any up)")


# the split: up and switchover refuse until the rejoin


@pytest.fixture
def split(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> tuple[Machine, Cloud]:
    """eu-west-1 was lost; `./deploy failover` moved the writer and took the credentials over in eu-central-1,
    where they rotated since. eu-west-1 answers again; nothing else has run (its SSM record is the last up's)."""
    cloud = Cloud("warm")
    machine = Machine(tmp_path, monkeypatch, cloud)
    cloud.writer = STANDBY
    cloud.split()
    regions.record_primary_region(machine.stack_file, "payments-platform", STANDBY)
    return machine, cloud


SPLIT = (
    "eu-central-1's copies of the master credential and app credential are standalone secrets since a failover, "
    "not replicas of eu-west-1's: `up` would overwrite their live values with eu-west-1's older ones. Run "
    "`./deploy failover prod --rejoin-secrets` first"
)


def test_up_is_refused_while_split_and_allowed_once_rejoined(
    split: tuple[Machine, Cloud], capsys: pytest.CaptureFixture[str]
) -> None:
    machine, cloud = split
    assert deploy.main(UP_PROD) == deploy.EXIT_SETUP
    assert one_error(capsys.readouterr().err) == (
        f"deploy: {SPLIT} (it copies them home and makes them replicas again). Nothing was changed.\n"
    )
    assert not any(call.startswith("pulumi up") for call in machine.pulumi_calls())
    assert cloud.mutations() == []
    assert deploy.main(REJOIN) == 0, capsys.readouterr().err
    assert deploy.main(UP_PROD) == 0, capsys.readouterr().err
    assert machine.pulumi_calls()[-1] == UP


def test_switchover_is_refused_while_split_and_allowed_once_rejoined(
    machine: Machine, cloud: Cloud, capsys: pytest.CaptureFixture[str]
) -> None:
    cloud.split()
    assert deploy.main(SWITCHOVER) == deploy.EXIT_SETUP
    assert SPLIT in one_error(capsys.readouterr().err)
    assert cloud.mutations() == []
    assert deploy.main(REJOIN) == 0, capsys.readouterr().err
    assert deploy.main(SWITCHOVER) == 0, capsys.readouterr().err
    assert cloud.writer == STANDBY


def test_a_standalone_copy_that_reports_no_primary_region_is_split_too(
    machine: Machine, cloud: Cloud, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only a copy naming the home region as its PrimaryRegion is its replica."""
    cloud.split()
    cloud.report_own_region = False
    assert deploy.main(UP_PROD) == deploy.EXIT_SETUP
    assert SPLIT in one_error(capsys.readouterr().err)


def test_the_first_up_has_no_record_to_read_and_is_not_refused(machine: Machine, cloud: Cloud) -> None:
    cloud.parameters.clear()
    assert deploy.main(UP_PROD) == 0
    assert secret_calls(cloud) == []


def test_up_fails_closed_when_the_copies_cannot_be_read(
    machine: Machine, cloud: Cloud, capsys: pytest.CaptureFixture[str]
) -> None:
    cloud.failures["describe_secret"] = ("AccessDeniedException", "not authorized")
    assert deploy.main(UP_PROD) == deploy.EXIT_SETUP
    err = one_error(capsys.readouterr().err)
    assert err.startswith(
        "deploy: cannot tell whether eu-central-1's copies of the database credentials are replicas of eu-west-1's "
        "(secretsmanager DescribeSecret in eu-central-1: AccessDeniedException: not authorized)"
    )
    assert not any(call.startswith("pulumi up") for call in machine.pulumi_calls())


# a format-1 record: up writes it again; the moves refuse


def format_1() -> str:
    data = json.loads(record().to_json())
    for key in ("home_region", "rotation_days", "master_secret_arns", "app_secret_arns", "secrets_key_arns"):
        del data[key]
    del data["rotation_function_arns"]
    return json.dumps(data | {"format": 1})


@pytest.mark.parametrize("argv", [FAILOVER, SWITCHOVER, REJOIN], ids=["failover", "switchover", "rejoin"])
def test_a_format_1_record_is_refused_naming_up(
    machine: Machine, cloud: Cloud, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    cloud.parameters = {r: format_1() for r in (PRIMARY, STANDBY)}
    assert deploy.main(argv) == deploy.EXIT_SETUP
    err = one_error(capsys.readouterr().err)
    assert "/fintech/prod/failover-record in eu-" in err
    assert (
        "failover record: format is 1 (written before the credentials' copies were recorded), these commands read "
        "format 2; run `./deploy up prod` to write it again." in err
    )
    assert cloud.mutations() == []


def test_up_is_what_rewrites_a_format_1_record(machine: Machine, cloud: Cloud) -> None:
    cloud.parameters = {r: format_1() for r in (PRIMARY, STANDBY)}
    assert deploy.main(UP_PROD) == 0
    assert machine.pulumi_calls()[-1] == UP


# the rejoin


def test_rejoin_copies_each_value_home_and_makes_the_standby_copies_replicas_again(
    split: tuple[Machine, Cloud], clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    _, cloud = split
    live = {name: standby_copy(cloud, arns).current() for name, arns in (("master", MASTER), ("app", APP))}
    assert deploy.main(REJOIN) == 0, capsys.readouterr().err
    assert cloud.mutations() == REJOINED
    assert [(region, op) for region, op, _ in secret_calls(cloud) if op in REJOINED] == [
        (STANDBY, "cancel_rotate_secret"),
        (HOME, "put_secret_value"),
        (HOME, "replicate_secret_to_regions"),
    ] * 2
    assert cloud.asked("cancel_rotate_secret") == [{"SecretId": MASTER[STANDBY]}, {"SecretId": APP[STANDBY]}]
    rotated = "SECRET-VALUE-rotated-in-eu-central-1"
    assert cloud.asked("put_secret_value") == [
        {"SecretId": MASTER[HOME], "SecretString": rotated, "ClientRequestToken": live["master"]},
        {"SecretId": APP[HOME], "SecretString": rotated, "ClientRequestToken": live["app"]},
    ]
    assert cloud.asked("replicate_secret_to_regions") == [
        {
            "SecretId": arns[HOME],
            "AddReplicaRegions": [{"Region": STANDBY, "KmsKeyId": KEYS[STANDBY]}],
            "ForceOverwriteReplicaSecret": True,
        }
        for arns in (MASTER, APP)
    ]
    for name, arns in (("master", MASTER), ("app", APP)):
        at_home = home_copy(cloud, arns)
        assert at_home.current() == live[name], "home's AWSCURRENT is the standby's version, same id"
        assert at_home.replicas[STANDBY]["Status"] == "InSync"
        assert standby_copy(cloud, arns).source is at_home
    captured = capsys.readouterr()
    assert "replication to eu-central-1: InProgress" in captured.out, "InSync was waited for"
    assert clock.sleeps > 0
    for what in ("master", "app"):
        assert f"eu-west-1's copy of the {what} credential rotates with {FUNCTIONS[HOME]} (RotationEnabled)." in (
            captured.out
        )
    assert captured.out.rstrip().endswith(
        "next:\n  1. ./deploy up prod: both sites, the DNS roles and the failover record follow the writer\n"
        "  2. ./deploy switchover prod: the writer and the traffic back to eu-west-1, when you choose"
    )
    nothing_secret_printed(cloud, captured)


@pytest.mark.parametrize("boundary", range(2, 11))
def test_rejoin_resumes_after_every_step(
    split: tuple[Machine, Cloud], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], boundary: int
) -> None:
    _, cloud = split
    interrupt_at(monkeypatch, boundary)
    assert deploy.main(REJOIN) == steps.EXIT_INTERRUPTED
    assert one_error(capsys.readouterr().err).endswith(
        "run `./deploy failover prod --rejoin-secrets` again: it goes on from there.\n"
    )
    assert deploy.main(REJOIN) == 0, capsys.readouterr().err
    assert cloud.mutations() == REJOINED, "nothing done twice"
    if boundary > 2:
        assert "already done" in capsys.readouterr().out, "the re-run says what it skips"
    for arns in (MASTER, APP):
        assert standby_copy(cloud, arns).source is home_copy(cloud, arns)


def test_a_rotation_under_way_in_the_standby_is_waited_for_and_its_result_carried_home(
    split: tuple[Machine, Cloud], clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    _, cloud = split
    rotating = standby_copy(cloud, MASTER)
    cloud.rotation_started(rotating, looks=4)
    result = rotating.pending()
    assert deploy.main(REJOIN) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert f"eu-central-1's copy of the master credential: version {result} is AWSPENDING" in out
    assert cloud.asked("put_secret_value")[0]["ClientRequestToken"] == result, "the rotation's result went home"
    assert home_copy(cloud, MASTER).current() == result


def test_a_rotation_that_never_finishes_stops_the_rejoin_before_any_change(
    split: tuple[Machine, Cloud], capsys: pytest.CaptureFixture[str]
) -> None:
    _, cloud = split
    cloud.rotation_started(standby_copy(cloud, MASTER), looks=10**6)
    assert deploy.main(REJOIN) == steps.EXIT_STEP_FAILED
    err = one_error(capsys.readouterr().err)
    assert err.startswith(
        f"deploy: step 1/10 failed: timed out after 1 min waiting for the rotation of {MASTER[STANDBY]}"
    )
    assert "nothing was changed" in err
    assert cloud.mutations() == []


def test_put_secret_value_is_a_no_op_when_repeated_with_the_same_token(
    split: tuple[Machine, Cloud], capsys: pytest.CaptureFixture[str]
) -> None:
    """The value reached home but its answer did not, and the home copy still shows its old version a moment:
    the re-run puts again with the same token, and Secrets Manager makes no second version."""
    _, cloud = split
    cloud.answers_lost.add("put_secret_value")
    assert deploy.main(REJOIN) == steps.EXIT_STEP_FAILED
    err = one_error(capsys.readouterr().err)
    assert err.startswith("deploy: step 3/10 failed: secretsmanager PutSecretValue in eu-west-1: InternalServiceError")
    assert "run `./deploy failover prod --rejoin-secrets` again (not `./deploy up`)" in err
    assert deploy.main(REJOIN) == 0, capsys.readouterr().err
    first, again = cloud.asked("put_secret_value")[:2]
    assert first == again, "the same value under the same ClientRequestToken"
    at_home = home_copy(cloud, MASTER)
    assert list(at_home.stages.values()).count(["AWSCURRENT"]) == 1
    assert at_home.stages[first["ClientRequestToken"]] == ["AWSCURRENT"]
    assert len(at_home.stages) == 2, "the copied version and the previous one: no third"


def test_a_failed_replication_stops_with_its_message_and_is_asked_again_on_the_re_run(
    split: tuple[Machine, Cloud], capsys: pytest.CaptureFixture[str]
) -> None:
    _, cloud = split
    cloud.replication_fails[STANDBY] = "Access to KMS is not allowed"
    assert deploy.main(REJOIN) == steps.EXIT_STEP_FAILED
    err = one_error(capsys.readouterr().err)
    assert err.startswith(
        f"deploy: step 5/10 failed: eu-west-1 reports replication of {MASTER[HOME]} to eu-central-1 Failed: "
        "Access to KMS is not allowed"
    )
    assert deploy.main(REJOIN) == 0, capsys.readouterr().err
    assert cloud.mutations() == [*REJOINED[:3], "replicate_secret_to_regions", *REJOINED[3:]]


def test_a_stale_in_sync_listing_at_home_is_not_taken_for_a_replica(
    split: tuple[Machine, Cloud], capsys: pytest.CaptureFixture[str]
) -> None:
    """Should the home copy still list the standby after the promotion, only the standby's own PrimaryRegion
    says it is a replica: the replication is asked for all the same."""
    _, cloud = split
    for arns in (MASTER, APP):
        home_copy(cloud, arns).replicas[STANDBY] = {"Region": STANDBY, "KmsKeyId": KEYS[STANDBY], "Status": "InSync"}
    assert deploy.main(REJOIN) == 0, capsys.readouterr().err
    assert cloud.mutations() == REJOINED


def test_nothing_to_rejoin_says_so_and_changes_nothing(
    machine: Machine, cloud: Cloud, capsys: pytest.CaptureFixture[str]
) -> None:
    assert deploy.main(REJOIN) == 0
    assert capsys.readouterr().out == (
        "nothing to rejoin: eu-central-1's copies of the master and app credentials are replicas of eu-west-1's, "
        "in sync.\n"
    )
    assert cloud.mutations() == []


def test_rejoin_while_the_home_region_is_still_lost_is_refused(
    split: tuple[Machine, Cloud], capsys: pytest.CaptureFixture[str]
) -> None:
    _, cloud = split
    cloud.lost.add(HOME)
    assert deploy.main(REJOIN) == deploy.EXIT_SETUP
    err = one_error(capsys.readouterr().err)
    assert "secretsmanager DescribeSecret in eu-west-1: EndpointConnectionError" in err
    assert err.endswith("; nothing was changed.\n")
    assert cloud.mutations() == []


def test_a_home_rotation_turned_off_is_reported_not_turned_on(
    split: tuple[Machine, Cloud], capsys: pytest.CaptureFixture[str]
) -> None:
    _, cloud = split
    home_copy(cloud, APP).rotation["RotationEnabled"] = False
    assert deploy.main(REJOIN) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert (
        f"note: eu-west-1's copy of the app credential does not rotate with eu-west-1's function {FUNCTIONS[HOME]} "
        f"(RotationEnabled False, function {FUNCTIONS[HOME]}): `./deploy refresh prod` then `./deploy up prod` set it "
        "again (up alone trusts its state); this command leaves it." in out
    )
    assert "rotate_secret" not in cloud.mutations()


def test_failover_then_rejoin_then_up_end_to_end(
    region_lost: tuple[Machine, Cloud], capsys: pytest.CaptureFixture[str]
) -> None:
    """The region comes back after the failover: up refuses, the rejoin carries the values rotated in the
    standby home, and up runs."""
    machine, cloud = region_lost
    assert deploy.main(FAILOVER) == 0, capsys.readouterr().err
    rotated = standby_copy(cloud, APP).pending() or standby_copy(cloud, APP).current()  # its first rotation
    cloud.lost.clear()
    install(machine.bin, "pulumi", FAKE_PULUMI)
    assert deploy.main(UP_PROD) == deploy.EXIT_SETUP
    assert SPLIT in one_error(capsys.readouterr().err)
    assert deploy.main(REJOIN) == 0, capsys.readouterr().err
    assert home_copy(cloud, APP).current() == rotated, "the credential rotated in the standby went home"
    assert deploy.main(UP_PROD) == 0, capsys.readouterr().err


# the command line, and the calls against the service model


@pytest.mark.parametrize(
    "argv",
    [
        ["failover", "prod", "--rejoin-secrets", "--allow-data-loss"],
        ["failover", "prod", "--rejoin-secrets", "--remove-temporary"],
        ["up", "prod", "--rejoin-secrets"],
    ],
)
def test_rejoin_secrets_belongs_to_failover_alone(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        deploy.main(argv)
    assert exit_.value.code == deploy.EXIT_SETUP
    assert "--rejoin-secrets goes with failover only" in capsys.readouterr().err


def test_usage_names_the_rejoin_and_the_refusal(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        deploy.main(["--help"])
    usage = " ".join(capsys.readouterr().out.split())
    for words in (
        "./deploy failover prod --rejoin-secrets",
        "up or switchover while the credentials are split after a failover",
    ):
        assert words in usage


def test_the_secrets_manager_calls_check_against_the_model_with_stubber() -> None:
    """botocore's Stubber: each operation's parameters and answer as the service model has them."""
    client = boto3.Session(aws_access_key_id="A", aws_secret_access_key="s").client(
        "secretsmanager", region_name=STANDBY
    )
    version = "00000000-0000-4000-8000-000000000001"
    with Stubber(client) as stub:
        stub.add_response("stop_replication_to_replica", {"ARN": APP[STANDBY]}, {"SecretId": APP[STANDBY]})
        rotation = {
            "SecretId": APP[STANDBY],
            "RotationLambdaARN": FUNCTIONS[STANDBY],
            "RotationRules": {"AutomaticallyAfterDays": DAYS},
        }
        stub.add_response("rotate_secret", {"ARN": APP[STANDBY], "VersionId": version}, rotation)
        stub.add_response("cancel_rotate_secret", {"ARN": APP[STANDBY]}, {"SecretId": APP[STANDBY]})
        put = {"SecretId": APP[HOME], "SecretString": "x", "ClientRequestToken": version}
        stub.add_response("put_secret_value", {"ARN": APP[HOME], "VersionId": version}, put)
        replicate = {
            "SecretId": APP[HOME],
            "AddReplicaRegions": [{"Region": STANDBY, "KmsKeyId": KEYS[STANDBY]}],
            "ForceOverwriteReplicaSecret": True,
        }
        answer = {"ARN": APP[HOME], "ReplicationStatus": [{"Region": STANDBY, "Status": "InProgress"}]}
        stub.add_response("replicate_secret_to_regions", answer, replicate)
        stub.add_client_error("describe_secret", "ResourceNotFoundException", http_status_code=400)
        client.stop_replication_to_replica(SecretId=APP[STANDBY])
        client.rotate_secret(**rotation)
        client.cancel_rotate_secret(SecretId=APP[STANDBY])
        client.put_secret_value(**put)
        client.replicate_secret_to_regions(**replicate)
        with pytest.raises(botocore.exceptions.ClientError) as error:
            client.describe_secret(SecretId=APP[STANDBY])
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_a_refused_home_rotations_awspending_is_taken_off_so_the_home_copy_rotates_again(
    split: tuple[Machine, Cloud], capsys: pytest.CaptureFixture[str]
) -> None:
    """While split, the home copy's scheduled rotation is refused by the function's guard and leaves
    AWSPENDING on an empty version: RotateSecret would take it for a rotation still in progress forever."""
    _, cloud = split
    at_home = home_copy(cloud, APP)
    stale = cloud.new_version()
    at_home.add_version(stale, "", "AWSPENDING")
    assert at_home.pending() == stale
    assert deploy.main(REJOIN) == 0, capsys.readouterr().err
    assert {"SecretId": APP[HOME], "VersionStage": "AWSPENDING", "RemoveFromVersionId": stale} in cloud.asked(
        "update_secret_version_stage"
    )
    assert at_home.pending() == "", "no label left for RotateSecret to wait on"
    assert at_home.current() == standby_copy(cloud, APP).current()


def test_a_version_the_home_copy_already_has_is_made_current_not_put_again(
    split: tuple[Machine, Cloud], capsys: pytest.CaptureFixture[str]
) -> None:
    """The standby never rotated after the failover, and the home copy's AWSCURRENT had moved on before the
    region went (its last rotation never replicated): PutSecretValue with the standby's version id would be
    ignored ("the request is ignored" for an existing version of the same value), so AWSCURRENT is moved."""
    _, cloud = split
    at_home, away = home_copy(cloud, MASTER), standby_copy(cloud, MASTER)
    live = away.current()
    at_home.add_version(live, away.values[live], "AWSCURRENT")  # replicated from home before the loss...
    newer = cloud.new_version()  # ...then home rotated once more, and that never reached the standby
    at_home.add_version(newer, "SECRET-VALUE-home-only", "AWSCURRENT")
    assert at_home.current() == newer
    assert deploy.main(REJOIN) == 0, capsys.readouterr().err
    assert at_home.current() == live, "the live (standby) value is current at home before it is replicated"
    assert {
        "SecretId": MASTER[HOME],
        "VersionStage": "AWSCURRENT",
        "MoveToVersionId": live,
        "RemoveFromVersionId": newer,
    } in cloud.asked("update_secret_version_stage")
    assert MASTER[HOME] not in [p["SecretId"] for p in cloud.asked("put_secret_value")]
    assert standby_copy(cloud, MASTER).source is at_home
    assert standby_copy(cloud, MASTER).current() == live


def test_failover_waits_for_the_first_rotation_by_the_targets_function(
    region_lost: tuple[Machine, Cloud], clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    """RotateSecret only starts a rotation: the step is done once AWSCURRENT has moved and nothing is left
    AWSPENDING, which is what proves the standby's function works."""
    _, cloud = region_lost
    before = {name: home_copy(cloud, arns).current() for name, arns in (("master", MASTER), ("app", APP))}
    assert deploy.main(FAILOVER) == 0, capsys.readouterr().err
    for name, arns in (("master", MASTER), ("app", APP)):
        promoted = standby_copy(cloud, arns)
        assert promoted.pending() == ""
        assert promoted.current() != before[name], f"the {name} credential was rotated in {STANDBY}"
    assert "version" in capsys.readouterr().out, "the rotation under way was shown while waited for"
    assert clock.sleeps > 0


def test_a_first_rotation_that_does_not_finish_stops_the_failover_and_the_re_run_waits_again(
    region_lost: tuple[Machine, Cloud], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _, cloud = region_lost
    started = cloud.rotation_started

    def stuck(found: Any, looks: int = 2) -> None:
        started(found, looks=10**6)

    monkeypatch.setattr(cloud, "rotation_started", stuck)
    assert deploy.main(FAILOVER) == steps.EXIT_STEP_FAILED
    err = one_error(capsys.readouterr().err)
    assert re.match(r"deploy: step (9|11)/12 failed: timed out after 5 min waiting for the first rotation of ", err)
    assert "is standalone and does not rotate yet" in err
    # Fixed (the function's log said why): the rotation finishes; the re-run waits for it, asks nothing twice.
    monkeypatch.setattr(cloud, "rotation_started", started)
    for arns in (MASTER, APP):
        if standby_copy(cloud, arns).rotating:
            standby_copy(cloud, arns).rotating = 1
    assert deploy.main(FAILOVER) == 0, capsys.readouterr().err
    assert cloud.mutations().count("rotate_secret") == 2, "once per credential"
