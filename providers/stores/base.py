"""The :class:`VectorStore` interface every store adapter implements, and the rows it moves.

A store keeps *versions* of a collection: one table per version (``<name>__v<N>``), each holding one
vector space only, described once by its full fingerprint in the store's catalog. An alias row per
collection says which version serves; flipping it is one atomic write, so readers see the old or
the new version, never a mix. Adapters know nothing about providers: the fingerprint checks, the
embedding and the migration loop live in :mod:`.collection`, identical for every store.
"""

from __future__ import annotations

import functools
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from ..errors import InvalidOptionError
from ..types import Fingerprint
from .errors import CollectionNotFoundError, StoreError, VectorSpaceMismatchError
from .filters import Condition, FieldType
from .settings import BaseStoreSettings

__all__ = [
    "AdapterRecord",
    "Feature",
    "Hit",
    "Row",
    "State",
    "VectorStore",
    "VersionInfo",
    "check_name",
    "fingerprint_hash",
]

State = Literal["building", "ready", "live", "retired"]
Feature = Literal["filters", "lexical", "adapters"]
"""Optional store features (:attr:`VectorStore.features`): ``filters`` = typed metadata columns and
``search(..., where=)``; ``lexical`` = a full-text index and :meth:`VectorStore.lexical_search`
(what hybrid search fuses with the vectors); ``adapters`` = space adapters in the catalog
(:meth:`VectorStore.put_adapter` and the methods beside it; ``adapt`` refuses a store without it
before anything is embedded)."""
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def check_name(name: str) -> str:
    """Collection names become table names in every store: lowercase letters, digits, ``_``; 1–40 chars."""
    if not isinstance(name, str) or not _NAME.match(name) or "__" in name:
        raise InvalidOptionError(
            f"collection name {name!r} is not allowed: use 1-40 lowercase letters, digits and single '_', "
            "starting with a letter"
        )
    return name


def fingerprint_hash(fingerprint: Mapping[str, Any]) -> str:
    """The digest of a stored fingerprint: :meth:`omnivec.providers.Fingerprint.digest`, the one digest."""
    return Fingerprint.digest(fingerprint)


@dataclass(frozen=True, slots=True)
class Row:
    """One stored item: its source (text, or a URI for images/media), content hash, metadata and vector."""

    id: str
    content_hash: str
    text: str | None = None
    uri: str | None = None
    """Where an image/media item can be read again (``file://``, ``s3://``...); None for text."""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    vector: np.ndarray | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    id: str
    score: float
    """Cosine similarity (1 - cosine distance)."""
    metadata: Mapping[str, Any]
    text: str | None = None
    uri: str | None = None


@dataclass(frozen=True, slots=True)
class VersionInfo:
    collection: str
    version: int
    fingerprint: Mapping[str, Any]
    fingerprint_hash: str
    dimensions: int
    state: State
    created_at: str

    @property
    def table(self) -> str:
        return f"{self.collection}__v{self.version}"


@dataclass(frozen=True, slots=True)
class AdapterRecord:
    """A space adapter held in a version's catalog: one per ``from`` space (the blob is read apart).

    ``meta`` is the adapter's own fingerprint (:attr:`omnivec.providers.space_adapters.SpaceAdapter.fingerprint`:
    its ``from`` and ``to`` spaces, kind, sample and held-out score); ``serving`` says the version
    answers queries through it (``switch --via-adapter``)."""

    collection: str
    version: int
    from_hash: str
    """The space hash of the model whose query vectors it maps (``meta["from"]``)."""
    digest: str
    meta: Mapping[str, Any]
    serving: bool
    created_at: str


def _forgetting_space(method: Callable[..., Any]) -> Callable[..., Any]:
    if getattr(method, "_forgets_space", False):
        return method

    @functools.wraps(method)
    def forgetting(self: VectorStore, collection: str, version: int, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, collection, version, *args, **kwargs)
        finally:  # also after a failure: the version may be half gone
            self._spaces.pop((collection, version), None)

    forgetting._forgets_space = True  # type: ignore[attr-defined]
    return forgetting


class VectorStore(ABC):
    """A place that keeps collection versions. Implementations: LanceDB, PostgreSQL + pgvector."""

    scheme: ClassVar[str]
    features: ClassVar[frozenset[Feature]] = frozenset()
    """What this store does beyond the base interface. The collection layer refuses ``where=`` and
    ``mode="lexical"/"hybrid"`` in one line on a store that does not declare them, and the contract
    suite skips their cases; a store that declares one must pass its cases."""
    lookup_ids: ClassVar[int | None] = None
    """How many ids one :meth:`hashes` call takes well, where that beats the settings' batch size: a
    LanceDB lookup costs ~9 ms whatever its size up to 10,000 ids, so the delete pass after a 1 M-item
    migration took 117 s in lookups of 1,000 and 23-25 s in lookups of 10,000. ``None``: the batch size."""

    def __init__(self, settings: BaseStoreSettings) -> None:
        self.settings = settings
        self._spaces: dict[tuple[str, int], tuple[str, int]] = {}
        """(collection, version) -> its space's hash and width, read once per handle; forgotten whenever this handle
        creates or drops that version (see :meth:`__init_subclass__`)."""
        self.on_lock_wait: Callable[[str], None] | None = None
        """Told once when a writer has to wait for another writer's lock (the CLI prints it)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Wrap every adapter's ``create_version``/``drop_version`` (third-party ones too) so they forget
        the cached space of that version: after drop + create of the same number with another model, a
        stale cache refused the new model's rows and took the old one's."""
        super().__init_subclass__(**kwargs)
        for name in ("create_version", "drop_version"):
            method = cls.__dict__.get(name)
            if method is not None and not getattr(method, "__isabstractmethod__", False):
                setattr(cls, name, _forgetting_space(method))

    def _waiting(self, collection: str, version: int) -> None:
        if self.on_lock_wait is not None:
            self.on_lock_wait(
                f"{collection}__v{version} is locked by another writer (an index, migrate or switch running): "
                f"waiting for it, up to {self.settings.lock_timeout_s:.0f} s"
            )

    @property
    def url(self) -> str:
        return self.settings.url

    @classmethod
    def exists(cls, settings: BaseStoreSettings) -> bool:
        """Whether the store is there already (read-only commands never create one)."""
        return True

    def cache_path(self) -> Path | None:
        """Where this store's embedding cache lives (``settings.cache``; ``auto``: one per user)."""
        if self.settings.cache is None:
            return None
        if self.settings.cache != "auto":
            return Path(self.settings.cache)
        home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        return Path(home) / "omnivec" / "embeddings.sqlite"

    # catalog ------------------------------------------------------------------------------------
    @abstractmethod
    def create_version(self, collection: str, version: int, fingerprint: Mapping[str, Any]) -> VersionInfo:
        """Create an empty version table and record its fingerprint (state ``building``)."""

    @abstractmethod
    def versions(self, collection: str) -> list[VersionInfo]:
        """Every version of ``collection``, oldest first (empty if there is none)."""

    @abstractmethod
    def collections(self) -> list[str]:
        """Names of the collections with at least one version."""

    @abstractmethod
    def set_state(self, collection: str, version: int, state: State) -> None: ...

    @abstractmethod
    def alias(self, collection: str) -> tuple[int, int | None] | None:
        """``(serving version, previous version)``, or None before the first switch."""

    @abstractmethod
    def set_alias(self, collection: str, version: int, previous: int | None) -> None:
        """Point the collection at ``version`` in ONE atomic write."""

    def flip(self, collection: str, version: int, previous: int, previous_state: State) -> None:
        """Serve ``version`` (state ``live``), remember ``previous`` (now ``previous_state``): alias and
        states in ONE commit, so a crash never leaves a version serving in state ``ready``.
        Built-in stores do it atomically; this fallback (third-party stores) writes the alias first."""
        self.set_alias(collection, version, previous)
        self.set_state(collection, version, "live")
        self.set_state(collection, previous, previous_state)

    @abstractmethod
    def drop_version(self, collection: str, version: int) -> None:
        """Delete a version's table and catalog row, and the adapters it holds (refused by the caller
        while it serves)."""

    # adapters in the catalog (see :mod:`.adapter_catalog`); stores that predate them refuse in one line
    def put_adapter(self, record: AdapterRecord, blob: bytes) -> None:
        """Hold ``blob`` (``SpaceAdapter.to_bytes()``) in the version's catalog, replacing the one of
        the same ``from_hash`` in ONE commit; :class:`CollectionNotFoundError` if there is no such version."""
        raise StoreError(f"{type(self).__name__} cannot hold space adapters: implement put_adapter and adapters")

    def adapters(self, collection: str, version: int) -> list[AdapterRecord]:
        """The adapters ``version`` holds, oldest first (without their blobs; empty if none)."""
        return []

    def adapter_blob(self, collection: str, version: int, from_hash: str) -> bytes:
        """The bytes :meth:`put_adapter` stored for that ``from`` space (:class:`CollectionNotFoundError` if none)."""
        raise CollectionNotFoundError(f"{collection}__v{version} holds no adapter from #{from_hash}")

    def serve_adapter(self, collection: str, version: int, from_hash: str | None) -> None:
        """Make ``version`` answer through its adapter of ``from_hash`` (None: through none), in ONE
        write: at most one adapter of a version serves."""
        raise StoreError(f"{type(self).__name__} cannot hold space adapters: implement serve_adapter")

    # data ---------------------------------------------------------------------------------------
    @abstractmethod
    def hashes(self, collection: str, version: int, ids: Sequence[str]) -> dict[str, str]:
        """``id -> content_hash`` for the given ids that exist in the version."""

    def rows(self, collection: str, version: int, ids: Sequence[str], *, vectors: bool = False) -> list[Row]:
        """The stored rows of the given ids that exist (metadata included; vectors on request)."""
        raise NotImplementedError(f"{type(self).__name__} cannot read rows by id: index cannot sync metadata")

    @abstractmethod
    def upsert(self, collection: str, version: int, rows: Sequence[Row], *, fingerprint: Mapping[str, Any]) -> None:
        """Insert or replace rows by id, in ONE commit (the commit is the checkpoint); the rows' vectors
        come from ``fingerprint``'s space, checked first by :meth:`check_writer`."""

    def _space(self, collection: str, version: int) -> tuple[str, int]:
        key = (collection, version)
        if key not in self._spaces:
            info = next((v for v in self.versions(collection) if v.version == version), None)
            if info is None:
                raise CollectionNotFoundError(f"collection {collection!r} has no version {version} in {self.url}")
            self._spaces[key] = (Fingerprint.from_stored(info.fingerprint).space().hash, info.dimensions)
        return self._spaces[key]

    def check_writer(self, collection: str, version: int, fingerprint: Mapping[str, Any]) -> None:
        """Refuse rows of another vector space than the version's, where rows are written: the width
        guard of the table alone let a MiniLM 384-d vector into a Nova-384 collection."""
        given = Fingerprint.from_stored(fingerprint).space()
        if given.hash != self._space(collection, version)[0]:
            self._spaces.pop((collection, version))  # read it again: another handle may have dropped and
            if given.hash == self._space(collection, version)[0]:  # created it anew (costs only a refusal)
                return
            stored = next(v for v in self.versions(collection) if v.version == version).fingerprint
            space = Fingerprint.from_stored(stored).space().as_dict()
            raise VectorSpaceMismatchError(collection, f"write into v{version}", space, given.as_dict())

    def check_vectors(self, collection: str, version: int, rows: Sequence[Row]) -> np.ndarray:
        """The rows' vectors as one ``(len(rows), dims)`` float32 matrix, or a one-line
        :class:`StoreError` naming the first row whose vector is not ``dims`` wide or not finite, before
        anything is written. Every store calls it (a NaN was a bare numpy/lancedb/psycopg error, +inf
        was stored by LanceDB and never found again); one ``isfinite`` over the batch keeps it cheap."""
        dims, table = self._space(collection, version)[1], f"{collection}__v{version}"
        vectors = [np.asarray(r.vector, dtype=np.float32) for r in rows]
        for row, vector in zip(rows, vectors, strict=True):
            if vector.shape != (dims,):
                got = "no vector" if row.vector is None else f"a vector of shape {vector.shape}"
                raise StoreError(f"{table} holds {dims}-d vectors; row {row.id!r} has {got}: nothing was written")
        matrix = np.stack(vectors) if vectors else np.empty((0, dims), dtype=np.float32)
        finite = np.isfinite(matrix).all(axis=1)
        if not finite.all():
            bad = rows[int(np.argmin(finite))].id
            raise StoreError(
                f"{table} refused row {bad!r}: its vector has NaN or infinite values (a failed embedding?); "
                "nothing of the batch was written"
            )
        return matrix

    @abstractmethod
    def delete(self, collection: str, version: int, ids: Sequence[str]) -> None: ...

    @abstractmethod
    def scan(self, collection: str, version: int, batch_size: int, *, vectors: bool = False) -> Iterator[list[Row]]:
        """Stream every row in batches; memory stays bounded by ``batch_size``."""

    def ids(self, collection: str, version: int, batch_size: int) -> Iterator[list[str]]:
        """Every stored id, in batches: what drawing a sample needs (no text, no vectors). This default
        reads whole rows; stores that can read the id column alone override it."""
        for rows in self.scan(collection, version, batch_size):
            yield [r.id for r in rows]

    @abstractmethod
    def search(
        self,
        collection: str,
        version: int,
        vector: np.ndarray,
        k: int,
        *,
        exact: bool = False,
        where: Sequence[Condition] = (),
    ) -> list[Hit]:
        """Cosine top-``k``. ``where`` (stores with the ``filters`` feature; checked conditions, ANDed)
        restricts the search to matching rows BEFORE the top ``k`` are taken; the collection layer
        passes it only when a filter was given, so stores without the feature keep the old signature."""

    # optional features (see ``features``) ------------------------------------------------------------
    def metadata_fields(self, collection: str, version: int) -> dict[str, FieldType]:
        """``filters``: the version's typed metadata columns, key -> ``str``/``int``/``float``/``bool``."""
        return {}

    def check_conditions(self, conditions: Sequence[Condition], table: str) -> None:  # noqa: B027 - none by default
        """``filters``: refuse, in one :class:`InvalidOptionError` line naming the operator and the store,
        a checked condition this engine cannot push down (the collection layer calls it before the query
        is embedded; ``search`` again). Never filtered here after a top-k: that would lose rows."""

    def lexical_search(
        self, collection: str, version: int, text: str, k: int, *, where: Sequence[Condition] = ()
    ) -> list[Hit]:
        """``lexical``: the top-``k`` rows for ``text`` by the store's full-text ranking (``Hit.score`` is
        that ranking's score, e.g. BM25), over the stored ``text`` only; rows written after the index
        was built are found too."""
        raise StoreError(f"{type(self).__name__} has no full-text search (it does not declare the 'lexical' feature)")

    def build_lexical_index(self, collection: str, version: int) -> str | None:
        """``lexical``: build the full-text index over ``text`` if it is missing (``index`` and
        ``migrate`` call it after the rows are written); returns what was built, or None."""
        return None

    @abstractmethod
    def count(self, collection: str, version: int) -> int: ...

    @abstractmethod
    def duplicate_ids(self, collection: str, version: int) -> int:
        """How many rows share an id with another row (0 in a healthy table)."""

    def has_ann_index(self, collection: str, version: int) -> bool:
        """Whether the version already has its ANN index (``index`` builds it once, past the threshold)."""
        return False

    @abstractmethod
    def build_index(self, collection: str, version: int) -> str | None:
        """Build the configured ANN index; returns what was built, or None (too few rows / disabled)."""

    @abstractmethod
    def lock(self, collection: str, version: int) -> AbstractContextManager[None]:
        """Exclusive writer lock on one version (released even when the holder is killed)."""

    def health(self, collection: str, version: int) -> list[str]:
        """Store-specific problems for ``omnivec doctor`` (invalid indexes, crash debris...)."""
        return []

    def close(self) -> None:  # noqa: B027 - a store without connections has nothing to release
        """Release connections."""

    def __enter__(self) -> VectorStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
