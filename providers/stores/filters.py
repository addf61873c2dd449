"""Metadata filters (``where=``) and typed metadata columns, shared by every store.

A filter is a mapping ``key -> value`` (equality) or ``key -> {operator: value, ...}``; all keys
must hold (AND)::

    where={"tenant": "a", "year": {"$gte": 2020, "$lt": 2025}, "lang": {"$in": ["en", "de"]}}

Operators: ``$eq $ne $gt $gte $lt $lte $in $nin``. Only top-level metadata values that are a
string, integer, float or boolean are filterable: each such key becomes a typed column of the
version (``str``, ``int``, ``float``, ``bool``) the first time a row carries it; nested values and
keys that are not identifiers stay in the JSON metadata only. A row without the key matches no
condition on it (SQL NULL), not even ``$ne``/``$nin``. A filter is checked against the version's
typed columns before anything is embedded or sent: an unknown key or a value of the wrong type is
one :class:`InvalidInputError` line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import InvalidInputError
from .errors import StoreError

__all__ = ["OPERATORS", "Condition", "FieldType", "check_where", "column_name", "field_type", "typed_fields"]

FieldType = Literal["str", "int", "float", "bool"]
Operator = Literal["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin"]
OPERATORS: dict[str, str] = {
    "$eq": "=", "$ne": "<>", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<=", "$in": "IN", "$nin": "NOT IN",
}  # fmt: skip
"""Operator -> its SQL form (what LanceDB's ``where`` and PostgreSQL both take)."""
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,47}$")
_ORDERED = {"$gt", "$gte", "$lt", "$lte"}


@dataclass(frozen=True, slots=True)
class Condition:
    """One checked condition: ``column`` is the typed column, ``value`` a scalar or (``$in``/``$nin``) a tuple."""

    key: str
    op: Operator
    value: Any
    type: FieldType

    @property
    def column(self) -> str:
        return column_name(self.key)


def column_name(key: str) -> str:
    """The typed column holding metadata ``key`` (quoted by each store: keys keep their case)."""
    return f"m_{key}"


def field_type(value: Any) -> FieldType | None:
    """The column type a metadata value gets, or None (not filterable: nested, null, other)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int" if -(2**63) <= value < 2**63 else None
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    return None


def typed_fields(rows: Sequence[Any], known: Mapping[str, FieldType], table: str) -> dict[str, FieldType]:
    """The typed columns a batch adds to ``known`` (key -> type). A value whose type differs from its
    column's is a one-line :class:`StoreError` naming the row, before anything is written (an int
    goes into a float column; nothing else converts)."""
    new: dict[str, FieldType] = {}
    for row in rows:
        for key, value in row.metadata.items():
            if not isinstance(key, str) or not _KEY.match(key) or value is None:
                continue
            kind, have = field_type(value), known.get(key) or new.get(key)
            if have is None:
                if kind is not None:
                    new[key] = kind
            elif kind != have and not (have == "float" and kind == "int"):
                got = type(value).__name__
                raise StoreError(
                    f"{table} holds metadata {key!r} as {have}; row {row.id!r} has a {got} ({value!r:.40}): "
                    "nothing of the batch was written (keep one type per key)"
                )
    return new


def check_where(where: Mapping[str, Any] | None, fields: Mapping[str, FieldType], table: str) -> list[Condition]:
    """Validate ``where`` against the version's typed columns; one line naming the bad key or value."""
    if where is None:
        return []
    if not isinstance(where, Mapping):
        raise InvalidInputError(
            f"where must be a mapping of metadata key -> value or {{operator: value}}, got {where!r}"
        )
    conditions: list[Condition] = []
    for key, spec in where.items():
        if key not in fields:
            known = ", ".join(sorted(fields)) or "none"
            raise InvalidInputError(f"where: {table} has no filterable metadata key {key!r} (known: {known})")
        ops = spec if isinstance(spec, Mapping) else {"$eq": spec}
        if not ops:
            raise InvalidInputError(f"where[{key!r}] is an empty mapping: give a value or {{operator: value}}")
        for op, value in ops.items():
            conditions.append(_condition(key, op, value, fields[key]))
    return conditions


def _condition(key: str, op: Any, value: Any, kind: FieldType) -> Condition:
    if op not in OPERATORS:
        raise InvalidInputError(f"where[{key!r}]: unknown operator {op!r} (known: {', '.join(OPERATORS)})")
    if op in ("$in", "$nin"):
        if isinstance(value, str | bytes) or not isinstance(value, Sequence | set | frozenset) or not value:
            raise InvalidInputError(f"where[{key!r}][{op!r}] takes a non-empty list of {kind} values, got {value!r}")
        return Condition(key, op, tuple(_checked(key, op, v, kind) for v in value), kind)
    if op in _ORDERED and kind == "bool":
        raise InvalidInputError(f"where[{key!r}]: {op} does not apply to bool metadata (use $eq or $ne)")
    return Condition(key, op, _checked(key, op, value, kind), kind)


def _checked(key: str, op: str, value: Any, kind: FieldType) -> Any:
    got = field_type(value)
    if got == kind or (kind == "float" and got == "int"):
        return float(value) if kind == "float" else value
    raise InvalidInputError(
        f"where[{key!r}][{op!r}]: {key!r} is {kind} metadata, got {type(value).__name__} {value!r:.40}"
    )
