"""The one retry policy (providers/_retry.py): one tenacity object per provider and reranker, built
when it is created and shared by every call, concurrent ones included (issue 19)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import tenacity

from omnivec.providers import RateLimitError, ServiceUnavailableError
from omnivec.providers._rate import reset_budgets
from omnivec.providers._retry import RATE_LIMIT_WAIT_S, hinted, with_guessed_wait
from omnivec.providers.rerank import RerankBatch, Reranker, RerankerSettings
from omnivec.providers.testing import FakeProvider
from omnivec.providers.types import Usage

FAST_RETRY = {"max_attempts": 4, "initial_backoff_s": 0.0, "max_backoff_s": 0.0}


@pytest.fixture(autouse=True)
def _fresh_rate_budgets() -> Iterator[None]:
    reset_budgets()
    yield
    reset_budgets()


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many tenacity retrying objects (of any kind) were constructed."""
    made: list[int] = []
    original = tenacity.BaseRetrying.__init__

    def counting(self: tenacity.BaseRetrying, *args: Any, **kwargs: Any) -> None:
        made.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(tenacity.BaseRetrying, "__init__", counting)
    return made


class FlakyReranker(Reranker[RerankerSettings]):
    name = "flaky"
    is_remote = False
    max_candidates = 2

    def __init__(self, *args: Any, fail_first: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.to_fail = fail_first

    async def _rerank_batch(self, query: str, candidates: Any) -> RerankBatch:
        if self.to_fail:
            self.to_fail -= 1
            raise RateLimitError("slow down", retry_after=0.0)
        return RerankBatch(scores=[float(len(c)) for c in candidates], usage=Usage())


async def test_one_retrying_object_per_provider_whatever_the_number_of_calls(built: list[int]) -> None:
    failures = [RateLimitError("slow down", retry_after=0.0), ServiceUnavailableError("503")] * 3
    provider = FakeProvider(failures=failures, retry=FAST_RETRY, max_batch_size=1, default_concurrency=4)
    assert len(built) == 1  # built with the provider
    for _ in range(3):
        await provider.embed([f"text {i}" for i in range(8)], intent="document")
    reranker = FlakyReranker("m", retry=FAST_RETRY, fail_first=3)
    result = await reranker.rerank("q", ["a", "bb", "ccc", "dddd", "eeeee"])
    assert len(built) == 2  # one more for the reranker, none per call or per retry
    assert result.retries == 3 and list(result.scores) == [1.0, 2.0, 3.0, 4.0, 5.0]


async def test_concurrent_calls_share_the_object_and_each_counts_its_own_retries() -> None:
    """Calls retried at the same time on one loop: each keeps its own attempts and retried classes."""
    failures: list[Any] = [RateLimitError("slow down", retry_after=0.0), ServiceUnavailableError("503")] * 10
    provider = FakeProvider(
        failures=failures, retry=FAST_RETRY, max_batch_size=1, default_concurrency=8, latency_s=0.01
    )
    texts = [f"text {i}" for i in range(40)]
    results = await asyncio.gather(*(provider.embed(texts[i::4], intent="document") for i in range(4)))
    assert all(r.ok for r in results)
    timings = [t for r in results for t in r.timings]
    assert sum(t.attempts - 1 for t in timings) == 20 == sum(len(t.retried) for t in timings)
    assert (
        sorted(name for t in timings for name in t.retried)
        == ["RateLimitError"] * 10 + ["ServiceUnavailableError"] * 10
    )
    assert len(provider.calls) == 60  # 40 successes and the 20 failed attempts, nothing sent twice more


def test_a_hintless_throttle_gets_the_policys_guess_and_a_hint_is_kept() -> None:
    guessed = with_guessed_wait(RateLimitError("slow down"))
    low, high = RATE_LIMIT_WAIT_S
    assert guessed.retry_after is not None and low <= guessed.retry_after <= high and not hinted(guessed)
    told = with_guessed_wait(RateLimitError("slow down", retry_after=0.25))
    assert told.retry_after == 0.25 and hinted(told)
    other = with_guessed_wait(ServiceUnavailableError("503"))
    assert not hasattr(other, "retry_after") or getattr(other, "retry_after", None) is None


async def test_a_retried_attempt_drops_its_tracebacks_and_the_final_error_keeps_its_own() -> None:
    """A retried attempt's traceback held its frames, which held the call's state, which held the
    error: cyclic garbage per failure (the collector took 2.1-2.4 s of a 31 s run at 20 % random 429)."""
    try:
        raise ValueError("the SDK's own error")
    except ValueError as sdk_error:
        cause = sdk_error
    retried = RateLimitError("slow down", retry_after=0.0)
    retried.__cause__ = cause
    provider = FakeProvider(failures=[retried], retry=FAST_RETRY, max_batch_size=1)
    result = await provider.embed(["one"], intent="document")
    assert result.ok and retried.__traceback__ is None and cause.__traceback__ is None
    last = [ServiceUnavailableError("503") for _ in range(FAST_RETRY["max_attempts"])]
    failing = FakeProvider(failures=list(last), retry=FAST_RETRY, max_batch_size=1)
    with pytest.raises(ServiceUnavailableError) as raised:
        await failing.embed(["two"], intent="document")
    assert raised.value.__traceback__ is not None  # what the caller debugs with is untouched
    assert all(e.__traceback__ is None for e in last if e is not raised.value)
