"""``omnivec bench`` pipeline rows: a provider's top candidates reranked by the tiny random cross-encoder.
The row shows plumbing and latency; its quality is labelled as not a result."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnivec.benchmarks import BenchConfig, run_benchmark
from omnivec.benchmarks.report import row_label
from omnivec.providers import UnknownProviderError


def config(tmp_path: Path, rerankers: list[str]) -> BenchConfig:
    return BenchConfig(
        providers=["fake"],
        retrievers=[],
        rerankers=rerankers,
        rerank_depth=10,
        cache=None,
        out=tmp_path / "out",
        latency_queries=5,
        plots=False,
    )


async def test_a_pipeline_row_reranks_each_querys_top_candidates(tmp_path: Path, tiny_cross_encoder_path: Path) -> None:
    result = await run_benchmark(config(tmp_path, [f"local:{tiny_cross_encoder_path}"]))
    first, piped = result.runs
    assert piped.kind == "pipeline" and piped.label == f"fake→rerank:sentence-transformers:{tiny_cross_encoder_path}"
    info = result.manifest.rows[piped.label]
    assert "QUALITY NOT A RESULT" in info.description and "top 10 reranked" in info.description
    assert piped.quality_not_a_result and not first.quality_not_a_result
    assert "NOT A RESULT" in row_label(piped)  # how the console table names the row
    assert piped.quality is not None and piped.query_latency is not None and piped.cost.per_1k_queries == 0.0
    before, after = result.trec_runs[f"fake/{first.task}"], result.trec_runs[f"{piped.label}/{first.task}"]
    assert before.keys() == after.keys()
    for query_id, hits in before.items():
        old = sorted(hits, key=lambda d: -hits[d])
        new = sorted(after[query_id], key=lambda d: -after[query_id][d])
        assert set(new[:10]) == set(old[:10]) and new[10:] == old[10:]  # only the head is reordered
    assert any(
        sorted(after[q], key=lambda d: -after[q][d])[:10] != sorted(before[q], key=lambda d: -before[q][d])[:10]
        for q in before
    )  # and the reranker did reorder some
    embed_min = min(first.query_latency.samples_ms)
    assert len(piped.query_latency.samples_ms) == len(before) - 1
    assert min(piped.query_latency.samples_ms) >= embed_min  # the embedding call is part of the pipeline


async def test_an_unknown_reranker_fails_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(UnknownProviderError, match="Did you mean 'bedrock'"):
        await run_benchmark(config(tmp_path, ["bedrok:cohere.rerank-v3-5:0"]))
    assert not (tmp_path / "out").exists()
