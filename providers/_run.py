"""The calls of one ``embed`` or ``rerank``: batches fanned out under the caller's concurrency limit,
rate budget and retry policy.

Kept apart from :mod:`.base` so the per-call path reads in one place: it is the hot loop (one
pass per provider call), so it allocates little and never awaits where nothing limits. Embedders and
rerankers share :func:`run_batches`; each says only how a batch becomes output and where it goes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from contextvars import ContextVar
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

import numpy as np

from ._concurrency import ProviderLimits, run_workers
from ._rate import Budget, RateLimits, estimate_tokens
from ._retry import Retrier
from .errors import EmbeddingError, UnexpectedResponseError
from .inputs import Input, image_count
from .observability import observe_call, record_concurrency_change
from .settings import RetryPolicy
from .types import BatchOutput, CallTiming, EmbeddingResult, Usage

if TYPE_CHECKING:
    from .base import EmbeddingProvider

__all__ = ["CALL_DONE", "run_batches", "run_calls"]

X = TypeVar("X")
O = TypeVar("O")  # noqa: E741

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


class _Settings(Protocol):
    @property
    def max_concurrency(self) -> int | None: ...
    @property
    def adaptive_concurrency(self) -> bool: ...
    @property
    def retry(self) -> RetryPolicy: ...


class Caller(Protocol):
    """What the loop needs of an embedder or a reranker."""

    model: str
    _limits: ProviderLimits
    _retrier: Retrier

    @property
    def name(self) -> str: ...
    @property
    def settings(self) -> _Settings: ...
    @property
    def is_remote(self) -> bool: ...
    @property
    def concurrency_ceiling(self) -> int: ...
    def rate_key(self) -> Hashable: ...


async def run_batches(
    owner: Caller,
    chunks: list[tuple[int, list[X]]],
    call: Callable[[list[X]], Awaitable[O]],
    accept: Callable[[int, list[X], O], Usage],
    *,
    budget: Budget,
    limits: RateLimits,
    default_concurrency: int,
    failures: dict[int, EmbeddingError],
    timings: list[CallTiming],
    errors: Literal["raise", "collect"],
    tokens_of: Callable[[list[X]], int],
    dimensions: int | None,
    progress: Callable[[int], None] | None = None,
) -> None:
    """One ``call`` per chunk (first index, items) through the owner's concurrency gate, the rate
    ``budget`` and its retry policy. ``accept`` checks and stores a call's output (raising
    :class:`UnexpectedResponseError` for a bad one) and returns the usage it reported."""
    s = owner.settings
    # Shared by every call on this owner, so the configured limit holds across concurrent calls.
    gate = owner._limits.current(
        s.max_concurrency or default_concurrency,
        adaptive=s.adaptive_concurrency,
        grow_to=owner.concurrency_ceiling,
        on_change=partial(record_concurrency_change, owner.name, owner.model),
    )
    learn, per_min = s.adaptive_concurrency and limits.learn, limits.tokens_per_minute
    retrier, max_attempts = owner._retrier, s.retry.max_attempts
    stopped: list[EmbeddingError] = []  # errors="raise": once a call failed, no other starts

    async def run_chunk(chunk: tuple[int, list[X]]) -> None:
        start, batch = chunk
        tokens = tokens_of(batch) if per_min else 0
        await gate.acquire()
        if stopped:
            gate.release()
            raise stopped[0]
        try:
            with observe_call(
                owner.name, owner.model, items=len(batch), dimensions=dimensions,
                max_attempts=max_attempts, remote=owner.is_remote,
            ) as observer:  # fmt: skip
                output, seconds, tries, retried = await retrier.call(
                    lambda: call(batch), gate, budget, learn=learn, tokens=tokens, observer=observer
                )
                reported = accept(start, batch, output)
        except EmbeddingError as exc:
            failures.update(dict.fromkeys(range(start, start + len(batch)), exc))
            if errors == "raise":
                stopped.append(exc)
                raise
        else:
            if tokens:
                budget.settle(tokens, reported.input_tokens)
            timings.append(CallTiming(start, len(batch), seconds, tries, retried))
        finally:
            gate.release()
        if progress is not None:
            progress(len(batch))

    # Twice the most slots: a call sleeping off a background throttle gives its slot up (_retry._sleep),
    # and a worker must be there to take it.
    await run_workers(chunks, run_chunk, 2 * gate.grow_to)


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
    caps = provider.capabilities
    size = caps.max_batch_size
    chunks = [(start, items[start : start + size]) for start in range(0, len(items), size)]
    vectors, usage, intent, embed_batch = result.vectors, result.usage, result.fingerprint.intent, provider._embed_batch

    def accept(start: int, batch: list[Input], output: BatchOutput) -> Usage:
        vectors[start : start + len(batch)] = checked_matrix(provider, output, len(batch))
        if (on_done := CALL_DONE.get()) is not None:
            on_done(batch, vectors[start : start + len(batch)])
        # Calls and images are counted here, the same way for every adapter.
        usage.add_call(output.usage, images=image_count(batch))
        result.truncated.extend(start + i for i in output.truncated)
        return output.usage

    await run_batches(
        provider,
        chunks,
        lambda batch: embed_batch(batch, intent=intent),
        accept,
        budget=budget,
        limits=provider.rate_limits,
        default_concurrency=caps.max_concurrency,
        failures=result.failures,
        timings=result.timings,
        errors=errors,
        tokens_of=estimate_tokens,
        dimensions=provider.dimensions,
        progress=progress,
    )
