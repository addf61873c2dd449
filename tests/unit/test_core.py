"""The core's batching, concurrency, retry and error contract, exercised through FakeProvider."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import numpy as np
import pytest

from omnivec.providers import (
    AuthenticationError,
    BatchOutput,
    EmbeddingProvider,
    InvalidRequestError,
    RateLimitError,
    RemoteCallsBlockedError,
    ServiceUnavailableError,
    UnexpectedResponseError,
)
from omnivec.providers._rate import reset_budgets
from omnivec.providers.testing import FakeProvider, allow_remote_calls


@pytest.fixture(autouse=True)
def _fresh_rate_budgets():  # type: ignore[no-untyped-def]
    # Learned rates are process-wide by design (one per rate key): tests must not inherit them.
    reset_budgets()
    yield
    reset_budgets()


FAST_RETRY = {"max_attempts": 4, "initial_backoff_s": 0.0, "max_backoff_s": 0.0}


def texts(n: int) -> list[str]:
    return [f"document number {i} about topic {i % 7}" for i in range(n)]


async def test_order_is_preserved_across_chunks_and_concurrency() -> None:
    provider = FakeProvider(max_batch_size=7, default_concurrency=5, latency_s=0.001)
    items = texts(100)
    result = await provider.embed(items, intent="document")
    expected = np.stack([provider.embed_one(t, "document") for t in items])
    np.testing.assert_array_equal(result.vectors, expected)
    assert [len(batch) for batch, _ in provider.calls] == [7] * 14 + [2]
    assert [t.first_index for t in result.timings] == list(range(0, 100, 7))
    assert result.usage.requests == 15


async def test_calls_finishing_out_of_order_still_land_in_order() -> None:
    class Jittery(FakeProvider):
        async def _embed_batch(self, batch: Sequence[object], *, intent):  # type: ignore[no-untyped-def]
            await asyncio.sleep(0.02 if "0" in str(batch[0])[-1] else 0.0)  # first chunks finish last
            return await super()._embed_batch(batch, intent=intent)  # type: ignore[arg-type]

    provider = Jittery(max_batch_size=1, default_concurrency=10)
    items = [f"item {i}" for i in range(30)]
    result = await provider.embed(items, intent="document")
    for i, item in enumerate(items):
        np.testing.assert_array_equal(result.vectors[i], provider.embed_one(item, "document"))


@pytest.mark.parametrize(("limit", "setting"), [(1, None), (3, None), (2, 2), (5, 5)])
async def test_concurrency_is_bounded(limit: int, setting: int | None) -> None:
    provider = FakeProvider(
        max_batch_size=1, default_concurrency=limit if setting is None else 50, max_concurrency=setting, latency_s=0.01
    )
    await provider.embed(texts(20), intent="document")
    assert provider.peak_in_flight == limit


async def test_batch_result_equals_single_results() -> None:
    provider = FakeProvider(max_batch_size=4)
    items = texts(9)
    batch = await provider.embed(items, intent="query")
    singles = [await provider.embed(item, intent="query") for item in items]
    np.testing.assert_array_equal(batch.vectors, np.concatenate([s.vectors for s in singles]))


async def test_query_and_document_intents_differ() -> None:
    provider = FakeProvider()
    q = await provider.embed_query("what is omnivec")
    d = await provider.embed_documents("what is omnivec")
    assert not np.allclose(q.vectors, d.vectors)
    assert q.fingerprint.hash != d.fingerprint.hash
    assert q.fingerprint.intent == "query" and d.fingerprint.intent == "document"


async def test_retryable_errors_are_retried_and_counted() -> None:
    failures = [RateLimitError("slow down", retry_after=0.0), ServiceUnavailableError("503"), None]
    provider = FakeProvider(failures=failures, retry=FAST_RETRY)
    result = await provider.embed(["a b"], intent="document")
    assert len(provider.calls) == 3
    assert result.retries == 2 and result.timings[0].attempts == 3
    assert result.timings[0].retried == ("RateLimitError", "ServiceUnavailableError")


@pytest.mark.parametrize("error", [InvalidRequestError("bad"), AuthenticationError("denied")])
async def test_non_retryable_errors_are_not_retried(error: Exception) -> None:
    provider = FakeProvider(failures=[error], retry=FAST_RETRY)
    with pytest.raises(type(error)):
        await provider.embed(["a"], intent="document")
    assert len(provider.calls) == 1


async def test_retries_are_bounded() -> None:
    provider = FakeProvider(failures=[ServiceUnavailableError("down")] * 10, retry=FAST_RETRY)
    with pytest.raises(ServiceUnavailableError):
        await provider.embed(["a"], intent="document")
    assert len(provider.calls) == FAST_RETRY["max_attempts"]


async def test_retry_after_is_honoured() -> None:
    provider = FakeProvider(failures=[RateLimitError("wait", retry_after=0.3)], retry=FAST_RETRY)
    loop = asyncio.get_running_loop()
    began = loop.time()
    await provider.embed(["a"], intent="document")
    assert loop.time() - began >= 0.29


async def test_first_error_is_raised_as_is_never_an_exception_group() -> None:
    provider = FakeProvider(
        max_batch_size=1,
        default_concurrency=4,
        latency_s=0.01,
        fail_items={"item 5": AuthenticationError("denied"), "item 6": InvalidRequestError("bad")},
    )
    with pytest.raises(AuthenticationError) as info:
        await provider.embed([f"item {i}" for i in range(40)], intent="document")
    assert not isinstance(info.value, BaseExceptionGroup)
    assert len(provider.calls) < 40  # the rest was cancelled


async def test_collect_mode_reports_failures_by_index() -> None:
    provider = FakeProvider(max_batch_size=2, fail_items={"item 3": InvalidRequestError("bad")})
    items = [f"item {i}" for i in range(6)]
    result = await provider.embed(items, intent="document", errors="collect")
    assert sorted(result.failures) == [2, 3]  # the whole failed call: items 2 and 3
    assert np.isnan(result.vectors[[2, 3]]).all()
    assert not np.isnan(result.vectors[[0, 1, 4, 5]]).any()
    assert not result.ok


async def test_wrong_vector_count_is_an_unexpected_response() -> None:
    class Lossy(FakeProvider):
        async def _embed_batch(self, batch, *, intent):  # type: ignore[no-untyped-def]
            out = await super()._embed_batch(batch, intent=intent)
            return BatchOutput(vectors=np.asarray(out.vectors)[:-1])

    with pytest.raises(UnexpectedResponseError, match="expected 3 vectors"):
        await Lossy().embed(["a", "b", "c"], intent="document")
    collected = await Lossy(max_batch_size=2).embed(["a", "b", "c"], intent="document", errors="collect")
    assert sorted(collected.failures) == [0, 1, 2]  # a short answer never leaves rows silently empty


async def test_core_normalizes_when_asked_and_provider_does_not() -> None:
    class Unnormalized(FakeProvider):
        @property
        def capabilities(self):  # type: ignore[no-untyped-def]
            from dataclasses import replace

            return replace(super().capabilities, normalized=False)

        async def _embed_batch(self, batch, *, intent):  # type: ignore[no-untyped-def]
            out = await super()._embed_batch(batch, intent=intent)
            return BatchOutput(vectors=np.asarray(out.vectors) * 3.0)

    raw = await Unnormalized().embed(["a b c"], intent="document")
    assert np.linalg.norm(raw.vectors[0]) == pytest.approx(3.0)
    unit = await Unnormalized(normalize=True).embed(["a b c"], intent="document")
    assert np.linalg.norm(unit.vectors[0]) == pytest.approx(1.0)
    assert unit.fingerprint.normalized and not raw.fingerprint.normalized


async def test_remote_calls_are_blocked_in_tests_unless_allowed() -> None:
    provider = FakeProvider(remote=True)
    with pytest.raises(RemoteCallsBlockedError):
        await provider.embed(["a"], intent="document")
    assert provider.calls == []
    with allow_remote_calls():
        assert len(await provider.embed(["a"], intent="document")) == 1


def test_sync_twins_match_async_and_work_inside_a_running_loop() -> None:
    provider = FakeProvider()
    sync = provider.embed_documents_sync(["a", "b"])
    direct = asyncio.run(provider.embed_documents(["a", "b"]))
    np.testing.assert_array_equal(sync.vectors, direct.vectors)

    async def inside_loop() -> np.ndarray:
        return provider.embed_query_sync(["a"]).vectors  # e.g. a notebook cell

    assert asyncio.run(inside_loop()).shape == (1, 64)


def test_progress_callback_counts_every_input() -> None:
    done: list[int] = []
    FakeProvider(max_batch_size=3).embed_sync(texts(10), intent="document", progress=done.append)
    assert sum(done) == 10 and len(done) == 4


def test_fingerprint_is_stable_and_sensitive() -> None:
    a = FakeProvider(default_dimensions=32).fingerprint("query")
    assert a.hash == FakeProvider(default_dimensions=32).fingerprint("query").hash
    assert len(a.hash) == 16
    assert a.hash != FakeProvider(default_dimensions=16).fingerprint("query").hash
    assert a.hash != FakeProvider(default_dimensions=32, query_prefix="q: ").fingerprint("query").hash


def test_sync_and_async_signatures_match() -> None:
    import inspect

    for name in ("embed", "embed_query", "embed_documents"):
        async_sig = inspect.signature(getattr(EmbeddingProvider, name))
        sync_sig = inspect.signature(getattr(EmbeddingProvider, f"{name}_sync"))
        assert list(async_sig.parameters)[:2] == list(sync_sig.parameters)[:2], name


class Quota(FakeProvider):
    """Throttles any call beyond 2 in flight, like a provider's concurrency quota."""

    def __init__(self, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.throttled = 0

    async def _embed_batch(self, batch, *, intent):  # type: ignore[no-untyped-def]
        if self.in_flight >= 2:
            self.throttled += 1
            raise RateLimitError("quota")
        return await super()._embed_batch(batch, intent=intent)


async def test_adaptive_concurrency_backs_off_under_throttling() -> None:
    retry = {"max_attempts": 30, "initial_backoff_s": 0.001, "max_backoff_s": 0.005}
    runs = {}
    for adaptive in (True, False):
        provider = Quota(
            max_batch_size=1, default_concurrency=16, latency_s=0.005, retry=retry, adaptive_concurrency=adaptive
        )
        result = await provider.embed(texts(200), intent="document", errors="collect")
        runs[adaptive] = (provider.throttled, len(result.failures))
    assert runs[True][1] == 0  # settles near the quota: nothing lost
    assert runs[True][0] * 3 < runs[False][0]  # and far fewer throttled calls than hammering at 16


async def test_adaptive_limit_climbs_back_without_throttling() -> None:
    from omnivec.providers._concurrency import AdaptiveLimit

    gate = AdaptiveLimit(8, adaptive=True)
    for _ in range(8):
        gate.record(throttled=True)
    assert gate.limit == 6
    for _ in range(60):
        gate.record(throttled=False)
    assert gate.limit == 8
    plain = AdaptiveLimit(8, adaptive=False)
    for _ in range(50):
        plain.record(throttled=True)
    assert plain.limit == 8
