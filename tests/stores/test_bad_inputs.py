"""Bad inputs to the store commands: one line, exit 2, before any request or write (issue #17)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from omnivec.providers import InvalidInputError, InvalidOptionError
from omnivec.providers.cli import app, attach_commands
from omnivec.providers.stores import (
    SourceError,
    SourceItem,
    VectorSpaceMismatchError,
    index_items,
    migrate,
    open_store,
    read_source,
    search,
)
from omnivec.providers.testing import FakeProvider

attach_commands()
runner = CliRunner()


def cli(*args: str, stdin: str | None = None) -> object:
    return runner.invoke(app, list(args), input=stdin, catch_exceptions=False)


def one_line_error(result: object, *fragments: str) -> None:
    assert result.exit_code == 2, result.stderr  # type: ignore[attr-defined]
    lines = result.stderr.strip().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr  # type: ignore[attr-defined]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(json.dumps({"_id": f"d{i}", "text": f"about topic {i % 3}"}) + "\n" for i in range(12)))
    return path


@pytest.fixture
def indexed(corpus: Path, tmp_path: Path) -> str:
    url = f"lancedb://{tmp_path / 'store'}"
    assert cli("index", str(corpus), "-c", "docs", "-m", "fake:a", "--store", url).exit_code == 0  # type: ignore[attr-defined]
    return url


def test_bad_store_urls(tmp_path: Path, corpus: Path) -> None:
    one_line_error(cli("collections", "--store", "some/file.jsonl"), "has no scheme")
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    one_line_error(cli("collections", "--store", f"lancedb://{a_file}"), "is a file, not a folder")
    one_line_error(cli("index", str(corpus), "-c", "d", "-m", "fake:a", "--store", f"lancedb://{a_file}"), "is a file")
    one_line_error(
        cli("index", str(corpus), "-c", "d", "-m", "fake:a", "--store", "lancedb:///proc/nope"), "cannot create"
    )
    missing = tmp_path / "nonexistent" / "path" / "db"
    one_line_error(cli("collections", "--store", f"lancedb://{missing}"), "no store at")
    assert not (tmp_path / "nonexistent").exists()  # a read-only command never creates a store


def test_override_fingerprint_cannot_bridge_dimensions(indexed: str) -> None:
    wide = FakeProvider("b", dimensions=32)
    store = open_store(indexed)
    try:
        with pytest.raises(VectorSpaceMismatchError, match="even with the override: 64-d"):
            search(store, "docs", "q", provider=wide, override_fingerprint=True)
    finally:
        store.close()
    assert wide.calls == []  # refused before the request


def test_override_fingerprint_across_same_width_spaces_warns_once_in_one_line(indexed: str) -> None:
    result = cli("search", "docs", "topic 1", "-m", "fake:b", "--override-fingerprint", "--store", indexed)
    assert result.exit_code == 0, result.stderr  # type: ignore[attr-defined]
    assert len(result.stdout.strip().splitlines()) == 10  # type: ignore[attr-defined]
    warning = result.stderr.strip().splitlines()  # type: ignore[attr-defined]
    assert len(warning) == 1 and "fake:a" in warning[0] and "fake:b" in warning[0] and "adapt" in warning[0], warning
    same = cli("search", "docs", "topic 1", "-m", "fake:a", "--override-fingerprint", "--store", indexed)
    assert same.exit_code == 0 and same.stderr.strip() == ""  # type: ignore[attr-defined]  # its own space: silent


def test_compare_versions_that_cannot_be_compared(indexed: str, tmp_path: Path) -> None:
    one_line_error(cli("compare", "docs", "--version", "99", "--store", indexed), "no such version", "v1")
    one_line_error(cli("compare", "docs", "--version", "1", "--store", indexed), "is the serving version")
    store = open_store(indexed)
    try:  # an empty v2 still building is never the default "new"
        store.create_version("docs", 2, {**store.versions("docs")[0].fingerprint, "model": "b"})
    finally:
        store.close()
    one_line_error(cli("compare", "docs", "--store", indexed), "still building")
    arrays = tmp_path / "q.jsonl"
    arrays.write_text('["a", "b"]\n')
    one_line_error(cli("compare", "docs", "--version", "2", "--queries", str(arrays), "--store", indexed), "q.jsonl:1")
    one_line_error(
        cli("compare", "docs", "--version", "2", "--qrels", str(tmp_path / "missing.tsv"), "--store", indexed),
        "--qrels",
        "cannot read",
    )
    one_line_error(  # a bare "[Errno 2] No such file or directory: '…'" before
        cli("compare", "docs", "--version", "2", "--queries", str(tmp_path / "missing.txt"), "--store", indexed),
        "--queries",
        "cannot read it (No such file or directory)",
    )


def test_a_duplicate_id_is_refused_with_both_lines(tmp_path: Path) -> None:
    source = tmp_path / "dup.jsonl"
    source.write_text('{"_id": "a", "text": "one"}\n{"_id": "b", "text": "two"}\n{"_id": "a", "text": "three"}\n')
    result = cli("index", str(source), "-c", "docs", "-m", "fake:a", "--store", f"lancedb://{tmp_path / 's'}")
    one_line_error(result, "dup.jsonl:3", "'a'", "line 1")


def test_drop_refuses_conflicting_flags_and_index_reads_stdin(indexed: str, corpus: Path) -> None:
    one_line_error(cli("drop", "docs", "--all", "--version", "1", "--store", indexed), "--all", "--version")
    extra = json.dumps({"_id": "new", "text": "from a pipe"}) + "\n"
    piped = cli("index", "-", "-c", "docs", "--store", indexed, stdin=corpus.read_text() + extra)
    assert piped.exit_code == 0 and "13 items, 1 embedded" in piped.stderr  # type: ignore[attr-defined]


@pytest.mark.parametrize(("raw_id", "named"), [("true", "bool True"), ("1.5", "float 1.5"), ("[1]", "list [1]")])
def test_an_id_of_the_wrong_type_is_named_not_coerced(tmp_path: Path, raw_id: str, named: str) -> None:
    source = tmp_path / "c.jsonl"
    source.write_text(f'{{"_id": {raw_id}, "text": "x"}}\n')
    url = f"lancedb://{tmp_path / 'store'}"
    one_line_error(cli("index", str(source), "-c", "d", "-m", "fake:a", "--store", url), "c.jsonl:1", named)


def test_a_cache_path_that_cannot_be_made_is_one_line(
    tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "omnivec.toml").write_text('[store]\ncache = "/proc/nope/c.sqlite"\n')
    url = f"lancedb://{tmp_path / 'store'}"
    one_line_error(cli("index", str(corpus), "-c", "d", "-m", "fake:a", "--store", url), "/proc/nope", "cache")


def test_cache_none_in_toml_turns_the_cache_off(tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "omnivec.toml").write_text('[store]\ncache = "none"\n')
    url = f"lancedb://{tmp_path / 'store'}"
    assert cli("index", str(corpus), "-c", "d", "-m", "fake:a", "--store", url).exit_code == 0  # type: ignore[attr-defined]
    assert not (tmp_path / "none").exists()  # not a SQLite file named "none"
    assert not (tmp_path / "store" / "_omnivec_cache.sqlite").exists()


def _hand_built(tmp_path: Path, *items: object, **options: object) -> object:
    store = open_store(f"lancedb://{tmp_path / 'api'}")
    try:
        return index_items(store, "d", items, provider=FakeProvider("a"), **options)  # type: ignore[arg-type]
    finally:
        store.close()


@pytest.mark.parametrize(
    ("item", "named"),
    [
        (SourceItem(1, "h", "t"), "id must be a non-empty str"),  # type: ignore[arg-type]
        (SourceItem("a", "h", "t", {"n": 1}), "uri must be a str"),  # type: ignore[arg-type]  # metadata as the 4th
        (SourceItem("a", None, "t"), "content_hash"),  # type: ignore[arg-type]
        (SourceItem("a", "h", "t", metadata={"s": {1, 2}}), "metadata is not JSON"),
        (SourceItem("a", "h", "t", metadata=[1]), "metadata must be a mapping"),  # type: ignore[arg-type]
    ],
)
def test_a_hand_built_item_the_store_cannot_hold_is_named(tmp_path: Path, item: SourceItem, named: str) -> None:
    with pytest.raises(InvalidInputError, match=named):
        _hand_built(tmp_path, item)


def test_index_items_and_migrate_refuse_wrong_argument_types(tmp_path: Path) -> None:
    with pytest.raises(InvalidOptionError, match="provider must be an EmbeddingProvider"):
        index_items(open_store(f"lancedb://{tmp_path / 's'}"), "d", [SourceItem("a", "h", "t")], provider="fake")  # type: ignore[arg-type]
    with pytest.raises(InvalidOptionError, match="batch_size must be"):
        _hand_built(tmp_path, SourceItem("a", "h", "t"), batch_size=0)  # was read as 'the default'
    store = open_store(f"lancedb://{tmp_path / 'api'}")
    with pytest.raises(InvalidOptionError, match="to must be"):
        migrate(store, "d", None)  # type: ignore[arg-type]
    with pytest.raises(SourceError, match="source must be a path"):
        read_source(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("flags", [("--actors", "4"), ("--requests-per-second", "5")])
def test_ray_options_without_the_ray_engine_are_refused_not_ignored(indexed: str, flags: tuple[str, str]) -> None:
    one_line_error(cli("migrate", "docs", "--to", "fake:b", *flags, "--store", indexed), "--engine ray")
    assert [v.version for v in open_store(indexed).versions("docs")] == [1]  # nothing was built


def test_search_with_a_list_of_queries_is_refused_not_cut_to_the_first(indexed: str) -> None:
    with pytest.raises(InvalidInputError, match="search takes one query, got a list of 2"):
        search(open_store(indexed), "docs", ["topic 1", "topic 2"])  # type: ignore[arg-type]
