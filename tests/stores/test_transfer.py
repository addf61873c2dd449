"""``migrate --to-store``: a collection moved between stores (issue 22 item 2) on the real embedded engines.

Same model: zero embedding calls (counted on the provider class, so providers rebuilt from a stored
fingerprint count too), the identical fingerprint, byte-equal vectors and the same exact top 10 as the
source. Another model (``--to``): the target is embedded by it. Bad input: one line, exit 2, nothing written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from omnivec.providers.cli import app, attach_commands
from omnivec.providers.stores import SourceItem, VectorStore, index_items, open_store
from omnivec.providers.stores.transfer import transfer
from omnivec.providers.testing import FakeProvider

pytest.importorskip("qdrant_client", reason='pip install "omnivec[qdrant]"')
pytest.importorskip("pymilvus", reason='pip install "omnivec[milvus]"')
pytest.importorskip("chromadb", reason='pip install "omnivec[chroma]"')

attach_commands()
runner = CliRunner()
N = 150
URLS = {
    "lancedb": "lancedb://{}/lance",
    "qdrant": "qdrant+local://{}/qdrant",
    "milvus": "milvus+lite://{}/milvus.db",
    "chroma": "chroma+local://{}/chroma",
}


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every embedding call any FakeProvider makes, the ones ``provider_for`` builds included."""
    made: list[int] = []
    original = FakeProvider._embed_batch

    async def counting(self: FakeProvider, batch: Any, **kwargs: Any) -> Any:
        made.append(len(batch))
        return await original(self, batch, **kwargs)

    monkeypatch.setattr(FakeProvider, "_embed_batch", counting)
    return made


def _items(n: int = N) -> list[SourceItem]:
    return [
        SourceItem(f"d{i}", f"h{i}", f"note {i} about {('cats', 'rivers', 'taxes')[i % 3]}", None, {"i": i, "k": [i]})
        for i in range(n)
    ]


def _filled(url: str) -> VectorStore:
    store = open_store(url, cache=None, batch_size=40)
    index_items(store, "docs", _items(), provider=FakeProvider("a", dimensions=24), cache=False)
    return store


def _all(store: VectorStore, version: int) -> dict[str, Any]:
    return {r.id: r for rows in store.scan("docs", version, 64, vectors=True) for r in rows}


@pytest.mark.parametrize(
    ("source_kind", "target_kind"), [("lancedb", "qdrant"), ("lancedb", "milvus"), ("lancedb", "chroma"),
                                     ("qdrant", "chroma"), ("milvus", "lancedb")]
)  # fmt: skip
def test_same_model_copies_vectors_without_a_call_and_answers_the_same_top_10(
    source_kind: str, target_kind: str, tmp_path: Path, calls: list[int]
) -> None:
    with _filled(URLS[source_kind].format(tmp_path / "s")) as source:
        calls.clear()
        with open_store(URLS[target_kind].format(tmp_path / "t"), cache=None, batch_size=40) as target:
            report = transfer(source, "docs", target)
            assert calls == []  # no provider call: the stored vectors moved
            [origin], [moved] = source.versions("docs"), target.versions("docs")
            assert moved.fingerprint_hash == origin.fingerprint_hash and dict(moved.fingerprint) == dict(
                origin.fingerprint
            )
            assert (report.copied, report.count, report.serving) == (N, N, True) and target.alias("docs") == (1, None)
            assert moved.state == "live" and target.duplicate_ids("docs", 1) == 0
            want, got = _all(source, 1), _all(target, 1)
            assert set(want) == set(got)
            for key, row in want.items():
                assert got[key].vector.tobytes() == row.vector.tobytes()
                assert (got[key].text, got[key].content_hash, dict(got[key].metadata)) == (
                    row.text, row.content_hash, dict(row.metadata))  # fmt: skip
            for seed in range(5):
                query = np.random.default_rng(seed).standard_normal(24).astype(np.float32)
                a = [h.id for h in source.search("docs", 1, query, 10, exact=True)]
                b = [h.id for h in target.search("docs", 1, query, 10, exact=True)]
                assert a == b
            again = transfer(source, "docs", target)  # a repeated run writes nothing
            assert (again.copied, again.unchanged, again.count, calls) == (0, N, N, [])


def test_rows_changed_or_deleted_in_the_source_are_caught_up_by_the_next_run(tmp_path: Path, calls: list[int]) -> None:
    with _filled(URLS["lancedb"].format(tmp_path)) as source, open_store(URLS["chroma"].format(tmp_path)) as target:
        transfer(source, "docs", target)
        items = _items()
        items[3] = SourceItem("d3", "h3", items[3].text, None, {"i": 3, "edited": True})  # metadata only
        index_items(source, "docs", [*items[:100]], provider=FakeProvider("a", dimensions=24), cache=False, prune=True)
        calls.clear()
        report = transfer(source, "docs", target)
        assert (report.copied, report.deleted, report.count, calls) == (1, N - 100, 100, [])
        assert dict(target.rows("docs", 1, ["d3"])[0].metadata) == {"i": 3, "edited": True}


def test_a_source_row_deleted_during_a_first_copy_is_reported_and_deleted_by_the_rerun(tmp_path: Path) -> None:
    # a first run into an empty target skips the pass over the target's ids: the counts must still catch it
    with (
        _filled(URLS["lancedb"].format(tmp_path)) as source,
        open_store(URLS["qdrant"].format(tmp_path), batch_size=40) as target,
    ):
        report = transfer(source, "docs", target, progress=lambda _: source.delete("docs", 1, ["d0"]))
        assert report.count == N and report.problems and not report.serving
        again = transfer(source, "docs", target)
        assert (again.deleted, again.count, again.problems, again.serving) == (1, N - 1, [], True)


def test_another_model_embeds_the_target_and_the_own_model_copies(tmp_path: Path, calls: list[int]) -> None:
    with _filled(URLS["lancedb"].format(tmp_path)) as source, open_store(URLS["qdrant"].format(tmp_path)) as target:
        calls.clear()
        own = transfer(source, "docs", target, to=FakeProvider("a", dimensions=24), cache=False)
        assert (own.copied, calls) == (N, [])  # --to naming the collection's own model: still a copy
        other = FakeProvider("b", dimensions=16)
        report = transfer(source, "docs", target, to=other, cache=False)
        assert report.embedded is not None and report.embedded.embedded == N and sum(calls) == N
        assert (report.target_version, report.serving) == (2, False)  # v1 serves there: v2 waits for a switch
        v2 = target.versions("docs")[1]
        assert (v2.state, v2.dimensions, v2.fingerprint["model"]) == ("ready", 16, "b")


def test_items_that_fail_for_good_are_named_and_a_rerun_finishes(tmp_path: Path) -> None:
    from omnivec.providers import InvalidInputError
    from omnivec.providers.stores import MigrationIncompleteError

    items = _items()
    failing = FakeProvider(
        "b", dimensions=16, max_batch_size=1, fail_items={items[7].text: InvalidInputError("bad item")}
    )
    with _filled(URLS["lancedb"].format(tmp_path)) as source, open_store(URLS["chroma"].format(tmp_path)) as target:
        with pytest.raises(
            MigrationIncompleteError, match=r"1 item\(s\) failed for good and are not in chroma"
        ) as info:
            transfer(source, "docs", target, to=failing, cache=False)
        assert info.value.failed_ids == ["d7"]
        report = transfer(source, "docs", target, to=FakeProvider("b", dimensions=16, max_batch_size=1), cache=False)
        assert report.embedded is not None and report.embedded.embedded == 1  # only the one that failed
        assert len(_all(target, report.target_version)) == N


# the CLI ------------------------------------------------------------------------------------------
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
def source_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))  # where server stores keep their lock files
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(
        "".join(json.dumps({"_id": f"d{i}", "text": f"topic {i % 4} item {i}"}) + "\n" for i in range(30))
    )
    url = f"lancedb://{tmp_path / 'src'}"
    assert cli("index", str(corpus), "-c", "docs", "-m", "fake:a", "--store", url).exit_code == 0
    return url


def test_the_cli_moves_a_collection_and_says_where_it_serves(source_url: str, tmp_path: Path) -> None:
    target = f"chroma+local://{tmp_path / 'c'}"
    result = cli("migrate", "docs", "--store", source_url, "--to-store", target)
    assert result.exit_code == 0, result.stderr
    assert "30 items (30 copied with their vectors" in result.stderr and "serves there now" in result.stderr
    hits = cli("search", "docs", "topic 2", "-k", "3", "--store", target).stdout
    assert hits == cli("search", "docs", "topic 2", "-k", "3", "--store", source_url).stdout and hits.strip()


def test_bad_input_is_one_line_and_writes_nothing(source_url: str, tmp_path: Path) -> None:
    before = cli("collections", "--store", source_url).stdout
    one_line_error(cli("migrate", "docs", "--store", source_url, "--to-store", "qdrnt://x"), "did you mean 'qdrant'")
    one_line_error(
        cli("migrate", "docs", "--store", source_url, "--to-store", f"lancedb://{tmp_path}/./src/"), "is the store"
    )
    one_line_error(cli("migrate", "docs", "--store", source_url), "--to REF", "--to-store URL")
    one_line_error(cli("migrate", "Docs", "--store", source_url, "--to-store", f"chroma+local://{tmp_path / 'c'}"),
                   "collection name")  # fmt: skip
    for down in ("qdrant://127.0.0.1:9", "chroma://127.0.0.1:9", "milvus://127.0.0.1:9"):
        one_line_error(cli("migrate", "docs", "--store", source_url, "--to-store", down), "127.0.0.1:9")
    # found by a new user's trial: each was a traceback, a silent copy, or a target store created
    chroma = f"chroma+local://{tmp_path / 'c'}"
    one_line_error(cli("migrate", "docs", "--store", source_url, "--to-store", "foo"), "store.url='foo'", "no scheme")
    one_line_error(cli("migrate", "nodocs", "--store", source_url, "--to-store", chroma), "no collection 'nodocs'")
    one_line_error(cli("migrate", "docs", "--store", source_url, "--to-store", chroma, "--to", "fakee:b"), "'fake'")
    for flag in (["--dimensions", "32"], ["--engine", "ray"]):
        one_line_error(
            cli("migrate", "docs", "--store", source_url, "--to-store", chroma, *flag), f"{flag[0]} goes with --to"
        )
    assert not (tmp_path / "xdg").exists() and not (tmp_path / "c").exists()  # nothing written anywhere
    assert cli("collections", "--store", source_url).stdout == before


@pytest.mark.parametrize("kind", ["qdrant", "milvus"])
def test_a_collection_name_the_target_already_uses_for_its_own_collection_is_refused(
    kind: str, source_url: str, tmp_path: Path
) -> None:
    url = URLS[kind].format(tmp_path / "t")
    if kind == "qdrant":
        from qdrant_client import QdrantClient, models

        client = QdrantClient(path=url.partition("://")[2])
        client.create_collection("docs", vectors_config=models.VectorParams(size=4, distance=models.Distance.DOT))
        client.close()
    else:
        from pymilvus import MilvusClient

        (tmp_path / "t").mkdir()
        MilvusClient(url.partition("://")[2]).create_collection("docs", dimension=4)
    line = one_line_error(cli("migrate", "docs", "--store", source_url, "--to-store", url), "already has a collection")
    assert "'docs'" in line
    with open_store(url) as target:
        assert target.collections() == []
