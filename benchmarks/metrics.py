"""Retrieval metrics, computed exactly as trec_eval does (checked against pytrec_eval per query).

trec_eval conventions followed: documents are ranked by score descending, ties broken by document
id in DESCENDING string order; a document is relevant when its judgment is > 0; nDCG uses the
judgment value as gain with a log2(rank + 1) discount, the ideal ranking built from all judged
documents; MRR@k is the reciprocal rank of the first relevant document within the top k; MAP@k
divides by the number of relevant documents (not by k). Unjudged documents count as non-relevant.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

__all__ = ["DEFAULT_KS", "METRICS", "Run", "evaluate", "mean", "rank"]

Run = Mapping[str, Mapping[str, float]]
METRICS = ("ndcg", "recall", "mrr", "map", "precision")
DEFAULT_KS = (1, 3, 5, 10, 100)


def rank(scores: Mapping[str, float]) -> list[str]:
    """Document ids in trec_eval order: score descending, then id descending."""
    return [doc for doc, _ in sorted(scores.items(), key=lambda item: (item[1], item[0]), reverse=True)]


def _query_metrics(ranking: list[str], judged: Mapping[str, int], ks: Iterable[int]) -> dict[str, float]:
    relevant = {doc for doc, rel in judged.items() if rel > 0}
    ideal_gains = sorted((rel for rel in judged.values() if rel > 0), reverse=True)
    out: dict[str, float] = {}
    for k in ks:
        top = ranking[:k]
        hits = [doc in relevant for doc in top]
        dcg = sum(max(judged.get(doc, 0), 0) / math.log2(i + 2) for i, doc in enumerate(top))
        idcg = sum(gain / math.log2(i + 2) for i, gain in enumerate(ideal_gains[:k]))
        first = next((i for i, hit in enumerate(hits) if hit), None)
        precision_sum, found = 0.0, 0
        for i, hit in enumerate(hits):
            if hit:
                found += 1
                precision_sum += found / (i + 1)
        out[f"ndcg@{k}"] = dcg / idcg if idcg > 0 else 0.0
        out[f"recall@{k}"] = sum(hits) / len(relevant) if relevant else 0.0
        out[f"mrr@{k}"] = 1.0 / (first + 1) if first is not None else 0.0
        out[f"map@{k}"] = precision_sum / len(relevant) if relevant else 0.0
        out[f"precision@{k}"] = sum(hits) / k
    return out


def evaluate(
    run: Run, qrels: Mapping[str, Mapping[str, int]], ks: Iterable[int] = DEFAULT_KS
) -> dict[str, dict[str, float]]:
    """Per-query metrics for every judged query (a judged query missing from the run scores 0)."""
    ks = tuple(ks)
    return {qid: _query_metrics(rank(run.get(qid, {})), judged, ks) for qid, judged in qrels.items()}


def mean(per_query: Mapping[str, Mapping[str, float]], name: str) -> float:
    values = [m[name] for m in per_query.values()]
    return sum(values) / len(values) if values else 0.0
