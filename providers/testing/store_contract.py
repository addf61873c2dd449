"""The store contract suite, shipped so a third-party vector store runs the same tests as ours.

Subclass :class:`StoreContract` in a test module and give it a ``make_store`` fixture that returns
a factory: each call opens a NEW handle (``**settings`` overrides such as ``lock_timeout_s``) on the
SAME store, empty when the test starts::

    from omnivec.providers.stores import open_store
    from omnivec.providers.testing.store_contract import StoreContract

    class TestAcme(StoreContract):
        @pytest.fixture
        def make_store(self, tmp_path):
            return lambda **settings: open_store(f"acme://{tmp_path}", **settings)

A new store touches three places, all in its own package: the ``VectorStore`` subclass, one
``omnivec.stores`` entry point naming its URL scheme, and a test module like the one above (docs/stores.md,
"Write your own store"; ``tests/stores/test_toy_store.py`` is a complete example).

It encodes what the collection layer (index, migrate, switch, rollback, doctor) relies on, through
the public :class:`~omnivec.providers.stores.VectorStore` methods only: versions and their catalog,
idempotent upserts by id, byte-equal float32 vectors, batched scans, exact cosine search against
numpy, the alias and its flip, the fingerprint guard where rows are written, the writer lock.
A case a store fails for a known reason goes into its class's ``known_bugs`` (a strict xfail). The
optional features a store declares in ``VectorStore.features`` (metadata filters, lexical search)
have their cases in :mod:`.store_contract_search`, inherited here: skipped where not declared; the
kill -9 case (``index`` and ``migrate`` killed at random points, then rerun) is in
:mod:`.store_contract_crash`, inherited too (slow: put it on your slow list). Scan
order is not part of the contract (pgvector pages by id, LanceDB reads in storage order):
completeness is. Needs pytest.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

import numpy as np
import pytest

from ..errors import InvalidOptionError
from ..stores.base import AdapterRecord, Row, State, VectorStore, check_name, fingerprint_hash
from ..stores.errors import CollectionNotFoundError, StoreError, VectorSpaceMismatchError
from .store_contract_crash import CrashContract
from .store_contract_search import SearchContract, needs_feature

__all__ = ["StoreContract", "StoreFactory", "contract_fingerprint", "contract_rows"]

StoreFactory = Callable[..., VectorStore]
DIMS = 8
FULL_SIZE = 3072  # Nova and Gemini at full size
ODD_IDS = ["it's", 'say "hi"', "ü/ß 東京", "back\\slash", "semi;colon -- x", "%_like"]


def contract_fingerprint(model: str = "contract-a", dimensions: int = DIMS, **options: Any) -> dict[str, Any]:
    """A fingerprint in the JSON form stores keep (what ``index`` writes for a fake provider)."""
    return {
        "provider": "fake",
        "model": model,
        "dimensions": dimensions,
        "normalized": False,
        "intent": "document",
        "intent_mapping": "none",
        "options": dict(options),
    }


def contract_rows(n: int, dimensions: int = DIMS, *, seed: int = 0, prefix: str = "r") -> list[Row]:
    """``n`` rows with Gaussian (not unit) float32 vectors, so cosine and dot product rank differently."""
    vectors = np.random.default_rng(seed).standard_normal((n, dimensions)).astype(np.float32)
    vectors *= np.linspace(0.5, 3.0, n, dtype=np.float32)[:, None]
    return [
        Row(f"{prefix}{i}", f"h{seed}-{i}", f"text {i} of {prefix}", None, {"n": i, "tag": prefix}, vectors[i])
        for i in range(n)
    ]


def _all(store: VectorStore, name: str, version: int, batch_size: int = 1000, vectors: bool = False) -> list[Row]:
    return [row for batch in store.scan(name, version, batch_size, vectors=vectors) for row in batch]


def _matrix(rows: Sequence[Row]) -> np.ndarray:
    return np.stack([np.asarray(r.vector, dtype=np.float32) for r in rows])


def _cosine(matrix: np.ndarray, query: np.ndarray) -> np.ndarray:
    matrix, query = matrix.astype(np.float64), query.astype(np.float64)
    return np.asarray(matrix @ query / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(query)))


class StoreContract(SearchContract, CrashContract):
    """Behaviour every omnivec vector store must show. Override :meth:`make_store` (a fixture)."""

    max_dimensions: ClassVar[int | None] = None
    """The widest vectors the store holds when below 3,072: it must then refuse wider ones with one
    line naming the limit. None: 3,072-d vectors must index and search."""

    known_bugs: ClassVar[Mapping[str, str]] = {}
    """Case name -> the bug that makes it fail here: such cases run as ``xfail(strict=True)``, so the
    fix shows up as a failure to remove the entry, never as silence."""

    @pytest.fixture(autouse=True)
    def _known_bug(self, request: pytest.FixtureRequest) -> None:
        reason = self.known_bugs.get(request.node.originalname)
        if reason is not None:
            request.applymarker(pytest.mark.xfail(strict=True, reason=reason))

    @pytest.fixture
    def make_store(self) -> StoreFactory:
        raise NotImplementedError("subclasses provide a make_store fixture returning a factory")

    @pytest.fixture
    def store(self, make_store: StoreFactory) -> Iterator[VectorStore]:
        opened = make_store()
        yield opened
        opened.close()

    @staticmethod
    def filled(store: VectorStore, rows: Sequence[Row] = (), name: str = "docs", version: int = 1) -> dict[str, Any]:
        """Create ``name`` v``version`` with the contract fingerprint and write ``rows`` in one commit."""
        dims = len(rows[0].vector) if rows and rows[0].vector is not None else DIMS
        fingerprint = contract_fingerprint(dimensions=dims)
        store.create_version(name, version, fingerprint)
        if rows:
            store.upsert(name, version, rows, fingerprint=fingerprint)
        return fingerprint

    def test_known_bugs_name_cases_of_the_suite(self) -> None:
        assert [name for name in self.known_bugs if not name.startswith("test_") or not hasattr(self, name)] == []

    # catalog ------------------------------------------------------------------------------------
    def test_a_new_store_is_empty(self, store: VectorStore) -> None:
        assert store.collections() == [] and store.versions("docs") == [] and store.alias("docs") is None

    def test_create_version_records_the_fingerprint_in_state_building(self, store: VectorStore) -> None:
        fingerprint = contract_fingerprint(dimensions=12, endpoint="emulator")
        info = store.create_version("docs", 1, fingerprint)
        assert (info.collection, info.version, info.dimensions, info.state) == ("docs", 1, 12, "building")
        assert dict(info.fingerprint) == fingerprint and info.fingerprint_hash == fingerprint_hash(fingerprint)
        assert datetime.fromisoformat(info.created_at).tzinfo is not None  # shown by `omnivec collections`
        assert store.versions("docs") == [info] and store.collections() == ["docs"]
        assert store.count("docs", 1) == 0 and store.duplicate_ids("docs", 1) == 0

    def test_create_version_again_keeps_what_is_there(self, store: VectorStore) -> None:
        # a writer killed between creating the table and its first commit resumes by creating it again
        fingerprint = self.filled(store, contract_rows(5))
        store.set_state("docs", 1, "live")
        again = store.create_version("docs", 1, fingerprint)
        assert again.state == "live" and store.count("docs", 1) == 5 and len(store.versions("docs")) == 1

    def test_versions_are_per_collection_and_oldest_first(self, store: VectorStore) -> None:
        for name, version in (("docs", 1), ("docs", 2), ("faq", 1), ("docs", 3)):
            store.create_version(name, version, contract_fingerprint(f"m{version}"))
        assert [v.version for v in store.versions("docs")] == [1, 2, 3]
        assert [v.fingerprint["model"] for v in store.versions("docs")] == ["m1", "m2", "m3"]
        assert [v.version for v in store.versions("faq")] == [1] and store.versions("nothing") == []
        assert sorted(store.collections()) == ["docs", "faq"] and len(store.collections()) == 2

    def test_states_move_one_version_at_a_time(self, store: VectorStore) -> None:
        self.filled(store, version=1)
        self.filled(store, version=2)
        states: tuple[State, ...] = ("ready", "live", "retired", "ready")
        for state in states:
            store.set_state("docs", 2, state)
            assert [v.state for v in store.versions("docs")] == ["building", state]

    def test_the_alias_points_at_one_version_per_collection(self, store: VectorStore) -> None:
        for name in ("docs", "faq"):
            self.filled(store, name=name, version=1)
            self.filled(store, name=name, version=2)
        store.set_alias("docs", 1, None)
        assert store.alias("docs") == (1, None) and store.alias("faq") is None
        store.set_alias("docs", 2, 1)
        store.set_alias("faq", 1, None)
        assert store.alias("docs") == (2, 1) and store.alias("faq") == (1, None)

    def test_flip_moves_the_alias_and_both_states_and_rolls_back(self, store: VectorStore) -> None:
        self.filled(store, version=1)
        self.filled(store, version=2)
        store.set_state("docs", 1, "live")
        store.set_alias("docs", 1, None)
        store.set_state("docs", 2, "ready")
        store.flip("docs", 2, 1, "retired")  # switch
        assert store.alias("docs") == (2, 1) and [v.state for v in store.versions("docs")] == ["retired", "live"]
        store.flip("docs", 1, 2, "ready")  # rollback: the version stepped back from stays ready
        assert store.alias("docs") == (1, 2) and [v.state for v in store.versions("docs")] == ["live", "ready"]

    def test_a_reader_never_sees_half_a_flip(self, store: VectorStore, make_store: StoreFactory) -> None:
        self.filled(store, version=1)
        self.filled(store, version=2)
        store.set_alias("docs", 1, 2)
        seen: set[Any] = set()
        errors: list[BaseException] = []
        reading, done = threading.Event(), threading.Event()

        def read() -> None:
            with make_store() as reader:
                try:
                    while not done.is_set():
                        seen.add(reader.alias("docs"))
                        reading.set()
                except BaseException as exc:
                    errors.append(exc)
                finally:
                    reading.set()

        thread = threading.Thread(target=read)
        thread.start()
        try:
            assert reading.wait(30), "the reader's handle did not open in 30 s"
            for _ in range(4):
                store.flip("docs", 2, 1, "retired")
                store.flip("docs", 1, 2, "ready")
        finally:
            done.set()
            thread.join()
        assert errors == [], errors
        assert seen and seen <= {(1, 2), (2, 1)}, seen

    def test_a_handle_opened_earlier_sees_what_another_handle_wrote(
        self, store: VectorStore, make_store: StoreFactory
    ) -> None:
        # a long-running search service must see the version a migrate made and the switch to it
        with make_store() as writer:
            self.filled(writer, contract_rows(3), version=1)
            self.filled(writer, contract_rows(4, seed=1), version=2)
            writer.set_alias("docs", 1, None)
            assert store.count("docs", 1) == 3 and store.alias("docs") == (1, None)
            writer.flip("docs", 2, 1, "retired")
            writer.delete("docs", 1, ["r0"])
        assert store.alias("docs") == (2, 1) and [v.state for v in store.versions("docs")] == ["retired", "live"]
        assert store.count("docs", 1) == 2 and store.count("docs", 2) == 4 and store.collections() == ["docs"]
        assert len(store.search("docs", 2, np.ones(DIMS, np.float32), 10)) == 4

    def test_drop_version_removes_its_rows_catalog_row_and_alias_memory(self, store: VectorStore) -> None:
        self.filled(store, contract_rows(4), version=1)
        self.filled(store, contract_rows(4), version=2)
        self.filled(store, name="faq")
        store.set_alias("docs", 2, 1)
        store.drop_version("docs", 1)
        assert [v.version for v in store.versions("docs")] == [2] and store.alias("docs") == (2, None)
        with pytest.raises(CollectionNotFoundError):
            store.count("docs", 1)
        store.drop_version("docs", 1)  # already gone: a retried drop is a no-op
        store.drop_version("docs", 2)
        assert store.versions("docs") == [] and store.alias("docs") is None and store.collections() == ["faq"]
        self.filled(store, version=1)  # the same number again starts empty
        assert store.count("docs", 1) == 0 and store.alias("docs") is None

    # data ---------------------------------------------------------------------------------------
    def test_upsert_writes_rows_that_hashes_and_count_find(self, store: VectorStore) -> None:
        self.filled(store, contract_rows(10))
        assert store.count("docs", 1) == 10
        assert store.hashes("docs", 1, ["r0", "r9", "missing"]) == {"r0": "h0-0", "r9": "h0-9"}
        assert store.hashes("docs", 1, []) == {} and store.rows("docs", 1, []) == []

    def test_upsert_is_idempotent_by_id(self, store: VectorStore) -> None:
        fingerprint = self.filled(store, contract_rows(10))
        store.upsert("docs", 1, contract_rows(10), fingerprint=fingerprint)  # a resumed run rewrites a batch
        changed = contract_rows(4, seed=7)  # same ids r0..r3, new hashes, texts, metadata and vectors
        changed = [Row(r.id, r.content_hash, f"new {r.id}", None, {"v": 2}, r.vector) for r in changed]
        store.upsert("docs", 1, changed, fingerprint=fingerprint)
        assert store.count("docs", 1) == 10 and store.duplicate_ids("docs", 1) == 0
        assert len({r.id for r in _all(store, "docs", 1)}) == 10
        assert store.hashes("docs", 1, ["r0", "r3", "r4"]) == {"r0": "h7-0", "r3": "h7-3", "r4": "h0-4"}
        [stored] = store.rows("docs", 1, ["r2"], vectors=True)
        assert (stored.text, dict(stored.metadata)) == ("new r2", {"v": 2})
        assert stored.vector is not None and stored.vector.tobytes() == _matrix(changed[2:3]).tobytes()

    def test_rows_come_back_byte_equal_with_and_without_vectors(self, store: VectorStore) -> None:
        rows = [
            *contract_rows(3),
            Row(ODD_IDS[0], "h-img", None, "file:///data/cat.png", {}, contract_rows(1, seed=3)[0].vector),
            *(Row(i, f"h-{n}", f"odd {i}", None, {"i": i}, contract_rows(1, seed=n)[0].vector)
              for n, i in enumerate(ODD_IDS[1:])),
        ]  # fmt: skip
        rows[1] = Row("r1", "h0-1", "ünïcødé ✓ 'quoted'", None, {"nested": {"a": [1, 2.5, None, True]}, "s": "é"},
                      rows[1].vector)  # fmt: skip
        self.filled(store, rows)
        ids = [r.id for r in rows]
        assert store.hashes("docs", 1, ids) == {r.id: r.content_hash for r in rows}
        plain = {r.id: r for r in store.rows("docs", 1, [*ids, "missing"])}
        full = {r.id: r for r in store.rows("docs", 1, ids, vectors=True)}
        scanned = {r.id: r for r in _all(store, "docs", 1, vectors=True)}
        assert set(plain) == set(full) == set(scanned) == set(ids)
        for row in rows:
            for got in (plain[row.id], full[row.id], scanned[row.id]):
                assert (got.content_hash, got.text, got.uri) == (row.content_hash, row.text, row.uri)
                assert dict(got.metadata) == dict(row.metadata)
            assert plain[row.id].vector is None
            for got in (full[row.id], scanned[row.id]):
                assert got.vector is not None and got.vector.dtype == np.float32
                assert got.vector.tobytes() == np.asarray(row.vector, dtype=np.float32).tobytes()

    def test_delete_removes_only_the_given_ids(self, store: VectorStore) -> None:
        odd = [
            Row(i, "h", "odd", None, {}, r.vector) for i, r in zip(ODD_IDS, contract_rows(len(ODD_IDS)), strict=True)
        ]
        self.filled(store, [*contract_rows(6), *odd])
        store.delete("docs", 1, ["r1", "r4", "missing", *ODD_IDS[1:]])
        store.delete("docs", 1, [])
        left = sorted(r.id for r in _all(store, "docs", 1))
        assert store.count("docs", 1) == 5 and left == sorted(["r0", "r2", "r3", "r5", ODD_IDS[0]])

    def test_scan_yields_every_row_once_in_bounded_batches(self, store: VectorStore) -> None:
        odd = [
            Row(i, "h", "odd", None, {}, r.vector) for i, r in zip(ODD_IDS, contract_rows(len(ODD_IDS)), strict=True)
        ]
        self.filled(store, [*contract_rows(23), *odd])
        for size in (1, 5, 29, 100):
            batches = list(store.scan("docs", 1, size))
            assert all(0 < len(batch) <= size for batch in batches)
            ids = [r.id for batch in batches for r in batch]
            assert sorted(ids) == sorted([*(f"r{i}" for i in range(23)), *ODD_IDS])
            assert all(r.vector is None for batch in batches for r in batch)

    @pytest.mark.parametrize("pages", ["scan", "ids"])
    def test_scan_keeps_going_while_the_rows_it_read_are_deleted(self, store: VectorStore, pages: str) -> None:
        # migrate's last pass deletes, page by page (of ids), the target rows the source no longer has
        self.filled(store, contract_rows(17))
        seen: list[str] = []
        batches = store.ids("docs", 1, 4) if pages == "ids" else ([r.id for r in b] for b in store.scan("docs", 1, 4))
        for batch in batches:
            assert 0 < len(batch) <= 4
            seen += batch
            store.delete("docs", 1, batch)
        assert sorted(seen) == sorted(f"r{i}" for i in range(17)) and store.count("docs", 1) == 0

    def test_an_empty_version_scans_and_searches_to_nothing(self, store: VectorStore) -> None:
        self.filled(store)
        assert _all(store, "docs", 1) == [] and store.search("docs", 1, np.ones(DIMS, np.float32), 3) == []

    def test_exact_search_is_cosine_top_k_as_numpy_computes_it(self, store: VectorStore) -> None:
        rows = contract_rows(40)
        self.filled(store, rows)
        matrix = _matrix(rows)
        by_id = {r.id: i for i, r in enumerate(rows)}
        for seed in range(3):
            query = np.random.default_rng(100 + seed).standard_normal(DIMS).astype(np.float32)
            truth = _cosine(matrix, query)
            for exact in (True, False):  # below the ANN threshold the default search is exact too
                hits = store.search("docs", 1, query, 5, exact=exact)
                assert len({h.id for h in hits}) == 5
                got = np.array([truth[by_id[h.id]] for h in hits])
                np.testing.assert_allclose(got, np.sort(truth)[::-1][:5], atol=1e-5)  # ties may swap
                np.testing.assert_allclose([h.score for h in hits], got, atol=1e-4)
        top = store.search("docs", 1, matrix[7], 50, exact=True)
        assert len(top) == 40 and top[0].id == "r7" and top[0].score == pytest.approx(1.0, abs=1e-4)
        assert (top[0].text, dict(top[0].metadata), top[0].uri) == ("text 7 of r", {"n": 7, "tag": "r"}, None)

    def test_exact_search_stays_exact_once_an_ann_index_is_built(self, make_store: StoreFactory) -> None:
        rows = contract_rows(300, seed=5)
        with make_store(index_min_rows=0) as store:
            self.filled(store, rows)
            assert not store.has_ann_index("docs", 1)
            built = store.build_index("docs", 1)
            assert built is None or (isinstance(built, str) and store.has_ann_index("docs", 1))
            query = np.random.default_rng(9).standard_normal(DIMS).astype(np.float32)
            truth = _cosine(_matrix(rows), query)
            hits = store.search("docs", 1, query, 10, exact=True)
            got = np.array([truth[int(h.id[1:])] for h in hits])
            np.testing.assert_allclose(got, np.sort(truth)[::-1][:10], atol=1e-5)

    def test_reads_of_a_missing_version_are_collection_not_found(self, store: VectorStore) -> None:
        self.filled(store, contract_rows(2))
        reads: list[Callable[[], object]] = [
            lambda: store.count("docs", 9),
            lambda: store.hashes("docs", 9, ["r0"]),
            lambda: store.rows("docs", 9, ["r0"]),
            lambda: list(store.scan("docs", 9, 10)),
            lambda: store.search("docs", 9, np.ones(DIMS, np.float32), 1),
            lambda: store.upsert("docs", 9, contract_rows(1), fingerprint=contract_fingerprint()),
        ]
        for read in reads:
            with pytest.raises(CollectionNotFoundError):
                read()

    # space adapters in the catalog ----------------------------------------------------------------
    @staticmethod
    def adapter(from_model: str, version: int = 1, *, digest: str = "d1", serving: bool = False) -> AdapterRecord:
        """An adapter record mapping ``from_model``'s space into the contract space of ``docs`` v``version``."""
        source = contract_fingerprint(from_model, 16)
        meta = {"from": source, "from_hash": fingerprint_hash(source), "kind": "procrustes", "sample_size": 10}
        return AdapterRecord("docs", version, fingerprint_hash(source), digest, meta, serving, "")

    def test_a_version_holds_adapters_with_their_bytes_and_one_serves_at_a_time(
        self, store: VectorStore, make_store: StoreFactory
    ) -> None:
        needs_feature(store, "adapters")
        self.filled(store, contract_rows(3), version=1)
        self.filled(store, version=2)
        assert store.adapters("docs", 1) == []
        first, second = self.adapter("new-a"), self.adapter("new-b", digest="d2")
        blob = bytes(range(256)) * 4096 + b"\x00\n'\""  # 1 MiB with every byte value: what a 768x384 map weighs
        store.put_adapter(first, blob)
        store.put_adapter(second, b"second")
        with make_store() as other:  # another handle (a search service) sees them
            held = other.adapters("docs", 1)
            assert {(a.from_hash, a.digest, a.serving) for a in held} == {
                (first.from_hash, "d1", False), (second.from_hash, "d2", False)
            } and len(held) == 2  # fmt: skip
            assert {a.from_hash: dict(a.meta) for a in held}[first.from_hash] == dict(first.meta)
            assert all(a.collection == "docs" and a.version == 1 and a.created_at for a in held)
            assert other.adapter_blob("docs", 1, first.from_hash) == blob
        assert store.adapters("docs", 2) == [] and store.adapters("faq", 1) == []
        for chosen in (first.from_hash, second.from_hash, None):
            store.serve_adapter("docs", 1, chosen)
            assert {a.from_hash for a in store.adapters("docs", 1) if a.serving} == ({chosen} if chosen else set())
        store.put_adapter(self.adapter("new-a", digest="d3", serving=True), b"refitted")  # replaces, by from space
        by_space = {a.from_hash: a for a in store.adapters("docs", 1)}
        assert len(by_space) == 2 and by_space[first.from_hash].digest == "d3" and by_space[first.from_hash].serving
        assert store.adapter_blob("docs", 1, first.from_hash) == b"refitted"
        assert store.count("docs", 1) == 3 and store.alias("docs") is None  # adapters touch nothing else

    def test_adapters_of_a_missing_version_or_space_are_collection_not_found(self, store: VectorStore) -> None:
        needs_feature(store, "adapters")
        self.filled(store, version=1)
        with pytest.raises(CollectionNotFoundError):
            store.put_adapter(self.adapter("new-a", version=7), b"x")
        with pytest.raises(CollectionNotFoundError):
            store.adapter_blob("docs", 1, self.adapter("new-a").from_hash)
        assert store.adapters("docs", 7) == []

    def test_dropping_a_version_drops_its_adapters(self, store: VectorStore) -> None:
        needs_feature(store, "adapters")
        self.filled(store, version=1)
        self.filled(store, version=2)
        store.put_adapter(self.adapter("new-a", serving=True), b"one")
        store.put_adapter(self.adapter("new-a", version=2), b"two")
        store.drop_version("docs", 1)
        self.filled(store, version=1)  # the same number again: a new version, holding nothing
        assert store.adapters("docs", 1) == [] and [a.version for a in store.adapters("docs", 2)] == [2]
        with pytest.raises(CollectionNotFoundError):
            store.adapter_blob("docs", 1, self.adapter("new-a").from_hash)

    # the guards ---------------------------------------------------------------------------------
    def test_rows_of_another_space_are_refused_where_they_are_written(self, store: VectorStore) -> None:
        self.filled(store, contract_rows(3), version=1)
        other = contract_fingerprint("another-model")  # same width: the table's own guard lets it through
        for rows in (contract_rows(2, prefix="x"), []):
            with pytest.raises(VectorSpaceMismatchError, match="write into v1"):
                store.upsert("docs", 1, rows, fingerprint=other)
        assert store.count("docs", 1) == 3 and store.hashes("docs", 1, ["x0", "x1"]) == {}
        # an endpoint URL says how the vendor was reached, not which space; "emulator" is another space
        store.create_version("faq", 1, contract_fingerprint(endpoint="http://localhost:8000"))
        for n, endpoint in enumerate(("http://127.0.0.1:8000", "https://vpc.example.com")):
            rows = contract_rows(1, prefix=f"e{n}-")
            store.upsert("faq", 1, rows, fingerprint=contract_fingerprint(endpoint=endpoint))
        with pytest.raises(VectorSpaceMismatchError):
            store.upsert(
                "faq", 1, contract_rows(1, prefix="emu"), fingerprint=contract_fingerprint(endpoint="emulator")
            )
        assert store.count("faq", 1) == 2

    def test_a_version_dropped_and_created_again_takes_its_new_space(self, store: VectorStore) -> None:
        # drop --all, then index the same name with another model, in one process on one handle
        first = self.filled(store, contract_rows(2))
        store.drop_version("docs", 1)
        second = contract_fingerprint("contract-b")
        store.create_version("docs", 1, second)
        store.upsert("docs", 1, contract_rows(2, prefix="b"), fingerprint=second)
        with pytest.raises(VectorSpaceMismatchError):
            store.upsert("docs", 1, contract_rows(1, prefix="a"), fingerprint=first)
        assert sorted(store.hashes("docs", 1, ["a0", "b0", "b1"])) == ["b0", "b1"]

    def test_a_version_another_handle_dropped_and_created_again_takes_its_new_space(
        self, make_store: StoreFactory
    ) -> None:
        with make_store() as writer, make_store() as rebuilder:
            self.filled(writer, contract_rows(2))  # the writer has read v1's space
            rebuilder.drop_version("docs", 1)
            second = contract_fingerprint("contract-b")
            rebuilder.create_version("docs", 1, second)
            writer.upsert("docs", 1, contract_rows(2, prefix="b"), fingerprint=second)
            assert sorted(writer.hashes("docs", 1, ["a0", "b0", "b1"])) == ["b0", "b1"]

    def test_vectors_of_the_wrong_width_are_refused_and_nothing_of_the_batch_is_written(
        self, store: VectorStore
    ) -> None:
        fingerprint = self.filled(store, contract_rows(2))
        with pytest.raises(StoreError):
            store.upsert("docs", 1, contract_rows(3, DIMS + 1, prefix="w"), fingerprint=fingerprint)
        assert store.count("docs", 1) == 2 and store.hashes("docs", 1, ["w0", "w1", "w2"]) == {}

    def test_a_batch_with_one_vector_of_the_wrong_width_is_a_store_error(self, store: VectorStore) -> None:
        fingerprint = self.filled(store, contract_rows(2))
        mixed = [*contract_rows(2, prefix="m"), *contract_rows(1, DIMS + 1, prefix="w")]
        with pytest.raises(StoreError):
            store.upsert("docs", 1, mixed, fingerprint=fingerprint)
        assert store.count("docs", 1) == 2 and store.hashes("docs", 1, ["m0", "m1", "w0"]) == {}

    def test_a_vector_that_is_not_finite_is_a_store_error_and_nothing_of_the_batch_is_written(
        self, store: VectorStore
    ) -> None:
        fingerprint = self.filled(store, contract_rows(2))
        for bad in (np.nan, np.inf):
            rows = contract_rows(3, prefix="n")
            vector = np.array(rows[2].vector, dtype=np.float32)
            vector[3] = bad
            rows[2] = Row("n2", "h", "a failed embedding", None, {}, vector)
            with pytest.raises(StoreError):
                store.upsert("docs", 1, rows, fingerprint=fingerprint)
        assert store.count("docs", 1) == 2 and store.hashes("docs", 1, ["n0", "n1", "n2"]) == {}

    def test_the_writer_lock_excludes_other_handles_until_released(self, make_store: StoreFactory) -> None:
        with make_store() as holder, make_store(lock_timeout_s=0.3) as impatient, make_store() as patient:
            told: list[str] = []
            impatient.on_lock_wait = patient.on_lock_wait = told.append
            held, release = threading.Event(), threading.Event()

            def hold() -> None:
                with holder.lock("docs", 1):
                    held.set()
                    release.wait(30)

            thread = threading.Thread(target=hold)
            thread.start()
            try:
                assert held.wait(30)
                with pytest.raises(StoreError, match="locked by another writer"), impatient.lock("docs", 1):
                    pytest.fail("two writers held one version's lock")
                with impatient.lock("docs", 2), impatient.lock("docs", 0):  # other versions, the catalog lock
                    pass
                threading.Timer(0.3, release.set).start()
                with patient.lock("docs", 1):  # waits for the holder, then gets it
                    assert release.is_set()
            finally:
                release.set()
                thread.join()
            assert len(told) == 2 and all("locked by another writer" in t and "waiting" in t for t in told)
            with pytest.raises(RuntimeError), holder.lock("docs", 1):  # a failing writer releases it too
                raise RuntimeError("writer failed")
            with impatient.lock("docs", 1):
                pass

    def test_a_healthy_version_has_no_health_problems(self, store: VectorStore) -> None:
        self.filled(store, contract_rows(3))
        assert store.health("docs", 1) == []

    def test_handles_close_and_work_as_context_managers(self, make_store: StoreFactory) -> None:
        with make_store() as first:
            self.filled(first, contract_rows(3))
        first.close()  # twice is fine
        with contextlib.suppress(StoreError):  # a closed handle works again (embedded) or says so, never
            first.count("docs", 1)  # with a bare driver error
        with make_store() as second:
            assert second.count("docs", 1) == 3 and [v.version for v in second.versions("docs")] == [1]

    def test_every_name_check_name_allows_is_a_collection_the_store_can_hold(self, store: VectorStore) -> None:
        for name in ("a", "z" * 40, "a1_b2_c3"):
            assert check_name(name) == name
            self.filled(store, contract_rows(2), name=name)
            store.set_alias(name, 1, None)
            assert store.count(name, 1) == 2 and store.search(name, 1, np.ones(DIMS, np.float32), 1)
            store.drop_version(name, 1)
        assert store.collections() == []

    def test_bad_collection_names_are_refused_before_anything_is_created(self, store: VectorStore) -> None:
        from ..stores import SourceItem, index_items
        from . import FakeProvider

        item = [SourceItem("a", "h", "some text")]
        for bad in ("Docs", "a-b", "1abc", "a__b", "", "x" * 41, "a b", "docs; drop table x", "_a"):
            with pytest.raises(InvalidOptionError, match="collection name"):
                index_items(store, bad, item, provider=FakeProvider("a"), cache=False)
        assert store.collections() == []

    def test_full_size_vectors_are_held_or_refused_in_one_line(self, store: VectorStore) -> None:
        rows = contract_rows(12, FULL_SIZE, seed=3)
        if self.max_dimensions is not None and self.max_dimensions < FULL_SIZE:
            with pytest.raises((StoreError, InvalidOptionError)) as caught:
                self.filled(store, rows)
            assert str(self.max_dimensions) in str(caught.value) and "\n" not in str(caught.value)
            return
        self.filled(store, rows)
        [stored] = store.rows("docs", 1, ["r4"], vectors=True)
        assert stored.vector is not None and stored.vector.tobytes() == _matrix(rows[4:5]).tobytes()
        hits = store.search("docs", 1, _matrix(rows[4:5])[0], 3, exact=True)
        assert hits[0].id == "r4" and hits[0].score == pytest.approx(1.0, abs=1e-4)

    # through the collection API -----------------------------------------------------------------
    def test_index_and_search_through_the_collection_api(self, store: VectorStore) -> None:
        from ..cache import content_key
        from ..stores import SourceItem, index_items, search
        from . import FakeProvider

        texts = [f"note {i}: the {w} {c}" for i, (w, c) in enumerate(_WORDS)]
        items = [SourceItem(f"n{i}", content_key(t), t, None, {"i": i}) for i, t in enumerate(texts)]
        provider = FakeProvider("contract-e2e", dimensions=32)
        report = index_items(store, "notes", items, provider=provider, cache=False, batch_size=4)
        assert (report.created, report.seen, report.embedded) == (True, len(texts), len(texts))
        assert store.alias("notes") == (1, None) and [v.state for v in store.versions("notes")] == ["live"]
        again = index_items(store, "notes", items, provider=FakeProvider("contract-e2e", dimensions=32), cache=False)
        assert (again.embedded, again.unchanged, store.count("notes", 1)) == (0, len(texts), len(texts))
        documents = np.stack([provider.embed_one(t, "document") for t in texts])
        for query in ("the purple cat", "a green river", texts[3]):
            hits = search(store, "notes", query, k=3)  # no provider: rebuilt from the stored fingerprint
            truth = _cosine(documents, provider.embed_one(query, "query"))
            got = np.array([truth[int(h.id[1:])] for h in hits])
            np.testing.assert_allclose(got, np.sort(truth)[::-1][:3], atol=1e-5)
            assert hits[0].metadata == {"i": int(hits[0].id[1:])} and hits[0].text == texts[int(hits[0].id[1:])]

    def test_migrate_switch_rollback_and_drop_through_the_collection_api(self, store: VectorStore) -> None:
        from ..cache import content_key
        from ..stores import SourceItem, doctor, drop, index_items, migrate, rollback, switch
        from . import FakeProvider

        items = [SourceItem(f"n{i}", content_key(f"{w} {c}"), f"{w} {c}") for i, (w, c) in enumerate(_WORDS)]
        index_items(store, "notes", items, provider=FakeProvider("contract-a"), cache=False)
        report = migrate(store, "notes", FakeProvider("contract-b", dimensions=24), cache=False)
        assert (report.count, report.target_version, report.problems) == (len(items), 2, [])
        assert store.alias("notes") == (1, None) and [v.state for v in store.versions("notes")] == ["live", "ready"]
        assert switch(store, "notes", cache=False).version == 2 and store.alias("notes") == (2, 1)
        assert rollback(store, "notes", cache=False).version == 1 and store.alias("notes") == (1, 2)
        assert switch(store, "notes", cache=False).version == 2
        assert doctor(store, "notes") == [] and drop(store, "notes") == [1]
        assert [v.version for v in store.versions("notes")] == [2] and store.alias("notes") == (2, None)
        assert store.count("notes", 2) == len(items) and store.duplicate_ids("notes", 2) == 0


_WORDS = [(w, c) for w in ("cat", "river", "engine", "violin", "tax", "garden") for c in ("purple", "green", "loud")]
