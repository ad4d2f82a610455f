"""A misspelt or unknown key is an error naming it and the closest real key, wherever it was set."""

import shutil
from pathlib import Path

import pytest

from components.settings import SettingsError, parse_settings
from offline.harness import PROJECT_DIR, ProgramError, run_stack, stack_config
from tests.helpers import settings_error_of_a_real_run


def problems(raw: dict[str, str]) -> list[str]:
    with pytest.raises(SettingsError) as excinfo:
        parse_settings(raw, stack="dev")
    return excinfo.value.problems


@pytest.mark.parametrize(
    ("typo", "meant"),
    [("azcount", "azCount"), ("natStrategi", "natStrategy"), ("dbInstanceClas", "dbInstanceClass"),
     ("ALARMEMAILS", "alarmEmails")],
)  # fmt: skip
def test_a_typo_names_the_closest_key(typo: str, meant: str) -> None:
    (problem,) = problems({**stack_config("dev"), f"payments-platform:{typo}": "3"})
    assert problem == f"payments-platform:{typo} = '3': is not a setting of this program: did you mean {meant}?"


def test_an_unrelated_key_points_at_the_table() -> None:
    (problem,) = problems({**stack_config("dev"), "payments-platform:colour": "blue"})
    assert problem.endswith("is not a setting of this program: see the settings table in docs/settings.md")


def test_the_providers_and_pulumis_own_keys_are_theirs_to_judge() -> None:
    """aws:* keys are the AWS provider's (it validates them), pulumi:* keys Pulumi's."""
    parse_settings(
        {
            **stack_config("dev"),
            "aws:profile": "payments",
            "aws:skipMetadataApiCheck": "false",
            "aws:defaultTags": '{"tags": {"Team": "payments"}}',
            "pulumi:template": "aws-python",
        },
        stack="dev",
    )


@pytest.mark.parametrize(
    ("key", "says"),
    [
        ("payment-platform:dbInstanceCount", "nothing reads the namespace 'payment-platform'"),
        ("Payments-Platform:dbInstanceCount", "nothing reads the namespace 'Payments-Platform'"),
        ("dbInstanceCount", "a key needs a namespace"),
        ("payments:dbinstancecount", "nothing reads the namespace 'payments'"),
    ],
)
def test_a_key_in_a_namespace_nobody_reads_names_the_projects_key(key: str, says: str) -> None:
    (problem,) = problems({**stack_config("dev"), key: "1"})
    assert problem == (
        f"{key} = '1': {says} (this stack reads payments-platform, aws and pulumi keys): "
        "did you mean payments-platform:dbInstanceCount?"
    )


def test_a_misspelt_provider_namespace_points_at_the_providers_key() -> None:
    (problem,) = problems({**stack_config("dev"), "asw:region": "eu-west-1"})
    assert problem.endswith("did you mean aws:region?")


def test_an_unrelated_namespace_points_at_the_table() -> None:
    (problem,) = problems({**stack_config("dev"), "other:thing": "x"})
    assert problem.endswith("see the settings table in docs/settings.md (payments-platform:<key>)")


def test_a_key_in_another_projects_namespace_in_a_stack_file_declares_nothing(tmp_path: Path) -> None:
    """Issue 21: ``payment-platform:dbInstanceCount: 1`` used to leave the default (2) in force, silently."""
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    text = (PROJECT_DIR / "Pulumi.dev.yaml").read_text()
    (tmp_path / "Pulumi.dev.yaml").write_text(
        text.replace("payments-platform:dbInstanceCount:", "payment-platform:dbInstanceCount:")
    )
    with pytest.raises(ProgramError) as excinfo:
        run_stack("dev", project_dir=tmp_path, program=PROJECT_DIR / "__main__.py")
    assert isinstance(excinfo.value.__cause__, SettingsError)
    (problem,) = excinfo.value.__cause__.problems
    assert problem.startswith("payment-platform:dbInstanceCount = '1': nothing reads the namespace")
    assert problem.endswith("did you mean payments-platform:dbInstanceCount? (from Pulumi.dev.yaml)")
    assert excinfo.value.resources == [], "nothing is declared"


def test_a_typo_in_a_stack_file_says_so(tmp_path: Path) -> None:
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    text = (
        (PROJECT_DIR / "Pulumi.dev.yaml")
        .read_text()
        .replace("payments-platform:azCount:", "payments-platform:azcount:")
    )
    (tmp_path / "Pulumi.dev.yaml").write_text(text)
    with pytest.raises(ProgramError) as excinfo:
        run_stack("dev", project_dir=tmp_path, program=PROJECT_DIR / "__main__.py")
    assert isinstance(excinfo.value.__cause__, SettingsError)
    (problem,) = excinfo.value.__cause__.problems
    assert problem == (
        "payments-platform:azcount = '3': is not a setting of this program: did you mean azCount? "
        "(from Pulumi.dev.yaml)"
    )
    assert excinfo.value.resources == [], "nothing is declared"


def test_a_bad_value_from_set_says_it_came_from_set() -> None:
    with pytest.raises(ProgramError) as excinfo:
        run_stack("dev", {"azCount": 7, "vpcCidr": "10.0.0.0/8"})
    cause = excinfo.value.__cause__
    assert isinstance(cause, SettingsError)
    assert sorted(cause.problems) == [
        "payments-platform:azCount = '7': must be 2 or 3 (from --set)",
        "payments-platform:vpcCidr = '10.0.0.0/8': must be a private (RFC 1918) IPv4 network, /16 to /20, "
        "no host bits set, e.g. 10.20.0.0/16 (from --set)",
    ]


def test_a_missing_value_claims_no_source() -> None:
    with pytest.raises(ProgramError) as excinfo:
        run_stack("dev", {"azCount": 7, "costCenter": None})
    cause = excinfo.value.__cause__
    assert isinstance(cause, SettingsError)
    assert sorted(cause.problems) == [
        "payments-platform:azCount = '7': must be 2 or 3 (from --set)",
        "payments-platform:costCenter is missing: set it to a tag value: 1-256 letters, digits, spaces and "
        "_ . : / = + - @",
    ]


def test_a_real_run_reports_keys_the_program_does_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside the mocks, the keys come from the engine's config, not from a table of known keys."""
    config = {**stack_config("dev"), "payments-platform:wafRateLimt": "100"}
    error = settings_error_of_a_real_run(monkeypatch, "dev", config)
    assert error.problems == [
        "payments-platform:wafRateLimt = '100': is not a setting of this program: did you mean wafRateLimit?"
    ]


def test_a_real_run_reports_keys_in_a_namespace_nobody_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """`pulumi up` hands the program every key of the stack file: all of them are looked at."""
    config = {**stack_config("dev"), "payment-platform:dbInstanceCount": "1"}
    error = settings_error_of_a_real_run(monkeypatch, "dev", config)
    (problem,) = error.problems
    assert problem.startswith("payment-platform:dbInstanceCount = '1': nothing reads the namespace")
