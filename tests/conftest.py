"""Shared fixtures: each stack is run once per session under the offline harness."""

import pytest

from offline.harness import StackRun, run_stack


@pytest.fixture(scope="session")
def dev() -> StackRun:
    return run_stack("dev")


@pytest.fixture(scope="session")
def prod() -> StackRun:
    return run_stack("prod")


@pytest.fixture(scope="session", params=["dev", "prod"])
def stack_run(request: pytest.FixtureRequest, dev: StackRun, prod: StackRun) -> StackRun:
    """Each shipped stack in turn, for properties that must hold in every environment."""
    return dev if request.param == "dev" else prod
