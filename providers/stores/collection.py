"""Collections as the application sees them: open by name, index, search — in the right vector space.

The provider of a collection is resolved from the fingerprint stored with its serving version, so a
query is never embedded with another model. Passing a provider whose fingerprint differs raises
:class:`VectorSpaceMismatchError` before anything is embedded, written or searched; for queries
``override_fingerprint=True`` lets a deliberately equivalent provider through (writes never).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, TypeVar

import numpy as np

from ..base import EmbeddingProvider
from ..cache import EmbeddingCache
from ..config import load_provider
from ..errors import (
    AuthenticationError,
    ConfigurationError,
    EmbeddingError,
    InvalidInputError,
    InvalidOptionError,
    ProviderTimeoutError,
    ServiceUnavailableError,
)
from ..inputs import Input
from . import _embed
from .base import Hit, Row, VectorStore, VersionInfo, check_name, fingerprint_hash
from .errors import CollectionNotFoundError, VectorSpaceMismatchError
from .sources import SourceItem

__all__ = ["IndexReport", "batched", "index_items", "open_cache", "provider_for", "search", "serving_version"]

T = TypeVar("T")
Progress = Callable[[int], None]


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def open_cache(store: VectorStore, cache: EmbeddingCache | bool | None = True) -> EmbeddingCache | None:
    if isinstance(cache, EmbeddingCache) or cache is None or cache is False:
        return cache or None
    path = store.cache_path()
    return EmbeddingCache(path) if path is not None else None


def serving_version(store: VectorStore, name: str) -> VersionInfo | None:
    """The version the alias points at; a first version left without alias by a crash is adopted."""
    check_name(name)
    versions = store.versions(name)
    pointer = store.alias(name)
    if pointer is not None:
        found = [v for v in versions if v.version == pointer[0]]
        if found:
            return found[0]
    if not versions:
        return None
    first = versions[0]
    store.set_state(name, first.version, "live")
    store.set_alias(name, first.version, None)
    return first


def require_serving(store: VectorStore, name: str) -> VersionInfo:
    version = serving_version(store, name)
    if version is None:
        raise CollectionNotFoundError(
            f"no collection {name!r} in {store.url}: create it with 'omnivec index SOURCE --collection {name}'"
        )
    return version


_PROVIDERS: dict[tuple[str, ...], EmbeddingProvider[Any]] = {}
_PROVIDERS_LOCK = threading.Lock()
_ENDPOINT_ENV = ("AWS_", "GOOGLE_", "GEMINI_", "OMNIVEC_")


def provider_for(version: VersionInfo) -> EmbeddingProvider[Any]:
    """The provider that made ``version``'s vectors, rebuilt from its stored fingerprint.

    Kept per process (keyed by fingerprint and the endpoint/credential environment), so a search
    does not reload a local model or rebuild an SDK client on every query.
    """
    env = sorted(f"{k}={v}" for k, v in os.environ.items() if k.startswith(_ENDPOINT_ENV))
    key = (version.fingerprint_hash, *env)
    with _PROVIDERS_LOCK:
        if key not in _PROVIDERS:
            _PROVIDERS[key] = _build_provider(version)
        return _PROVIDERS[key]


def _build_provider(version: VersionInfo) -> EmbeddingProvider[Any]:
    fp = version.fingerprint
    ref = f"{fp['provider']}:{fp['model']}"
    provider = load_provider(model=ref, dimensions=int(fp["dimensions"]))
    if not _embed.matches(fp, provider) and bool(fp.get("normalized")) != provider.normalizes:
        provider = load_provider(model=ref, dimensions=int(fp["dimensions"]), normalize=bool(fp.get("normalized")))
    check_provider(version, provider, "embed for it")  # config (e.g. a prompt) changed the space
    return provider


def check_provider(version: VersionInfo, provider: EmbeddingProvider[Any], action: str) -> None:
    if not _embed.matches(version.fingerprint, provider):
        raise VectorSpaceMismatchError(
            version.collection, action, _embed.space(version.fingerprint), _embed.normalized_fingerprint(provider)
        )


@dataclass
class IndexReport:
    collection: str
    version: int
    seen: int = 0
    unchanged: int = 0
    embedded: int = 0
    cached: int = 0
    input_tokens: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    created: bool = False
    relabeled: int = 0
    """Items whose metadata alone changed: rewritten with their stored vector, not embedded again."""
    not_in_source: int = 0
    """Stored items the source no longer has (deleted with ``prune=True``, else kept and counted)."""
    pruned: int = 0
    index: str | None = None
    """The ANN index this run built (the collection passed ``index_min_rows``), if any."""


def _ensure_collection(
    store: VectorStore, name: str, provider: EmbeddingProvider[Any] | None
) -> tuple[VersionInfo, EmbeddingProvider[Any], bool]:
    serving = serving_version(store, name)
    if serving is not None:
        if provider is None:
            return serving, provider_for(serving), False
        check_provider(serving, provider, "write")
        return serving, provider, False
    provider = provider or load_provider()
    with store.lock(name, 0):  # the catalog lock: two first runs create one version, not two
        serving = serving_version(store, name)
        if serving is None:
            info = store.create_version(name, 1, _embed.normalized_fingerprint(provider))
            store.set_state(name, 1, "live")
            store.set_alias(name, 1, None)
            return info, provider, True
    check_provider(serving, provider, "write")
    return serving, provider, False


def index_items(
    store: VectorStore,
    name: str,
    items: Iterable[SourceItem],
    *,
    provider: EmbeddingProvider[Any] | None = None,
    cache: EmbeddingCache | bool | None = True,
    batch_size: int | None = None,
    progress: Progress | None = None,
    bulk: str = "online",
    prune: bool = False,
) -> IndexReport:
    """Embed new or changed items (by id + content hash) into the serving version; resumable at any point.

    Metadata-only changes are written without embedding. Stored items the source no longer holds are
    counted (``report.not_in_source``) and, with ``prune=True``, deleted once the whole source was read
    (off by default: a partial source file must not empty a collection).
    ``bulk="batch"``: by the provider's batch API (half price, slow; omnivec.providers.stores._bulk)."""
    from ._bulk import bulk_sync, check_bulk

    check_bulk(bulk, provider)
    version, provider, created = _ensure_collection(store, name, provider)
    report = IndexReport(name, version.version, created=created)
    sync = bulk_sync(bulk, store, name, version.version, provider, open_cache(store, cache), report)
    seen: set[str] = set()  # the source's ids, for the prune pass (O(ids) memory)

    def tracked() -> Iterator[SourceItem]:
        for position, item in enumerate(items):
            if not isinstance(item, SourceItem):
                raise InvalidInputError(
                    f"items[{position}] is {type(item).__name__}, not a SourceItem: build items with "
                    "SourceItem(id, content_key(text), text) or read_source(path)"
                )
            if item.id in seen:  # the later one would silently replace the earlier one
                raise InvalidInputError(
                    f"the source holds id {item.id!r} twice: ids must be unique (nothing after it was indexed; "
                    "fix the source and run again)"
                )
            seen.add(item.id)
            yield item

    try:
        with store.lock(name, version.version):
            sync.run(batched(tracked(), batch_size or store.settings.batch_size), progress)
            if not sync.stopped and not report.failed:
                _prune(store, name, version.version, seen, report, prune)
            if not store.has_ann_index(name, version.version):  # once past index_min_rows (else None)
                report.index = store.build_index(name, version.version)
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
    if prune:
        for chunk in batched(gone, store.settings.batch_size):  # after the scan: never delete under a reader
            store.delete(name, version, chunk)
        report.pruned = len(gone)


_UNREACHABLE = (ServiceUnavailableError, ProviderTimeoutError, AuthenticationError, ConfigurationError)


class Sync:
    """The one write loop of ``index``, ``migrate`` and ``switch``: diff by hash, embed, commit per batch.

    The target table is the checkpoint: a batch is embedded only if its rows are missing or stale
    there, and written in one commit, so a kill at any point loses at most the batches in flight (the
    one being committed and the ``_embed.STORE_WINDOW`` read ahead of it); the next run embeds only those.
    """

    def __init__(
        self,
        store: VectorStore,
        name: str,
        version: int,
        provider: EmbeddingProvider[Any],
        cache: EmbeddingCache | None,
        report: IndexReport,
        price_per_token: float = 0.0,
        max_cost: float | None = None,
    ) -> None:
        self.store, self.name, self.version, self.provider, self.cache = store, name, version, provider, cache
        self.report, self.price, self.max_cost, self.spent = report, price_per_token, max_cost, 0.0
        self.fingerprint = _embed.normalized_fingerprint(provider)  # checked by the store on every write
        self.stopped = False

    def _todo(self, batch: list[SourceItem]) -> list[SourceItem]:
        """The items to embed; items whose content is unchanged but metadata is not are rewritten
        here with their stored vector (one commit, nothing embedded)."""
        latest = {item.id: item for item in batch}  # a repeated id in one batch: the last one wins
        have = {row.id: row for row in self.store.rows(self.name, self.version, list(latest))}
        todo = [i for i in latest.values() if i.id not in have or have[i.id].content_hash != i.content_hash]
        fresh = {i.id for i in todo}
        relabel = [i.id for i in latest.values() if i.id not in fresh and dict(have[i.id].metadata) != dict(i.metadata)]
        if relabel:
            stored = self.store.rows(self.name, self.version, relabel, vectors=True)
            rows = [Row(r.id, r.content_hash, r.text, r.uri, latest[r.id].metadata, r.vector) for r in stored]
            self.store.upsert(self.name, self.version, rows, fingerprint=self.fingerprint)
            self.report.relabeled += len(rows)
        self.report.seen += len(batch)
        self.report.unchanged += len(latest) - len(todo) - len(relabel)
        return todo

    def _afford(self, todo: list[SourceItem]) -> bool:
        """Book ``todo``'s estimated cost (characters / 4 tokens); False (and ``stopped``) past ``max_cost``."""
        cost = sum(len(i.text or "") for i in todo) / 4.0 * self.price
        if self.max_cost is not None and self.spent + cost > self.max_cost:
            self.stopped = True
            return False
        self.spent += cost
        return True

    def _run_windowed(self, batches: Iterable[list[SourceItem]], window: int, progress: Progress | None) -> None:
        """For engines that embed big groups at once (batch jobs, Ray): gather up to ``window`` items
        still to do, then hand them to ``self._flush``; unchanged ones count as progress at once."""
        pending: dict[str, SourceItem] = {}
        for batch in batches:
            todo = self._todo(batch)
            if not self._afford(todo):
                break
            pending.update((item.id, item) for item in todo)
            if progress is not None and len(todo) < len(batch):
                progress(len(batch) - len(todo))
            if len(pending) >= window:
                self._flush(list(pending.values()), progress)
                pending = {}
        if pending:
            self._flush(list(pending.values()), progress)

    def _flush(self, items: list[SourceItem], progress: Progress | None) -> None:
        raise NotImplementedError("only engines that use _run_windowed embed in groups")

    def _commit(self, embedded: _embed.Embedded, progress: Progress | None, size: int) -> None:
        if embedded.systemic is not None:
            raise embedded.systemic
        self.store.upsert(self.name, self.version, embedded.rows, fingerprint=self.fingerprint)
        self.report.embedded += embedded.embedded
        self.report.cached += embedded.cached
        self.report.input_tokens += embedded.input_tokens
        self.report.failed.update(embedded.failed)
        if progress is not None:
            progress(size)

    def run(self, batches: Iterable[list[SourceItem]], progress: Progress | None = None) -> None:
        """Diff each batch, then embed what is left through the shared stream (omnivec.providers._stream):
        batch i is committed here while the next ``_embed.STORE_WINDOW`` batches are embedded."""

        def todos() -> Iterator[tuple[list[SourceItem], int]]:  # read on this thread, as the stream asks
            probe = True
            for batch in batches:
                todo = self._todo(batch)
                if not self._afford(todo):
                    return
                if probe and len(todo) > 1:  # the first call alone: an unreachable endpoint fails after one
                    yield todo[:1], -1  # call's retries, not after a whole batch's (548 s were seen)
                    todo = todo[1:]
                probe = probe and not todo
                yield todo, len(batch)

        with closing(_embed.stream(self.provider, self.cache, todos())) as results:  # a failed commit stops the calls
            for embedded, size in results:
                if size == -1:  # the probe: only an unreachable or refusing endpoint stops the run
                    if embedded.systemic is not None and not isinstance(embedded.systemic, _UNREACHABLE):
                        embedded.systemic = None
                    size = 0
                self._commit(embedded, progress, size)


def search(
    store: VectorStore,
    name: str,
    query: Input,
    k: int = 10,
    *,
    provider: EmbeddingProvider[Any] | None = None,
    override_fingerprint: bool = False,
    version: int | None = None,
) -> list[Hit]:
    """Top-``k`` items of the serving version (or ``version``) for ``query``, embedded in its own space."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:  # LanceDB raised ValueError, pgvector gave []
        raise InvalidOptionError(f"k must be a whole number of hits >= 1, got {k!r}")
    info = require_serving(store, name) if version is None else _version(store, name, version)
    if provider is None:
        provider = provider_for(info)
    elif not override_fingerprint:
        check_provider(info, provider, "query")
    elif provider.dimensions != info.dimensions:  # no override bridges widths: refuse before the request
        raise VectorSpaceMismatchError(
            name, f"query (even with the override: {info.dimensions}-d vectors)", info.fingerprint,
            _embed.normalized_fingerprint(provider),
        )  # fmt: skip
    vector = provider.embed_query_sync(query).vectors[0]
    if not np.isfinite(vector).all():
        raise EmbeddingError(f"the query embedding of {provider.ref} is not finite")
    return store.search(name, info.version, vector, k)


def _version(store: VectorStore, name: str, version: int) -> VersionInfo:
    for info in store.versions(check_name(name)):
        if info.version == version:
            return info
    raise CollectionNotFoundError(f"collection {name!r} has no version {version} in {store.url}")


def describe_version(info: VersionInfo) -> str:
    fp = info.fingerprint
    return f"{fp.get('provider')}:{fp.get('model')}/{fp.get('dimensions')} #{fingerprint_hash(fp)}"
