"""Find a store adapter from a URL scheme; third parties register in the ``omnivec.stores`` group.

An entry point maps a URL scheme to ``module:StoreClass`` (a :class:`~.base.VectorStore` subclass
taking a :class:`~.settings.StoreSettings`). Built-in adapters load only when asked for.
"""

from __future__ import annotations

import difflib
import importlib
from importlib.metadata import entry_points
from typing import Any, Final

from ..errors import ConfigurationError
from .base import VectorStore
from .settings import StoreSettings

__all__ = ["ENTRY_POINT_GROUP", "known_stores", "open_store"]

ENTRY_POINT_GROUP: Final = "omnivec.stores"
_BUILTIN: Final = {
    "lancedb": ".lance:LanceStore",
    "postgresql": ".pgvector:PgVectorStore",
    "postgres": ".pgvector:PgVectorStore",
    "qdrant": ".qdrant:QdrantStore",
    "qdrants": ".qdrant:QdrantStore",
    "qdrant+local": ".qdrant:QdrantStore",
    "milvus": ".milvus:MilvusStore",
    "milvuss": ".milvus:MilvusStore",
    "milvus+lite": ".milvus:MilvusStore",
    "chroma": ".chroma:ChromaStore",
    "chromas": ".chroma:ChromaStore",
    "chroma+local": ".chroma:ChromaStore",
}


def known_stores() -> dict[str, str]:
    """URL scheme -> ``module:Class``; built-ins win over entry points of the same scheme."""
    found = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return {**found, **_BUILTIN}


def open_store(store: str | StoreSettings | None = None, *, create: bool = True, **options: Any) -> VectorStore:
    """Open the store at ``store`` (a URL or settings); None reads ``OMNIVEC_STORE__URL`` / ``[store]``.

    ``create=False`` (read-only commands) refuses a store that does not exist instead of making one."""
    if store is None:
        from .config import configured_store_settings

        settings = configured_store_settings(**options)
    elif isinstance(store, str):
        from .config import store_settings  # (config reads omnivec.toml: imported when used, as above)

        settings = store_settings(url=store, **options)
    elif not isinstance(store, StoreSettings):  # an int or a Path here was an AttributeError on .url
        raise ConfigurationError(
            f"store must be a URL string ('lancedb://PATH', 'postgresql://...') or StoreSettings, got {store!r}"
        )
    else:
        settings = store.model_copy(update=options) if options else store
    scheme = settings.url.partition("://")[0].lower()
    target = known_stores().get(scheme)
    if target is None:
        close = difflib.get_close_matches(scheme, known_stores(), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigurationError(
            f"store url {settings.url!r}: unknown scheme {scheme!r}; {hint}known: {', '.join(sorted(known_stores()))}"
        )
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name, __package__ if module_name.startswith(".") else None)
    cls = getattr(module, attr)
    if not create and not cls.exists(settings):
        from .errors import CollectionNotFoundError

        raise CollectionNotFoundError(
            f"no store at {settings.url}: check the URL (--store / OMNIVEC_STORE), or create it with 'omnivec index'"
        )
    return cls(settings)  # type: ignore[no-any-return]
