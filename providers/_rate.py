"""Process-wide request budgets: a client-side rate limiter that learns the rate a provider grants.

The idea is botocore's ``adaptive`` retry mode (a CUBIC-style token bucket), with three changes
that matter for embedding jobs:

* one budget per **rate key** (provider + credentials + region, from
  :meth:`EmbeddingProvider.rate_key`), shared by every call, provider instance, thread and event
  loop of the process, because the provider's quota is per account, not per client object;
* on a throttle the learned rate starts from the rate the provider **granted** (answers that were
  not throttled, over the last second), not from the rate we sent: under overload the granted rate
  *is* the quota, so there is no cold collapse to 0.5 req/s;
* one cut per episode: a throttle answering a request sent before the new rate took hold does not
  cut again (the cut already answered it), so a burst of 429s is one decrease, not ten;
* a throttle is evidence of a quota only while the share of answers throttled is clearly above the
  **background** share, measured below the grant after each cut (:mod:`._background`): a steady
  share of random 429s would otherwise cut for ever (issue 17).

Between throttles the rate grows on the CUBIC curve ``C·(t−K)³ + w_max`` (back at the granted rate
after ``K`` seconds, then probing above it); once it passes twice the granted rate without a new
throttle the limiter stands down until the next one. Fixed caps (requests/min, tokens/min) from
:class:`RateLimits` hold on top. Pacing is a reservation (GCRA): :meth:`Budget.reserve` returns how
long to wait, so it costs one lock and no wake-ups while nothing limits.
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ._background import Background, Check

__all__ = [
    "CHARS_PER_TOKEN",
    "Budget",
    "RateLimits",
    "estimate_tokens",
    "rate_budget",
    "reset_budgets",
    "tokens_for_chars",
]


class RateLimits(BaseModel):
    """How fast one rate key may call its provider. Set as ``rate`` on any provider's settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requests_per_minute: float | None = Field(None, gt=0)
    """Fixed cap on requests (retries included) per minute, shared by everything with the same key."""
    tokens_per_minute: float | None = Field(None, gt=0)
    """Fixed cap on input tokens per minute (estimated before the call as characters / 4)."""
    learn: bool = True
    """Learn the granted rate from throttling (needs ``adaptive_concurrency``, which also gates it)."""
    initial_rps: float | None = Field(None, gt=0)
    """Seed for the learned rate (requests/s), e.g. a known quota: skips the first throttles."""
    grow_concurrency_to: int = Field(64, ge=1)
    """Calls in flight the default concurrency may grow to while calls are latency-bound and nothing
    is throttled. Ignored when ``max_concurrency`` is set: that is a fixed limit."""


CHARS_PER_TOKEN = 4
"""The one estimate of tokens before a call: about four characters of text per token."""


def tokens_for_chars(chars: int) -> float:
    """Estimated input tokens of ``chars`` characters of text (rate budgets, cost caps, dry runs)."""
    return chars / CHARS_PER_TOKEN


def estimate_tokens(batch: Sequence[Any]) -> int:
    """Input tokens of a batch before the call: characters / 4 for text, 258 per image or media part."""
    return sum(int(tokens_for_chars(len(item))) + 1 if isinstance(item, str) else 258 for item in batch)


class _Pacer:
    """Generic cell rate algorithm: ``rate`` units per second with ``burst_s`` seconds of tolerance."""

    __slots__ = ("burst_s", "rate", "tat")

    def __init__(self, rate: float, burst_s: float = 0.02) -> None:
        self.rate, self.burst_s, self.tat = rate, burst_s, 0.0

    def earliest(self, now: float, units: float) -> float:
        tolerance = max(self.burst_s, (units - 1) / self.rate)  # one request always fits
        return max(now, self.tat - tolerance)

    def take(self, at: float, units: float) -> None:
        self.tat = max(self.tat, at) + units / self.rate


class Budget:
    """The learned rate and the fixed caps of one rate key. Thread-safe; every method is cheap."""

    C, BETA = 0.4, 0.85
    """CUBIC growth scale (botocore's) and the multiplicative cut. botocore cuts to 0.7 of the rate it
    *sent*; the rate we cut from is already the granted one, so a gentler cut keeps more throughput
    for the same share of throttles (measured: benchmarks/perf/throughput.py)."""
    LEARNED_BURST_S = 0.05
    """Sends the learned pacer lets through early: absorbs a busy event loop waking late, and stays
    under the burst a provider's bucket allows (a fixed cap's pacer allows 20 ms)."""
    WINDOW_S, RECENT_S, MIN_SAMPLES, MIN_RATE = 1.0, 0.5, 10, 0.5
    """Fewer answers than ``MIN_SAMPLES`` in the last ``WINDOW_S`` are no evidence of a quota. The
    granted rate is read over ``RECENT_S``: 0.3 s read a client's ramp-up as a low grant now and then,
    and the first cut then crawled back for seconds."""
    CHECK_N, CHECK_S = 60, 0.5
    """A cut is checked on the answers to at least ``CHECK_N`` requests sent at the new rate over at
    least ``CHECK_S``. 30 answers could not tell a 10% background from a quota: one unlucky check read
    it as 20% and blinded the quota test, or as 3% and cut for every background 429 (issue 17; the
    model in benchmarks/perf/rate_model.py measures the spread over 120 seeds)."""

    def __init__(self, limits: RateLimits | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._ok: deque[float] = deque()
        self._throttles: deque[float] = deque()  # times of throttled answers, over the same window
        self._learned: _Pacer | None = None
        self._background = Background()
        self._check: Check | None = None  # the last cut, until its check is done
        self._first_answer: float | None = None
        self.w_max = self.k = 0.0
        self.last_cut = self.quiet_until = -math.inf
        self.sent = self.throttled = 0
        self.last_success = -math.inf
        """When a call of this key last succeeded (set by the retry loop): a failure while other calls
        succeed says nothing about the failing call, so its backoff need not grow."""
        self._rpm: _Pacer | None = None
        self._tpm: _Pacer | None = None
        self.configure(limits or RateLimits())

    def configure(self, limits: RateLimits) -> None:
        """Apply a provider's limits; where providers sharing a key disagree, the strictest cap wins."""
        with self._lock:
            for attr, per_min in (("_rpm", limits.requests_per_minute), ("_tpm", limits.tokens_per_minute)):
                pacer = getattr(self, attr)
                if per_min is not None and (pacer is None or per_min / 60 < pacer.rate):
                    setattr(self, attr, _Pacer(per_min / 60, burst_s=0.02 if attr == "_rpm" else 0.2))
            if limits.initial_rps is not None and self._learned is None and limits.learn:
                now = self.clock()  # as if the curve were back at the known grant: pace there, probe above
                pacer = self._cut(now, limits.initial_rps)
                self.last_cut = now - self.k
                pacer.rate, pacer.tat = limits.initial_rps, now
                self.quiet_until = now

    @property
    def learned_rate(self) -> float | None:
        """Requests/s the learned limiter allows now; None while it stands down."""
        with self._lock:
            return self._current(self.clock())

    def _current(self, now: float) -> float | None:
        if self._learned is None:
            return None
        rate = self.C * (now - self.last_cut - self.k) ** 3 + self.w_max
        if rate > 2 * self.w_max:  # well past the last grant without a throttle: stand down
            self._learned = None
            return None
        self._learned.rate = max(rate, self.MIN_RATE)
        return self._learned.rate

    def reserve(self, tokens: int = 0, *, learned: bool = True) -> tuple[float, float]:
        """Book the next request: returns (seconds to wait before sending, ticket for :meth:`record`:
        the booked send time).

        ``learned=False`` (a provider with adaptation off) paces by the fixed caps only."""
        with self._lock:
            now = self.clock()
            self.sent += 1
            pacers = [(p, 1.0) for p in (self._rpm,) if p is not None]
            if self._tpm is not None and tokens:
                pacers.append((self._tpm, float(tokens)))
            if learned and self._current(now) is not None:
                pacers.append((self._learned, 1.0))  # type: ignore[arg-type]
            if not pacers:
                return 0.0, now
            at = max(p.earliest(now, units) for p, units in pacers)
            for pacer, units in pacers:
                pacer.take(at, units)
            return at - now, at

    def delay(self) -> float:
        """Seconds the next :meth:`reserve` would wait, booking nothing (an endpoint pool routes by it)."""
        with self._lock:
            now = self.clock()
            pacers = [p for p in (self._rpm,) if p is not None]
            if self._current(now) is not None:
                pacers.append(self._learned)  # type: ignore[arg-type]
            return max((p.earliest(now, 1.0) - now for p in pacers), default=0.0)

    def record(self, ticket: float, *, throttled: bool, learn: bool = True) -> bool:
        """Feedback from one answer (every attempt, retries included); ``learn=False`` only counts it.

        Returns whether the answer is evidence of sending over a quota: a throttle while the share of
        throttled answers is above the background share, or any throttle while no background is
        known. Other throttles are background noise: the caller should neither cut its concurrency
        nor wait as if the quota's bucket were empty."""
        with self._lock:
            now = self.clock()
            ok, throttles = self._ok, self._throttles
            for times in (ok, throttles):
                while times and times[0] < now - self.WINDOW_S:
                    times.popleft()
            (throttles if throttled else ok).append(now)
            if self._first_answer is None:
                self._first_answer = now
            if self._check is not None and ticket >= self._check.sent_from:
                self._check_answer(now, throttled)
            if not throttled:
                return False
            self.throttled += 1
            over = self._background.over(*self._window())
            if not learn or not over or self._check is not None or ticket < self.quiet_until or self._young(now):
                return over  # not news, still checking the last cut, or too few answers to know the grant
            granted = self._granted(now)
            current = self._current(now)  # paced at `current` and throttled: the grant is just below it
            before, window = (self._learned, self.w_max, self.k, self.last_cut), self._window()
            self._cut(now, granted if current is None else min(current, 2 * granted))
            self._check = Check(before, window, began=now, sent_from=self.quiet_until)
            return True

    @property
    def granting(self) -> bool:
        """Whether any answer in the last ``WINDOW_S`` was not throttled."""
        with self._lock:
            ok, now = self._ok, self.clock()
            return bool(ok) and ok[-1] >= now - self.WINDOW_S

    def _young(self, now: float) -> bool:
        """Too few answers to know the grant: under ``MIN_SAMPLES`` in the window, or answers for less
        than a window (a client's first calls are slow, then come back in a clump: the rate of answers
        then understates the grant, and a cut to it would crawl back for seconds)."""
        return len(self._ok) < self.MIN_SAMPLES or now - self._first_answer < self.CHECK_S  # type: ignore[operator]

    def _window(self) -> tuple[int, int]:
        """(answers, throttled) over the last ``WINDOW_S``."""
        return len(self._ok) + len(self._throttles), len(self._throttles)

    @property
    def background_share(self) -> float | None:
        """Share of answers throttled while sending below the grant; None until a cut was checked."""
        return self._background.share

    def _check_answer(self, now: float, throttled: bool) -> None:
        """One answer to a request sent after the last cut took hold; ends the check once it has enough."""
        check = self._check
        assert check is not None
        check.answers += 1
        check.throttled += throttled
        elapsed = now - check.began
        if elapsed < self.CHECK_S or check.answers < (self.CHECK_N if elapsed < self.WINDOW_S else self.MIN_SAMPLES):
            return  # (a cut to a few requests/s is checked on what a window brings)
        self._check = None
        if self._background.add(check):
            self._learned, self.w_max, self.k, self.last_cut = check.before

    def _granted(self, now: float) -> float:
        """Answers/s that were not throttled, over the last ``RECENT_S`` (at least ``MIN_SAMPLES``
        answers): recent, because while the load ramps up the older part of the window undercounts."""
        ok, cutoff = self._ok, now - self.RECENT_S
        m = max(self.MIN_SAMPLES, len(ok) - bisect.bisect_left(ok, cutoff))
        return (m - 1) / max(now - ok[-m], 0.05)

    def _cut(self, now: float, w_max: float) -> _Pacer:
        backlog = self._learned.tat if self._learned is not None else now  # sends booked at the old rate
        self.w_max = max(w_max, self.MIN_RATE)
        self.k = (self.w_max * (1 - self.BETA) / self.C) ** (1 / 3)
        self.last_cut = now
        pacer = self._learned = _Pacer(max(self.BETA * self.w_max, self.MIN_RATE), self.LEARNED_BURST_S)
        # The provider's bucket is empty now: the first send at the new rate waits one full interval,
        # and only throttles of sends from then on are news (earlier ones the cut already answered).
        pacer.tat = max(backlog, now) + 1 / pacer.rate + pacer.burst_s
        self.quiet_until = pacer.tat - pacer.burst_s
        return pacer

    def settle(self, estimated: int, actual: int | None) -> None:
        """Correct the tokens/min cap once the provider reported the call's real token count."""
        if self._tpm is not None and actual is not None and actual != estimated:
            with self._lock:
                self._tpm.tat += (actual - estimated) / self._tpm.rate

    def snapshot(self) -> dict[str, float | int | None]:
        """Current state, for metrics and benchmark output."""
        rate = self.learned_rate
        return {
            "learned_rps": rate,
            "w_max": self.w_max,
            "sent": self.sent,
            "throttled": self.throttled,
            "background": self.background_share,
        }


_budgets: dict[Hashable, Budget] = {}
_budgets_lock = threading.Lock()


def rate_budget(key: Hashable, limits: RateLimits) -> Budget:
    """The process-wide budget of ``key``, created on first use; ``limits`` are merged in."""
    with _budgets_lock:
        budget = _budgets.get(key)
        if budget is None:
            budget = _budgets[key] = Budget()
    budget.configure(limits)
    return budget


def reset_budgets() -> None:
    """Forget every learned rate and cap (tests; a process that changed accounts)."""
    with _budgets_lock:
        _budgets.clear()
