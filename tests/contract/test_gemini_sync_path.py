"""Gemini calls run google-genai's SYNC client in the provider's worker threads: they overlap, a
cancelled embed leaves the provider usable, and the pool and client outlive loops and ``close``."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from omnivec.providers import get_provider
from omnivec.providers.emulator import Emulator

LATENCY_S = 0.5


def gemini_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("omnivec-gemini")}


def test_eight_calls_overlap_in_eight_worker_threads(omnivec_emulator: Emulator) -> None:
    provider = get_provider("gemini:gemini-embedding-2", dimensions=128, max_concurrency=8)

    async def run() -> float:
        await provider.embed("warm up", intent="query")  # makes the client and opens a connection
        omnivec_emulator.faults.latency_ms = LATENCY_S * 1000
        began = time.perf_counter()
        results = await asyncio.gather(*(provider.embed(f"text {i}", intent="query") for i in range(8)))
        assert [r.vectors.shape for r in results] == [(1, 128)] * 8
        return time.perf_counter() - began

    before = gemini_threads()
    elapsed = asyncio.run(run())
    # One after another would take 8 x 0.5 s; overlapping calls take about 0.5 s. The bound is loose on purpose.
    assert elapsed < 4 * LATENCY_S, f"8 calls took {elapsed:.2f} s: they did not run in parallel"
    assert len(gemini_threads() - before) == 8  # each call held its own worker thread (the sync client)
    assert omnivec_emulator.stats.requests == 9
    provider.close()


def test_a_cancelled_embed_leaves_the_provider_usable(omnivec_emulator: Emulator) -> None:
    provider = get_provider("gemini:gemini-embedding-2", dimensions=128, max_concurrency=2)

    async def run() -> None:
        omnivec_emulator.faults.latency_ms = LATENCY_S * 1000
        task = asyncio.ensure_future(provider.embed("abandoned", intent="query"))
        for _ in range(1000):  # until its request reaches the emulator (10 s at most)
            if omnivec_emulator.stats.requests:
                break
            await asyncio.sleep(0.01)
        task.cancel()  # while its request is in flight: the worker thread still waits for the answer
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(LATENCY_S * 1.5)  # the abandoned call's answer comes back and is dropped
        omnivec_emulator.faults.latency_ms = 0
        # Both slots are free again: two calls at once still go through, with the right vectors.
        first, second = await asyncio.gather(
            provider.embed("kept one", intent="query"), provider.embed("kept two", intent="query")
        )
        assert first.vectors.shape == second.vectors.shape == (1, 128)
        assert (first.vectors != second.vectors).any()

    asyncio.run(run())
    assert omnivec_emulator.stats.requests == 3


def test_several_loops_and_close_then_use_again(omnivec_emulator: Emulator) -> None:
    provider = get_provider("gemini:gemini-embedding-2", dimensions=128)
    assert asyncio.run(provider.embed("one", intent="query")).vectors.shape == (1, 128)
    assert asyncio.run(provider.embed("two", intent="query")).vectors.shape == (1, 128)  # another loop
    assert provider.embed_sync("three", intent="query").vectors.shape == (1, 128)  # the background loop
    client = provider._client()
    provider.close()
    assert client._api_client._httpx_client.is_closed  # the client it made is closed with it
    assert provider.embed_sync("four", intent="query").vectors.shape == (1, 128)  # fresh pool and client
    provider.close()
