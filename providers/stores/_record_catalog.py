"""The catalog, alias and writer lock of the stores that keep omnivec's catalog as one record per collection
(Qdrant, Milvus, Chroma), written once here.

A version is one native collection ``<name>__v<N>``. Its fingerprint, width, state and the alias
(``serving, previous``) live in ONE JSON record per collection in the store's catalog collection
``omnivec__catalog`` (a name :func:`~.base.check_name` can never give a collection, nor a version).
Every catalog change rewrites that record with one single-record upsert, which each of these
engines applies atomically: ``flip`` moves the alias and both states in one write, as on LanceDB and
PostgreSQL. Read-modify-write runs under a catalog lock (an ``flock``), so two writers of one
collection never lose each other's state. Stores with native aliases (Qdrant, Milvus) then point
an alias named like the collection at the serving version, for apps that query the store directly.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from abc import abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ._record_adapters import RecordAdapters
from .base import Row, State, VectorStore, VersionInfo, fingerprint_hash
from .errors import CollectionNotFoundError, StoreError
from .filters import FieldType, typed_fields

__all__ = ["CATALOG", "RecordCatalogStore", "lock_folder_for", "redact"]

CATALOG = "omnivec__catalog"


def redact(url: str) -> str:
    """The URL without its password / API key (errors name the store, never the secret)."""
    scheme, _, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    return f"{scheme}://{creds.partition(':')[0]}{':***' if ':' in creds else ''}{at}{host}" if at else url


def lock_folder_for(url: str) -> Path:
    """Where a server store's writer locks live: one folder per store URL (no secret in its name).
    An ``flock`` excludes writers on this host only: the engines have no lock primitive to share."""
    home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    digest = hashlib.sha256(redact(url).encode()).hexdigest()[:16]
    return Path(home) / "omnivec" / "locks" / digest


class RecordCatalogStore(RecordAdapters, VectorStore):
    """Catalog, alias, states, adapters (:mod:`._record_adapters`) and the writer lock over a few engine
    hooks (below the line)."""

    lock_folder: Path

    # engine hooks ---------------------------------------------------------------------------------
    @abstractmethod
    def _read_record(self, collection: str) -> dict[str, Any] | None:
        """The catalog record of ``collection`` (None if it has none)."""

    @abstractmethod
    def _write_record(self, collection: str, record: dict[str, Any] | None) -> None:
        """Replace the record in ONE single-record write (None deletes it)."""

    @abstractmethod
    def _record_names(self) -> list[str]:
        """Collections that have a record."""

    @abstractmethod
    def _create_table(self, collection: str, version: int, dims: int, fingerprint_json: str) -> None:
        """Create the native collection of a version if it is not there."""

    @abstractmethod
    def _drop_table(self, collection: str, version: int) -> None:
        """Drop the native collection of a version if it is there."""

    @abstractmethod
    def _has_table(self, collection: str, version: int) -> bool: ...

    def _point_alias(self, collection: str, version: int | None) -> None:
        """Point the store's native alias ``collection`` at a version (None: remove it), if it has aliases."""

    # catalog --------------------------------------------------------------------------------------
    def _require(self, collection: str, version: int) -> None:
        if not self._has_table(collection, version):
            raise CollectionNotFoundError(f"version {collection}__v{version} is missing from {redact(self.url)}")

    def create_version(self, collection: str, version: int, fingerprint: Mapping[str, Any]) -> VersionInfo:
        dims, fp_json = int(fingerprint["dimensions"]), json.dumps(dict(fingerprint), sort_keys=True)
        self._create_table(collection, version, dims, fp_json)
        with self._catalog_lock(collection):
            record = self._read_record(collection) or {"versions": {}, "alias": None}
            if str(version) not in record["versions"]:  # created again after a crash: keep what is there
                record["versions"][str(version)] = {
                    "fingerprint": json.loads(fp_json),
                    "fingerprint_hash": fingerprint_hash(fingerprint),
                    "dimensions": dims,
                    "state": "building",
                    "fields": {},  # typed metadata keys (filters); a version made before them has none
                    "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                }
                self._write_record(collection, record)
        return next(v for v in self.versions(collection) if v.version == version)

    def versions(self, collection: str) -> list[VersionInfo]:
        record = self._read_record(collection) or {"versions": {}}
        found = [
            VersionInfo(collection, int(n), v["fingerprint"], v["fingerprint_hash"], v["dimensions"], v["state"],
                        v["created_at"])
            for n, v in record["versions"].items()
        ]  # fmt: skip
        return sorted(found, key=lambda v: v.version)

    def collections(self) -> list[str]:
        return sorted(self._record_names())

    def _update(self, collection: str, change: Any) -> None:
        with self._catalog_lock(collection):
            record = self._read_record(collection)
            if record is None:
                raise CollectionNotFoundError(f"no collection {collection!r} in {redact(self.url)}")
            change(record)
            self._write_record(collection, record)

    def set_state(self, collection: str, version: int, state: State) -> None:
        def change(record: dict[str, Any]) -> None:
            record["versions"][str(version)]["state"] = state

        self._update(collection, change)

    def alias(self, collection: str) -> tuple[int, int | None] | None:
        record = self._read_record(collection)
        pointer = record.get("alias") if record else None
        return (pointer[0], pointer[1]) if pointer else None

    def set_alias(self, collection: str, version: int, previous: int | None) -> None:
        def change(record: dict[str, Any]) -> None:
            record["alias"] = [version, previous]

        self._update(collection, change)
        self._point_alias(collection, version)

    def flip(self, collection: str, version: int, previous: int, previous_state: State) -> None:
        def change(record: dict[str, Any]) -> None:  # alias and both states: one record, one write
            record["alias"] = [version, previous]
            record["versions"][str(version)]["state"] = "live"
            record["versions"][str(previous)]["state"] = previous_state

        self._update(collection, change)
        self._point_alias(collection, version)

    def drop_version(self, collection: str, version: int) -> None:
        with self._catalog_lock(collection):
            record = self._read_record(collection)
            unnamed = self._blobs_of(record, version)  # its adapters' bytes: deleted once nothing names them
            if record is not None:
                record["versions"].pop(str(version), None)
                pointer = record.get("alias")
                if pointer and pointer[1] == version:
                    record["alias"] = [pointer[0], None]
                if not record["versions"]:
                    self._point_alias(collection, None)
                self._write_record(collection, record if record["versions"] else None)
            self._drop_table(collection, version)  # after the record: a version never lacks its table
        self._drop_blobs(unnamed)

    # typed metadata (the ``filters`` feature) --------------------------------------------------------
    def metadata_fields(self, collection: str, version: int) -> dict[str, FieldType]:
        entry = (self._read_record(collection) or {"versions": {}})["versions"].get(str(version)) or {}
        return dict(entry.get("fields") or {})

    def _declare_fields(self, collection: str, version: int, rows: Sequence[Row]) -> dict[str, FieldType]:
        """The version's typed keys once ``rows`` are written, recording in the catalog the keys they
        carry first BEFORE the rows are written (a key whose rows a kill lost matches nothing; a row
        whose key was not recorded could never be found). A value of another type than its key's is a
        StoreError, before anything is written. A version made before typed metadata gets none."""
        table = f"{collection}__v{version}"
        entry = (self._read_record(collection) or {"versions": {}})["versions"].get(str(version))
        if entry is None or "fields" not in entry:
            return {}
        if not typed_fields(rows, entry["fields"], table):
            return dict(entry["fields"])
        with self._catalog_lock(collection):
            record = self._read_record(collection)
            if record is None or str(version) not in record["versions"]:
                raise CollectionNotFoundError(f"version {table} is missing from {redact(self.url)}")
            fields = record["versions"][str(version)]["fields"]
            new = typed_fields(rows, fields, table)  # again: another writer may have added keys
            fields.update(new)
            self._write_record(collection, record)
        self._index_fields(table, new)
        return dict(fields)

    def _index_fields(self, table: str, new: Mapping[str, FieldType]) -> None:
        """Index keys first seen in a version, where the engine wants a payload index to filter fast."""

    def health(self, collection: str, version: int) -> list[str]:
        return [] if self._has_table(collection, version) else [f"table {collection}__v{version} is missing"]

    # the writer lock --------------------------------------------------------------------------------
    @contextmanager
    def _flock(self, name: str, timeout_s: float, tell: Any = None) -> Iterator[None]:
        self.lock_folder.mkdir(parents=True, exist_ok=True)
        with open(self.lock_folder / f"{name}.lock", "a+") as handle:
            deadline, told = time.monotonic() + timeout_s, False
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if tell is not None and not told:
                        tell()
                        told = True
                    if time.monotonic() > deadline:
                        raise StoreError(f"{name} is locked by another writer; waited {timeout_s:.0f} s") from None
                    time.sleep(0.05)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _catalog_lock(self, collection: str) -> Any:
        return self._flock(f"{collection}__catalog", max(self.settings.lock_timeout_s, 60.0))

    def lock(self, collection: str, version: int) -> Any:
        return self._flock(
            f"{collection}__v{version}", self.settings.lock_timeout_s, lambda: self._waiting(collection, version)
        )


def count_duplicates(ids: Iterator[str]) -> int:
    """How many ids repeat one seen before (8 bytes per row, as on LanceDB)."""
    hashed = np.sort(np.fromiter((hash(i) for i in ids), dtype=np.int64))
    return int((hashed[1:] == hashed[:-1]).sum()) if hashed.size else 0


def exact_top_k(batches: Iterator[list[Any]], query: np.ndarray, k: int) -> list[tuple[float, Any]]:
    """Exact cosine top-k over scanned rows (float64, as the contract computes it), keeping k at a time."""
    q = np.asarray(query, dtype=np.float64)
    q = q / (np.linalg.norm(q) or 1.0)
    best: list[tuple[float, Any]] = []
    for rows in batches:
        if not rows:
            continue
        matrix = np.stack([np.asarray(r.vector, dtype=np.float64) for r in rows])
        norms = np.linalg.norm(matrix, axis=1)
        scores = matrix @ q / np.where(norms == 0, 1.0, norms)
        best += [(float(s), r) for s, r in zip(scores, rows, strict=True)]
        best = sorted(best, key=lambda pair: -pair[0])[:k]
    return best
