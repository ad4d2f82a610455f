"""Rotation wherever the writer is: a function per site, the peering that lets the home one reach the
other region's writer, and the replicas a failover can promote and `up` can re-add (issue #24, item 5)."""

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest

from components.site.network import tier_block
from offline.harness import ResourceRecord, StackRun, run_stack

REPO = Path(__file__).resolve().parents[2]
HOME, STANDBY = "eu-west-1", "eu-central-1"
FUNCTION = "aws:lambda/function:Function"
PERMISSION = "aws:lambda/permission:Permission"
SCHEDULE = "aws:secretsmanager/secretRotation:SecretRotation"
SECRET = "aws:secretsmanager/secret:Secret"
ROUTE = "aws:ec2/route:Route"
TABLE = "aws:ec2/routeTable:RouteTable"
ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
SUBNET = "aws:ec2/subnet:Subnet"
PEERING = "aws:ec2/vpcPeeringConnection:VpcPeeringConnection"
ACCEPTER = "aws:ec2/vpcPeeringConnectionAccepter:VpcPeeringConnectionAccepter"


@pytest.fixture(scope="module")
def full() -> StackRun:
    return run_stack("prod")


def functions(run: StackRun) -> dict[str, ResourceRecord]:
    by_region: dict[str, ResourceRecord] = {}
    for fn in run.of_type(FUNCTION):
        assert fn.region not in by_region, "one rotation function per region"
        by_region[str(fn.region)] = fn
    return by_region


def copy_of(arn: str, region: str) -> str:
    parts = arn.split(":")
    return ":".join([*parts[:3], region, *parts[4:]])


def secrets(run: StackRun) -> dict[str, str]:
    """The home copies' ARNs: the app secret and the (self-managed) master secret."""
    found = {s.name.rsplit("-", 1)[-1]: s.state["arn"] for s in run.of_type(SECRET)}
    return {"app": found["db"], "master": found["master"]}


def policy_of(run: StackRun, fn: ResourceRecord) -> dict[str, Any]:
    (policy,) = [
        p
        for p in run.of_type("aws:iam/rolePolicy:RolePolicy")
        if p.name.endswith("-rotation-policy") and p.parent == fn.parent
    ]
    return {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}


def test_every_site_has_a_rotation_function_in_its_region_that_knows_the_other(full: StackRun) -> None:
    fns = functions(full)
    assert set(fns) == {HOME, STANDBY}
    for region, fn in fns.items():
        other = STANDBY if region == HOME else HOME
        assert fn.inputs["environment"]["variables"]["PEER_REGION"] == other
        assert fn.inputs["environment"]["variables"]["SECRETS_MANAGER_ENDPOINT"] == (
            f"https://secretsmanager.{region}.amazonaws.com"
        )
        subnets = [s for s in full.of_type(SUBNET) if s.id in fn.inputs["vpcConfig"]["subnetIds"]]
        assert {s.region for s in subnets} == {region}
        assert {s.inputs["tags"]["Tier"] for s in subnets} == {"rotation"}


def test_only_the_home_function_is_scheduled_and_the_standbys_may_be_attached_there(full: StackRun) -> None:
    """Secrets Manager invokes a function of the secret's region: the standby's may rotate the
    standby's copies once a failover promotes them, and is named by no schedule until then."""
    fns, home = functions(full), secrets(full)
    schedules = full.of_type(SCHEDULE)
    assert {s.inputs["rotationLambdaArn"] for s in schedules} == {fns[HOME].state["arn"]}
    assert sorted(s.inputs["secretId"] for s in schedules) == sorted([home["master"], secrets_id(full, "db")])
    for region, fn in fns.items():
        permitted = sorted(
            p.inputs["sourceArn"] for p in full.of_type(PERMISSION) if p.inputs["function"] == fn.state["name"]
        )
        assert permitted == sorted(copy_of(arn, region) for arn in home.values()), region
        for p in full.of_type(PERMISSION):
            if p.inputs["function"] == fn.state["name"]:
                assert p.inputs["principal"] == "secretsmanager.amazonaws.com"
                assert p.region == region


def secrets_id(run: StackRun, suffix: str) -> str:
    (secret,) = [s for s in run.of_type(SECRET) if s.name.endswith(f"-{suffix}")]
    return str(secret.id)


def test_each_function_rotates_its_regions_copies_and_only_reads_the_others_metadata(full: StackRun) -> None:
    fns, home = functions(full), secrets(full)
    for region, fn in fns.items():
        other = STANDBY if region == HOME else HOME
        by_sid = policy_of(full, fn)
        assert by_sid["RotateAppSecret"]["Resource"] == copy_of(home["app"], region)
        assert by_sid["RotateMasterSecret"]["Resource"] == copy_of(home["master"], region)
        assert by_sid["AskPeerCopiesWhoIsPrimary"] == {
            "Sid": "AskPeerCopiesWhoIsPrimary",
            "Effect": "Allow",
            "Action": "secretsmanager:DescribeSecret",
            "Resource": [copy_of(home["app"], other), copy_of(home["master"], other)],
        }
        # Only the home function writes a value that is replicated (re-encrypted with the other's key).
        assert ("EncryptReplicasThroughSecretsManager" in by_sid) == (region == HOME)


def test_a_single_region_stack_asks_no_peer(dev: StackRun) -> None:
    (fn,) = dev.of_type(FUNCTION)
    assert "PEER_REGION" not in fn.inputs["environment"]["variables"]
    assert "AskPeerCopiesWhoIsPrimary" not in json.dumps(policy_of(dev, fn))
    assert not dev.of_type(PEERING)
    assert not dev.of_type(ACCEPTER)


def test_a_promoted_replica_can_be_replicated_over_by_up(full: StackRun, dev: StackRun) -> None:
    """Without force_overwrite_replica_secret, re-adding a replica whose name a promoted secret holds fails."""
    for secret in full.of_type(SECRET):
        assert secret.inputs["replicas"], secret.name
        assert secret.inputs["forceOverwriteReplicaSecret"] is True, secret.name
    for secret in dev.of_type(SECRET):
        assert not secret.inputs.get("replicas")
        assert "forceOverwriteReplicaSecret" not in secret.inputs


def test_the_home_functions_resources_moved_without_being_replaced(full: StackRun) -> None:
    """They were the Secrets tier's children: each keeps its name and aliases its URN there, so `up`
    moves them instead of replacing them (a new log group of the same name would collide)."""
    (tier,) = [r for r in full.resources if r.type == "fintech:data:Secrets"]
    rotation_tiers = {r.urn: r for r in full.resources if r.type == "fintech:data:Rotation"}
    (home_tier,) = [u for u, r in rotation_tiers.items() if r.name == "fintech-prod-secrets"]
    moved = [r for r in full.resources if r.parent == home_tier]
    assert {r.type for r in moved} >= {FUNCTION, PERMISSION, "aws:cloudwatch/logGroup:LogGroup", "aws:iam/role:Role"}
    # The engine leaves the root stack out of a URN's type chain; the mocks put it in (pulumi/pulumi#8637).
    engine_urn = tier.urn.replace("::pulumi:pulumi:Stack$", "::")
    assert engine_urn == "urn:pulumi:prod::payments-platform::fintech:data:Secrets::fintech-prod-secrets"
    for r in moved:
        assert r.name.startswith("fintech-prod-secrets-"), r.name
        assert f'parentUrn: "{engine_urn}"' in r.aliases, r.name
    standby = [r for r in full.resources if r.parent in rotation_tiers and r.parent != home_tier]
    assert standby
    assert not any(engine_urn in a for r in standby for a in r.aliases)


# --------------------------------------------------------------------------- the peering


def tables_by_tier(run: StackRun, region: str) -> dict[str, set[str]]:
    """Each route table's id, by the tier of the subnets it serves, in ``region``."""
    subnets = {s.id: s.inputs["tags"]["Tier"] for s in run.of_type(SUBNET) if s.region == region}
    found: dict[str, set[str]] = {}
    for a in run.of_type(ASSOCIATION):
        if a.inputs.get("subnetId") in subnets:
            found.setdefault(subnets[a.inputs["subnetId"]], set()).add(a.inputs["routeTableId"])
    return found


def test_the_peering_is_requested_at_home_and_accepted_in_the_standby_region(full: StackRun) -> None:
    (request,), (accepter,) = full.of_type(PEERING), full.of_type(ACCEPTER)
    vpcs = {v.region: v.id for v in full.of_type("aws:ec2/vpc:Vpc")}
    assert request.region == HOME
    assert request.inputs["vpcId"] == vpcs[HOME]
    assert request.inputs["peerVpcId"] == vpcs[STANDBY]
    assert request.inputs["peerRegion"] == STANDBY
    # auto_accept on the request works within one Region only: the accepter accepts in the peer's.
    assert not request.inputs.get("autoAccept")
    assert accepter.region == STANDBY
    assert accepter.inputs["autoAccept"] is True
    assert accepter.inputs["vpcPeeringConnectionId"] == request.id


def test_only_the_rotation_and_database_subnets_route_over_the_peering(full: StackRun) -> None:
    """The app subnets never reach the other region: a passive site's /ready keeps failing."""
    (request,), (accepter,) = full.of_type(PEERING), full.of_type(ACCEPTER)
    cidrs = {v.region: v.inputs["cidrBlock"] for v in full.of_type("aws:ec2/vpc:Vpc")}
    peered = [r for r in full.of_type(ROUTE) if "vpcPeeringConnectionId" in r.inputs]
    for region in (HOME, STANDBY):
        other = cidrs[STANDBY if region == HOME else HOME]
        tables = tables_by_tier(full, region)
        here = [r for r in peered if r.region == region]
        by_table = {r.inputs["routeTableId"]: r.inputs["destinationCidrBlock"] for r in here}
        assert len(by_table) == len(here), "one route per table"
        assert by_table == {t: tier_block(other, "database") for t in tables["rotation"]} | {
            t: tier_block(other, "rotation") for t in tables["database"]
        }
        assert not set(by_table) & (tables["private"] | tables["public"])
    for route in peered:
        assert route.inputs["vpcPeeringConnectionId"] == request.id
        # Named through the accepter: created once the connection is active, not a blackhole.
        assert accepter.urn in route.property_dependencies["vpcPeeringConnectionId"]


def test_each_site_watches_its_own_rotation_function(full: StackRun) -> None:
    fns = functions(full)
    alarms = [a for a in full.of_type("aws:cloudwatch/metricAlarm:MetricAlarm") if a.name.endswith("rotation-errors")]
    watched = {a.region: a.inputs["dimensions"]["FunctionName"] for a in alarms}
    assert watched == {region: fn.state["name"] for region, fn in fns.items()}


def test_a_rotation_the_other_region_did_not_confirm_pages_in_its_region(full: StackRun, dev: StackRun) -> None:
    """The function rotates without the other copy's word when that region does not answer (right in a
    region loss, else a cut egress under which a stale copy could rotate): each site counts it in its
    function's log and alarms on it in its own region."""
    pattern = '?"taking that region for lost" ?"has no copy in"'
    # Each phrase is what the function logs then (lambdas/rotation/rotation.py, check_authority).
    handler = (REPO / "lambdas" / "rotation" / "rotation.py").read_text()
    for phrase in re.findall(r'"([^"]+)"', pattern):
        assert phrase in handler, phrase
    fns = functions(full)
    groups = {
        g.region: g.inputs["name"]
        for g in full.of_type("aws:cloudwatch/logGroup:LogGroup")
        if g.inputs["name"] in {fn.inputs["loggingConfig"]["logGroup"] for fn in fns.values()}
    }
    filters = [
        f
        for f in full.of_type("aws:cloudwatch/logMetricFilter:LogMetricFilter")
        if f.inputs["metricTransformation"]["namespace"] == "Fintech/Rotation"
    ]
    assert {f.region: (f.inputs["logGroupName"], f.inputs["pattern"]) for f in filters} == {
        region: (group, pattern) for region, group in groups.items()
    }
    topics = {t.region: t.state["arn"] for t in full.of_type("aws:sns/topic:Topic") if "edge" not in t.name}
    alarms = [
        a for a in full.of_type("aws:cloudwatch/metricAlarm:MetricAlarm") if a.name.endswith("rotation-unconfirmed")
    ]
    assert {a.region for a in alarms} == {HOME, STANDBY}
    for alarm in alarms:
        assert alarm.inputs["namespace"] == "Fintech/Rotation"
        assert alarm.inputs["metricName"] == filters[0].inputs["metricTransformation"]["name"]
        assert alarm.inputs["alarmActions"] == [topics[str(alarm.region)]]
        assert alarm.inputs["treatMissingData"] == "notBreaching"
    assert not [f for f in dev.of_type("aws:cloudwatch/logMetricFilter:LogMetricFilter") if "rotation" in f.name]


def test_each_sites_app_reads_the_credentials_copy_in_its_own_region(full: StackRun) -> None:
    """In a region loss the standby's app must not depend on the lost region: its instances read the app
    secret's copy in their own region (the replica, promoted by the failover), by the same name."""
    app_secret = secrets(full)["app"]
    templates = full.of_type("aws:ec2/launchTemplate:LaunchTemplate")
    assert {t.region for t in templates} == {HOME, STANDBY}
    for template in templates:
        script = base64.b64decode(template.inputs["userData"]).decode()
        assert copy_of(app_secret, str(template.region)) in script, template.name
        other = STANDBY if template.region == HOME else HOME
        assert copy_of(app_secret, other) not in script, f"{template.name} reads the other region's copy"
    assert full.outputs["app_db_secret_replica_arn"] == copy_of(app_secret, STANDBY)
