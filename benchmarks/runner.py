"""Run providers over retrieval tasks: embed (through the cache), search, score, time, cost.

Corpus items are embedded with the ``document`` intent and queries with ``query`` for every
provider. Query latency comes from single-item calls after a warm-up call; the corpus is embedded
in bulk at the provider's concurrency and reported as throughput. Cached vectors never count as
latency: when all of a phase is cached, the numbers measured live by an earlier run are shown
and flagged ``from_earlier_run``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np

from ..providers import EmbeddingProvider, EmbeddingResult, Image, Input, Intent
from .cache import EmbeddingCache, content_key
from .costs import estimate_cost, estimate_tokens, price_for
from .datasets import RetrievalTask
from .metrics import DEFAULT_KS, evaluate, mean
from .results import IndexThroughput, QueryLatency, TaskRun
from .retrieval import search
from .stats import bootstrap_ci

__all__ = ["BenchOptions", "run_task"]

Progress = Callable[[str, int, int], Callable[[int], None]]
"""Given (label, total, already done), returns the per-call advance callback."""


@dataclass(frozen=True)
class BenchOptions:
    ks: tuple[int, ...] = DEFAULT_KS
    main_metric: str = "ndcg@10"
    top_k: int = 100
    latency_queries: int = 100
    """Single-item query calls timed (after one warm-up); further queries are embedded in bulk."""
    warmup: int = 1


def _inputs(task: RetrievalTask, side: str) -> tuple[list[str], list[Input]]:
    ids = list(task.queries if side == "query" else task.corpus)
    source = task.queries if side == "query" else task.corpus
    kind = task.query_kind if side == "query" else task.corpus_kind
    if kind == "image":
        return ids, [Image.from_path(source[i]) for i in ids]
    if side == "corpus" and task.titles:
        # MTEB's convention for BEIR: title and text joined by a space, the same for every provider.
        return ids, [f"{task.titles.get(i, '')} {source[i]}".strip() for i in ids]
    return ids, [source[i] for i in ids]


def _texts(items: list[Input]) -> list[str]:
    return [item for item in items if isinstance(item, str)]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _percentile(samples: list[float], q: float) -> float | None:
    return float(np.percentile(samples, q)) if samples else None


class _Phase:
    """Embeds one side of a task through the cache and keeps what the live calls cost."""

    def __init__(self, provider: EmbeddingProvider[Any], intent: Intent, items: list[Input], cache: EmbeddingCache | None):
        self.provider, self.intent, self.items, self.cache = provider, intent, items, cache
        self.fingerprint = provider.fingerprint(intent)
        self.keys = [content_key(item) for item in items]
        self.vectors = np.full((len(items), provider.dimensions), np.nan, dtype=np.float32)
        found = cache.get(self.fingerprint, self.keys) if cache else {}
        self.cached = 0
        for i, key in enumerate(self.keys):
            if key in found:
                self.vectors[i] = found[key]
                self.cached += 1
        self.missing = [i for i, key in enumerate(self.keys) if key not in found]
        self.results: list[EmbeddingResult] = []

    async def embed(self, indices: list[int], progress: Callable[[int], None] | None = None) -> float:
        began = time.perf_counter()
        result = await self.provider.embed([self.items[i] for i in indices], intent=self.intent, errors="collect", progress=progress)
        elapsed = time.perf_counter() - began
        self.vectors[indices] = result.vectors
        self.results.append(result)
        return elapsed

    def save(self) -> None:
        if self.cache is not None and self.missing:
            self.cache.put(self.fingerprint, [self.keys[i] for i in self.missing], self.vectors[self.missing])

    def live_stats(self) -> dict[str, Any]:
        timings = [t for r in self.results for t in r.timings]
        tokens = [r.usage.input_tokens for r in self.results]
        return {
            "items": len(self.missing),
            "retries": sum(t.attempts - 1 for t in timings),
            "rate_limited": sum(t.retried.count("RateLimitError") for t in timings),
            "failures": sum(len(r.failures) for r in self.results),
            "input_tokens": sum(t for t in tokens if t is not None) if any(t is not None for t in tokens) else None,
            "images": sum(r.usage.images for r in self.results),
        }


async def _query_phase(phase: _Phase, options: BenchOptions, key: str, progress: Progress | None) -> QueryLatency | None:
    timed = phase.missing[: options.latency_queries + options.warmup + 1]
    advance = progress("queries", len(phase.items), phase.cached) if progress else None
    samples: list[float] = []
    cold: float | None = None
    for n, i in enumerate(timed):
        seconds = await phase.embed([i])
        if advance:
            advance(1)
        if n == 0:
            cold = seconds * 1000
        elif n > options.warmup:
            samples.append(seconds * 1000)
    rest = phase.missing[len(timed):]
    if rest:
        await phase.embed(rest, advance)
    phase.save()
    if phase.cache is None:
        return _latency(samples, cold, False)
    if not timed:
        stored = phase.cache.get_measurement(key)
        return QueryLatency(**{**stored, "from_earlier_run": True}) if stored else None
    latency = _latency(samples, cold, False)
    phase.cache.put_measurement(key, latency.__dict__)
    return latency


def _latency(samples: list[float], cold: float | None, earlier: bool) -> QueryLatency:
    return QueryLatency(
        samples_ms=[round(s, 3) for s in samples],
        cold_start_ms=cold,
        p50_ms=_percentile(samples, 50),
        p95_ms=_percentile(samples, 95),
        p99_ms=_percentile(samples, 99),
        mean_ms=float(np.mean(samples)) if samples else None,
        measured_at=_now(),
        from_earlier_run=earlier,
    )


async def _index_phase(phase: _Phase, key: str, progress: Progress | None) -> IndexThroughput | None:
    if not phase.missing:
        stored = phase.cache.get_measurement(key) if phase.cache else None
        return IndexThroughput(**{**stored, "from_earlier_run": True}) if stored else None
    advance = progress("corpus", len(phase.items), phase.cached) if progress else None
    seconds = await phase.embed(phase.missing, advance)
    phase.save()
    stats = phase.live_stats()
    provider = phase.provider
    throughput = IndexThroughput(
        items=stats["items"],
        seconds=seconds,
        items_per_s=stats["items"] / seconds if seconds > 0 else float("inf"),
        concurrency=provider.settings.max_concurrency or provider.capabilities.max_concurrency,
        retries=stats["retries"],
        rate_limited=stats["rate_limited"],
        failures=stats["failures"],
        measured_at=_now(),
    )
    if phase.cache is not None:
        phase.cache.put_measurement(key, throughput.__dict__)
    return throughput


def _tokens_per_item(phase: _Phase, texts: list[str], key: str) -> tuple[float, float, str]:
    """Average tokens and images per item: counted by the provider when it reports them."""
    stats = phase.live_stats()
    if stats["items"] and stats["input_tokens"] is not None:
        counted = (stats["input_tokens"] / stats["items"], stats["images"] / stats["items"], "counted")
        if phase.cache is not None:
            phase.cache.put_measurement(key, counted)
        return counted
    stored = phase.cache.get_measurement(key) if phase.cache else None
    if stored:
        return stored[0], stored[1], stored[2]
    images = sum(isinstance(i, Image) for i in phase.items)
    return estimate_tokens(texts) / max(len(phase.items), 1), images / max(len(phase.items), 1), "estimated"


async def run_task(
    provider: EmbeddingProvider[Any],
    task: RetrievalTask,
    *,
    label: str,
    options: BenchOptions,
    cache: EmbeddingCache | None,
    emulated: bool,
    progress: Progress | None = None,
) -> tuple[TaskRun, dict[str, dict[str, float]]]:
    """Evaluate one provider on one task; returns the scored run and its top-k ranking."""
    needed = {task.query_kind, task.corpus_kind}
    if not needed <= set(provider.capabilities.modalities):
        skipped = TaskRun(provider.ref, label, task.name, task.revision, provider.dimensions, emulated, {}, {}, {},
                          options.main_metric, (float("nan"), float("nan")),
                          skipped=f"{provider.ref} does not take {', '.join(sorted(needed))}")
        return skipped, {}
    query_ids, query_items = _inputs(task, "query")
    doc_ids, doc_items = _inputs(task, "corpus")
    queries = _Phase(provider, "query", query_items, cache)
    corpus = _Phase(provider, "document", doc_items, cache)
    tag = f"{task.revision}:{task.name}"
    latency = await _query_phase(queries, options, f"latency:{queries.fingerprint.hash}:{tag}", progress)
    throughput = await _index_phase(corpus, f"index:{corpus.fingerprint.hash}:{tag}", progress)

    run = search(queries.vectors, np.nan_to_num(corpus.vectors), query_ids, doc_ids, k=options.top_k)
    per_query = evaluate(run, task.qrels, options.ks)
    names = list(next(iter(per_query.values())).keys()) if per_query else []
    main = {qid: m[options.main_metric] for qid, m in per_query.items()}

    doc_tokens, doc_images, source = _tokens_per_item(corpus, _texts(doc_items), f"tokens:{corpus.fingerprint.hash}:{tag}")
    q_tokens, q_images, _ = _tokens_per_item(queries, _texts(query_items), f"tokens:{queries.fingerprint.hash}:{tag}")
    cost = estimate_cost(
        price_for(provider.name, provider.model), doc_tokens=doc_tokens, query_tokens=q_tokens,
        doc_images=doc_images, query_images=q_images, corpus_size=len(doc_items), tokens_source=source,
    )
    norms = np.linalg.norm(np.nan_to_num(corpus.vectors), axis=1)
    scored = TaskRun(
        provider=provider.ref,
        label=label,
        task=task.name,
        dataset_revision=task.revision,
        dimensions=provider.dimensions,
        emulated=emulated,
        fingerprints={"query": queries.fingerprint.as_dict() | {"hash": queries.fingerprint.hash},
                      "document": corpus.fingerprint.as_dict() | {"hash": corpus.fingerprint.hash}},
        scores={name: mean(per_query, name) for name in names},
        per_query=main,
        main_metric=options.main_metric,
        ci95=bootstrap_ci(list(main.values())),
        query_latency=latency,
        index_throughput=throughput,
        cached={"queries": queries.cached, "corpus": corpus.cached},
        usage={"tokens_per_document": doc_tokens, "tokens_per_query": q_tokens, "tokens": source,
               "images_per_document": doc_images, "images_per_query": q_images},
        cost=cost.__dict__,
        storage_bytes_per_vector=4 * provider.dimensions,
        storage_bytes_corpus=4 * provider.dimensions * len(doc_items),
        sanity={"norm_min": float(norms.min()) if len(norms) else None,
                "norm_max": float(norms.max()) if len(norms) else None,
                "failed_items": int(np.isnan(corpus.vectors).any(axis=1).sum() + np.isnan(queries.vectors).any(axis=1).sum())},
    )
    return scored, run
