"""Every physical name fits AWS's limits, at the longest names the settings accept.

Names derive from ``envSuffix`` (``fintech-<suffix>-<tier>-<role>``) and, for certificates and
DNS records, from ``domainName``. Both stacks are run with the longest values ``parse_settings``
accepts (found by asking it, so a looser setting is caught too), and every name the real provider
would use -- explicit, ``*Prefix`` + 26, or pulumi-aws's autoname ``<logical>-<7 hex>`` -- is checked
against the limit table in ``offline/limits.py`` (one AWS source per type).
"""

import re
from collections.abc import Callable

import pytest

from components.settings import MAX_DOMAIN_NAME_LENGTH, PROJECT, STANDBY_ENV_SUFFIX_MAX, SettingsError, parse_settings
from offline.documented_values import args_class, arguments
from offline.harness import StackRun, run_stack, stack_config
from offline.limits import (
    NAME_RULES,
    TAG_KEY_MAX,
    TAG_SOURCE,
    TAG_VALUE_MAX,
    UNNAMED,
    PhysicalName,
    physical_names,
    tags_of,
)

STACKS = ("dev", "prod")


def _longest_accepted(stack: str, key: str, make: Callable[[int], str], overrides: dict[str, str]) -> str:
    """The longest value of ``make(n)`` (n <= 300) that ``parse_settings`` accepts for ``key`` in ``stack``."""
    raw = stack_config(stack, overrides)
    for n in range(300, 0, -1):
        value = make(n)
        try:
            parse_settings({**raw, f"{PROJECT}:{key}": value}, stack=stack, project=PROJECT)
        except SettingsError:
            continue
        return value
    raise AssertionError(f"no value of {key} is accepted")


def _suffix(n: int) -> str:
    return "abcdefghijklmnopqrstuvwxyz"[:n] if n <= 26 else "a" * n


def _domain(n: int) -> str:
    """A lower-case DNS name of exactly ``n`` characters under .com, labels of at most 63."""
    body = n - len(".com")
    if body < 1:
        return "a.com"
    chars = ["." if i % 64 == 63 else "a" for i in range(body)]
    if chars[-1] == ".":
        chars[-2:] = [".", "a"]
    return "".join(chars) + ".com"


def long_overrides(stack: str) -> dict[str, str]:
    """The stack's config with the longest envSuffix (and, in prod, domainName) the settings accept."""
    overrides: dict[str, str] = {}
    overrides["envSuffix"] = _longest_accepted(stack, "envSuffix", _suffix, overrides)
    if stack == "prod":
        overrides["domainName"] = _longest_accepted(stack, "domainName", _domain, overrides)
        # Every optional piece too, so each named type is checked: the Backup Audit Manager framework
        # and the account baseline.
        overrides["backupAuditFramework"] = "true"
        overrides["accountBaseline"] = "true"
    return overrides


@pytest.fixture(scope="module")
def long_runs() -> list[StackRun]:
    return [run_stack(stack, long_overrides(stack)) for stack in STACKS]


def _aws(run: StackRun) -> list[tuple[str, str, dict[str, object]]]:
    return [(r.type, r.name, r.inputs) for r in run.resources if r.custom and r.type.startswith("aws:")]


def test_the_runs_use_the_longest_names_the_settings_accept(long_runs: list[StackRun]) -> None:
    for run in long_runs:
        suffix = run.config[f"{PROJECT}:envSuffix"]
        # settings.py's _SUFFIX_RE allows 12 characters; 7 with a standby (STANDBY_ENV_SUFFIX_MAX).
        assert len(suffix) >= (STANDBY_ENV_SUFFIX_MAX if run.setting("standbyRegion") else 12), suffix
        assert re.fullmatch(r"[a-z0-9-]+", suffix)
    prod = long_runs[1]
    domain = prod.config[f"{PROJECT}:domainName"]
    assert len(domain) == MAX_DOMAIN_NAME_LENGTH, domain
    assert prod.of_type("aws:acm/certificate:Certificate"), "the long prod run must take the HTTPS path"


def test_every_aws_type_the_program_declares_has_a_name_rule(long_runs: list[StackRun]) -> None:
    declared = {t for run in long_runs for t, _, _ in _aws(run)}
    missing = sorted(declared - set(NAME_RULES) - set(UNNAMED))
    assert not missing, (
        f"add these types to offline/limits.py (NAME_RULES with the AWS limit and its source, or UNNAMED "
        f"with why AWS assigns the id): {missing}"
    )
    assert not set(NAME_RULES) & set(UNNAMED)


@pytest.mark.parametrize("type_", sorted(UNNAMED))
def test_unnamed_types_really_take_no_name(type_: str) -> None:
    """A type listed as unnamed has no name input in the SDK, so the table cannot hide one."""
    documented = arguments(args_class(type_))
    assert not {"name", "namePrefix", "identifier", "identifierPrefix"} & set(documented), type_


@pytest.mark.parametrize("type_", sorted(NAME_RULES))
def test_name_rules_name_real_sdk_arguments(type_: str) -> None:
    documented = arguments(args_class(type_))
    for rule in NAME_RULES[type_]:
        assert rule.prop in documented, f"{type_} has no argument {rule.prop}"
        assert rule.prefix_prop is None or rule.prefix_prop in documented, f"{type_}: {rule.prefix_prop}"
        assert rule.source.startswith("https://"), type_


def _name_cases() -> list[object]:
    return [
        pytest.param(stack, type_, id=f"{stack}-{type_.rsplit(':', 1)[1]}")
        for stack in STACKS
        for type_ in sorted(NAME_RULES)
    ]


@pytest.fixture(scope="module")
def runs_by_stack(long_runs: list[StackRun]) -> dict[str, StackRun]:
    return {run.stack: run for run in long_runs}


@pytest.mark.parametrize(("stack", "type_"), _name_cases())
def test_physical_names_fit_aws_limits(runs_by_stack: dict[str, StackRun], stack: str, type_: str) -> None:
    names: list[PhysicalName] = []
    for t, name, inputs in _aws(runs_by_stack[stack]):
        if t == type_:
            names += physical_names(t, name, inputs)
    problems = [f"{n.describe()}: {'; '.join(p)}" for n in names if (p := n.problems())]
    assert not problems, "\n".join(problems)


def test_every_named_resource_gets_a_name(long_runs: list[StackRun]) -> None:
    """A rule that yields no name for a resource that must have one would check nothing."""
    optional = {("aws:rds/cluster:Cluster", "finalSnapshotIdentifier")}
    for run in long_runs:
        for t, name, inputs in _aws(run):
            got = {n.rule.prop for n in physical_names(t, name, inputs)}
            for rule in NAME_RULES.get(t, ()):
                assert rule.prop in got or (t, rule.prop) in optional, f"{run.stack} {t} {name}: no {rule.prop}"


def test_tags_fit_aws_limits(long_runs: list[StackRun]) -> None:
    problems = []
    for run in long_runs:
        for t, name, inputs in _aws(run):
            for key, value in tags_of(inputs).items():
                if len(key) > TAG_KEY_MAX or len(value) > TAG_VALUE_MAX or key.lower().startswith("aws:"):
                    problems.append(f"{run.stack} {t} {name}: tag {key}={value!r}")
        for provider in run.of_type("pulumi:providers:aws"):
            assert "defaultTags" in provider.inputs
    assert not problems, f"tags must fit {TAG_KEY_MAX}/{TAG_VALUE_MAX} characters ({TAG_SOURCE}): {problems}"


# --------------------------------------------------------------------------- the calculation itself


def test_autoname_is_logical_name_plus_eight_and_is_refused_past_the_bridge_maximum() -> None:
    (role,) = physical_names("aws:iam/role:Role", "r" * 56, {})
    assert (len(role.value), role.how) == (64, "autoname")
    assert role.problems() == []
    (too_long,) = physical_names("aws:iam/role:Role", "r" * 57, {})
    assert any("refuses to autoname" in p for p in too_long.problems())
    (topic,) = physical_names("aws:sns/topic:Topic", "t" * 73, {})
    assert any("maximum 80" in p for p in topic.problems()), "SNS autonames stop at 80 although AWS allows 256"


def test_prefixes_get_twenty_six_characters_and_explicit_names_are_kept() -> None:
    (secret,) = physical_names("aws:secretsmanager/secret:Secret", "s", {"namePrefix": "app/db-"})
    assert (secret.value[:7], len(secret.value), secret.how) == ("app/db-", 7 + 26, "namePrefix + 26")
    (group,) = physical_names("aws:cloudwatch/logGroup:LogGroup", "g", {"name": "/x/y"})
    assert (group.value, group.how) == ("/x/y", "explicit")


@pytest.mark.parametrize(
    ("type_", "inputs", "logical", "expected"),
    [
        ("aws:s3/bucket:Bucket", {}, "Data_Bucket", "characters AWS does not allow"),
        ("aws:lb/loadBalancer:LoadBalancer", {"name": "-alb"}, "x", "characters AWS does not allow"),
        ("aws:lb/targetGroup:TargetGroup", {"name": "internal-x"}, "x", None),
        ("aws:lb/loadBalancer:LoadBalancer", {"name": "internal-x"}, "x", "must not start with 'internal-'"),
        ("aws:kms/alias:Alias", {"name": "alias/aws/mine"}, "x", "must not start with 'alias/aws/'"),
        ("aws:kms/alias:Alias", {"name": "mine"}, "x", "must start with 'alias/'"),
        ("aws:signer/signingProfile:SigningProfile", {}, "code-signing", "characters AWS does not allow"),
        ("aws:rds/cluster:Cluster", {"clusterIdentifier": "db--one"}, "x", "two consecutive hyphens"),
        ("aws:acm/certificate:Certificate", {"domainName": "origin." + "a" * 54 + ".com"}, "x", "AWS allows 1-64"),
    ],
)
def test_character_rules_catch_what_commonly_bites(
    type_: str, inputs: dict[str, object], logical: str, expected: str | None
) -> None:
    (name,) = physical_names(type_, logical, inputs)
    problems = "; ".join(name.problems())
    if expected is None:
        assert problems == ""
    else:
        assert expected in problems, problems
