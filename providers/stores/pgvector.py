"""PostgreSQL + pgvector adapter: the production server store.

Catalog tables ``omnivec_versions`` (fingerprint as jsonb + hash) and ``omnivec_aliases`` (one row per
collection, flipped by a single UPDATE: no DDL lock, readers never blocked); one table per version,
``omnivec_<name>__v<N>`` with ``vector(d)`` as a server-side dimension guard. Writers hold a session
advisory lock per version, which the server releases when a killed writer's connection drops.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np

try:
    import psycopg
    from pgvector.psycopg import register_vector
    from psycopg.types.json import Jsonb
except ImportError as exc:  # pragma: no cover - depends on the extra
    from ..errors import MissingDependencyError

    raise MissingDependencyError(
        f'the PostgreSQL store needs its extra: pip install "omnivec[stores]" ({exc})'
    ) from exc

from .base import AdapterRecord, Feature, Hit, Row, State, VectorStore, VersionInfo, fingerprint_hash
from .errors import CollectionNotFoundError, StoreError
from .filters import Condition, FieldType
from .pg_features import TSVECTOR, add_typed_columns, build_gin, fields_of, lexical_sql, predicate
from .settings import PgVectorSettings

__all__ = ["PgVectorStore"]

_CATALOG = """
CREATE TABLE IF NOT EXISTS omnivec_versions (
    collection text NOT NULL, version int NOT NULL, fingerprint jsonb NOT NULL, fingerprint_hash text NOT NULL,
    dimensions int NOT NULL, state text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (collection, version));
CREATE TABLE IF NOT EXISTS omnivec_aliases (
    alias text PRIMARY KEY, version int NOT NULL, previous int, updated_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS omnivec_adapters (
    collection text NOT NULL, version int NOT NULL, from_hash text NOT NULL, digest text NOT NULL, meta jsonb NOT NULL,
    serving boolean NOT NULL DEFAULT false, blob bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (collection, version, from_hash));
"""
_MAX_INDEX_DIMS = 2000  # pgvector < 0.7 cannot HNSW-index wider vectors


def _table(collection: str, version: int) -> str:
    return f'"omnivec_{collection}__v{version}"'


class PgVectorStore(VectorStore):
    scheme = "postgresql"
    features: ClassVar[frozenset[Feature]] = frozenset({"filters", "lexical", "adapters"})
    settings: PgVectorSettings

    def __init__(self, settings: PgVectorSettings) -> None:
        super().__init__(settings)
        self._dsn = settings.url.replace("postgres://", "postgresql://", 1)
        try:
            self._connection = psycopg.connect(self._dsn, autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as exc:
            raise StoreError(
                f"cannot connect to the store at {_redact(self._dsn)}: {str(exc).strip().splitlines()[0]}"
            ) from exc
        with self._conn.transaction():
            self._conn.execute("SELECT pg_advisory_xact_lock(hashtext('omnivec:catalog'))")  # concurrent first runs
            self._conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            self._conn.execute(_CATALOG)
        register_vector(self._conn)

    # catalog ------------------------------------------------------------------------------------
    def create_version(self, collection: str, version: int, fingerprint: Mapping[str, Any]) -> VersionInfo:
        dims = int(fingerprint["dimensions"])
        with self._conn.transaction():
            self._conn.execute(
                f"CREATE TABLE IF NOT EXISTS {_table(collection, version)} (id text PRIMARY KEY, content_hash text NOT NULL,"
                f" text text, uri text, metadata jsonb NOT NULL DEFAULT '{{}}', embedding vector({dims}) NOT NULL, {TSVECTOR})"
            )
            self._conn.execute(
                "INSERT INTO omnivec_versions (collection, version, fingerprint, fingerprint_hash, dimensions, state)"
                " VALUES (%s, %s, %s, %s, %s, 'building') ON CONFLICT DO NOTHING",
                (collection, version, Jsonb(dict(fingerprint)), fingerprint_hash(fingerprint), dims),
            )
        return next(v for v in self.versions(collection) if v.version == version)

    def versions(self, collection: str) -> list[VersionInfo]:
        rows = self._conn.execute(
            "SELECT collection, version, fingerprint, fingerprint_hash, dimensions, state, created_at::text"
            " FROM omnivec_versions WHERE collection = %s ORDER BY version",
            (collection,),
        ).fetchall()
        return [VersionInfo(*row) for row in rows]

    def collections(self) -> list[str]:
        return [r[0] for r in self._conn.execute("SELECT DISTINCT collection FROM omnivec_versions ORDER BY 1")]

    def set_state(self, collection: str, version: int, state: State) -> None:
        self._conn.execute(
            "UPDATE omnivec_versions SET state = %s WHERE collection = %s AND version = %s",
            (state, collection, version),
        )

    def alias(self, collection: str) -> tuple[int, int | None] | None:
        row = self._conn.execute(
            "SELECT version, previous FROM omnivec_aliases WHERE alias = %s", (collection,)
        ).fetchone()
        return (row[0], row[1]) if row else None

    def set_alias(self, collection: str, version: int, previous: int | None) -> None:
        self._conn.execute(
            "INSERT INTO omnivec_aliases (alias, version, previous) VALUES (%s, %s, %s) ON CONFLICT (alias)"
            " DO UPDATE SET version = EXCLUDED.version, previous = EXCLUDED.previous, updated_at = now()",
            (collection, version, previous),
        )

    def flip(self, collection: str, version: int, previous: int, previous_state: State) -> None:
        with self._conn.transaction():  # a row UPDATE each: readers never wait on it
            self.set_alias(collection, version, previous)
            self.set_state(collection, version, "live")
            self.set_state(collection, previous, previous_state)

    def drop_version(self, collection: str, version: int) -> None:
        with self._conn.transaction():
            self._conn.execute(f"DROP TABLE IF EXISTS {_table(collection, version)}")
            self._conn.execute(
                "DELETE FROM omnivec_versions WHERE collection = %s AND version = %s", (collection, version)
            )
            self._conn.execute(
                "DELETE FROM omnivec_adapters WHERE collection = %s AND version = %s", (collection, version)
            )
            self._conn.execute(
                "UPDATE omnivec_aliases SET previous = NULL WHERE alias = %s AND previous = %s", (collection, version)
            )
            self._conn.execute(
                "DELETE FROM omnivec_aliases WHERE alias = %s AND NOT EXISTS"
                " (SELECT 1 FROM omnivec_versions WHERE collection = %s)",
                (collection, collection),
            )

    # adapters: one row per (version, from space); choosing the serving one is ONE UPDATE
    def put_adapter(self, record: AdapterRecord, blob: bytes) -> None:
        if not any(v.version == record.version for v in self.versions(record.collection)):
            raise CollectionNotFoundError(f"collection {record.collection!r} has no version {record.version}")
        self._conn.execute(
            "INSERT INTO omnivec_adapters (collection, version, from_hash, digest, meta, serving, blob)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (collection, version, from_hash) DO UPDATE SET"
            " digest = EXCLUDED.digest, meta = EXCLUDED.meta, serving = EXCLUDED.serving, blob = EXCLUDED.blob,"
            " created_at = now()",
            (record.collection, record.version, record.from_hash, record.digest, Jsonb(dict(record.meta)),
             record.serving, blob),
        )  # fmt: skip

    def adapters(self, collection: str, version: int) -> list[AdapterRecord]:
        rows = self._conn.execute(
            "SELECT collection, version, from_hash, digest, meta, serving, created_at::text FROM omnivec_adapters"
            " WHERE collection = %s AND version = %s ORDER BY created_at, from_hash",
            (collection, version),
        ).fetchall()
        return [AdapterRecord(*row) for row in rows]

    def adapter_blob(self, collection: str, version: int, from_hash: str) -> bytes:
        row = self._conn.execute(
            "SELECT blob FROM omnivec_adapters WHERE collection = %s AND version = %s AND from_hash = %s",
            (collection, version, from_hash),
        ).fetchone()
        if row is None:
            raise CollectionNotFoundError(f"{collection}__v{version} holds no adapter from #{from_hash}")
        return bytes(row[0])

    def serve_adapter(self, collection: str, version: int, from_hash: str | None) -> None:
        self._conn.execute(
            "UPDATE omnivec_adapters SET serving = (from_hash = %s) WHERE collection = %s AND version = %s",
            (from_hash or "", collection, version),  # "" matches no hash: none serves
        )

    # data ---------------------------------------------------------------------------------------
    def _exec(self, sql: str, params: Any = None) -> Any:
        try:
            return self._conn.execute(sql, params)
        except psycopg.errors.UndefinedTable as exc:
            raise CollectionNotFoundError(f"a version table is missing from the store: {exc}".splitlines()[0]) from exc

    def hashes(self, collection: str, version: int, ids: Sequence[str]) -> dict[str, str]:
        if not ids:
            return {}
        rows = self._exec(
            f"SELECT id, content_hash FROM {_table(collection, version)} WHERE id = ANY(%s)", (list(ids),)
        )
        return dict(rows.fetchall())

    def rows(self, collection: str, version: int, ids: Sequence[str], *, vectors: bool = False) -> list[Row]:
        if not ids:
            return []
        columns = "id, content_hash, text, uri, metadata" + (", embedding" if vectors else "")
        found = self._exec(
            f"SELECT {columns} FROM {_table(collection, version)} WHERE id = ANY(%s)", (list(ids),)
        ).fetchall()
        return [Row(r[0], r[1], r[2], r[3], r[4] or {}, _vector(r[5]) if vectors else None) for r in found]

    def upsert(self, collection: str, version: int, rows: Sequence[Row], *, fingerprint: Mapping[str, Any]) -> None:
        self.check_writer(collection, version, fingerprint)
        if not rows:
            return
        matrix = self.check_vectors(collection, version, rows)
        table = _table(collection, version)
        with self._conn.transaction(), self._conn.cursor() as cur:
            add_typed_columns(cur, f"omnivec_{collection}__v{version}", rows)  # generated from the jsonb
            cur.execute(
                "CREATE TEMP TABLE IF NOT EXISTS omnivec_stage (id text, content_hash text, text text, uri text,"
                " metadata jsonb, embedding vector) ON COMMIT DELETE ROWS"
            )
            with cur.copy("COPY omnivec_stage FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["text", "text", "text", "text", "jsonb", "vector"])
                for r, vector in zip(rows, matrix, strict=True):
                    copy.write_row(
                        (
                            r.id,
                            r.content_hash,
                            r.text,
                            r.uri,
                            Jsonb(dict(r.metadata)),
                            vector,
                        )
                    )
            try:
                cur.execute(
                    f"INSERT INTO {table} (id, content_hash, text, uri, metadata, embedding)"
                    " SELECT id, content_hash, text, uri, metadata, embedding FROM omnivec_stage"
                    " ON CONFLICT (id) DO UPDATE SET content_hash = EXCLUDED.content_hash, text = EXCLUDED.text,"
                    " uri = EXCLUDED.uri, metadata = EXCLUDED.metadata, embedding = EXCLUDED.embedding"
                )
            except psycopg.errors.DataException as exc:
                raise StoreError(f"{table} refused the rows: {str(exc).splitlines()[0]}") from exc

    def delete(self, collection: str, version: int, ids: Sequence[str]) -> None:
        if ids:
            self._exec(f"DELETE FROM {_table(collection, version)} WHERE id = ANY(%s)", (list(ids),))

    def scan(self, collection: str, version: int, batch_size: int, *, vectors: bool = False) -> Iterator[list[Row]]:
        columns = "id, content_hash, text, uri, metadata" + (", embedding" if vectors else "")
        for page in self._pages(collection, version, columns, batch_size):
            yield [Row(r[0], r[1], r[2], r[3], r[4] or {}, _vector(r[5]) if vectors else None) for r in page]

    def ids(self, collection: str, version: int, batch_size: int) -> Iterator[list[str]]:
        for page in self._pages(collection, version, "id", batch_size):
            yield [r[0] for r in page]

    def _pages(self, collection: str, version: int, columns: str, batch_size: int) -> Iterator[list[Any]]:
        """Keyset pagination by id (``columns`` start with it): each page is one short query, nothing
        held open between pages."""
        last: str | None = None
        while True:
            where = "" if last is None else "WHERE id > %s"
            page = self._exec(
                f"SELECT {columns} FROM {_table(collection, version)} {where} ORDER BY id LIMIT {int(batch_size)}",
                None if last is None else (last,),
            ).fetchall()
            if not page:
                return
            yield page
            last = page[-1][0]

    def search(
        self, collection: str, version: int, vector: np.ndarray, k: int, *, exact: bool = False,
        where: Sequence[Condition] = (),
    ) -> list[Hit]:  # fmt: skip
        sql, params = predicate(where)
        with self._conn.transaction():
            if exact or where:
                # pgvector 0.6.2 filters AFTER the HNSW scan (ef_search candidates, then the WHERE): a 1 %
                # filter kept ~1 of 100. Filtered queries go exact over the typed column's btree instead.
                self._conn.execute("SET LOCAL enable_indexscan = off")
            else:
                self._conn.execute(f"SET LOCAL hnsw.ef_search = {int(self.settings.ef_search)}")
            query = np.asarray(vector, np.float32)
            rows = self._exec(
                f"SELECT id, 1 - (embedding <=> %s) AS score, metadata, text, uri FROM {_table(collection, version)}"
                f"{sql} ORDER BY embedding <=> %s LIMIT {int(k)}",
                (query, *params, query),
            ).fetchall()
        return [Hit(r[0], float(r[1]), r[2] or {}, r[3], r[4]) for r in rows]

    def metadata_fields(self, collection: str, version: int) -> dict[str, FieldType]:
        return fields_of(self._conn, f"omnivec_{collection}__v{version}")

    def lexical_search(
        self, collection: str, version: int, text: str, k: int, *, where: Sequence[Condition] = ()
    ) -> list[Hit]:
        sql, params = lexical_sql(_table(collection, version), where, k)
        try:
            rows = self._exec(sql, (text, *params)).fetchall()
        except psycopg.errors.UndefinedColumn as exc:  # a table made before the tsvector column existed
            raise StoreError(
                f"{collection}__v{version} has no full-text column yet: run 'omnivec index' (or migrate) on it to build it"
            ) from exc
        return [Hit(r[0], float(r[1]), r[2] or {}, r[3], r[4]) for r in rows]

    def build_lexical_index(self, collection: str, version: int) -> str | None:
        return build_gin(self._conn, collection, version, _table(collection, version))

    def count(self, collection: str, version: int) -> int:
        return int(self._exec(f"SELECT count(*) FROM {_table(collection, version)}").fetchone()[0])

    def duplicate_ids(self, collection: str, version: int) -> int:
        sql = f"SELECT count(*) - count(DISTINCT id) FROM {_table(collection, version)}"
        return int(self._exec(sql).fetchone()[0])

    def has_ann_index(self, collection: str, version: int) -> bool:
        found = self._conn.execute(
            "SELECT 1 FROM pg_indexes WHERE indexname = %s", (f"omnivec_{collection}__v{version}_hnsw",)
        ).fetchone()
        return found is not None

    def build_index(self, collection: str, version: int) -> str | None:
        kind, rows = self.settings.index, self.count(collection, version)
        dims = next(v.dimensions for v in self.versions(collection) if v.version == version)
        if kind in ("none", "ivf_pq") or rows < self.settings.index_min_rows or dims > _MAX_INDEX_DIMS:
            return None
        self._conn.execute("SET maintenance_work_mem = '1GB'")
        self._conn.execute(
            f'CREATE INDEX IF NOT EXISTS "omnivec_{collection}__v{version}_hnsw" ON {_table(collection, version)}'
            f" USING hnsw (embedding vector_cosine_ops) WITH (m = {int(self.settings.hnsw_m)},"
            f" ef_construction = {int(self.settings.hnsw_ef_construction)})"
        )
        return f"HNSW m={self.settings.hnsw_m} ef_construction={self.settings.hnsw_ef_construction}"

    @contextmanager
    def lock(self, collection: str, version: int) -> Iterator[None]:
        key = f"omnivec:write:{collection}__v{version}"
        with psycopg.connect(self._dsn, autocommit=True) as conn:
            deadline, told = time.monotonic() + self.settings.lock_timeout_s, False
            while not (conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (key,)).fetchone() or (False,))[0]:
                if not told:
                    self._waiting(collection, version)
                    told = True
                if time.monotonic() > deadline:
                    raise StoreError(
                        f"{collection}__v{version} is locked by another writer; "
                        f"waited {self.settings.lock_timeout_s:.0f} s"
                    )
                time.sleep(0.05)
            yield  # the lock dies with this connection, also when the process is killed

    def health(self, collection: str, version: int) -> list[str]:
        problems = []
        width = self._conn.execute(
            "SELECT a.atttypmod FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
            " WHERE c.relname = %s AND a.attname = 'embedding'",
            (f"omnivec_{collection}__v{version}",),
        ).fetchone()
        catalog = next((v for v in self.versions(collection) if v.version == version), None)
        if width is None:
            problems.append(f"table omnivec_{collection}__v{version} is missing")
        elif catalog is not None and width[0] != catalog.dimensions:
            problems.append(
                f"embedding column is vector({width[0]}) but the fingerprint says {catalog.dimensions} dims"
            )
        invalid = (
            self._conn.execute(
                "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid"
                " WHERE c.relname = %s AND NOT i.indisvalid",
                (f"omnivec_{collection}__v{version}",),
            ).fetchone()
            or (0,)
        )[0]
        if invalid:
            problems.append(
                f"{invalid} invalid index(es) on {collection}__v{version} left by a failed build: drop and rebuild"
            )
        return problems

    @property
    def _conn(self) -> psycopg.Connection[Any]:
        if self._connection.closed:  # psycopg's bare OperationalError said nothing about which store
            raise StoreError(f"the store at {_redact(self._dsn)} was closed: open it again with open_store(URL)")
        return self._connection

    def close(self) -> None:
        self._connection.close()


def _vector(value: Any) -> np.ndarray:
    return np.asarray(value.to_numpy() if hasattr(value, "to_numpy") else value, dtype=np.float32)


def _redact(dsn: str) -> str:
    scheme, _, rest = dsn.partition("://")
    creds, at, host = rest.rpartition("@")
    return f"{scheme}://{creds.partition(':')[0]}{':***' if ':' in creds else ''}{at}{host}" if at else dsn
