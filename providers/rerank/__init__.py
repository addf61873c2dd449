"""Rerankers behind the same ``provider:model`` switch as embedders (``OMNIVEC_RERANKER``). See docs/rerankers.md.

>>> from omnivec.providers.rerank import get_reranker
>>> reranker = get_reranker("bedrock:cohere.rerank-v3-5:0")          # doctest: +SKIP
>>> result = reranker.rerank_sync("what do cats eat", ["fish", "tax law"])  # doctest: +SKIP
>>> result.order(top_k=1)                                             # doctest: +SKIP
"""

from __future__ import annotations

from .base import Reranker, check_rerank_inputs
from .registry import get_reranker, known_rerankers, load_reranker
from .settings import (
    BedrockRerankSettings,
    LocalRerankSettings,
    RerankApiSettings,
    RerankerInfo,
    RerankerSettings,
    VertexRankingSettings,
)
from .types import RerankBatch, RerankFingerprint, RerankResult

__all__ = [
    "BedrockRerankSettings",
    "LocalRerankSettings",
    "RerankApiSettings",
    "RerankBatch",
    "RerankFingerprint",
    "RerankResult",
    "Reranker",
    "RerankerInfo",
    "RerankerSettings",
    "VertexRankingSettings",
    "check_rerank_inputs",
    "get_reranker",
    "known_rerankers",
    "load_reranker",
]
