"""The ``hybrid(bm25+<provider>)`` pipeline row (issue #21 item 4), with the deterministic fake provider."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from omnivec.benchmarks import BenchConfig, run_benchmark
from omnivec.benchmarks.datasets import load_tasks
from omnivec.benchmarks.metrics import evaluate, mean
from omnivec.providers.cli import app, attach_commands


def config(tmp_path: Path, **kw: object) -> BenchConfig:
    return BenchConfig(
        providers=["fake"], retrievers=["bm25"], hybrid=["bm25"], cache=tmp_path / "cache.sqlite",
        out=tmp_path / "out", latency_queries=5, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def rrf_by_hand(
    dense: dict[str, float], lexical: dict[str, float], w: tuple[float, float], k: float
) -> dict[str, float]:
    """Fused scores (ties, e.g. rank r on one side only with equal weights, are left to the scorer)."""
    fused: dict[str, float] = {}
    for weight, run in zip(w, (dense, lexical), strict=True):
        for rank, doc in enumerate(sorted(run, key=lambda d: -run[d]), start=1):
            fused[doc] = fused.get(doc, 0.0) + weight / (k + rank)
    return dict(sorted(fused.items(), key=lambda pair: -pair[1])[:100])


@pytest.mark.parametrize("weights", [(1.0, 1.0), (0.3, 1.0)])
async def test_the_hybrid_row_scores_the_rrf_of_its_two_inputs(tmp_path: Path, weights: tuple[float, float]) -> None:
    result = await run_benchmark(config(tmp_path, hybrid_weights=weights, hybrid_k=60))
    by_label = {run.label: run for run in result.runs}
    assert list(by_label) == ["bm25", "fake", "hybrid(bm25+fake)"]
    hybrid, dense, lexical = by_label["hybrid(bm25+fake)"], by_label["fake"], by_label["bm25"]
    task = load_tasks("scifact-nano")[0]
    runs = result.trec_runs
    expected = {
        q: rrf_by_hand(runs[f"fake/{task.name}"].get(q, {}), runs[f"bm25/{task.name}"].get(q, {}), weights, 60)
        for q in task.queries
    }
    assert hybrid.quality is not None and dense.quality is not None
    assert hybrid.quality.scores["ndcg@10"] == pytest.approx(mean(evaluate(expected, task.qrels), "ndcg@10"))
    assert hybrid.kind == "pipeline" and hybrid.comparison is not None and hybrid.comparison.baseline == "bm25"
    assert hybrid.quality.ci95[0] <= hybrid.quality.main <= hybrid.quality.ci95[1]
    assert hybrid.query_latency is not None and dense.query_latency and lexical.query_latency
    assert hybrid.query_latency.samples_ms == pytest.approx(
        [a + b for a, b in zip(dense.query_latency.samples_ms, lexical.query_latency.samples_ms, strict=True)], abs=2e-3
    )
    assert hybrid.cost is not None and dense.cost is not None
    assert hybrid.cost.per_1k_queries == dense.cost.per_1k_queries
    row = result.manifest.rows["hybrid(bm25+fake)"]
    assert row.kind == "pipeline" and f"weights dense {weights[0]:g} / lexical 1" in row.description


def test_hybrid_needs_its_lexical_row(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="hybrid: bm25 must also run as a row"):
        BenchConfig(providers=["fake"], retrievers=[], hybrid=["bm25"])


def test_cli_hybrid_flag_adds_the_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    attach_commands()
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        app, ["bench", "--providers", "fake", "--hybrid", "bm25", "--no-plots", "--latency-queries", "3"]
    )
    assert result.exit_code == 0, result.stderr
    assert "hybrid(bm25+" in result.stdout
    bad = CliRunner().invoke(app, ["bench", "--providers", "fake", "--retrievers", "none", "--hybrid", "bm25"])
    assert bad.exit_code == 2 and "must also run as a row" in bad.stderr
