"""One local Ray instance (2 CPUs) and one emulator for the whole tests/ray package.

Ray is an optional extra (pulled in by ``dev``): without it these tests skip with the reason printed,
except under CI=true, where the install includes it and its absence is a failure.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

from omnivec.providers.emulator import Emulator, emulated_clouds


def require_ray() -> None:
    """Call at the top of every test module here: skips (reason printed) or, in CI, fails."""
    try:
        import ray  # noqa: F401
    except ImportError:  # pragma: no cover - depends on the install
        if os.environ.get("CI") == "true":
            pytest.fail('ray is not installed although dev pulls it in: pip install -e ".[all,dev]"', pytrace=False)
        reason = 'ray is not installed: pip install "omnivec[ray]" to run tests/ray'
        print(f"tests/ray skipped: {reason}", file=sys.stderr)
        pytest.skip(reason, allow_module_level=True)


@pytest.fixture(scope="package")
def ray_emulator() -> Iterator[Emulator]:
    """Ray starts inside the emulator's environment, so every worker it spawns talks to the emulator."""
    import ray

    with emulated_clouds() as emulator:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
        ray.data.DataContext.get_current().enable_progress_bars = False
        try:
            yield emulator
        finally:
            ray.shutdown()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist every test here runs on one worker: one local Ray (2 CPUs) per suite, not per worker."""
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.xdist_group("ray"))
