"""Side-by-side benchmark: lexical retrievers, providers (at each dimension setting) and provider→reranker
pipelines over the same tasks.

Every row, lexical or embedding, produces the same :class:`TaskRun` per task, so comparison, the
console table, report.md, the CSV and the plots treat them alike.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from ..providers import load_provider
from ..providers.cache import EmbeddingCache
from ..providers.console import print_warning
from ..providers.errors import InvalidOptionError
from ..providers.registry import sdk_distributions
from ..providers.rerank import Reranker, get_reranker
from .config import BenchConfig
from .costs import price_table
from .datasets import RetrievalTask, load_tasks
from .hybrid import hybrid_label, hybrid_row, run_hybrid_pipeline
from .lexical import BM25Retriever, make_retriever, run_lexical
from .pipeline import pipeline_label, random_weights, run_rerank_pipeline
from .results import BenchmarkResult, DatasetInfo, Machine, Manifest, RowInfo, TaskRun
from .runner import Progress, run_task
from .scoring import compare_with_baseline

__all__ = ["results_folder", "run_benchmark"]

_OWN_DISTRIBUTIONS = ("omnivec", "numpy", "bm25s", "PyStemmer")


@dataclass
class _Variant:
    """One provider at one dimension setting: a row of the table."""

    label: str
    ref: str
    overrides: dict[str, Any] = field(default_factory=dict)


def _versions() -> dict[str, str]:
    found = {}
    for name in dict.fromkeys((*_OWN_DISTRIBUTIONS, *sdk_distributions())):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def _variants(config: BenchConfig) -> list[_Variant]:
    """Every provider × dimension setting; providers are only constructed here (no call is made)."""
    variants: list[_Variant] = []
    for ref in config.provider_refs():
        if not config.dims:
            variants.append(_Variant(ref, ref))
            continue
        probe = load_provider(model=ref)
        allowed = [d for d in config.dims if probe.capabilities.allows_dimensions(d)]
        if not allowed:
            raise InvalidOptionError(
                f"dims: none of {config.dims} is allowed for {ref} ({probe.capabilities.describe_dimensions()})"
            )
        dropped = [d for d in config.dims if d not in allowed]
        if dropped:  # a sweep over several providers may hold sizes one of them lacks: say so, never silently
            print_warning(
                f"dims: {dropped} not allowed for {ref} ({probe.capabilities.describe_dimensions()}); skipped"
            )
        variants += [_Variant(f"{ref}@{d}", ref, {"dimensions": d}) for d in allowed]
    return variants


@contextmanager
def _emulation(config: BenchConfig) -> Iterator[None]:
    if not config.emulate:
        yield
        return
    from ..providers.emulator import emulated_clouds

    with emulated_clouds():
        yield


def _baseline(config: BenchConfig, labels: list[str]) -> str:
    if len(set(labels)) != len(labels):
        raise InvalidOptionError(f"providers: a row is named twice ({', '.join(labels)}); give each once")
    if config.baseline is None:
        return labels[0] if labels else ""
    if config.baseline not in labels:
        raise InvalidOptionError(f"baseline {config.baseline!r} names no row; rows: {', '.join(labels)}")
    return config.baseline


def _dataset_info(task: RetrievalTask) -> DatasetInfo:
    return DatasetInfo(
        path=task.path,
        revision=task.revision,
        queries=len(task.queries),
        corpus=len(task.corpus),
        judgments=sum(len(j) for j in task.qrels.values()),
        blank_queries=list(task.blank_queries),
        blank_documents=list(task.blank_documents),
    )


async def _run_rows(
    config: BenchConfig,
    tasks: list[RetrievalTask],
    retrievers: list[BM25Retriever],
    variants: list[_Variant],
    progress: Progress | None,
    rows: dict[str, RowInfo],
    rerankers: list[Reranker[Any]],
) -> tuple[list[TaskRun], dict[str, dict[str, dict[str, float]]]]:
    runs: list[TaskRun] = []
    rankings: dict[str, dict[str, dict[str, float]]] = {}
    lexical: dict[tuple[str, str], tuple[TaskRun, dict[str, dict[str, float]]]] = {}  # for the hybrid rows
    for retriever in retrievers:
        rows[retriever.name] = RowInfo(
            kind="lexical", ref=retriever.name, emulated=False, description=retriever.describe()
        )
        for task in tasks:
            run, ranking = await run_lexical(retriever, task, config=config, progress=progress)
            runs.append(run)
            lexical[retriever.name, task.name] = run, ranking
            if ranking:
                rankings[f"{run.label}/{task.name}"] = ranking
    cache = EmbeddingCache(config.cache) if config.cache else None
    try:
        for variant in variants:
            provider = load_provider(model=variant.ref, **variant.overrides)
            emulated = config.emulate and provider.is_remote
            rows[variant.label] = RowInfo(
                kind="embedding",
                ref=provider.ref,
                emulated=emulated,
                description=f"{provider.ref}, {provider.dimensions} dims" + (" [EMULATED]" if emulated else ""),
                settings=provider.settings.model_dump(mode="json"),
                modalities=sorted(provider.capabilities.modalities),
                max_batch_size=provider.capabilities.max_batch_size,
            )
            try:
                for task in tasks:
                    run, ranking = await run_task(
                        provider,
                        task,
                        label=variant.label,
                        config=config,
                        cache=cache,
                        emulated=emulated,
                        progress=progress,
                    )
                    runs.append(run)
                    if ranking:
                        rankings[f"{run.label}/{task.name}"] = ranking
                    for name in config.hybrid:
                        fused, fused_ranking = run_hybrid_pipeline(
                            *lexical[name, task.name], run, ranking, task, config=config
                        )
                        rows[fused.label] = hybrid_row(rows[name], rows[variant.label], config)
                        runs.append(fused)
                        if fused_ranking:
                            rankings[f"{fused.label}/{task.name}"] = fused_ranking
                    for reranker in rerankers:
                        piped, reranked = await run_rerank_pipeline(reranker, task, run, ranking, config=config)
                        rows[piped.label] = _pipeline_row(reranker, rows[variant.label], config)
                        runs.append(piped)
                        if reranked:
                            rankings[f"{piped.label}/{task.name}"] = reranked
            finally:
                await provider.aclose()
    finally:
        if cache is not None:
            cache.close()
    return runs, rankings


def _pipeline_row(reranker: Reranker[Any], first: RowInfo, config: BenchConfig) -> RowInfo:
    note = ""
    if random_weights(reranker):
        note = " [QUALITY NOT A RESULT: randomly initialised test model; plumbing and latency only]"
    emulated = first.emulated or (config.emulate and reranker.is_remote)
    return RowInfo(
        kind="pipeline",
        ref=f"{first.ref}→{reranker.ref}",
        emulated=emulated,
        description=f"{first.ref} top {config.rerank_depth} reranked by {reranker.ref}"
        + (" [EMULATED]" if emulated else "")
        + note,
    )


async def run_benchmark(config: BenchConfig, *, progress: Progress | None = None) -> BenchmarkResult:
    """Run every row on every task of every dataset; every option is checked before any work."""
    tasks = [task for name in config.datasets for task in load_tasks(name, split=config.split)]
    retrievers = [make_retriever(name) for name in config.retrievers]
    rows: dict[str, RowInfo] = {}
    with _emulation(config):
        variants = _variants(config)
        rerankers = [get_reranker(ref) for ref in config.rerankers]  # a bad ref fails before any work
        piped = [hybrid_label(h, v.label) for v in variants for h in config.hybrid]
        piped += [pipeline_label(v.label, r) for v in variants for r in rerankers]
        baseline = _baseline(config, [r.name for r in retrievers] + [v.label for v in variants] + piped)
        try:
            runs, rankings = await _run_rows(config, tasks, retrievers, variants, progress, rows, rerankers)
        finally:
            for reranker in rerankers:
                await reranker.aclose()
    compare_with_baseline(runs, baseline)
    manifest = Manifest(
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        config=config,
        baseline=baseline,
        rows=rows,
        datasets={t.name: _dataset_info(t) for t in tasks},
        versions=_versions(),
        machine=Machine(
            python=platform.python_version(),
            platform=platform.platform(),
            processor=platform.machine(),
            cpus=os.cpu_count(),
        ),
        price_table_as_of=price_table().get("as_of"),
        cache=str(config.cache) if config.cache else "off",
        emulated=config.emulate,
    )
    return BenchmarkResult(manifest=manifest, runs=runs, trec_runs=rankings)


def results_folder(config: BenchConfig, stamp: datetime) -> Path:
    """``<out>/<YYYYmmdd-HHMMSS>-<dataset names>``: a dataset given as a path is named by its folder."""
    names = [Path(d).resolve().name if Path(d).is_dir() else Path(d).name for d in config.datasets]
    short = "+".join(dict.fromkeys(names))
    short = "".join(c if c.isalnum() or c in "._-+" else "_" for c in short)[:48].strip("_") or "run"
    base = config.out / f"{stamp:%Y%m%d-%H%M%S}-{short}"
    folder, n = base, 1
    while folder.exists():  # two runs in the same second must not overwrite each other
        n += 1
        folder = base.with_name(f"{base.name}-{n}")
    return folder
