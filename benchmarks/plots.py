"""PNG plots of a benchmark, readable with 2–6 rows: labels on an axis or in a legend, never on the points.

Every plot marks the baseline row (a star and "baseline" in its label). Quality carries its 95%
interval as an error bar, so overlapping intervals are visible at a glance.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .report import metric_title, row_label
from .results import BenchmarkResult, TaskRun

__all__ = ["write_plots"]

_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "h")


def _name(run: TaskRun, baseline: str) -> str:
    return row_label(run) + (" (baseline)" if run.label == baseline else "")


def _bars(ax: Any, runs: list[TaskRun], baseline: str, tasks: list[str]) -> None:
    """Horizontal bars: one group per row, one bar per task, CI as error bars, value at the end."""
    labels = list(dict.fromkeys(r.label for r in runs))
    height = 0.8 / len(tasks)
    for t, task in enumerate(tasks):
        for y, label in enumerate(labels):
            run = next((r for r in runs if r.label == label and r.task == task and r.quality), None)
            if run is None or run.quality is None:
                continue
            value, ci = run.quality.main, run.quality.ci95
            err = [[value - ci[0]], [ci[1] - value]] if ci else None
            pos = y + (t - (len(tasks) - 1) / 2) * height
            ax.barh(
                pos,
                value,
                height=height * 0.9,
                xerr=err,
                capsize=3,
                color=f"C{t}",
                hatch="//" if label == baseline else None,
                edgecolor="black" if label == baseline else None,
                label=task if y == 0 and len(tasks) > 1 else None,
            )
            ax.text((ci[1] if ci else value) + 0.015, pos, f"{value:.3f}", va="center", fontsize=8)
    names = [(next(_name(r, baseline) for r in runs if r.label == label)) for label in labels]
    ax.set_yticks(range(len(labels)), names, fontsize=9)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.15)
    if len(tasks) > 1:
        ax.legend(fontsize=8, loc="lower right")


def _scatter(
    ax: Any, runs: list[TaskRun], baseline: str, tasks: list[str], x_of: Callable[[TaskRun], float | None]
) -> list[float]:
    """One colour per row, one marker per task; the legend names them. Returns the x values drawn."""
    labels = list(dict.fromkeys(r.label for r in runs))
    drawn: list[float] = []
    for i, label in enumerate(labels):
        for t, task in enumerate(tasks):
            run = next((r for r in runs if r.label == label and r.task == task and r.quality), None)
            x = x_of(run) if run is not None else None
            if run is None or run.quality is None or x is None:
                continue
            value, ci = run.quality.main, run.quality.ci95
            err = [[value - ci[0]], [ci[1] - value]] if ci else None
            star = label == baseline
            ax.errorbar(
                x,
                value,
                yerr=err,
                fmt="*" if star and len(tasks) == 1 else _MARKERS[t % len(_MARKERS)],
                color=f"C{i}",
                markersize=(14 if len(tasks) == 1 else 11) if star else 8,
                capsize=3,
                markeredgecolor="black" if star else None,
                label=_name(run, baseline) + (f" · {task}" if len(tasks) > 1 else ""),
            )
            drawn.append(x)
    return drawn


def _log_x(ax: Any) -> None:
    """Log scale with plain tick labels (``2``, ``50``), not ``2×10^0``; minor ticks labelled at 2 and 5 only."""
    from matplotlib.ticker import FuncFormatter

    def minor(value: float, _: object) -> str:
        lead = round(value / 10 ** math.floor(math.log10(value))) if value > 0 else 0
        return f"{value:g}" if lead in (2, 5) else ""

    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.xaxis.set_minor_formatter(FuncFormatter(minor))


def write_plots(result: BenchmarkResult, folder: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [r for r in result.runs if r.quality is not None]
    baseline = result.manifest.baseline
    tasks = list(dict.fromkeys(r.task for r in runs))
    main = metric_title(result.manifest.config.main_metric)
    rows = len({r.label for r in runs})
    made: list[Path] = []

    def save(fig: Any, name: str) -> None:
        fig.tight_layout()
        fig.savefig(folder / name, dpi=110, bbox_inches="tight")
        plt.close(fig)
        made.append(folder / name)

    fig, ax = plt.subplots(figsize=(7.5, 1.2 + 0.55 * rows * max(1, len(tasks) / 2)))
    if runs:
        _bars(ax, runs, baseline, tasks)
    ax.set_xlabel(f"{main} (95% CI)")
    ax.set_title(f"Retrieval quality — {', '.join(tasks)}", fontsize=10)
    save(fig, "quality.png")

    for name, xlabel, x_of in (
        (
            "quality_vs_p95_latency.png",
            "single-query p95 latency (ms, log scale)",
            lambda r: r.query_latency.p95_ms if r.query_latency else None,
        ),
        (
            "quality_vs_cost.png",
            "$ per 1k documents (estimate; 0 = no API charge)",
            lambda r: r.cost.per_1k_documents if r.cost else None,
        ),
    ):
        fig, ax = plt.subplots(figsize=(8.5, 4.5))
        drawn = _scatter(ax, runs, baseline, tasks, x_of)
        if drawn and "latency" in name:
            _log_x(ax)
        elif drawn:  # cost: start at $0 (several rows are often free), never show negative dollars
            high = max(drawn) or 0.01
            ax.set_xlim(-0.04 * high, 1.1 * high)
            if max(drawn) == 0:
                ax.text(0.5, 0.5, "every row: no API charge", ha="center", transform=ax.transAxes, color="gray")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f"{main} (95% CI)")
        ax.set_title(f"{main} vs {'latency' if 'latency' in name else 'cost'} — {', '.join(tasks)}", fontsize=10)
        ax.grid(alpha=0.3)
        if drawn:
            ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
        else:
            ax.text(0.5, 0.5, "no row has this number", ha="center", va="center", transform=ax.transAxes)
        save(fig, name)

    with_samples = [r for r in runs if r.query_latency and r.query_latency.samples_ms]
    fig, ax = plt.subplots(figsize=(7.5, 1.2 + 0.5 * max(len(with_samples), 1)))
    if with_samples:
        ax.boxplot([r.query_latency.samples_ms for r in with_samples], orientation="horizontal", showfliers=True)  # type: ignore[union-attr]
        ax.set_yticks(
            range(1, len(with_samples) + 1),
            [_name(r, baseline) + (f" · {r.task}" if len(tasks) > 1 else "") for r in with_samples],
            fontsize=9,
        )
        ax.invert_yaxis()
        _log_x(ax)
    ax.set_xlabel("single-query latency (ms, log scale)")
    ax.set_title("Query latency: single-item calls after warm-up", fontsize=10)
    save(fig, "latency_distribution.png")
    return made
