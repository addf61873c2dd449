"""kill -9 during ``omnivec index`` and ``omnivec migrate`` at random points, then resume: the result
is exactly the clean run's (every item once, no duplicate id, identical vectors).

The kill points are chosen from the store's own progress (rows committed), polled from this process,
so each lands mid-run; real processes (forked from one pre-imported parent) running the real CLI,
the fake provider, no cache.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from omnivec.providers.stores import VectorStore, index_items, open_store, read_source

N_ITEMS, BATCH, KILLS = 480, 12, 5


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.jsonl"
    rng = random.Random(7)
    words = [
        "cat",
        "dog",
        "tax",
        "law",
        "rust",
        "code",
        "pasta",
        "river",
        "bank",
        "loan",
        "music",
        "opera",
        "goal",
        "match",
    ]
    with path.open("w") as handle:
        for i in range(N_ITEMS):
            handle.write(json.dumps({"_id": f"doc{i:05d}", "text": " ".join(rng.choices(words, k=8)), "i": i}) + "\n")
    return path


class Forker:
    """Runs CLI commands as forked children of one pre-imported process (see _forker.py)."""

    def __init__(self, cwd: Path, extra_env: dict[str, str] | None = None) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIVEC_")} | (extra_env or {})
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("_forker.py"))],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def start(self, args: list[str], cwd: Path | None = None) -> int:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"argv": args, "cwd": str(cwd)} if cwd else args) + "\n")
        self.proc.stdin.flush()
        kind, pid = self.proc.stdout.readline().split()
        assert kind == "pid"
        return int(pid)

    def outcome(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def forker(tmp_path: Path) -> Iterator[Forker]:
    runner = Forker(tmp_path)
    yield runner
    runner.close()


def _count(store: VectorStore, version: int) -> int:
    try:
        return store.count("docs", version)
    except Exception:
        return -1


def _kill_at_random_points(args: list[str], store: VectorStore, version: int, forker: Forker) -> int:
    """Run the command and SIGKILL it once the store holds >= a random count, once in each of
    KILLS + 1 slices of the run; returns how many kills landed mid-run."""
    rng = random.Random()
    edges = np.linspace(BATCH, N_ITEMS - 2 * BATCH, KILLS + 2).astype(int)
    landed = 0
    for low, high in itertools.pairwise(edges):
        low = max(int(low), _count(store, version) + BATCH)
        if low >= high:
            continue
        target = rng.randint(low, int(high))
        pid = forker.start(args)
        while _alive(pid) and _count(store, version) < target:
            time.sleep(0.01)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
        landed += forker.outcome() == f"signal {signal.SIGKILL.value}"
    return landed


def _finish(args: list[str], forker: Forker) -> None:
    forker.start(args)
    assert forker.outcome() == "exit 0"


def _rows(store: VectorStore, version: int) -> dict[str, np.ndarray]:
    rows: dict[str, np.ndarray] = {}
    ids: list[str] = []
    for batch in store.scan("docs", version, 500, vectors=True):
        for row in batch:
            ids.append(row.id)
            rows[row.id] = row.vector  # type: ignore[assignment]
    assert len(ids) == len(set(ids)), "duplicate ids"
    return rows


def _assert_same(got: dict[str, np.ndarray], clean: dict[str, np.ndarray]) -> None:
    assert len(got) == N_ITEMS and set(got) == set(clean)
    assert all(np.array_equal(got[i], clean[i]) for i in clean)


def test_index_survives_kill_9_at_random_points(store_url: str, corpus: Path, tmp_path: Path, forker: Forker) -> None:
    store = open_store(store_url)
    args = [
        "index",
        str(corpus),
        "-c",
        "docs",
        "-m",
        "fake:a",
        "--store",
        store_url,
        "--batch-size",
        str(BATCH),
        "--no-cache",
    ]
    try:
        assert _kill_at_random_points(args, store, 1, forker) >= KILLS
        _finish(args, forker)
        assert store.duplicate_ids("docs", 1) == 0
        clean_store = open_store(f"lancedb://{tmp_path / 'clean'}")
        index_items(clean_store, "docs", read_source(corpus), provider=_fake("a"), cache=False)
        _assert_same(_rows(store, 1), _rows(clean_store, 1))
    finally:
        store.close()


def test_migrate_survives_kill_9_at_random_points(store_url: str, corpus: Path, tmp_path: Path, forker: Forker) -> None:
    store = open_store(store_url, batch_size=BATCH)
    try:
        index_items(store, "docs", read_source(corpus), provider=_fake("a"), cache=False)
        args = [
            "migrate",
            "docs",
            "--to",
            "fake:b",
            "--dimensions",
            "48",
            "--store",
            store_url,
            "--batch-size",
            str(BATCH),
            "--no-cache",
        ]
        assert _kill_at_random_points(args, store, 2, forker) >= KILLS
        _finish(args, forker)
        assert store.alias("docs") == (1, None)
        assert [v.state for v in store.versions("docs")] == ["live", "ready"]
        clean_store = open_store(f"lancedb://{tmp_path / 'clean'}", batch_size=100)
        index_items(clean_store, "docs", read_source(corpus), provider=_fake("b", dimensions=48), cache=False)
        _assert_same(_rows(store, 2), _rows(clean_store, 1))
    finally:
        store.close()


def _fake(model: str, **options: object) -> object:
    from omnivec.providers import get_provider

    return get_provider(f"fake:{model}", **options)
