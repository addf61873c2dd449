"""Milvus adapter through ``pymilvus``: ``milvus://host:19530`` / ``milvuss://`` (a Milvus cluster or
Zilliz; ``user:password`` in the URL or ``MILVUS_TOKEN``), or ``milvus+lite://PATH.db`` (Milvus Lite,
the real engine in-process, one file; ONE process per file: the engine locks it).

Mapping: a version is a Milvus collection ``<name>__v<N>`` (``id`` VARCHAR primary key,
``content_hash``, nullable ``text`` / ``uri`` VARCHARs, ``metadata`` as a JSON field (a metadata
filter is pushed down as a Milvus boolean expression on ``metadata["key"]``, :mod:`.native_filters`), and a FLOAT_VECTOR
with COSINE metric; strong consistency, so a write is read back at once). The fingerprint is also a
collection property. Catalog and alias: one row per collection in ``omnivec__catalog``
(:mod:`._record_catalog`; space adapters listed in it, their bytes in rows of ``omnivec__adapters``,
:mod:`._record_adapters`); the Milvus alias ``<name>`` is then moved to the serving version with one
``alter_alias`` (atomic in Milvus). Milvus keeps vectors as written (no normalization). A version
starts with a FLAT index (exact); ``build_index`` replaces it by IVF_FLAT (Milvus Lite has no HNSW),
and ``exact=True`` then probes every list, which is a full scan.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import numpy as np

try:
    from pymilvus import DataType, MilvusClient, MilvusException
except ImportError as exc:  # pragma: no cover - depends on the extra
    from ..errors import MissingDependencyError

    raise MissingDependencyError(f'the Milvus store needs its extra: pip install "omnivec[milvus]" ({exc})') from exc

from ._record_adapters import ADAPTER_BLOBS
from ._record_catalog import CATALOG, RecordCatalogStore, count_duplicates, lock_folder_for, redact
from .base import Feature, Hit, Row
from .errors import StoreError
from .filters import Condition
from .native_filters import milvus_expression
from .settings import BaseStoreSettings

__all__ = ["MAX_DIMENSIONS", "MilvusStore"]

MAX_DIMENSIONS = 32_768  # Milvus' FLOAT_VECTOR limit
_VARCHAR = 65_535  # bytes, Milvus' widest VARCHAR
_MAX_NPROBE = 65_536  # Milvus' upper bound for nprobe
_FIELDS = ["id", "content_hash", "text", "uri", "metadata"]
_PART = 60_000  # base64 characters per row of an adapter's bytes (under one VARCHAR)


def _lite_path(settings: BaseStoreSettings) -> Path | None:
    scheme, _, rest = settings.url.partition("://")
    return Path(rest or ".omnivec-milvus.db").resolve() if scheme.lower() == "milvus+lite" else None


def _first_line(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc)
    return str(message).strip().splitlines()[0] if str(message).strip() else type(exc).__name__


class MilvusStore(RecordCatalogStore):
    scheme = "milvus"
    features: ClassVar[frozenset[Feature]] = frozenset({"filters", "adapters"})

    def __init__(self, settings: BaseStoreSettings) -> None:
        super().__init__(settings)
        self._path = _lite_path(settings)
        if self._path is not None:
            if self._path.is_file():
                raise StoreError(f"store {settings.url}: {self._path} is a file: Milvus Lite 3 keeps a folder there")
            self.lock_folder = self._path.with_name(self._path.name + ".omnivec_locks")
            uri, token = str(self._path), ""
            logging.getLogger("milvus_lite").setLevel(logging.CRITICAL)  # its tracebacks are said in one line below
        else:
            self.lock_folder = lock_folder_for(settings.url)
            parts = urlsplit(settings.url)
            uri = f"{'https' if parts.scheme.lower() == 'milvuss' else 'http'}://{parts.hostname}:{parts.port or 19530}"
            creds = f"{parts.username}:{parts.password}" if parts.username else ""
            token = creds or os.environ.get("MILVUS_TOKEN", "")
        for noisy in ("pymilvus", "grpc._server"):  # failed calls (said in one line here) and Lite's unimplemented
            logging.getLogger(noisy).setLevel(logging.CRITICAL)  # AllocTimestamp, logged with tracebacks on stderr
        self._loaded: set[str] = set()
        try:
            if self._path is not None:
                self._path.parent.mkdir(parents=True, exist_ok=True)
            self._client = MilvusClient(uri=uri, token=token, timeout=10)
            self._ensure_catalog()
        except (MilvusException, OSError, RuntimeError) as exc:
            hint = " (Milvus Lite is one process per file: run a Milvus server for several)" if self._path else ""
            raise StoreError(
                f"cannot open the Milvus store at {redact(settings.url)}: {_first_line(exc)}{hint}"
            ) from None
        self._closed = False

    @classmethod
    def exists(cls, settings: BaseStoreSettings) -> bool:
        path = _lite_path(settings)
        return path is None or path.exists()

    def _ensure_catalog(self) -> None:
        if self._client.has_collection(CATALOG):
            self._client.load_collection(CATALOG)  # 'released' when another process made it
            return
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("name", DataType.VARCHAR, is_primary=True, max_length=512)
        schema.add_field("record", DataType.VARCHAR, max_length=_VARCHAR)
        schema.add_field("unused", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector field in every collection
        index = self._client.prepare_index_params()
        index.add_index("unused", index_type="FLAT", metric_type="L2")
        self._client.create_collection(CATALOG, schema=schema, index_params=index, consistency_level="Strong")

    @property
    def _c(self) -> MilvusClient:
        if self._closed:
            raise StoreError(f"the store at {redact(self.url)} was closed: open it again with open_store(URL)")
        return self._client

    def close(self) -> None:
        self._closed = True  # the client stays: Milvus Lite's engine is shared by every handle of the process

    # the catalog record ---------------------------------------------------------------------------
    def _read_record(self, collection: str) -> dict[str, Any] | None:
        found = self._c.get(CATALOG, ids=[collection], output_fields=["record"])
        return json.loads(found[0]["record"]) if found else None

    def _write_record(self, collection: str, record: dict[str, Any] | None) -> None:
        if record is None:
            self._c.delete(CATALOG, ids=[collection])
            return
        text = json.dumps(record)
        if len(text.encode()) > _VARCHAR:
            raise StoreError(f"the catalog of {collection!r} outgrew one Milvus VARCHAR (64 KiB): drop old versions")
        self._c.upsert(CATALOG, [{"name": collection, "record": text, "unused": [1.0, 0.0]}])

    def _record_names(self) -> list[str]:
        names: list[str] = []
        while page := self._c.query(
            CATALOG, filter=f"name > {_literal(names[-1])}" if names else "", limit=1000, output_fields=["name"],
            iterator="True", reduce_stop_for_best="True",
        ):  # fmt: skip
            names += [r["name"] for r in page]
        return names

    # adapter bytes: rows ``<key>#<i>`` of ``omnivec__adapters``, base64 in VARCHAR parts (Milvus has no
    # binary scalar; a 1 MiB adapter is ~23 rows), all written in one upsert, read back by their ids
    def _blob_table(self) -> str:
        if not self._c.has_collection(ADAPTER_BLOBS):  # made on first use: older stores have none
            schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("part_key", DataType.VARCHAR, is_primary=True, max_length=512)
            schema.add_field("parts", DataType.INT64)
            schema.add_field("data", DataType.VARCHAR, max_length=_VARCHAR)
            schema.add_field("unused", DataType.FLOAT_VECTOR, dim=2)
            index = self._c.prepare_index_params()
            index.add_index("unused", index_type="FLAT", metric_type="L2")
            self._c.create_collection(ADAPTER_BLOBS, schema=schema, index_params=index, consistency_level="Strong")
        if ADAPTER_BLOBS not in self._loaded:
            self._c.load_collection(ADAPTER_BLOBS)
            self._loaded.add(ADAPTER_BLOBS)
        return ADAPTER_BLOBS

    def _put_blob(self, key: str, blob: bytes) -> None:
        text = base64.b64encode(blob).decode()
        parts = [text[i : i + _PART] for i in range(0, len(text), _PART)] or [""]
        rows = [{"part_key": f"{key}#{i}", "parts": len(parts), "data": p, "unused": [1.0, 0.0]}
                for i, p in enumerate(parts)]  # fmt: skip
        self._c.upsert(self._blob_table(), rows)

    def _get_blob(self, key: str) -> bytes | None:
        table = self._blob_table()
        first = self._c.query(table, filter=f"part_key == {_literal(key + '#0')}", output_fields=["parts", "data"])
        if not first:
            return None
        rest = [_literal(f"{key}#{i}") for i in range(1, int(first[0]["parts"]))]
        found = {r["part_key"]: r["data"] for r in self._c.query(
            table, filter=f"part_key in [{', '.join(rest)}]", output_fields=["part_key", "data"]
        )} if rest else {}  # fmt: skip
        if len(found) != len(rest):
            return None
        return base64.b64decode(first[0]["data"] + "".join(found[f"{key}#{i}"] for i in range(1, len(rest) + 1)))

    def _drop_blobs(self, keys: Sequence[str]) -> None:
        if not keys or not self._c.has_collection(ADAPTER_BLOBS):
            return
        table, heads = self._blob_table(), ", ".join(_literal(f"{k}#0") for k in keys)
        found = self._c.query(table, filter=f"part_key in [{heads}]", output_fields=["part_key", "parts"])
        ids = [_literal(f"{h['part_key'][:-2]}#{i}") for h in found for i in range(int(h["parts"]))]
        if ids:
            self._c.delete(table, filter=f"part_key in [{', '.join(ids)}]")

    def _create_table(self, collection: str, version: int, dims: int, fingerprint_json: str) -> None:
        name = f"{collection}__v{version}"
        if self._c.has_collection(name):
            return
        if dims > MAX_DIMENSIONS:
            raise StoreError(
                f"Milvus holds vectors of at most {MAX_DIMENSIONS} dimensions, not {dims}: pass --dimensions"
            )
        if self._c.has_collection(collection) and collection not in self._c.list_aliases().get("aliases", []):
            raise StoreError(
                f"Milvus at {redact(self.url)} already has a collection named {collection!r} (not omnivec's): the "
                "alias that serves this collection needs that name; choose another collection name"
            )
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=_VARCHAR)
        schema.add_field("content_hash", DataType.VARCHAR, max_length=512)
        schema.add_field("text", DataType.VARCHAR, max_length=_VARCHAR, nullable=True)
        schema.add_field("uri", DataType.VARCHAR, max_length=_VARCHAR, nullable=True)
        schema.add_field("metadata", DataType.JSON)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dims)
        index = self._c.prepare_index_params()
        index.add_index("vector", index_type="FLAT", metric_type="COSINE")
        self._c.create_collection(
            name, schema=schema, index_params=index, consistency_level="Strong",
            properties={"omnivec.fingerprint": fingerprint_json},
        )  # fmt: skip

    def _drop_table(self, collection: str, version: int) -> None:
        self._loaded.discard(f"{collection}__v{version}")
        if self._has_table(collection, version):
            self._c.drop_collection(f"{collection}__v{version}")

    def _has_table(self, collection: str, version: int) -> bool:
        return bool(self._c.has_collection(f"{collection}__v{version}"))

    def _point_alias(self, collection: str, version: int | None) -> None:
        exists = collection in self._c.list_aliases().get("aliases", [])
        if version is None:
            if exists:
                self._c.drop_alias(collection)
        elif exists:
            self._c.alter_alias(f"{collection}__v{version}", collection)  # one call: atomic in Milvus
        else:
            self._c.create_alias(f"{collection}__v{version}", collection)

    def health(self, collection: str, version: int) -> list[str]:
        problems = super().health(collection, version)
        pointer = self.alias(collection)
        if pointer is not None and collection in self._c.list_aliases().get("aliases", []):
            target = self._c.describe_alias(collection).get("collection_name")
            if target != f"{collection}__v{pointer[0]}":
                problems.append(
                    f"the Milvus alias {collection!r} points at {target}, the catalog at v{pointer[0]}: "
                    f"run 'omnivec switch {collection} --version {pointer[0]}'"
                )
        return problems

    # data -----------------------------------------------------------------------------------------
    def _table(self, collection: str, version: int) -> str:
        name = f"{collection}__v{version}"
        if name not in self._loaded:  # a collection made by another process is 'released' until loaded
            self._require(collection, version)
            self._c.load_collection(name)
            self._loaded.add(name)
        return name

    def _by_id(self, collection: str, version: int, ids: Sequence[str], fields: list[str]) -> list[dict[str, Any]]:
        # pymilvus' get(ids=) quotes ids without escaping (a backslash broke it): JSON strings are Milvus literals
        table = self._table(collection, version)
        try:
            return list(self._c.query(table, filter=f"id in [{', '.join(map(_literal, ids))}]", output_fields=fields))
        except MilvusException as exc:
            if not self._has_table(collection, version):  # dropped by another handle since it was loaded
                self._loaded.discard(table)
                self._require(collection, version)
            raise StoreError(f"{table}: {_first_line(exc)}") from None

    def hashes(self, collection: str, version: int, ids: Sequence[str]) -> dict[str, str]:
        if not ids:
            return {}
        return {r["id"]: r["content_hash"] for r in self._by_id(collection, version, ids, ["id", "content_hash"])}

    def rows(self, collection: str, version: int, ids: Sequence[str], *, vectors: bool = False) -> list[Row]:
        if not ids:
            return []
        fields = [*_FIELDS, "vector"] if vectors else _FIELDS
        return [_row(r) for r in self._by_id(collection, version, ids, fields)]

    def upsert(self, collection: str, version: int, rows: Sequence[Row], *, fingerprint: Mapping[str, Any]) -> None:
        table = self._table(collection, version)
        self.check_writer(collection, version, fingerprint)
        if not rows:
            return
        matrix = self.check_vectors(collection, version, rows)
        for row in rows:
            for name, value in (("id", row.id), ("text", row.text), ("uri", row.uri)):
                if value is not None and len(value.encode()) > _VARCHAR:
                    raise StoreError(
                        f"row {row.id[:40]!r}: its {name} is {len(value.encode())} bytes; a Milvus VARCHAR holds "
                        f"{_VARCHAR}: split the item: nothing of the batch was written"
                    )
        self._declare_fields(collection, version, rows)
        data = [
            {"id": r.id, "content_hash": r.content_hash, "text": r.text, "uri": r.uri, "metadata": dict(r.metadata),
             "vector": vector}
            for r, vector in zip(rows, matrix, strict=True)
        ]  # fmt: skip
        try:
            self._c.upsert(table, data)  # one request
        except MilvusException as exc:
            raise StoreError(f"{table} refused the rows: {_first_line(exc)}") from None

    def delete(self, collection: str, version: int, ids: Sequence[str]) -> None:
        if ids:
            self._c.delete(self._table(collection, version), filter=f"id in [{', '.join(map(_literal, ids))}]")

    def scan(self, collection: str, version: int, batch_size: int, *, vectors: bool = False) -> Iterator[list[Row]]:
        """Keyset pages by primary key from the last one seen (deletes behind it are harmless), sorted by
        the server as its query iterator asks for (pymilvus' own iterator does not escape string keys)."""
        for page in self._pages(collection, version, [*_FIELDS, "vector"] if vectors else _FIELDS, batch_size):
            yield [_row(r) for r in page]

    def ids(self, collection: str, version: int, batch_size: int) -> Iterator[list[str]]:
        for page in self._pages(collection, version, ["id"], batch_size):  # the id column alone
            yield [r["id"] for r in page]

    def _pages(self, collection: str, version: int, fields: list[str], batch_size: int) -> Iterator[list[Any]]:
        table, last = self._table(collection, version), None
        while True:
            page = self._c.query(
                table, filter="" if last is None else f"id > {_literal(last)}", limit=batch_size,
                output_fields=fields, iterator="True", reduce_stop_for_best="True",
            )  # fmt: skip
            if not page:
                return
            yield page
            last = page[-1]["id"]

    def search(
        self, collection: str, version: int, vector: np.ndarray, k: int, *, exact: bool = False,
        where: Sequence[Condition] = (),
    ) -> list[Hit]:  # fmt: skip
        table = self._table(collection, version)
        ivf = self._is_ivf(table)

        def query(exact: bool) -> list[Any]:
            params: dict[str, Any] = {"metric_type": "COSINE"}
            if ivf:  # probing every list is a full scan: nprobe is clamped to nlist (Lite keeps its own)
                params["params"] = {"nprobe": _MAX_NPROBE if exact else 32}
            return list(self._c.search(
                table, [np.asarray(vector, dtype=np.float32).tolist()], limit=k, output_fields=_FIELDS,
                search_params=params, filter=milvus_expression(where),  # filtered inside the search, before top-k
            )[0])  # fmt: skip

        found = query(exact)
        if where and len(found) < k and ivf and not exact:
            found = query(True)  # the matching rows sat in lists not probed: k rows match, k come back
        return [
            Hit(h["entity"]["id"], float(h["distance"]), h["entity"].get("metadata") or {}, h["entity"].get("text"),
                h["entity"].get("uri"))
            for h in found
        ]  # fmt: skip

    def _is_ivf(self, table: str) -> bool:
        names = self._c.list_indexes(table, field_name="vector")
        return bool(names) and self._c.describe_index(table, names[0]).get("index_type") == "IVF_FLAT"

    def count(self, collection: str, version: int) -> int:
        found = self._c.query(self._table(collection, version), filter="", output_fields=["count(*)"])
        return int(found[0]["count(*)"])

    def duplicate_ids(self, collection: str, version: int) -> int:
        return count_duplicates(i for ids in self.ids(collection, version, 16_384) for i in ids)

    def has_ann_index(self, collection: str, version: int) -> bool:
        return self._is_ivf(self._table(collection, version))

    def build_index(self, collection: str, version: int) -> str | None:
        table = self._table(collection, version)
        rows = self.count(collection, version)
        if self.settings.index in ("none", "hnsw") or rows < max(self.settings.index_min_rows, 256):
            return None
        lists = max(1, min(4096, rows // 1000))
        self._c.release_collection(table)
        for name in self._c.list_indexes(table, field_name="vector"):
            self._c.drop_index(table, name)
        index = self._c.prepare_index_params()
        index.add_index("vector", index_type="IVF_FLAT", metric_type="COSINE", params={"nlist": lists})
        self._c.create_index(table, index)
        self._c.load_collection(table)
        return f"IVF_FLAT nlist={lists}"


def _literal(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a Milvus string literal (escapes included)


def _row(r: Mapping[str, Any]) -> Row:
    vector = r.get("vector")
    return Row(r["id"], r["content_hash"], r.get("text"), r.get("uri"), r.get("metadata") or {},
               None if vector is None else np.asarray(vector, dtype=np.float32))  # fmt: skip
