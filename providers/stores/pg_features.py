"""PostgreSQL's optional features: typed metadata columns with filters, and the tsvector + GIN full-text index.

A typed column is a STORED generated column over the jsonb (``(metadata->>'year')::bigint``) with a
btree index, added the first time a batch carries a new filterable key: PostgreSQL computes it for
every row already there, so versions made before typed metadata existed are filterable too. The
lexical side is ``tsv = to_tsvector('english', text)``, also generated (new tables have it from the
start; ``index``/``migrate`` add it to older ones), searched through a GIN index with the query's
stemmed words ORed and ranked by ``ts_rank_cd`` (cover density, divided by 1 + log(length); PostgreSQL
has no IDF, so this is not BM25).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from .base import Row
from .errors import StoreError
from .filters import OPERATORS, Condition, FieldType, column_name, typed_fields

__all__ = ["TSVECTOR", "add_typed_columns", "build_gin", "fields_of", "lexical_sql", "predicate"]

TSVECTOR = "tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', coalesce(text, ''))) STORED"
_SQL: dict[FieldType, str] = {"str": "text", "int": "bigint", "float": "double precision", "bool": "boolean"}
_BY_SQL = {v: k for k, v in _SQL.items()}


def fields_of(conn: Any, relname: str) -> dict[str, FieldType]:
    rows = conn.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a JOIN pg_class c"
        " ON c.oid = a.attrelid WHERE c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped"
        " AND a.attname LIKE 'm\\_%%'",
        (relname,),
    ).fetchall()
    return {name[2:]: _BY_SQL[kind] for name, kind in rows if kind in _BY_SQL}


def _index_name(relname: str, suffix: str) -> str:  # identifiers stop at 63 bytes: keep them unique
    return f"{relname[:40]}_{hashlib.sha1(f'{relname}/{suffix}'.encode()).hexdigest()[:12]}"


def add_typed_columns(cur: Any, relname: str, rows: Sequence[Row]) -> None:
    """Inside the upsert's transaction: the generated columns (and btree indexes) of keys new to the table."""
    import psycopg

    new = typed_fields(rows, fields_of(cur, relname), relname)
    for key, kind in new.items():
        column = column_name(key)
        try:
            cur.execute(
                f'ALTER TABLE "{relname}" ADD COLUMN IF NOT EXISTS "{column}" {_SQL[kind]}'
                f" GENERATED ALWAYS AS ((metadata->>'{key}')::{_SQL[kind]}) STORED"
            )
        except psycopg.errors.DataException as exc:  # an older row holds another type under that key
            raise StoreError(
                f"{relname}: metadata {key!r} cannot become a {kind} column: {str(exc).splitlines()[0]}"
            ) from exc
        cur.execute(f'CREATE INDEX IF NOT EXISTS "{_index_name(relname, column)}" ON "{relname}" ("{column}")')


def predicate(conditions: Sequence[Condition], joiner: str = " WHERE ") -> tuple[str, list[Any]]:
    """The conditions as SQL (typed columns, values as parameters) and their parameters."""
    parts, params = [], []
    for c in conditions:
        column = f'"{c.column}"'
        if c.op == "$in":
            parts.append(f"{column} = ANY(%s)")
        elif c.op == "$nin":
            parts.append(f"NOT ({column} = ANY(%s))")  # NULL (key missing) stays out, as for every operator
        else:
            parts.append(f"{column} {OPERATORS[c.op]} %s")
        params.append(list(c.value) if c.op in ("$in", "$nin") else c.value)
    return (joiner + " AND ".join(parts) if parts else ""), params


def lexical_sql(table: str, where: Sequence[Condition], k: int) -> tuple[str, list[Any]]:
    """Rows matching ANY of the query's stemmed words (plainto_tsquery ANDs them), best ts_rank_cd first."""
    sql, params = predicate(where, " AND ")
    return (
        f"SELECT id, ts_rank_cd(tsv, query.q, 1) AS score, metadata, text, uri FROM {table},"
        " (SELECT replace(plainto_tsquery('english', %s)::text, ' & ', ' | ')::tsquery AS q) AS query"
        f" WHERE tsv @@ query.q{sql} ORDER BY score DESC, id LIMIT {int(k)}",
        params,
    )


def build_gin(conn: Any, collection: str, version: int, table: str) -> str | None:
    relname = f"omnivec_{collection}__v{version}"
    name = _index_name(relname, "tsv")
    if conn.execute("SELECT 1 FROM pg_indexes WHERE indexname = %s", (name,)).fetchone() is not None:
        return None
    with conn.transaction():
        conn.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {TSVECTOR}")  # tables made before it
        conn.execute(f'CREATE INDEX IF NOT EXISTS "{name}" ON {table} USING gin (tsv)')
    return "full-text (tsvector english + GIN)"
