"""What a destroy left behind under the names the program gives, found before ``./deploy up``/``preview``/``destroy``.

After a failed first ``up``, ``destroy`` then ``up`` collides with what the stack keeps on purpose: log groups
declared with ``retain_on_delete`` (their fixed names are then taken, and CreateLogGroup answers
ResourceAlreadyExistsException) and the Aurora cluster's final snapshot (a second destroy cannot write it again).
The fix is forward (docs/deploy.md, "After a failed first `up`"): adopt each kept log group into the resource the
program declares, with ``pulumi import``, and run ``up``.

What to look for comes from the program itself, run offline once (offline/harness.py records each resource's type,
logical name, inputs, parent, provider and ``retainOnDelete``); what exists comes from the account (CloudWatch Logs
and RDS, in each resource's own region) and from the stack's state (``pulumi stack export``). An answer that cannot
be read (no permission, no network, a state the CLI cannot export) skips the check, as ./deploy's other account
checks do.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.exceptions

from offline.harness import PROJECT_DIR as PROGRAM_DIR
from offline.harness import ConfigFileError, ProgramError, ResourceRecord, StackRun, project_name, run_stack

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
CLUSTER = "aws:rds/cluster:Cluster"
PROVIDER = "pulumi:providers:aws"
# The actions this check runs before: up/preview collide with kept log groups, destroy with a kept final snapshot.
ACTIONS = ("preview", "up", "destroy")
RUNBOOK = "docs/deploy.md#after-a-failed-first-up"

Client = Callable[[str, str], Any]
"""A boto3 client for (service, region), as ./deploy's account checks build them."""


@dataclass(frozen=True)
class Retained:
    """A resource the program keeps on delete under a fixed name: what ``pulumi import`` needs to adopt it."""

    type: str
    name: str
    """The logical name the program gives it."""
    physical: str
    """Its name in AWS (a log group's import id)."""
    region: str
    explicit_region: bool
    """Declared with its own ``region`` (not its provider's): pulumi-aws imports it as ``<id>@<region>``."""
    urn: str
    parent_urns: tuple[str, ...]
    """The engine's URNs of its parent, then the parent's parent, up to (not including) the stack."""
    provider_urn: str
    protect: bool


@dataclass(frozen=True)
class FinalSnapshot:
    """The snapshot RDS writes when the cluster is deleted (``final_snapshot_identifier``)."""

    identifier: str
    region: str
    cluster_urn: str


@dataclass(frozen=True)
class State:
    """What the stack's state holds: the engine's URNs, and (type, id) of each resource."""

    urns: frozenset[str]
    ids: frozenset[tuple[str, str]]

    def holds(self, group: Retained) -> bool:
        return group.urn in self.urns or (group.type, group.physical) in self.ids


# --------------------------------------------------------------------------- what the program keeps


def engine_urn(run: StackRun, record: ResourceRecord) -> str:
    """The URN the real engine gives ``record``: ``urn:pulumi:<stack>::<project>::<type chain>::<name>``.

    The chain is every ancestor's type below the stack, then the record's own, joined by ``$``. The mocks build
    theirs from the parent's last type only and keep the stack's type (pulumi/pulumi#8637), so they are not used."""
    by_urn = {r.urn: r for r in run.resources}
    chain = [record.type]
    parent = by_urn.get(record.parent)
    while parent is not None:
        chain.append(parent.type)
        parent = by_urn.get(parent.parent)
    return f"urn:pulumi:{run.stack}::{project_name()}::{'$'.join(reversed(chain))}::{record.name}"


def _parents(run: StackRun, record: ResourceRecord) -> tuple[str, ...]:
    by_urn = {r.urn: r for r in run.resources}
    found = []
    parent = by_urn.get(record.parent)
    while parent is not None:
        found.append(engine_urn(run, parent))
        parent = by_urn.get(parent.parent)
    return tuple(found)


def _provider_urn(run: StackRun, record: ResourceRecord) -> str:
    """The engine's URN of the explicit provider ``record`` goes through ("" for the default provider)."""
    mock_urn = record.provider.rsplit("::", maxsplit=1)[0] if record.provider else ""
    provider = next((r for r in run.resources if r.urn == mock_urn), None)
    return engine_urn(run, provider) if provider is not None else ""


def retained_log_groups(run: StackRun) -> list[Retained]:
    """Every log group the program keeps on delete, with the fixed name a destroy leaves taken."""
    return [
        Retained(
            type=r.type,
            name=r.name,
            physical=str(r.inputs["name"]),
            region=r.region,
            explicit_region=bool(r.inputs.get("region")),
            urn=engine_urn(run, r),
            parent_urns=_parents(run, r),
            provider_urn=_provider_urn(run, r),
            protect=r.protect,
        )
        for r in run.of_type(LOG_GROUP)
        if r.retain_on_delete and r.inputs.get("name")
    ]


def final_snapshots(run: StackRun) -> list[FinalSnapshot]:
    """The final snapshot each cluster's delete writes (none where the program skips it)."""
    return [
        FinalSnapshot(
            identifier=str(r.inputs["finalSnapshotIdentifier"]), region=r.region, cluster_urn=engine_urn(run, r)
        )
        for r in run.of_type(CLUSTER)
        if r.inputs.get("finalSnapshotIdentifier") and not r.inputs.get("skipFinalSnapshot")
    ]


def program_run(stack: str, project_dir: Path) -> StackRun | None:
    """The stack's program run offline once (the harness keeps it for the rest of the process); None when it
    cannot run (``up`` reports why itself)."""
    try:
        return run_stack(stack, project_dir=project_dir, program=PROGRAM_DIR / "__main__.py")
    except (ProgramError, ConfigFileError, FileNotFoundError):
        return None


# --------------------------------------------------------------------------- what exists


def log_group_exists(name: str, region: str, client: Client) -> bool | None:
    """Whether CloudWatch Logs in ``region`` has a group called exactly ``name``; None when it cannot be told."""
    try:
        found = client("logs", region).describe_log_groups(logGroupNamePrefix=name)
        return any(group.get("logGroupName") == name for group in found.get("logGroups", []))
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
        return None


def snapshot_exists(identifier: str, region: str, client: Client) -> bool | None:
    """Whether RDS in ``region`` holds a cluster snapshot ``identifier``; None when it cannot be told."""
    try:
        found = client("rds", region).describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=identifier)
        return bool(found.get("DBClusterSnapshots"))
    except botocore.exceptions.ClientError as exc:
        return False if exc.response.get("Error", {}).get("Code") == "DBClusterSnapshotNotFoundFault" else None
    except botocore.exceptions.BotoCoreError:
        return None


def stack_state(
    stack: str, pulumi: str, env: Mapping[str, str], project_dir: Path, stack_is_missing: Callable[[str, str], bool]
) -> State | None:
    """``pulumi stack export``: a stack that does not exist yet holds nothing; None when it cannot be read."""
    done = subprocess.run(
        [pulumi, "stack", "export", "--stack", stack], cwd=project_dir, env=dict(env), check=False,
        capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        return State(frozenset(), frozenset()) if stack_is_missing(done.stderr, stack) else None
    try:
        resources = json.loads(done.stdout).get("deployment", {}).get("resources") or []
        return State(
            urns=frozenset(str(r["urn"]) for r in resources),
            ids=frozenset((str(r.get("type", "")), str(r.get("id", ""))) for r in resources),
        )
    except (ValueError, AttributeError, KeyError, TypeError):
        return None


# --------------------------------------------------------------------------- what to say


def import_command(stack: str, group: Retained) -> str:
    """``pulumi import`` adopting ``group`` into the resource the program declares: same type, logical name,
    parent and provider (the default AWS provider is disabled), and the program's own ``protect``."""
    import_id = f"{group.physical}@{group.region}" if group.explicit_region else group.physical
    words = ["pulumi", "import", group.type, group.name, import_id]
    if group.parent_urns:
        words += ["--parent", group.parent_urns[0]]
    if group.provider_urn:
        words += ["--provider", group.provider_urn]
    words += [f"--protect={str(group.protect).lower()}", "--stack", stack, "--generate-code=false", "--yes"]
    return shlex.join(words)


def log_group_problems(stack: str, run: StackRun, client: Client, state: Callable[[], State | None]) -> list[str]:
    """One line per kept log group that exists in the account but not in the stack's state, then the imports."""
    existing = [g for g in retained_log_groups(run) if log_group_exists(g.physical, g.region, client)]
    held = state() if existing else None
    if held is None:
        return []
    adopt = [g for g in existing if not held.holds(g)]
    if not adopt:
        return []
    lines = [
        f"CloudWatch log group {g.physical} exists in {g.region} but stack {stack}'s state does not hold it (kept "
        f"by an earlier destroy): `up` would fail creating it (ResourceAlreadyExistsException). Adopt it, don't "
        f"delete it ({RUNBOOK}):"
        for g in adopt
    ]
    absent = sorted({urn for g in adopt for urn in (*g.parent_urns, g.provider_urn) if urn and urn not in held.urns})
    if absent:
        lines.append(
            f"The imports need the groups' parents and providers in the state, which lacks {len(absent)} of them (a "
            f"destroyed stack): run `pulumi up --stack {stack}` once (it records them, then stops at the first of "
            f"these names), then `./deploy up {stack}` again."
        )
    return lines + [import_command(stack, g) for g in adopt]


def snapshot_problems(stack: str, run: StackRun, client: Client, state: Callable[[], State | None]) -> list[str]:
    """One line per final snapshot a destroy would write again, where one by that name already exists."""
    existing = [s for s in final_snapshots(run) if snapshot_exists(s.identifier, s.region, client)]
    held = state() if existing else None
    if held is None:
        return []
    return [
        f"RDS cluster snapshot {s.identifier} already exists in {s.region} (an earlier destroy's final snapshot): "
        f"destroying stack {stack} would fail writing it again. Your call: keep it under a dated name (`aws rds "
        f"copy-db-cluster-snapshot --region {s.region} --source-db-cluster-snapshot-identifier {s.identifier} "
        f"--target-db-cluster-snapshot-identifier {s.identifier}-<yyyymmdd>`, then, once the copy is available, "
        f"`aws rds delete-db-cluster-snapshot --region {s.region} --db-cluster-snapshot-identifier {s.identifier}`) "
        f"and destroy again; or keep it as it is and do not destroy ({RUNBOOK})."
        for s in existing
        if s.cluster_urn in held.urns
    ]


def check(
    action: str,
    stack: str,
    *,
    pulumi: str,
    env: Mapping[str, str],
    client: Client,
    stack_is_missing: Callable[[str, str], bool],
    project_dir: Path = PROGRAM_DIR,
) -> list[str]:
    """./deploy's check: for up/preview the kept log groups to import, for destroy the final snapshots in the way.

    ``env`` must name the backend (``PULUMI_BACKEND_URL``); the state is exported only when something kept exists."""
    run = program_run(stack, project_dir) if action in ACTIONS else None
    if run is None:
        return []

    def state() -> State | None:
        return stack_state(stack, pulumi, env, project_dir, stack_is_missing)

    if action == "destroy":
        return snapshot_problems(stack, run, client, state)
    return log_group_problems(stack, run, client, state)
