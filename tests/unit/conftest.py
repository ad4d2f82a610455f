"""The tier tests read the stack region's site: a tier built again for the standby region has its
own tests (test_standby.py), which asks for both sites explicitly."""

import pytest

from offline.harness import StackRun


@pytest.fixture(scope="module")
def prod(prod: StackRun) -> StackRun:
    return prod.home()


@pytest.fixture(scope="module")
def stack_run(stack_run: StackRun) -> StackRun:
    return stack_run.home()
