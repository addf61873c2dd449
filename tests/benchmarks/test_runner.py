"""The benchmark end to end with the deterministic fake provider (exact, reproducible numbers)."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from omnivec.benchmarks import BenchConfig, load_results, run_benchmark
from omnivec.benchmarks.datasets import load_tasks
from omnivec.benchmarks.metrics import evaluate, mean
from omnivec.benchmarks.retrieval import search
from omnivec.providers.cli import app, attach_commands
from omnivec.providers.testing import FakeProvider

from .conftest import shared_set


def config(tmp_path, **kw):  # type: ignore[no-untyped-def]
    kw.setdefault("retrievers", [])
    return BenchConfig(
        providers=["fake"], cache=tmp_path / "cache.sqlite", out=tmp_path / "out", latency_queries=5, **kw
    )


async def test_scores_equal_an_independent_computation(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = await run_benchmark(config(tmp_path))
    (run,) = result.runs
    task = load_tasks("scifact-nano")[0]
    fake = FakeProvider()
    q = np.stack([fake.embed_one(task.queries[i], "query") for i in task.queries])
    c = np.stack([fake.embed_one(t, "document") for t in task.corpus.values()])
    expected = evaluate(search(q, c, list(task.queries), list(task.corpus)), task.qrels)
    assert run.quality.scores["ndcg@10"] == pytest.approx(mean(expected, "ndcg@10"))
    assert run.quality.scores["ndcg@10"] > 0.1  # hashed word overlap carries real signal (chance: ~0.01)
    assert run.quality.ci95[0] <= run.quality.main <= run.quality.ci95[1]
    assert len(run.query_latency.samples_ms) == 5 and run.query_latency.cold_start_ms is not None
    assert run.index_throughput.items == 800 and not run.index_throughput.from_earlier_run
    assert run.failures.total == 0 and run.kind == "embedding"


async def test_warm_cache_rerun_calls_no_provider_and_scores_the_same(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    cold = await run_benchmark(config(tmp_path))
    calls = []
    original = FakeProvider._embed_batch

    async def spy(self, batch, *, intent):  # type: ignore[no-untyped-def]
        calls.append(len(batch))
        return await original(self, batch, intent=intent)

    monkeypatch.setattr(FakeProvider, "_embed_batch", spy)
    warm = await run_benchmark(config(tmp_path))
    assert calls == []
    assert warm.runs[0].quality == cold.runs[0].quality
    assert warm.runs[0].query_latency.from_earlier_run and warm.runs[0].index_throughput.from_earlier_run
    assert (warm.runs[0].cached.queries, warm.runs[0].cached.corpus) == (50, 800)


async def test_a_different_fingerprint_misses_the_cache(tmp_path) -> None:  # type: ignore[no-untyped-def]
    await run_benchmark(config(tmp_path))
    other = await run_benchmark(config(tmp_path).model_copy(update={"dims": [32]}))
    assert (other.runs[0].cached.queries, other.runs[0].cached.corpus) == (0, 0)
    assert other.runs[0].dimensions == 32


async def test_baseline_comparison_and_dims_sweep(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = await run_benchmark(config(tmp_path, dims=[16, 64]))
    small, full = result.runs
    assert (small.label, full.label) == ("fake@16", "fake@64")
    assert small.comparison is None and full.comparison.baseline == "fake@16"
    assert full.comparison.delta == pytest.approx(full.quality.main - small.quality.main)
    assert (
        0 <= full.comparison.p_value <= 1 and full.comparison.wins + full.comparison.ties + full.comparison.losses == 50
    )
    assert full.comparison.p_holm == full.comparison.p_value  # one comparison: nothing to adjust
    assert full.storage.bytes_per_vector == 256 and small.storage.bytes_per_vector == 64


async def test_image_sets_run_both_directions_and_skip_what_cannot_take_them(tmp_path) -> None:  # type: ignore[no-untyped-def]
    coco = shared_set("image/coco-mini")
    cfg = BenchConfig(
        providers=["fake", "local"],
        retrievers=["bm25"],
        datasets=[str(coco)],
        cache=None,
        latency_queries=2,
        out=tmp_path,
    )
    result = await run_benchmark(cfg)
    by = {(r.label, r.task): r for r in result.runs}
    t2i, i2t = by[("fake", "coco-mini/t2i")], by[("fake", "coco-mini/i2t")]
    assert len(t2i.quality.per_query) == 5 * 159 and len(i2t.quality.per_query) == 159
    assert by[("local", "coco-mini/t2i")].skipped and "image" in by[("local", "coco-mini/t2i")].skipped
    assert by[("bm25", "coco-mini/i2t")].skipped == "takes text only"
    assert result.manifest.baseline == "bm25" and t2i.comparison is None  # the baseline has no score here


def test_cli_writes_every_output(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    attach_commands()
    out = CliRunner().invoke(app, ["bench", "--providers", "fake,fake:other", "--latency-queries", "3"])
    assert out.exit_code == 0, out.output
    (folder,) = (tmp_path / "results").iterdir()
    names = {p.name for p in folder.iterdir()}
    assert {
        "results.json",
        "report.md",
        "summary.csv",
        "quality.png",
        "quality_vs_p95_latency.png",
        "quality_vs_cost.png",
        "latency_distribution.png",
        "run.bm25_scifact-nano.trec",
        "run.fake_scifact-nano.trec",
        "run.fake_other_scifact-nano.trec",
    } <= names
    loaded = load_results(folder / "results.json")
    assert loaded.schema_version == 2 and [r.label for r in loaded.runs] == ["bm25", "fake", "fake:other"]
    assert loaded.manifest.rows["fake"].emulated is False and loaded.manifest.datasets["scifact-nano"].queries == 50
    assert loaded.manifest.rows["bm25"].kind == "lexical" and "bm25s" in loaded.manifest.rows["bm25"].description
    trec = (folder / "run.fake_scifact-nano.trec").read_text().splitlines()
    assert len(trec) == 50 * 100 and trec[0].split()[1] == "Q0"
    assert "nDCG@10" in (folder / "report.md").read_text()


def test_cli_reports_bad_input_cleanly(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    attach_commands()
    out = CliRunner().invoke(app, ["bench", "--dataset", "no-such-set"])
    assert out.exit_code == 2 and "no-such-set" in out.output


def test_cli_no_cache_overrides_a_config_file(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    attach_commands()
    (tmp_path / "bench.toml").write_text('providers = ["fake"]\nlatency_queries = 2\nplots = false\n')
    runner = CliRunner()
    assert runner.invoke(app, ["bench", "--config", "bench.toml"]).exit_code == 0
    assert runner.invoke(app, ["bench", "--config", "bench.toml", "--no-cache"]).exit_code == 0
    first, second = sorted((tmp_path / "results").iterdir())
    assert load_results(second / "results.json").run("fake", "scifact-nano").cached.corpus == 0
    assert load_results(first / "results.json").manifest.cache != "off"


def test_emulated_runs_are_labelled_everywhere(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    attach_commands()
    out = CliRunner().invoke(
        app,
        ["bench", "--providers", "fake,gemini:gemini-embedding-2", "--emulate", "--latency-queries", "2", "--no-plots"],
    )
    assert out.exit_code == 0, out.output
    assert "EMULATED" in out.output
    (folder,) = (tmp_path / "results").iterdir()
    result = load_results(folder / "results.json")
    flags = {r.label: r.emulated for r in result.runs}
    assert flags == {"bm25": False, "fake": False, "gemini:gemini-embedding-2": True}
    assert result.manifest.emulated is True
    assert "EMULATED" in (folder / "report.md").read_text()
    rows = [line.split(",") for line in (folder / "summary.csv").read_text().splitlines()]
    assert rows[0][4] == "emulated" and rows[3][4] == "True"
    gemini = next(r for r in result.runs if r.emulated)
    assert gemini.usage.source == "counted" and gemini.cost.per_1k_documents > 0
