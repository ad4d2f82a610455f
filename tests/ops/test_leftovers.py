"""What an earlier destroy kept, found before ./deploy runs Pulumi (ops/leftovers.py)."""

import json
import shlex
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest

from offline.harness import run_stack
from ops import deploy, leftovers
from tests.ops.test_deploy import KEPT, install, lambda_quota, offline_machine, use_real_prod_values

__all__ = ["lambda_quota"]  # the account checks' autouse fakes, this module's too: no test reaches AWS

PROJECT = "payments-platform"
WAF_LOGS = ("aws-waf-logs-fintech-prod-edge", "us-east-1")
STANDBY_FLOW_LOGS = ("/fintech/prod/vpc-flow-logs", "eu-central-1")


def urn(chain: str, name: str, stack: str = "prod") -> str:
    return f"urn:pulumi:{stack}::{PROJECT}::{chain}::{name}"


# The engine's URNs (stack-level resources carry no pulumi:pulumi:Stack in their type chain).
EDGE = urn("fintech:edge:Edge", "fintech-prod-edge")
HOME_PROVIDER = urn("pulumi:providers:aws", "fintech-prod-aws")
STANDBY = urn("fintech:site:Site", "fintech-prod-standby")
STANDBY_NETWORK = urn("fintech:site:Site$fintech:network:Network", "fintech-prod-standby-net")
STANDBY_PROVIDER = urn("pulumi:providers:aws", "fintech-prod-standby-aws")
WAF_GROUP = urn("fintech:edge:Edge$aws:cloudwatch/logGroup:LogGroup", "fintech-prod-edge-waf-logs")
HOME_CLUSTER = urn("fintech:site:Site$fintech:data:Database$aws:rds/cluster:Cluster", "fintech-prod-db-cluster")
# What a failed first `up` after a destroy leaves in the state: the providers and the components.
PARENTS_AND_PROVIDERS = frozenset({EDGE, HOME_PROVIDER, STANDBY, STANDBY_NETWORK, STANDBY_PROVIDER})


# The lookups under test (the autouse fakes replace them for ./deploy's tests).
LOG_GROUP_EXISTS, SNAPSHOT_EXISTS = leftovers.log_group_exists, leftovers.snapshot_exists


@pytest.fixture
def real_lookups(monkeypatch: pytest.MonkeyPatch) -> None:
    """The account lookups as shipped, asking the fake clients below instead of KEPT."""
    monkeypatch.setattr(leftovers, "log_group_exists", LOG_GROUP_EXISTS)
    monkeypatch.setattr(leftovers, "snapshot_exists", SNAPSHOT_EXISTS)


class Account:
    """boto3 clients answering from ``existing`` (name, region); ``error`` makes every call raise it."""

    def __init__(self, existing: set[tuple[str, str]], error: Exception | None = None) -> None:
        self.existing, self.error = existing, error
        self.asked: list[tuple[str, str, dict[str, Any]]] = []

    def __call__(self, service: str, region: str) -> Any:
        account = self

        class Client:
            def describe_log_groups(self, **kwargs: Any) -> dict[str, Any]:
                return account.answer("logs", region, kwargs, "logGroupNamePrefix", "logGroups", "logGroupName")

            def describe_db_cluster_snapshots(self, **kwargs: Any) -> dict[str, Any]:
                key = "DBClusterSnapshotIdentifier"
                return account.answer("rds", region, kwargs, key, "DBClusterSnapshots", key)

        return Client()

    def answer(
        self, service: str, region: str, kwargs: dict[str, Any], arg: str, listing: str, key: str
    ) -> dict[str, Any]:
        self.asked.append((service, region, kwargs))
        if self.error is not None:
            raise self.error
        # A prefix also matches longer names (…/app-old): AWS lists them too.
        names = [n for n, r in self.existing if r == region and n.startswith(kwargs[arg])]
        return {listing: [{key: n} for n in sorted(names)]}


def state(*urns: str, ids: frozenset[tuple[str, str]] = frozenset()) -> leftovers.State:
    return leftovers.State(urns=frozenset(urns), ids=ids)


def problems(held: leftovers.State | None, account: Account) -> list[str]:
    return leftovers.log_group_problems("prod", run_stack("prod"), account, lambda: held)


# --------------------------------------------------------------------------- what the program keeps


def test_the_names_a_destroy_keeps_come_from_the_program() -> None:
    prod = {(g.physical, g.region) for g in leftovers.retained_log_groups(run_stack("prod"))}
    assert WAF_LOGS in prod, "the WAF log group lives in us-east-1"
    assert STANDBY_FLOW_LOGS in prod, "the standby site's groups live in the standby region"
    assert ("/fintech/prod/vpc-flow-logs", "eu-west-1") in prod
    assert ("/aws/rds/cluster/fintech-prod-standby-db-cluster/audit", "eu-central-1") in prod
    assert ("/fintech/prod/secret-rotation", "eu-west-1") in prod
    assert ("/fintech/prod/secret-rotation", "eu-central-1") in prod, "each site has its rotation function"
    assert len(prod) == 16  # with each site's audit-archive delivery error log and the trail's log group
    assert ("/fintech/prod/cloudtrail", "eu-west-1") in prod, "the stack's trail, in the home region"
    snapshots = {(s.identifier, s.region) for s in leftovers.final_snapshots(run_stack("prod"))}
    assert snapshots == {
        ("fintech-prod-db-cluster-final", "eu-west-1"),
        ("fintech-prod-standby-db-cluster-final", "eu-central-1"),
    }
    # dev keeps nothing: its log groups go with destroy, and its cluster skips the final snapshot.
    assert leftovers.retained_log_groups(run_stack("dev")) == []
    assert leftovers.final_snapshots(run_stack("dev")) == []


def test_the_engine_urn_is_built_from_the_whole_parent_chain() -> None:
    run = run_stack("prod")
    flow = next(r for r in run.resources if r.name == "fintech-prod-standby-net-flow-logs")
    assert leftovers.engine_urn(run, flow) == urn(
        "fintech:site:Site$fintech:network:Network$aws:cloudwatch/logGroup:LogGroup",
        "fintech-prod-standby-net-flow-logs",
    )
    assert flow.urn != leftovers.engine_urn(run, flow), "the mocks' URN differs in shape (pulumi/pulumi#8637)"


# --------------------------------------------------------------------------- what to adopt


@pytest.mark.usefixtures("real_lookups")
@pytest.mark.parametrize(
    ("kept", "words"),
    [
        (
            WAF_LOGS,
            # Declared with region=us-east-1 through the home provider: pulumi-aws 7 imports it as <id>@<region>.
            ["aws:cloudwatch/logGroup:LogGroup", "fintech-prod-edge-waf-logs",
             "aws-waf-logs-fintech-prod-edge@us-east-1", "--parent", EDGE, "--provider", HOME_PROVIDER],
        ),
        (
            STANDBY_FLOW_LOGS,
            ["aws:cloudwatch/logGroup:LogGroup", "fintech-prod-standby-net-flow-logs", "/fintech/prod/vpc-flow-logs",
             "--parent", STANDBY_NETWORK, "--provider", STANDBY_PROVIDER],
        ),
    ],
)  # fmt: skip
def test_a_kept_group_the_state_lacks_gets_one_import_into_the_declared_resource(
    kept: tuple[str, str], words: list[str]
) -> None:
    account = Account({kept, ("/fintech/prod/vpc-flow-logs-old", "eu-central-1")})
    lines = problems(state(*PARENTS_AND_PROVIDERS), account)
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"CloudWatch log group {kept[0]} exists in {kept[1]} but stack prod's state does not")
    assert shlex.split(lines[1]) == [
        "pulumi", "import", *words, "--protect=false", "--stack", "prod", "--generate-code=false", "--yes",
    ]  # fmt: skip
    assert {region for _, region, _ in account.asked} == {"eu-west-1", "eu-central-1", "us-east-1"}


@pytest.mark.usefixtures("real_lookups")
def test_a_group_the_state_holds_needs_no_import() -> None:
    account = Account({WAF_LOGS})
    assert problems(state(*PARENTS_AND_PROVIDERS, WAF_GROUP), account) == []
    # ...nor one held under another URN (an alias): the same type and id.
    held = state(*PARENTS_AND_PROVIDERS, ids=frozenset({("aws:cloudwatch/logGroup:LogGroup", WAF_LOGS[0])}))
    assert problems(held, account) == []


@pytest.mark.usefixtures("real_lookups")
def test_a_destroyed_stack_is_told_its_imports_need_the_parents_first() -> None:
    lines = problems(state(), Account({WAF_LOGS}))
    assert len(lines) == 3, lines
    assert "lacks 2 of them" in lines[1]
    assert "`pulumi up --stack prod` once" in lines[1]
    assert lines[2].startswith("pulumi import ")


@pytest.mark.usefixtures("real_lookups")
@pytest.mark.parametrize(
    "error",
    [
        botocore.exceptions.ClientError({"Error": {"Code": "AccessDeniedException"}}, "DescribeLogGroups"),
        botocore.exceptions.EndpointConnectionError(endpoint_url="https://logs.us-east-1.amazonaws.com"),
    ],
)
def test_an_account_that_cannot_be_read_skips_the_check(error: Exception) -> None:
    account = Account({WAF_LOGS}, error=error)
    assert leftovers.log_group_exists(*WAF_LOGS, account) is None
    assert problems(state(), account) == []


@pytest.mark.usefixtures("real_lookups")
def test_a_state_that_cannot_be_read_skips_the_check() -> None:
    assert problems(None, Account({WAF_LOGS})) == []


@pytest.mark.usefixtures("real_lookups")
def test_nothing_kept_asks_no_state() -> None:
    asked: list[bool] = []

    def read() -> leftovers.State:
        asked.append(True)
        return state()

    assert leftovers.log_group_problems("prod", run_stack("prod"), Account(set()), read) == []
    assert asked == [], "pulumi stack export runs only once something kept exists"


@pytest.mark.usefixtures("real_lookups")
@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (None, True),
        (botocore.exceptions.ClientError({"Error": {"Code": "DBClusterSnapshotNotFoundFault"}}, "Describe"), False),
        (botocore.exceptions.ClientError({"Error": {"Code": "AccessDenied"}}, "DescribeDBClusterSnapshots"), None),
    ],
)
def test_a_snapshot_exists_is_missing_or_unknown(error: Exception | None, expected: bool | None) -> None:
    account = Account({("fintech-prod-db-cluster-final", "eu-west-1")}, error=error)
    assert leftovers.snapshot_exists("fintech-prod-db-cluster-final", "eu-west-1", account) is expected
    assert account.asked == [("rds", "eu-west-1", {"DBClusterSnapshotIdentifier": "fintech-prod-db-cluster-final"})]


# --------------------------------------------------------------------------- ./deploy


EXPORTING_PULUMI = """#!/usr/bin/env bash
echo "$*" >> "$FAKE_PULUMI_LOG"
if [ "$1 $2" = "stack export" ]; then
  if [ -n "${FAKE_EXPORT_STDERR:-}" ]; then printf '%s\\n' "$FAKE_EXPORT_STDERR" >&2; exit 255; fi
  cat "$FAKE_STATE"; exit 0
fi
exit 0
"""


@pytest.fixture
def prod_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Real-looking prod on an S3 backend, a fake pulumi whose `stack export` prints FAKE_STATE; returns its log."""
    install(offline_machine(tmp_path, monkeypatch), "pulumi", EXPORTING_PULUMI)
    use_real_prod_values(monkeypatch)
    monkeypatch.setenv("PULUMI_BACKEND_URL", "s3://payments-pulumi-state")
    monkeypatch.setenv("FAKE_PULUMI_LOG", str(tmp_path / "calls.log"))
    monkeypatch.setenv("FAKE_STATE", str(tmp_path / "state.json"))
    write_state(tmp_path / "state.json", PARENTS_AND_PROVIDERS)
    return tmp_path / "calls.log"


def write_state(path: Path, urns: frozenset[str]) -> None:
    resources = [{"urn": u, "type": u.split("::")[2].rsplit("$", 1)[-1], "id": u.rsplit("::", 1)[-1]} for u in urns]
    path.write_text(json.dumps({"version": 3, "deployment": {"resources": resources}}))


def test_deploy_up_refuses_and_prints_the_imports(prod_machine: Path, capsys: pytest.CaptureFixture[str]) -> None:
    KEPT.add(WAF_LOGS)
    assert deploy.main(["up", "prod", "--yes"]) == deploy.EXIT_SETUP
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2, err
    assert err[0].startswith("deploy: CloudWatch log group aws-waf-logs-fintech-prod-edge exists in us-east-1")
    command = shlex.split(err[1].removeprefix("deploy: "))
    assert command[:5] == ["pulumi", "import", "aws:cloudwatch/logGroup:LogGroup", "fintech-prod-edge-waf-logs",
                           "aws-waf-logs-fintech-prod-edge@us-east-1"]  # fmt: skip
    assert prod_machine.read_text().splitlines() == ["stack export --stack prod"], "no select, no up"


def test_deploy_up_goes_ahead_once_the_state_holds_them(prod_machine: Path, tmp_path: Path) -> None:
    KEPT.add(WAF_LOGS)
    write_state(tmp_path / "state.json", PARENTS_AND_PROVIDERS | {WAF_GROUP})
    assert deploy.main(["up", "prod", "--yes"]) == 0
    assert prod_machine.read_text().splitlines()[-1].startswith("up --stack prod")


def test_a_stack_that_does_not_exist_yet_holds_nothing(prod_machine: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    KEPT.add(WAF_LOGS)
    monkeypatch.setenv("FAKE_EXPORT_STDERR", "error: no stack named 'prod' found")
    assert deploy.main(["preview", "prod"]) == deploy.EXIT_SETUP
    monkeypatch.setenv("FAKE_EXPORT_STDERR", "error: failed to load checkpoint: AccessDenied")
    assert deploy.main(["preview", "prod"]) == 0, "a state that cannot be read skips the check"


def test_destroy_refuses_to_write_a_final_snapshot_again(
    prod_machine: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    KEPT.add(("fintech-prod-db-cluster-final", "eu-west-1"))
    assert deploy.main(["destroy", "prod", "--allow-prod"]) == 0, "the state holds no cluster: destroy writes none"
    write_state(tmp_path / "state.json", PARENTS_AND_PROVIDERS | {HOME_CLUSTER})
    capsys.readouterr()
    assert deploy.main(["destroy", "prod", "--allow-prod"]) == deploy.EXIT_SETUP
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("deploy: RDS cluster snapshot fintech-prod-db-cluster-final already exists in eu-west-1")
    assert "aws rds copy-db-cluster-snapshot --region eu-west-1" in err
    assert "aws rds delete-db-cluster-snapshot" in err
