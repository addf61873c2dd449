"""Chroma adapter: ``chroma+local://PATH`` (the embedded ``PersistentClient``, a folder) or
``chroma://host:8000`` / ``chromas://`` (the HTTP client of a Chroma server). Telemetry is off.

Mapping: a version is a Chroma collection ``<name>__v<N>`` (``hnsw:space = cosine``, no embedding
function: omnivec embeds; the fingerprint in the collection metadata). A row is a record: its id,
``document`` = text, ``uri`` = Chroma's own uri field, and in the record metadata ``content_hash``,
the whole metadata as JSON (``omnivec.metadata``: Chroma metadata holds scalars only) and each typed
key (:mod:`.filters`; its type recorded in the catalog) again as ``m.<key>`` with a presence marker
``h.<key>``, so a metadata filter is pushed down as a Chroma ``where`` (:mod:`.native_filters`).
Chroma normalizes the embeddings of a cosine collection, so the vector as written is kept, byte for
byte, in the record metadata too (``omnivec.vector``, base64 float32). Catalog and alias: one record per collection in
``omnivec__catalog`` (:mod:`._record_catalog`; space adapters listed in it, their bytes a record each
in ``omnivec__adapters``, :mod:`._record_adapters`): Chroma has no aliases, so a switch is that one
record write (atomic: one upsert). Chroma indexes every write in its HNSW graph as it goes, with no
switch to a full scan, so ``exact=True`` (and every search below ``index_min_rows`` rows) is computed
here over a scan of the version; ``build_index`` has nothing to build.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import numpy as np

try:
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from chromadb.errors import NotFoundError
except ImportError as exc:  # pragma: no cover - depends on the extra
    from ..errors import MissingDependencyError

    raise MissingDependencyError(f'the Chroma store needs its extra: pip install "omnivec[chroma]" ({exc})') from exc

from ._record_adapters import ADAPTER_BLOBS
from ._record_catalog import CATALOG, RecordCatalogStore, exact_top_k, lock_folder_for, redact
from .base import Feature, Hit, Row
from .errors import StoreError
from .filters import Condition, FieldType
from .native_filters import PRESENT, chroma_where, refuse_string_ranges
from .settings import BaseStoreSettings

__all__ = ["ChromaStore"]

_META = "omnivec.metadata"
_VECTOR = "omnivec.vector"
_UNUSED = np.ones((1, 1), dtype=np.float32)  # Chroma wants a vector with every record, catalog ones too
_INCLUDE_ROW: list[Any] = ["documents", "uris", "metadatas"]


def _local_path(settings: BaseStoreSettings) -> Path | None:
    scheme, _, rest = settings.url.partition("://")
    return Path(rest or ".omnivec-chroma").resolve() if scheme.lower() == "chroma+local" else None


class ChromaStore(RecordCatalogStore):
    scheme = "chroma"
    features: ClassVar[frozenset[Feature]] = frozenset({"filters", "adapters"})

    def __init__(self, settings: BaseStoreSettings) -> None:
        super().__init__(settings)
        self._path = _local_path(settings)
        quiet = ChromaSettings(anonymized_telemetry=False)
        try:
            if self._path is not None:
                if self._path.exists() and not self._path.is_dir():
                    raise StoreError(f"store {settings.url}: {self._path} is a file, not a folder: give a folder path")
                self.lock_folder = self._path / "_omnivec_locks"
                self._path.mkdir(parents=True, exist_ok=True)
                self._client = chromadb.PersistentClient(path=str(self._path), settings=quiet)
            else:
                self.lock_folder = lock_folder_for(settings.url)
                parts = urlsplit(settings.url)
                self._client = chromadb.HttpClient(
                    host=parts.hostname or "localhost", port=parts.port or 8000,
                    ssl=parts.scheme.lower() == "chromas", settings=quiet,
                )  # fmt: skip
            self._catalog = self._client.get_or_create_collection(CATALOG, embedding_function=None)
        except StoreError:
            raise
        except Exception as exc:  # connection refused, a folder it cannot write...
            line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StoreError(f"cannot open the Chroma store at {redact(settings.url)}: {line}") from None

    @classmethod
    def exists(cls, settings: BaseStoreSettings) -> bool:
        path = _local_path(settings)
        return path is None or path.exists()

    # the catalog record ---------------------------------------------------------------------------
    def _read_record(self, collection: str) -> dict[str, Any] | None:
        found = self._catalog.get(ids=[collection], include=["documents"])
        docs = found["documents"] or []
        return json.loads(docs[0]) if found["ids"] and docs and docs[0] else None

    def _write_record(self, collection: str, record: dict[str, Any] | None) -> None:
        if record is None:
            self._catalog.delete(ids=[collection])
        else:
            self._catalog.upsert(ids=[collection], documents=[json.dumps(record)], embeddings=_UNUSED)

    def _record_names(self) -> list[str]:
        return list(self._catalog.get(include=[])["ids"])

    # adapter bytes: one record each in ``omnivec__adapters``, base64 in its metadata (a document would
    # be fed to Chroma's full-text index)
    def _blobs(self) -> Any:
        return self._client.get_or_create_collection(ADAPTER_BLOBS, embedding_function=None)

    def _put_blob(self, key: str, blob: bytes) -> None:
        self._blobs().upsert(ids=[key], metadatas=[{"blob": base64.b64encode(blob).decode()}], embeddings=_UNUSED)

    def _get_blob(self, key: str) -> bytes | None:
        found = self._blobs().get(ids=[key], include=["metadatas"])
        metadatas = found["metadatas"] or []
        return base64.b64decode(str(metadatas[0]["blob"])) if found["ids"] and metadatas else None

    def _drop_blobs(self, keys: Sequence[str]) -> None:
        if keys:
            self._blobs().delete(ids=list(keys))

    def _collection(self, name: str) -> Any:
        return self._client.get_collection(name, embedding_function=None)

    def _create_table(self, collection: str, version: int, dims: int, fingerprint_json: str) -> None:
        self._client.get_or_create_collection(
            f"{collection}__v{version}",
            embedding_function=None,
            metadata={"hnsw:space": "cosine", "omnivec.fingerprint": fingerprint_json, "omnivec.dimensions": dims},
        )

    def _drop_table(self, collection: str, version: int) -> None:
        if self._has_table(collection, version):
            self._client.delete_collection(f"{collection}__v{version}")

    def _has_table(self, collection: str, version: int) -> bool:
        try:
            self._collection(f"{collection}__v{version}")
        except (NotFoundError, ValueError):
            return False
        return True

    # data -----------------------------------------------------------------------------------------
    def _table(self, collection: str, version: int) -> Any:
        self._require(collection, version)
        return self._collection(f"{collection}__v{version}")

    def hashes(self, collection: str, version: int, ids: Sequence[str]) -> dict[str, str]:
        if not ids:
            return {}
        found = self._table(collection, version).get(ids=list(ids), include=["metadatas"])
        return {i: m["content_hash"] for i, m in zip(found["ids"], found["metadatas"] or [], strict=True)}

    def rows(self, collection: str, version: int, ids: Sequence[str], *, vectors: bool = False) -> list[Row]:
        if not ids:
            return []
        return _rows(self._table(collection, version).get(ids=list(ids), include=_INCLUDE_ROW), vectors)

    def upsert(self, collection: str, version: int, rows: Sequence[Row], *, fingerprint: Mapping[str, Any]) -> None:
        table = self._table(collection, version)
        self.check_writer(collection, version, fingerprint)
        if not rows:
            return
        matrix = self.check_vectors(collection, version, rows)
        if len(rows) > self._client.get_max_batch_size():
            raise StoreError(
                f"Chroma takes at most {self._client.get_max_batch_size()} records per write, not {len(rows)}: "
                "lower --batch-size"
            )
        fields = self._declare_fields(collection, version, rows)
        metadatas = [
            {"content_hash": r.content_hash, _META: json.dumps(dict(r.metadata)), _VECTOR: _b64(vector),
             **_typed(r.metadata, fields)}
            for r, vector in zip(rows, matrix, strict=True)
        ]  # fmt: skip
        table.upsert(
            ids=[r.id for r in rows], embeddings=matrix, documents=[r.text for r in rows],  # type: ignore[misc]
            uris=[r.uri for r in rows], metadatas=metadatas,  # type: ignore[misc]
        )  # fmt: skip  # one call: one commit of Chroma's log

    def delete(self, collection: str, version: int, ids: Sequence[str]) -> None:
        if ids:
            self._table(collection, version).delete(ids=list(ids))

    def scan(self, collection: str, version: int, batch_size: int, *, vectors: bool = False) -> Iterator[list[Row]]:
        """Chroma pages by offset only: after each page, the rows of it the consumer deleted meanwhile
        (migrate's last pass does) are taken off the offset, so no row is skipped."""
        table, offset = self._table(collection, version), 0
        while True:
            page = _rows(table.get(limit=batch_size, offset=offset, include=_INCLUDE_ROW), vectors)
            if not page:
                return
            yield page
            offset += len(table.get(ids=[r.id for r in page], include=[])["ids"])

    def search(
        self, collection: str, version: int, vector: np.ndarray, k: int, *, exact: bool = False,
        where: Sequence[Condition] = (),
    ) -> list[Hit]:  # fmt: skip
        table = self._table(collection, version)
        self.check_conditions(where, table.name)
        total, native = table.count(), chroma_where(where)
        if not exact and total >= self.settings.index_min_rows:
            found = table.query(
                query_embeddings=[np.asarray(vector, dtype=np.float32)], n_results=min(k, total),
                include=[*_INCLUDE_ROW, "distances"], where=native,  # Chroma filters before its graph search
            )  # fmt: skip
            first: dict[str, Any] = {key: (value or [[]])[0] for key, value in found.items() if isinstance(value, list)}
            hits = _rows({key: first.get(key) for key in ("ids", "documents", "uris", "metadatas")})
            distances: list[float] = first.get("distances") or []
            if not where or len(hits) == k:  # else: the graph walk fell short of k matching rows: scan them
                return [
                    Hit(r.id, 1.0 - float(d), r.metadata, r.text, r.uri) for r, d in zip(hits, distances, strict=True)
                ]
        best = exact_top_k(self._matching(table, native), vector, k)
        return [Hit(r.id, score, r.metadata, r.text, r.uri) for score, r in best]

    def _matching(self, table: Any, native: dict[str, Any] | None, page: int = 4096) -> Iterator[list[Row]]:
        """The rows ``native`` selects (every row without it), with vectors, filtered by Chroma itself."""
        offset = 0
        while batch := _rows(table.get(where=native, limit=page, offset=offset, include=_INCLUDE_ROW), True):
            yield batch
            offset += len(batch)

    def check_conditions(self, conditions: Sequence[Condition], table: str) -> None:
        refuse_string_ranges("Chroma", conditions, table)

    def count(self, collection: str, version: int) -> int:
        return int(self._table(collection, version).count())

    def duplicate_ids(self, collection: str, version: int) -> int:
        self._require(collection, version)
        return 0  # the id is Chroma's primary key: one record per id by construction

    def build_index(self, collection: str, version: int) -> str | None:
        self._require(collection, version)
        return None  # Chroma builds its HNSW graph on every write


def _typed(metadata: Mapping[str, Any], fields: Mapping[str, FieldType]) -> dict[str, Any]:
    """The typed keys as Chroma metadata: ``m.<key>`` (floats as floats) and the presence marker ``h.<key>``."""
    typed: dict[str, Any] = {}
    for key, kind in fields.items():
        value = metadata.get(key)
        if value is not None:
            typed[f"m.{key}"], typed[f"{PRESENT}{key}"] = float(value) if kind == "float" else value, True
    return typed


def _b64(vector: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(vector, dtype=np.float32).tobytes()).decode()


def _rows(found: Mapping[str, Any], vectors: bool = False) -> list[Row]:
    ids = list(found["ids"])
    documents = found.get("documents") or [None] * len(ids)
    uris = found.get("uris") or [None] * len(ids)
    metadatas = found.get("metadatas") or [{}] * len(ids)
    return [
        Row(i, m["content_hash"], d, u, json.loads(m.get(_META) or "{}"),
            np.frombuffer(base64.b64decode(m[_VECTOR]), dtype=np.float32).copy() if vectors else None)
        for i, d, u, m in zip(ids, documents, uris, metadatas, strict=True)
    ]  # fmt: skip
