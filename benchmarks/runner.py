"""Run one embedding provider over one retrieval task: embed (through the cache), search, score, time, cost.

Corpus items are embedded with the ``document`` intent and queries with ``query`` for every
provider. Query latency comes from single-item calls after a warm-up call; the corpus is embedded
in bulk at the provider's concurrency and reported as throughput. Cached vectors are never timed:
when all of a phase is cached, the numbers measured live by an earlier run are shown and flagged
``from_earlier_run``. Items that fail to embed are never ranked, counted in ``failures`` and named.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import numpy as np
from pydantic import BaseModel, ValidationError

from ..providers import EmbeddingProvider, Image, Input
from .config import BenchConfig
from .costs import estimate_cost, estimate_tokens, price_for
from .datasets import RetrievalTask
from .phases import CachedSide, LiveCalls
from .results import (
    CacheUse,
    Cost,
    FailureExample,
    Failures,
    FingerprintInfo,
    IndexThroughput,
    QueryLatency,
    Sanity,
    Storage,
    TaskRun,
    TokenUsage,
)
from .retrieval import search
from .scoring import score

__all__ = ["Progress", "Ranking", "now", "percentile", "run_task"]

Progress = Callable[[str, int, int], Callable[[int], None]]
"""Given (label, total, already done), returns the per-call advance callback."""
Ranking = dict[str, dict[str, float]]
M = TypeVar("M", bound=BaseModel)
_EXAMPLES = 5


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def percentile(samples: list[float], q: float) -> float | None:
    return float(np.percentile(samples, q)) if samples else None


def latency_of(samples_s: list[float], cold_s: float | None) -> QueryLatency:
    samples = [s * 1000 for s in samples_s]
    return QueryLatency(
        samples_ms=[round(s, 3) for s in samples],
        cold_start_ms=None if cold_s is None else cold_s * 1000,
        p50_ms=percentile(samples, 50),
        p95_ms=percentile(samples, 95),
        p99_ms=percentile(samples, 99),
        mean_ms=float(np.mean(samples)) if samples else None,
        measured_at=now(),
    )


def _items(task: RetrievalTask, side: str) -> tuple[list[str], list[Input]]:
    source = task.queries if side == "query" else task.corpus
    kind = task.query_kind if side == "query" else task.corpus_kind
    ids = list(source)
    return ids, [Image.from_path(source[i]) if kind == "image" else source[i] for i in ids]


def _stored(side: CachedSide, key: str, model: type[M]) -> M | None:
    """A measurement an earlier run made live, or None (also when it was stored by an older schema)."""
    stored = side.cache.get_measurement(key) if side.cache is not None else None
    try:
        return model.model_validate({**stored, "from_earlier_run": True}) if isinstance(stored, dict) else None
    except ValidationError:
        return None


async def _query_phase(
    calls: LiveCalls, config: BenchConfig, key: str, progress: Progress | None
) -> QueryLatency | None:
    side = calls.side
    timed = side.missing[: config.latency_queries + config.warmup + 1] if config.latency_queries else []
    advance = progress(f"{calls.row} · {calls.task} queries", len(side.items), side.cached) if progress else None
    seconds = [await calls.embed([i], advance) for i in timed]
    await calls.embed_bulk(side.missing[len(timed) :], advance)
    side.save()
    if not timed:
        return _stored(side, key, QueryLatency) if not side.missing else None
    latency = latency_of(seconds[config.warmup + 1 :], seconds[0])
    if side.cache is not None:
        side.cache.put_measurement(key, latency.model_dump(mode="json"))
    return latency


async def _index_phase(calls: LiveCalls, key: str, progress: Progress | None) -> IndexThroughput | None:
    side = calls.side
    if not side.missing:
        return _stored(side, key, IndexThroughput)
    advance = progress(f"{calls.row} · {calls.task} corpus", len(side.items), side.cached) if progress else None
    seconds = await calls.embed_bulk(side.missing, advance)
    side.save()
    stats = calls.stats()
    provider = calls.provider
    throughput = IndexThroughput(
        items=stats.items,
        seconds=seconds,
        items_per_s=stats.items / seconds if seconds > 0 else None,
        concurrency=provider.settings.max_concurrency or provider.capabilities.max_concurrency,
        retries=stats.retries,
        rate_limited=stats.rate_limited,
        failures=stats.failures,
        measured_at=now(),
    )
    if side.cache is not None:
        side.cache.put_measurement(key, throughput.model_dump(mode="json"))
    return throughput


def _tokens_per_item(calls: LiveCalls, key: str) -> tuple[float, float, str]:
    """Average tokens and images per item: counted by the provider when it reports them."""
    stats, side = calls.stats(), calls.side
    if stats.items and stats.input_tokens is not None:
        counted = (stats.input_tokens / stats.items, stats.images / stats.items, "counted")
        if side.cache is not None:
            side.cache.put_measurement(key, counted)
        return counted
    stored = side.cache.get_measurement(key) if side.cache is not None else None
    if stored:
        return float(stored[0]), float(stored[1]), str(stored[2])
    texts = [item for item in side.items if isinstance(item, str)]
    images = sum(isinstance(item, Image) for item in side.items)
    n = max(len(side.items), 1)
    return estimate_tokens(texts) / n, images / n, "estimated"


def _failures(queries: LiveCalls, corpus: LiveCalls) -> Failures:
    examples = [
        FailureExample(side=calls.intent, id=calls.side.ids[i], error=str(error))  # type: ignore[arg-type]
        for calls in (queries, corpus)
        for i, error in sorted(calls.failures.items())[:_EXAMPLES]
    ]
    return Failures(
        queries=int(queries.side.failed().sum()),
        documents=int(corpus.side.failed().sum()),
        examples=examples[:_EXAMPLES],
    )


def _fingerprint(side: CachedSide) -> FingerprintInfo:
    return FingerprintInfo.model_validate(side.fingerprint.as_dict() | {"hash": side.fingerprint.hash})


async def run_task(
    provider: EmbeddingProvider[Any],
    task: RetrievalTask,
    *,
    label: str,
    config: BenchConfig,
    cache: Any,
    emulated: bool,
    progress: Progress | None = None,
) -> tuple[TaskRun, Ranking]:
    """Evaluate one provider on one task; returns the scored row and its top-k ranking."""
    common = {
        "label": label,
        "kind": "embedding",
        "ref": provider.ref,
        "task": task.name,
        "dataset_revision": task.revision,
        "dimensions": provider.dimensions,
        "emulated": emulated,
    }
    needed = {task.query_kind, task.corpus_kind}
    if not needed <= set(provider.capabilities.modalities):
        return TaskRun(
            **common, skipped=f"takes no {', '.join(sorted(needed - set(provider.capabilities.modalities)))}"
        ), {}
    query_ids, query_items = _items(task, "query")
    doc_ids, doc_items = _items(task, "corpus")
    queries = LiveCalls(
        provider, "query", CachedSide(provider.fingerprint("query"), query_ids, query_items, cache), task.name, label
    )
    corpus = LiveCalls(
        provider, "document", CachedSide(provider.fingerprint("document"), doc_ids, doc_items, cache), task.name, label
    )
    tag = f"{task.revision}:{task.name}"
    latency = await _query_phase(queries, config, f"latency:{queries.side.fingerprint.hash}:{tag}", progress)
    throughput = await _index_phase(corpus, f"index:{corpus.side.fingerprint.hash}:{tag}", progress)

    ok_q, ok_d = ~queries.side.failed(), ~corpus.side.failed()
    ranking = search(
        queries.side.vectors[ok_q],
        corpus.side.vectors[ok_d],
        [q for q, ok in zip(query_ids, ok_q, strict=True) if ok],
        [d for d, ok in zip(doc_ids, ok_d, strict=True) if ok],
        k=config.top_k,
    )
    quality = score(ranking, task, config.ks, config.main_metric)  # a failed query ranks nothing and scores 0

    doc_tokens, doc_images, source = _tokens_per_item(corpus, f"tokens:{corpus.side.fingerprint.hash}:{tag}")
    q_tokens, q_images, _ = _tokens_per_item(queries, f"tokens:{queries.side.fingerprint.hash}:{tag}")
    estimate = estimate_cost(
        price_for(provider.name, provider.model),
        doc_tokens=doc_tokens,
        query_tokens=q_tokens,
        doc_images=doc_images,
        query_images=q_images,
        corpus_size=len(doc_items),
        tokens_source=source,
    )
    norms = np.linalg.norm(corpus.side.vectors[ok_d], axis=1)
    scored = TaskRun(
        **common,
        quality=quality,
        query_latency=latency,
        index_throughput=throughput,
        cached=CacheUse(queries=queries.side.cached, corpus=corpus.side.cached),
        usage=TokenUsage(
            tokens_per_document=doc_tokens,
            tokens_per_query=q_tokens,
            source=source,  # type: ignore[arg-type]
            images_per_document=doc_images,
            images_per_query=q_images,
        ),
        cost=Cost.model_validate(estimate.__dict__),
        storage=Storage(
            bytes_per_vector=4 * provider.dimensions, corpus_bytes=4 * provider.dimensions * len(doc_items)
        ),
        sanity=Sanity(
            norm_min=float(norms.min()) if len(norms) else None, norm_max=float(norms.max()) if len(norms) else None
        ),
        failures=_failures(queries, corpus),
        fingerprints={"query": _fingerprint(queries.side), "document": _fingerprint(corpus.side)},
    )
    return scored, ranking
