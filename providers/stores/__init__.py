"""Vector stores that remember their vector space: index, search, migrate, switch, rollback.

    >>> from omnivec.providers.stores import open_store, index_items, search   # doctest: +SKIP
    >>> store = open_store("lancedb://./.omnivec")                             # or postgresql://...
    >>> index_items(store, "docs", read_source("corpus.jsonl"))
    >>> search(store, "docs", "how do I return an item?", k=5)
    >>> adapt(store, "docs", "gemini:gemini-embedding-2")   # the new model's queries, mapped: no re-embed

Adapters (LanceDB, PostgreSQL + pgvector) load only when a store of their scheme is opened; the Ray
engine imports ``ray`` only when it runs.
"""

from __future__ import annotations

from .adapting import AdaptReport, adapt, switch_via_adapter
from .base import AdapterRecord, Hit, Row, VectorStore, VersionInfo, fingerprint_hash
from .collection import IndexReport, index_items, provider_for, search, serving_version
from .doctor import doctor
from .engines import BatchAPI, Online, Ray
from .errors import (
    CollectionNotFoundError,
    MigrationIncompleteError,
    SpaceOverrideWarning,
    StoreError,
    VectorSpaceMismatchError,
)
from .migration import MigrationReport, drop, migrate, rollback, switch
from .ray_engine import write_to_store
from .registry import ENTRY_POINT_GROUP, known_stores, open_store
from .settings import DEFAULT_STORE_URL, StoreSettings
from .sources import SourceError, SourceItem, read_source

__all__ = [
    "DEFAULT_STORE_URL",
    "ENTRY_POINT_GROUP",
    "AdaptReport",
    "AdapterRecord",
    "BatchAPI",
    "CollectionNotFoundError",
    "Hit",
    "IndexReport",
    "MigrationIncompleteError",
    "MigrationReport",
    "Online",
    "Ray",
    "Row",
    "SourceError",
    "SourceItem",
    "SpaceOverrideWarning",
    "StoreError",
    "StoreSettings",
    "VectorSpaceMismatchError",
    "VectorStore",
    "VersionInfo",
    "adapt",
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
    "switch_via_adapter",
    "write_to_store",
]
