"""The one retry policy, applied by the core around each provider call (adapters never retry)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_random_exponential

from ._concurrency import AdaptiveLimit
from .errors import EmbeddingError, RateLimitError
from .settings import RetryPolicy

__all__ = ["call_with_retries"]

T = TypeVar("T")


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, EmbeddingError) and exc.retryable


def _wait_for(policy: RetryPolicy) -> Callable[[RetryCallState], float]:
    jittered = wait_random_exponential(multiplier=policy.initial_backoff_s, max=policy.max_backoff_s)

    def wait(state: RetryCallState) -> float:
        delay = jittered(state)
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimitError) and exc.retry_after:
            delay = max(delay, exc.retry_after)  # the provider's hint wins over a shorter backoff
        return delay

    return wait


async def call_with_retries(
    call: Callable[[], Awaitable[T]], policy: RetryPolicy, gate: AdaptiveLimit
) -> tuple[T, float, int, tuple[str, ...]]:
    """Run ``call`` under ``policy``; returns its result, the successful attempt's seconds, the
    number of attempts and the error class names retried. Throttling feeds the adaptive ``gate``."""
    retried: list[str] = []
    retrying = AsyncRetrying(
        stop=stop_after_attempt(policy.max_attempts),
        wait=_wait_for(policy),
        retry=retry_if_exception(_is_retryable),
        reraise=True,
        before_sleep=lambda state: retried.append(type(state.outcome.exception()).__name__),  # type: ignore[union-attr]
    )
    async for attempt in retrying:
        with attempt:
            began = time.perf_counter()
            try:
                output = await call()
            except RateLimitError:
                gate.record(throttled=True)
                raise
            gate.record(throttled=False)
            elapsed = time.perf_counter() - began
            tries = attempt.retry_state.attempt_number
    return output, elapsed, tries, tuple(retried)
