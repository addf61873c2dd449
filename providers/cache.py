"""A persistent embedding cache: (fingerprint hash, content hash) -> vector, in one SQLite file.

Apps, ``omnivec index``/``migrate`` and the benchmark share it, so a re-run after a crash re-embeds
nothing already paid for. A vector stored under one fingerprint is never returned for another: the
fingerprint hash is part of the key and the full fingerprint is stored beside it and compared, so a
hash collision between vector spaces fails loudly instead of mixing them.

The file is a cache, never the only copy of anything: when it is unreadable (truncated, garbage, a
directory in its place, a row of the wrong size or holding NaN) it is moved aside with a warning and
rebuilt empty, instead of raising a raw ``sqlite3`` error or serving a bad vector. Several processes
may share one file: every write is an idempotent ``INSERT OR IGNORE/REPLACE`` inside
``BEGIN IMMEDIATE``, with a busy timeout, so there is no check-then-insert race.
"""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from .errors import ConfigurationError
from .inputs import Fused, Image, Input, Media
from .types import Fingerprint

__all__ = ["CacheWarning", "EmbeddingCache", "content_key"]

T = TypeVar("T")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS spaces (fingerprint TEXT PRIMARY KEY, spec TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS vectors (
    fingerprint TEXT NOT NULL, content TEXT NOT NULL, vector BLOB NOT NULL,
    PRIMARY KEY (fingerprint, content));
CREATE TABLE IF NOT EXISTS measurements (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_BUSY_TIMEOUT_S = 60.0


class CacheWarning(UserWarning):
    """The cache file was unusable and has been moved aside (nothing was lost but time)."""


class _Corrupt(Exception):
    """A row or page of the cache cannot be trusted."""


def content_key(item: Input) -> str:
    """sha256 of what is embedded: the text, or the media's MIME type and bytes (or URI).

    Texts are encoded with ``surrogatepass`` so a lone surrogate (legal in a Python ``str``, not in
    UTF-8) gets a key of its own instead of a ``UnicodeEncodeError``.
    """
    digest = hashlib.sha256()
    if isinstance(item, Fused):
        digest.update(b"fused\0" + "\0".join(content_key(part) for part in item.parts).encode())
    elif isinstance(item, str):
        digest.update(b"text\0" + item.encode("utf-8", "surrogatepass"))
    elif isinstance(item, (Image, Media)):
        payload = item.uri.encode("utf-8", "surrogatepass") if item.uri else (item.data or b"")
        digest.update(item.mime_type.encode("utf-8", "surrogatepass") + b"\0" + payload)
    else:
        raise ConfigurationError(f"cannot key a cache entry for a {type(item).__name__}: use str, Image or Media")
    return digest.hexdigest()


def _is_locked(exc: Exception) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc))


class EmbeddingCache:
    """Vectors (and benchmark measurements) keyed by fingerprint and content; safe to share."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None
        self._open()

    # -- opening and recovery -------------------------------------------------------------------

    def _open(self) -> None:
        if self.path.exists() and not self.path.is_file():
            self._quarantine("it is not a regular file")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a typo'd or read-only cache setting must not end in a traceback
            raise ConfigurationError(
                f"cannot create the folder of the embedding cache {str(self.path)!r} ({exc.strerror or exc}): "
                'set the cache to a writable path, or turn it off ([store] cache = "none", --no-cache)'
            ) from None
        deadline = time.monotonic() + _BUSY_TIMEOUT_S
        attempt = 0
        while attempt < 2:
            db = None
            try:
                db = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S, check_same_thread=False, isolation_level=None)
                db.execute("PRAGMA journal_mode=WAL").fetchone()
                # WAL + NORMAL: a commit survives a killed process (not a power cut) and costs no fsync,
                # so a vector can be stored the moment it is paid for (a cache may lose its tail).
                db.execute("PRAGMA synchronous=NORMAL")
                db.executescript("BEGIN IMMEDIATE;" + _SCHEMA + "COMMIT;")
                self._check_schema(db)
            except (sqlite3.Error, _Corrupt) as exc:
                if db is not None:
                    db.close()
                # Switching a new file to WAL while another process opens it can answer "locked" at
                # once, without SQLite's busy handler: wait and try again, as the busy timeout would.
                if _is_locked(exc) and time.monotonic() < deadline:
                    time.sleep(random.uniform(0.02, 0.2))
                    continue
                self._refuse_if_locked(exc)
                attempt += 1
                if attempt == 2:
                    raise ConfigurationError(
                        f"embedding cache {self.path}: unusable after rebuild ({exc}); pass another path"
                    ) from exc
                self._quarantine(str(exc))
                continue
            self._db = db
            return

    @staticmethod
    def _check_schema(db: sqlite3.Connection) -> None:
        check = db.execute("PRAGMA quick_check(1)").fetchone()
        if check is None or check[0] != "ok":
            raise _Corrupt(f"integrity check: {check[0] if check else 'no answer'}")
        columns = [row[1] for row in db.execute("PRAGMA table_info(vectors)")]
        if columns != ["fingerprint", "content", "vector"]:
            raise _Corrupt(f"unexpected vectors table columns {columns}")

    def _refuse_if_locked(self, exc: Exception) -> None:
        """A busy file is not a corrupt one: never move aside a cache another process is writing."""
        if _is_locked(exc):
            raise ConfigurationError(f"embedding cache {self.path} stayed locked for {_BUSY_TIMEOUT_S:.0f} s") from exc

    def _quarantine(self, reason: str) -> None:
        """Move the unusable file (and its WAL files) aside so a fresh cache can be built in its place."""
        if self._db is not None:
            self._db.close()
            self._db = None
        aside = self.path.with_name(
            f"{self.path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}-{time.time_ns() % 10**6}"
        )
        try:
            self.path.rename(aside)
        except FileNotFoundError:
            return  # another process moved it already
        except OSError as exc:
            raise ConfigurationError(
                f"embedding cache {self.path} is unusable ({reason}) and cannot be moved aside: {exc}"
            ) from exc
        for suffix in ("-wal", "-shm"):
            extra = self.path.with_name(self.path.name + suffix)
            if extra.exists():
                extra.rename(aside.with_name(aside.name + suffix))
        warnings.warn(
            f"embedding cache {self.path} was unusable ({reason}); moved to {aside.name} and rebuilt empty",
            CacheWarning,
            stacklevel=4,
        )

    def _run(self, op: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``op``; on corruption move the file aside, reopen empty and run it once more."""
        with self._lock:
            for attempt in range(2):
                if self._db is None:
                    self._open()
                assert self._db is not None
                try:
                    return op(self._db)
                except (_Corrupt, sqlite3.DatabaseError) as exc:
                    if self._db.in_transaction:
                        self._db.rollback()
                    self._refuse_if_locked(exc)
                    if attempt:
                        raise ConfigurationError(
                            f"embedding cache {self.path}: unusable after rebuild ({exc})"
                        ) from exc
                    self._quarantine(str(exc))
            raise AssertionError("unreachable")

    # -- vectors ----------------------------------------------------------------------------------

    def get(self, fingerprint: Fingerprint, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """Cached vectors for ``keys`` under ``fingerprint`` (missing keys are simply absent)."""
        dims = fingerprint.dimensions

        def op(db: sqlite3.Connection) -> dict[str, np.ndarray]:
            found: dict[str, np.ndarray] = {}
            spec = db.execute("SELECT spec FROM spaces WHERE fingerprint = ?", (fingerprint.hash,)).fetchone()
            if spec is None:
                return found
            if spec[0] != _spec(fingerprint):
                raise ConfigurationError(f"fingerprint hash collision in {self.path}: refusing to mix vector spaces")
            for start in range(0, len(keys), 500):
                part = list(keys[start : start + 500])
                rows = db.execute(
                    f"SELECT content, vector FROM vectors WHERE fingerprint = ? AND content IN ({','.join('?' * len(part))})",
                    (fingerprint.hash, *part),
                )
                for content, blob in rows:
                    if not isinstance(blob, bytes) or len(blob) != 4 * dims:
                        raise _Corrupt(
                            f"a cached vector has {len(blob) if isinstance(blob, bytes) else '?'} bytes, expected {4 * dims}"
                        )
                    vector = np.frombuffer(blob, dtype=np.float32)
                    if not np.isfinite(vector).all():
                        raise _Corrupt("a cached vector holds NaN or infinity")
                    found[content] = vector
            return found

        return self._run(op)

    def put(self, fingerprint: Fingerprint, keys: Sequence[str], vectors: np.ndarray) -> int:
        """Store finite rows of ``vectors`` under ``keys``; NaN rows (failed items) are skipped. Returns rows stored."""
        spec = _spec(fingerprint)
        rows = [
            (fingerprint.hash, key, np.ascontiguousarray(vec, dtype=np.float32).tobytes())
            for key, vec in zip(keys, vectors, strict=False)
            if len(vec) == fingerprint.dimensions and np.isfinite(vec).all()
        ]

        def op(db: sqlite3.Connection) -> int:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute("INSERT OR IGNORE INTO spaces VALUES (?, ?)", (fingerprint.hash, spec))
                stored = db.execute("SELECT spec FROM spaces WHERE fingerprint = ?", (fingerprint.hash,)).fetchone()
                if stored is None or stored[0] != spec:
                    raise ConfigurationError(
                        f"fingerprint hash collision in {self.path}: refusing to mix vector spaces"
                    )
                db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows)
            except BaseException:
                db.rollback()
                raise
            db.commit()
            return len(rows)

        return self._run(op)

    # -- benchmark measurements -------------------------------------------------------------------

    def get_measurement(self, key: str) -> Any | None:
        def op(db: sqlite3.Connection) -> Any | None:
            row = db.execute("SELECT value FROM measurements WHERE key = ?", (key,)).fetchone()
            if row is None:
                return None
            try:
                return json.loads(row[0])
            except (TypeError, ValueError) as exc:
                raise _Corrupt(f"measurement {key!r} is not JSON") from exc

        return self._run(op)

    def put_measurement(self, key: str, value: Any) -> None:
        blob = json.dumps(value)

        def op(db: sqlite3.Connection) -> None:
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT OR REPLACE INTO measurements VALUES (?, ?)", (key, blob))
            db.commit()

        self._run(op)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __enter__(self) -> EmbeddingCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _spec(fingerprint: Fingerprint) -> str:
    return json.dumps(fingerprint.as_dict(), sort_keys=True, default=str)
