"""The two halves of embedding one side of a task: what the cache holds, and what live calls cost.

:class:`CachedSide` only knows vectors: which items the cache already has under this fingerprint,
which are missing, and saving the new ones. :class:`LiveCalls` only knows calls: it embeds missing
items through the provider and keeps their timings, retries, tokens and failures. Keeping them apart
means a cached vector can never be timed and a timing never depends on the cache.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..providers import EmbeddingProvider, EmbeddingResult, Fingerprint, Input, InputError, Intent
from ..providers.cache import EmbeddingCache, content_key
from ..providers.errors import EmbeddingError
from .errors import DatasetError

__all__ = ["LOCAL_PIECE", "CachedSide", "LiveCalls", "LiveStats"]

LOCAL_PIECE = 64
"""Items per call when embedding in bulk with a local model: a local encode cannot be interrupted, so
Ctrl-C waits for at most one piece (about 2 s on two cores) instead of the whole corpus."""


class CachedSide:
    """Vectors for one side (queries or documents) of a task: cached ones filled in, the rest NaN."""

    def __init__(
        self, fingerprint: Fingerprint, ids: Sequence[str], items: Sequence[Input], cache: EmbeddingCache | None
    ):
        self.fingerprint, self.ids, self.items, self.cache = fingerprint, list(ids), list(items), cache
        self.keys = [content_key(item) for item in items]
        self.vectors = np.full((len(items), fingerprint.dimensions), np.nan, dtype=np.float32)
        found = cache.get(fingerprint, self.keys) if cache is not None else {}
        for i, key in enumerate(self.keys):
            if key in found:
                self.vectors[i] = found[key]
        self.missing = [i for i, key in enumerate(self.keys) if key not in found]
        self.cached = len(items) - len(self.missing)

    def save(self) -> None:
        """Store the vectors embedded live (failed rows stay NaN and are not stored)."""
        if self.cache is not None and self.missing:
            self.cache.put(self.fingerprint, [self.keys[i] for i in self.missing], self.vectors[self.missing])

    def failed(self) -> np.ndarray:
        """One flag per item: True where the vector is missing (the item failed to embed)."""
        return np.asarray(np.isnan(self.vectors).any(axis=1), dtype=bool)


@dataclass
class LiveStats:
    items: int
    retries: int
    rate_limited: int
    failures: int
    input_tokens: int | None
    images: int


@dataclass
class LiveCalls:
    """Embeds items of one side through the provider, keeping what the live calls cost."""

    provider: EmbeddingProvider[Any]
    intent: Intent
    side: CachedSide
    task: str
    row: str = ""
    """The row label, for progress bars."""
    results: list[EmbeddingResult] = field(default_factory=list)
    failures: dict[int, EmbeddingError] = field(default_factory=dict)
    """Failed items by their index on this side."""

    async def embed(self, indices: Sequence[int], progress: Callable[[int], None] | None = None) -> float:
        """Embed ``indices`` in one ``embed`` call; returns its wall-clock seconds."""
        indices = list(indices)
        began = time.perf_counter()
        try:
            result = await self.provider.embed(
                [self.side.items[i] for i in indices], intent=self.intent, errors="collect", progress=progress
            )
        except InputError as exc:
            if exc.index is None or not 0 <= exc.index < len(indices):
                raise
            item_id = self.side.ids[indices[exc.index]]
            raise DatasetError(
                f"{self.task}: {self.intent} {item_id!r}: {exc.message}", provider=exc.provider, model=exc.model
            ) from exc
        elapsed = time.perf_counter() - began
        self.side.vectors[indices] = result.vectors
        self.failures.update({indices[j]: error for j, error in result.failures.items()})
        self.results.append(result)
        return elapsed

    async def embed_bulk(self, indices: Sequence[int], progress: Callable[[int], None] | None = None) -> float:
        """Embed ``indices`` at the provider's concurrency; local models go in interruptible pieces."""
        indices = list(indices)
        piece = len(indices) if self.provider.is_remote else LOCAL_PIECE
        if piece < len(indices):  # longest texts first, as the model would sort them: pieces pad little
            indices.sort(key=lambda i: -len(item) if isinstance(item := self.side.items[i], str) else 0)
        seconds = 0.0
        for start in range(0, len(indices), max(piece, 1)):
            seconds += await self.embed(indices[start : start + piece], progress)
        return seconds

    def stats(self) -> LiveStats:
        timings = [t for r in self.results for t in r.timings]
        tokens = [r.usage.input_tokens for r in self.results]
        return LiveStats(
            items=sum(len(r) for r in self.results),
            retries=sum(t.attempts - 1 for t in timings),
            rate_limited=sum(t.retried.count("RateLimitError") for t in timings),
            failures=len(self.failures),
            input_tokens=sum(t for t in tokens if t is not None) if any(t is not None for t in tokens) else None,
            images=sum(r.usage.images for r in self.results),
        )
