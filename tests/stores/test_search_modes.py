"""``omnivec search --hybrid --where --rerank`` and the collection API behind it, on both stores (issue #21).

Bad input (a filter on an unknown key or of the wrong type, --rerank on a collection without stored
text, bad JSON) is one line and exit 2 with nothing embedded or sent to a reranker.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from omnivec.providers import InvalidInputError, InvalidOptionError
from omnivec.providers.cli import app, attach_commands
from omnivec.providers.rerank import RerankBatch, Reranker, RerankerSettings
from omnivec.providers.stores import Row, SourceItem, index_items, open_store, search
from omnivec.providers.testing import FakeProvider

attach_commands()
runner = CliRunner()


class WordReranker(Reranker[RerankerSettings]):
    """Scores a candidate by the query words it shares; records every call."""

    name = "word-rerank"
    is_remote = False

    def __init__(self) -> None:
        super().__init__("m")
        self.calls: list[list[str]] = []

    async def _rerank_batch(self, query: str, candidates: Sequence[str]) -> RerankBatch:
        self.calls.append(list(candidates))
        words = set(query.split())
        return RerankBatch(np.array([len(words & set(c.split())) for c in candidates], dtype=np.float32))


def cli(*args: str) -> Any:
    return runner.invoke(app, list(args), catch_exceptions=False)


def one_line_error(result: Any, *fragments: str) -> str:
    assert result.exit_code == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return str(lines[0])


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    texts = ["zebra crossing in the city", "a river of stars", "tax law for zebras", "quiet garden", "loud engine"]
    path = tmp_path / "corpus.jsonl"
    path.write_text(
        "".join(
            json.dumps({"_id": f"d{i}", "text": t, "tenant": f"t{i % 2}", "year": 2018 + i}) + "\n"
            for i, t in enumerate(texts)
        )
    )
    return path


def test_cli_search_hybrid_with_a_filter(corpus: Path, store_url: str) -> None:
    assert cli("index", str(corpus), "-c", "docs", "-m", "fake:a", "--store", store_url).exit_code == 0
    result = cli("search", "docs", "zebra", "--hybrid", "--where", '{"tenant": "t0"}', "-k", "3", "--store", store_url)
    assert result.exit_code == 0, result.stderr
    hits = [json.loads(line) for line in result.stdout.splitlines()]
    assert [h["metadata"]["tenant"] for h in hits] == ["t0"] * 3
    assert {"d0", "d2"} <= {h["id"] for h in hits}  # both zebra rows are t0: the lexical side ranks them
    assert all(0 < h["score"] <= round(2 / 61, 6) for h in hits)  # fused reciprocal-rank scores
    dated = cli("search", "docs", "q", "--where", '{"year": {"$gte": 2021}}', "--store", store_url)
    assert sorted(json.loads(line)["id"] for line in dated.stdout.splitlines()) == ["d3", "d4"]


def test_cli_bad_filters_are_one_line(corpus: Path, store_url: str) -> None:
    assert cli("index", str(corpus), "-c", "docs", "-m", "fake:a", "--store", store_url).exit_code == 0
    one_line_error(cli("search", "docs", "q", "--where", '{"tenat": "a"}', "--store", store_url),
                   "'tenat'", "known: tenant, year")  # fmt: skip
    one_line_error(cli("search", "docs", "q", "--where", '{"year": "2020"}', "--store", store_url),
                   "'year' is int metadata, got str")  # fmt: skip
    one_line_error(cli("search", "docs", "q", "--where", "{tenant: a}", "--store", store_url), "--where is not JSON")
    one_line_error(cli("search", "docs", "q", "--rerank", "bedrok:x", "--store", store_url), "Did you mean 'bedrock'")


def test_a_bad_filter_sends_nothing(corpus: Path, tmp_path: Path) -> None:
    with open_store(f"lancedb://{tmp_path / 's'}", cache=None) as store:
        items = [SourceItem(f"d{i}", f"h{i}", f"text {i}", None, {"year": i}) for i in range(3)]
        index_items(store, "docs", items, provider=FakeProvider("a"), cache=False)
        provider, reranker = FakeProvider("a"), WordReranker()
        for where in ({"nope": 1}, {"year": 1.5}, {"year": {"$in": []}}, {"year": {"$gt": True}}, ["year"]):
            with pytest.raises(InvalidInputError, match="where"):
                search(store, "docs", "text", where=where, provider=provider, reranker=reranker, mode="hybrid")  # type: ignore[arg-type]
        for options in ({"weights": (1.0,)}, {"rrf_k": -1}, {"candidates": 0}, {"mode": "dense"}):
            with pytest.raises(InvalidOptionError):
                search(store, "docs", "text", provider=provider, reranker=reranker, **{"mode": "hybrid", **options})
        assert provider.calls == [] and reranker.calls == []


def test_rerank_reorders_the_candidates_and_keeps_those_without_text(tmp_path: Path) -> None:
    with open_store(f"lancedb://{tmp_path / 's'}", cache=None) as store:
        texts = ["red apple pie", "green apple", "apple", "plum jam", "red plum"]
        items = [SourceItem(f"d{i}", f"h{i}", t) for i, t in enumerate(texts)]
        index_items(store, "docs", items, provider=FakeProvider("a"), cache=False)
        reranker = WordReranker()
        hits = search(store, "docs", "red apple pie", k=3, reranker=reranker, candidates=5)
        assert hits[0].id == "d0" and [h.score for h in hits] == [3.0, 1.0, 1.0] and len(reranker.calls) == 1
        assert {h.id for h in hits[1:]} <= {"d1", "d2", "d4"}
        assert sorted(reranker.calls[0]) == sorted(texts)  # all 5 candidates went to the reranker


def test_rerank_on_a_collection_without_stored_text_sends_nothing(tmp_path: Path) -> None:
    url = f"lancedb://{tmp_path / 's'}"
    with open_store(url, cache=None) as store:
        fingerprint = FakeProvider("img").fingerprint("document").space().to_stored()
        store.create_version("pics", 1, fingerprint)
        vectors = np.random.default_rng(0).standard_normal((3, 64)).astype(np.float32)
        rows = [Row(f"p{i}", f"h{i}", None, f"file:///pics/{i}.png", {}, vectors[i]) for i in range(3)]
        store.upsert("pics", 1, rows, fingerprint=fingerprint)
        provider, reranker = FakeProvider("img"), WordReranker()
        with pytest.raises(InvalidInputError, match="stores no text"):
            search(store, "pics", "a cat", provider=provider, reranker=reranker)
        assert provider.calls == [] and reranker.calls == []
        assert len(search(store, "pics", "a cat", provider=provider, k=2)) == 2  # without --rerank it searches
    line = one_line_error(cli("search", "pics", "a cat", "--rerank", "local:/nonexistent/model", "--store", url))
    assert "stores no text" in line and "without --rerank" in line
