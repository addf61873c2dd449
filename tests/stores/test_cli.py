"""The store commands from the command line: JSONL out, one-line errors, exit codes; the spend cap."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from omnivec.providers import get_provider
from omnivec.providers.cli import app, attach_commands
from omnivec.providers.stores import (
    MigrationIncompleteError,
    VectorSpaceMismatchError,
    index_items,
    migrate,
    open_store,
    read_source,
    search,
)

attach_commands()
runner = CliRunner()


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.jsonl"
    rows = [
        {"_id": f"d{i}", "title": f"title {i}", "text": f"about topic {i % 4} and more words here", "lang": "en"}
        for i in range(30)
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def cli(*args: str) -> object:
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_index_search_collections_doctor(corpus: Path, store_url: str) -> None:
    dry = cli("index", str(corpus), "-c", "docs", "-m", "fake:a", "--store", store_url, "--dry-run")
    assert dry.exit_code == 0 and json.loads(dry.stdout)["to_embed"] == 30  # type: ignore[attr-defined]
    done = cli("index", str(corpus), "-c", "docs", "-m", "fake:a", "--store", store_url, "--no-cache")
    assert done.exit_code == 0 and "30 embedded" in done.stderr  # type: ignore[attr-defined]
    again = cli("index", str(corpus), "-c", "docs", "--store", store_url, "--no-cache")
    assert "0 embedded" in again.stderr and "30 unchanged" in again.stderr  # type: ignore[attr-defined]
    hits = [
        json.loads(line)
        for line in cli("search", "docs", "topic 2", "-k", "3", "--store", store_url).stdout.splitlines()
    ]  # type: ignore[attr-defined]
    assert len(hits) == 3 and hits[0]["metadata"] == {"lang": "en"} and set(hits[0]) == {"id", "score", "metadata"}
    listed = [json.loads(line) for line in cli("collections", "--store", store_url).stdout.splitlines()]  # type: ignore[attr-defined]
    assert listed[0]["count"] == 30 and listed[0]["serving"] and listed[0]["fingerprint"].startswith("fake:a/64")
    assert cli("doctor", "docs", "--store", store_url).exit_code == 0  # type: ignore[attr-defined]


def test_errors_are_one_line_with_exit_2(corpus: Path, store_url: str) -> None:
    cli("index", str(corpus), "-c", "docs", "-m", "fake:a", "--store", store_url, "--no-cache")
    for args in (
        ["index", str(corpus), "-c", "docs", "-m", "fake:b"],
        ["search", "docs", "x", "-m", "fake:b"],
        ["search", "nope", "x"],
        ["index", "missing.jsonl", "-c", "docs"],
        ["switch", "docs"],
        ["index", str(corpus), "-c", "Bad-Name"],
    ):
        result = cli(*args, "--store", store_url)
        assert result.exit_code == 2, (args, result.stderr)  # type: ignore[attr-defined]
        assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("error:")  # type: ignore[attr-defined]


def test_the_spend_cap_stops_cleanly_and_a_rerun_resumes(
    corpus: Path, tmp_path: Path, omnivec_emulator: object
) -> None:
    store = open_store(f"lancedb://{tmp_path / 'lance'}", batch_size=5)
    try:
        index_items(store, "docs", read_source(corpus), provider=get_provider("fake:a"), cache=False)
        gemini = get_provider("gemini:gemini-embedding-2", dimensions=128)
        with pytest.raises(MigrationIncompleteError, match="spend cap"):
            migrate(store, "docs", gemini, max_cost=0.00003, cache=False)  # about 2 batches of 5 items
        partial = store.count("docs", 2)
        assert 0 < partial < 30 and store.versions("docs")[1].state == "building"
        report = migrate(store, "docs", gemini, max_cost=1.0, cache=False)
        assert report.count == 30 and report.sync.unchanged == partial and report.sync.embedded == 30 - partial
    finally:
        store.close()


def test_blank_items_are_skipped_and_counted_not_fatal(tmp_path: Path) -> None:
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(
        '{"_id": "a", "text": "cats"}\n{"_id": "b", "text": "   "}\n{"_id": "c", "text": null, "title": "dogs"}\n'
        '{"_id": "d", "text": null}\n'
    )
    result = cli(
        "index", str(corpus), "-c", "docs", "-m", "fake:a", "--store", f"lancedb://{tmp_path / 'l'}", "--no-cache"
    )
    assert result.exit_code == 0  # type: ignore[attr-defined]
    assert "2 blank item(s) skipped" in result.stderr and "b, d" in result.stderr  # type: ignore[attr-defined]
    assert "2 embedded" in result.stderr  # type: ignore[attr-defined]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"_id": "a", "text": "ok"}\nnot json\n')
    failed = cli("index", str(bad), "-c", "docs", "--store", f"lancedb://{tmp_path / 'l'}")
    assert failed.exit_code == 2 and "bad.jsonl:2" in failed.stderr  # type: ignore[attr-defined]


def test_ctrl_c_during_index_says_how_to_resume_and_the_rerun_finishes_exactly(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import omnivec.providers.stores.cli as store_cli

    url = f"lancedb://{tmp_path / 'l'}"

    def interrupted_after_20(path: Path, skipped: list[str] | None = None) -> object:
        for n, item in enumerate(read_source(path, skipped)):
            if n == 20:  # Ctrl-C arrives while the source is read, after the first batches were handed on
                raise KeyboardInterrupt
            yield item

    monkeypatch.setattr(store_cli, "read_source", interrupted_after_20)
    stopped = cli("index", str(corpus), "-c", "docs", "-m", "fake:a", "--store", url, "--batch-size", "5")
    assert stopped.exit_code == 130  # type: ignore[attr-defined]
    assert "interrupted: what was already committed is kept; run the same command again" in stopped.stderr  # type: ignore[attr-defined]
    monkeypatch.undo()
    again = cli("index", str(corpus), "-c", "docs", "-m", "fake:a", "--store", url, "--batch-size", "5")
    assert again.exit_code == 0, again.stderr  # type: ignore[attr-defined]
    store = open_store(url)
    try:
        (info,) = store.versions("docs")
        assert store.count("docs", info.version) == 30
    finally:
        store.close()


def test_a_model_mismatch_names_both_fixes_with_the_dimensions_to_migrate_to(corpus: Path, tmp_path: Path) -> None:
    url = f"lancedb://{tmp_path / 'l'}"
    assert cli("index", str(corpus), "-c", "docs", "-m", "fake:a", "--store", url).exit_code == 0  # type: ignore[attr-defined]
    store = open_store(url)
    try:
        other = get_provider("fake:b", dimensions=16)
        with pytest.raises(VectorSpaceMismatchError, match=r"(?i)leave the model out") as refused:
            search(store, "docs", "a query", provider=other)
        assert "omnivec migrate docs --to fake:b --dimensions 16'" in str(refused.value)
    finally:
        store.close()


def test_a_second_switch_says_it_already_serves(corpus: Path, store_url: str) -> None:
    cli("index", str(corpus), "-c", "docs", "-m", "fake:a", "--store", store_url, "--no-cache")
    cli("migrate", "docs", "--to", "fake:b", "--store", store_url, "--no-cache")
    first = cli("switch", "docs", "--store", store_url)
    second = cli("switch", "docs", "--store", store_url)
    assert first.exit_code == second.exit_code == 0  # type: ignore[attr-defined]
    assert "now serves v2" in first.stderr and "already serves v2" in second.stderr  # type: ignore[attr-defined]
    missing = cli("rollback", "nothing_here", "--store", store_url)
    assert missing.exit_code == 2 and "no collection 'nothing_here'" in missing.stderr  # type: ignore[attr-defined]


def test_index_syncs_metadata_edits_and_prunes_only_when_asked(corpus: Path, store_url: str) -> None:
    cli("index", str(corpus), "-c", "docs", "-m", "fake:a", "--store", store_url, "--no-cache")
    rows = [json.loads(line) for line in corpus.read_text().splitlines()]
    rows[0]["lang"] = "fr"  # metadata only: no new embedding
    edited = corpus.with_name("edited.jsonl")
    edited.write_text("\n".join(json.dumps(r) for r in rows[:25]) + "\n")  # d25..d29 removed from the source
    kept = cli("index", str(edited), "-c", "docs", "--store", store_url, "--no-cache")
    assert kept.exit_code == 0, kept.stderr  # type: ignore[attr-defined]
    assert "0 embedded" in kept.stderr and "1 metadata updated" in kept.stderr  # type: ignore[attr-defined]
    assert "5 not in the source (kept; --prune deletes them)" in kept.stderr  # type: ignore[attr-defined]
    store = open_store(store_url)
    try:
        assert store.rows("docs", 1, ["d0"])[0].metadata == {"lang": "fr"} and store.count("docs", 1) == 30
        pruned = cli("index", str(edited), "-c", "docs", "--store", store_url, "--no-cache", "--prune")
        assert "0 embedded" in pruned.stderr and "5 deleted" in pruned.stderr  # type: ignore[attr-defined]
        assert store.count("docs", 1) == 25 and store.hashes("docs", 1, ["d25"]) == {}
        empty = corpus.with_name("empty.jsonl")
        empty.write_text("")  # a failed export: --prune deleted every stored item, "25 deleted"
        refused = cli("index", str(empty), "-c", "docs", "--store", store_url, "--no-cache", "--prune")
        assert refused.exit_code == 2 and "would delete all 25 stored items" in refused.stderr  # type: ignore[attr-defined]
        assert store.count("docs", 1) == 25
    finally:
        store.close()


def test_store_option_keeps_the_other_store_settings_and_index_builds_the_ann_index(
    tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "omnivec.toml").write_text('[store]\nurl = "lancedb://./elsewhere"\nindex_min_rows = 0\n')
    big = tmp_path / "big.jsonl"
    big.write_text("".join(json.dumps({"_id": f"d{i}", "text": f"item {i} about {i % 7}"}) + "\n" for i in range(300)))
    done = cli("index", str(big), "-c", "docs", "-m", "fake:a", "--store", store_url, "--no-cache")
    assert done.exit_code == 0, done.stderr  # type: ignore[attr-defined]
    expected = "IVF_PQ" if store_url.startswith("lancedb") else "HNSW"
    assert f"index built: {expected}" in done.stderr  # type: ignore[attr-defined]
    again = cli("index", str(big), "-c", "docs", "--store", store_url, "--no-cache")
    assert "index built" not in again.stderr and not (tmp_path / "elsewhere").exists()  # type: ignore[attr-defined]


def test_dry_runs_count_calls_and_create_nothing(corpus: Path, store_url: str) -> None:
    nova = "bedrock:amazon.nova-2-multimodal-embeddings-v1:0"  # one item per request
    dry = cli("index", str(corpus), "-c", "docs", "-m", nova, "--store", store_url, "--dry-run")
    plan = json.loads(dry.stdout)  # type: ignore[attr-defined]
    assert plan["to_embed"] == 30 and plan["calls"] == 30
    assert plan["estimated_time_s"] >= 30 / 64  # never the old flat 200 items/s (0.15 s here, 4 s for 800)
    cli("index", str(corpus), "-c", "docs", "-m", "fake:a", "--store", store_url, "--no-cache")
    dry = cli("migrate", "docs", "--to", "fake:b", "--dimensions", "32", "--store", store_url, "--dry-run")
    assert dry.exit_code == 0, dry.stderr  # type: ignore[attr-defined]
    plan = json.loads(dry.stdout)  # type: ignore[attr-defined]
    assert (plan["items"], plan["to_embed"], plan["calls"]) == (30, 30, 2)  # fake: 16 per call
    store = open_store(store_url)
    try:
        assert [v.version for v in store.versions("docs")] == [1]  # nothing created
    finally:
        store.close()


def test_doctor_repair_fixes_states_left_by_a_cut_off_switch(corpus: Path, store_url: str) -> None:
    cli("index", str(corpus), "-c", "docs", "-m", "fake:a", "--store", store_url, "--no-cache")
    cli("migrate", "docs", "--to", "fake:b", "--store", store_url, "--no-cache")
    store = open_store(store_url)
    try:
        store.set_alias("docs", 2, 1)  # alias written, states not: what an older release's crash left
    finally:
        store.close()
    found = cli("doctor", "docs", "--store", store_url)
    assert found.exit_code == 1 and "--repair" in found.stdout  # type: ignore[attr-defined]
    repaired = cli("doctor", "docs", "--store", store_url, "--repair")
    assert repaired.exit_code == 0 and "repaired" in repaired.stdout  # type: ignore[attr-defined]
    assert cli("doctor", "docs", "--store", store_url).exit_code == 0  # type: ignore[attr-defined]


def test_engine_flags_old_and_new_name_one_engine(corpus: Path, tmp_path: Path) -> None:
    url = f"lancedb://{tmp_path / 'engines'}"
    for args, says in (
        (["--bulk", "batch", "--engine", "ray"], "name two engines"),
        (["--engine", "spark"], "--engine must be 'online', 'batch' or 'ray'"),
        (["--bulk", "nightly"], "--bulk must be 'online' or 'batch'"),
    ):
        result = runner.invoke(app, ["index", str(corpus), "-c", "docs", "--store", url, *args])
        assert result.exit_code == 2 and says in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert not (tmp_path / "engines").exists()  # refused before the store was opened
    refused = runner.invoke(
        app, ["index", str(corpus), "-c", "docs", "--store", url, "--engine", "batch", "-m", "fake:a"]
    )
    assert refused.exit_code == 2 and "needs a provider with a batch API" in refused.stderr, refused.stderr
    done = runner.invoke(app, ["index", str(corpus), "-c", "docs", "-m", "fake:a", "--store", url, "--engine", "local"])
    assert done.exit_code == 0 and "30 embedded" in done.stderr, done.stderr  # 'local' (the old name) is online


def test_a_failed_or_empty_first_index_leaves_no_collection(isolated_cwd) -> None:  # type: ignore[no-untyped-def]
    # The default store (lancedb in the working folder): what a first try without --store meets.
    (isolated_cwd / "bad.jsonl").write_text('{"_id": "1", "text": "a"}\nnot json\n')
    (isolated_cwd / "empty.jsonl").write_text("")
    (isolated_cwd / "good.jsonl").write_text('{"_id": "1", "text": "cats purr"}\n')
    assert runner.invoke(app, ["index", "bad.jsonl", "--collection", "z", "--model", "fake"]).exit_code == 2
    empty = runner.invoke(app, ["index", "empty.jsonl", "--collection", "e", "--model", "fake"])
    assert empty.exit_code == 2 and "holds no items" in empty.output
    assert runner.invoke(app, ["collections"]).output.strip() == ""
    # The model chosen after the failure is accepted: the failed run locked nothing in.
    assert runner.invoke(app, ["index", "good.jsonl", "--collection", "z", "--model", "fake:other"]).exit_code == 0
    missing = runner.invoke(app, ["drop", "z", "--version", "99"])
    assert missing.exit_code == 2 and "no version 99" in missing.output
