"""Side-by-side benchmark: several providers (and dimension settings) over the same datasets."""

from __future__ import annotations

import asyncio
import os
import platform
import tomllib
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..providers import load_provider
from ..providers.errors import InvalidOptionError
from .cache import EmbeddingCache
from .costs import price_table
from .datasets import load_tasks
from .results import BenchmarkResult, TaskRun
from .runner import BenchOptions, Progress, run_task
from .stats import paired_randomization_test, wins_losses

__all__ = ["BenchConfig", "DEFAULT_CACHE", "load_bench_config", "run_benchmark"]

DEFAULT_CACHE = Path(".omnivec-cache") / "embeddings.sqlite"
_PACKAGES = ("omnivec", "numpy", "sentence-transformers", "transformers", "torch", "boto3", "google-genai")


class BenchConfig(BaseModel):
    """A benchmark, from ``omnivec bench`` flags or a TOML file (same names)."""

    model_config = ConfigDict(extra="forbid")

    datasets: list[str] = ["scifact-nano"]
    """Bundled set names or folders in BEIR / image–text layout."""
    split: str = "test"
    providers: list[str] = ["local"]
    """``provider:model`` references; the first is the baseline unless ``baseline`` says otherwise."""
    baseline: str | None = None
    dims: list[int] = []
    """Dimension sweep (Matryoshka): every provider runs once per size it allows."""
    emulate: bool = False
    """Run cloud providers against the local wire emulator; every number is labelled EMULATED."""
    cache: Path | None = DEFAULT_CACHE
    """SQLite embedding cache; None disables it."""
    out: Path = Path("results")
    ks: tuple[int, ...] = (1, 3, 5, 10, 100)
    main_metric: str = "ndcg@10"
    latency_queries: int = Field(100, ge=0)
    plots: bool = True


def load_bench_config(path: Path, **overrides: Any) -> BenchConfig:
    raw = tomllib.loads(Path(path).read_text())
    # None means "not given" for every flag except cache, where None means --no-cache.
    return BenchConfig(**{**raw, **{k: v for k, v in overrides.items() if v is not None or k == "cache"}})


def _versions() -> dict[str, str]:
    found = {}
    for name in _PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def _variants(config: BenchConfig) -> list[tuple[str, str, dict[str, Any]]]:
    """(label, model ref, settings overrides) for every provider × dimension setting."""
    variants: list[tuple[str, str, dict[str, Any]]] = []
    for ref in config.providers:
        if not config.dims:
            variants.append((ref, ref, {}))
            continue
        probe = load_provider(model=ref)
        allowed = [d for d in config.dims if probe.capabilities.allows_dimensions(d)]
        if not allowed:
            raise InvalidOptionError(f"none of dims={config.dims} is allowed for {ref} ({probe.capabilities.describe_dimensions()})")
        variants += [(f"{ref}@{d}", ref, {"dimensions": d}) for d in allowed]
    return variants


def _emulation(config: BenchConfig) -> AbstractContextManager[Any]:
    if not config.emulate:
        return nullcontext()
    try:
        from ..providers.emulator import emulated_clouds
    except ImportError as exc:
        raise InvalidOptionError("--emulate needs the wire emulator (omnivec.providers.emulator)") from exc
    return emulated_clouds()


def _compare(runs: list[TaskRun], baseline: str) -> None:
    by_task: dict[str, TaskRun] = {r.task: r for r in runs if r.label == baseline and not r.skipped}
    for run in runs:
        base = by_task.get(run.task)
        if base is None or run.skipped or run is base:
            continue
        common = sorted(set(run.per_query) & set(base.per_query))
        a = [run.per_query[q] for q in common]
        b = [base.per_query[q] for q in common]
        run.baseline = baseline
        run.p_value = paired_randomization_test(a, b)
        run.wins_ties_losses = wins_losses(a, b)


async def run_benchmark(config: BenchConfig, *, progress: Progress | None = None) -> BenchmarkResult:
    """Run every provider variant on every task of every dataset."""
    tasks = [task for name in config.datasets for task in load_tasks(name, split=config.split)]
    cache = EmbeddingCache(config.cache) if config.cache else None
    options = BenchOptions(ks=config.ks, main_metric=config.main_metric, latency_queries=config.latency_queries)
    runs: list[TaskRun] = []
    trec_runs: dict[str, dict[str, dict[str, float]]] = {}
    providers_manifest: dict[str, Any] = {}
    try:
        with _emulation(config):
            for label, ref, overrides in _variants(config):
                provider = load_provider(model=ref, **overrides)
                emulated = config.emulate and provider.is_remote
                providers_manifest[label] = {
                    "ref": provider.ref,
                    "emulated": emulated,
                    "settings": provider.settings.model_dump(mode="json"),
                    "capabilities": {"modalities": sorted(provider.capabilities.modalities),
                                     "max_batch_size": provider.capabilities.max_batch_size},
                }
                for task in tasks:
                    scored, ranking = await run_task(provider, task, label=label, options=options, cache=cache,
                                                     emulated=emulated, progress=progress)
                    runs.append(scored)
                    if ranking:
                        trec_runs[f"{label}/{task.name}"] = ranking
                await provider.aclose()
    finally:
        if cache is not None:
            cache.close()
    baseline = config.baseline or (runs[0].label if runs else "")
    _compare(runs, baseline)
    manifest = {
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "config": config.model_dump(mode="json"),
        "baseline": baseline,
        "providers": providers_manifest,
        "datasets": {t.name: {"revision": t.revision, "queries": len(t.queries), "corpus": len(t.corpus),
                              "judgments": sum(len(j) for j in t.qrels.values())} for t in tasks},
        "versions": _versions(),
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "processor": platform.machine(), "cpus": os.cpu_count()},
        "price_table_as_of": price_table().get("as_of"),
        "cache": str(config.cache) if config.cache else "off",
        "emulated": config.emulate,
    }
    return BenchmarkResult(manifest=manifest, runs=runs, trec_runs=trec_runs)


def run_benchmark_sync(config: BenchConfig, **kwargs: Any) -> BenchmarkResult:
    return asyncio.run(run_benchmark(config, **kwargs))
