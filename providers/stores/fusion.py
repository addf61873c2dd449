"""Reciprocal-rank fusion (RRF) of ranked lists: hybrid search in the stores and the benchmark.

``score(d) = sum_i w_i / (k + rank_i(d))`` over the lists that hold ``d`` (ranks from 1); a list
that lacks ``d`` adds nothing. ``k = 60`` is Cormack, Clarke and Buettcher's constant (SIGIR 2009):
it damps the top ranks so that one list cannot dominate; weights ``(1, 1)`` treat the dense and the
lexical list alike. Only ranks are used, so BM25 scores and cosine similarities never need to be
put on one scale. Ties keep the order of first appearance (the first list first).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

from ..errors import InvalidOptionError

__all__ = ["RRF_K", "check_fusion", "rrf"]

RRF_K = 60.0
T = TypeVar("T", bound=Hashable)


def check_fusion(k: float, weights: Sequence[float], lists: int = 2) -> None:
    if isinstance(k, bool) or not isinstance(k, int | float) or not k >= 0:
        raise InvalidOptionError(f"rrf_k must be a number >= 0, got {k!r}")
    if len(weights) != lists or any(isinstance(w, bool) or not isinstance(w, int | float) or w < 0 for w in weights):
        raise InvalidOptionError(f"weights must be {lists} numbers >= 0 (vector, lexical), got {weights!r}")


def rrf(
    rankings: Sequence[Sequence[T]], weights: Sequence[float] | None = None, k: float = RRF_K
) -> list[tuple[T, float]]:
    """``(item, fused score)`` best first, over every item of every ranking (each best first)."""
    weights = [1.0] * len(rankings) if weights is None else list(weights)
    check_fusion(k, weights, len(rankings))
    fused: dict[T, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank)
    order = {item: i for i, item in enumerate(fused)}
    return sorted(fused.items(), key=lambda pair: (-pair[1], order[pair[0]]))
