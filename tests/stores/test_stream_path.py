"""``index`` and ``migrate`` embed through the one streaming path (omnivec.providers._stream): several
store batches are embedded while one is committed, and the source is never read further ahead of
what the store holds than the stream's window — the bounded memory of ``embed_stream``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from omnivec.providers.cache import content_key
from omnivec.providers.stores import SourceItem, VectorStore, index_items, migrate
from omnivec.providers.stores._embed import STORE_WINDOW
from omnivec.providers.testing import FakeProvider

N_BATCHES = 20


class Gathering(FakeProvider):
    """Holds its first calls (up to 10 s) until 3 are in flight together: under a loaded CI machine a
    50 ms call could end before the stream fed the next batch (peak 2 seen), which a pipeline that
    works is no less. A loop that embeds one batch at a time never gathers 3 and fails the test."""

    waiting = 0
    enough: asyncio.Event | None = None

    async def _embed_batch(self, batch: Sequence[Any], *, intent: Any) -> Any:
        self.enough = self.enough or asyncio.Event()
        self.waiting += 1
        if self.waiting >= 3:
            self.enough.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.enough.wait(), 10)
        self.enough.set()  # gathered once (or timed out): later calls go straight through
        try:
            return await super()._embed_batch(batch, intent=intent)
        finally:
            self.waiting -= 1


def _vectors(store: VectorStore, version: int) -> dict[str, np.ndarray]:
    return {r.id: r.vector for rows in store.scan("docs", version, 500, vectors=True) for r in rows}  # type: ignore[misc]


def test_index_and_migrate_keep_a_window_of_batches_in_flight_and_read_no_further(store: VectorStore) -> None:
    batch = store.settings.batch_size
    texts = [f"item {i} about cats and rivers" for i in range(N_BATCHES * batch)]
    ahead: list[int] = []

    def source() -> Iterator[SourceItem]:
        for i, text in enumerate(texts):
            if i % batch == 0 and i:  # how far reading runs ahead of what the store has committed
                ahead.append(i - store.count("docs", 1))
            yield SourceItem(f"d{i:05d}", content_key(text), text)

    slow = Gathering("a", max_batch_size=batch, default_concurrency=8, latency_s=0.05)
    report = index_items(store, "docs", source(), provider=slow, cache=False)
    assert report.embedded == len(texts) and store.count("docs", 1) == len(texts)
    assert max(ahead) <= STORE_WINDOW * batch  # the stream's window, never the whole source
    assert slow.peak_in_flight >= 3  # batches embedded together, not one at a time behind each commit
    got = _vectors(store, 1)
    assert all(np.array_equal(got[f"d{i:05d}"], slow.embed_one(t, "document")) for i, t in enumerate(texts))

    target = Gathering("b", max_batch_size=batch, default_concurrency=8, latency_s=0.05, default_dimensions=32)
    moved = migrate(store, "docs", target, cache=False)
    assert moved.count == len(texts) and not store.duplicate_ids("docs", moved.target_version)
    assert target.peak_in_flight >= 3
    got = _vectors(store, moved.target_version)
    assert all(np.array_equal(got[f"d{i:05d}"], target.embed_one(t, "document")) for i, t in enumerate(texts))
