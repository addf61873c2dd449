"""The one retry policy: which errors are retried, how often, how long to wait, and the wait a 429
without a hint gets. Every retry in omnivec goes through here (adapters and SDKs never retry).

Expressed with tenacity: each provider and reranker builds ONE :class:`Retrier` from its
:class:`~omnivec.providers.settings.RetryPolicy` when it is created, and every call reuses it.
tenacity's stop, retry, wait and before-sleep strategies and its decision machine (``iter``: attempt,
sleep, or give up) decide everything; the Retrier only awaits what they decide. What differs per
call (the rate budget, the concurrency gate, the observer, whether the last throttle was read as the
quota) travels in a small per-call object that tenacity passes back to the hooks, so the shared
object holds no call's state.

Why not tenacity's ``AsyncRetrying``: it inspects every hook (``inspect.iscoroutinefunction``) on
every attempt, ~110 µs of CPU per call, more than the rest of the core's per-call work (measured:
FakeProvider, one item per call, 87 µs per call with a plain loop); building tenacity objects per call
cost even more. The synchronous machine with plain-function hooks costs a few µs, and never yields to
the event loop while deciding, which is what makes one object safe for every concurrent call on a
loop (tenacity keeps its iteration state per thread).
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from tenacity import DoAttempt, DoSleep, RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from .errors import EmbeddingError, RateLimitError
from .settings import RetryPolicy

if TYPE_CHECKING:
    from ._concurrency import AdaptiveLimit
    from ._rate import Budget
    from .observability import CallObserver

__all__ = ["RATE_LIMIT_WAIT_S", "Retrier", "backoff", "hinted", "with_guessed_wait"]

T = TypeVar("T")
E = TypeVar("E", bound=EmbeddingError)

RATE_LIMIT_WAIT_S = (0.5, 1.5)
"""Wait before retrying a throttled call when the provider gave no hint, drawn uniformly from this
range: botocore's throttling backoff is on a 1-second scale and retrying after tens of milliseconds
only earns another 429; the spread keeps a burst of throttled calls from coming back in step."""

_GUESSED = "_omnivec_guessed_wait"


def with_guessed_wait(error: E) -> E:
    """A throttle that came without a hint gets our guess of a quota's refill time as its
    ``retry_after`` (see :data:`RATE_LIMIT_WAIT_S`), marked as a guess; anything else is returned as is.
    Every SDK boundary (error tables, rerank adapters) calls this on the error it built."""
    if isinstance(error, RateLimitError) and error.retry_after is None:
        low, high = RATE_LIMIT_WAIT_S
        error.retry_after = random.uniform(low, high)
        error.__dict__[_GUESSED] = True
    return error


def hinted(error: RateLimitError) -> bool:
    """Whether the throttle's ``retry_after`` is the provider's own hint, not our guess (the policy
    keeps the guess only for throttles the rate budget reads as the quota)."""
    return not error.__dict__.get(_GUESSED, False)


def backoff(policy: RetryPolicy, attempt: int, exc: BaseException, *, over_quota: bool = True) -> float:
    """Seconds to wait after failed ``attempt`` (1-based; a metered call passes the failures in a row
    with no success of the rate key between them): full jitter up to
    ``initial_backoff_s · 2^(attempt−1)`` capped at ``max_backoff_s``; a throttle's ``retry_after``
    wins over a shorter draw. Where the provider gave no hint, ``retry_after`` is our own guess of
    how long a quota's bucket takes to refill (about 1 s): it holds only for a throttle the rate
    budget reads as the quota (``over_quota``). A background throttle (a steady share, whatever the
    rate) is retried on the plain backoff; waiting a second there only idles the call's slot."""
    delay = random.uniform(0.0, min(policy.max_backoff_s, policy.initial_backoff_s * 2 ** (attempt - 1)))
    if isinstance(exc, RateLimitError) and exc.retry_after and (over_quota or hinted(exc)):
        delay = max(delay, exc.retry_after)
    return delay


class _Call(Generic[T]):
    """One call through the policy: what its attempts need, and what they leave for the hooks."""

    __slots__ = (
        "attempt",
        "budget",
        "call",
        "failed_at",
        "gate",
        "last_error",
        "learn",
        "observer",
        "quota",
        "retried",
        "seconds",
        "streak",
        "tokens",
    )

    def __init__(
        self,
        call: Callable[[], Awaitable[T]],
        gate: AdaptiveLimit | None,
        budget: Budget | None,
        learn: bool,
        tokens: int,
        observer: CallObserver | None,
    ) -> None:
        self.call, self.gate, self.budget, self.learn = call, gate, budget, learn
        self.tokens, self.observer = tokens, observer
        self.attempt, self.seconds, self.quota = 0, 0.0, True
        self.last_error: BaseException | None = None
        self.retried: list[str] = []
        self.streak, self.failed_at = 0, -float("inf")  # failures in a row with no success of the key between


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, EmbeddingError) and exc.retryable


class Retrier:
    """A :class:`RetryPolicy` as one tenacity ``Retrying``, built once per provider or reranker."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self._retrying = Retrying(
            stop=stop_after_attempt(policy.max_attempts),
            retry=retry_if_exception(_retryable),
            wait=self._wait,
            before_sleep=self._before_sleep,
            reraise=True,  # the provider's own typed error, never tenacity's RetryError
        )

    async def _run(self, attempt: Callable[[_Call[T]], Awaitable[T]], run: _Call[T]) -> T:
        """tenacity's ``Retrying.__call__``, awaiting the attempts and the sleeps it decides.

        The first attempt runs before tenacity is asked: with no before-hook and a retry predicate on
        exceptions only, its first decision is always "attempt" and a success always ends the call,
        so the common case skips its per-call state (a ``RetryCallState`` and a locked
        ``concurrent.futures.Future``, ~40 µs per call). Every retry is tenacity's decision."""
        try:
            return await attempt(run)
        except BaseException:
            failed = sys.exc_info()
        retrying = self._retrying
        retrying.begin()
        state = RetryCallState(retry_object=retrying, fn=None, args=(run,), kwargs={})
        state.set_exception(failed)  # type: ignore[arg-type]
        failed = None  # type: ignore[assignment]  # its traceback holds this frame: a cycle (see _forget)
        while True:
            do = retrying.iter(retry_state=state)
            if isinstance(do, DoAttempt):
                try:
                    result = await attempt(run)
                except BaseException:
                    state.set_exception(sys.exc_info())  # type: ignore[arg-type]
                else:
                    state.set_result(result)
            elif isinstance(do, DoSleep):
                _forget(state.outcome.exception() if state.outcome is not None else None)
                state.prepare_for_next_attempt()
                await _sleep(run, do)
            else:
                return do  # type: ignore[no-any-return]

    async def call(
        self,
        call: Callable[[], Awaitable[T]],
        gate: AdaptiveLimit,
        budget: Budget,
        *,
        learn: bool,
        tokens: int = 0,
        observer: CallObserver | None = None,
    ) -> tuple[T, float, int, tuple[str, ...]]:
        """Run one provider call under the policy; returns its result, the successful attempt's
        seconds, the number of attempts and the error class names retried.

        Every attempt, retries included, books a request from the rate ``budget`` first (waiting when
        it says so) and reports its answer to the budget; the adaptive ``gate`` hears of a throttle
        only when the budget reads it as the quota (a steady background share of 429s is no reason to
        cut). ``learn=False`` keeps the budget's learned rate out of it (fixed caps still hold).
        ``observer`` (from :func:`omnivec.providers.observability.observe_call`) hears of throttles,
        retries and the end."""
        run = _Call(call, gate, budget, learn, tokens, observer)
        try:
            output = await self._run(_metered, run)
        except EmbeddingError as exc:
            if observer is not None:
                observer.gave_up(attempts=run.attempt, error=exc)
            raise
        if observer is not None:
            observer.succeeded(
                attempts=run.attempt, input_tokens=getattr(getattr(output, "usage", None), "input_tokens", None)
            )
        return output, run.seconds, run.attempt, tuple(run.retried)

    async def plain(self, call: Callable[[], Awaitable[T]]) -> T:
        """A call outside any rate budget (polling a batch job: its quota is not the embedding one)."""
        return await self._run(_plain, _Call(call, None, None, False, 0, None))

    def _wait(self, state: RetryCallState) -> float:
        run: _Call[Any] = state.args[0]
        exc = state.outcome.exception() if state.outcome is not None else None
        assert exc is not None  # tenacity waits only after a failed attempt
        # Our guess of a quota's refill time (no hint) only while nothing at all was granted lately:
        # otherwise the limiter spaces the retries, and waiting on top only idles the call and
        # starves the answers the grant is measured by.
        budget = run.budget
        quota = run.quota and (budget is None or not run.learn or not budget.granting)
        # The backoff grows only while nothing of this key succeeds: a call failing at random while
        # the others go through is no outage, and after its 6th failure its slot would sleep 3-13 s
        # with the job's last items waiting for it (issue 17). A poll (no budget) counts attempts.
        steps = state.attempt_number if budget is None else run.streak
        return backoff(self.policy, steps, exc, over_quota=quota)

    @staticmethod
    def _before_sleep(state: RetryCallState) -> None:
        run: _Call[Any] = state.args[0]
        exc = state.outcome.exception() if state.outcome is not None else None
        run.retried.append(type(exc).__name__)
        if run.observer is not None and isinstance(exc, EmbeddingError):
            run.observer.retrying(state.attempt_number, state.upcoming_sleep, exc)


def _forget(error: BaseException | None) -> None:
    """Drop the tracebacks of an attempt that will be retried (its error and the SDK errors chained to
    it). A traceback holds the frames it passed through, and they hold the call's state, which holds
    the error: a cycle that only the cyclic collector frees, with every frame's locals (requests,
    responses) kept until then. At 20 % random 429 that garbage reached the oldest generation and the
    collector took 2.1–2.4 s of a 31 s run, against 0.7–1.0 s unfaulted (issue 17). Nobody reads these
    tracebacks: a retried error is logged by class, status and code, and the error a call finally
    raises keeps its own."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        error.__traceback__ = None
        if error.__cause__ is not None and error.__context__ is not None and error.__cause__ is not error.__context__:
            error.__context__.__traceback__ = None
        error = error.__cause__ or error.__context__


async def _sleep(run: _Call[Any], seconds: float) -> None:
    """The backoff before a retry. After a throttle the budget read as the quota the call keeps its
    slot, so a fresh call does not fire into the same empty bucket. After a background throttle (a
    steady share of 429s whatever the rate) nothing is gained by that: the slot goes to the next
    call while this one sleeps, and it queues for a slot again to retry. Holding it idled a fifth of
    the slots at 20% random 429 and cut throughput to 0.6 of an unfaulted run (issue 17)."""
    gate = run.gate
    if gate is None or run.quota or not isinstance(run.last_error, RateLimitError):
        await asyncio.sleep(seconds)
        return
    gate.release()
    try:
        await asyncio.sleep(seconds)
        await gate.acquire()
    except BaseException:
        gate.in_flight += 1  # cancelled while away: the caller releases one slot on the way out
        raise


async def _metered(run: _Call[T]) -> T:
    """One attempt under the rate budget and the concurrency gate (both set on ``run``)."""
    budget, gate = run.budget, run.gate
    assert budget is not None and gate is not None
    run.attempt += 1
    wait, ticket = budget.reserve(run.tokens, learned=run.learn)
    if wait > 0:
        gate.paced()
        await asyncio.sleep(wait)
    began = time.perf_counter()
    try:
        output = await run.call()
    except EmbeddingError as exc:
        throttled = isinstance(exc, RateLimitError)
        now = budget.clock()
        run.streak = 1 if budget.last_success > run.failed_at else run.streak + 1
        run.failed_at = now
        run.quota = budget.record(ticket, throttled=throttled, learn=run.learn)
        run.last_error = exc
        gate.record(throttled=run.quota)
        if run.observer is not None and throttled:
            run.observer.throttled(run.attempt, exc)
        raise
    run.seconds = time.perf_counter() - began
    budget.last_success = budget.clock()
    gate.record(throttled=False, seconds=run.seconds)
    budget.record(ticket, throttled=False, learn=run.learn)
    return output


async def _plain(run: _Call[T]) -> T:
    run.attempt += 1
    return await run.call()
