"""Embedding stored sources for the store write loop, through the one streaming path.

Each store batch is prepared on the store's own thread (the shared cache answers first: cached vectors
are never paid for twice), its remaining inputs become one chunk of
:func:`omnivec.providers._stream_sync.stream_embeddings_sync`, and the results are committed there while
the stream already embeds the next ``STORE_WINDOW`` batches: the store write hides behind the
provider calls. Only vectors that came back are cached; a failed item's placeholder never is.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator, Iterable, Iterator
from contextlib import closing
from contextvars import Context
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from .._stream_sync import stream_embeddings_sync
from ..base import EmbeddingProvider
from ..cache import EmbeddingCache
from ..errors import EmbeddingError, InputError
from ..inputs import Input
from ..types import EmbeddingResult, Fingerprint
from ._call_cache import CallCacher
from .base import Row
from .sources import SourceItem, input_for

__all__ = ["STORE_WINDOW", "Embedded", "Prepared", "finish", "prepare", "stream"]

STORE_WINDOW = 4
"""Store batches read ahead and embedding while the oldest one is committed (the stream's window)."""
T = TypeVar("T")
R = TypeVar("R")


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


@dataclass
class Prepared:
    """One batch before its call: the rows the cache filled, and the inputs still to embed."""

    ready: list[SourceItem]
    vectors: npt.NDArray[np.float32]
    live: list[int]
    """Positions in ``ready`` that the cache did not have, in the order of ``inputs``."""
    inputs: list[Input]
    failed: dict[str, str]

    def cached_part(self) -> Prepared:
        """The items the cache filled (and the failures before any call): nothing left to embed."""
        live = set(self.live)
        kept = [n for n in range(len(self.ready)) if n not in live]
        return Prepared([self.ready[n] for n in kept], self.vectors[kept], [], [], dict(self.failed))

    def part(self, positions: list[int]) -> Prepared:
        """The items of ``inputs[positions]`` alone, all still to embed (an engine that answers in parts)."""
        ready = [self.ready[self.live[p]] for p in positions]
        vectors = np.zeros((len(ready), self.vectors.shape[1]), dtype=np.float32)
        return Prepared(ready, vectors, list(range(len(ready))), [self.inputs[p] for p in positions], {})


def prepare(
    provider: EmbeddingProvider[Any], items: list[SourceItem], cache: EmbeddingCache | None, fingerprint: Fingerprint
) -> Prepared:
    """Inputs for ``items`` (an item that cannot become one fails by id) after the cache lookup;
    ``fingerprint`` is the provider's document fingerprint, computed once per run by the caller."""
    ready, inputs, failed = [], [], {}
    for item in items:
        try:
            inputs.append(input_for(item.text, item.uri))
            ready.append(item)
        except EmbeddingError as exc:
            failed[item.id] = str(exc)
    found = cache.get(fingerprint, [i.content_hash for i in ready]) if cache is not None and ready else {}
    vectors = np.zeros((len(ready), provider.dimensions), dtype=np.float32)
    live = [n for n, item in enumerate(ready) if item.content_hash not in found]
    for n, item in enumerate(ready):
        if item.content_hash in found:
            vectors[n] = found[item.content_hash]
    return Prepared(ready, vectors, live, [inputs[n] for n in live], failed)


def finish(
    batch: Prepared, result: EmbeddingResult | None, cache: EmbeddingCache | None, fingerprint: Fingerprint
) -> Embedded:
    """Rows in input order, failures by id, the systemic check; only vectors that came back are cached."""
    out = Embedded(failed=dict(batch.failed), cached=len(batch.ready) - len(batch.live))
    live, ready = batch.live, batch.ready
    if live and result is not None:
        batch.vectors[live] = result.vectors
        out.embedded = len(live) - len(result.failures)
        out.input_tokens = result.usage.input_tokens or 0
        for offset, error in result.failures.items():
            out.failed[ready[live[offset]].id] = str(error)
        first = next(iter(result.failures.values()), None)
        if len(result.failures) == len(live) and first is not None and not isinstance(first, InputError):
            out.systemic = first  # every live item failed, not for its input: the provider is the problem
        if cache is not None:  # a failed item's row is a placeholder: never cache it
            ok = [offset for offset in range(len(live)) if offset not in result.failures]
            cache.put(fingerprint, [ready[live[o]].content_hash for o in ok], result.vectors[ok])
    for n, item in enumerate(ready):
        if item.id not in out.failed:
            out.rows.append(Row(item.id, item.content_hash, item.text, item.uri, item.metadata, batch.vectors[n]))
    return out


def stream(
    provider: EmbeddingProvider[Any],
    cache: EmbeddingCache | None,
    batches: Iterable[tuple[list[SourceItem], T]],
    fingerprint: Fingerprint,
    window: int = STORE_WINDOW,
) -> Generator[tuple[Embedded, T], None, None]:
    """Each ``(items, tag)`` batch embedded, in order, as one chunk of the shared stream.

    ``batches`` is read on this thread (so a store diff there stays on the store's thread), at most
    ``window`` batches ahead of the one handed back; a batch the cache (or the diff) emptied passes
    through as an empty chunk, without a call, keeping the order and the bound. Every call's vectors
    are cached as the call returns (:class:`._call_cache.CallCacher`), so a crash re-pays only the
    calls in flight, not the batches waiting for their commit."""
    waiting: deque[tuple[Prepared, T, list[str]]] = deque()
    cacher = CallCacher(provider, cache, fingerprint) if cache is not None else None

    def chunks() -> Iterator[list[Input]]:
        for items, tag in batches:
            batch = prepare(provider, items, cache, fingerprint)
            keys = cacher.expect(batch.inputs, [batch.ready[n].content_hash for n in batch.live]) if cacher else []
            waiting.append((batch, tag, keys))
            yield batch.inputs

    try:
        if cacher is None:
            results = stream_embeddings_sync(provider, chunks(), intent="document", window=window)
        else:  # the calls run in a context that reports each one to the cacher
            with cacher.active() as context:
                results = _run_in(context, stream_embeddings_sync(provider, chunks(), intent="document", window=window))
        with closing(results):
            for chunk in results:
                batch, tag, keys = waiting.popleft()
                out = finish(batch, chunk.result, None if cacher else cache, fingerprint)
                if cacher is not None:
                    cacher.forget(keys)
                yield out, tag
    finally:
        if cacher is not None:
            cacher.close()


def _run_in(context: Context, inner: Generator[R, None, None]) -> Generator[R, None, None]:
    """``inner`` stepped inside ``context`` (the background loop's task copies it when it starts)."""
    try:
        while True:
            try:
                item = context.run(next, inner)
            except StopIteration:
                return
            yield item
    finally:
        context.run(inner.close)
