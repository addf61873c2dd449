"""The :class:`Reranker` base: validation, batching, concurrency, rate, retries and timing for rerank calls.

Adapters implement exactly one hook, :meth:`Reranker._rerank_batch`: ONE provider call that scores
at most :attr:`Reranker.batch_limit` candidates against the query, scores back in the order sent.
Everything else is here and in the shared core (see :mod:`._run`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable, Sequence
from typing import Any, ClassVar, Generic, Literal, TypeVar

import numpy as np

from .. import _guard
from .._concurrency import ProviderLimits, run_sync
from .._rate import Budget, rate_budget
from .._retry import Retrier
from .._validation import check_call_options, resolve_settings
from ..errors import EmbeddingError, InvalidInputError
from ..prices import price_for
from ._run import run_rerank_calls
from .settings import RerankerSettings
from .types import RerankBatch, RerankFingerprint, RerankResult

__all__ = ["Reranker", "check_rerank_inputs"]

S = TypeVar("S", bound=RerankerSettings)


def check_rerank_inputs(query: object, candidates: object) -> list[str]:
    """The candidates as a list, or one line naming what is wrong, before any call."""
    if not isinstance(query, str):
        raise InvalidInputError(f"rerank query must be a string, got {type(query).__name__}")
    if not query.strip():
        raise InvalidInputError("rerank query is empty: pass the text the candidates are ranked against")
    if isinstance(candidates, str | bytes) or not isinstance(candidates, Sequence):
        raise InvalidInputError(
            f"rerank candidates must be a list of strings, got {type(candidates).__name__}: wrap one text in a list"
        )
    if not candidates:
        raise InvalidInputError("rerank candidates are empty: pass at least one text to score")
    for index, text in enumerate(candidates):
        if not isinstance(text, str):
            raise InvalidInputError(
                f"rerank candidate {index} is a {type(text).__name__}, not a string: rerankers score text only",
                index=index,
            )
        if not text.strip():
            raise InvalidInputError(f"rerank candidate {index} is empty: the APIs refuse empty texts", index=index)
    return list(candidates)


class Reranker(ABC, Generic[S]):
    """Scores candidate texts against a query. Subclasses implement ``_rerank_batch`` only."""

    name: ClassVar[str]
    settings_class: ClassVar[type[RerankerSettings]] = RerankerSettings
    is_remote: ClassVar[bool] = True
    max_candidates: ClassVar[int] = 1000
    """The API's own limit of candidates per call (``settings.max_candidates_per_call`` may lower it)."""
    max_query_chars: ClassVar[int | None] = None
    max_candidate_chars: ClassVar[int | None] = None
    default_concurrency: ClassVar[int] = 4

    def __init__(self, model: str, *, settings: S | None = None, **options: Any) -> None:
        self.model = model
        self.settings: S = resolve_settings(self.settings_class, settings, options, where=self.ref)  # type: ignore[assignment]
        self._limits = ProviderLimits()  # the same per-loop limit embedders use
        self._retrier = Retrier(self.settings.retry)  # one tenacity object for all of its calls
        self._budget: Budget | None = None

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.model}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model!r})"

    @property
    def batch_limit(self) -> int:
        """Candidates per call: the API's limit, or the lower one configured."""
        return min(self.max_candidates, self.settings.max_candidates_per_call or self.max_candidates)

    @property
    def concurrency_ceiling(self) -> int:
        """As for embedders: the configured or default limit, or how far adaptive growth may take it."""
        fixed = self.settings.max_concurrency or self.default_concurrency
        grows = self.settings.max_concurrency is None and self.settings.adaptive_concurrency
        return max(fixed, self.settings.rate.grow_concurrency_to) if grows else fixed

    def options(self) -> dict[str, Any]:
        """Options that change the scores (endpoint, truncation), for the fingerprint."""
        return {}

    def rate_key(self) -> Hashable:
        """Who shares a quota. Distinct from embedders' keys: a rerank quota is its own."""
        return ("rerank", self.name, self.model, self.options().get("endpoint"))

    def fingerprint(self) -> RerankFingerprint:
        return RerankFingerprint(provider=self.name, model=self.model, options=self.options())

    @abstractmethod
    async def _rerank_batch(self, query: str, candidates: Sequence[str]) -> RerankBatch:
        """Make exactly ONE provider call scoring ``candidates`` against ``query``; scores in that order."""

    def _check_lengths(self, query: str, candidates: list[str]) -> None:
        if self.max_query_chars is not None and len(query) > self.max_query_chars:
            raise InvalidInputError(
                f"{self.ref}: the query has {len(query)} characters, the API takes at most {self.max_query_chars}"
            )
        if self.max_candidate_chars is not None:
            for index, text in enumerate(candidates):
                if len(text) > self.max_candidate_chars:
                    raise InvalidInputError(
                        f"{self.ref}: candidate {index} has {len(text)} characters, the API takes at most "
                        f"{self.max_candidate_chars}: split it",
                        index=index,
                    )

    async def rerank(
        self, query: str, candidates: Sequence[str], *, errors: Literal["raise", "collect"] = "raise"
    ) -> RerankResult:
        """Score every candidate against ``query``; ``result.scores`` in input order, ``result.order()`` best first.

        Long lists go out in batches of :attr:`batch_limit`, concurrently, and are merged back in
        order. ``errors`` works as for ``embed``: ``raise`` stops at the first call that fails for
        good (what was done is on ``error.partial``), ``collect`` leaves its candidates NaN.
        """
        check_call_options(errors, None)
        texts = check_rerank_inputs(query, candidates)
        self._check_lengths(query, texts)
        if self.is_remote:
            _guard.refuse_if_blocked(self.name, self.model)
        result = RerankResult(np.full(len(texts), np.nan, dtype=np.float32), self.fingerprint())
        if self._budget is None:
            self._budget = rate_budget(self.rate_key(), self.settings.rate)
        try:
            await run_rerank_calls(self, query, texts, result, self._budget, errors=errors)
        except EmbeddingError as exc:
            exc.partial = self._finish(result)  # type: ignore[assignment]
            raise
        return self._finish(result)

    def _finish(self, result: RerankResult) -> RerankResult:
        result.timings.sort(key=lambda t: t.first_index)
        price = price_for(self.name, self.model)
        if price is not None and "per_1k_search_units" in price:
            # Bedrock and Cohere bill a "search unit": one query with up to 100 candidates per call.
            units = result.search_units
            if units is None:
                units = sum(-(-t.items // 100) for t in result.timings)
            result.estimated_cost_usd = units * float(price["per_1k_search_units"]) / 1000
        elif price is not None and price.get("per_1m_tokens") == 0.0:
            result.estimated_cost_usd = 0.0
        return result

    def rerank_sync(
        self, query: str, candidates: Sequence[str], *, errors: Literal["raise", "collect"] = "raise"
    ) -> RerankResult:
        """Blocking twin of :meth:`rerank`."""
        return run_sync(self.rerank(query, candidates, errors=errors))

    async def aclose(self) -> None:
        """Release clients and models. Override when the adapter holds any."""

    def close(self) -> None:
        run_sync(self.aclose())

    def __enter__(self) -> Reranker[S]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Reranker[S]:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
