"""Hybrid pipeline rows: a lexical row and an embedding row fused by reciprocal rank, ``hybrid(<lexical>+<row>)``.

Per query, the top ``top_k`` of each input (best first) are fused with
:func:`omnivec.providers.stores.fusion.rrf` (``sum w / (hybrid_k + rank)``; ``hybrid_weights`` =
(dense, lexical), default (1, 1); ``hybrid_k`` 60), the same fusion as ``search(mode="hybrid")`` in
the stores. Quality is scored on the fused ranking and compared with the baseline like any row.
Latency per query is the embedding row's single-query sample plus the lexical row's (the fusion
itself is microseconds); cost is the embedding row's (BM25 adds none).
"""

from __future__ import annotations

from ..providers.stores.fusion import rrf
from .config import BenchConfig
from .datasets import RetrievalTask
from .manifest import RowInfo
from .results import Cost, QueryLatency, TaskRun
from .runner import Ranking, latency_of
from .scoring import score

__all__ = ["fuse_rankings", "hybrid_label", "hybrid_row", "run_hybrid_pipeline"]


def hybrid_label(lexical: str, row: str) -> str:
    return f"hybrid({lexical}+{row})"


def fuse_rankings(dense: Ranking, lexical: Ranking, config: BenchConfig) -> Ranking:
    """RRF of two runs, per query; a query missing from one run keeps the other's order."""
    fused: Ranking = {}
    for query_id in dict.fromkeys([*dense, *lexical]):
        sides = [dense.get(query_id, {}), lexical.get(query_id, {})]
        ordered = [sorted(side, key=lambda d, s=side: -s[d]) for side in sides]  # type: ignore[misc]
        fused[query_id] = dict(rrf(ordered, config.hybrid_weights, config.hybrid_k)[: config.top_k])
    return fused


def hybrid_row(lexical: RowInfo, dense: RowInfo, config: BenchConfig) -> RowInfo:
    weights = config.hybrid_weights
    return RowInfo(
        kind="pipeline",
        ref=f"{lexical.ref}+{dense.ref}",
        emulated=dense.emulated,
        description=f"RRF (k={config.hybrid_k:g}, weights dense {weights[0]:g} / lexical {weights[1]:g}) of "
        f"{lexical.ref} and {dense.ref}, top {config.top_k} of each" + (" [EMULATED]" if dense.emulated else ""),
    )


def run_hybrid_pipeline(
    lexical: TaskRun, lexical_ranking: Ranking, dense: TaskRun, dense_ranking: Ranking, task: RetrievalTask,
    *, config: BenchConfig,
) -> tuple[TaskRun, Ranking]:  # fmt: skip
    """The fused row of ``lexical`` and ``dense`` on ``task``; returns it and its ranking."""
    common = {
        "label": hybrid_label(lexical.label, dense.label),
        "kind": "pipeline",
        "ref": f"{lexical.ref}+{dense.ref}",
        "task": task.name,
        "dataset_revision": task.revision,
        "dimensions": dense.dimensions,
        "emulated": dense.emulated,
        "quality_not_a_result": dense.quality_not_a_result,
    }
    if dense.skipped or lexical.skipped:
        return TaskRun(**common, skipped=dense.skipped or lexical.skipped), {}
    fused = fuse_rankings(dense_ranking, lexical_ranking, config)
    run = TaskRun(
        **common,
        quality=score(fused, task, config.ks, config.main_metric),
        query_latency=_summed(dense.query_latency, lexical.query_latency),
        cost=_cost(dense.cost),
    )
    return run, fused


def _summed(dense: QueryLatency | None, lexical: QueryLatency | None) -> QueryLatency | None:
    """Sample i of the pipeline = the dense row's sample i + the lexical row's (both run per query)."""
    if dense is None or lexical is None or not dense.samples_ms or not lexical.samples_ms:
        return dense
    n = min(len(dense.samples_ms), len(lexical.samples_ms))
    seconds = [(dense.samples_ms[i] + lexical.samples_ms[i]) / 1000 for i in range(n)]
    cold = None if dense.cold_start_ms is None else (dense.cold_start_ms + (lexical.cold_start_ms or 0.0)) / 1000
    summed = latency_of(seconds, cold)
    return summed.model_copy(update={"from_earlier_run": dense.from_earlier_run})


def _cost(dense: Cost | None) -> Cost | None:
    if dense is None:
        return None
    return dense.model_copy(update={"note": (dense.note + "; " if dense.note else "") + "BM25 side adds no charge"})
