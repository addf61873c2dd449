"""Rate control: one process-wide budget per rate key, a limiter that learns the granted rate from
throttling (down on 429s, back up when clear), fixed caps, and concurrency that grows while calls
are latency-bound, and random throttles told from a quota. Timing-based tests use loose bounds; the
learning itself is tested on a fake clock."""

from __future__ import annotations

import asyncio
import itertools
import random
import threading
import time

import pytest

from omnivec.providers import RateLimitError
from omnivec.providers._concurrency import AdaptiveLimit
from omnivec.providers._rate import Budget, RateLimits, rate_budget, reset_budgets
from omnivec.providers._retry import backoff
from omnivec.providers._translate import ErrorTable, Upstream
from omnivec.providers.settings import RetryPolicy
from omnivec.providers.testing import FakeProvider, FakeSettings


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


class RatedSettings(FakeSettings):
    rate: RateLimits = RateLimits()  # the field ProviderSettings gets (see the report)


class Timed(FakeProvider):
    """Records when each provider call starts; an optional quota throttles like a strict endpoint."""

    settings_class = RatedSettings

    def __init__(self, *, quota_rps: float | None = None, burst: float = 2.0, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.started: list[float] = []
        self.throttled = 0
        self._quota, self._burst = quota_rps, burst
        self._tokens, self._stamp = burst, time.monotonic()

    async def _embed_batch(self, batch, *, intent):  # type: ignore[no-untyped-def]
        now = time.monotonic()
        self.started.append(now)
        if self._quota is not None:
            self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._quota)
            self._stamp = now
            if self._tokens < 1:
                self.throttled += 1
                raise RateLimitError("quota")
            self._tokens -= 1
        return await super()._embed_batch(batch, intent=intent)


# --- the budget on a fake clock ---------------------------------------------------------------


def test_fixed_cap_paces_every_holder_of_the_budget() -> None:
    clock = Clock()
    budget = Budget(RateLimits(requests_per_minute=600), clock=clock)  # 10/s
    sends = []
    for _ in range(50):  # callers from anywhere book from the same budget
        wait, _ = budget.reserve()
        sends.append(clock.now + wait)
    gaps = [b - a for a, b in itertools.pairwise(sends)]
    assert min(gaps) >= 0.08 - 1e-9 and gaps[-1] == pytest.approx(0.1)  # 20 ms of burst, then 10/s
    assert sends[-1] - sends[0] == pytest.approx(4.88)


def test_tokens_per_minute_paces_by_tokens() -> None:
    clock = Clock()
    budget = Budget(RateLimits(tokens_per_minute=6000), clock=clock)  # 100 tokens/s
    waits = [budget.reserve(tokens=50)[0] for _ in range(21)]
    assert 9.4 <= waits[-1] <= 10.0  # 1,050 tokens at 100/s: ~10 s after the first call


def test_the_strictest_cap_of_a_shared_key_wins() -> None:
    loose = rate_budget(("p", "k"), RateLimits(requests_per_minute=600))
    strict = rate_budget(("p", "k"), RateLimits(requests_per_minute=60))
    assert loose is strict
    other = rate_budget(("p", "other"), RateLimits())
    assert other is not loose and other.reserve()[0] == 0.0


def feed(budget: Budget, clock: Clock, rps: float, seconds: float, *, throttled_every: int = 0) -> None:
    """Answers at ``rps`` for ``seconds``, each sent as it is answered; every ``throttled_every``-th throttled."""
    for i in range(int(rps * seconds)):
        clock.now += 1 / rps
        budget.record(clock.now, throttled=bool(throttled_every) and i % throttled_every == throttled_every - 1)


def test_limiter_learns_down_on_throttles_and_up_when_clear() -> None:
    clock = Clock()
    budget = Budget(clock=clock)
    assert budget.learned_rate is None  # off until the first throttle: nothing paces
    feed(budget, clock, 30, 0.5, throttled_every=3)  # 30/s sent into a grant of 20/s: too early to cut
    assert budget.learned_rate is None
    feed(budget, clock, 30, 0.1, throttled_every=3)  # a throttle after half a second of answers: cut
    assert budget.w_max == pytest.approx(20, rel=0.15)  # the granted rate, not the rate we sent
    assert budget.learned_rate == pytest.approx(budget.BETA * budget.w_max)
    cut = budget.learned_rate
    budget.record(clock.now - 0.01, throttled=True)  # sent before the cut: the cut already answered it
    assert budget.learned_rate == cut
    clock.now += 0.05
    feed(budget, clock, 17, 2.0)  # below the grant: no throttle, the share fell, the cut holds
    assert budget.background_share == 0 and budget.learned_rate is not None
    grown = budget.learned_rate  # back up the curve meanwhile
    for i in range(12):  # throttled again, a share clearly over that background: cut again
        clock.now += 0.05
        _, late = budget.reserve()
        budget.record(late, throttled=i % 3 == 2)
    assert budget.learned_rate < grown
    low = budget.learned_rate
    clock.now += budget.k  # CUBIC: back at the last grant after K seconds...
    assert budget.learned_rate == pytest.approx(budget.w_max, rel=0.01) and budget.learned_rate > low
    clock.now += 2.0  # ...then probing above it...
    assert budget.learned_rate > budget.w_max
    clock.now += 30.0  # ...and standing down once far past it with no throttle
    assert budget.learned_rate is None


def test_a_lone_throttle_is_no_evidence() -> None:
    clock = Clock()
    budget = Budget(clock=clock)
    feed(budget, clock, 3, 1.0)  # a trickle: 3 answers in the last second
    budget.record(clock.now, throttled=True)
    assert budget.learned_rate is None


def test_a_known_quota_seeds_the_limiter() -> None:
    clock = Clock()
    budget = Budget(RateLimits(initial_rps=50), clock=clock)
    assert budget.learned_rate == pytest.approx(50)
    waits = [budget.reserve()[0] for _ in range(11)]
    assert waits[-1] == pytest.approx(10 / 50 - budget.LEARNED_BURST_S, abs=0.001)  # 50/s after a short burst


def test_budget_is_thread_safe() -> None:
    budget = Budget(RateLimits(requests_per_minute=60_000))
    sends: list[float] = []
    lock = threading.Lock()

    def book() -> None:
        for _ in range(500):
            wait, ticket = budget.reserve()
            with lock:
                sends.append(ticket + wait)

    threads = [threading.Thread(target=book) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sends.sort()
    span = sends[-1] - sends[0]
    assert budget.sent == 2000 and span >= 1999 / 1000 - 0.03  # never two bookings on one slot


# --- through the core ---------------------------------------------------------------------------


async def test_two_providers_of_one_key_share_a_fixed_cap() -> None:
    limits = {"requests_per_minute": 1200}  # 20/s for the key, whoever calls
    a = Timed(max_batch_size=1, default_concurrency=8, rate=limits)
    b = Timed(max_batch_size=1, default_concurrency=8, rate=limits)
    assert a.rate_key() == b.rate_key()
    await asyncio.gather(
        a.embed([f"a {i}" for i in range(20)], intent="document"),
        b.embed([f"b {i}" for i in range(20)], intent="document"),
        *(a.embed([f"c {i}"], intent="query") for i in range(10)),  # concurrent calls share it too
    )
    started = sorted(a.started + b.started)
    assert len(started) == 50
    span = started[-1] - started[0]
    assert span >= 49 / 20 - 0.05  # 50 calls at 20/s combined: never faster
    for i in range(len(started) - 20):  # no 1-second window holds more than the cap plus its burst
        assert started[i + 20] - started[i] >= 0.95 - 0.02
    other = Timed(model="another-model", max_batch_size=1, default_concurrency=8)
    began = time.monotonic()
    await other.embed([f"o {i}" for i in range(40)], intent="document")
    assert time.monotonic() - began < 1.0  # another key is not paced by this one


async def test_a_strict_endpoint_is_learned_and_nothing_is_lost() -> None:
    provider = Timed(
        quota_rps=100,
        max_batch_size=1,
        default_concurrency=8,
        latency_s=0.01,
        retry={"max_attempts": 30, "initial_backoff_s": 0.01, "max_backoff_s": 0.2},
    )
    result = await provider.embed([f"t {i}" for i in range(400)], intent="document", errors="collect")
    assert result.ok
    budget = rate_budget(provider.rate_key(), RateLimits())
    assert budget.learned_rate is not None and 40 < budget.w_max < 200
    # Unpaced, 8 calls of 10 ms each would send ~800/s into a 100/s quota: most would be refused.
    assert provider.throttled < 0.3 * len(provider.started)


async def test_adaptation_off_ignores_the_learned_rate() -> None:
    learner = Timed(
        quota_rps=100,
        max_batch_size=1,
        default_concurrency=8,
        latency_s=0.005,
        retry={"max_attempts": 30, "initial_backoff_s": 0.01, "max_backoff_s": 0.1},
    )
    await learner.embed([f"t {i}" for i in range(200)], intent="document")
    assert rate_budget(learner.rate_key(), RateLimits()).learned_rate is not None
    fixed = Timed(max_batch_size=1, default_concurrency=8, adaptive_concurrency=False)
    began = time.monotonic()
    await fixed.embed([f"f {i}" for i in range(200)], intent="document")
    assert time.monotonic() - began < 1.0  # not paced at the ~100/s the other one learned


# --- concurrency that grows while latency-bound ------------------------------------------------


async def test_limit_grows_past_the_default_only_while_calls_queue_and_latency_holds() -> None:
    gate = AdaptiveLimit(4, adaptive=True, grow_to=16)
    for _ in range(4):
        await gate.acquire()
    waiter = asyncio.ensure_future(gate.acquire())  # demand beyond the limit
    await asyncio.sleep(0)
    for _ in range(32):
        gate.record(throttled=False, seconds=0.04)
    assert gate.limit == 4  # one good window is not enough: a lucky one must not grow the limit
    for _ in range(32):
        gate.record(throttled=False, seconds=0.04)
    await asyncio.sleep(0)
    assert gate.limit == 6 and gate.in_flight == 5 and waiter.done()
    for _ in range(32):  # no queue this window: nothing to gain
        gate.record(throttled=False, seconds=0.04)
    assert gate.limit == 6
    await gate.acquire()  # the sixth slot, then demand beyond it
    waiter = asyncio.ensure_future(gate.acquire())
    await asyncio.sleep(0)
    for _ in range(32):  # queued, but latency doubled: CPU-bound, more calls would not help
        gate.record(throttled=False, seconds=0.08)
    assert gate.limit == 6 and not waiter.done()
    gate.paced()  # waiting on the rate budget: not latency-bound either
    for _ in range(32):
        gate.record(throttled=False, seconds=0.04)
    assert gate.limit == 6
    for _ in range(32):  # still queued, latency back to its best...
        gate.record(throttled=False, seconds=0.04)
    for _ in range(32):
        gate.record(throttled=False, seconds=0.08)  # ...but a slow window breaks the streak
    assert gate.limit == 6
    for _ in range(64):  # two good windows in a row: grow
        gate.record(throttled=False, seconds=0.04)
    await asyncio.sleep(0)
    assert gate.limit == 9 and waiter.done()
    fixed = AdaptiveLimit(4, adaptive=True)  # max_concurrency set: grow_to is the limit itself
    assert fixed.grow_to == 4


async def test_latency_bound_calls_get_more_concurrency_than_the_default() -> None:
    provider = Timed(max_batch_size=1, default_concurrency=2, latency_s=0.01, rate={"grow_concurrency_to": 12})
    assert provider.concurrency_ceiling == 12
    await provider.embed([f"t {i}" for i in range(600)], intent="document")
    assert 2 < provider.peak_in_flight <= 12
    pinned = Timed(max_batch_size=1, default_concurrency=2, max_concurrency=2, latency_s=0.002)
    assert pinned.concurrency_ceiling == 2
    await pinned.embed([f"t {i}" for i in range(300)], intent="document")
    assert pinned.peak_in_flight == 2


# --- throttles that do not depend on the rate (issue 17) -----------------------------------------
# A steady share of random 429s must not drive the learned rate or the concurrency down, while a
# quota, alone or under such a background, is still learned. Simulated on the fake clock: a sender
# that wants `want_rps`, paced by the budget, answered at once by a token-bucket quota and/or a
# random throttle share.


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


class LogsEachCall(RandomlyThrottled):
    """RandomlyThrottled that logs every call as (item, throttled) and the peak of calls in flight."""

    def __init__(self, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.log: list[tuple[str, bool]] = []
        self.active = self.peak = 0

    async def _embed_batch(self, batch, *, intent):  # type: ignore[no-untyped-def]
        self.active += 1
        self.peak = max(self.peak, self.active)
        before = self.throttled
        try:
            return await super()._embed_batch(batch, intent=intent)
        finally:
            self.active -= 1
            self.log.append((batch[0], self.throttled > before))


async def test_a_background_throttle_gives_its_slot_to_the_next_call_while_it_sleeps() -> None:
    # Issue 17: each throttled call held its slot through its backoff sleep, so at 20% random 429 a
    # fifth of the slots idled and throughput fell to 0.6 of an unfaulted run. With one slot, holding
    # it means nothing at all runs between a throttle and that item's retry.
    provider = LogsEachCall(
        max_batch_size=1, max_concurrency=1, latency_s=0.0005, retry={"max_attempts": 30, "initial_backoff_s": 0.01}
    )
    texts = [f"t {i}" for i in range(1500)]
    result = await provider.embed(texts, intent="document", errors="collect")
    assert result.ok and provider.throttled > 200
    assert provider.peak == 1  # the limit still holds: a sleeping call is not in flight
    others_between = 0
    for at, (item, throttled) in enumerate(provider.log):
        if throttled:
            retry_at = next(j for j in range(at + 1, len(provider.log)) if provider.log[j][0] == item)
            others_between += retry_at > at + 1
    assert others_between > 50  # the background's throttles (the first ones teach the budget it)


async def test_cancelling_calls_that_sleep_off_their_slot_leaves_the_gate_balanced() -> None:
    # A call away from its slot when cancelled (in the sleep, or queued to take a slot back) must not
    # release a slot it does not hold: the gate would then let more calls in than its limit.
    provider = LogsEachCall(
        max_batch_size=1, max_concurrency=2, latency_s=0.001, retry={"max_attempts": 30, "initial_backoff_s": 0.05}
    )
    for _ in range(3):
        task = asyncio.ensure_future(provider.embed([f"t {i}" for i in range(5000)], intent="document"))
        await asyncio.sleep(0.8)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        gate = next(iter(provider._limits._by_loop.values()))
        assert gate.in_flight == 0 and not gate._waiters
    assert provider.peak <= 2 and provider.throttled > 20


class FailsFirstCalls(FakeProvider):
    """Answers 503 to the first ``failures`` calls that contain ``unlucky``; everything else succeeds.
    With ``after_a_success``, each failure waits (up to 10 s) until another call succeeded since the
    previous one: "others succeed between its failures" by construction, not by the timing of a
    loaded machine (a 0.6 ms backoff once met no success in between and the streak grew)."""

    def __init__(self, unlucky: str, failures: int, *, after_a_success: bool = False, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.unlucky, self.left, self.after_a_success, self.successes = unlucky, failures, after_a_success, 0

    async def _embed_batch(self, batch, *, intent):  # type: ignore[no-untyped-def]
        from omnivec.providers import ServiceUnavailableError

        if self.unlucky in batch and self.left > 0:
            seen, deadline = self.successes, time.monotonic() + 10
            while self.after_a_success and self.successes == seen and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.001)
            self.left -= 1
            raise ServiceUnavailableError("injected")
        output = await super()._embed_batch(batch, intent=intent)
        self.successes += 1
        return output


def _retry_delays(caplog: pytest.LogCaptureFixture) -> list[float]:
    return [r.__dict__["delay_s"] for r in caplog.records if getattr(r, "event", None) == "retry"]


def test_a_call_failing_while_others_succeed_keeps_the_first_backoff(caplog: pytest.LogCaptureFixture) -> None:
    # Issue 17: after its 6th random failure a call slept up to 0.1 * 2**5 = 3.2 s (13 s by the 8th),
    # and the job's last items waited for it. While other calls of the key succeed, each retry draws
    # from the first step again.
    caplog.set_level("INFO", logger="omnivec.calls")
    provider = FailsFirstCalls(
        "unlucky",
        6,
        after_a_success=True,
        max_batch_size=1,
        max_concurrency=4,
        latency_s=0.003,
        retry={"max_attempts": 8, "initial_backoff_s": 0.02, "max_backoff_s": 20.0},
    )
    result = provider.embed_sync(["unlucky"] + [f"text {i}" for i in range(1500)], intent="document")
    delays = _retry_delays(caplog)
    assert result.ok and len(delays) == 6
    assert max(delays) <= 0.02, delays  # the old loop: P(all six under 0.02) = 2**-15


def test_a_call_failing_alone_still_backs_off_exponentially(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="omnivec.calls")
    provider = FailsFirstCalls(
        "unlucky", 7, max_batch_size=1, retry={"max_attempts": 8, "initial_backoff_s": 0.002, "max_backoff_s": 20.0}
    )
    assert provider.embed_sync(["unlucky"], intent="document").ok
    delays = _retry_delays(caplog)
    assert len(delays) == 7 and max(delays) > 0.002, delays  # an outage: nothing succeeds, the wait grows
