"""The store contract's kill -9 case: ``index`` and ``migrate`` killed at random points, then run again.

Every store gets it by subclassing :class:`~.store_contract.StoreContract`. Each run is a real process
(:mod:`.crash_child`) that opens the store through its URL, as ``omnivec index`` does, and reports each
commit; the test SIGKILLs it once the store holds a count drawn at random in each slice of the run,
five times during ``index`` and five times during ``migrate`` (to another model), then lets it finish.
Then, against a clean uninterrupted run of both into another collection of the same store: exactly the
items, no duplicate id, every vector byte-equal, the same versions, states and alias.

The test process opens the store only once the processes are done (Qdrant local mode and Milvus Lite
are one process per folder): a store whose URL cannot be read from a handle without holding it
overrides the ``store_url`` fixture. Slow (some 30 processes): put its node id on your slow list.
"""

from __future__ import annotations

import itertools
import os
import random
import select
import signal
import subprocess
import sys
import time
from typing import ClassVar

import numpy as np
import pytest

from ..stores.base import VectorStore
from .crash_child import BATCH, ITEMS

__all__ = ["KILLS", "CrashContract"]

KILLS = 5
_CHILD = "omnivec.providers.testing.crash_child"


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("OMNIVEC_")}


def _run(url: str, collection: str, action: str, kill_at: int | None, timeout_s: float = 300) -> bool:
    """Run the child; SIGKILL it once it reports ``kill_at`` items committed (plus up to 20 ms, so
    some kills land inside the next write). Returns whether it was killed mid-run."""
    child = subprocess.Popen(
        [sys.executable, "-m", _CHILD, url, collection, action], env=_env(), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert child.stdout is not None
    deadline, killed = time.monotonic() + timeout_s, False
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([child.stdout], [], [], 1.0)
            if not ready:
                continue
            line = child.stdout.readline()
            if not line:
                break  # it exited
            if kill_at is not None and line.startswith("committed ") and int(line.split()[1]) >= kill_at:
                time.sleep(random.uniform(0.0, 0.02))
                child.send_signal(signal.SIGKILL)
                killed = True
                break
    finally:
        if child.poll() is None and not killed and time.monotonic() >= deadline:
            child.kill()
        _, err = child.communicate(timeout=120)
    if killed:
        return child.returncode == -signal.SIGKILL
    assert child.returncode == 0, f"{action} {collection} exited {child.returncode}: {err.strip()[-2000:]}"
    return False


def _kill_then_finish(url: str, collection: str, action: str, rng: random.Random) -> int:
    """KILLS kills, one in each slice of the run, then one run to the end; how many landed mid-run."""
    edges = np.linspace(BATCH, ITEMS - 2 * BATCH, KILLS + 1).astype(int)
    landed = sum(
        _run(url, collection, action, rng.randint(int(low), int(high))) for low, high in itertools.pairwise(edges)
    )
    _run(url, collection, action, None)
    return landed


def _state(store: VectorStore, collection: str) -> list[tuple[int, str, str]]:
    return [(v.version, v.state, v.fingerprint_hash) for v in store.versions(collection)]


def _vectors(store: VectorStore, collection: str, version: int) -> dict[str, bytes]:
    ids: list[str] = []
    found: dict[str, bytes] = {}
    for rows in store.scan(collection, version, 100, vectors=True):
        for row in rows:
            ids.append(row.id)
            found[row.id] = np.asarray(row.vector, dtype=np.float32).tobytes()
    assert len(ids) == len(set(ids)), f"{collection} v{version}: a scan returned an id twice"
    return found


class CrashContract:
    """The kill -9 case. Expects the ``make_store`` fixture of :class:`~.store_contract.StoreContract`."""

    survives_its_process: ClassVar[bool] = True
    """False for a store that lives in one process's memory (nothing to find after a kill): the case is skipped."""

    @pytest.fixture
    def store_url(self, make_store: object) -> str:
        """The store's URL for the processes the test runs (read from a handle, closed at once)."""
        with make_store() as store:  # type: ignore[operator]
            return str(store.url)

    def test_kill_9_during_index_and_migrate_then_rerun_is_exact(self, store_url: str, make_store: object) -> None:
        if not self.survives_its_process:
            pytest.skip(f"{type(self).__name__}: the store lives in one process's memory")
        rng = random.Random(22)
        landed = _kill_then_finish(store_url, "docs", "index", rng)
        landed += _kill_then_finish(store_url, "docs", "migrate", rng)
        for action in ("index", "migrate"):  # the clean run, uninterrupted
            _run(store_url, "clean", action, None)
        assert landed >= 2 * KILLS - 2, f"only {landed} of {2 * KILLS} kills landed mid-run"
        with make_store() as store:  # type: ignore[operator]
            assert _state(store, "docs") == _state(store, "clean") and store.alias("docs") == store.alias("clean")
            for version in (1, 2):
                assert store.count("docs", version) == ITEMS and store.duplicate_ids("docs", version) == 0
                assert _vectors(store, "docs", version) == _vectors(store, "clean", version)  # byte-equal
