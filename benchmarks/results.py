"""What a benchmark run produces: pydantic models written to and read from ``results.json``.

Every field is typed, so a results file validates against :class:`BenchmarkResult` and a reader
(a notebook, a later omnivec) knows what it holds. Writing, loading and writing again gives the
same bytes: floats are written in their shortest round-tripping form and nothing is NaN (an
unknown number is ``null``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, JsonValue, ValidationError

from ._model import Model as _Model
from ._model import RowKind, Side
from .errors import ResultsFileError
from .manifest import DatasetInfo, Machine, Manifest, RowInfo

__all__ = [
    "SCHEMA_VERSION",
    "BenchmarkResult",
    "CacheUse",
    "Comparison",
    "Cost",
    "DatasetInfo",
    "FailureExample",
    "Failures",
    "FingerprintInfo",
    "IndexThroughput",
    "Machine",
    "Manifest",
    "Quality",
    "QueryLatency",
    "RowInfo",
    "Sanity",
    "Storage",
    "TaskRun",
    "TokenUsage",
    "load_results",
]

SCHEMA_VERSION: Literal[2] = 2


class QueryLatency(_Model):
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


class IndexThroughput(_Model):
    """Embedding (or indexing) the whole corpus in one go at the row's configured concurrency."""

    items: int
    seconds: float
    items_per_s: float | None
    concurrency: int
    retries: int = 0
    rate_limited: int = 0
    failures: int = 0
    measured_at: str
    from_earlier_run: bool = False


class Quality(_Model):
    main_metric: str
    scores: dict[str, float]
    """Mean over the evaluated queries of every metric (``ndcg@10``, ``recall@100``, ...)."""
    per_query: dict[str, float]
    """The main metric per query id (for significance tests and re-analysis)."""
    ci95: tuple[float, float] | None
    """95% percentile bootstrap interval of the main metric over queries."""

    @property
    def main(self) -> float:
        return self.scores[self.main_metric]


class Comparison(_Model):
    """This row against the baseline row on the same task (computed in ``compare.py`` only)."""

    baseline: str
    delta: float
    """Main metric of this row minus the baseline's, over the queries both evaluated."""
    p_value: float
    """Two-sided paired randomization test."""
    p_holm: float
    """Holm–Bonferroni adjusted over every row compared with the baseline on this task."""
    wins: int
    ties: int
    losses: int


class TokenUsage(_Model):
    tokens_per_document: float
    tokens_per_query: float
    source: Literal["counted", "estimated"]
    images_per_document: float = 0.0
    images_per_query: float = 0.0


class Cost(_Model):
    """An ESTIMATE from the dated price table, never a bill; None is unknown, not free."""

    per_1k_documents: float | None
    per_1k_queries: float | None
    corpus: float | None
    tokens_source: str
    price_as_of: str | None
    note: str = ""


class Storage(_Model):
    bytes_per_vector: int
    corpus_bytes: int


class CacheUse(_Model):
    queries: int = 0
    corpus: int = 0


class FailureExample(_Model):
    side: Side
    id: str
    """The dataset's query or document id."""
    error: str


class Failures(_Model):
    """Items that could not be embedded: they rank nowhere, so the scores are lower than they should be."""

    queries: int = 0
    documents: int = 0
    examples: list[FailureExample] = Field(default_factory=list)

    @property
    def total(self) -> int:
        return self.queries + self.documents


class Sanity(_Model):
    norm_min: float | None
    norm_max: float | None


class FingerprintInfo(_Model):
    provider: str
    model: str
    dimensions: int
    normalized: bool
    intent: str
    intent_mapping: str
    options: dict[str, JsonValue]
    hash: str


class TaskRun(_Model):
    """One row (a provider at one dimension setting, or a lexical retriever) on one retrieval task."""

    label: str
    kind: RowKind
    ref: str
    task: str
    dataset_revision: str
    dimensions: int | None
    emulated: bool
    quality_not_a_result: bool = False
    """The row ran a randomly initialised test model: its latency counts, its quality does not."""
    skipped: str | None = None
    quality: Quality | None = None
    comparison: Comparison | None = None
    query_latency: QueryLatency | None = None
    index_throughput: IndexThroughput | None = None
    cached: CacheUse = Field(default_factory=CacheUse)
    usage: TokenUsage | None = None
    cost: Cost | None = None
    storage: Storage | None = None
    sanity: Sanity | None = None
    failures: Failures = Field(default_factory=Failures)
    fingerprints: dict[Side, FingerprintInfo] = Field(default_factory=dict)


class BenchmarkResult(_Model):
    """A whole benchmark run; ``results.json`` is exactly this model."""

    schema_version: Literal[2] = SCHEMA_VERSION
    manifest: Manifest
    runs: list[TaskRun]
    trec_runs: dict[str, dict[str, dict[str, float]]] = Field(default_factory=dict, exclude=True, repr=False)
    """Top-k ranking per ``label/task`` (written as TREC run files, not into results.json)."""

    def to_json(self) -> str:
        return self.model_dump_json(indent=2) + "\n"

    def save(self, path: Path) -> None:
        Path(path).write_text(self.to_json(), encoding="utf-8")

    def run(self, label: str, task: str) -> TaskRun | None:
        return next((r for r in self.runs if r.label == label and r.task == task), None)


def load_results(path: str | Path) -> BenchmarkResult:
    """Read and validate a ``results.json`` written by this version of omnivec."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsFileError(f"{path}: cannot read results ({exc})") from exc
    try:
        return BenchmarkResult.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "file"
        raise ResultsFileError(
            f"{path}: not a schema_version {SCHEMA_VERSION} results file ({where}: {first['msg']}); "
            "re-run the benchmark with this omnivec"
        ) from None
