"""Without the extra, the Ray module still imports and names the extra as soon as it is used."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from omnivec.providers.errors import InvalidOptionError
from omnivec.providers.stores.migration import migrate

CODE = """
import sys
sys.modules["ray"] = None  # as if the extra were not installed: "import ray" raises ImportError
import omnivec.providers.ray as r
from omnivec.providers.errors import MissingDependencyError
from omnivec.providers.stores.migration import migrate
for call in (lambda: r.embed_dataset(object(), model="fake:a"), lambda: r.shared_budget("q", requests_per_second=1),
             lambda: migrate(None, "docs", "fake:a", engine="ray")):
    try:
        call()
    except MissingDependencyError as exc:
        assert 'pip install "omnivec[ray]"' in str(exc) and "\\n" not in str(exc), exc
    else:
        raise SystemExit("no MissingDependencyError")
print("ok")
"""


def test_the_module_imports_without_ray_and_names_the_extra_when_used() -> None:
    result = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_an_unknown_engine_is_refused_before_anything_is_opened() -> None:
    with pytest.raises(InvalidOptionError, match="engine"):
        migrate(None, "docs", "fake:a", engine="spark")  # type: ignore[arg-type]


def test_the_budget_books_send_times_by_requests_and_by_tokens() -> None:
    from omnivec.providers._ray_budget import _SharedBudget

    by_requests = _SharedBudget(10.0, None, burst=3)
    start = by_requests.reserve()
    times = [start] + [by_requests.reserve() for _ in range(5)]
    gaps = np.diff(np.array(times) - start)
    assert np.allclose(times[:3], start, atol=0.01) and np.allclose(gaps[2:], 0.1, atol=0.01)  # 3 at once, then 10/s
    by_tokens = _SharedBudget(None, 600.0, burst=1)  # 10 tokens/s: a 5-token call pays half a second
    first, second, third = (by_tokens.reserve(1, 5) for _ in range(3))
    assert second - first == pytest.approx(0.5, abs=0.01) and third - second == pytest.approx(0.5, abs=0.01)
    assert by_tokens.snapshot()["tokens"] == 15 and by_requests.snapshot()["requests"] == 6
