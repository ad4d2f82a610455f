"""The simulated regions' fixtures (tests/ops/test_regions.py), shared with test_credentials.py."""

from tests.ops.test_regions import clock, cloud, machine, region_lost  # noqa: F401
