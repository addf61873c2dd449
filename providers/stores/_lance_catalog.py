"""The LanceDB store's catalog table: one row per collection version, and one per alias.

The alias lives in the catalog table too (key = the collection name, state "alias", the previous
version in "dimensions"), so a switch writes alias and both states in ONE merge_insert commit.
Stores made before that keep their row in ``_omnivec_aliases`` (``ALIASES``), read until the first flip.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from .base import State, VersionInfo

__all__ = ["ALIASES", "VERSIONS", "alias_row", "catalog_row"]

VERSIONS = pa.schema(
    [
        pa.field("key", pa.string(), nullable=False),
        pa.field("collection", pa.string()),
        pa.field("version", pa.int64()),
        pa.field("fingerprint", pa.string()),
        pa.field("fingerprint_hash", pa.string()),
        pa.field("dimensions", pa.int64()),
        pa.field("state", pa.string()),
        pa.field("created_at", pa.string()),
    ]
)
ALIASES = pa.schema(
    [pa.field("alias", pa.string(), nullable=False), pa.field("version", pa.int64()), pa.field("previous", pa.int64())]
)


def alias_row(collection: str, version: int, previous: int | None) -> dict[str, Any]:
    return {"key": collection, "collection": None, "version": version, "fingerprint": None,
            "fingerprint_hash": None, "dimensions": previous, "state": "alias", "created_at": None}  # fmt: skip


def catalog_row(info: VersionInfo, state: State) -> dict[str, Any]:
    return {
        "key": info.table,
        "collection": info.collection,
        "version": info.version,
        "fingerprint": json.dumps(dict(info.fingerprint), sort_keys=True),
        "fingerprint_hash": info.fingerprint_hash,
        "dimensions": info.dimensions,
        "state": state,
        "created_at": info.created_at,
    }
