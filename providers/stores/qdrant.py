"""Qdrant adapter: ``qdrant://host:6333`` / ``qdrants://`` (a server, API key as the URL's password or
``QDRANT_API_KEY``) or ``qdrant+local://PATH`` (qdrant-client's local mode: the same client, a folder).

Mapping: a version is a Qdrant collection ``<name>__v<N>`` (cosine distance, the fingerprint in the
collection's ``metadata``); a row is a point whose id is ``uuid5(row id)`` with ``id``, ``content_hash``,
``text``, ``uri`` and ``metadata`` in its payload: a metadata filter is pushed down as a Qdrant
payload filter on ``metadata.<key>`` (:mod:`.native_filters`; on a server each typed key gets a payload index). Qdrant normalizes vectors of a cosine collection when it
stores them, so the vector as written is kept, byte for byte, in the payload (``vector_f32``, base64).
Catalog and alias: one point per collection in ``omnivec__catalog`` (:mod:`._record_catalog`; space
adapters listed in it, their bytes a point each in ``omnivec__adapters``, :mod:`._record_adapters`); the
Qdrant alias ``<name>`` is then moved to the serving version with one ``update_collection_aliases``
request (delete + create, atomic in Qdrant), so apps that query Qdrant directly follow a switch.
Every version also holds a sparse vector of each row's words, ranked by Qdrant as BM25
(:mod:`._qdrant_lexical`: the ``lexical`` feature). On a server, versions are created without an HNSW graph (``m=0``: the bulk-load setting) until
``build_index`` turns it on; ``exact=True`` asks for a full scan. Local mode is always exact.
Local mode opens a folder from ONE process (the client locks it); handles of one process share it.
"""

from __future__ import annotations

import atexit
import base64
import json
import os
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import numpy as np

try:
    from qdrant_client import QdrantClient, models
except ImportError as exc:  # pragma: no cover - depends on the extra
    from ..errors import MissingDependencyError

    raise MissingDependencyError(f'the Qdrant store needs its extra: pip install "omnivec[qdrant]" ({exc})') from exc

from ._qdrant_lexical import SPARSE, QdrantLexical, hit_of, sparse_weights
from ._record_adapters import ADAPTER_BLOBS
from ._record_catalog import CATALOG, RecordCatalogStore, lock_folder_for, redact
from .base import Feature, Hit, Row
from .errors import StoreError
from .filters import Condition, FieldType
from .native_filters import qdrant_filter, refuse_string_ranges
from .settings import BaseStoreSettings

__all__ = ["QdrantStore"]

_PAYLOAD = ["id", "content_hash", "text", "uri", "metadata"]
_SHARED: dict[str, tuple[QdrantClient, int, threading.RLock]] = {}
_SHARED_GUARD = threading.Lock()


@atexit.register
def _close_shared() -> None:
    """Close the local clients handles left open (the client's own __del__ fails at interpreter exit)."""
    with _SHARED_GUARD:
        for client, _, lock in _SHARED.values():
            with lock:
                client.close()
        _SHARED.clear()


def _point_id(key: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, key))


def _local_path(settings: BaseStoreSettings) -> Path | None:
    scheme, _, rest = settings.url.partition("://")
    return Path(rest or ".omnivec-qdrant").resolve() if scheme.lower() == "qdrant+local" else None


class _Locked:
    """The local client of one folder, shared by every handle of this process behind one lock (local
    mode is plain Python over dicts and SQLite: a reader thread beside a writer saw a dict change size)."""

    def __init__(self, client: QdrantClient, lock: threading.RLock) -> None:
        self._client, self.lock = client, lock

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            with self.lock:
                return method(*args, **kwargs)

        return call


class _NoCommit:
    """A SQLite connection whose ``with`` block does not commit: local mode commits (and fsyncs) every
    point on its own, 20 ms each here (47 points/s); under this, one batch is one commit."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    def __enter__(self) -> Any:
        return self.connection

    def __exit__(self, *exc: object) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.connection, name)


class QdrantStore(QdrantLexical, RecordCatalogStore):
    scheme = "qdrant"
    features: ClassVar[frozenset[Feature]] = frozenset({"filters", "lexical", "adapters"})

    def __init__(self, settings: BaseStoreSettings) -> None:
        super().__init__(settings)
        self._path = _local_path(settings)
        self._closed = False
        if self._path is not None:
            self.lock_folder = self._path / "_omnivec_locks"
            self._client: Any = self._open_local(self._path)
        else:
            self.lock_folder = lock_folder_for(settings.url)
            parts = urlsplit(settings.url)
            api_key = parts.password or os.environ.get("QDRANT_API_KEY") or None
            https = parts.scheme.lower() == "qdrants"
            try:
                self._client = QdrantClient(
                    host=parts.hostname or "localhost",
                    port=parts.port or 6333,
                    https=https,
                    api_key=api_key,
                    timeout=10,
                    check_compatibility=False,  # its own probe warns from a thread; get_collections() below says it
                )
                self._client.get_collections()  # the client is lazy: fail here, before anything is written
            except Exception as exc:
                raise StoreError(
                    f"cannot reach the Qdrant server at {redact(settings.url)}: {str(exc).splitlines()[0] or type(exc).__name__}"
                ) from None
        if not self._client.collection_exists(CATALOG):
            self._client.create_collection(CATALOG, vectors_config={})

    @classmethod
    def exists(cls, settings: BaseStoreSettings) -> bool:
        path = _local_path(settings)
        return path is None or path.exists()

    def _open_local(self, path: Path) -> Any:
        if path.exists() and not path.is_dir():
            raise StoreError(f"store {self.url}: {path} is a file, not a folder: give a folder path")
        with _SHARED_GUARD:
            if str(path) not in _SHARED:
                try:
                    path.mkdir(parents=True, exist_ok=True)
                    client = QdrantClient(path=str(path))
                except RuntimeError as exc:  # another process holds the folder
                    raise StoreError(
                        f"store {self.url}: {str(exc).splitlines()[0]} (local mode is one process per folder: run a "
                        "Qdrant server and use qdrant://host:6333 for several)"
                    ) from None
                except OSError as exc:
                    raise StoreError(f"store {self.url}: cannot create the folder {path} ({exc.strerror})") from None
                _SHARED[str(path)] = (client, 0, threading.RLock())
            client, users, lock = _SHARED[str(path)]
            _SHARED[str(path)] = (client, users + 1, lock)
        return _Locked(client, lock)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._path is None:
            self._client.close()
            return
        with _SHARED_GUARD:
            client, users, lock = _SHARED[str(self._path)]
            if users > 1:
                _SHARED[str(self._path)] = (client, users - 1, lock)
                return
            del _SHARED[str(self._path)]
        with lock:
            client.close()

    @property
    def _c(self) -> Any:
        if self._closed and self._path is None:
            raise StoreError(f"the store at {redact(self.url)} was closed: open it again with open_store(URL)")
        if self._closed and self._path is not None:  # reopen: an embedded store works again after close
            self._closed = False
            self._client = self._open_local(self._path)
        return self._client

    # the catalog record ---------------------------------------------------------------------------
    def _read_record(self, collection: str) -> dict[str, Any] | None:
        found = self._c.retrieve(CATALOG, [_point_id(collection)], with_payload=True)
        return json.loads(found[0].payload["record"]) if found else None

    def _write_record(self, collection: str, record: dict[str, Any] | None) -> None:
        if record is None:
            self._c.delete(CATALOG, models.PointIdsList(points=[_point_id(collection)]), wait=True)
            return
        point = models.PointStruct(
            id=_point_id(collection), vector={}, payload={"name": collection, "record": json.dumps(record)}
        )
        self._c.upsert(CATALOG, [point], wait=True)

    def _record_names(self) -> list[str]:
        names, offset = [], None
        while True:
            points, offset = self._c.scroll(CATALOG, limit=1000, offset=offset, with_payload=["name"])
            names += [p.payload["name"] for p in points]
            if offset is None:
                return names

    # adapter bytes: one point each in ``omnivec__adapters`` (base64 in its payload; no vector) ----------------
    def _put_blob(self, key: str, blob: bytes) -> None:
        if not self._c.collection_exists(ADAPTER_BLOBS):  # made on first use: older stores have none
            try:
                self._c.create_collection(ADAPTER_BLOBS, vectors_config={})
            except Exception:  # another handle made it first
                if not self._c.collection_exists(ADAPTER_BLOBS):
                    raise
        point = models.PointStruct(id=_point_id(key), vector={}, payload={"blob": base64.b64encode(blob).decode()})
        self._c.upsert(ADAPTER_BLOBS, [point], wait=True)

    def _get_blob(self, key: str) -> bytes | None:
        if not self._c.collection_exists(ADAPTER_BLOBS):
            return None
        found = self._c.retrieve(ADAPTER_BLOBS, [_point_id(key)], with_payload=True)
        return base64.b64decode(found[0].payload["blob"]) if found else None

    def _drop_blobs(self, keys: Sequence[str]) -> None:
        if keys and self._c.collection_exists(ADAPTER_BLOBS):
            self._c.delete(ADAPTER_BLOBS, models.PointIdsList(points=[_point_id(k) for k in keys]), wait=True)

    def _create_table(self, collection: str, version: int, dims: int, fingerprint_json: str) -> None:
        name = f"{collection}__v{version}"
        if self._c.collection_exists(name) and name not in self._aliases():
            return
        self._refuse_foreign(collection)
        self._c.create_collection(
            name,
            vectors_config=models.VectorParams(size=dims, distance=models.Distance.COSINE),
            sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},  # lexical
            hnsw_config=models.HnswConfigDiff(m=0),  # no graph while bulk-loading (server); build_index sets it
            metadata={"omnivec.fingerprint": fingerprint_json},
        )

    def _refuse_foreign(self, collection: str) -> None:
        names = {c.name for c in self._c.get_collections().collections}
        if collection in names:
            raise StoreError(
                f"Qdrant at {redact(self.url)} already has a collection named {collection!r} (not omnivec's): the "
                "alias that serves this collection needs that name; choose another collection name"
            )

    def _aliases(self) -> dict[str, str]:
        return {a.alias_name: a.collection_name for a in self._c.get_aliases().aliases}

    def _drop_table(self, collection: str, version: int) -> None:
        self.__dict__.get("_sparse_known", {}).pop(f"{collection}__v{version}", None)
        if self._has_table(collection, version):
            self._c.delete_collection(f"{collection}__v{version}")

    def _has_table(self, collection: str, version: int) -> bool:
        name = f"{collection}__v{version}"
        return bool(self._c.collection_exists(name)) and name not in self._aliases()

    def _point_alias(self, collection: str, version: int | None) -> None:
        actions: list[Any] = []
        if collection in self._aliases():
            actions.append(models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=collection)))
        if version is not None:
            target = models.CreateAlias(collection_name=f"{collection}__v{version}", alias_name=collection)
            actions.append(models.CreateAliasOperation(create_alias=target))
        if actions:
            self._c.update_collection_aliases(actions)  # one request: readers see the old or the new target

    def health(self, collection: str, version: int) -> list[str]:
        problems = super().health(collection, version)
        pointer = self.alias(collection)
        target = self._aliases().get(collection)
        if pointer is not None and target != f"{collection}__v{pointer[0]}":
            problems.append(
                f"the Qdrant alias {collection!r} points at {target or 'nothing'}, the catalog at v{pointer[0]} "
                f"(a switch killed between its two writes): run 'omnivec switch {collection} --version {pointer[0]}'"
            )
        return problems

    # data -----------------------------------------------------------------------------------------
    @contextmanager
    def _one_commit(self, table: str) -> Iterator[Any]:
        """Local mode: the batch's points in ONE SQLite commit (all or nothing when killed), by holding
        back the per-point commits of qdrant-client 1.20's local persistence; the client as it is when
        that layout is not found (a server, another client version)."""
        locked = self._c
        client = getattr(locked, "_client", None)  # the QdrantClient behind the shared handle
        local = getattr(getattr(client, "_client", None), "collections", {}).get(table)  # its LocalCollection
        persistence = getattr(local, "storage", None)
        connection = getattr(persistence, "storage", None)
        if self._path is None or connection is None or not hasattr(connection, "commit"):
            yield locked
            return
        with locked.lock:
            persistence.storage = _NoCommit(connection)  # type: ignore[union-attr]
            try:
                yield client
            except BaseException:
                connection.rollback()
                raise
            else:
                connection.commit()
            finally:
                persistence.storage = connection  # type: ignore[union-attr]

    def _table(self, collection: str, version: int) -> str:
        self._require(collection, version)
        return f"{collection}__v{version}"

    def _fetch(self, collection: str, version: int, ids: Sequence[str], vectors: bool) -> list[Row]:
        if not ids:
            return []
        table = self._table(collection, version)
        fields = [*_PAYLOAD, "vector_f32"] if vectors else _PAYLOAD
        return [_row(p.payload) for p in self._c.retrieve(table, [_point_id(i) for i in ids], with_payload=fields)]

    def hashes(self, collection: str, version: int, ids: Sequence[str]) -> dict[str, str]:
        return {r.id: r.content_hash for r in self._fetch(collection, version, ids, False)}

    def rows(self, collection: str, version: int, ids: Sequence[str], *, vectors: bool = False) -> list[Row]:
        return self._fetch(collection, version, ids, vectors)

    def upsert(self, collection: str, version: int, rows: Sequence[Row], *, fingerprint: Mapping[str, Any]) -> None:
        self._require(collection, version)
        self.check_writer(collection, version, fingerprint)
        if not rows:
            return
        matrix = self.check_vectors(collection, version, rows)
        self._declare_fields(collection, version, rows)
        words = self._has_sparse(f"{collection}__v{version}")  # a version made before sparse vectors has none
        points = [
            models.PointStruct(
                id=_point_id(r.id),
                vector={"": vector.tolist(), **({SPARSE: _sparse(r.text)} if words else {})},
                payload={"id": r.id, "content_hash": r.content_hash, "text": r.text, "uri": r.uri,
                         "metadata": dict(r.metadata), "vector_f32": base64.b64encode(vector.tobytes()).decode()},
            )
            for r, vector in zip(rows, matrix, strict=True)
        ]  # fmt: skip
        with self._one_commit(f"{collection}__v{version}") as client:
            client.upsert(f"{collection}__v{version}", points, wait=True)  # server: one request, one operation

    def delete(self, collection: str, version: int, ids: Sequence[str]) -> None:
        if ids:
            selector = models.PointIdsList(points=[_point_id(i) for i in ids])
            with self._one_commit(self._table(collection, version)) as client:
                client.delete(f"{collection}__v{version}", selector, wait=True)

    def scan(self, collection: str, version: int, batch_size: int, *, vectors: bool = False) -> Iterator[list[Row]]:
        """Pages in point-id order from the last id seen, so rows deleted behind the cursor never shift it."""
        table, offset = self._table(collection, version), None
        fields = [*_PAYLOAD, "vector_f32"] if vectors else _PAYLOAD
        while True:
            points, offset = self._c.scroll(table, limit=batch_size, offset=offset, with_payload=fields)
            if points:
                yield [_row(p.payload) for p in points]
            if offset is None:
                return

    def ids(self, collection: str, version: int, batch_size: int) -> Iterator[list[str]]:
        table, offset = self._table(collection, version), None
        while True:  # the 'id' payload key alone
            points, offset = self._c.scroll(table, limit=batch_size, offset=offset, with_payload=["id"])
            if points:
                yield [p.payload["id"] for p in points if p.payload is not None]
            if offset is None:
                return

    def search(
        self, collection: str, version: int, vector: np.ndarray, k: int, *, exact: bool = False,
        where: Sequence[Condition] = (),
    ) -> list[Hit]:  # fmt: skip
        table = self._table(collection, version)
        self.check_conditions(where, table)

        def query(exact: bool) -> list[Any]:
            return list(self._c.query_points(
                table, query=np.asarray(vector, dtype=np.float32).tolist(), limit=k,
                query_filter=qdrant_filter(where),  # a payload filter: applied inside the search, before top-k
                search_params=None if self._path is not None else models.SearchParams(exact=exact),  # local: exact
                with_payload=_PAYLOAD,
            ).points)  # fmt: skip

        found = query(exact)
        if where and len(found) < k and not exact and self._path is None:
            found = query(True)  # a selective filter the graph walk fell short on: k rows match, k come back
        return [hit_of(p) for p in found]

    def check_conditions(self, conditions: Sequence[Condition], table: str) -> None:
        refuse_string_ranges("Qdrant", conditions, table)

    def _index_fields(self, table: str, new: Mapping[str, FieldType]) -> None:
        if self._path is not None:
            return  # local mode has no payload indexes
        kinds = {"str": models.PayloadSchemaType.KEYWORD, "int": models.PayloadSchemaType.INTEGER,
                 "float": models.PayloadSchemaType.FLOAT, "bool": models.PayloadSchemaType.BOOL}  # fmt: skip
        for key, kind in new.items():  # filtered HNSW search stays fast and k-complete with one per key
            self._c.create_payload_index(table, f"metadata.{key}", field_schema=kinds[kind], wait=True)

    def count(self, collection: str, version: int) -> int:
        return int(self._c.count(self._table(collection, version), exact=True).count)

    def duplicate_ids(self, collection: str, version: int) -> int:
        self._require(collection, version)
        return 0  # the point id is uuid5(row id): one point per id by construction

    def has_ann_index(self, collection: str, version: int) -> bool:
        if self._path is not None:
            return False  # local mode has no index: every search is a full scan
        config = self._c.get_collection(self._table(collection, version)).config.hnsw_config
        return bool(config.m)

    def build_index(self, collection: str, version: int) -> str | None:
        table = self._table(collection, version)
        if self._path is not None or self.settings.index in ("none", "ivf_pq"):
            return None
        if self.count(collection, version) < self.settings.index_min_rows:
            return None
        self._c.update_collection(table, hnsw_config=models.HnswConfigDiff(m=16, ef_construct=100))
        return "HNSW m=16 ef_construct=100 (Qdrant builds it in the background)"


def _sparse(text: str | None) -> Any:
    indices, values = sparse_weights(text)
    return models.SparseVector(indices=indices, values=values)


def _row(payload: Mapping[str, Any]) -> Row:
    raw = payload.get("vector_f32")
    vector = None if raw is None else np.frombuffer(base64.b64decode(raw), dtype=np.float32).copy()
    return Row(payload["id"], payload["content_hash"], payload.get("text"), payload.get("uri"),
               payload.get("metadata") or {}, vector)  # fmt: skip
