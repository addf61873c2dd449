"""Vector stores that remember their vector space: index, search, migrate, switch, rollback.

    >>> from omnivec.providers.stores import open_store, index_items, search   # doctest: +SKIP
    >>> store = open_store("lancedb://./.omnivec")                             # or postgresql://...
    >>> index_items(store, "docs", read_source("corpus.jsonl"))
    >>> search(store, "docs", "how do I return an item?", k=5)

Adapters (LanceDB, PostgreSQL + pgvector) load only when a store of their scheme is opened.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .settings import DEFAULT_STORE_URL, StoreSettings

if TYPE_CHECKING:
    from .base import Hit, Row, VectorStore, VersionInfo, fingerprint_hash
    from .collection import IndexReport, index_items, provider_for, search, serving_version
    from .errors import CollectionNotFoundError, MigrationIncompleteError, StoreError, VectorSpaceMismatchError
    from .migration import MigrationReport, doctor, drop, migrate, rollback, switch
    from .registry import ENTRY_POINT_GROUP, known_stores, open_store
    from .sources import SourceError, SourceItem, read_source

# The config layer imports StoreSettings from here while omnivec.providers is still initialising,
# and the store modules import that config: so everything but the settings loads on first use.
_LAZY = {
    "base": ("Hit", "Row", "VectorStore", "VersionInfo", "fingerprint_hash"),
    "collection": ("IndexReport", "index_items", "provider_for", "search", "serving_version"),
    "errors": ("CollectionNotFoundError", "MigrationIncompleteError", "StoreError", "VectorSpaceMismatchError"),
    "migration": ("MigrationReport", "doctor", "drop", "migrate", "rollback", "switch"),
    "registry": ("ENTRY_POINT_GROUP", "known_stores", "open_store"),
    "sources": ("SourceError", "SourceItem", "read_source"),
}
_MODULE_OF = {name: module for module, names in _LAZY.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{module}", __name__), name)


__all__ = [
    "DEFAULT_STORE_URL",
    "ENTRY_POINT_GROUP",
    "CollectionNotFoundError",
    "Hit",
    "IndexReport",
    "MigrationIncompleteError",
    "MigrationReport",
    "Row",
    "SourceError",
    "SourceItem",
    "StoreError",
    "StoreSettings",
    "VectorSpaceMismatchError",
    "VectorStore",
    "VersionInfo",
    "doctor",
    "drop",
    "fingerprint_hash",
    "index_items",
    "known_stores",
    "migrate",
    "open_store",
    "provider_for",
    "read_source",
    "rollback",
    "search",
    "serving_version",
    "switch",
]
