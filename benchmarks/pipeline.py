"""Pipeline rows: an embedding row's top candidates reranked, ``<row>→rerank:<ref>``.

Quality is scored on the reranked ranking (the top ``rerank_depth`` reordered by the reranker, the
rest of the first stage after them in its own order). Latency per query is the embedding row's
single-query latency sample plus that query's rerank call (vector search time not included);
cost is the reranker's estimate per 1,000 queries (the embedding row shows its own).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..providers.rerank import Reranker
from .config import BenchConfig
from .datasets import RetrievalTask
from .results import Cost, QueryLatency, TaskRun
from .runner import Ranking, latency_of, now
from .scoring import score

__all__ = ["NOT_A_RESULT_MARKER", "pipeline_label", "random_weights", "run_rerank_pipeline"]

NOT_A_RESULT_MARKER = "OMNIVEC_RANDOM_WEIGHTS"
"""A file of this name in a local model folder marks randomly initialised test weights: the row
still shows plumbing and latency, its quality is labelled as not a result."""


def pipeline_label(row: str, reranker: Reranker[Any]) -> str:
    return f"{row}→rerank:{reranker.ref}"


async def run_rerank_pipeline(
    reranker: Reranker[Any], task: RetrievalTask, first: TaskRun, ranking: Ranking, *, config: BenchConfig
) -> tuple[TaskRun, Ranking]:
    """Rerank ``first``'s ranking of ``task``; returns the pipeline row and its ranking."""
    label = pipeline_label(first.label, reranker)
    common = {
        "label": label,
        "kind": "pipeline",
        "ref": f"{first.ref}→{reranker.ref}",
        "task": task.name,
        "dataset_revision": task.revision,
        "dimensions": first.dimensions,
        "emulated": first.emulated or (config.emulate and reranker.is_remote),
        "quality_not_a_result": random_weights(reranker),
    }
    if first.skipped or task.query_kind != "text" or task.corpus_kind != "text":
        return TaskRun(**common, skipped=first.skipped or "rerankers score text only"), {}
    reranked: Ranking = {}
    seconds: list[float] = []
    cost = 0.0
    for query_id, hits in ranking.items():
        ordered = sorted(hits, key=lambda d: -hits[d])
        head, tail = ordered[: config.rerank_depth], ordered[config.rerank_depth :]
        # Blank documents cannot be sent (the APIs refuse empty texts): they follow the reranked head.
        tail = [d for d in head if not task.corpus[d].strip()] + tail
        head = [d for d in head if task.corpus[d].strip()]
        if not head or not task.queries[query_id].strip():
            reranked[query_id] = dict(hits)
            continue
        began = time.perf_counter()
        result = await reranker.rerank(task.queries[query_id], [task.corpus[d] for d in head])
        seconds.append(time.perf_counter() - began)
        cost += result.estimated_cost_usd or 0.0
        # Reranked head first, then the first stage's tail in its order: scores only need to rank.
        total = len(head) + len(tail)
        reranked[query_id] = {head[i]: float(total - rank) for rank, i in enumerate(result.order())}
        reranked[query_id].update({d: float(len(tail) - j) for j, d in enumerate(tail)})
    embed_ms = first.query_latency.samples_ms if first.query_latency else []
    per_query = [s + (embed_ms[i % len(embed_ms)] / 1000 if embed_ms else 0.0) for i, s in enumerate(seconds)]
    latency: QueryLatency = latency_of(per_query[1:], per_query[0] if per_query else None)
    queries = max(1, len(seconds))
    known = _priced(reranker)
    run = TaskRun(
        **common,
        quality=score(reranked, task, config.ks, config.main_metric),
        query_latency=latency,
        cost=Cost(
            per_1k_documents=None,
            per_1k_queries=cost / queries * 1000 if known else None,
            corpus=None,
            tokens_source="rerank estimate",
            price_as_of=None,
            note=f"rerank only, top {config.rerank_depth} per query; measured {now()}",
        ),
    )
    return run, reranked


def random_weights(reranker: Reranker[Any]) -> bool:
    """Whether the reranker is a local model folder marked as randomly initialised (see the marker)."""
    return not reranker.is_remote and (Path(reranker.model) / NOT_A_RESULT_MARKER).is_file()


def _priced(reranker: Reranker[Any]) -> bool:
    from ..providers.prices import price_for

    return price_for(reranker.name, reranker.model) is not None
