"""Which vector space a query may come from, now that a version can hold space adapters.

The fingerprint guard stays strict: a version accepts a query vector only from its own space, or
from the ``from`` space of an adapter it holds, which then maps the vector into the version's space
first. Nothing else loosens. A version answers through an adapter with no model named only after
``switch --via-adapter`` chose one (``serving``); ``rollback`` undoes that choice.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from ..base import EmbeddingProvider
from ..errors import InvalidOptionError
from ..space_adapters import SpaceAdapter, predicted_verdict
from .base import AdapterRecord, VectorStore, VersionInfo, fingerprint_hash
from .errors import CollectionNotFoundError, SpaceOverrideWarning, VectorSpaceMismatchError, describe
from .serving import check_provider, provider_for, same_space

__all__ = [
    "Mapper",
    "adapter_from",
    "describe_adapter",
    "held_adapters",
    "held_out_score",
    "load_adapter",
    "provider_of_adapter",
    "query_provider",
    "require_adapter_store",
    "serving_adapter",
    "stop_serving_adapter",
    "verdict",
]

Mapper = Callable[[np.ndarray], np.ndarray]
_LOADED: dict[tuple[str, str, int, str], SpaceAdapter] = {}
_LOADED_LOCK = threading.Lock()


def held_out_score(record: AdapterRecord) -> float:
    """The adapter's held-out score (mean of mean cosine and overlap@10), as its fingerprint holds it."""
    held = record.meta.get("held_out") or {}
    return (float(held.get("mean_cosine", 0.0)) + float(held.get("overlap_at_10", 0.0))) / 2


def verdict(record: AdapterRecord) -> str:
    """'good', 'usable' or 'poor' (:data:`omnivec.providers.space_adapters.VERDICT_THRESHOLDS`)."""
    return predicted_verdict(held_out_score(record))


def describe_adapter(record: AdapterRecord) -> str:
    """``gemini:model/768 #hash`` of the model whose queries the adapter maps."""
    return describe(record.meta["from"])


def require_adapter_store(store: VectorStore) -> None:
    """Refuse a store that cannot hold adapters, with the way out (checked before anything is paid)."""
    if "adapters" not in store.features:
        raise InvalidOptionError(
            f"{type(store).__name__} cannot hold space adapters: adapt a collection in a store that can (LanceDB, "
            "pgvector, Qdrant, Milvus, Chroma; omnivec migrate NAME --to-store URL copies it there without re-embedding)"
        )


def held_adapters(store: VectorStore, info: VersionInfo) -> list[AdapterRecord]:
    """The adapters ``info`` holds, oldest first; one line naming the fix when there are none."""
    require_adapter_store(store)
    held = store.adapters(info.collection, info.version)
    if not held:
        name = info.collection
        raise CollectionNotFoundError(
            f"v{info.version} of {name!r} holds no adapter: run 'omnivec adapt {name} --to REF' first"
        )
    return held


def serving_adapter(store: VectorStore, info: VersionInfo) -> AdapterRecord | None:
    """The adapter ``info`` answers through (``switch --via-adapter``), or None."""
    return next((a for a in store.adapters(info.collection, info.version) if a.serving), None)


def adapter_from(store: VectorStore, info: VersionInfo, provider: EmbeddingProvider[Any]) -> AdapterRecord | None:
    """The adapter of ``info`` whose ``from`` space is ``provider``'s, or None."""
    space = provider.fingerprint("document").space().hash
    return next((a for a in store.adapters(info.collection, info.version) if a.from_hash == space), None)


def stop_serving_adapter(store: VectorStore, info: VersionInfo) -> AdapterRecord | None:
    """Undo ``switch --via-adapter`` (what ``rollback`` does first): the adapter that served, or None."""
    record = serving_adapter(store, info)
    if record is not None:
        store.serve_adapter(info.collection, info.version, None)
    return record


def load_adapter(store: VectorStore, record: AdapterRecord) -> SpaceAdapter:
    """The adapter itself, read once per process (keyed by its digest: a refit is read again)."""
    key = (store.url, record.collection, record.version, record.digest)
    with _LOADED_LOCK:
        if key not in _LOADED:
            if len(_LOADED) >= 16:  # a long-lived process that saw many refits keeps the recent ones
                _LOADED.pop(next(iter(_LOADED)))
            blob = store.adapter_blob(record.collection, record.version, record.from_hash)
            _LOADED[key] = SpaceAdapter.from_bytes(blob)
        return _LOADED[key]


def provider_of_adapter(record: AdapterRecord) -> EmbeddingProvider[Any]:
    """The model whose queries ``record`` maps, rebuilt from its stored ``from`` fingerprint the way a
    version's own provider is (:func:`.serving.provider_for`, kept per process)."""
    source = dict(record.meta["from"])
    return provider_for(
        VersionInfo(record.collection, record.version, source, fingerprint_hash(source), int(source["dimensions"]),
                    "live", record.created_at)
    )  # fmt: skip


def query_provider(
    store: VectorStore, info: VersionInfo, provider: EmbeddingProvider[Any] | None, override_fingerprint: bool
) -> tuple[EmbeddingProvider[Any], Mapper | None]:
    """The provider that embeds a query for ``info``, and the map its vectors need first (None: none).

    No provider: the serving adapter's model (mapped), else the version's own. A given provider: its
    own space, or the ``from`` space of an adapter the version holds (mapped); anything else is a
    :class:`VectorSpaceMismatchError` unless ``override_fingerprint`` (same width, unmapped, as before)."""
    if provider is None:
        record = serving_adapter(store, info)
        if record is None:
            return provider_for(info), None
        return provider_of_adapter(record), load_adapter(store, record).apply
    if override_fingerprint:
        if provider.dimensions != info.dimensions:  # no override bridges widths: refuse before the request
            raise VectorSpaceMismatchError(
                info.collection, f"query (even with the override: {info.dimensions}-d vectors)", info.fingerprint,
                provider.fingerprint("document").space().to_stored(),
            )  # fmt: skip
        if not same_space(info, provider):
            ours = provider.fingerprint("document").space().to_stored()
            warnings.warn(
                f"{info.collection} v{info.version} holds {describe(info.fingerprint)} vectors; querying it with "
                f"{describe(ours)} (--override-fingerprint) compares two vector spaces, so scores mean something "
                "only if the models are equivalent; `omnivec adapt` fits a map instead",
                SpaceOverrideWarning,
                stacklevel=3,
            )
        return provider, None
    if not same_space(info, provider):
        record = adapter_from(store, info, provider)
        if record is not None:
            return provider, load_adapter(store, record).apply
        check_provider(info, provider, "query")  # raises: neither its own space nor an adapter's
    return provider, None
