"""What ``search`` does beyond one vector query: filters, lexical and hybrid modes, reranking.

Every check here runs before the query is embedded or a reranker called (one line, nothing sent):
the mode and the store's features, the filter against the version's typed metadata, the fusion
settings, and, with a reranker, whether the collection stores any text to rerank.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal

from ..errors import InvalidInputError, InvalidOptionError
from .base import Hit, VectorStore, VersionInfo
from .filters import Condition, check_where
from .fusion import check_fusion, rrf

if TYPE_CHECKING:
    from ..rerank import Reranker

__all__ = ["MODES", "Mode", "fuse_hits", "plan_search", "rerank_hits"]

Mode = Literal["vector", "lexical", "hybrid"]
MODES: tuple[Mode, ...] = ("vector", "lexical", "hybrid")


def plan_search(
    store: VectorStore,
    info: VersionInfo,
    query: object,
    *,
    mode: str,
    where: Mapping[str, Any] | None,
    rrf_k: float,
    weights: Sequence[float],
    reranker: Reranker[Any] | None,
) -> list[Condition]:
    """Refuse what cannot run, before any request; returns the checked filter."""
    name, table = info.collection, info.table
    if mode not in MODES:
        raise InvalidOptionError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    kind = type(store).__name__
    if mode != "vector" and "lexical" not in store.features:
        raise InvalidOptionError(f"mode={mode!r} needs full-text search, which {kind} ({store.url}) does not offer")
    if where is not None and "filters" not in store.features:
        raise InvalidOptionError(f"where= needs metadata filters, which {kind} ({store.url}) does not offer")
    if mode != "vector" and (not isinstance(query, str) or not query.strip()):
        raise InvalidInputError(f"mode={mode!r} searches text: the query must be a non-blank string, got {query!r:.60}")
    if mode == "hybrid":
        check_fusion(rrf_k, weights)
    conditions = check_where(where, store.metadata_fields(name, info.version), table) if where is not None else []
    store.check_conditions(conditions, table)
    if reranker is not None:
        if not isinstance(query, str) or not query.strip():
            raise InvalidInputError(f"rerank scores text: the query must be a non-blank string, got {query!r:.60}")
        if not any(row.text for batch in store.scan(name, info.version, 64) for row in batch[:64]):
            raise InvalidInputError(
                f"collection {name!r} stores no text (image or media items only): a reranker has nothing to score; "
                "search without --rerank"
            )
    return conditions


def fuse_hits(rankings: Sequence[Sequence[Hit]], k: int, rrf_k: float, weights: Sequence[float]) -> list[Hit]:
    """Reciprocal-rank fusion of hit lists by id; ``Hit.score`` becomes the fused score."""
    first: dict[str, Hit] = {}
    for hits in rankings:
        for hit in hits:
            first.setdefault(hit.id, hit)
    fused = rrf([[h.id for h in hits] for hits in rankings], weights, rrf_k)
    return [replace(first[item], score=score) for item, score in fused[:k]]


def rerank_hits(reranker: Reranker[Any], query: str, hits: Sequence[Hit], k: int) -> list[Hit]:
    """The hits with text reordered by ``reranker`` (``Hit.score`` = its score), then those without text
    in their order (nothing dropped); the first ``k``."""
    texts = [h for h in hits if h.text and h.text.strip()]
    rest = [h for h in hits if not (h.text and h.text.strip())]
    if not texts:
        return list(hits[:k])
    result = reranker.rerank_sync(query, [h.text or "" for h in texts])
    ordered = [replace(texts[i], score=float(result.scores[i])) for i in result.order()]
    return (ordered + rest)[:k]
