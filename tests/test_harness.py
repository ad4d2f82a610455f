"""The offline harness itself: it must fail loudly rather than pass without checking."""

from pathlib import Path

import pytest

from offline.harness import ProgramError, run_stack, stack_config


def write(tmp_path: Path, source: str) -> Path:
    program = tmp_path / "program.py"
    program.write_text(source)
    return program


def test_warnings_logged_by_the_program_are_collected(tmp_path: Path) -> None:
    run = run_stack("dev", program=write(tmp_path, "import pulumi\npulumi.log.warn('argument x is deprecated')\n"))
    assert run.warnings == ["argument x is deprecated"]


def test_program_exceptions_fail_the_run(tmp_path: Path) -> None:
    program = write(tmp_path, "raise RuntimeError('boom')\n")
    with pytest.raises(ProgramError, match="boom") as excinfo:
        run_stack("dev", program=program)
    assert isinstance(excinfo.value.__cause__, RuntimeError)


def test_exceptions_inside_apply_fail_the_run(tmp_path: Path) -> None:
    source = (
        "import pulumi\n"
        "def bad(_):\n    raise ValueError('inside apply')\n"
        "pulumi.export('x', pulumi.Output.from_input(1).apply(bad))\n"
    )
    with pytest.raises(ProgramError, match="inside apply"):
        run_stack("dev", program=write(tmp_path, source))


def test_an_export_that_never_resolves_fails_the_run(tmp_path: Path) -> None:
    source = (
        "import asyncio, pulumi\n"
        "loop = asyncio.get_event_loop()\n"
        "value, known, secret = loop.create_future(), loop.create_future(), loop.create_future()\n"
        "value.set_result(None); known.set_result(False); secret.set_result(False)\n"
        "pulumi.export('ghost', pulumi.Output(set(), value, known, secret))\n"
        "pulumi.export('real', 1)\n"
    )
    with pytest.raises(ProgramError, match="exports never resolved under the mocks: ghost"):
        run_stack("dev", program=write(tmp_path, source))


def test_secret_exports_are_reported_as_secret(tmp_path: Path) -> None:
    source = "import pulumi\npulumi.export('token', pulumi.Output.secret('s3cr3t'))\npulumi.export('plain', 'x')\n"
    run = run_stack("dev", program=write(tmp_path, source))
    assert run.secret_outputs == frozenset({"token"})


def test_unknown_data_sources_are_refused(tmp_path: Path) -> None:
    source = "import pulumi_aws as aws\naws.get_billing_service_account()\n"
    with pytest.raises(ProgramError, match="no answer for data source"):
        run_stack("dev", program=write(tmp_path, source))


def test_resource_options_are_recorded(tmp_path: Path) -> None:
    source = (
        "import pulumi, pulumi_aws as aws\n"
        "p = aws.Provider('p', region='eu-west-1')\n"
        "a = aws.sns.Topic('a', opts=pulumi.ResourceOptions(provider=p))\n"
        "aws.sns.Topic('b', opts=pulumi.ResourceOptions(provider=p, protect=True, retain_on_delete=True,\n"
        "    ignore_changes=['displayName'], depends_on=[a]))\n"
    )
    run = run_stack("dev", program=write(tmp_path, source))
    a, b = run.one("aws:sns/topic:Topic", "a"), run.one("aws:sns/topic:Topic", "b")
    assert (a.protect, a.retain_on_delete, a.ignore_changes) == (False, False, ())
    assert (b.protect, b.retain_on_delete, b.ignore_changes) == (True, True, ("displayName",))
    assert a.urn in b.dependencies


def test_stack_config_merges_project_defaults_under_stack_values() -> None:
    config = stack_config("dev")
    assert config["payments-platform:appPort"] == "8080"  # Pulumi.yaml default
    assert config["payments-platform:natStrategy"] == "single"  # Pulumi.dev.yaml value
    assert "payments-platform:vpcCidr" not in stack_config("dev", {"vpcCidr": None})


def test_replacement_options_and_aliases_are_recorded(tmp_path: Path) -> None:
    """What a real `up` does on change is decided by these options: tests must be able to read them."""
    source = (
        "import pulumi, pulumi_aws as aws\n"
        "o = pulumi.ResourceOptions(delete_before_replace=True, replace_on_changes=['name'],\n"
        "    aliases=[pulumi.Alias(name='old-lock')])\n"
        "aws.backup.Vault('v', name='v', opts=o)\n"
        "aws.backup.Vault('w', name='w')\n"
    )
    run = run_stack("dev", program=write(tmp_path, source))
    replaced_first = run.one("aws:backup/vault:Vault", "v")
    assert replaced_first.delete_before_replace
    assert replaced_first.replace_on_changes == ("name",)
    assert any("old-lock" in alias for alias in replaced_first.aliases)
    default = run.one("aws:backup/vault:Vault", "w")
    assert (default.delete_before_replace, default.replace_on_changes, default.aliases) == (False, (), ())


def test_a_program_waiting_on_an_output_nothing_resolves_fails_instead_of_hanging(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from offline import harness

    monkeypatch.setattr(harness, "RUN_TIMEOUT_SECONDS", 0.5)
    source = "import pulumi, pulumi_aws as aws\nnever, _ = pulumi.deferred_output()\naws.sns.Topic('t', name=never)\n"
    with pytest.raises(ProgramError, match=r"did not finish in 0\.5 s"):
        run_stack("dev", program=write(tmp_path, source), fresh=True)
