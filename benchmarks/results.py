"""What a benchmark run produces, as plain data that round-trips through ``results.json``."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["SCHEMA_VERSION", "BenchmarkResult", "IndexThroughput", "QueryLatency", "TaskRun"]

SCHEMA_VERSION = 1


@dataclass
class QueryLatency:
    """Single-item query calls after warm-up; the first call (cold start) is kept apart."""

    samples_ms: list[float]
    cold_start_ms: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    mean_ms: float | None
    measured_at: str
    from_earlier_run: bool = False
    """True when every query was cached: these are the numbers measured live by an earlier run."""


@dataclass
class IndexThroughput:
    items: int
    seconds: float
    items_per_s: float
    concurrency: int
    retries: int
    rate_limited: int
    failures: int
    measured_at: str
    from_earlier_run: bool = False


@dataclass
class TaskRun:
    """One provider (at one dimension setting) on one retrieval task."""

    provider: str
    label: str
    task: str
    dataset_revision: str
    dimensions: int
    emulated: bool
    fingerprints: dict[str, dict[str, Any]]
    scores: dict[str, float]
    per_query: dict[str, float]
    """The main metric per query id (for significance tests and re-analysis)."""
    main_metric: str
    ci95: tuple[float, float]
    baseline: str | None = None
    p_value: float | None = None
    wins_ties_losses: tuple[int, int, int] | None = None
    query_latency: QueryLatency | None = None
    index_throughput: IndexThroughput | None = None
    cached: dict[str, int] = field(default_factory=dict)
    usage: dict[str, Any] = field(default_factory=dict)
    cost: dict[str, Any] = field(default_factory=dict)
    storage_bytes_per_vector: int = 0
    storage_bytes_corpus: int = 0
    sanity: dict[str, Any] = field(default_factory=dict)
    skipped: str | None = None


@dataclass
class BenchmarkResult:
    manifest: dict[str, Any]
    runs: list[TaskRun]
    schema_version: int = SCHEMA_VERSION
    trec_runs: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict, repr=False)
    """Top-k run per ``label/task`` (written as TREC run files, not into results.json)."""

    def to_json(self) -> str:
        data = asdict(self)
        data.pop("trec_runs")
        return json.dumps(data, indent=2, default=str)

    def save(self, path: Path) -> None:
        path.write_text(self.to_json())

    @classmethod
    def load(cls, path: Path) -> BenchmarkResult:
        raw = json.loads(Path(path).read_text())
        if raw.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"{path}: schema_version {raw.get('schema_version')} is not {SCHEMA_VERSION}")
        runs = []
        for run in raw["runs"]:
            run["query_latency"] = QueryLatency(**run["query_latency"]) if run.get("query_latency") else None
            run["index_throughput"] = IndexThroughput(**run["index_throughput"]) if run.get("index_throughput") else None
            run["ci95"] = tuple(run["ci95"])
            if run.get("wins_ties_losses") is not None:
                run["wins_ties_losses"] = tuple(run["wins_ties_losses"])
            runs.append(TaskRun(**run))
        return cls(manifest=raw["manifest"], runs=runs)
