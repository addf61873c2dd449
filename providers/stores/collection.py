"""Collections as the application sees them: open by name, index, search — in the right vector space.

The provider of a collection is resolved from the fingerprint stored with its serving version, so a
query is never embedded with another model. Passing a provider whose fingerprint differs raises
:class:`VectorSpaceMismatchError` before anything is embedded, written or searched; for queries
``override_fingerprint=True`` lets a deliberately equivalent provider through (writes never).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import islice
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from ..base import EmbeddingProvider
from ..cache import EmbeddingCache
from ..errors import EmbeddingError, InvalidInputError, InvalidOptionError
from ..inputs import Input
from .adapter_catalog import query_provider
from .base import Hit, VectorStore, VersionInfo, check_name, fingerprint_hash
from .engines import engine_for, refuse_removed
from .errors import CollectionNotFoundError
from .fusion import RRF_K
from .retrieval import fuse_hits, plan_search, rerank_hits
from .serving import check_provider, ensure_collection, provider_for, require_serving, serving_version
from .sources import SourceItem, check_item
from .writer import Engine, IndexReport, Progress, StoreWriter

__all__ = [
    "IndexReport",
    "batched",
    "check_provider",
    "index_items",
    "open_cache",
    "provider_for",
    "require_serving",
    "search",
    "serving_version",
]

if TYPE_CHECKING:
    from ..rerank import Reranker

T = TypeVar("T")


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def open_cache(store: VectorStore, cache: EmbeddingCache | bool | None = True) -> EmbeddingCache | None:
    if isinstance(cache, EmbeddingCache) or cache is None or cache is False:
        return cache or None
    path = store.cache_path()
    return EmbeddingCache(path) if path is not None else None


def index_items(
    store: VectorStore,
    name: str,
    items: Iterable[SourceItem],
    *,
    provider: EmbeddingProvider[Any] | None = None,
    cache: EmbeddingCache | bool | None = True,
    batch_size: int | None = None,
    progress: Progress | None = None,
    engine: str | Engine = "online",
    prune: bool = False,
    **removed: Any,
) -> IndexReport:
    """Embed new or changed items (by id + content hash) into the serving version; resumable at any point.

    Metadata-only changes are written without embedding. Stored items the source no longer holds are
    counted (``report.not_in_source``) and, with ``prune=True``, deleted once the whole source was read
    (off by default: a partial source file must not empty a collection).
    ``engine``: ``"online"``, ``"batch"`` (the provider's batch API: half price, slow) or ``"ray"``
    (a Ray actor pool), or an engine object (omnivec.providers.stores.engines)."""
    refuse_removed(removed, "index_items")
    chosen = engine_for(engine)
    given = provider
    if given is not None and not isinstance(given, EmbeddingProvider):
        raise InvalidOptionError(
            f"provider must be an EmbeddingProvider, got {type(given).__name__} {given!r}: "
            "pass get_provider(ref), or leave it out to use the collection's (or OMNIVEC_MODEL's) model"
        )
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
        raise InvalidOptionError(f"batch_size must be a whole number of items >= 1, got {batch_size!r}")
    if given is not None:
        chosen.check(given)  # before the store is touched
    version, provider, created = ensure_collection(store, name, provider)
    report = IndexReport(name, version.version, created=created)
    writer = StoreWriter(store, name, version.version, provider, open_cache(store, cache), report, chosen)
    seen: set[str] = set()  # the source's ids, for the prune pass (O(ids) memory)

    def tracked() -> Iterator[SourceItem]:
        for position, item in enumerate(items):
            if not isinstance(item, SourceItem):
                raise InvalidInputError(
                    f"items[{position}] is {type(item).__name__}, not a SourceItem: build items with "
                    "SourceItem(id, content_key(text), text) or read_source(path)"
                )
            check_item(position, item)
            if item.id in seen:  # the later one would silently replace the earlier one
                raise InvalidInputError(
                    f"the source holds id {item.id!r} twice: ids must be unique (nothing after it was indexed; "
                    "fix the source and run again)"
                )
            seen.add(item.id)
            yield item

    try:
        if given is None:
            chosen.check(provider)  # the stored or configured model: known only now
        with store.lock(name, version.version):
            writer.run(batched(tracked(), batch_size or store.settings.batch_size), progress)
            if not writer.stopped and not report.failed:
                _prune(store, name, version.version, seen, report, prune)
            if not store.has_ann_index(name, version.version):  # once past index_min_rows (else None)
                report.index = store.build_index(name, version.version)
            if "lexical" in store.features:  # once; later rows are searched too
                report.lexical_index = store.build_lexical_index(name, version.version)
    except BaseException:
        if created and not store.count(name, version.version):
            store.drop_version(name, version.version)  # a failed first index leaves no model-locked shell
        raise
    if created and not report.seen:
        store.drop_version(name, version.version)
        raise InvalidInputError(f"the source for {name!r} holds no items: nothing was indexed and no collection made")
    return report


def _prune(store: VectorStore, name: str, version: int, seen: set[str], report: IndexReport, prune: bool) -> None:
    gone = [r.id for rows in store.scan(name, version, store.settings.batch_size) for r in rows if r.id not in seen]
    report.not_in_source = len(gone)
    if prune and not seen and gone:  # an empty file (a failed export, a wrong path glob) is no "delete all"
        raise InvalidInputError(
            f"the source holds no items: --prune would delete all {len(gone)} stored items of {name!r}; "
            f"nothing was deleted (to empty it, run 'omnivec drop {name}')"
        )
    if prune:
        for chunk in batched(gone, store.settings.batch_size):  # after the scan: never delete under a reader
            store.delete(name, version, chunk)
        report.pruned = len(gone)


def search(
    store: VectorStore,
    name: str,
    query: Input,
    k: int = 10,
    *,
    provider: EmbeddingProvider[Any] | None = None,
    override_fingerprint: bool = False,
    version: int | None = None,
    mode: str = "vector",
    where: Mapping[str, Any] | None = None,
    rrf_k: float = RRF_K,
    weights: Sequence[float] = (1.0, 1.0),
    candidates: int = 50,
    reranker: Reranker[Any] | None = None,
) -> list[Hit]:
    """Top-``k`` items of the serving version (or ``version``) for ``query``, embedded in its own space.

    ``mode``: ``"vector"`` (cosine), ``"lexical"`` (the store's full-text index; nothing embedded) or
    ``"hybrid"`` (the top ``candidates`` of both, fused by reciprocal rank: ``sum w / (rrf_k + rank)``,
    ``weights`` = (vector, lexical)). ``where``: a metadata filter (:mod:`.filters`) applied before the
    top k are taken. ``reranker``: the top ``candidates`` reordered by it. Bad options, filters and a
    reranker on a collection without text are refused before anything is embedded or sent."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:  # LanceDB raised ValueError, pgvector gave []
        raise InvalidOptionError(f"k must be a whole number of hits >= 1, got {k!r}")
    if isinstance(candidates, bool) or not isinstance(candidates, int) or candidates < 1:
        raise InvalidOptionError(f"candidates must be a whole number >= 1, got {candidates!r}")
    if isinstance(query, (list, tuple)):  # every one was embedded, then all but the first dropped
        raise InvalidInputError(
            f"search takes one query, got a {type(query).__name__} of {len(query)}: call it once per query"
        )
    info = require_serving(store, name) if version is None else _version(store, name, version)
    conditions = plan_search(
        store, info, query, mode=mode, where=where, rrf_k=rrf_k, weights=weights, reranker=reranker
    )
    depth = max(k, candidates) if mode == "hybrid" or reranker is not None else k
    filtered: dict[str, Any] = {"where": conditions} if conditions else {}  # stores without filters: old signature
    if mode == "lexical":
        hits = store.lexical_search(name, info.version, str(query), depth, **filtered)
    else:
        hits = store.search(name, info.version, _query_vector(store, info, query, provider, override_fingerprint),
                            depth, **filtered)  # fmt: skip
        if mode == "hybrid":
            lexical = store.lexical_search(name, info.version, str(query), depth, **filtered)
            hits = fuse_hits([hits, lexical], depth, rrf_k, weights)
    if reranker is not None:
        return rerank_hits(reranker, str(query), hits, k)
    return hits[:k]


def _query_vector(
    store: VectorStore, info: VersionInfo, query: Input, provider: EmbeddingProvider[Any] | None, override: bool
) -> np.ndarray:
    provider, mapper = query_provider(store, info, provider, override)  # its own space or an adapter's
    vector: np.ndarray = provider.embed_query_sync(query).vectors[0]
    if not np.isfinite(vector).all():
        raise EmbeddingError(f"the query embedding of {provider.ref} is not finite")
    return vector if mapper is None else mapper(vector)


def _version(store: VectorStore, name: str, version: int) -> VersionInfo:
    for info in store.versions(check_name(name)):
        if info.version == version:
            return info
    raise CollectionNotFoundError(f"collection {name!r} has no version {version} in {store.url}")


def describe_version(info: VersionInfo) -> str:
    fp = info.fingerprint
    return f"{fp.get('provider')}:{fp.get('model')}/{fp.get('dimensions')} #{fingerprint_hash(fp)}"
