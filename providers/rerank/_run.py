"""The calls of one ``rerank``: candidate batches fanned out through the SAME machinery as embeddings.

Not a copy of :mod:`omnivec.providers._run`: that loop writes vector rows; this one writes scores.
What matters is shared, as functions that take any call: the per-reranker concurrency limit
(:class:`~omnivec.providers._concurrency.AdaptiveLimit` via ``ProviderLimits``), the process-wide
rate budget, :func:`~omnivec.providers._retry.call_with_retries` (one retry policy, throttle
feedback), :func:`~omnivec.providers._concurrency.run_workers` and the call observer.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .._concurrency import run_workers
from .._rate import Budget, estimate_tokens
from .._retry import call_with_retries
from ..errors import EmbeddingError, UnexpectedResponseError
from ..observability import observe_call, record_concurrency_change
from ..types import CallTiming
from .types import RerankResult

if TYPE_CHECKING:
    from .base import Reranker

__all__ = ["run_rerank_calls"]


async def run_rerank_calls(
    reranker: Reranker[Any],
    query: str,
    candidates: list[str],
    result: RerankResult,
    budget: Budget,
    *,
    errors: Literal["raise", "collect"],
) -> None:
    """Fill ``result.scores`` (NaN to start with) with one call per batch of ``candidates``."""
    s, size = reranker.settings, reranker.batch_limit
    chunks = [(start, candidates[start : start + size]) for start in range(0, len(candidates), size)]
    gate = reranker._limits.current(
        s.max_concurrency or reranker.default_concurrency,
        adaptive=s.adaptive_concurrency,
        grow_to=reranker.concurrency_ceiling,
        on_change=partial(record_concurrency_change, reranker.name, reranker.model),
    )
    learn, per_min = s.adaptive_concurrency and s.rate.learn, s.rate.tokens_per_minute
    scores, stopped = result.scores, list[EmbeddingError]()
    query_tokens = estimate_tokens([query])

    async def run_chunk(chunk: tuple[int, list[str]]) -> None:
        start, batch = chunk
        # Every call carries the query again: each pair is (query, candidate).
        tokens = (estimate_tokens(batch) + query_tokens * len(batch)) if per_min else 0
        await gate.acquire()
        if stopped:
            gate.release()
            raise stopped[0]
        try:
            with observe_call(
                reranker.name, reranker.model, items=len(batch), dimensions=None,
                max_attempts=s.retry.max_attempts, remote=reranker.is_remote,
            ) as call:  # fmt: skip
                output, seconds, tries, retried = await call_with_retries(
                    lambda: reranker._rerank_batch(query, batch),
                    s.retry, gate, budget, learn=learn, tokens=tokens, observer=call,
                )  # fmt: skip
                got = np.asarray(output.scores, dtype=np.float32)
                if got.shape != (len(batch),) or not np.isfinite(got).all():
                    raise UnexpectedResponseError(
                        f"expected {len(batch)} finite scores, got shape {got.shape}",
                        provider=reranker.name, model=reranker.model,
                    )  # fmt: skip
                scores[start : start + len(batch)] = got
        except EmbeddingError as exc:
            result.failures.update(dict.fromkeys(range(start, start + len(batch)), exc))
            if errors == "raise":
                stopped.append(exc)
                raise
        else:
            if tokens:
                budget.settle(tokens, output.usage.input_tokens)
            result.usage.add_call(output.usage, images=0)
            if output.search_units is not None:
                result.search_units = (result.search_units or 0) + output.search_units
            result.timings.append(CallTiming(start, len(batch), seconds, tries, retried))
        finally:
            gate.release()

    await run_workers(chunks, run_chunk, gate.grow_to)
