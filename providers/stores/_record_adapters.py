"""Space adapters of the stores that keep omnivec's catalog as one record per collection (Qdrant,
Milvus, Chroma): the ``adapters`` feature, written once here over three blob hooks per engine.

A version's adapters are listed in its entry of the catalog record (``adapters``: ``from_hash`` ->
digest, meta, serving, created_at and the key of its bytes), so putting one, replacing one and
choosing the one that serves are each ONE record write, atomic as every catalog change is: a reader
sees the old or the new choice, never two serving. The bytes live apart, under a fresh key in the
store's side collection ``omnivec__adapters`` (:meth:`_put_blob`), written BEFORE the record names
them, so the record never points at bytes that are not there; the bytes a record stops naming (a
refit, a dropped version) are deleted after it. A kill between the two leaves unnamed bytes behind,
never a broken adapter. ``search`` reads a version's adapters on every query: that is the catalog
record read ``versions`` already makes.
"""

from __future__ import annotations

import uuid
from abc import abstractmethod
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .base import AdapterRecord
from .errors import CollectionNotFoundError

__all__ = ["ADAPTER_BLOBS", "RecordAdapters"]

ADAPTER_BLOBS = "omnivec__adapters"  # '__' is refused in collection names: no collection can take it


class RecordAdapters:
    """The adapter half of :class:`~._record_catalog.RecordCatalogStore` (mixed in by each store)."""

    url: str

    # engine hooks ---------------------------------------------------------------------------------
    @abstractmethod
    def _put_blob(self, key: str, blob: bytes) -> None:
        """Store ``blob`` under ``key`` in the side collection (a new key: never an overwrite)."""

    @abstractmethod
    def _get_blob(self, key: str) -> bytes | None:
        """The bytes under ``key``, or None."""

    @abstractmethod
    def _drop_blobs(self, keys: Sequence[str]) -> None:
        """Delete the bytes under ``keys`` (missing ones are fine)."""

    if TYPE_CHECKING:  # RecordCatalogStore's (declared only: a body here would shadow theirs)

        def _read_record(self, collection: str) -> dict[str, Any] | None: ...

        def _update(self, collection: str, change: Any) -> None: ...

    # the feature ------------------------------------------------------------------------------------
    def _held(self, collection: str, version: int) -> dict[str, dict[str, Any]]:
        entry = (self._read_record(collection) or {"versions": {}})["versions"].get(str(version)) or {}
        return dict(entry.get("adapters") or {})

    def put_adapter(self, record: AdapterRecord, blob: bytes) -> None:
        name, version = record.collection, record.version
        if str(version) not in (self._read_record(name) or {"versions": {}})["versions"]:  # before any write
            raise CollectionNotFoundError(f"collection {name!r} has no version {version} in {self.url}")
        key = f"{name}__v{version}/{uuid.uuid4().hex}"
        self._put_blob(key, blob)
        replaced: list[str] = []

        def change(catalog: dict[str, Any]) -> None:
            entry = catalog["versions"].get(str(version))
            if entry is None:  # dropped since the check above
                raise CollectionNotFoundError(f"collection {name!r} has no version {version} in {self.url}")
            held = entry.setdefault("adapters", {})
            if record.from_hash in held:
                replaced.append(held[record.from_hash]["blob"])
            if record.serving:  # at most one serves
                for other in held.values():
                    other["serving"] = False
            held[record.from_hash] = {
                "digest": record.digest, "meta": dict(record.meta), "serving": record.serving, "blob": key,
                "created_at": record.created_at or datetime.now(UTC).isoformat(timespec="seconds"),
            }  # fmt: skip

        try:
            self._update(name, change)
        except CollectionNotFoundError:
            self._drop_blobs([key])
            raise
        self._drop_blobs(replaced)

    def adapters(self, collection: str, version: int) -> list[AdapterRecord]:
        found = [
            AdapterRecord(collection, version, from_hash, a["digest"], a["meta"], bool(a["serving"]), a["created_at"])
            for from_hash, a in self._held(collection, version).items()
        ]
        return sorted(found, key=lambda a: (a.created_at, a.from_hash))

    def adapter_blob(self, collection: str, version: int, from_hash: str) -> bytes:
        held = self._held(collection, version).get(from_hash)
        blob = None if held is None else self._get_blob(held["blob"])
        if blob is None:
            raise CollectionNotFoundError(f"{collection}__v{version} holds no adapter from #{from_hash} in {self.url}")
        return blob

    def serve_adapter(self, collection: str, version: int, from_hash: str | None) -> None:
        def change(catalog: dict[str, Any]) -> None:  # every adapter of the version, one record write
            entry = catalog["versions"].get(str(version))
            if entry is None:
                raise CollectionNotFoundError(f"collection {collection!r} has no version {version} in {self.url}")
            for held_hash, held in (entry.get("adapters") or {}).items():
                held["serving"] = held_hash == from_hash

        self._update(collection, change)

    def _blobs_of(self, record: dict[str, Any] | None, version: int) -> list[str]:
        """The blob keys a version's entry names (what dropping it leaves to delete)."""
        entry = (record or {"versions": {}})["versions"].get(str(version)) or {}
        return [a["blob"] for a in (entry.get("adapters") or {}).values()]
