"""Where vectors are stored: one URL switches stores, as one model reference switches providers.

``OMNIVEC_STORE__URL=postgresql://user@host/db`` or ``[store] url = "..."`` in ``omnivec.toml``.
SDK-free, so the config layer can type it without importing lancedb or psycopg.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["DEFAULT_STORE_URL", "BaseStoreSettings", "LanceSettings", "PgVectorSettings", "StoreSettings"]

DEFAULT_STORE_URL = "lancedb://./.omnivec"


class BaseStoreSettings(BaseModel):
    """What every store adapter reads: location, commit size, cache, ANN index policy, writer lock.

    A store's own knobs go in a subclass (:class:`LanceSettings`, :class:`PgVectorSettings`); a
    third-party store subclasses this one for its own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = DEFAULT_STORE_URL
    """``lancedb://PATH`` (embedded, the default) or ``postgresql://user:pass@host:port/db`` (pgvector)."""
    batch_size: int = Field(256, ge=1, le=100_000)
    """Items embedded and written per commit by ``index`` and ``migrate`` (one commit = one checkpoint)."""
    cache: str | None = "auto"
    """Embedding cache file; ``auto`` = inside a LanceDB store's folder (``_omnivec_cache.sqlite``), for
    other stores one per user (``$XDG_CACHE_HOME/omnivec/embeddings.sqlite``), so a rerun finds its
    vectors from any working folder; a path of your own; None (``"none"`` in TOML) disables it."""
    index: Literal["auto", "hnsw", "ivf_pq", "none"] = "auto"
    """ANN index built after a backfill: ``auto`` = HNSW on pgvector, IVF-PQ on LanceDB."""
    index_min_rows: int = Field(10_000, ge=0)
    """Below this many rows exact search is fast enough and no ANN index is built."""
    lock_timeout_s: float = Field(600.0, ge=0)
    """How long a writer waits for another writer of the same collection version."""

    @field_validator("cache")
    @classmethod
    def _no_cache_spelt_in_toml(cls, cache: str | None) -> str | None:
        # TOML has no null: `cache = "none"` (what the docs say) must turn the cache off, not open a
        # SQLite file named "none" in the working folder.
        if cache is not None and cache.strip().lower() in ("none", ""):
            return None
        return cache

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        scheme = url.partition("://")[0].lower() if "://" in url else ""
        if not scheme:
            raise ValueError(f"store url {url!r} has no scheme: use 'lancedb://PATH' or 'postgresql://...'")
        return url


class LanceSettings(BaseStoreSettings):
    """LanceDB's own knobs: the IVF-PQ search."""

    nprobes: int = Field(20, ge=1)
    refine_factor: int = Field(10, ge=1)
    """LanceDB IVF-PQ re-ranking; without it recall@10 is about 0.55 (see docs/stores.md)."""


class PgVectorSettings(BaseStoreSettings):
    """pgvector's own knobs: the HNSW build and search."""

    hnsw_m: int = Field(16, ge=2)
    hnsw_ef_construction: int = Field(64, ge=4)
    ef_search: int = Field(100, ge=1)
    """pgvector ``hnsw.ef_search`` per query (recall vs latency)."""


class StoreSettings(LanceSettings, PgVectorSettings):
    """The ``[store]`` table: the common settings and every built-in store's knobs, so one config
    serves whichever store the URL names (each adapter reads only its own class's fields)."""
