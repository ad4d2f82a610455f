"""The PCI DSS v4.0 control matrix: each requirement's evidence as found in the recorded graph, and a gap
exactly where a piece of the graph is taken away."""

import dataclasses
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from offline import compliance, plan
from offline.compliance import Matrix, matrix
from offline.harness import PROJECT_DIR, ResourceRecord, StackRun, run_stack
from offline.policy_check import evaluate
from policypack.rules import POLICIES, TRAIL_TYPE

DOCS = PROJECT_DIR / "docs"
T_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
T_FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"
REQUIREMENTS = (
    "1.3", "1.4", "2.2", "3.5", "3.6", "3.7", "4.2", "6.4.1", "6.4.2", "7.2", "8.3", "8.4", "8.6",
    "10.2", "10.3", "10.4", "10.5", "10.6", "10.7", "11.3", "11.4", "11.5", "12.10",
)  # fmt: skip
OUTSIDE = {"8.4": "landing zone", "10.6": "AWS", "11.3": "team", "11.4": "team", "11.5": "landing zone"}
# CIS filter patterns as AWS's CIS benchmark controls (Security Hub CloudWatch.1-14) give them, one per row
# the matrix reads; literal, not built by the code under test.
CIS_PATTERNS = {
    "root": '{$.userIdentity.type="Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType !="AwsServiceEvent"}',
    "unauthorized": '{($.errorCode="*UnauthorizedOperation") || ($.errorCode="AccessDenied*")}',
    "no-mfa": '{($.eventName="ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes")}',
    "iam": "{($.eventName=PutRolePolicy) || ($.eventName=AttachRolePolicy) || ($.eventName=CreatePolicyVersion)}",
    "kms": "{($.eventSource=kms.amazonaws.com) && (($.eventName=DisableKey) || ($.eventName=ScheduleKeyDeletion))}",
    "s3-policy": "{($.eventSource=s3.amazonaws.com) && ($.eventName=PutBucketPolicy)}",
    "sg": "{($.eventName=AuthorizeSecurityGroupIngress) || ($.eventName=RevokeSecurityGroupIngress)}",
    "nacl": "{($.eventName=CreateNetworkAclEntry) || ($.eventName=DeleteNetworkAclEntry)}",
    "routes": "{($.eventName=CreateRoute) || ($.eventName=ReplaceRoute)}",
    "vpc": "{($.eventName=CreateVpc) || ($.eventName=DeleteVpc) || ($.eventName=ModifyVpcAttribute)}",
    "trail": "{($.eventName=UpdateTrail) || ($.eventName=DeleteTrail) || ($.eventName=StopLogging)}",
}


def _record(
    like: ResourceRecord, type_: str, name: str, inputs: dict[str, Any], state: dict[str, Any] | None = None
) -> ResourceRecord:
    """A resource the program does not declare, through the same provider (region, default tags) as ``like``."""
    return dataclasses.replace(
        like,
        urn=f"urn:pulumi:synthetic::{type_}::{name}",
        type=type_,
        name=name,
        inputs=inputs,
        secret_inputs=frozenset(),
        parent="",
        protect=False,
        dependencies=(),
        property_dependencies={},
        id=f"{name}-id",
        state={"arn": f"arn:synthetic:{name}", **(state or {})},
    )


def _one(run: StackRun, type_: str, test: Callable[[ResourceRecord], bool]) -> ResourceRecord:
    (found,) = [r for r in run.of_type(type_) if test(r)]
    return found


def with_audit_trail(run: StackRun) -> StackRun:
    """The stack with its audit trail and CIS alarms: the program's own once it declares them, else
    synthetic records of the shape the trail is built to (a multi-region trail with advanced event
    selectors on every archive's objects, validation, the audit key, a log group with the CIS filters)."""
    if run.of_type(TRAIL_TYPE) and run.of_type(T_FILTER):
        return run
    region = run.config["aws:region"]
    home = [r for r in run.of_type("aws:s3/bucket:Bucket") if r.region == region]
    audit = _one(
        run, "aws:s3/bucket:Bucket", lambda b: b in home and b.inputs["tags"]["Purpose"] == "audit-log-archive"
    )
    archives = [r for r in run.of_type("aws:s3/bucket:Bucket") if r.inputs["tags"]["Purpose"].endswith("archive")]
    audit_key = _one(run, "aws:kms/key:Key", lambda k: k.region == region and "Audit" in k.inputs["description"])
    logs_key = _one(run, "aws:kms/key:Key", lambda k: k.region == region and "log groups" in k.inputs["description"])
    topic = _one(run, "aws:sns/topic:Topic", lambda t: t.region == region and t.name.endswith("monitoring-alerts"))
    trail = _record(
        audit,
        TRAIL_TYPE,
        "synthetic-trail",
        {
            "s3BucketName": audit.state["bucket"],
            "s3KeyPrefix": "cloudtrail",
            "isMultiRegionTrail": True,
            "enableLogFileValidation": True,
            "kmsKeyId": audit_key.state["arn"],
            "advancedEventSelectors": [
                {"name": "management", "fieldSelectors": [{"field": "eventCategory", "equals": ["Management"]}]},
                {
                    "name": "archives",
                    "fieldSelectors": [
                        {"field": "eventCategory", "equals": ["Data"]},
                        {"field": "resources.type", "equals": ["AWS::S3::Object"]},
                        {"field": "resources.ARN", "startsWiths": [f"{b.state['arn']}/" for b in archives]},
                    ],
                },
            ],
        },
    )
    group = _record(
        audit,
        "aws:cloudwatch/logGroup:LogGroup",
        "synthetic-trail-logs",
        {"name": "/synthetic/cloudtrail", "kmsKeyId": logs_key.state["arn"], "retentionInDays": 365.0},
    )
    watch: list[ResourceRecord] = []
    for key, pattern in CIS_PATTERNS.items():
        metric = {"name": f"Cis-{key}", "namespace": "Synthetic/AuditTrail", "value": "1"}
        alarm = {"metricName": metric["name"], "namespace": metric["namespace"], "alarmActions": [topic.state["arn"]]}
        watch += [
            _record(
                audit,
                T_FILTER,
                f"synthetic-cis-{key}",
                {"logGroupName": "/synthetic/cloudtrail", "pattern": pattern, "metricTransformation": metric},
            ),
            _record(audit, T_ALARM, f"synthetic-cis-{key}-alarm", alarm),
        ]
    return dataclasses.replace(run, resources=[*run.resources, trail, group, *watch])


def without(run: StackRun, test: Callable[[ResourceRecord], bool]) -> StackRun:
    cut = dataclasses.replace(run, resources=[r for r in run.resources if not test(r)])
    assert len(cut.resources) < len(run.resources), "the mutation removed nothing"
    return cut


def changed(
    run: StackRun, test: Callable[[ResourceRecord], bool], change: Callable[[dict[str, Any]], None]
) -> StackRun:
    """``run`` with the inputs of the first resource ``test`` selects changed in place of a copy."""
    target = next(r for r in run.resources if test(r))
    inputs = json.loads(json.dumps(target.inputs))
    change(inputs)
    return dataclasses.replace(
        run, resources=[dataclasses.replace(r, inputs=inputs) if r is target else r for r in run.resources]
    )


def with_settings(run: StackRun, **settings: str) -> StackRun:
    return dataclasses.replace(run, config={**run.config, **{f"payments-platform:{k}": v for k, v in settings.items()}})


def gaps(controls: Matrix) -> set[str]:
    return {r.number for r in controls.rows if r.status == "gap"}


@pytest.fixture(scope="module")
def audited(prod: StackRun) -> StackRun:
    return with_audit_trail(prod)


# --------------------------------------------------------------------------- the evidence in prod


def test_every_requirement_is_met_in_prod_or_provided_outside(audited: StackRun) -> None:
    controls = matrix(audited, evaluate(audited))
    assert [r.number for r in controls.rows] == list(REQUIREMENTS)
    statuses = {r.number: r.status for r in controls.rows}
    failing = {r.number: [m for e in r.evidence for m in e.missing] for r in controls.rows if r.status == "gap"}
    assert not failing, failing
    assert statuses == {n: OUTSIDE.get(n, "met") for n in REQUIREMENTS}


@pytest.mark.parametrize(
    ("requirement", "names"),
    [
        ("1.3", ["fintech-prod-db-instance-0", "fintech-prod-net-default-sg", "fintech-prod-standby-db-subnets"]),
        (
            "3.5",
            ["fintech-prod-storage-data", "fintech-prod-db-cluster", "fintech-prod-db-master", "fintech-prod-app-app"],
        ),
        ("6.4.1", ["fintech-prod-edge-waf", "fintech-prod-lb-from-edge"]),
        ("6.4.2", ["fintech-prod-edge-cdn -> fintech-prod-edge-waf", "fintech-prod-edge-waf-logging"]),
        ("8.6", ["fintech-prod-db-master every 30 days", "fintech-prod-secrets-app-db every 30 days"]),
        ("10.2", ["fintech-prod-storage-data", "fintech-prod-standby-storage-audit", "fintech-prod-net-vpc"]),
        ("10.5", ["fintech-prod-storage-audit (365 days locked)"]),
        ("12.10", ["fintech-prod-monitoring-backup-jobs-missing"]),
    ],
)
def test_the_evidence_names_the_resources_that_implement_it(
    audited: StackRun, requirement: str, names: list[str]
) -> None:
    found = " | ".join(f for e in matrix(audited).row(requirement).evidence for f in e.found)
    for name in names:
        assert name in found, f"{requirement}: {name} not in {found}"


def test_every_rule_named_is_a_rule_of_the_pack(audited: StackRun) -> None:
    named = {rule for row in matrix(audited).rows for rule in row.rules}
    assert named <= {p.name for p in POLICIES}
    assert {"no-public-ingress", "secret-rotation", "waf-on-cloudfront", "prod-audit-trail"} <= named


def test_a_violated_rule_makes_its_requirement_a_gap(audited: StackRun) -> None:
    (violation,) = evaluate(
        changed(audited, lambda r: r.type == "aws:kms/key:Key", lambda i: i.update(enableKeyRotation=False))
    )
    assert violation.policy == "kms-rotation"
    assert gaps(matrix(audited, [violation])) == {"3.7"}


# --------------------------------------------------------------------------- gaps


def _reads_only(trail: dict[str, Any]) -> None:
    for selector in trail["advancedEventSelectors"]:
        if any(f.get("field") == "resources.ARN" for f in selector["fieldSelectors"]):
            selector["fieldSelectors"].append({"field": "readOnly", "equals": ["true"]})


def _leave_out_own_logs(run: StackRun) -> Callable[[dict[str, Any]], None]:
    """The trail's archive selectors leave out its own log files in the audit archives (as CloudTrail
    recommends against recursive events); a no-op where they already do."""
    audit = [
        f"{b.state['arn']}/" for b in run.of_type("aws:s3/bucket:Bucket") if "audit" in b.inputs["tags"]["Purpose"]
    ]

    def change(trail: dict[str, Any]) -> None:
        own = f"{trail.get('s3KeyPrefix') or 'AWSLogs'}/"
        for selector in trail["advancedEventSelectors"]:
            for field in selector["fieldSelectors"]:
                if field.get("field") == "resources.ARN" and set(audit) & set(field.get("startsWiths", [])):
                    field["notStartsWiths"] = [f"{prefix}{own}" for prefix in audit]

    return change


def _route_database_subnets_to_the_internet(run: StackRun) -> StackRun:
    """A default route from the home site's database route table to its internet gateway."""
    home = run.config["aws:region"]
    group = _one(run, "aws:rds/subnetGroup:SubnetGroup", lambda g: g.region == home)
    (table,) = {
        a.inputs["routeTableId"]
        for a in run.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation")
        if a.inputs.get("subnetId") in group.inputs["subnetIds"]
    }
    gateway = _one(run, "aws:ec2/internetGateway:InternetGateway", lambda g: g.region == home)
    route = {"routeTableId": table, "gatewayId": gateway.id, "destinationCidrBlock": "0.0.0.0/0"}
    return dataclasses.replace(
        run, resources=[*run.resources, _record(gateway, "aws:ec2/route:Route", "database-to-internet", route)]
    )


def _public(inputs: dict[str, Any]) -> None:
    inputs.update(cidrIpv4="0.0.0.0/0", fromPort=443.0, toPort=65535.0)


MUTATIONS: dict[str, tuple[Callable[[StackRun], StackRun], set[str], str]] = {
    "the WAF association dropped": (
        lambda run: changed(run, lambda r: r.type.endswith("distribution:Distribution"), lambda i: i.pop("webAclId")),
        {"6.4.2"},
        "no web ACL",
    ),
    "the rotation schedules dropped": (
        lambda run: without(run, lambda r: r.type == "aws:secretsmanager/secretRotation:SecretRotation"),
        {"8.6"},
        "never rotated",
    ),
    "the trail dropped": (
        lambda run: without(run, lambda r: r.type == TRAIL_TYPE),
        {"10.2"},
        "no trail records reads and writes of its objects",
    ),
    "log file validation off": (
        lambda run: changed(run, lambda r: r.type == TRAIL_TYPE, lambda i: i.update(enableLogFileValidation=False)),
        {"10.2"},
        "log file validation off",
    ),
    "the trail reading the archives only": (
        lambda run: changed(run, lambda r: r.type == TRAIL_TYPE, _reads_only),
        {"10.2"},
        "one records read only",
    ),
    "a log group without its key": (
        lambda run: changed(run, lambda r: r.type == "aws:cloudwatch/logGroup:LogGroup", lambda i: i.pop("kmsKeyId")),
        {"3.5"},
        "no KMS key",
    ),
    "a log group encrypted with another account's key": (
        lambda run: changed(
            run,
            lambda r: r.type == "aws:cloudwatch/logGroup:LogGroup",
            lambda i: i.update(kmsKeyId="arn:aws:kms:eu-west-1:210987654321:key/elsewhere"),
        ),
        {"3.5"},
        "is not a key of this stack",
    ),
    "the trail's own log files unrecorded, the audit archives without server access logs": (
        lambda run: without(
            changed(run, lambda r: r.type == TRAIL_TYPE, _leave_out_own_logs(run)),
            lambda r: r.type == "aws:s3/bucketLogging:BucketLogging" and "audit" in r.name,
        ),
        {"10.2"},
        "server access logs",
    ),
    "a key without rotation": (
        lambda run: changed(run, lambda r: r.type == "aws:kms/key:Key", lambda i: i.update(enableKeyRotation=False)),
        {"3.7"},
        "automatic rotation off",
    ),
    "a public range from 443 to 65535 on the app's group": (
        lambda run: changed(run, lambda r: r.name.endswith("sg-app-in-alb"), _public),
        {"1.3"},
        "0.0.0.0/0 on tcp 443-65535",
    ),
    "a database subnet routed to the internet gateway": (
        _route_database_subnets_to_the_internet,
        {"1.3"},
        "route to an internet gateway",
    ),
    "the load balancer admitting a CIDR range": (
        lambda run: changed(
            run,
            lambda r: r.name.endswith("sg-alb-in-443"),
            lambda i: i.update(prefixListId=None, cidrIpv4="203.0.113.0/24"),
        ),
        {"1.4"},
        "admits CIDR ranges",
    ),
    "the load balancer's access logs off": (
        lambda run: changed(
            run,
            lambda r: r.type == "aws:lb/loadBalancer:LoadBalancer",
            lambda i: i.update(accessLogs={"enabled": False}),
        ),
        {"10.2"},
        "no access logs",
    ),
    "a publicly accessible database instance": (
        lambda run: changed(
            run,
            lambda r: r.type == "aws:rds/clusterInstance:ClusterInstance",
            lambda i: i.update(publiclyAccessible=True),
        ),
        {"1.3"},
        "publicly accessible",
    ),
    "the flow logs dropped": (
        lambda run: without(run, lambda r: r.type == "aws:ec2/flowLog:FlowLog"),
        {"10.2"},
        "no flow log of ALL traffic",
    ),
    "the root-use filter dropped": (
        lambda run: without(run, lambda r: r.type == T_FILTER and "Root" in r.inputs["pattern"]),
        {"10.4"},
        "root account use",
    ),
    "the trail-changes filter dropped": (
        lambda run: without(run, lambda r: r.type == T_FILTER and "StopLogging" in r.inputs["pattern"]),
        {"10.7"},
        "CloudTrail configuration changes",
    ),
    "the alert topics' subscriptions dropped": (
        lambda run: without(run, lambda r: r.type == "aws:sns/topicSubscription:TopicSubscription"),
        {"12.10"},
        "no subscribed topic",
    ),
    "the audit archives' Object Lock configuration dropped": (
        lambda run: without(
            run,
            lambda r: (
                r.type == "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration" and "audit" in r.name
            ),
        ),
        {"10.3", "10.5"},
        "no default retention",
    ),
    "the origin-verify rules dropped": (
        lambda run: without(run, lambda r: r.name.endswith("lb-from-edge")),
        {"6.4.1"},
        "origin-verify header",
    ),
    "the WAF's SQL injection rules dropped": (
        lambda run: changed(
            run,
            lambda r: r.type == "aws:wafv2/webAcl:WebAcl",
            lambda i: i.update(rules=[r for r in i["rules"] if r["name"] != "AWSManagedRulesSQLiRuleSet"]),
        ),
        {"6.4.1"},
        "AWSManagedRulesSQLiRuleSet",
    ),
    "a wildcard in a role policy": (
        lambda run: changed(
            run,
            lambda r: r.type == "aws:iam/rolePolicy:RolePolicy",
            lambda i: i.update(
                policy=json.dumps({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
            ),
        ),
        {"7.2"},
        "s3:*",
    ),
    "an archive delivery alarm dropped": (
        lambda run: without(run, lambda r: r.type == T_ALARM and r.inputs.get("namespace") == "AWS/Firehose"),
        {"10.7"},
        "no alarm on its delivery",
    ),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_removing_a_piece_of_the_graph_turns_exactly_its_requirement_into_a_gap(
    audited: StackRun, mutation: str
) -> None:
    mutate, expected, says = MUTATIONS[mutation]
    assert gaps(matrix(audited)) == set()
    controls = matrix(mutate(audited))
    assert gaps(controls) == expected
    missing = [m for number in expected for e in controls.row(number).evidence for m in e.missing]
    assert any(says in m for m in missing), missing


def test_without_the_cloudtrail_filter_only_the_keys_an_eventbridge_rule_names_are_watched(audited: StackRun) -> None:
    """The edge's keys in us-east-1 have no EventBridge rule of their region, and a rule names its keys:
    only the CloudTrail metric filter (a multi-region trail's events) watches every key."""
    home = audited.config["aws:region"]
    key = _one(audited, "aws:kms/key:Key", lambda k: k.region == home and "log groups" in k.inputs["description"])
    stray = dataclasses.replace(
        key, urn=f"{key.urn}-stray", name="stray-key", state={"arn": f"{key.state['arn']}-stray"}
    )
    bare = without(
        dataclasses.replace(audited, resources=[*audited.resources, stray]),
        lambda r: r.type == T_FILTER and "DisableKey" in r.inputs["pattern"],
    )
    missing = [m for e in matrix(bare).row("3.6").evidence for m in e.missing]
    assert sorted(m.split(":")[0] for m in missing) == [
        "fintech-prod-sec-alerts-us-east-1-key",
        "fintech-prod-sec-logs-us-east-1-key",
        "stray-key",
    ]


# --------------------------------------------------------------------------- who provides what


def test_the_baseline_off_leaves_intrusion_detection_and_posture_to_the_landing_zone(audited: StackRun) -> None:
    controls = matrix(with_settings(audited, accountBaseline="false"))
    assert controls.row("11.5").status == "landing zone"
    for number in ("2.2", "10.4", "11.5"):
        assert any(o.by == "landing zone" and "accountBaseline is off" in o.what for o in controls.row(number).outside)


def test_the_baseline_on_without_its_resources_is_a_gap(audited: StackRun) -> None:
    bare = without(
        audited,
        lambda r: r.type.startswith(("aws:guardduty/", "aws:cfg/", "aws:securityhub/", "aws:backup/framework")),
    ) if any(r.type.startswith("aws:guardduty/") for r in audited.resources) else audited  # fmt: skip
    controls = matrix(with_settings(bare, accountBaseline="true"))
    assert {"2.2", "11.5"} <= gaps(controls)
    assert not any("accountBaseline is off" in o.what for r in controls.rows for o in r.outside)
    (detectors,) = controls.row("11.5").evidence
    assert len(detectors.missing) == 2, "one per site's region"
    assert all("no GuardDuty detector" in m for m in detectors.missing)


GUARDDUTY_FINDINGS = {"source": ["aws.guardduty"], "detail": {"severity": [{"numeric": [">=", 7]}]}}


def _baseline(run: StackRun) -> StackRun:
    """GuardDuty, AWS Config, Security Hub with both standards, and a findings rule, in each site's region."""
    added: list[ResourceRecord] = []
    for vpc in run.of_type("aws:ec2/vpc:Vpc"):
        region = vpc.region
        (topic,) = [t for t in run.of_type("aws:sns/topic:Topic") if t.region == region and "edge" not in t.name]
        rule = f"gd-{region}"
        standards = {
            "pci": f"arn:aws:securityhub:{region}::standards/pci-dss/v/4.0.1",
            "fsbp": f"arn:aws:securityhub:{region}::standards/aws-foundational-security-best-practices/v/1.0.0",
        }
        added += [
            _record(vpc, "aws:guardduty/detector:Detector", f"gd-detector-{region}", {"enable": True}),
            _record(vpc, "aws:cfg/recorder:Recorder", f"config-{region}", {}),
            _record(vpc, "aws:securityhub/account:Account", f"hub-{region}", {}),
            *(
                _record(
                    vpc,
                    "aws:securityhub/standardsSubscription:StandardsSubscription",
                    f"std-{label}-{region}",
                    {"standardsArn": arn},
                )
                for label, arn in standards.items()
            ),
            _record(
                vpc,
                "aws:cloudwatch/eventRule:EventRule",
                rule,
                {"eventPattern": json.dumps(GUARDDUTY_FINDINGS)},
                {"name": rule},
            ),
            _record(
                vpc,
                "aws:cloudwatch/eventTarget:EventTarget",
                f"{rule}-alert",
                {"rule": rule, "arn": topic.state["arn"]},
            ),
        ]
    return dataclasses.replace(run, resources=[*run.resources, *added])


def test_the_baseline_on_with_its_resources_is_met(audited: StackRun) -> None:
    controls = matrix(with_settings(_baseline(audited), accountBaseline="true"))
    assert gaps(controls) == set()
    assert controls.row("11.5").status == "met"
    found = " ".join(f for e in controls.row("2.2").evidence for f in e.found)
    assert "config-eu-central-1" in found
    assert "hub-eu-west-1" in found


def test_prod_with_the_program_s_account_baseline_meets_posture_and_intrusion_detection() -> None:
    """The program's own baseline (accountBaseline on) is what the matrix reads as the stack's evidence:
    a recorder, Security Hub with both standards and GuardDuty with its findings rule in each site."""
    run = run_stack("prod", {"accountBaseline": "true"})
    controls = matrix(run, evaluate(run))
    assert gaps(controls) == set()
    assert (controls.row("2.2").status, controls.row("11.5").status) == ("met", "met")
    detected = " ".join(f for e in controls.row("11.5").evidence for f in e.found)
    assert detected.count("guardduty") == 2, detected
    assert not [o for r in controls.rows for o in r.outside if "accountBaseline is off" in o.what]


def test_the_baseline_without_the_pci_standard_is_a_gap(audited: StackRun) -> None:
    run = without(_baseline(audited), lambda r: "pci-dss" in str(r.inputs.get("standardsArn")))
    controls = matrix(with_settings(run, accountBaseline="true"))
    assert gaps(controls) == {"2.2"}
    assert any("the PCI DSS standard" in m for e in controls.row("2.2").evidence for m in e.missing)


def _no_management_events(inputs: dict[str, Any]) -> None:
    inputs["advancedEventSelectors"] = [
        s for s in inputs["advancedEventSelectors"] if s["fieldSelectors"][0]["equals"] != ["Management"]
    ]


def test_management_events_off_leave_them_to_the_organization_trail(audited: StackRun) -> None:
    data_only = changed(audited, lambda r: r.type == TRAIL_TYPE, _no_management_events)
    assert gaps(matrix(with_settings(data_only, managementEvents="true"))) == {"10.2"}
    controls = matrix(with_settings(data_only, managementEvents="false"))
    assert gaps(controls) == set()
    assert controls.row("10.2").status == "met"
    assert [o.by for o in controls.row("10.2").outside] == ["landing zone"]
    assert "organization trail" in controls.row("10.2").outside[0].what


def test_team_rows_say_what_the_team_provides(audited: StackRun) -> None:
    controls = matrix(audited)
    texts = {r.number: " ".join(o.what for o in r.outside) for r in controls.rows}
    assert "Approved Scanning Vendor" in texts["11.3"]
    assert "quarterly" in texts["11.3"]
    assert "penetration tests" in texts["11.4"]
    assert "MFA" in texts["8.4"]


# --------------------------------------------------------------------------- the files


def test_the_plan_writes_the_matrix_beside_plan_txt_and_in_its_json(tmp_path: Path, dev: StackRun) -> None:
    out, graph = tmp_path / "plan", tmp_path / "graph.json"
    assert plan.main(["dev", "--out", str(out), "--json", str(graph)]) == 0
    written = (out / "compliance.md").read_text()
    assert written.startswith("# PCI DSS v4.0 control matrix: dev\n")
    assert "compliance.md beside this report" in (out / "plan.txt").read_text()
    section = json.loads(graph.read_text())["compliance"]
    table = dict(re.findall(r"^\| ([\d.]+) .*? \| \**([a-zA-Z ]+?)\** \|", written, flags=re.MULTILINE))
    assert table == {r["requirement"]: r["status"] for r in section["requirements"]}
    assert section["summary"]["gap"] == [n for n, s in table.items() if s == "gap"]
    assert written == (DOCS / "dev" / "compliance.md").read_text(), "docs/dev/compliance.md is stale: make pictures"


def test_the_committed_prod_matrix_is_current(prod: StackRun) -> None:
    written = compliance.markdown(matrix(prod, evaluate(prod)))
    assert written == (DOCS / "prod" / "compliance.md").read_text(), "docs/prod/compliance.md is stale: make pictures"


def test_only_prod_is_read_as_an_environment_that_may_hold_account_data() -> None:
    """dev's gaps are what a disposable stack omits by design: its matrix says so, prod's does not."""
    out_of_scope = "This stack is not an environment that may hold account data"
    assert out_of_scope in compliance.markdown(matrix(run_stack("dev")))
    assert out_of_scope not in compliance.markdown(matrix(run_stack("prod")))
