"""kill -9 during ``omnivec migrate NAME --to-store URL`` at random points, then resume: exactly the source's
rows in the target, no duplicate, every vector byte-equal, one version (issue 22). On the SLOW list: each
store runs the real CLI in 7 processes (the embedded engines are one process per folder, so the counts
between kills are read by a process of their own too)."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from omnivec.providers.stores import SourceItem, index_items, open_store
from omnivec.providers.testing import FakeProvider

pytest.importorskip("qdrant_client")
pytest.importorskip("pymilvus")
pytest.importorskip("chromadb")

N, KILLS = 3000, 3
TARGETS = {
    "qdrant": "qdrant+local://{}/qdrant",
    "milvus": "milvus+lite://{}/milvus.db",
    "chroma": "chroma+local://{}/chroma",
}


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("OMNIVEC_")}


def _omnivec(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "omnivec.providers", *args], env=_env(), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _size(folder: Path) -> int:
    total = 0
    for path in folder.rglob("*") if folder.exists() else ():
        with contextlib.suppress(FileNotFoundError):  # a journal the engine deleted after the listing
            total += path.stat().st_size if path.is_file() else 0
    return total


def _target_count(url: str) -> int:
    out, _ = _omnivec("collections", "--store", url).communicate(timeout=120)
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    return sum(line["count"] for line in lines)


def _wait_for_growth(folder: Path, size: int, child: subprocess.Popen[str], deadline: float) -> None:
    while _size(folder) < size and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)


@pytest.mark.parametrize("kind", sorted(TARGETS))
def test_migrate_to_store_survives_kill_9_and_resumes_exactly_once(kind: str, tmp_path: Path) -> None:
    source_url, target_url = f"lancedb://{tmp_path / 'src'}", TARGETS[kind].format(tmp_path / "t")
    items = [SourceItem(f"d{i}", f"h{i}", f"item {i}", None, {"i": i}) for i in range(N)]
    with open_store(source_url, cache=None, batch_size=500) as source:
        index_items(source, "docs", items, provider=FakeProvider("a", dimensions=32), cache=False)
    args = ("migrate", "docs", "--store", source_url, "--to-store", target_url, "--batch-size", "20")
    rng, counts = random.Random(22), []
    for attempt in range(2 * KILLS):  # a kill that lands before the first commit is tried again, later
        if sum(0 < c < N for c in counts) == KILLS:
            break
        child, deadline = _omnivec(*args), time.monotonic() + 120
        _wait_for_growth(tmp_path / "t", _size(tmp_path / "t") + 4096, child, deadline)
        # Chroma's first write is its empty database (far over 4 KiB): only the next growth is rows.
        _wait_for_growth(tmp_path / "t", _size(tmp_path / "t") + 1, child, deadline)
        time.sleep(rng.uniform(0.0, 0.5) * (1 + attempt - len([c for c in counts if c > 0])))
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
        child.communicate(timeout=60)
        counts.append(_target_count(target_url))
    assert sum(0 < c < N for c in counts) >= 2, counts  # the kills landed mid-run
    assert counts == sorted(counts), counts  # committed batches stay committed
    finished = _omnivec(*args)
    _, err = finished.communicate(timeout=300)
    assert finished.returncode == 0, err
    with open_store(source_url) as source, open_store(target_url) as target:
        [moved] = target.versions("docs")
        assert moved.fingerprint_hash == source.versions("docs")[0].fingerprint_hash
        assert target.count("docs", moved.version) == N and target.duplicate_ids("docs", moved.version) == 0
        want = {r.id: r.vector for rows in source.scan("docs", 1, 1000, vectors=True) for r in rows}
        got = {r.id: r.vector for rows in target.scan("docs", moved.version, 1000, vectors=True) for r in rows}
        assert set(got) == set(want) and all(got[i].tobytes() == want[i].tobytes() for i in want)  # type: ignore[union-attr]
