"""SQLite embedding cache keyed by (result fingerprint, content hash).

A vector stored under one fingerprint is never returned for another: the fingerprint hash is part
of the key, and the full fingerprint is stored beside it and compared on every write, so even a
hash collision between two different vector spaces fails loudly instead of mixing them.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..providers import Fingerprint, Fused, Image, Input, Media

__all__ = ["EmbeddingCache", "content_key"]


def content_key(item: Input) -> str:
    """sha256 of what is embedded: the text, or the media's MIME type and bytes (or URI)."""
    digest = hashlib.sha256()
    if isinstance(item, Fused):
        digest.update(b"fused\0" + "\0".join(content_key(part) for part in item.parts).encode())
    elif isinstance(item, str):
        digest.update(b"text\0" + item.encode("utf-8"))
    else:
        assert isinstance(item, (Image, Media))
        digest.update(item.mime_type.encode() + b"\0" + (item.uri.encode() if item.uri else item.data))
    return digest.hexdigest()


class EmbeddingCache:
    """Vectors and measurements that make benchmark reruns free."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        self._db.executescript(
            """
            PRAGMA journal_mode=WAL;
            CREATE TABLE IF NOT EXISTS spaces (fingerprint TEXT PRIMARY KEY, spec TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS vectors (
                fingerprint TEXT NOT NULL, content TEXT NOT NULL, vector BLOB NOT NULL,
                PRIMARY KEY (fingerprint, content));
            CREATE TABLE IF NOT EXISTS measurements (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            """
        )

    def _register(self, fingerprint: Fingerprint) -> str:
        spec = json.dumps(fingerprint.as_dict(), sort_keys=True, default=str)
        row = self._db.execute("SELECT spec FROM spaces WHERE fingerprint = ?", (fingerprint.hash,)).fetchone()
        if row is None:
            self._db.execute("INSERT INTO spaces VALUES (?, ?)", (fingerprint.hash, spec))
        elif row[0] != spec:
            raise RuntimeError(f"fingerprint hash collision in {self.path}: refusing to mix vector spaces")
        return fingerprint.hash

    def get(self, fingerprint: Fingerprint, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(keys), 500):
            part = list(keys[start : start + 500])
            rows = self._db.execute(
                f"SELECT content, vector FROM vectors WHERE fingerprint = ? AND content IN ({','.join('?' * len(part))})",
                (fingerprint.hash, *part),
            )
            for content, blob in rows:
                found[content] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put(self, fingerprint: Fingerprint, keys: Sequence[str], vectors: np.ndarray) -> None:
        fp = self._register(fingerprint)
        rows = [
            (fp, key, np.ascontiguousarray(vec, dtype=np.float32).tobytes())
            for key, vec in zip(keys, vectors)
            if not np.isnan(vec).any()
        ]
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows)

    def get_measurement(self, key: str) -> Any | None:
        row = self._db.execute("SELECT value FROM measurements WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put_measurement(self, key: str, value: Any) -> None:
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO measurements VALUES (?, ?)", (key, json.dumps(value)))

    def close(self) -> None:
        self._db.close()
