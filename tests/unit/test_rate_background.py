"""Throttles that do not depend on the rate (issue 17): a steady share of random 429s must not drive
the learned rate or the concurrency down, while a quota, alone or under such a background, is still
learned. Simulated on a fake clock: a sender that wants ``want_rps``, paced by the budget, answered
at once by a token-bucket quota and/or a random throttle share."""

from __future__ import annotations

import random

import pytest

from omnivec.providers import RateLimitError
from omnivec.providers._rate import Budget, RateLimits, rate_budget, reset_budgets
from omnivec.providers._retry import backoff
from omnivec.providers._translate import ErrorTable, Upstream
from omnivec.providers.settings import RetryPolicy
from omnivec.providers.testing import FakeProvider


@pytest.fixture(autouse=True)
def _fresh_rate_budgets():  # type: ignore[no-untyped-def]
    reset_budgets()
    yield
    reset_budgets()


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def simulate(
    budget: Budget,
    clock: Clock,
    *,
    want_rps: float,
    seconds: float,
    quota_rps: float | None = None,
    background: float = 0.0,
    seed: int = 1,
) -> list[tuple[float, bool, bool, bool]]:
    """(send time, throttled by the quota, throttled at random, budget's verdict) per request."""
    rng = random.Random(seed)
    burst = max(1.0, (quota_rps or 0) / 10)  # the emulator's bucket: 100 ms of grant
    tokens, stamp, end, sends = burst, clock.now, clock.now + seconds, []
    while clock.now < end:
        clock.now += 1 / want_rps
        wait, ticket = budget.reserve()
        clock.now += wait
        by_quota = False
        if quota_rps is not None:
            tokens = min(burst, tokens + (clock.now - stamp) * quota_rps)
            stamp = clock.now
            by_quota = tokens < 1
            tokens -= 0 if by_quota else 1
        at_random = not by_quota and rng.random() < background
        over = budget.record(ticket, throttled=by_quota or at_random)
        sends.append((clock.now, by_quota, at_random, over))
    return sends


def last(sends: list[tuple[float, bool, bool, bool]], seconds: float) -> list[tuple[float, bool, bool, bool]]:
    return [s for s in sends if s[0] >= sends[-1][0] - seconds]


def test_random_throttles_leave_the_rate_alone() -> None:
    clock = Clock()
    budget = Budget(clock=clock)
    sends = simulate(budget, clock, want_rps=200, seconds=20, background=0.2)
    tail = last(sends, 10)
    assert len(tail) >= 0.95 * 200 * 10  # the old limiter cut at every 429: ~30/s after 20 s
    assert budget.learned_rate is None  # the first cut was checked and undone
    assert budget.background_share == pytest.approx(0.2, abs=0.1)
    random_throttles = [s for s in tail if s[2]]
    assert random_throttles and not any(s[3] for s in random_throttles)  # none read as the quota


def test_a_quota_under_random_throttles_is_still_learned() -> None:
    clock = Clock()
    budget = Budget(clock=clock)
    sends = simulate(budget, clock, want_rps=400, seconds=30, quota_rps=100, background=0.1)
    tail = last(sends, 15)
    rate = len(tail) / 15
    assert 85 <= rate <= 130, rate  # paced near the grant: unpaced it would send 400/s
    assert sum(s[1] for s in tail) <= 0.15 * len(tail)  # few sends over the quota
    assert budget.background_share == pytest.approx(0.1, abs=0.07)


def test_a_quota_alone_is_paced_below_it() -> None:
    clock = Clock()
    budget = Budget(clock=clock)
    sends = simulate(budget, clock, want_rps=400, seconds=30, quota_rps=100)
    tail = last(sends, 15)
    assert 85 <= len(tail) / 15 <= 110
    assert sum(s[1] for s in tail) <= 0.05 * len(tail)  # issue 11's bar: ≤ 5 % throttled at steady state
    assert all(s[3] for s in tail if s[1])  # every quota throttle is read as one


def test_background_throttles_are_retried_on_the_plain_backoff() -> None:
    table = ErrorTable(
        codes={"Throttled": RateLimitError}, api_errors={KeyError: lambda e: Upstream("Throttled", 429, "x")}
    )
    guessed = table.translate(KeyError(), provider="p", model="m")
    assert isinstance(guessed, RateLimitError) and guessed.retry_after is not None and guessed.retry_after >= 0.5
    policy = RetryPolicy(initial_backoff_s=0.1)
    assert max(backoff(policy, 1, guessed, over_quota=False) for _ in range(50)) <= 0.1  # not our 1 s guess
    assert min(backoff(policy, 1, guessed, over_quota=True) for _ in range(50)) >= 0.5
    hinted = RateLimitError("slow down", retry_after=2.0)  # the provider's own hint always holds
    assert backoff(policy, 1, hinted, over_quota=False) == 2.0


class RandomlyThrottled(FakeProvider):
    """Throttles a fixed share of calls at random, whatever the rate."""

    def __init__(self, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self._rng = random.Random(3)
        self.throttled = 0

    async def _embed_batch(self, batch, *, intent):  # type: ignore[no-untyped-def]
        if self._rng.random() < 0.2:
            self.throttled += 1
            raise RateLimitError("busy")  # no hint
        return await super()._embed_batch(batch, intent=intent)


async def test_random_throttles_cut_neither_rate_nor_concurrency_through_the_core() -> None:
    provider = RandomlyThrottled(max_batch_size=1, default_concurrency=4, latency_s=0.002, retry={"max_attempts": 30})
    result = await provider.embed([f"t {i}" for i in range(2500)], intent="document", errors="collect")
    assert result.ok and provider.throttled > 400
    budget = rate_budget(provider.rate_key(), RateLimits())
    assert budget.learned_rate is None and budget.background_share is not None  # checked, then undone
    gate = next(iter(provider._limits._by_loop.values()))
    assert gate.limit >= 4  # not cut below its start
