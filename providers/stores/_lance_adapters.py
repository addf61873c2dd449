"""The space adapters of a LanceDB store's versions: one small table, ``_omnivec_adapters``.

One row per (version, ``from`` space), keyed ``<name>__v<N>/<from_hash>``, the adapter's bytes in a
binary column read only when a query needs them. Putting one is a single ``merge_insert`` commit;
choosing the one that serves is a single ``update`` over the version's rows (one commit), so a
reader sees the old or the new choice, never two adapters serving.

``search`` asks for a version's adapters on every query. Reading them is a filtered scan (~12 ms);
the table's version number is one manifest check (~0.5 ms, the connection re-reads it on every read),
so an open store keeps each version's list with the table version it was read at, and reads again
only when any commit (here or in another process) moved the table on.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from .base import AdapterRecord
from .errors import CollectionNotFoundError

__all__ = ["ADAPTERS", "LanceAdapters"]

ADAPTERS = pa.schema(
    [
        pa.field("key", pa.string(), nullable=False),
        pa.field("collection", pa.string()),
        pa.field("version", pa.int64()),
        pa.field("from_hash", pa.string()),
        pa.field("digest", pa.string()),
        pa.field("meta", pa.string()),
        pa.field("serving", pa.bool_()),
        pa.field("created_at", pa.string()),
        pa.field("blob", pa.large_binary()),
    ]
)
_LISTED = ["collection", "version", "from_hash", "digest", "meta", "serving", "created_at"]


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _of_version(collection: str, version: int) -> str:
    return f"collection = {_quote(collection)} AND version = {int(version)}"


class LanceAdapters:
    """The adapter half of :class:`~.lance.LanceStore`'s catalog (``self._adapter_table`` opened lazily)."""

    _db: Any
    url: str

    def versions(self, collection: str) -> list[Any]:
        raise NotImplementedError  # LanceStore's own

    def _adapter_table(self, *, create: bool = True) -> Any:
        held = self.__dict__.get("_adapters_held")
        if held is not None:
            return held
        try:
            table = self._db.open_table("_omnivec_adapters")
            self.__dict__["_adapters_held"] = table  # kept open: it sees later commits (consistency interval 0)
            return table
        except ValueError:
            if not create:  # a reader never creates the table
                return None
        try:  # made on first use: stores made before adapters existed have no such table
            table = self._db.create_table("_omnivec_adapters", schema=ADAPTERS)
            table.set_unenforced_primary_key("key")
            return table
        except (ValueError, OSError, RuntimeError):  # another process created it first
            return self._db.open_table("_omnivec_adapters")

    def put_adapter(self, record: AdapterRecord, blob: bytes) -> None:
        if not any(v.version == record.version for v in self.versions(record.collection)):
            raise CollectionNotFoundError(
                f"collection {record.collection!r} has no version {record.version} in {self.url}"
            )
        row = {
            "key": f"{record.collection}__v{record.version}/{record.from_hash}",
            "collection": record.collection,
            "version": record.version,
            "from_hash": record.from_hash,
            "digest": record.digest,
            "meta": json.dumps(dict(record.meta), sort_keys=True),
            "serving": record.serving,
            "created_at": record.created_at or datetime.now(UTC).isoformat(timespec="seconds"),
            "blob": blob,
        }
        table = pa.Table.from_pylist([row], ADAPTERS)
        merge = self._adapter_table().merge_insert("key")
        merge.when_matched_update_all().when_not_matched_insert_all().execute(table)

    def adapters(self, collection: str, version: int) -> list[AdapterRecord]:
        table = self._adapter_table(create=False)
        if table is None:
            return []
        seen: dict[tuple[str, int], tuple[int, list[AdapterRecord]]] = self.__dict__.setdefault("_adapters_seen", {})
        table_version = table.version
        cached = seen.get((collection, version))
        if cached is None or cached[0] != table_version:
            cached = seen[(collection, version)] = (table_version, self._read_adapters(table, collection, version))
        return list(cached[1])

    def _read_adapters(self, table: Any, collection: str, version: int) -> list[AdapterRecord]:
        query = table.search().where(_of_version(collection, version)).select(_LISTED)
        rows = query.limit(None).to_arrow().to_pylist()
        found = [
            AdapterRecord(
                r["collection"], r["version"], r["from_hash"], r["digest"], json.loads(r["meta"]), bool(r["serving"]),
                r["created_at"],
            )
            for r in rows
        ]  # fmt: skip
        return sorted(found, key=lambda a: (a.created_at, a.from_hash))

    def adapter_blob(self, collection: str, version: int, from_hash: str) -> bytes:
        where = f"{_of_version(collection, version)} AND from_hash = {_quote(from_hash)}"
        table = self._adapter_table(create=False)
        rows = [] if table is None else table.search().where(where).select(["blob"]).limit(1).to_arrow().to_pylist()
        if not rows:
            raise CollectionNotFoundError(f"{collection}__v{version} holds no adapter from #{from_hash} in {self.url}")
        return bytes(rows[0]["blob"])

    def serve_adapter(self, collection: str, version: int, from_hash: str | None) -> None:
        table = self._adapter_table()
        if from_hash is None:
            table.update(where=_of_version(collection, version), values={"serving": False})
        else:  # one commit sets every row of the version: the chosen one true, the others false
            table.update(
                where=_of_version(collection, version), values_sql={"serving": f"from_hash = {_quote(from_hash)}"}
            )

    def _drop_adapters(self, collection: str, version: int) -> None:
        table = self._adapter_table(create=False)
        if table is not None:
            table.delete(_of_version(collection, version))
