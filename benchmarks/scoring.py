"""Scores of a ranking, and every row against the baseline row: the one place a delta is computed."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .datasets import RetrievalTask
from .metrics import evaluate, mean
from .results import Comparison, Quality, TaskRun
from .stats import bootstrap_ci, holm_adjust, paired_randomization_test, wins_losses

__all__ = ["compare_with_baseline", "score"]


def score(
    run: Mapping[str, Mapping[str, float]], task: RetrievalTask, ks: tuple[int, ...], main_metric: str
) -> Quality:
    """Every metric over the task's judged queries (a query missing from ``run`` scores 0)."""
    per_query = evaluate(run, task.qrels, ks)
    names = list(next(iter(per_query.values()))) if per_query else []
    main = {qid: metrics[main_metric] for qid, metrics in per_query.items()}
    return Quality(
        main_metric=main_metric,
        scores={name: mean(per_query, name) for name in names},
        per_query=main,
        ci95=bootstrap_ci(list(main.values())) if main else None,
    )


def compare_with_baseline(runs: list[TaskRun], baseline: str) -> None:
    """Set ``comparison`` on every scored row that is not the baseline, task by task.

    The delta is the mean difference in the main metric over the queries both rows evaluated; the
    p-value is a paired randomization test over those queries, Holm–Bonferroni adjusted over all the
    rows compared with the baseline on the same task (so many rows do not make a lucky win look
    significant).
    """
    for task in dict.fromkeys(r.task for r in runs):
        base = next((r for r in runs if r.task == task and r.label == baseline and r.quality), None)
        others = [r for r in runs if r.task == task and r is not base and r.quality]
        if base is None or base.quality is None or not others:
            continue
        found: list[tuple[TaskRun, float, float, tuple[int, int, int]]] = []
        for run in others:
            assert run.quality is not None
            common = sorted(set(run.quality.per_query) & set(base.quality.per_query))
            a = [run.quality.per_query[q] for q in common]
            b = [base.quality.per_query[q] for q in common]
            delta = float(np.mean(a) - np.mean(b)) if common else 0.0
            found.append((run, delta, paired_randomization_test(a, b), wins_losses(a, b)))
        adjusted = holm_adjust([p for _, _, p, _ in found])
        for (run, delta, p, (wins, ties, losses)), p_holm in zip(found, adjusted, strict=True):
            run.comparison = Comparison(
                baseline=baseline, delta=delta, p_value=p, p_holm=p_holm, wins=wins, ties=ties, losses=losses
            )
