"""Cost estimates from the dated price table (``omnivec/providers/prices.toml``; never presented as a bill)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..providers.prices import PRICES, price_for, price_table

__all__ = ["PRICES", "CostEstimate", "estimate_cost", "estimate_tokens", "price_for", "price_table"]

CHARS_PER_TOKEN = 4.0
"""Rough English average, used only when the provider reports no token count (labelled 'estimated')."""


def estimate_tokens(texts: list[str]) -> int:
    return round(sum(len(t) for t in texts) / CHARS_PER_TOKEN)


@dataclass(frozen=True)
class CostEstimate:
    per_1k_documents: float | None
    per_1k_queries: float | None
    corpus: float | None
    tokens_source: str
    """``counted`` (the provider reported tokens) or ``estimated`` (characters / 4)."""
    price_as_of: str | None
    note: str


def estimate_cost(
    row: dict[str, Any] | None,
    *,
    doc_tokens: float,
    query_tokens: float,
    doc_images: float,
    query_images: float,
    corpus_size: int,
    tokens_source: str,
) -> CostEstimate:
    """Dollar estimates from average tokens / images per item (images unknown → cost unknown)."""
    if row is None or "per_1m_tokens" not in row:
        return CostEstimate(None, None, None, tokens_source, None, "no price in prices.toml")
    per_token = row["per_1m_tokens"] / 1e6

    def per_item(tokens: float, images: float) -> float | None:
        if images and "image_tokens" in row:
            tokens += images * row["image_tokens"]
        elif images and "per_image" not in row and row["per_1m_tokens"] > 0:
            return None  # images are billed at a rate nobody published: unknown, not zero
        return float(tokens * per_token + images * row.get("per_image", 0.0))

    doc, query = per_item(doc_tokens, doc_images), per_item(query_tokens, query_images)
    return CostEstimate(
        per_1k_documents=None if doc is None else doc * 1000,
        per_1k_queries=None if query is None else query * 1000,
        corpus=None if doc is None else doc * corpus_size,
        tokens_source=tokens_source,
        price_as_of=row.get("as_of"),
        note=row.get("note", ""),
    )
