"""LanceDB adapter: the embedded default store (a folder, ``./.omnivec`` unless configured).

One Lance table per collection version, with the full fingerprint in its schema metadata, plus two
small catalog tables (versions, aliases) flipped by single ``merge_insert`` commits (LanceDB OSS has
no rename or alias). Writers hold an ``flock`` per version and the tables declare ``id`` as their
primary key: without both, concurrent insert-if-absent merges duplicate rows (lancedb #3377).
Every connection re-reads the manifest on each read (``read_consistency_interval=0``), so a
long-lived reader sees a switch at once.
"""

from __future__ import annotations

import fcntl
import json
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

try:
    import lancedb
    import pyarrow as pa
except ImportError as exc:  # pragma: no cover - depends on the extra
    from ..errors import MissingDependencyError

    raise MissingDependencyError(f'the LanceDB store needs its extra: pip install "omnivec[stores]" ({exc})') from exc

from . import _lance_upkeep as upkeep
from ._lance_adapters import LanceAdapters
from ._lance_catalog import ALIASES, VERSIONS, alias_row, catalog_row
from .base import Feature, Hit, Row, State, VectorStore, VersionInfo, fingerprint_hash
from .errors import CollectionNotFoundError, StoreError
from .filters import Condition, FieldType
from .lance_features import TYPED_MARKER, build_fts, fields_of, fts_hits, predicate, typed_arrays
from .settings import BaseStoreSettings, LanceSettings

__all__ = ["LanceStore"]

_COLUMNS = ["id", "content_hash", "text", "uri", "metadata"]


def _folder(settings: BaseStoreSettings) -> Path:
    return Path(settings.url.partition("://")[2] or ".omnivec")


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class LanceStore(LanceAdapters, VectorStore):
    scheme = "lancedb"
    features: ClassVar[frozenset[Feature]] = frozenset({"filters", "lexical", "adapters"})
    lookup_ids: ClassVar[int | None] = 10_000
    settings: LanceSettings

    def __init__(self, settings: LanceSettings) -> None:
        super().__init__(settings)
        self.path = _folder(settings)
        if self.path.exists() and not self.path.is_dir():
            raise StoreError(f"store {settings.url}: {self.path} is a file, not a folder: give a folder path")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"store {settings.url}: cannot create the folder {self.path} ({exc.strerror})") from None
        self._db = lancedb.connect(str(self.path), read_consistency_interval=timedelta(0))
        self._writes: dict[str, int] = {}
        self._building: set[str] = set()  # tables this process set to "building": it alone writes them
        self._catalog = self._table_or_create("_omnivec_versions", VERSIONS, "key")
        self._aliases = self._table_or_create("_omnivec_aliases", ALIASES, "alias")

    @classmethod
    def exists(cls, settings: BaseStoreSettings) -> bool:
        return _folder(settings).exists()

    def cache_path(self) -> Path | None:
        """``auto``: inside the store's folder, so the cache goes wherever the collection goes."""
        return self.path / "_omnivec_cache.sqlite" if self.settings.cache == "auto" else super().cache_path()

    def _exists(self, name: str) -> bool:
        try:
            self._db.open_table(name)
        except ValueError:
            return False
        return True

    def _table_or_create(self, name: str, schema: pa.Schema, key: str) -> Any:
        if self._exists(name):
            return self._db.open_table(name)
        try:
            table = self._db.create_table(name, schema=schema)
            table.set_unenforced_primary_key(key)  # type: ignore[attr-defined]
            return table
        except (ValueError, OSError, RuntimeError):  # another process created it first
            return self._db.open_table(name)

    def _table(self, collection: str, version: int) -> Any:
        name = f"{collection}__v{version}"
        try:
            return self._db.open_table(name)
        except (ValueError, FileNotFoundError) as exc:
            raise CollectionNotFoundError(f"version table {name!r} is missing from {self.url}") from exc

    # catalog ------------------------------------------------------------------------------------
    def create_version(self, collection: str, version: int, fingerprint: Mapping[str, Any]) -> VersionInfo:
        dims = int(fingerprint["dimensions"])
        fp_json, fp_hash = json.dumps(dict(fingerprint), sort_keys=True), fingerprint_hash(fingerprint)
        meta = {"omnivec.fingerprint": fp_json, "omnivec.fingerprint_hash": fp_hash, **TYPED_MARKER}
        schema = pa.schema(
            [
                pa.field("id", pa.string(), nullable=False),
                pa.field("content_hash", pa.string()),
                pa.field("text", pa.string()),
                pa.field("uri", pa.string()),
                pa.field("metadata", pa.string()),
                pa.field("vector", pa.list_(pa.float32(), dims)),
            ],
            metadata=meta,
        )
        name = f"{collection}__v{version}"
        if not self._exists(name):
            self._db.create_table(name, schema=schema).set_unenforced_primary_key("id")  # type: ignore[attr-defined]
        created = datetime.now(UTC).isoformat(timespec="seconds")
        row = {
            "key": name,
            "collection": collection,
            "version": version,
            "fingerprint": fp_json,
            "fingerprint_hash": fp_hash,
            "dimensions": dims,
            "state": "building",
            "created_at": created,
        }
        self._catalog.merge_insert("key").when_not_matched_insert_all().execute(pa.Table.from_pylist([row], VERSIONS))
        return next(v for v in self.versions(collection) if v.version == version)

    def versions(self, collection: str) -> list[VersionInfo]:
        rows = self._catalog.search().where(f"collection = {_quote(collection)}").limit(None).to_arrow().to_pylist()
        return sorted(
            (
                VersionInfo(
                    r["collection"],
                    r["version"],
                    json.loads(r["fingerprint"]),
                    r["fingerprint_hash"],
                    r["dimensions"],
                    r["state"],
                    r["created_at"],
                )
                for r in rows
            ),
            key=lambda v: v.version,
        )

    def collections(self) -> list[str]:
        rows = self._catalog.search().select(["collection"]).limit(None).to_arrow()["collection"].to_pylist()
        return sorted({r for r in rows if r is not None})  # alias rows have no collection

    def set_state(self, collection: str, version: int, state: State) -> None:
        name = f"{collection}__v{version}"
        if state == "building":
            self._building.add(name)
        elif name in self._building:  # built: drop the superseded versions once more
            self._building.discard(name)
            tail = self._writes.get(name, 0) % upkeep.OPTIMIZE_EVERY  # commits since the last compaction
            upkeep.finish_building(self._table(collection, version), tail_commits=tail)
        self._catalog.update(where=f"key = {_quote(name)}", values={"state": state})

    def _settled(self, collection: str, version: int) -> Any:
        """The table, its tail compacted first if it is being built: compacting at ``ready``, AFTER the
        indexes, rewrote them too (+190 MiB at the end of a 1 M-item migration; docs/scale.md)."""
        table = self._table(collection, version)
        if table.name in self._building and (tail := self._writes.get(table.name, 0) % upkeep.OPTIMIZE_EVERY):
            upkeep.finish_building(table, tail_commits=tail)
            self._writes[table.name] = 0  # set_state(ready) then only drops superseded versions
        return table

    # The alias is a catalog row too, so a switch is ONE commit (_lance_catalog says how).
    def alias(self, collection: str) -> tuple[int, int | None] | None:
        rows = self._catalog.search().where(f"key = {_quote(collection)}").limit(1).to_arrow().to_pylist()
        if rows:
            return rows[0]["version"], rows[0]["dimensions"]
        rows = self._aliases.search().where(f"alias = {_quote(collection)}").limit(1).to_arrow().to_pylist()
        return (rows[0]["version"], rows[0]["previous"]) if rows else None

    def set_alias(self, collection: str, version: int, previous: int | None) -> None:
        self._write_catalog([alias_row(collection, version, previous)])

    def flip(self, collection: str, version: int, previous: int, previous_state: State) -> None:
        by_number = {v.version: v for v in self.versions(collection)}
        rows = [
            alias_row(collection, version, previous),
            catalog_row(by_number[version], "live"),
            catalog_row(by_number[previous], previous_state),
        ]
        self._write_catalog(rows)

    def _write_catalog(self, rows: list[dict[str, Any]]) -> None:
        table = pa.Table.from_pylist(rows, VERSIONS)
        self._catalog.merge_insert("key").when_matched_update_all().when_not_matched_insert_all().execute(table)

    def drop_version(self, collection: str, version: int) -> None:
        name = f"{collection}__v{version}"
        if self._exists(name):
            self._db.drop_table(name)
        self._catalog.delete(f"key = {_quote(name)}")
        self._drop_adapters(collection, version)
        current = self.alias(collection)
        if current is not None and current[1] == version:
            self.set_alias(collection, current[0], None)
        if not self.versions(collection):
            self._catalog.delete(f"key = {_quote(collection)}")
            self._aliases.delete(f"alias = {_quote(collection)}")

    # data ---------------------------------------------------------------------------------------
    def hashes(self, collection: str, version: int, ids: Sequence[str]) -> dict[str, str]:
        if not ids:
            return {}
        where = f"id IN ({', '.join(_quote(i) for i in ids)})"
        table = (
            self._table(collection, version).search().where(where).select(["id", "content_hash"]).limit(None).to_arrow()
        )
        return dict(zip(table["id"].to_pylist(), table["content_hash"].to_pylist(), strict=False))

    def rows(self, collection: str, version: int, ids: Sequence[str], *, vectors: bool = False) -> list[Row]:
        if not ids:
            return []
        where = f"id IN ({', '.join(_quote(i) for i in ids)})"
        query = self._table(collection, version).search().where(where)
        return [
            _row(r) for r in query.select(_COLUMNS + (["vector"] if vectors else [])).limit(None).to_arrow().to_pylist()
        ]

    def upsert(self, collection: str, version: int, rows: Sequence[Row], *, fingerprint: Mapping[str, Any]) -> None:
        self.check_writer(collection, version, fingerprint)
        if not rows:
            return  # every LanceDB write commits a version, even an empty one
        matrix = self.check_vectors(collection, version, rows)
        table = self._table(collection, version)
        dims = table.schema.field("vector").type.list_size
        batch = pa.table(
            {
                "id": pa.array([r.id for r in rows], pa.string()),
                "content_hash": [r.content_hash for r in rows],
                "text": [r.text for r in rows],
                "uri": [r.uri for r in rows],
                "metadata": [json.dumps(dict(r.metadata)) for r in rows],
                "vector": pa.FixedSizeListArray.from_arrays(pa.array(matrix.ravel()), dims),
                **typed_arrays(table, rows),  # adds the columns of new keys first
            },
            schema=table.schema,
        )
        # merge_insert joins against the whole table and leaves native memory behind (~0.4 KiB a row);
        # a batch of ids the table lacks (every batch of a fresh backfill) is a plain append. Writers
        # hold the version's lock, so nothing inserts these ids between the lookup and the add.
        ids = batch["id"].to_pylist()
        if len(set(ids)) == len(ids) and not self.hashes(collection, version, ids):
            table.add(batch)
        else:
            table.merge_insert("id").when_matched_update_all().when_not_matched_insert_all().execute(batch)
        self._writes[table.name] = self._writes.get(table.name, 0) + 1
        if self._writes[table.name] % upkeep.OPTIMIZE_EVERY == 0:
            upkeep.maintain(table, building=table.name in self._building)

    def delete(self, collection: str, version: int, ids: Sequence[str]) -> None:
        if ids:
            self._table(collection, version).delete(f"id IN ({', '.join(_quote(i) for i in ids)})")

    def scan(self, collection: str, version: int, batch_size: int, *, vectors: bool = False) -> Iterator[list[Row]]:
        columns = _COLUMNS + (["vector"] if vectors else [])
        reader = self._table(collection, version).search().select(columns).limit(None).to_batches(batch_size)
        for batch in reader:
            yield [_row(r) for r in batch.to_pylist()]

    def ids(self, collection: str, version: int, batch_size: int) -> Iterator[list[str]]:
        reader = self._table(collection, version).search().select(["id"]).limit(None).to_batches(batch_size)
        for batch in reader:
            yield batch.column("id").to_pylist()

    def search(
        self, collection: str, version: int, vector: np.ndarray, k: int, *, exact: bool = False,
        where: Sequence[Condition] = (),
    ) -> list[Hit]:  # fmt: skip
        table = self._table(collection, version)
        query = table.search(np.asarray(vector, dtype=np.float32)).distance_type("cosine").limit(k)
        if exact or not any(i.columns == ["vector"] for i in table.list_indices()):
            query = query.bypass_vector_index()
        else:
            query = query.nprobes(self.settings.nprobes).refine_factor(self.settings.refine_factor)
        if (sql := predicate(where)) is not None:
            query = query.where(sql, prefilter=True)  # filter first, then the top k of what matches
        rows = query.select([*_COLUMNS, "_distance"]).to_arrow().to_pylist()
        return [
            Hit(r["id"], 1.0 - float(r["_distance"]), json.loads(r["metadata"] or "{}"), r["text"], r["uri"])
            for r in rows
        ]

    def metadata_fields(self, collection: str, version: int) -> dict[str, FieldType]:
        return fields_of(self._table(collection, version).schema)

    def lexical_search(
        self, collection: str, version: int, text: str, k: int, *, where: Sequence[Condition] = ()
    ) -> list[Hit]:
        return fts_hits(self._table(collection, version), text, k, where)

    def build_lexical_index(self, collection: str, version: int) -> str | None:
        return build_fts(self._settled(collection, version))

    def count(self, collection: str, version: int) -> int:
        return int(self._table(collection, version).count_rows())

    def duplicate_ids(self, collection: str, version: int) -> int:
        # 8 bytes per row (100 M rows = 800 MB): LanceDB OSS has no GROUP BY to do this in the store.
        # The id column alone: whole rows took 11 s and +96 MiB over 1 M rows, ids 0.6 s and nothing.
        parts = [np.fromiter((hash(i) for i in ids), dtype=np.int64) for ids in self.ids(collection, version, 65_536)]
        if not parts:
            return 0
        hashed = np.sort(np.concatenate(parts))
        return int((hashed[1:] == hashed[:-1]).sum())

    def has_ann_index(self, collection: str, version: int) -> bool:
        return any(i.columns == ["vector"] for i in self._table(collection, version).list_indices())

    def build_index(self, collection: str, version: int) -> str | None:
        from lancedb.index import IvfPq

        table = self._settled(collection, version)
        rows, kind = table.count_rows(), self.settings.index
        if kind in ("none", "hnsw") or rows < max(self.settings.index_min_rows, 256):
            return None
        dims = table.schema.field("vector").type.list_size
        sub = next(s for s in (48, 32, 24, 16, 12, 8, 6, 4, 3, 2, 1) if dims % s == 0)
        partitions = max(1, min(4096, rows // 4096))  # LanceDB's guidance: a few thousand rows per partition
        table.create_index(
            "vector", config=IvfPq(distance_type="cosine", num_partitions=partitions, num_sub_vectors=sub), replace=True
        )
        return f"IVF_PQ partitions={partitions} sub_vectors={sub}"

    @contextmanager
    def lock(self, collection: str, version: int) -> Iterator[None]:
        folder = self.path / "_omnivec_locks"
        folder.mkdir(exist_ok=True)
        with open(folder / f"{collection}__v{version}.lock", "a+") as handle:
            deadline, told = time.monotonic() + self.settings.lock_timeout_s, False
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if not told:
                        self._waiting(collection, version)
                        told = True
                    if time.monotonic() > deadline:
                        raise StoreError(
                            f"{collection}__v{version} is locked by another writer; "
                            f"waited {self.settings.lock_timeout_s:.0f} s"
                        ) from None
                    time.sleep(0.05)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def health(self, collection: str, version: int) -> list[str]:
        problems = []
        catalog = next((v for v in self.versions(collection) if v.version == version), None)
        meta = self._table(collection, version).schema.metadata or {}
        stamped = meta.get(b"omnivec.fingerprint_hash", b"").decode()
        if catalog is not None and stamped != catalog.fingerprint_hash:
            problems.append(
                f"table fingerprint {stamped or 'missing'} differs from the catalog's {catalog.fingerprint_hash}"
            )
        debris = list((self.path / f"{collection}__v{version}.lance" / "data").glob(".tmp*"))
        if debris:
            problems.append(
                f"{len(debris)} temporary files left by killed writers in {collection}__v{version} "
                "(safe to delete while no writer runs)"
            )
        return problems


def _row(r: Mapping[str, Any]) -> Row:
    vector = r.get("vector")
    return Row(
        r["id"],
        r["content_hash"],
        r["text"],
        r["uri"],
        json.loads(r["metadata"] or "{}"),
        None if vector is None else np.asarray(vector, dtype=np.float32),
    )
