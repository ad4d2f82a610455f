"""Shared fixtures: each stack is run once per session under the offline harness."""

import gc

import pytest

from offline.harness import StackRun, run_stack


@pytest.fixture(scope="session")
def dev() -> StackRun:
    return run_stack("dev")


@pytest.fixture(scope="session")
def prod() -> StackRun:
    return run_stack("prod")


@pytest.fixture(scope="session", params=["dev", "prod"])
def stack_run(request: pytest.FixtureRequest) -> StackRun:
    """Each shipped stack in turn, for properties that must hold in every environment.

    Not built on ``dev``/``prod``: a module may narrow those (to the stack region's site) alone."""
    return run_stack(request.param)


# Tests that need moto (botocore models take seconds to load per process) or the MariaDB servers
# run on one pytest-xdist worker, so each costs once per run; everything else spreads.
_ONE_WORKER = ("tests/rotation/", "tests/integration/")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.startswith(_ONE_WORKER):
            item.add_marker(pytest.mark.xdist_group("aws-fakes"))


def pytest_collection_finish(session: pytest.Session) -> None:
    """Keep Python's cyclic collector off the modules and test items collection leaves behind.

    Tests allocate millions of short-lived objects (stack runs, moto's fakes); with the default
    thresholds the collector rescans everything imported (pulumi_aws, botocore models) over and
    over, ~15% of the suite's CPU. Freezing what exists now and collecting young objects less
    often takes that away; garbage is still collected."""
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
