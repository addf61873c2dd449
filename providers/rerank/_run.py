"""The calls of one ``rerank``: candidate batches through the SAME loop as embeddings.

:func:`~omnivec.providers._run.run_batches` does the fan-out, the per-reranker concurrency limit,
the process-wide rate budget, the one retry policy and the call observer; this module only says how
a batch of candidates becomes scores and where they go.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .._rate import Budget, estimate_tokens
from .._run import run_batches
from ..errors import UnexpectedResponseError
from ..types import Usage
from .types import RerankBatch, RerankResult

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
    size, scores = reranker.batch_limit, result.scores
    chunks = [(start, candidates[start : start + size]) for start in range(0, len(candidates), size)]
    query_tokens = estimate_tokens([query])

    def accept(start: int, batch: list[str], output: RerankBatch) -> Usage:
        got = np.asarray(output.scores, dtype=np.float32)
        if got.shape != (len(batch),) or not np.isfinite(got).all():
            raise UnexpectedResponseError(
                f"expected {len(batch)} finite scores, got shape {got.shape}",
                provider=reranker.name,
                model=reranker.model,
            )
        scores[start : start + len(batch)] = got
        result.usage.add_call(output.usage, images=0)
        if output.search_units is not None:
            result.search_units = (result.search_units or 0) + output.search_units
        return output.usage

    await run_batches(
        reranker,
        chunks,
        lambda batch: reranker._rerank_batch(query, batch),
        accept,
        budget=budget,
        limits=reranker.settings.rate,
        default_concurrency=reranker.default_concurrency,
        failures=result.failures,
        timings=result.timings,
        errors=errors,
        # Every call carries the query again: each pair is (query, candidate).
        tokens_of=lambda batch: estimate_tokens(batch) + query_tokens * len(batch),
        dimensions=None,
    )
