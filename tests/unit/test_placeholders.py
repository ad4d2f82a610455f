"""Example values shipped in a stack file never reach AWS: a real run stops, a mocked run warns."""

import pulumi
import pytest

from components import settings
from components.settings import placeholders
from offline import plan
from offline.harness import StackRun, run_stack, stack_config
from tests.helpers import settings_error_of_a_real_run

PLACEHOLDER_KEYS = {"payments-platform:domainName", "payments-platform:hostedZoneId", "payments-platform:alarmEmails"}
REAL = {
    "domainName": "payments.acme-pay.co.uk",
    "hostedZoneId": "Z04811223ABCDEFGHIJK",
    "alarmEmails": ["payments-oncall@acme-pay.co.uk"],
}


def test_the_shipped_prod_examples_are_each_named() -> None:
    found = placeholders(stack_config("prod"))
    assert set(found) == PLACEHOLDER_KEYS
    assert "payments.example.com" in found["payments-platform:domainName"]
    assert "Z0EXAMPLE0PLACEHOLDER" in found["payments-platform:hostedZoneId"]
    assert "payments-oncall@example.com" in found["payments-platform:alarmEmails"]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("domainName", "pay.example.org"),
        ("domainName", "example.net"),
        ("domainName", "payments.test"),
        ("domainName", "api.invalid"),
        ("hostedZoneId", "Z123PLACEHOLDER"),
        ("hostedZoneId", "ZEXAMPLE12345"),
        ("alarmEmails", ["ops@acme-pay.co.uk", "oncall@sub.example.com"]),
    ],
)
def test_reserved_names_are_placeholders(key: str, value: object) -> None:
    assert f"payments-platform:{key}" in placeholders(stack_config("prod", {**REAL, key: value}))


@pytest.mark.parametrize("domain", ["payments.acme-pay.co.uk", "myexample.com", "example.com.au", "testing.io"])
def test_real_names_are_not_placeholders(domain: str) -> None:
    assert placeholders(stack_config("prod", {**REAL, "domainName": domain})) == {}


def test_dev_ships_no_placeholders() -> None:
    assert placeholders(stack_config("dev")) == {}


def test_a_real_run_stops_before_declaring_anything(monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside the mocks (what `pulumi preview`/`up` run), one error lists every placeholder."""
    config = stack_config("prod")
    error = settings_error_of_a_real_run(monkeypatch, "prod", config)
    assert [p.split(":")[1] for p in error.problems] == ["domainName", "hostedZoneId", "alarmEmails"]
    assert "Pulumi.prod.yaml" in str(error)


def test_outside_the_mocks_is_detected() -> None:
    pulumi.runtime.settings.configure(pulumi.runtime.settings.Settings(project="p", stack="s"))
    assert not settings._under_mocks()


def test_a_mocked_run_warns_once_per_key(prod: StackRun) -> None:
    warned = [w for w in prod.warnings if w.startswith("placeholder ")]
    assert sorted(w.split()[1].rstrip(":") for w in warned) == sorted(PLACEHOLDER_KEYS)


def test_without_placeholders_a_mocked_run_does_not_warn() -> None:
    run = run_stack("prod", REAL)
    assert not [w for w in run.warnings if w.startswith("placeholder ")]


def test_the_offline_plan_shows_them_first(prod: StackRun) -> None:
    text = plan.report(prod, [], [])
    lines = text.splitlines()
    assert lines[2].startswith("PLACEHOLDERS: a real `pulumi up` of prod refuses these")
    assert {line.split(":")[0].strip() + ":" + line.split(":")[1] for line in lines[3:6]} == PLACEHOLDER_KEYS
