"""Turn a :class:`BenchmarkResult` into a terminal table, report.md, summary.csv, TREC runs and plots."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from rich.table import Table

from .results import BenchmarkResult, TaskRun

__all__ = ["rich_table", "write_outputs"]

_COLUMNS = (
    "provider", "task", "dims", "nDCG@10 [95% CI]", "R@100", "MRR@10", "vs baseline", "W/T/L",
    "query p50/p95 ms", "cold ms", "index items/s", "retries/429", "$ per 1k docs", "$ per 1k queries", "MB per 1M vectors",
)


def _label(run: TaskRun) -> str:
    return f"{run.label} [EMULATED]" if run.emulated else run.label


def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "—" if value is None else format(value, spec)


def _row(run: TaskRun) -> list[str]:
    if run.skipped:
        return [_label(run), run.task, str(run.dimensions), f"skipped: {run.skipped}"] + [""] * (len(_COLUMNS) - 4)
    s = run.scores
    lat, idx = run.query_latency, run.index_throughput
    earlier = " (earlier run)" if (lat and lat.from_earlier_run) else ""
    return [
        _label(run),
        run.task,
        str(run.dimensions),
        f"{s.get('ndcg@10', float('nan')):.3f} [{run.ci95[0]:.3f}, {run.ci95[1]:.3f}]",
        _fmt(s.get("recall@100")),
        _fmt(s.get("mrr@10")),
        "baseline" if run.baseline is None else "",  # filled by rows(), which sees the baseline run
        "/".join(map(str, run.wins_ties_losses)) if run.wins_ties_losses else "—",
        f"{_fmt(lat.p50_ms if lat else None, '.1f')}/{_fmt(lat.p95_ms if lat else None, '.1f')}{earlier}",
        _fmt(lat.cold_start_ms if lat else None, ".0f"),
        _fmt(idx.items_per_s if idx else None, ".1f") + (" (earlier run)" if idx and idx.from_earlier_run else ""),
        f"{idx.retries}/{idx.rate_limited}" if idx else "—",
        _fmt(run.cost.get("per_1k_documents"), ".4f"),
        _fmt(run.cost.get("per_1k_queries"), ".4f"),
        f"{run.storage_bytes_per_vector:,}",
    ]


def rows(result: BenchmarkResult) -> list[list[str]]:
    out = []
    for run in result.runs:
        row = _row(run)
        if run.baseline is not None and not run.skipped:
            base = next((r for r in result.runs if r.label == run.baseline and r.task == run.task), None)
            if base is not None:
                delta = run.scores[run.main_metric] - base.scores[run.main_metric]
                row[6] = f"{delta:+.3f} (p={run.p_value:.3f})"
        out.append(row)
    return out


def rich_table(result: BenchmarkResult) -> Table:
    table = Table(title="omnivec bench" + (" — EMULATED cloud numbers" if result.manifest.get("emulated") else ""))
    for column in _COLUMNS:
        table.add_column(column, overflow="fold")
    for row in rows(result):
        table.add_row(*row)
    return table


def _markdown(result: BenchmarkResult) -> str:
    m = result.manifest
    lines = [
        "# omnivec benchmark report",
        "",
        f"Created {m['created_at']} · baseline `{m['baseline']}` · price table as of {m['price_table_as_of']} · "
        f"cache: {m['cache']}",
        "",
    ]
    if m.get("emulated"):
        lines += ["**EMULATED**: cloud providers ran against omnivec's local wire emulator. Their quality, latency "
                  "and cost numbers describe the emulator, not the real models.", ""]
    lines += ["| " + " | ".join(_COLUMNS) + " |", "|" + "---|" * len(_COLUMNS)]
    lines += ["| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in rows(result)]
    lines += ["", "## Datasets", ""]
    lines += [f"- `{name}`: {d['queries']} queries, {d['corpus']} corpus items, {d['judgments']} judgments, "
              f"revision `{d['revision']}`" for name, d in m["datasets"].items()]
    lines += ["", "## How to read this", "",
              "- nDCG@10 is the main metric; the interval is a 95% bootstrap over queries.",
              "- `vs baseline`: difference in the main metric and the two-sided p-value of a paired randomization "
              "test over the same queries; W/T/L counts queries won, tied and lost against the baseline.",
              "- Query latency: single-item calls after one warm-up call (p50/p95); `cold` is the first call "
              "(model load or connection set-up included). `(earlier run)` marks numbers measured live by an earlier "
              "run, shown because this run found every embedding in the cache; cached vectors are never timed.",
              "- Cost is an estimate from `prices.toml` (tokens "
              + ", ".join(sorted({r.usage.get('tokens', '?') for r in result.runs if not r.skipped}))
              + "); `—` means unknown, not free.",
              "", "## Versions and machine", "", f"```\n{m['versions']}\n{m['machine']}\n```", ""]
    return "\n".join(lines)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")


def _plots(result: BenchmarkResult, folder: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [r for r in result.runs if not r.skipped]
    made = []
    for name, xlabel, x_of in (
        ("quality_vs_p95_latency.png", "query p95 latency (ms)", lambda r: r.query_latency.p95_ms if r.query_latency else None),
        ("quality_vs_cost.png", "$ per 1k documents (estimate)", lambda r: r.cost.get("per_1k_documents")),
    ):
        fig, ax = plt.subplots(figsize=(6, 4))
        for run in runs:
            x = x_of(run)
            if x is not None:
                ax.scatter(x, run.scores[run.main_metric])
                ax.annotate(f"{_label(run)} · {run.task}", (x, run.scores[run.main_metric]), fontsize=7)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(runs[0].main_metric if runs else "score")
        fig.tight_layout()
        fig.savefig(folder / name, dpi=110)
        plt.close(fig)
        made.append(folder / name)
    fig, ax = plt.subplots(figsize=(6, 4))
    with_samples = [r for r in runs if r.query_latency and r.query_latency.samples_ms]
    if with_samples:
        ax.boxplot([r.query_latency.samples_ms for r in with_samples], showfliers=True)  # type: ignore[union-attr]
        ax.set_xticks(range(1, len(with_samples) + 1), [f"{_label(r)}\n{r.task}" for r in with_samples], fontsize=7)
    ax.set_ylabel("single-query latency (ms)")
    fig.tight_layout()
    fig.savefig(folder / "latency_distribution.png", dpi=110)
    plt.close(fig)
    made.append(folder / "latency_distribution.png")
    return made


def write_outputs(result: BenchmarkResult, folder: Path, *, plots: bool = True) -> Path:
    """Write results.json, report.md, summary.csv, one TREC run file per provider × task, and plots."""
    folder.mkdir(parents=True, exist_ok=True)
    result.save(folder / "results.json")
    (folder / "report.md").write_text(_markdown(result))
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["provider", "task", "dims", "emulated", *sorted({k for r in result.runs for k in r.scores}),
                     "ci95_low", "ci95_high", "p_value", "query_p50_ms", "query_p95_ms", "query_p99_ms",
                     "index_items_per_s", "cost_per_1k_docs", "cost_per_1k_queries", "cost_corpus", "tokens",
                     "bytes_per_vector"])
    metric_names = sorted({k for r in result.runs for k in r.scores})
    for r in result.runs:
        lat, idx = r.query_latency, r.index_throughput
        writer.writerow([r.label, r.task, r.dimensions, r.emulated, *[r.scores.get(k, "") for k in metric_names],
                         r.ci95[0], r.ci95[1], r.p_value if r.p_value is not None else "",
                         lat.p50_ms if lat else "", lat.p95_ms if lat else "", lat.p99_ms if lat else "",
                         idx.items_per_s if idx else "", r.cost.get("per_1k_documents", ""),
                         r.cost.get("per_1k_queries", ""), r.cost.get("corpus", ""), r.usage.get("tokens", ""),
                         r.storage_bytes_per_vector])
    (folder / "summary.csv").write_text(buf.getvalue())
    for key, run in result.trec_runs.items():
        with (folder / f"run.{_slug(key)}.trec").open("w") as f:
            for qid, docs in run.items():
                ranked = sorted(docs.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)
                f.writelines(f"{qid} Q0 {doc} {i} {score:.6f} {_slug(key)}\n" for i, (doc, score) in enumerate(ranked, 1))
    if plots:
        _plots(result, folder)
    return folder
