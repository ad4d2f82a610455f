"""The live checks pass on moto's fakes of what each stack's plan declares."""

from collections.abc import Iterator

import pytest
from moto import mock_aws

from tests.integration import checks
from tests.integration.fake_stack import FAKE_ENV, FakeStack, build


@pytest.fixture(scope="module", params=["dev", "prod"])
def pristine(request: pytest.FixtureRequest) -> Iterator[FakeStack]:
    """One untouched fake per stack, shared by the read-only tests."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name, value in FAKE_ENV.items():
            monkeypatch.setenv(name, value)
        with mock_aws():
            yield build(request.param)


@pytest.mark.parametrize("name", sorted(checks.CHECKS))
def test_every_check_passes_on_what_the_plan_declares(pristine: FakeStack, name: str) -> None:
    assert checks.CHECKS[name](pristine.aws, pristine.outputs, pristine.expect) == []
