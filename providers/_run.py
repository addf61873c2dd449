"""The calls of one ``embed``: batches fanned out under the provider's limit, rate budget and retries.

Kept apart from :mod:`.base` so the per-call path reads in one place: it is the hot loop (one
pass per provider call), so it allocates little and never awaits where nothing limits.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ._concurrency import run_workers
from ._rate import Budget, estimate_tokens
from ._retry import call_with_retries
from .errors import EmbeddingError, UnexpectedResponseError
from .inputs import Input, image_count
from .observability import observe_call, record_concurrency_change
from .types import BatchOutput, CallTiming, EmbeddingResult

if TYPE_CHECKING:
    from .base import EmbeddingProvider

__all__ = ["CALL_DONE", "run_calls"]

CALL_DONE: ContextVar[Callable[[list[Input], np.ndarray], None] | None] = ContextVar("omnivec_call_done", default=None)
"""Called on the loop with each successful call's inputs and vectors, as the call returns: the store
loop caches every vector the moment it is paid for, not when its whole batch is done."""


def checked_matrix(provider: EmbeddingProvider[Any], output: BatchOutput, expected: int) -> np.ndarray:
    """The call's vectors as float32, refusing a shape that does not match what was asked."""
    matrix = np.asarray(output.vectors, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape != (expected, provider.dimensions):
        raise UnexpectedResponseError(
            f"expected {expected} vectors of {provider.dimensions} dims, got shape {matrix.shape}",
            provider=provider.name,
            model=provider.model,
        )
    return matrix


async def run_calls(
    provider: EmbeddingProvider[Any],
    items: list[Input],
    result: EmbeddingResult,
    budget: Budget,
    *,
    errors: Literal["raise", "collect"],
    progress: Callable[[int], None] | None,
) -> None:
    """Fill ``result`` (NaN rows to start with) with one provider call per batch of ``items``."""
    s, caps = provider.settings, provider.capabilities
    size = caps.max_batch_size
    chunks = [(start, items[start : start + size]) for start in range(0, len(items), size)]
    # Shared by every call on this provider, so the configured limit holds across concurrent calls.
    gate = provider._limits.current(
        s.max_concurrency or caps.max_concurrency,
        adaptive=s.adaptive_concurrency,
        grow_to=provider.concurrency_ceiling,
        on_change=partial(record_concurrency_change, provider.name, provider.model),
    )
    limits = provider.rate_limits
    learn, per_min = s.adaptive_concurrency and limits.learn, limits.tokens_per_minute
    vectors, usage, timings, failures = result.vectors, result.usage, result.timings, result.failures
    intent, embed_batch = result.fingerprint.intent, provider._embed_batch
    stopped: list[EmbeddingError] = []  # errors="raise": once a call failed, no other starts

    async def run_chunk(chunk: tuple[int, list[Input]]) -> None:
        start, batch = chunk
        tokens = estimate_tokens(batch) if per_min else 0
        await gate.acquire()
        if stopped:
            gate.release()
            raise stopped[0]
        try:
            with observe_call(
                provider.name,
                provider.model,
                items=len(batch),
                dimensions=provider.dimensions,
                max_attempts=s.retry.max_attempts,
                remote=provider.is_remote,
            ) as call:
                output, seconds, tries, retried = await call_with_retries(
                    lambda: embed_batch(batch, intent=intent),
                    s.retry,
                    gate,
                    budget,
                    learn=learn,
                    tokens=tokens,
                    observer=call,
                )
                vectors[start : start + len(batch)] = checked_matrix(provider, output, len(batch))
                if (on_done := CALL_DONE.get()) is not None:
                    on_done(batch, vectors[start : start + len(batch)])
        except EmbeddingError as exc:
            failures.update(dict.fromkeys(range(start, start + len(batch)), exc))
            if errors == "raise":
                stopped.append(exc)
                raise
        else:
            if tokens:
                budget.settle(tokens, output.usage.input_tokens)
            # Calls and images are counted here, the same way for every adapter.
            usage.add_call(output.usage, images=image_count(batch))
            result.truncated.extend(start + i for i in output.truncated)
            timings.append(CallTiming(start, len(batch), seconds, tries, retried))
        finally:
            gate.release()
        if progress is not None:
            progress(len(batch))

    await run_workers(chunks, run_chunk, gate.grow_to)
