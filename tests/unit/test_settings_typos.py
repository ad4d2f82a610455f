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
    assert problem.endswith("is not a setting of this program: see the settings table in the README")


def test_other_namespaces_are_not_ours_to_judge() -> None:
    parse_settings({**stack_config("dev"), "aws:profile": "payments", "other:thing": "x"}, stack="dev")


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
