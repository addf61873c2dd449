"""Write a benchmark's files: results.json, report.md, summary.csv, TREC run files and plots."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from .report import columns, failure_summary, metric_title
from .results import BenchmarkResult

__all__ = ["write_outputs"]


def _markdown(result: BenchmarkResult) -> str:
    m = result.manifest
    cols = columns(result)
    main = metric_title(m.config.main_metric)
    lines = [
        "# omnivec benchmark report",
        "",
        f"Created {m.created_at} · baseline `{m.baseline}` · price table as of {m.price_table_as_of} · cache: {m.cache}",
        "",
    ]
    if m.emulated:
        lines += [
            "**EMULATED**: cloud providers ran against omnivec's local wire emulator. Their quality, latency "
            "and cost numbers describe the emulator, not the real models.",
            "",
        ]
    failures = failure_summary(result)
    if failures:
        lines += ["**FAILED ITEMS**: " + f"{len(failures)} row(s) could not embed every item:", ""]
        lines += [f"- {line}" for line in failures] + [""]
    lines += ["| " + " | ".join(c.title for c in cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(c.cell(r).replace("|", "/") for c in cols) + " |" for r in result.runs]
    lines += ["", "## Rows", ""] + [f"- `{label}` ({info.kind}): {info.description}" for label, info in m.rows.items()]
    lines += ["", "## Datasets", ""]
    for name, d in m.datasets.items():
        blanks = ""
        if d.blank_queries or d.blank_documents:
            blanks = (
                f"; skipped as blank: {len(d.blank_queries)} queries, {len(d.blank_documents)} documents "
                f"({', '.join(map(repr, (d.blank_queries + d.blank_documents)[:5]))})"
            )
        lines.append(
            f"- `{name}`: {d.queries} queries, {d.corpus} corpus items, {d.judgments} judgments, "
            f"revision `{d.revision}`{blanks}"
        )
    tokens = sorted({r.usage.source for r in result.runs if r.usage})
    lines += [
        "",
        "## How to read this",
        "",
        f"- {main} is the main metric; `95% CI` is its 95% percentile bootstrap interval over queries.",
        f"- `vs {m.baseline}`: difference in {main} from the baseline row over the same queries; `p` is the "
        "two-sided p-value of a paired randomization test, `Holm` the same adjusted (Holm–Bonferroni) for "
        "comparing several rows with one baseline; W/T/L counts queries won, tied and lost.",
        "- Query latency: single-item calls after one warm-up call (p50/p95); `cold` is the first call "
        "(model load or connection set-up included). `*` marks numbers measured live by an earlier run, "
        "shown because this run found every embedding in the cache; cached vectors are never timed.",
        "- `docs/s`: embedding (or, for a lexical row, indexing) the whole corpus.",
        f"- Cost is an estimate from `prices.toml` (tokens {', '.join(tokens) or 'n/a'}); `—` means unknown, not free.",
        "- `failed`: items that could not be embedded; they are never ranked, so the row's scores are too low.",
        "- Blank documents are skipped for every row but stay judged (trec_eval semantics); blank queries are "
        "not evaluated.",
        "",
        "## Versions and machine",
        "",
        "```",
        str(m.versions),
        m.machine.model_dump_json(),
        "```",
        "",
    ]
    return "\n".join(lines)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")


def _csv(result: BenchmarkResult) -> str:
    metrics = sorted({k for r in result.runs if r.quality for k in r.quality.scores})
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(
        [
            "provider",
            "task",
            "kind",
            "dims",
            "emulated",
            "skipped",
            *metrics,
            "ci95_low",
            "ci95_high",
            "baseline",
            "delta",
            "p_value",
            "p_holm",
            "query_p50_ms",
            "query_p95_ms",
            "query_p99_ms",
            "index_items_per_s",
            "cost_per_1k_docs",
            "cost_per_1k_queries",
            "cost_corpus",
            "tokens",
            "bytes_per_vector",
            "failed_queries",
            "failed_documents",
        ]
    )
    for r in result.runs:
        q, c, lat, idx, cost = r.quality, r.comparison, r.query_latency, r.index_throughput, r.cost
        ci = q.ci95 if q and q.ci95 else ("", "")

        def opt(value: object) -> object:
            return "" if value is None else value

        writer.writerow(
            [
                r.label,
                r.task,
                r.kind,
                opt(r.dimensions),
                r.emulated,
                r.skipped or "",
                *[q.scores.get(k, "") if q else "" for k in metrics],
                *ci,
                c.baseline if c else "",
                c.delta if c else "",
                c.p_value if c else "",
                c.p_holm if c else "",
                opt(lat and lat.p50_ms),
                opt(lat and lat.p95_ms),
                opt(lat and lat.p99_ms),
                opt(idx and idx.items_per_s),
                opt(cost and cost.per_1k_documents),
                opt(cost and cost.per_1k_queries),
                opt(cost and cost.corpus),
                r.usage.source if r.usage else "",
                r.storage.bytes_per_vector if r.storage else "",
                r.failures.queries,
                r.failures.documents,
            ]
        )
    return buf.getvalue()


def write_outputs(result: BenchmarkResult, folder: Path, *, plots: bool = True) -> Path:
    """Write results.json, report.md, summary.csv, one TREC run file per row × task, and plots."""
    folder.mkdir(parents=True, exist_ok=True)
    result.save(folder / "results.json")
    (folder / "report.md").write_text(_markdown(result), encoding="utf-8")
    (folder / "summary.csv").write_text(_csv(result), encoding="utf-8")
    for key, run in result.trec_runs.items():
        with (folder / f"run.{_slug(key)}.trec").open("w", encoding="utf-8") as f:
            for qid, docs in run.items():
                ranked = sorted(docs.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)
                f.writelines(
                    f"{qid} Q0 {doc} {i} {score:.6f} {_slug(key)}\n" for i, (doc, score) in enumerate(ranked, 1)
                )
    if plots:
        from .plots import write_plots

        write_plots(result, folder)
    return folder
