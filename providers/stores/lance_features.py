"""LanceDB's optional features: typed metadata columns with ``where`` pre-filters, and the full-text index.

Typed columns are added to a version table (``add_columns``, no rewrite) the first time a batch
carries a new filterable key. Tables made before typed metadata existed carry no
``omnivec.typed_metadata`` marker in their schema: their earlier rows hold keys only in the JSON,
which LanceDB cannot read in a filter, so such a version gets no typed columns (no filter could be
trusted) until ``migrate`` rewrites it into a new version.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from .base import Hit, Row
from .errors import StoreError
from .filters import Condition, FieldType, column_name, typed_fields

__all__ = ["TYPED_MARKER", "build_fts", "fields_of", "fts_hits", "predicate", "typed_arrays"]

TYPED_MARKER = {"omnivec.typed_metadata": "1"}
_ARROW: dict[FieldType, pa.DataType] = {
    "str": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
}
_SQL: dict[FieldType, str] = {"str": "STRING", "int": "BIGINT", "float": "DOUBLE", "bool": "BOOLEAN"}


def fields_of(schema: pa.Schema) -> dict[str, FieldType]:
    """key -> type of the typed metadata columns in a version table's schema."""
    by_arrow = {str(t): k for k, t in _ARROW.items()}
    return {f.name[2:]: by_arrow[str(f.type)] for f in schema if f.name.startswith("m_") and str(f.type) in by_arrow}


def typed_arrays(table: Any, rows: Sequence[Row]) -> dict[str, pa.Array]:
    """The typed columns of a batch, adding the columns of keys it carries first (marked tables only)."""
    schema = table.schema
    if (schema.metadata or {}).get(b"omnivec.typed_metadata") != b"1":
        return {}
    known = fields_of(schema)
    new = typed_fields(rows, known, table.name)
    if new:
        table.add_columns({column_name(k): f"CAST(NULL AS {_SQL[t]})" for k, t in new.items()})
        known.update(new)
    return {
        column_name(key): pa.array([_value(r.metadata.get(key), kind) for r in rows], _ARROW[kind])
        for key, kind in known.items()
    }


def _value(value: Any, kind: FieldType) -> Any:
    return None if value is None else float(value) if kind == "float" else value


def predicate(conditions: Sequence[Condition]) -> str | None:
    """The conditions as one LanceDB SQL filter (backtick-quoted columns, literals inline)."""
    if not conditions:
        return None
    parts = []
    for c in conditions:
        column = f"`{c.column}`"
        if c.op in ("$in", "$nin"):
            values = ", ".join(_literal(v) for v in c.value)
            parts.append(f"{column} {'IN' if c.op == '$in' else 'NOT IN'} ({values})")
        else:
            from .filters import OPERATORS

            parts.append(f"{column} {OPERATORS[c.op]} {_literal(c.value)}")
    return " AND ".join(parts)


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise StoreError(f"a filter value must be finite, got {value!r}")
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def build_fts(table: Any) -> str | None:
    """An inverted (BM25) index over ``text``, once; rows written later are searched unindexed until
    the store's periodic ``optimize()`` folds them in."""
    from lancedb.index import FTS

    if any(i.columns == ["text"] for i in table.list_indices()) or table.count_rows() == 0:
        return None
    table.create_index("text", config=FTS(language="English", stem=True, remove_stop_words=True))
    return "full-text (BM25, English stemming, stop words removed)"


def fts_hits(table: Any, text: str, k: int, where: Sequence[Condition]) -> list[Hit]:
    """BM25 top ``k`` over ``text`` (pre-filtered by ``where``); ``Hit.score`` is the BM25 score."""
    if not any(i.columns == ["text"] for i in table.list_indices()):
        if table.count_rows() == 0:
            return []
        raise StoreError(
            f"{table.name} has no full-text index yet: run 'omnivec index' (or migrate) on it to build one"
        )
    query = table.search(text, query_type="fts", fts_columns="text").limit(k)
    if (sql := predicate(where)) is not None:
        query = query.where(sql, prefilter=True)
    rows = query.select(["id", "text", "uri", "metadata", "_score"]).to_arrow().to_pylist()
    return [Hit(r["id"], float(r["_score"]), json.loads(r["metadata"] or "{}"), r["text"], r["uri"]) for r in rows]
