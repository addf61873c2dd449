"""A toy third store, written the way a third-party store is, passing the shipped store contract.

A store author touches three places, all in their own package (nothing in omnivec):

1. the store class: a :class:`~omnivec.providers.stores.VectorStore` subclass (below: ``DictStore``,
   the abstract methods and ``lock``; ``flip``, ``rows`` and ``health`` have defaults to override);
2. one entry point naming its URL scheme, in their ``pyproject.toml``::

       [project.entry-points."omnivec.stores"]
       toy = "tests.stores.test_toy_store:DictStore"

   (here the ``.dist-info`` folder that installing such a package writes, put on ``sys.path``);
3. a test module subclassing :class:`~omnivec.providers.testing.store_contract.StoreContract` with a
   ``make_store`` fixture (``TestDictStore`` below).

``open_store("toy://...")``, the CLI and the collection API (index, search, migrate, switch) then
work on it unchanged.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from omnivec.providers.errors import ConfigurationError
from omnivec.providers.stores import (
    CollectionNotFoundError,
    Hit,
    Row,
    StoreError,
    StoreSettings,
    VectorStore,
    VersionInfo,
    known_stores,
    open_store,
)
from omnivec.providers.stores import fingerprint_hash as digest
from omnivec.providers.stores.base import AdapterRecord, Feature, State
from omnivec.providers.testing.store_contract import StoreContract, StoreFactory


@dataclass
class _Server:
    """What a server would hold: shared by every handle opened on the same URL."""

    catalog: dict[tuple[str, int], VersionInfo] = field(default_factory=dict)
    tables: dict[tuple[str, int], dict[str, Row]] = field(default_factory=dict)
    aliases: dict[str, tuple[int, int | None]] = field(default_factory=dict)
    guard: threading.Lock = field(default_factory=threading.Lock)
    writer_locks: dict[tuple[str, int], threading.Lock] = field(default_factory=dict)
    adapters: dict[tuple[str, int, str], tuple[AdapterRecord, bytes]] = field(default_factory=dict)


_SERVERS: dict[str, _Server] = {}


class DictStore(VectorStore):
    """An in-memory store: dicts for tables, a lock for commits, numpy for exact search."""

    scheme = "toy"
    features: ClassVar[frozenset[Feature]] = frozenset({"adapters"})  # no filters, no full-text index

    def __init__(self, settings: StoreSettings) -> None:
        super().__init__(settings)
        self._server = _SERVERS.setdefault(settings.url, _Server())

    def _table(self, collection: str, version: int) -> dict[str, Row]:
        table = self._server.tables.get((collection, version))
        if table is None:
            raise CollectionNotFoundError(f"{collection}__v{version} is missing from {self.url}")
        return table

    # catalog ------------------------------------------------------------------------------------
    def create_version(self, collection: str, version: int, fingerprint: Mapping[str, Any]) -> VersionInfo:
        with self._server.guard:
            key, stored = (collection, version), json.loads(json.dumps(dict(fingerprint)))
            self._server.tables.setdefault(key, {})
            created = datetime.now(UTC).isoformat(timespec="seconds")
            info = VersionInfo(
                collection, version, stored, digest(stored), int(stored["dimensions"]), "building", created
            )
            return self._server.catalog.setdefault(key, info)

    def versions(self, collection: str) -> list[VersionInfo]:
        return sorted((v for (c, _), v in self._server.catalog.items() if c == collection), key=lambda v: v.version)

    def collections(self) -> list[str]:
        return sorted({c for c, _ in self._server.catalog})

    def set_state(self, collection: str, version: int, state: State) -> None:
        with self._server.guard:
            self._server.catalog[collection, version] = replace(self._server.catalog[collection, version], state=state)

    def alias(self, collection: str) -> tuple[int, int | None] | None:
        return self._server.aliases.get(collection)

    def set_alias(self, collection: str, version: int, previous: int | None) -> None:
        self._server.aliases[collection] = (version, previous)

    def flip(self, collection: str, version: int, previous: int, previous_state: State) -> None:
        with self._server.guard:  # one commit: alias and both states
            catalog = self._server.catalog
            catalog[collection, version] = replace(catalog[collection, version], state="live")
            catalog[collection, previous] = replace(catalog[collection, previous], state=previous_state)
            self._server.aliases[collection] = (version, previous)

    def drop_version(self, collection: str, version: int) -> None:
        with self._server.guard:
            self._server.tables.pop((collection, version), None)
            self._server.catalog.pop((collection, version), None)
            for key in [k for k in self._server.adapters if k[:2] == (collection, version)]:
                del self._server.adapters[key]
            pointer = self._server.aliases.get(collection)
            if pointer is not None and pointer[1] == version:
                self._server.aliases[collection] = (pointer[0], None)
            if not self.versions(collection):
                self._server.aliases.pop(collection, None)

    def put_adapter(self, record: AdapterRecord, blob: bytes) -> None:
        with self._server.guard:
            if (record.collection, record.version) not in self._server.catalog:
                raise CollectionNotFoundError(f"{record.collection!r} has no version {record.version}")
            stamped = replace(record, created_at=datetime.now(UTC).isoformat(timespec="seconds"))
            self._server.adapters[record.collection, record.version, record.from_hash] = (stamped, bytes(blob))

    def adapters(self, collection: str, version: int) -> list[AdapterRecord]:
        held = [r for (c, v, _), (r, _) in self._server.adapters.items() if (c, v) == (collection, version)]
        return sorted(held, key=lambda r: (r.created_at, r.from_hash))

    def adapter_blob(self, collection: str, version: int, from_hash: str) -> bytes:
        found = self._server.adapters.get((collection, version, from_hash))
        if found is None:
            raise CollectionNotFoundError(f"{collection}__v{version} holds no adapter from #{from_hash}")
        return found[1]

    def serve_adapter(self, collection: str, version: int, from_hash: str | None) -> None:
        with self._server.guard:  # one commit: at most one serves
            for (c, v, h), (record, blob) in list(self._server.adapters.items()):
                if (c, v) == (collection, version):
                    self._server.adapters[c, v, h] = (replace(record, serving=h == from_hash), blob)

    # data ---------------------------------------------------------------------------------------
    def hashes(self, collection: str, version: int, ids: Sequence[str]) -> dict[str, str]:
        table = self._table(collection, version)
        return {i: table[i].content_hash for i in ids if i in table}

    def rows(self, collection: str, version: int, ids: Sequence[str], *, vectors: bool = False) -> list[Row]:
        table = self._table(collection, version)
        return [_copy(table[i], vectors) for i in dict.fromkeys(ids) if i in table]

    def upsert(self, collection: str, version: int, rows: Sequence[Row], *, fingerprint: Mapping[str, Any]) -> None:
        self.check_writer(collection, version, fingerprint)
        self.check_vectors(collection, version, rows)  # width and NaN/inf, one line naming the row
        table = self._table(collection, version)
        with self._server.guard:  # all or nothing, like a transaction
            table.update((r.id, _copy(r, True)) for r in rows)

    def delete(self, collection: str, version: int, ids: Sequence[str]) -> None:
        table = self._table(collection, version)
        with self._server.guard:
            for i in ids:
                table.pop(i, None)

    def scan(self, collection: str, version: int, batch_size: int, *, vectors: bool = False) -> Iterator[list[Row]]:
        ids = list(self._table(collection, version))  # a snapshot of the ids: deletes during the scan are fine
        for start in range(0, len(ids), batch_size):
            yield self.rows(collection, version, ids[start : start + batch_size], vectors=vectors)

    def search(self, collection: str, version: int, vector: np.ndarray, k: int, *, exact: bool = False) -> list[Hit]:
        rows = list(self._table(collection, version).values())
        if not rows:
            return []
        matrix = np.stack([np.asarray(r.vector, dtype=np.float64) for r in rows])
        query = np.asarray(vector, dtype=np.float64)
        scores = matrix @ query / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(query))
        top = np.argsort(-scores, kind="stable")[:k]
        return [Hit(rows[i].id, float(scores[i]), dict(rows[i].metadata), rows[i].text, rows[i].uri) for i in top]

    def count(self, collection: str, version: int) -> int:
        return len(self._table(collection, version))

    def duplicate_ids(self, collection: str, version: int) -> int:
        self._table(collection, version)
        return 0  # a dict holds each id once

    def build_index(self, collection: str, version: int) -> str | None:
        return None  # exact search only

    @contextmanager
    def lock(self, collection: str, version: int) -> Iterator[None]:
        with self._server.guard:
            held = self._server.writer_locks.setdefault((collection, version), threading.Lock())
        deadline, told = time.monotonic() + self.settings.lock_timeout_s, False
        while not held.acquire(timeout=0.05):
            if not told:
                self._waiting(collection, version)
                told = True
            if time.monotonic() > deadline:
                raise StoreError(f"{collection}__v{version} is locked by another writer; gave up waiting")
        try:
            yield
        finally:
            held.release()


def _copy(row: Row, vectors: bool) -> Row:
    """What a real store does by serialising: callers never share the stored objects."""
    vector = np.array(row.vector, dtype=np.float32) if vectors and row.vector is not None else None
    return Row(row.id, row.content_hash, row.text, row.uri, json.loads(json.dumps(dict(row.metadata))), vector)


def install_toy(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What ``pip install`` of a package declaring the entry point leaves on ``sys.path``."""
    info = folder / "omnivec_toy-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: omnivec-toy\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[omnivec.stores]\ntoy = tests.stores.test_toy_store:DictStore\n")
    monkeypatch.syspath_prepend(str(folder))


class TestDictStore(StoreContract):
    survives_its_process = False  # an in-memory dict: a killed process takes it along

    @pytest.fixture
    def make_store(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StoreFactory:
        install_toy(tmp_path / "site", monkeypatch)
        url = f"toy://{uuid.uuid4().hex}"
        return lambda **settings: open_store(url, cache=None, **settings)


def test_the_entry_point_is_what_makes_the_scheme_known(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="unknown scheme 'toy'"):
        open_store("toy://before")
    install_toy(tmp_path / "site", monkeypatch)
    assert known_stores()["toy"] == "tests.stores.test_toy_store:DictStore"
    with open_store("toy://after") as store:
        assert type(store) is DictStore
