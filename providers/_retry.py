"""The one retry policy, applied by the core around each provider call (adapters never retry).

A plain loop rather than tenacity: the policy is four lines, and building tenacity's retry objects
for every provider call cost more CPU than the rest of the core's per-call work together.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from ._concurrency import AdaptiveLimit
from ._rate import Budget
from ._translate import hinted
from .errors import EmbeddingError, RateLimitError
from .settings import RetryPolicy

if TYPE_CHECKING:
    from .observability import CallObserver

__all__ = ["backoff", "call_with_retries"]

T = TypeVar("T")


def backoff(policy: RetryPolicy, attempt: int, exc: EmbeddingError, *, over_quota: bool = True) -> float:
    """Seconds to wait after failed ``attempt`` (1-based; the loop passes the failures in a row with
    no success of the rate key between them): full jitter up to
    ``initial_backoff_s · 2^(attempt−1)`` capped at ``max_backoff_s``; a throttle's ``retry_after``
    wins over a shorter draw. Where the provider gave no hint, ``retry_after`` is our own guess of
    how long a quota's bucket takes to refill (about 1 s): it holds only for a throttle the rate
    budget reads as the quota (``over_quota``). A background throttle (a steady share, whatever the
    rate) is retried on the plain backoff; waiting a second there only idles the call's slot."""
    delay = random.uniform(0.0, min(policy.max_backoff_s, policy.initial_backoff_s * 2 ** (attempt - 1)))
    if isinstance(exc, RateLimitError) and exc.retry_after and (over_quota or hinted(exc)):
        delay = max(delay, exc.retry_after)
    return delay


async def call_with_retries(
    call: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    gate: AdaptiveLimit,
    budget: Budget,
    *,
    learn: bool,
    tokens: int = 0,
    observer: CallObserver | None = None,
) -> tuple[T, float, int, tuple[str, ...]]:
    """Run ``call`` under ``policy``; returns its result, the successful attempt's seconds, the
    number of attempts and the error class names retried.

    Every attempt, retries included, books a request from the rate ``budget`` first (waiting when
    it says so) and reports its answer to the budget; the adaptive ``gate`` hears of a throttle only
    when the budget reads it as the quota (a steady background share of 429s is no reason to cut). ``learn=False``
    keeps the budget's learned rate out of it (fixed caps still hold). ``observer`` (from
    :func:`omnivec.providers.observability.observe_call`) hears of throttles, retries and the end.
    """
    retried: list[str] = []
    attempt, streak = 1, 0  # streak: failures in a row with no success of the key in between
    failed_at = -float("inf")
    while True:
        wait, ticket = budget.reserve(tokens, learned=learn)
        if wait > 0:
            gate.paced()
            await asyncio.sleep(wait)
        began = time.perf_counter()
        try:
            output = await call()
        except EmbeddingError as exc:
            throttled = isinstance(exc, RateLimitError)
            over_quota = budget.record(ticket, throttled=throttled, learn=learn)
            gate.record(throttled=over_quota)
            if observer is not None and throttled:
                observer.throttled(attempt, exc)
            if not exc.retryable or attempt >= policy.max_attempts:
                if observer is not None:
                    observer.gave_up(attempts=attempt, error=exc)
                raise
            retried.append(type(exc).__name__)
            # Our guess of a quota's refill time (no hint) only while nothing at all was granted
            # lately: otherwise the limiter spaces the retries, and waiting on top only idles the
            # call and starves the answers the grant is measured by.
            quota = over_quota and (not learn or not budget.granting)
            # The backoff grows only while nothing of this key succeeds: a call failing at random
            # while the others go through is no outage, and after its 6th failure its slot would
            # sleep 3-13 s with the job's last items waiting for it (issue 17: 0.65 of the grant).
            now = budget.clock()
            streak = 1 if budget.last_success > failed_at else streak + 1
            failed_at = now
            delay = backoff(policy, streak, exc, over_quota=quota)
            if observer is not None:
                observer.retrying(attempt, delay, exc)
            await asyncio.sleep(delay)
            attempt += 1
            continue
        elapsed = time.perf_counter() - began
        budget.last_success = budget.clock()
        gate.record(throttled=False, seconds=elapsed)
        budget.record(ticket, throttled=False, learn=learn)
        if observer is not None:
            observer.succeeded(
                attempts=attempt, input_tokens=getattr(getattr(output, "usage", None), "input_tokens", None)
            )
        return output, elapsed, attempt, tuple(retried)
