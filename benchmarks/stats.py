"""Confidence intervals and paired significance over per-query scores."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["bootstrap_ci", "holm_adjust", "paired_randomization_test", "wins_losses"]


def bootstrap_ci(
    values: Sequence[float], *, level: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean, resampling queries."""
    data = np.asarray(values, dtype=np.float64)
    if len(data) == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, len(data), size=(resamples, len(data)))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def paired_randomization_test(
    a: Sequence[float], b: Sequence[float], *, permutations: int = 10000, seed: int = 0
) -> float:
    """Two-sided p-value that mean(a) and mean(b) differ, flipping the sign of per-query differences."""
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    if len(diff) == 0 or not diff.any():
        return 1.0
    observed = abs(diff.mean())
    rng = np.random.default_rng(seed)
    signs = rng.choice((-1.0, 1.0), size=(permutations, len(diff)))
    extreme = np.count_nonzero(np.abs((signs * diff).mean(axis=1)) >= observed - 1e-12)
    return float((extreme + 1) / (permutations + 1))


def wins_losses(a: Sequence[float], b: Sequence[float], *, tolerance: float = 1e-9) -> tuple[int, int, int]:
    """Per-query (wins, ties, losses) of ``a`` against ``b``."""
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    wins = int(np.count_nonzero(diff > tolerance))
    losses = int(np.count_nonzero(diff < -tolerance))
    return wins, len(diff) - wins - losses, losses


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values, in the input order (controls the family-wise error rate).

    Sorted ascending, the i-th smallest of m p-values becomes ``(m - i) × p`` (i from 0), made
    non-decreasing and capped at 1; reject where the adjusted value is below the level.
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted
