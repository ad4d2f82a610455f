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


# Tests that need moto (botocore models take seconds to load per process) or the MariaDB servers
# run on one pytest-xdist worker, so each costs once per run; everything else spreads.
_ONE_WORKER = ("tests/rotation/", "tests/integration/")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.startswith(_ONE_WORKER):
            item.add_marker(pytest.mark.xdist_group("aws-fakes"))
