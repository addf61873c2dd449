"""Typed results: results.json validates and round-trips byte for byte; reporting follows main_metric;
Holm–Bonferroni; short folder names; a console table that reads at 80 columns."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from rich.console import Console

from omnivec.benchmarks import BenchConfig, BenchmarkResult, ResultsFileError, load_results, run_benchmark
from omnivec.benchmarks.bench import results_folder
from omnivec.benchmarks.outputs import write_outputs
from omnivec.benchmarks.report import rich_table
from omnivec.benchmarks.stats import holm_adjust


def config(tmp_path: Path, **kw) -> BenchConfig:  # type: ignore[no-untyped-def]
    return BenchConfig(
        **{"providers": ["fake", "fake:other"], "cache": None, "latency_queries": 3, "out": tmp_path / "out", **kw}
    )


@pytest.fixture(scope="module")
def three_rows(tmp_path_factory: pytest.TempPathFactory) -> BenchmarkResult:
    import asyncio

    return asyncio.run(run_benchmark(config(tmp_path_factory.mktemp("bench"), dims=[16, 64])))


def test_results_json_round_trips_byte_identically(three_rows: BenchmarkResult, tmp_path: Path) -> None:
    first = tmp_path / "a.json"
    three_rows.save(first)
    loaded = load_results(first)
    second = tmp_path / "b.json"
    loaded.save(second)
    assert first.read_bytes() == second.read_bytes()
    assert loaded == three_rows.model_copy(update={"trec_runs": {}})
    assert "NaN" not in first.read_text() and json.loads(first.read_text())["schema_version"] == 2


def test_results_json_validates_against_the_model(three_rows: BenchmarkResult, tmp_path: Path) -> None:
    raw = json.loads(three_rows.to_json())
    raw["runs"][1]["quality"]["ci95"] = "wide"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(raw))
    with pytest.raises(ResultsFileError, match=r"runs\.1\.quality\.ci95"):
        load_results(bad)
    raw = json.loads(three_rows.to_json()) | {"schema_version": 1}
    bad.write_text(json.dumps(raw))
    with pytest.raises(ResultsFileError, match="schema_version 2"):
        load_results(bad)
    with pytest.raises(ResultsFileError, match="cannot read"):
        load_results(tmp_path / "missing.json")


def test_rows_are_generic_over_lexical_and_embedding(three_rows: BenchmarkResult) -> None:
    assert [(r.label, r.kind) for r in three_rows.runs] == [
        ("bm25", "lexical"),
        ("fake@16", "embedding"),
        ("fake@64", "embedding"),
        ("fake:other@16", "embedding"),
        ("fake:other@64", "embedding"),
    ]
    assert three_rows.manifest.baseline == "bm25"
    bm25 = three_rows.runs[0]
    assert bm25.comparison is None and bm25.quality.main > 0.8  # BM25 is strong on SciFact-nano
    assert bm25.index_throughput.items == 800 and len(bm25.query_latency.samples_ms) == 3
    for run in three_rows.runs[1:]:
        assert run.comparison.baseline == "bm25"
        assert run.comparison.delta == pytest.approx(run.quality.main - bm25.quality.main)


def test_holm_adjusts_beside_the_raw_p_values(three_rows: BenchmarkResult) -> None:
    compared = [r.comparison for r in three_rows.runs if r.comparison]
    assert [c.p_holm for c in compared] == holm_adjust([c.p_value for c in compared])
    assert all(c.p_holm >= c.p_value for c in compared)


def test_holm_bonferroni_by_hand() -> None:
    # m = 4: sorted 0.01, 0.02, 0.03, 0.5 -> 0.04, 0.06, 0.06 (monotone), 0.5
    assert holm_adjust([0.03, 0.01, 0.5, 0.02]) == pytest.approx([0.06, 0.04, 0.5, 0.06])
    assert holm_adjust([0.3, 0.6]) == pytest.approx([0.6, 0.6])
    assert holm_adjust([]) == []


async def test_the_main_metric_column_follows_main_metric(tmp_path: Path) -> None:
    result = await run_benchmark(config(tmp_path, main_metric="recall@10", providers=["fake"]))
    fake = result.run("fake", "scifact-nano")
    assert fake.quality.main == fake.quality.scores["recall@10"]
    assert fake.quality.ci95[0] <= fake.quality.scores["recall@10"] <= fake.quality.ci95[1]
    assert fake.quality.scores["ndcg@10"] != fake.quality.scores["recall@10"]
    console = Console(width=100, record=True)
    console.print(rich_table(result))
    text = console.export_text()
    assert "R@10" in text and "nDCG@10" not in text
    assert f"{fake.quality.main:.3f}" in text and f"{fake.quality.ci95[0]:.2f}–{fake.quality.ci95[1]:.2f}" in text
    assert fake.comparison.delta == pytest.approx(
        fake.quality.scores["recall@10"] - result.runs[0].quality.scores["recall@10"]
    )


def test_main_metric_must_be_computed() -> None:
    with pytest.raises(ValueError, match="main_metric"):
        BenchConfig(main_metric="ndcg@7")


@pytest.mark.parametrize("width", [80, 120])
def test_console_table_reads_in_an_ordinary_terminal(three_rows: BenchmarkResult, width: int) -> None:
    console = Console(width=width, record=True)
    console.print(rich_table(three_rows))
    lines = console.export_text().splitlines()
    assert max(len(line) for line in lines) <= width
    body = [line for line in lines if line.startswith(("bm25", "fake"))]
    assert len(body) == len(three_rows.runs)  # one line per row: nothing wraps
    header = next(line for line in lines if line.startswith("provider"))
    for column in ("nDCG@10", "95% CI", "vs bm25", "p", "Holm", "p95 ms", "docs/s", "$/1k doc", "failed"):
        assert column in header
    assert "…" not in "\n".join(lines)


def test_holm_column_only_with_more_than_two_rows(tmp_path: Path) -> None:
    import asyncio

    two = asyncio.run(run_benchmark(config(tmp_path, providers=["fake"])))
    console = Console(width=120, record=True)
    console.print(rich_table(two))
    assert "Holm" not in console.export_text()


def test_a_dataset_path_gives_a_short_folder_name(tmp_path: Path) -> None:
    deep = tmp_path / "a" / "very" / "long" / "path" / "to" / "cranfield"
    deep.mkdir(parents=True)
    folder = results_folder(BenchConfig(datasets=[str(deep) + "/"], out=tmp_path / "r"), datetime(2026, 1, 2, 3, 4, 5))
    assert folder.name == "20260102-030405-cranfield"
    folder.mkdir(parents=True)
    again = results_folder(BenchConfig(datasets=[str(deep)], out=tmp_path / "r"), datetime(2026, 1, 2, 3, 4, 5))
    assert again.name == "20260102-030405-cranfield-2"


def test_plots_are_written_for_every_row(three_rows: BenchmarkResult, tmp_path: Path) -> None:
    write_outputs(three_rows, tmp_path, plots=True)
    for name in ("quality.png", "quality_vs_p95_latency.png", "quality_vs_cost.png", "latency_distribution.png"):
        assert (tmp_path / name).stat().st_size > 10_000
    report = (tmp_path / "report.md").read_text()
    assert "| provider |" in report and "Holm" in report and "bm25s" in report


async def test_several_tasks_still_fit_80_columns(tmp_path: Path) -> None:
    from .test_datasets import make_set

    other = make_set(tmp_path / "cranfield")
    result = await run_benchmark(config(tmp_path, providers=["fake"], datasets=["scifact-nano", str(other)]))
    console = Console(width=80, record=True)
    console.print(rich_table(result))
    lines = console.export_text().splitlines()
    body = [line for line in lines if line.startswith(("bm25", "fake"))]
    assert len(body) == 4 and max(len(line) for line in lines) <= 80
    titles = [line.strip() for line in lines if line.strip().startswith("omnivec bench")]
    assert titles == ["omnivec bench — scifact-nano", "omnivec bench — cranfield"]  # one table per task
    assert "…" not in "\n".join(lines)
