"""``adapt`` and ``switch --via-adapter``: serve a new model's queries against the old index.

``adapt`` re-embeds a seeded random sample of the serving version's STORED sources with the new
model (through the embedding cache, one store batch in flight, so a killed run re-pays at most that
batch and a rerun fits the same adapter), fits a space adapter (:mod:`omnivec.providers.space_adapters`)
on them and the stored vectors, and keeps it in the version's catalog. It never builds the old
provider: it works with the old provider's credentials gone. ``switch_via_adapter`` makes the version
answer through it; :func:`~.migration.rollback` undoes that, and ``switch`` to a migrated version
moves past it.
"""

from __future__ import annotations

import hashlib
import heapq
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._rate import tokens_for_chars
from ..base import EmbeddingProvider
from ..cache import EmbeddingCache
from ..config import load_provider
from ..errors import InvalidOptionError
from ..space_adapters import VERDICT_THRESHOLDS, fit_space_adapter
from . import _embed
from .adapter_catalog import describe_adapter, held_adapters, held_out_score, require_adapter_store, verdict
from .base import AdapterRecord, Row, VectorStore, VersionInfo
from .collection import batched, open_cache
from .planning import price_per_token
from .serving import require_serving, same_space
from .writer import Progress

__all__ = ["MIN_SAMPLE", "AdaptReport", "adapt", "switch_via_adapter"]

MIN_SAMPLE = 10


@dataclass
class AdaptReport:
    collection: str
    version: int
    model: str
    sample: int
    """Pairs the adapter was fitted on."""
    embedded: int = 0
    cached: int = 0
    digest: str = ""
    kind: str = ""
    mean_cosine: float = 0.0
    overlap_at_10: float = 0.0
    score: float = 0.0
    verdict: str = ""
    serving: bool = False
    """Whether the version answers through it (a refit of the adapter that served keeps serving)."""
    notes: list[str] = field(default_factory=list)


def _check_options(sample: int, max_cost: float | None) -> None:
    if isinstance(sample, bool) or not isinstance(sample, int) or sample < MIN_SAMPLE:
        raise InvalidOptionError(
            f"sample must be a whole number of stored items >= {MIN_SAMPLE}, got {sample!r} (1,000 recommended)"
        )
    if max_cost is not None and not (max_cost >= 0 and np.isfinite(max_cost)):
        raise InvalidOptionError(f"max_cost must be a finite number of USD >= 0, got {max_cost!r}")


ID_PAGE = 8192
"""Ids read per page when drawing the sample: the id column alone, so pages can be large."""


def sample_ids(store: VectorStore, info: VersionInfo, size: int, seed: int) -> tuple[list[str], int]:
    """``size`` stored ids drawn at random by ``seed`` (the ids with the smallest seeded hash: the
    same draw whatever order the store scans in, O(size) memory), sorted; and how many there are.
    Only ids are read here; the caller fetches the drawn rows alone."""
    total = 0

    def keyed() -> Any:
        nonlocal total
        for ids in store.ids(info.collection, info.version, max(store.settings.batch_size, ID_PAGE)):
            total += len(ids)
            for item_id in ids:
                yield hashlib.blake2b(f"{seed}:{item_id}".encode(), digest_size=8).digest(), item_id

    chosen = heapq.nsmallest(size, keyed())
    return sorted(item_id for _, item_id in chosen), total


def _refuse_images(rows: list[Row], name: str) -> None:
    images = [r.id for r in rows if r.uri and not r.text]
    if images:
        raise InvalidOptionError(
            f"collection {name!r} holds images (e.g. {images[0]!r}): space adapters are measured on text only, "
            f"so adapt refuses image collections until they are; use 'omnivec migrate {name} --to REF'"
        )


def _check_cost(provider: EmbeddingProvider[Any], rows: list[Row], max_cost: float | None) -> None:
    price = price_per_token(provider)
    if max_cost is None or price is None:
        return
    cost = tokens_for_chars(sum(len(r.text or "") for r in rows)) * price
    if cost > max_cost:
        raise InvalidOptionError(
            f"embedding the sample of {len(rows)} items with {provider.ref} may cost about ${cost:.4f}, over "
            f"--max-cost ${max_cost}: raise --max-cost or lower --sample (nothing was embedded)"
        )


def adapt(
    store: VectorStore,
    name: str,
    to: str | EmbeddingProvider[Any],
    *,
    dimensions: int | None = None,
    sample: int = 1000,
    max_cost: float | None = None,
    seed: int = 0,
    cache: EmbeddingCache | bool | None = True,
    progress: Progress | None = None,
) -> AdaptReport:
    """Fit and keep an adapter from ``to``'s space into the serving version's, on ``sample`` stored items."""
    _check_options(sample, max_cost)
    info = require_serving(store, name)
    require_adapter_store(store)  # before a single item is embedded and paid for
    overrides = {"dimensions": dimensions} if dimensions is not None else {}
    provider = load_provider(model=to, **overrides) if isinstance(to, str) else to
    if same_space(info, provider):
        raise InvalidOptionError(
            f"collection {name!r} is already embedded by {provider.ref}: an adapter maps ANOTHER model's queries "
            f"into its space; give --to the model you are moving to"
        )
    ids, total = sample_ids(store, info, sample, seed)
    if len(ids) < MIN_SAMPLE:
        raise InvalidOptionError(
            f"collection {name!r} holds {total} item(s): an adapter needs at least {MIN_SAMPLE} (1,000 recommended)"
        )
    report = AdaptReport(name, info.version, provider.ref, len(ids))
    if total < sample:
        report.notes.append(f"{name} holds {total} items, fewer than --sample {sample}: all {total} used")
    rows = [
        r
        for chunk in batched(ids, store.settings.batch_size)
        for r in store.rows(name, info.version, chunk, vectors=True)
    ]
    _refuse_images(rows, name)
    _check_cost(provider, rows, max_cost)
    new = _embed_sample(store, provider, rows, open_cache(store, cache), report, progress)
    kept = [r for r in rows if r.id in new]
    if len(kept) < MIN_SAMPLE:
        raise InvalidOptionError(f"only {len(kept)} sampled item(s) could be embedded: an adapter needs {MIN_SAMPLE}")
    adapter = fit_space_adapter(
        np.stack([new[r.id] for r in kept]),
        np.stack([np.asarray(r.vector, dtype=np.float32) for r in kept]),
        from_fp=provider.fingerprint("document").space(),
        to_fp=info.fingerprint,
        sample_ids=[r.id for r in kept],
        seed=seed,
    )
    record = AdapterRecord(name, info.version, adapter.fingerprint["from_hash"], adapter.digest, adapter.fingerprint,
                           False, "")  # fmt: skip
    before = next((a for a in store.adapters(name, info.version) if a.from_hash == record.from_hash), None)
    report.digest, report.kind, report.sample = adapter.digest, adapter.kind, len(kept)
    report.mean_cosine, report.overlap_at_10 = adapter.held_out.mean_cosine, adapter.held_out.overlap_at_10
    report.score, report.verdict = held_out_score(record), verdict(record)
    if before is not None and before.serving:
        if report.verdict == "poor":  # never swap a serving adapter for one switch would refuse
            raise InvalidOptionError(
                f"the new fit is poor (held-out score {report.score:.3f} < {VERDICT_THRESHOLDS['usable']}): "
                f"v{info.version} keeps serving through the adapter {before.digest} it had"
            )
        record = AdapterRecord(**{**_fields(record), "serving": True})
        report.serving = True
    store.put_adapter(record, adapter.to_bytes())
    return report


def _fields(record: AdapterRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in AdapterRecord.__slots__}


def _embed_sample(
    store: VectorStore,
    provider: EmbeddingProvider[Any],
    rows: list[Row],
    cache: EmbeddingCache | None,
    report: AdaptReport,
    progress: Progress | None,
) -> dict[str, np.ndarray]:
    """id -> the new model's vector of its stored source, through the one streaming path with ONE store
    batch in flight: every call is cached as it returns, so a kill re-pays at most that batch."""
    fingerprint = provider.fingerprint("document")
    items = [Row(r.id, r.content_hash, r.text, r.uri, r.metadata) for r in rows]
    batches = ((chunk, None) for chunk in batched(items, store.settings.batch_size))
    found: dict[str, np.ndarray] = {}
    failed: dict[str, str] = {}
    for out, _ in _embed.stream(provider, cache, batches, fingerprint, window=1):
        if out.systemic is not None:
            raise out.systemic  # every item of a batch failed: the provider, not the items
        found.update((row.id, np.asarray(row.vector, dtype=np.float32)) for row in out.rows)
        failed.update(out.failed)
        report.embedded, report.cached = report.embedded + out.embedded, report.cached + out.cached
        if progress is not None:
            progress(len(out.rows) + len(out.failed))
    if failed:
        first = next(iter(failed))
        report.notes.append(f"{len(failed)} sampled item(s) failed and were left out (e.g. {first!r}: {failed[first]})")
    return found


def switch_via_adapter(
    store: VectorStore,
    name: str,
    to: str | EmbeddingProvider[Any] | None = None,
    *,
    dimensions: int | None = None,
    force: bool = False,
) -> tuple[VersionInfo, AdapterRecord]:
    """From now on the serving version answers queries embedded by the adapter's model (``to``: the
    model adapted to; may be left out when the version holds one adapter), mapped into its space. Refuses a
    ``poor`` adapter unless ``force``. One write; :func:`~.migration.rollback` undoes it."""
    info = require_serving(store, name)
    held = held_adapters(store, info)
    chosen = held[-1]
    if to is None and len(held) > 1:  # never guess which model the app will send queries from
        adapted = ", ".join(describe_adapter(a) for a in held)
        raise InvalidOptionError(
            f"v{info.version} of {name!r} holds adapters from {adapted}: name the model the queries will come "
            f"from with --to REF"
        )
    if to is not None:
        overrides = {"dimensions": dimensions} if dimensions is not None else {}
        provider = load_provider(model=to, **overrides) if isinstance(to, str) else to
        wanted = (provider.name, provider.model, dimensions)
        matches = [a for a in held if _same_model(a, *wanted)]
        if not matches:
            adapted = ", ".join(describe_adapter(a) for a in held)
            raise InvalidOptionError(
                f"v{info.version} of {name!r} holds no adapter from {provider.ref}, only from {adapted}: "
                f"run 'omnivec adapt {name} --to {provider.ref}' first"
            )
        exact = [a for a in matches if a.from_hash == provider.fingerprint("document").space().hash]
        chosen = (exact or matches)[-1]
    if verdict(chosen) == "poor" and not force:
        raise InvalidOptionError(
            f"the adapter from {describe_adapter(chosen)} is predicted poor (held-out score "
            f"{held_out_score(chosen):.3f} < {VERDICT_THRESHOLDS['usable']}): check it with 'omnivec compare {name} "
            f"--adapter', adapt on a larger --sample, or pass --force to serve it anyway"
        )
    store.serve_adapter(name, info.version, chosen.from_hash)
    return info, AdapterRecord(**{**_fields(chosen), "serving": True})


def _same_model(record: AdapterRecord, provider: str, model: str, dimensions: int | None) -> bool:
    source = record.meta["from"]
    same = (source.get("provider"), source.get("model")) == (provider, model)
    return same and (dimensions is None or int(source.get("dimensions", 0)) == dimensions)
