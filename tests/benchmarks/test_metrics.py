"""Our metrics equal trec_eval's (through pytrec_eval) on every query, ties and graded qrels included."""

from __future__ import annotations

import math
import random

import pytest
import pytrec_eval

from omnivec.benchmarks.datasets import load_tasks
from omnivec.benchmarks.metrics import evaluate, rank

from .conftest import shared_set

KS = (1, 3, 5, 10, 100)
TREC_NAMES = {"ndcg": "ndcg_cut_{k}", "recall": "recall_{k}", "precision": "P_{k}", "map": "map_cut_{k}"}
MEASURES = {f"{m}.{','.join(map(str, KS))}" for m in ("ndcg_cut", "recall", "P", "map_cut")}


def random_run(qrels, docs, seed, *, ties: bool):  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    run = {}
    for qid, judged in qrels.items():
        candidates = rng.sample(docs, min(150, len(docs))) + list(judged)[: rng.randint(0, len(judged))]
        run[qid] = {d: (round(rng.random(), 1) if ties else rng.random()) for d in candidates}
    return run


def assert_matches_trec_eval(run, qrels) -> int:  # type: ignore[no-untyped-def]
    ours = evaluate(run, qrels, KS)
    theirs = pytrec_eval.RelevanceEvaluator({q: dict(r) for q, r in qrels.items()}, MEASURES).evaluate(run)
    checked = 0
    for qid, values in theirs.items():
        for metric, template in TREC_NAMES.items():
            for k in KS:
                assert ours[qid][f"{metric}@{k}"] == pytest.approx(values[template.format(k=k)], abs=1e-6), (
                    qid,
                    metric,
                    k,
                )
                checked += 1
    for k in KS:  # trec_eval's recip_rank has no cut-off: score the run truncated at k
        truncated = {q: {d: docs[d] for d in rank(docs)[:k]} for q, docs in run.items()}
        rr = pytrec_eval.RelevanceEvaluator({q: dict(r) for q, r in qrels.items()}, {"recip_rank"}).evaluate(truncated)
        for qid, values in rr.items():
            assert ours[qid][f"mrr@{k}"] == pytest.approx(values["recip_rank"], abs=1e-6), (qid, k)
    return checked


@pytest.mark.parametrize("ties", [True, False])
def test_graded_cranfield_matches_trec_eval(ties: bool) -> None:
    task = load_tasks(shared_set("text/cranfield"))[0]
    assert {g for j in task.qrels.values() for g in j.values()} >= {1, 2, 3, 4}  # really graded
    assert assert_matches_trec_eval(random_run(task.qrels, list(task.corpus), 1, ties=ties), task.qrels) == len(
        task.qrels
    ) * 4 * len(KS)


def test_bundled_scifact_nano_matches_trec_eval() -> None:
    task = load_tasks("scifact-nano")[0]
    assert_matches_trec_eval(random_run(task.qrels, list(task.corpus), 2, ties=True), task.qrels)


def test_hand_computed_example() -> None:
    qrels = {"q": {"a": 2, "b": 0, "c": 1}}
    run = {"q": {"x": 0.9, "c": 0.8, "b": 0.7, "a": 0.6}}
    m = evaluate(run, qrels, (1, 3, 10))["q"]
    assert m["precision@1"] == 0.0 and m["precision@3"] == pytest.approx(1 / 3)
    assert m["recall@3"] == 0.5 and m["recall@10"] == 1.0
    assert m["mrr@10"] == 0.5 and m["mrr@1"] == 0.0
    assert m["map@10"] == pytest.approx((1 / 2 + 2 / 4) / 2)
    dcg = 1 / math.log2(3) + 2 / math.log2(5)
    idcg = 2 / math.log2(2) + 1 / math.log2(3)
    assert m["ndcg@10"] == pytest.approx(dcg / idcg)


def test_ties_break_by_descending_doc_id_like_trec_eval() -> None:
    assert rank({"d1": 0.5, "d3": 0.5, "d2": 0.9}) == ["d2", "d3", "d1"]


def test_missing_query_scores_zero() -> None:
    assert evaluate({}, {"q": {"a": 1}}, (10,))["q"]["ndcg@10"] == 0.0
