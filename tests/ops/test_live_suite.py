"""The live checks on a machine that cannot read the stack's outputs: one line and a skip, not a wall of errors."""

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ops.deploy import PROJECT_DIR
from tests.integration import stack

FAILING_PULUMI = """#!{bash}
echo "error: PULUMI_ACCESS_TOKEN must be set for login during non-interactive CLI sessions" >&2
exit 255
"""


def live_suite(bin_dir: Path) -> subprocess.CompletedProcess[str]:
    """`FINTECH_STACK=dev pytest tests/integration/test_live.py` with only `bin_dir` on PATH."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("FINTECH_", "PYTEST_"))}
    env.update(FINTECH_STACK="dev", PATH=str(bin_dir))
    return subprocess.run(
        # Its own --basetemp: a nested pytest otherwise prunes old temp dirs, the running suite's among them.
        [sys.executable, "-m", "pytest", "tests/integration/test_live.py", "-p", "no:cacheprovider",
         f"--basetemp={bin_dir.parent / 'nested-pytest'}"],
        cwd=PROJECT_DIR, env=env, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


def assert_one_clear_skip(done: subprocess.CompletedProcess[str], reason: str) -> None:
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    summary = output.splitlines()[-1]
    assert " skipped in " in summary
    assert not any(word in summary for word in ("passed", "failed", "error")), summary
    (line,) = [line for line in output.splitlines() if "cannot read dev's outputs" in line]
    assert line.startswith("SKIPPED [")
    assert "tests/integration/test_live.py" in line
    assert reason in line
    assert "FINTECH_STACK_OUTPUTS" in line, "says what to do instead"
    assert "Traceback" not in output
    assert "Error" not in output.replace(reason, "")
    assert len(output.splitlines()) < 40, output


def test_without_the_pulumi_cli_the_live_suite_skips_with_one_line(tmp_path: Path) -> None:
    assert_one_clear_skip(live_suite(tmp_path), "the Pulumi CLI is not on PATH")


def test_when_stack_output_fails_the_live_suite_skips_with_its_reason(tmp_path: Path) -> None:
    pulumi = tmp_path / "pulumi"
    pulumi.write_text(FAILING_PULUMI.format(bash=shutil.which("bash")))  # PATH holds nothing else
    pulumi.chmod(pulumi.stat().st_mode | stat.S_IEXEC)
    assert_one_clear_skip(
        live_suite(tmp_path), "PULUMI_ACCESS_TOKEN must be set for login during non-interactive CLI sessions"
    )


def test_outputs_from_a_file_need_no_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outputs = tmp_path / "dev.json"
    outputs.write_text('{"vpc_id": "vpc-0abc"}')
    monkeypatch.setenv("FINTECH_STACK_OUTPUTS", str(outputs))
    monkeypatch.setenv("PATH", str(tmp_path))
    stack.deployed_outputs.cache_clear()
    try:
        assert stack.deployed_outputs("dev") == {"vpc_id": "vpc-0abc"}
    finally:
        stack.deployed_outputs.cache_clear()
