"""The filter language of :mod:`.filters` compiled to the native filters of Qdrant, Milvus and Chroma.

Each compiler keeps the language's one rule every engine must follow: a row without the key matches
no condition on it, not even ``$ne``/``$nin`` (Qdrant and Chroma match such rows with a bare
negation, so it is guarded by "the key is present"). What an engine cannot express is refused in one
line by :func:`refuse_string_ranges` before the query is embedded, never filtered here after the
engine's top-k (that would return fewer than ``k`` rows while ``k`` match).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from ..errors import InvalidOptionError
from .errors import StoreError
from .filters import Condition

__all__ = ["PRESENT", "chroma_where", "milvus_expression", "qdrant_filter", "refuse_string_ranges"]

PRESENT = "h."
"""Chroma: prefix of the marker ``h.<key>: True`` written beside each typed ``m.<key>`` (Chroma's
``where`` has no "key exists"; ``$ne``/``$nin`` need one)."""
_RANGES = {"$gt", "$gte", "$lt", "$lte"}


def refuse_string_ranges(engine: str, conditions: Sequence[Condition], table: str) -> None:
    """Qdrant and Chroma order numbers only: ``$gt``/``$gte``/``$lt``/``$lte`` on a str key is refused."""
    for c in conditions:
        if c.op in _RANGES and c.type == "str":
            raise InvalidOptionError(
                f"where[{c.key!r}]: {engine} cannot compare strings with {c.op} ({table}); use $eq, $ne, $in or $nin "
                "on str metadata, or a store that orders strings (LanceDB, pgvector, Milvus)"
            )


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        raise StoreError(f"a filter value must be finite, got {value!r}")
    return value


def _values(c: Condition) -> tuple[Any, ...]:
    return tuple(_finite(v) for v in (c.value if c.op in ("$in", "$nin") else (c.value,)))


# Qdrant -----------------------------------------------------------------------------------------------
def qdrant_filter(conditions: Sequence[Condition]) -> Any:
    """A ``models.Filter`` over the payload's ``metadata.<key>`` (None without conditions)."""
    from qdrant_client import models as q

    if not conditions:
        return None
    must: list[Any] = []
    for c in conditions:
        key = f"metadata.{c.key}"
        if c.op in ("$eq", "$in"):
            must.append(_qdrant_any(q, key, c))
        elif c.op in ("$ne", "$nin"):
            missing = q.IsEmptyCondition(is_empty=q.PayloadField(key=key))
            must.append(q.Filter(must_not=[_qdrant_any(q, key, c), missing]))
        else:
            must.append(q.FieldCondition(key=key, range=q.Range(**{c.op[1:]: _finite(c.value)})))
    return q.Filter(must=must)


def _qdrant_any(q: Any, key: str, c: Condition) -> Any:
    """``key`` equals one of the condition's values: floats as a point range (Qdrant matches only
    str/int/bool exactly; a range also matches the ints a float key holds), bools one by one."""
    values = _values(c)
    if c.type == "float":
        options = [q.FieldCondition(key=key, range=q.Range(gte=v, lte=v)) for v in values]
    elif c.type == "bool" or len(values) == 1:
        options = [q.FieldCondition(key=key, match=q.MatchValue(value=v)) for v in values]
    else:
        options = [q.FieldCondition(key=key, match=q.MatchAny(any=list(values)))]
    return options[0] if len(options) == 1 else q.Filter(should=options)


# Milvus -----------------------------------------------------------------------------------------------
_MILVUS_OPS = {"$eq": "==", "$ne": "!=", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}


def milvus_expression(conditions: Sequence[Condition]) -> str:
    """A Milvus boolean expression on the JSON field ``metadata`` ('' without conditions). ``in`` on a
    JSON path is not accepted by Milvus Lite, so ``$in``/``$nin`` are spelled as ``or``-ed equalities."""
    parts = []
    for c in conditions:
        field = f"metadata[{json.dumps(c.key)}]"
        if c.op in ("$in", "$nin"):
            anyof = "(" + " or ".join(f"{field} == {_milvus_literal(v)}" for v in _values(c)) + ")"
            parts.append(anyof if c.op == "$in" else f"(exists {field} and not {anyof})")
        elif c.op == "$ne":
            parts.append(f"(exists {field} and {field} != {_milvus_literal(_finite(c.value))})")
        else:
            parts.append(f"{field} {_MILVUS_OPS[c.op]} {_milvus_literal(_finite(c.value))}")
    return " and ".join(parts)


def _milvus_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a Milvus string literal (escapes included)


# Chroma -----------------------------------------------------------------------------------------------
def chroma_where(conditions: Sequence[Condition]) -> dict[str, Any] | None:
    """A Chroma ``where`` over the record metadata ``m.<key>`` (None without conditions)."""
    clauses: list[dict[str, Any]] = []
    for c in conditions:
        values = _values(c)
        clause = {f"m.{c.key}": {c.op: list(values) if c.op in ("$in", "$nin") else values[0]}}
        if c.op in ("$ne", "$nin"):
            clauses.append({f"{PRESENT}{c.key}": True})
        clauses.append(clause)
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}
