"""Embedding stored sources through the shared cache, one batch in the background at a time.

``start`` returns at once with a future, so the caller can commit the previous batch to the store
while this one is embedded: the store write hides behind the provider calls (``migrate`` then runs
at nearly the bare ``embed_documents`` throughput). Cached vectors are never paid for twice.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._concurrency import _background_loop
from ..base import EmbeddingProvider
from ..cache import EmbeddingCache
from ..errors import EmbeddingError, InputError
from ..inputs import Input
from ..types import EmbeddingResult
from .base import Row, fingerprint_hash
from .sources import SourceItem, input_for

__all__ = ["Embedded", "normalized_fingerprint", "start"]


def normalized_fingerprint(provider: EmbeddingProvider[Any]) -> dict[str, Any]:
    """The document-side fingerprint as it reads back from JSON (the form stores keep)."""
    normalized: dict[str, Any] = json.loads(
        json.dumps(provider.fingerprint("document").as_dict(), sort_keys=True, default=str)
    )
    return normalized


@dataclass
class Embedded:
    rows: list[Row] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    """Item id -> one-line reason, for items that failed for good."""
    cached: int = 0
    embedded: int = 0
    input_tokens: int = 0
    systemic: EmbeddingError | None = None
    """Set when every live item of the batch failed: the provider, not the items, is the problem."""


EmbedCall = Callable[[list[Input]], Awaitable[EmbeddingResult]]


async def _embed(
    provider: EmbeddingProvider[Any],
    items: list[SourceItem],
    cache: EmbeddingCache | None,
    embed_call: EmbedCall | None = None,
) -> Embedded:
    """Cache lookup, one embedding call for the rest (online by default; the batch API passes its own),
    failures by id, and rows in input order. Only vectors that came back are cached."""
    out = Embedded()
    fingerprint = provider.fingerprint("document")
    inputs, ready = [], []
    for item in items:
        try:
            inputs.append(input_for(item.text, item.uri))
            ready.append(item)
        except EmbeddingError as exc:
            out.failed[item.id] = str(exc)
    found = cache.get(fingerprint, [i.content_hash for i in ready]) if cache is not None and ready else {}
    vectors = np.zeros((len(ready), provider.dimensions), dtype=np.float32)
    live = [n for n, item in enumerate(ready) if item.content_hash not in found]
    for n, item in enumerate(ready):
        if item.content_hash in found:
            vectors[n] = found[item.content_hash]
    out.cached = len(ready) - len(live)
    if live:
        todo = [inputs[n] for n in live]
        if embed_call is None:
            result = await provider.embed(todo, intent="document", errors="collect")
        else:
            result = await embed_call(todo)
        vectors[live] = result.vectors
        out.embedded = len(live) - len(result.failures)
        out.input_tokens = result.usage.input_tokens or 0
        for offset, error in result.failures.items():
            out.failed[ready[live[offset]].id] = str(error)
        if (
            result.failures
            and len(result.failures) == len(live)
            and not isinstance(next(iter(result.failures.values())), InputError)
        ):
            out.systemic = next(iter(result.failures.values()))
        if cache is not None:  # a failed item's row is a placeholder: never cache it
            ok = [offset for offset in range(len(live)) if offset not in result.failures]
            cache.put(fingerprint, [ready[live[o]].content_hash for o in ok], result.vectors[ok])
    for n, item in enumerate(ready):
        if item.id not in out.failed:
            out.rows.append(Row(item.id, item.content_hash, item.text, item.uri, item.metadata, vectors[n]))
    return out


def start(provider: EmbeddingProvider[Any], items: list[SourceItem], cache: EmbeddingCache | None) -> Future[Embedded]:
    """Embed ``items`` on omnivec's background loop; ``.result()`` waits for them."""
    return asyncio.run_coroutine_threadsafe(_embed(provider, items, cache), _background_loop())


def same_space(stored_hash: str, provider: EmbeddingProvider[Any]) -> bool:
    return fingerprint_hash(normalized_fingerprint(provider)) == stored_hash
