"""Every input the program sets holds a value the pulumi-aws SDK documents as allowed.

The checker (``offline/documented_values.py``) reads each argument's docstring in the installed SDK
-- the resource's ``*Args`` class and, for nested blocks, the ``_inputs.py`` class -- and its enum
annotation. What it reads as a statement of allowed values, and what it skips and why, is listed in
that module's docstring; in short it trusts only backticked (or plain numeric) lists right after
"valid values are" / "must be one of" / ..., numeric ranges ("between X and Y", "the range is
X-Y"), "any multiple of N" and enums, and it skips example lists ("such as"), statements about
another argument, lists of argument names, and enums whose docs defer to AWS (Lambda runtimes, RDS
instance classes). The skipped statements are reported below, so a new one gets read by a person.
"""

import copy
import re
from typing import Any

import pytest

from offline.documented_values import Report, check_resource, parse_doc
from offline.harness import StackRun

# Floors well under what both shipped stacks reach (about 2,000 values, 350 constrained, 78
# arguments): a checker that silently stopped reading docstrings would fall far below them.
MIN_CHECKED = 1500
MIN_CONSTRAINED = 250
MIN_CONSTRAINED_ARGUMENTS = 60
MAX_SKIPPED = 15


def _check(runs: list[StackRun]) -> Report:
    report = Report()
    for run in runs:
        for r in run.resources:
            if r.custom and r.type.startswith("aws:"):
                check_resource(report, r.type, r.name, r.inputs)
    return report


@pytest.fixture(scope="module")
def report(dev: StackRun, prod: StackRun) -> Report:
    return _check([dev, prod])


def test_every_input_holds_a_documented_value(report: Report) -> None:
    assert not report.violations, "\n".join(str(v) for v in report.violations)


def test_every_input_is_an_argument_the_sdk_documents(report: Report) -> None:
    assert not report.unknown, f"inputs with no argument in the SDK's Args classes: {sorted(report.unknown)}"


def test_the_checker_really_checks(report: Report) -> None:
    assert report.checked >= MIN_CHECKED, report.checked
    assert report.constrained >= MIN_CONSTRAINED, report.constrained
    assert len(report.constrained_arguments) >= MIN_CONSTRAINED_ARGUMENTS, sorted(report.constrained_arguments)
    for argument in [
        ("TargetGroupHealthCheckArgs", "protocol"),
        ("TargetGroupHealthCheckArgs", "healthy_threshold"),
        ("MetricAlarmArgs", "comparison_operator"),
        ("LogGroupArgs", "retention_in_days"),
        ("WebAclRuleStatementRateBasedStatementArgs", "evaluation_window_sec"),
        ("KeyArgs", "deletion_window_in_days"),
        ("ClusterInstanceArgs", "monitoring_interval"),
    ]:
        assert argument in report.constrained_arguments, argument


def test_skipped_statements_are_few_and_listed(report: Report) -> None:
    """Statements the parser would not trust; each needs a person's eye when the list grows."""
    listed = [
        f"{owner}.{arg}: {reason}: {sentence[:120]}"
        for (owner, arg), found in sorted(report.skipped.items())
        for reason, sentence in sorted(found)
    ]
    print("\n".join(listed))
    assert len(report.skipped) <= MAX_SKIPPED, "\n".join(listed)


# --------------------------------------------------------------------------- the checker on bad values


def _set(inputs: dict[str, Any], path: str, value: Any) -> None:
    """Set ``a.b[0].c`` in a nested camelCase input tree (the path must exist)."""
    keys = [int(k) if k.isdigit() else k for k in re.findall(r"[^.\[\]]+", path)]
    node: Any = inputs
    for key in keys[:-1]:
        node = node[key]
    if isinstance(node, dict):
        assert keys[-1] in node, f"{path} is not in the recorded inputs"
    node[keys[-1]] = value


# Which recorded resource of a type to mutate, where the first one lacks the input.
SAMPLE = {
    "aws:cloudwatch/metricAlarm:MetricAlarm": "-asg-cpu",
    "aws:lb/listener:Listener": "-https",
    "aws:s3/bucket:Bucket": "-data",
}


def _bad(run: StackRun, type_: str, path: str, value: Any) -> Report:
    """The checker's report on one real recorded resource with one input changed."""
    (record, *_) = [r for r in run.of_type(type_) if r.name.endswith(SAMPLE.get(type_, ""))]
    inputs = copy.deepcopy(record.inputs)
    _set(inputs, path, value)
    found = Report()
    check_resource(found, type_, record.name, inputs)
    return found


@pytest.mark.parametrize(
    ("type_", "path", "bad", "allowed"),
    [
        ("aws:lb/targetGroup:TargetGroup", "healthCheck.protocol", "HTTPX", "HTTPS"),
        ("aws:lb/targetGroup:TargetGroup", "healthCheck.healthyThreshold", 11.0, "2..10"),
        ("aws:cloudwatch/metricAlarm:MetricAlarm", "comparisonOperator", "GreaterThanTreshold", "GreaterThanThreshold"),
        ("aws:cloudwatch/metricAlarm:MetricAlarm", "period", 90.0, "a multiple of 60"),
        ("aws:cloudwatch/logGroup:LogGroup", "retentionInDays", 42.0, "365"),
        ("aws:kms/key:Key", "deletionWindowInDays", 5.0, "7..30"),
        ("aws:lb/listenerRule:ListenerRule", "priority", 0.0, "1..50000"),
        ("aws:lb/listener:Listener", "defaultActions[0].fixedResponse.statusCode", "302", "4XX"),
        ("aws:wafv2/webAcl:WebAcl", "rules[0].statement.rateBasedStatement.evaluationWindowSec", 900.0, "600"),
        ("aws:rds/clusterInstance:ClusterInstance", "monitoringInterval", 45.0, "60"),
        ("aws:rds/cluster:Cluster", "enabledCloudwatchLogsExports", ["audit", "slow_query"], "slowquery"),
        ("aws:secretsmanager/secret:Secret", "recoveryWindowInDays", 3.0, "7..30"),
        ("aws:route53/record:Record", "type", "CNAMES", "CNAME"),
        ("aws:lambda/function:Function", "architectures", ["arm"], "arm64"),
        ("aws:s3/bucket:Bucket", "objectLockEnabled", "yes", "true"),
    ],
)
def test_a_bad_value_is_reported_with_what_is_allowed(
    prod: StackRun, type_: str, path: str, bad: Any, allowed: str
) -> None:
    found = _bad(prod, type_, path, bad)
    assert len(found.violations) == 1, [str(v) for v in found.violations]
    message = str(found.violations[0])
    expected_value = bad[-1] if isinstance(bad, list) else bad
    assert message.startswith(f"{type_} fintech-prod-"), message
    assert f"{path} = {expected_value!r}" in message, message
    assert allowed in message, message


@pytest.mark.parametrize(
    ("type_", "path", "good"),
    [
        ("aws:secretsmanager/secret:Secret", "recoveryWindowInDays", 0.0),
        ("aws:secretsmanager/secret:Secret", "recoveryWindowInDays", 7.0),
        ("aws:cloudwatch/metricAlarm:MetricAlarm", "period", 10.0),
        ("aws:cloudwatch/metricAlarm:MetricAlarm", "period", 3600.0),
        ("aws:rds/clusterInstance:ClusterInstance", "performanceInsightsRetentionPeriod", 93.0),
        ("aws:lb/listener:Listener", "defaultActions[0].fixedResponse.statusCode", "503"),
        ("aws:sns/topicSubscription:TopicSubscription", "protocol", "email-json"),
        ("aws:lb/targetGroup:TargetGroup", "healthCheck.matcher", "200-299"),
        ("aws:rds/clusterInstance:ClusterInstance", "instanceClass", "db.r7g.large"),
        ("aws:lambda/function:Function", "runtime", "python3.99"),
    ],
)
def test_documented_alternatives_and_skipped_lists_pass(prod: StackRun, type_: str, path: str, good: Any) -> None:
    assert not _bad(prod, type_, path, good).violations


def _constraint(doc: str, siblings: frozenset[str] = frozenset()) -> str:
    return parse_doc(doc, siblings).constraint.describe()


def _skips(doc: str, siblings: frozenset[str] = frozenset()) -> list[str]:
    return [reason for reason, _ in parse_doc(doc, siblings).skipped]


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ("Valid values are `A`, `B`, or `C`. Defaults to `A`.", "one of A, B, C"),
        ("Valid Values: 0, 1, 5, 10, 15, 30, 60.", "one of 0, 1, 5, 10, 15, 30, 60"),
        (
            "Possible values are: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, and 0.",
            "545",
        ),
        ("The range is 2-10. Defaults to 3.", "2..10"),
        ("The range is 2\u2013120 seconds.", "2..120"),
        ("Valid value between 128 MB to 32,768 MB (32 GB).", "128..32768"),
        ("This value can be `0` to force deletion or range from `7` to `30` days.", "one of 0; or 7..30"),
        ("Valid values are `10`, `20`, `30`, or any multiple of `60`.", "one of 10, 20, 30; or a multiple of 60"),
        ("Valid values are `sqs` and `sms`. Protocols `email` and `http` are also valid but partial.", "email"),
        ("Valid values are `2XX`, `4XX`, or `5XX`.", "one of 2XX, 4XX, 5XX"),
        ('Valid values are `["x86_64"]` and `["arm64"]`.', "one of arm64, x86_64"),
        ("Must be between 1 and 512 length (inclusive).", "1..512 characters long"),
        ("Must be a positive integer.", "1..inf"),
        ("For ALBs, valid values are `HTTP` and `HTTPS`. For NLBs, valid values are `TCP` and `TLS`.", "TLS"),
    ],
)
def test_the_parser_reads_clear_statements(doc: str, expected: str) -> None:
    assert expected in _constraint(doc)


@pytest.mark.parametrize(
    ("doc", "siblings", "reason"),
    [
        ("Valid values are the canonical names of IANA time zones (such as `Etc/GMT+9`).", frozenset(), "examples"),
        ("Valid values include `A` and `B`.", frozenset(), "examples"),
        ("The `health_check.protocol` must be one of `HTTP` or `HTTPS`.", frozenset(), "another argument"),
        ("One of `filename`, `image_uri`, or `s3_bucket` must be specified.", frozenset({"image_uri"}), "arguments"),
        ("The allowed values are defined by the [underlying AWS API](https://x).", frozenset(), "no values listed"),
    ],
)
def test_the_parser_skips_what_it_cannot_trust(doc: str, siblings: frozenset[str], reason: str) -> None:
    assert _constraint(doc, siblings) == ""
    assert any(reason in r for r in _skips(doc, siblings)), _skips(doc, siblings)


def test_constraints_come_from_the_installed_sdk() -> None:
    """The TargetGroup health check protocol docstring in lb/_inputs.py, read through the type token."""
    found = Report()
    check_resource(found, "aws:lb/targetGroup:TargetGroup", "tg", {"healthCheck": {"protocol": "UDP"}})
    (violation,) = found.violations
    assert violation.constraint.values == {"HTTP", "HTTPS", "TCP"}
    assert any("Must be one of" in s for s in violation.constraint.statements)
