"""The store contract's cases for the optional features: metadata filters and lexical / hybrid search.

:class:`~omnivec.providers.testing.store_contract.StoreContract` inherits them, so every store runs
them. A store declares what it offers in ``VectorStore.features``: ``"filters"`` (typed metadata
columns, ``metadata_fields``, ``search(..., where=)``) and ``"lexical"`` (``build_lexical_index``,
``lexical_search``; the collection layer's ``mode="lexical"/"hybrid"`` build on it). A case of a
feature the store does not declare is SKIPPED with that reason; one case checks that the collection
layer refuses the undeclared feature in one line before embedding anything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from ..errors import InvalidInputError, InvalidOptionError
from ..stores.base import Row, VectorStore
from ..stores.errors import StoreError
from ..stores.filters import check_where

__all__ = ["SearchContract", "needs_feature", "tenant_rows"]

DIMS = 8
# Every operator, alone and combined; each must select the same rows as the Python predicate beside it.
FILTERS: list[tuple[dict[str, Any], Callable[[Mapping[str, Any]], bool]]] = [
    ({"tenant": "t1"}, lambda m: m["tenant"] == "t1"),
    ({"tenant": {"$ne": "t1"}}, lambda m: m["tenant"] != "t1"),
    ({"year": {"$gt": 2019}}, lambda m: m["year"] > 2019),
    ({"year": {"$gte": 2019, "$lt": 2022}}, lambda m: 2019 <= m["year"] < 2022),
    ({"score": {"$lte": 10}}, lambda m: m["score"] <= 10),
    ({"tenant": {"$in": ["t0", "t2"]}, "ok": True}, lambda m: m["tenant"] in ("t0", "t2") and m["ok"]),
    ({"tenant": {"$nin": ["t0"]}, "ok": {"$ne": True}}, lambda m: m["tenant"] != "t0" and not m["ok"]),
    ({"name": "it's"}, lambda m: m["name"] == "it's"),
]


def tenant_rows(n: int, *, seed: int = 0, prefix: str = "r") -> list[Row]:
    """Rows with one filterable key of each type (and a nested one that is not), Gaussian vectors."""
    vectors = np.random.default_rng(seed).standard_normal((n, DIMS)).astype(np.float32)
    metadata = [
        {"tenant": f"t{i % 3}", "year": 2015 + i % 10, "score": i / 2, "ok": i % 2 == 0,
         "name": "it's" if i % 5 == 0 else "plain", "nested": {"deep": i}}
        for i in range(n)
    ]  # fmt: skip
    text = [f"row {i} of tenant t{i % 3}" for i in range(n)]
    return [Row(f"{prefix}{i}", f"h{seed}-{i}", text[i], None, metadata[i], vectors[i]) for i in range(n)]


def _cosine(matrix: np.ndarray, query: np.ndarray) -> np.ndarray:
    matrix, query = matrix.astype(np.float64), query.astype(np.float64)
    return np.asarray(matrix @ query / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(query)))


def needs_feature(store: VectorStore, feature: str) -> None:
    if feature not in store.features:
        pytest.skip(f"{type(store).__name__} does not declare the {feature!r} feature")


class SearchContract:
    """Filters and lexical search. Expects ``store``/``make_store`` fixtures and ``filled`` (StoreContract)."""

    filled: Callable[..., dict[str, Any]]

    # filters ------------------------------------------------------------------------------------
    def test_scalar_metadata_becomes_typed_filterable_fields(self, store: VectorStore) -> None:
        needs_feature(store, "filters")
        rows = tenant_rows(12)
        self.filled(store, rows)
        assert store.metadata_fields("docs", 1) == {
            "tenant": "str", "year": "int", "score": "float", "ok": "bool", "name": "str",
        }  # fmt: skip
        stored = {r.id: r for r in store.rows("docs", 1, [r.id for r in rows])}
        assert all(dict(stored[r.id].metadata) == dict(r.metadata) for r in rows)  # the JSON stays the truth

    def test_filtered_exact_search_is_numpy_top_k_over_the_matching_rows(self, store: VectorStore) -> None:
        needs_feature(store, "filters")
        rows = tenant_rows(60, seed=1)
        self.filled(store, rows)
        fields = store.metadata_fields("docs", 1)
        query = np.random.default_rng(2).standard_normal(DIMS).astype(np.float32)
        truth = _cosine(np.stack([np.asarray(r.vector) for r in rows]), query)
        for where, keep in FILTERS:
            matching = [i for i, r in enumerate(rows) if keep(r.metadata)]
            assert matching, where
            expected = [rows[i].id for i in sorted(matching, key=lambda i: -truth[i])[:7]]
            hits = store.search("docs", 1, query, 7, exact=True, where=check_where(where, fields, "docs__v1"))
            assert [h.id for h in hits] == expected, where

    def test_filtered_search_with_an_ann_index_returns_only_matching_rows(self, make_store: Any) -> None:
        with make_store(index_min_rows=0) as store:
            needs_feature(store, "filters")
            rows = tenant_rows(300, seed=3)
            self.filled(store, rows)
            store.build_index("docs", 1)
            conditions = check_where({"tenant": "t2", "year": {"$gte": 2020}}, store.metadata_fields("docs", 1), "t")
            query = np.asarray(rows[5].vector)
            wanted = {r.id for r in rows if r.metadata["tenant"] == "t2" and r.metadata["year"] >= 2020}
            hits = store.search("docs", 1, query, 10, where=conditions)
            assert len(hits) == 10 and {h.id for h in hits} <= wanted

    def test_a_key_first_seen_in_a_later_batch_becomes_filterable(self, store: VectorStore) -> None:
        needs_feature(store, "filters")
        fingerprint = self.filled(store, tenant_rows(6))
        later = [Row(f"x{i}", f"hx{i}", "later", None, {"lang": "en" if i else "de"}, r.vector)
                 for i, r in enumerate(tenant_rows(3, seed=4))]  # fmt: skip
        store.upsert("docs", 1, later, fingerprint=fingerprint)
        fields = store.metadata_fields("docs", 1)
        assert fields["lang"] == "str"
        query = np.ones(DIMS, dtype=np.float32)
        for where, expected in (({"lang": "en"}, {"x1", "x2"}), ({"lang": {"$ne": "en"}}, {"x0"})):
            hits = store.search("docs", 1, query, 20, exact=True, where=check_where(where, fields, "t"))
            assert {h.id for h in hits} == expected  # rows without the key match nothing, not even $ne

    def test_a_metadata_value_of_another_type_is_refused_and_nothing_is_written(self, store: VectorStore) -> None:
        needs_feature(store, "filters")
        fingerprint = self.filled(store, tenant_rows(4))
        vector = np.asarray(tenant_rows(1, seed=5)[0].vector)
        good = Row("ok", "h-ok", "fine", None, {"year": 2030, "score": 3}, vector)  # an int into a float column
        bad = Row("bad", "h-bad", "wrong", None, {"year": "2030"}, vector)
        with pytest.raises(StoreError, match=r"'year'.*int.*'bad'"):
            store.upsert("docs", 1, [good, bad], fingerprint=fingerprint)
        assert store.count("docs", 1) == 4 and store.hashes("docs", 1, ["ok", "bad"]) == {}
        store.upsert("docs", 1, [good], fingerprint=fingerprint)
        fields = store.metadata_fields("docs", 1)
        hits = store.search("docs", 1, vector, 5, exact=True, where=check_where({"score": 3.0}, fields, "t"))
        assert [h.id for h in hits] == ["ok"]

    def test_a_bad_filter_is_refused_before_the_query_is_embedded(self, store: VectorStore) -> None:
        from ..cache import content_key
        from ..stores import SourceItem, index_items, search
        from . import FakeProvider

        items = [SourceItem(f"n{i}", content_key(f"t{i}"), f"text {i}", None, {"tenant": f"t{i}", "year": i})
                 for i in range(4)]  # fmt: skip
        index_items(store, "notes", items, provider=FakeProvider("contract-f"), cache=False)
        provider = FakeProvider("contract-f")
        if "filters" not in store.features:
            with pytest.raises(InvalidOptionError, match="filters"):
                search(store, "notes", "q", where={"tenant": "t1"}, provider=provider)
            assert provider.calls == []
            return
        bad: list[tuple[dict[str, Any], str]] = [
            ({"tenat": "t1"}, r"'tenat' \(known: tenant, year\)"),
            ({"year": "2020"}, r"'year' is int metadata, got str"),
            ({"year": {"$gte": 1.5}}, r"'year' is int metadata, got float"),
            ({"year": {"$like": 2}}, r"unknown operator '\$like'"),
            ({"tenant": {"$in": "t1"}}, r"non-empty list"),
        ]
        for where, message in bad:
            with pytest.raises(InvalidInputError, match=message):
                search(store, "notes", "q", where=where, provider=provider)
        assert provider.calls == []
        assert [h.id for h in search(store, "notes", "q", where={"tenant": "t1"}, provider=provider)] == ["n1"]

    def test_a_selective_filter_returns_k_hits_while_k_rows_match(self, make_store: Any) -> None:
        """11 of 400 rows match: an ANN walk (or IVF probe) that meets few of them must not come back short."""
        with make_store(index_min_rows=0) as store:
            needs_feature(store, "filters")
            rows = [replace(r, metadata={**r.metadata, "pick": i % 37 == 0}) for i, r in enumerate(tenant_rows(400))]
            self.filled(store, rows)
            store.build_index("docs", 1)
            picked = [i for i, r in enumerate(rows) if r.metadata["pick"]]
            where = check_where({"pick": True}, store.metadata_fields("docs", 1), "t")
            query = np.asarray(rows[1].vector)  # a row that does not match: its neighbours mostly do not either
            truth = _cosine(np.stack([np.asarray(r.vector) for r in rows]), query)
            ranked = [rows[i].id for i in sorted(picked, key=lambda i: -truth[i])]
            for k, exact in ((10, True), (10, False), (11, False), (30, False), (30, True)):
                hits = [h.id for h in store.search("docs", 1, query, k, exact=exact, where=where)]
                assert len(hits) == min(k, len(picked)) and set(hits) <= set(ranked), (k, exact)
                if exact or k >= len(picked):
                    assert (hits if exact else sorted(hits)) == (ranked[:k] if exact else sorted(ranked)), (k, exact)

    def test_an_operator_the_store_cannot_push_down_is_refused_in_one_line_or_answered_exactly(
        self, store: VectorStore
    ) -> None:
        from ..cache import content_key
        from ..stores import SourceItem, index_items, search
        from . import FakeProvider

        needs_feature(store, "filters")
        rows = tenant_rows(30, seed=6)
        self.filled(store, rows)
        where = check_where({"tenant": {"$gt": "t0"}, "name": {"$lte": "plain"}}, store.metadata_fields("docs", 1), "t")
        query = np.asarray(rows[0].vector)
        refused: str | None = None
        try:
            store.check_conditions(where, "docs__v1")
        except InvalidOptionError as exc:
            refused = str(exc)
        if refused is not None:  # named in one line: the operator and the engine
            assert "$gt" in refused and "\n" not in refused
            with pytest.raises(InvalidOptionError, match=r"\$gt"):
                store.search("docs", 1, query, 5, exact=True, where=where)  # never filtered after the top-k
            items = [
                SourceItem(f"n{i}", content_key(f"t{i}"), f"text {i}", None, {"tenant": f"t{i}"}) for i in range(3)
            ]
            index_items(store, "notes", items, provider=FakeProvider("contract-f"), cache=False)
            provider = FakeProvider("contract-f")
            with pytest.raises(InvalidOptionError, match=r"\$gt"):
                search(store, "notes", "q", where={"tenant": {"$gt": "t0"}}, provider=provider)
            assert provider.calls == []
            return
        truth = _cosine(np.stack([np.asarray(r.vector) for r in rows]), query)
        matching = [i for i, r in enumerate(rows) if r.metadata["tenant"] > "t0" and r.metadata["name"] <= "plain"]
        expected = [rows[i].id for i in sorted(matching, key=lambda i: -truth[i])[:5]]
        assert [h.id for h in store.search("docs", 1, query, 5, exact=True, where=where)] == expected

    # lexical and hybrid -------------------------------------------------------------------------
    def test_lexical_search_ranks_by_words_and_finds_rows_written_after_the_index(self, store: VectorStore) -> None:
        needs_feature(store, "lexical")
        texts = ["the zebra grazes", "a quiet river", "zebra zebra crossing at the river", "tax forms"]
        rows = [Row(f"d{i}", f"h{i}", t, None, {"tenant": f"t{i % 2}"}, r.vector)
                for i, (t, r) in enumerate(zip(texts, tenant_rows(4), strict=True))]  # fmt: skip
        fingerprint = self.filled(store, rows)
        assert isinstance(store.build_lexical_index("docs", 1), str)
        assert store.build_lexical_index("docs", 1) is None  # once
        hits = store.lexical_search("docs", 1, "zebras", 10)  # stemmed: zebras -> zebra
        assert [h.id for h in hits][:2] == ["d2", "d0"] and hits[0].score > hits[1].score > 0
        assert hits[0].text == texts[2] and dict(hits[0].metadata) == {"tenant": "t0"}
        later = Row("d9", "h9", "a zebra in the garden", None, {"tenant": "t1"}, rows[0].vector)
        store.upsert("docs", 1, [later], fingerprint=fingerprint)
        store.delete("docs", 1, ["d0"])
        assert {h.id for h in store.lexical_search("docs", 1, "zebra", 10)} == {"d2", "d9"}
        assert store.lexical_search("docs", 1, "violin", 10) == []
        if "filters" in store.features:
            where = check_where({"tenant": "t1"}, store.metadata_fields("docs", 1), "t")
            assert {h.id for h in store.lexical_search("docs", 1, "zebra river", 10, where=where)} == {"d9", "d1"}

    def test_hybrid_search_fuses_both_sides_and_the_lexical_side_survives_a_migration(self, store: VectorStore) -> None:
        from ..cache import content_key
        from ..stores import SourceItem, index_items, migrate, search, switch
        from . import FakeProvider

        texts = [f"note {i} about {w} and {c}" for i, (w, c) in enumerate(_WORDS)]
        items = [SourceItem(f"n{i}", content_key(t), t, None, {"i": i}) for i, t in enumerate(texts)]
        report = index_items(store, "notes", items, provider=FakeProvider("contract-h"), cache=False)
        if "lexical" not in store.features:
            provider = FakeProvider("contract-h")
            with pytest.raises(InvalidOptionError, match="full-text"):
                search(store, "notes", "violin", mode="hybrid", provider=provider)
            assert provider.calls == []
            return
        assert report.lexical_index is not None  # index built it
        lexical = [h.id for h in search(store, "notes", "violin purple", k=5, mode="lexical")]
        assert lexical[0] == "n9" and set(lexical) <= {f"n{i}" for i, (w, c) in enumerate(_WORDS)
                                                      if w == "violin" or c == "purple"}  # fmt: skip
        # RRF over the top `candidates` (50) of each side: score = sum 1 / (60 + rank), ranks from 1
        ranked = [[h.id for h in search(store, "notes", "violin purple", k=50, mode=m)] for m in ("vector", "lexical")]
        expected = {d: sum(1 / (61 + r.index(d)) for r in ranked if d in r) for d in set(ranked[0]) | set(ranked[1])}
        hybrid = search(store, "notes", "violin purple", k=5, mode="hybrid", rrf_k=60, weights=(1, 1))
        assert [h.score for h in hybrid] == pytest.approx(sorted(expected.values(), reverse=True)[:5], rel=1e-9)
        assert all(h.score == pytest.approx(expected[h.id], rel=1e-9) for h in hybrid)
        only_lexical = search(store, "notes", "violin purple", k=5, mode="hybrid", weights=(0, 1))
        assert [h.id for h in only_lexical] == ranked[1][:5]

        def scored() -> list[tuple[str, float]]:  # ties may come in any order: compare ids with their scores
            return sorted(
                (h.id, round(h.score, 5)) for h in search(store, "notes", "violin purple", k=50, mode="lexical")
            )

        before = scored()
        moved = migrate(store, "notes", FakeProvider("contract-i", dimensions=24), cache=False)
        assert moved.lexical_index is not None
        switch(store, "notes", cache=False)
        assert store.alias("notes") == (2, 1) and scored() == before
        with pytest.raises(InvalidInputError, match="non-blank"):
            search(store, "notes", "  ", mode="lexical")
        with pytest.raises(InvalidOptionError, match="mode must be one of"):
            search(store, "notes", "x", mode="sparse")


_WORDS = [(w, c) for w in ("cat", "river", "engine", "violin", "tax", "garden") for c in ("purple", "green", "loud")]
