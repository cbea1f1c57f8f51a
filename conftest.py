"""Settings shared by tests/ and fuzz/."""

import pytest
from hypothesis import settings

# No deadline: a test must not fail because the machine is busy. Bounds on time
# belong in benchmarks, not in assertions.
settings.register_profile("default", deadline=None)
settings.load_profile("default")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", help="also run tests marked slow (CI does)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: give --run-slow (scripts/dev.py test does)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
