"""What a reranker's core and adapters exchange: one call's scores, the result, its fingerprint."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import EmbeddingError
from ..types import CallTiming, Fingerprint, Usage

__all__ = ["RerankBatch", "RerankFingerprint", "RerankResult"]


@dataclass(frozen=True, slots=True)
class RerankBatch:
    """What an adapter's ``_rerank_batch`` returns for ONE call: a score per candidate, in the order sent."""

    scores: npt.NDArray[np.float32] | list[float]
    usage: Usage = field(default_factory=Usage)
    search_units: int | None = None
    """Billing units the API reported (Cohere's ``meta.billed_units.search_units``); None if it did not."""


@dataclass(frozen=True, slots=True)
class RerankFingerprint:
    """What decides the scores: two results are comparable only if their fingerprints are equal."""

    provider: str
    model: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": "rerank",
            "provider": self.provider,
            "model": self.model,
            "options": dict(sorted(self.options.items())),
        }

    # The embedders' digest of as_dict(), not a second copy of it.
    hash = property(Fingerprint.hash.fget)  # type: ignore[attr-defined]


@dataclass(slots=True)
class RerankResult:
    """Scores in INPUT order (``scores[i]`` is candidate ``i``'s); :meth:`order` ranks them.

    With ``errors="collect"``, candidates whose call failed for good are NaN, listed in ``failures``
    by index, and ranked last. Scores of different calls of one result are comparable: every
    supported API scores each (query, candidate) pair on its own, never relative to the batch.
    """

    scores: npt.NDArray[np.float32]
    fingerprint: RerankFingerprint
    usage: Usage = field(default_factory=Usage)
    timings: list[CallTiming] = field(default_factory=list)
    failures: dict[int, EmbeddingError] = field(default_factory=dict)
    search_units: int | None = None
    """Sum of the billing units the API reported (None when none did)."""
    estimated_cost_usd: float | None = None
    """From the dated price table (prices.toml), None where the price is unknown. An estimate, not a bill."""

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    def order(self, top_k: int | None = None) -> list[int]:
        """Candidate indices, best first (ties keep input order; failed candidates last)."""
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
            raise ValueError(f"top_k must be a whole number >= 1, got {top_k!r}")
        keys = np.where(np.isnan(self.scores), np.inf, -self.scores.astype(np.float64))
        ranked: list[int] = np.argsort(keys, kind="stable").tolist()
        return ranked[:top_k] if top_k is not None else ranked

    def top(self, k: int) -> list[tuple[int, float]]:
        """The ``k`` best candidates as ``(index, score)``."""
        return [(i, float(self.scores[i])) for i in self.order(k)]

    @property
    def retries(self) -> int:
        return sum(t.attempts - 1 for t in self.timings)

    @property
    def ok(self) -> bool:
        return not self.failures
