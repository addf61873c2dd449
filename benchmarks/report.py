"""The columns of a benchmark table, and the console table built from them.

One list of columns serves every output (the console, report.md). The console shows the key ones (readable in an 80–120
column terminal); ``--wide``, report.md and the CSV show all of them. Rows are generic: a lexical
retriever and an embedding provider fill the same columns (``—`` where a number does not apply).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich import box
from rich.console import Group, JustifyMethod
from rich.table import Table

from .results import BenchmarkResult, TaskRun

__all__ = ["Column", "columns", "failure_summary", "metric_title", "rich_table", "row_label", "table_notes"]

_NAMES = {"ndcg": "nDCG", "recall": "R", "mrr": "MRR", "map": "MAP", "precision": "P"}


def metric_title(name: str) -> str:
    """``ndcg@10`` -> ``nDCG@10``."""
    metric, _, k = name.partition("@")
    return f"{_NAMES.get(metric, metric)}@{k}"


def row_label(run: TaskRun) -> str:
    label = f"{run.label} [EMULATED]" if run.emulated else run.label
    return f"{label} [quality: NOT A RESULT, random test model]" if run.quality_not_a_result else label


def _f(value: float | None, spec: str = ".3f") -> str:
    return "—" if value is None else format(value, spec)


@dataclass(frozen=True)
class Column:
    title: str
    cell: Callable[[TaskRun], str]
    key: bool = False
    """Shown in the default console table."""
    justify: JustifyMethod = "right"


def _main(run: TaskRun) -> str:
    if run.skipped:
        return f"skipped: {run.skipped}"
    assert run.quality is not None
    return f"{run.quality.main:.3f}"


def _ci(run: TaskRun) -> str:
    ci = run.quality.ci95 if run.quality else None
    return f"{ci[0]:.2f}–{ci[1]:.2f}" if ci else ""


def _delta(run: TaskRun) -> str:
    if run.skipped:
        return ""
    return "—" if run.comparison is None else f"{run.comparison.delta:+.3f}"


def _p(value: float) -> str:
    return "<.001" if value < 0.001 else f"{value:.3f}"


def _earlier(flag: bool) -> str:
    return "*" if flag else ""


def _p95(run: TaskRun) -> str:
    lat = run.query_latency
    return "—" if lat is None else _f(lat.p95_ms, ".1f") + _earlier(lat.from_earlier_run)


def _items_per_s(run: TaskRun) -> str:
    idx = run.index_throughput
    return (
        "—"
        if idx is None
        else _f(idx.items_per_s, ",.0f" if (idx.items_per_s or 0) >= 100 else ".1f") + _earlier(idx.from_earlier_run)
    )


def _cost(per: str) -> Callable[[TaskRun], str]:
    def cell(run: TaskRun) -> str:
        value = getattr(run.cost, per) if run.cost else None
        return "—" if value is None else ("0" if value == 0 else f"{value:.4f}")

    return cell


def columns(result: BenchmarkResult) -> list[Column]:
    """Every column, in order; ``key`` marks the console's default set (Holm only when it adds something)."""
    main = result.manifest.config.main_metric
    holm = any(len([r for r in result.runs if r.task == t and r.comparison]) > 1 for t in {r.task for r in result.runs})
    cols = [
        Column("provider", row_label, key=True, justify="left"),
        Column("task", lambda r: r.task, justify="left"),
        Column("dims", lambda r: "—" if r.dimensions is None else str(r.dimensions)),
        Column(metric_title(main), _main, key=True),
        Column("95% CI", _ci, key=True),
        Column("R@100", lambda r: _f(r.quality.scores.get("recall@100")) if r.quality else ""),
        Column("MRR@10", lambda r: _f(r.quality.scores.get("mrr@10")) if r.quality else ""),
        Column(f"vs {result.manifest.baseline}"[:24], _delta, key=True),
        Column("p", lambda r: _p(r.comparison.p_value) if r.comparison else "", key=True),
        Column("Holm", lambda r: _p(r.comparison.p_holm) if r.comparison else "", key=holm),
        Column(
            "W/T/L", lambda r: f"{r.comparison.wins}/{r.comparison.ties}/{r.comparison.losses}" if r.comparison else ""
        ),
        Column("p50 ms", lambda r: _f(r.query_latency.p50_ms, ".1f") if r.query_latency else "—"),
        Column("p95 ms", _p95, key=True),
        Column("cold ms", lambda r: _f(r.query_latency.cold_start_ms, ",.0f") if r.query_latency else "—"),
        Column("docs/s", _items_per_s, key=True),
        Column(
            "retries/429",
            lambda r: f"{r.index_throughput.retries}/{r.index_throughput.rate_limited}" if r.index_throughput else "—",
        ),
        Column("$/1k doc", _cost("per_1k_documents"), key=True),
        Column("$/1k query", _cost("per_1k_queries")),
        Column("bytes/vector", lambda r: f"{r.storage.bytes_per_vector:,}" if r.storage else "—"),
        Column("failed", lambda r: "" if r.skipped else str(r.failures.total), key=True),
    ]
    return [c for c in cols if holm or c.title != "Holm"]  # with one comparison Holm equals p


def rich_table(result: BenchmarkResult, *, wide: bool = False) -> Group:
    """One table per task (the task in its title), key columns only unless ``wide``: one line per row."""
    cols = [c for c in columns(result) if (wide or c.key) and c.title != "task"]
    tables = []
    for task in dict.fromkeys(r.task for r in result.runs):
        title = f"omnivec bench — {task}" + (" — EMULATED cloud numbers" if result.manifest.emulated else "")
        table = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, padding=0)
        for column in cols:
            wraps = column.title == "provider"
            table.add_column(
                column.title,
                justify=column.justify,
                no_wrap=not wraps,
                min_width=4 if wraps else None,
                overflow="fold" if wraps else "ellipsis",
            )
        for run in result.runs:
            if run.task == task:
                table.add_row(*(column.cell(run) for column in cols))
        tables.append(table)
    return Group(*tables)


def table_notes(result: BenchmarkResult, *, wide: bool = False) -> str:
    """What the console table's short headers and marks mean (printed under it)."""
    cols = [c.title for c in columns(result) if wide or c.key]
    notes = [f"p: paired randomization test vs {result.manifest.baseline}"]
    if "Holm" in cols:
        notes.append("Holm: p adjusted for comparing several rows")
    if _any_earlier(result):
        notes.append("*: measured live by an earlier run (this run was cached)")
    return "; ".join(notes) + "."


def _any_earlier(result: BenchmarkResult) -> bool:
    return any(
        (r.query_latency and r.query_latency.from_earlier_run)
        or (r.index_throughput and r.index_throughput.from_earlier_run)
        for r in result.runs
    )


def failure_summary(result: BenchmarkResult) -> list[str]:
    """One line per row and task with failed items: how many, and the first one named."""
    lines = []
    for run in result.runs:
        if run.failures.total:
            first = run.failures.examples[0] if run.failures.examples else None
            named = f"; first: {first.side} {first.id!r}: {first.error}" if first else ""
            lines.append(
                f"{row_label(run)} on {run.task}: {run.failures.queries} queries and "
                f"{run.failures.documents} documents failed and rank nowhere; its scores are too low{named}"
            )
    return lines
