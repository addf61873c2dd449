"""Embedding beyond one machine: a ``ray.data.Dataset`` through an actor pool (the optional ``ray`` extra).

    >>> out = embed_dataset(ds, model="gemini:gemini-embedding-2", column="text", requests_per_second=50)
    >>> out.write_parquet("s3://bucket/vectors")            # or write_to_store(out, "postgresql://...", "docs", ...)

Why it is shaped this way:

* Each actor builds its provider from a :class:`ProviderSpec` (model reference + options, picklable),
  never from a pickled client: SDK clients hold sockets, locks and event loops that do not survive a
  trip to another process. Credentials come from the actor's own environment (an IAM role, a secret,
  ``env=`` for endpoint variables); secret settings are left out of the spec on purpose.
* The provider's quota is per account, not per process: N actors that each learn their own rate would
  together send N times the grant. One Ray actor (:func:`shared_budget`) holds the request and token
  budget; every actor reserves from it before each provider call (retries included) and waits locally,
  so the budget actor never blocks. Each actor's in-process learned limiter (``_rate.py``) still runs
  underneath and backs off on throttles.
* Failures are a column (``error_type``, ``error_message``; the vector is null), never dropped.
* ``import ray`` happens on first use, so this module imports without the extra installed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import errors as _errors
from ._rate import estimate_tokens
from ._validation import check_against, normalize_inputs
from .base import EmbeddingProvider
from .errors import EmbeddingError, InputError, InvalidOptionError, MissingDependencyError
from .inputs import Input
from .stores import _embed
from .stores.base import Row, fingerprint_hash
from .stores.collection import Sync
from .stores.sources import SourceItem, input_for
from .types import Intent

__all__ = ["ProviderSpec", "RaySync", "embed_dataset", "require_ray", "shared_budget", "write_to_store"]

ERROR_TYPE, ERROR_MESSAGE = "error_type", "error_message"


def require_ray() -> Any:
    """The ``ray`` module, or :class:`MissingDependencyError` naming the extra."""
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise MissingDependencyError(f'the Ray engine needs its extra: pip install "omnivec[ray]" ({exc})') from exc
    return ray


@dataclass(frozen=True)
class ProviderSpec:
    """What an actor needs to build its own provider: ``load_provider(model, **options)`` there."""

    model: str
    options: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, provider: EmbeddingProvider[Any]) -> ProviderSpec:
        """The spec of an existing provider: its reference and the settings it was given, minus secrets."""
        from pydantic import SecretStr

        dumped = provider.settings.model_dump(exclude_unset=True)
        return cls(provider.ref, {k: v for k, v in dumped.items() if not isinstance(v, SecretStr)})

    def build(self) -> EmbeddingProvider[Any]:
        from .config import load_provider

        return load_provider(self.model, **dict(self.options))


class _SharedBudget:
    """Requests/s and tokens/min for every actor of a job (GCRA: one booking per call, no waiting in here).

    ``reserve`` answers with the wall-clock time at which the call may go out, not a delay: a delay would
    start when the answer arrives, so RPC jitter would bunch calls booked apart. A node whose clock is off
    (NTP keeps it to milliseconds) sends with the same spacing, only shifted.
    """

    def __init__(self, requests_per_second: float | None, tokens_per_minute: float | None, burst: float) -> None:
        self.configure(requests_per_second, tokens_per_minute, burst)
        self.request_tat = self.token_tat = 0.0
        self.requests = self.tokens = 0
        self.waited_s = 0.0

    def configure(self, requests_per_second: float | None, tokens_per_minute: float | None, burst: float) -> None:
        self.rps, self.tps, self.burst = requests_per_second, (tokens_per_minute or 0) / 60.0 or None, burst

    def reserve(self, requests: int = 1, tokens: int = 0) -> float:
        """Book ``requests`` and ``tokens``; returns the ``time.time()`` at which the caller may send."""
        now = at = time.time()
        if self.rps:
            at = max(at, self.request_tat - (self.burst - 1) / self.rps)
        if self.tps and tokens:  # a call's tokens are paid after it: the next one waits for them
            at = max(at, self.token_tat)
        if self.rps:
            self.request_tat = max(self.request_tat, at) + requests / self.rps
        if self.tps and tokens:
            self.token_tat = max(self.token_tat, at) + tokens / self.tps
        self.requests, self.tokens, self.waited_s = (
            self.requests + requests,
            self.tokens + tokens,
            self.waited_s + at - now,
        )
        return at

    def snapshot(self) -> dict[str, float | int | None]:
        return {
            "requests_per_second": self.rps,
            "tokens_per_second": self.tps,
            "requests": self.requests,
            "tokens": self.tokens,
            "waited_s": round(self.waited_s, 3),
        }


def shared_budget(
    name: str, *, requests_per_second: float | None = None, tokens_per_minute: float | None = None, burst: float = 1.0
) -> Any:
    """The named budget actor of a quota (created, or found and re-configured): pass it as ``budget=``.

    Jobs of one Ray namespace that use the same ``name`` share the budget, as they share the quota.
    """
    if requests_per_second is None and tokens_per_minute is None:
        raise InvalidOptionError("shared_budget needs requests_per_second or tokens_per_minute (both are None)")
    for label, value in (("requests_per_second", requests_per_second), ("tokens_per_minute", tokens_per_minute)):
        if value is not None and not value > 0:
            raise InvalidOptionError(f"{label} must be > 0, got {value}")
    if not burst >= 1:
        raise InvalidOptionError(f"burst must be >= 1 request, got {burst}")
    ray = require_ray()
    actor = ray.remote(num_cpus=0)(_SharedBudget).options(name=f"omnivec-budget:{name}", get_if_exists=True)
    handle = actor.remote(requests_per_second, tokens_per_minute, burst)
    ray.get(handle.configure.remote(requests_per_second, tokens_per_minute, burst))
    return handle


def _gate(provider: EmbeddingProvider[Any], budget: Any, count_tokens: bool) -> None:
    """Reserve from the shared budget before each provider call of this actor (each retry is a call)."""
    inner = provider._embed_batch

    async def gated(batch: Sequence[Input], *, intent: Intent) -> Any:
        send_at = await budget.reserve.remote(1, estimate_tokens(batch) if count_tokens else 0)
        wait = send_at - time.time()
        if wait > 0:
            await asyncio.sleep(wait)
        return await inner(batch, intent=intent)

    provider._embed_batch = gated  # type: ignore[method-assign]


def _describe(exc: BaseException) -> tuple[str, str]:
    return type(exc).__name__, " ".join(str(exc).split())


class _Embedder:
    """One actor of the pool: builds its provider once, then embeds Arrow batches, failures as columns."""

    def __init__(
        self,
        spec: ProviderSpec,
        column: str,
        intent: Intent,
        output: str,
        budget: Any = None,
        count_tokens: bool = False,
        uri_column: str | None = None,
        expect: str | None = None,
    ) -> None:
        self.provider = spec.build()
        if expect is not None and not _embed.same_space(expect, self.provider):
            got = fingerprint_hash(_embed.normalized_fingerprint(self.provider))
            raise InvalidOptionError(
                f"the actor's {spec.model} embeds in space #{got}, the job expects #{expect}: give the actors the "
                "driver's configuration (options= or env= for OMNIVEC_* settings)"
            )
        if budget is not None:
            _gate(self.provider, budget, count_tokens)
        self.column, self.intent, self.output, self.uri_column = column, intent, output, uri_column

    def _input(self, value: Any, uri: Any) -> Input:
        item = input_for(value, uri) if self.uri_column is not None else value
        normalized = normalize_inputs(item)
        if len(normalized) != 1:
            raise _errors.InvalidInputError(f"a row must hold one input, got {len(normalized)}")
        check_against(normalized, self.provider.capabilities, model=self.provider.ref)
        return normalized[0]

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        if self.column not in batch.column_names:
            raise InvalidOptionError(
                f"column {self.column!r} is not in the dataset (columns: {batch.column_names}): pass column="
            )
        values = batch.column(self.column).to_pylist()
        uris = batch.column(self.uri_column).to_pylist() if self.uri_column else [None] * len(values)
        n, dims = len(values), self.provider.dimensions
        vectors = np.full((n, dims), np.nan, dtype=np.float32)
        kinds: list[str | None] = [None] * n
        messages: list[str | None] = [None] * n
        rows, inputs = [], []
        for i, (value, uri) in enumerate(zip(values, uris, strict=True)):
            try:
                inputs.append(self._input(value, uri))
                rows.append(i)
            except EmbeddingError as exc:
                kinds[i], messages[i] = _describe(exc)
        if inputs:
            result = self.provider.embed_sync(inputs, intent=self.intent, errors="collect")
            vectors[rows] = result.vectors
            for offset, error in result.failures.items():
                kinds[rows[offset]], messages[rows[offset]] = _describe(error)
        failed = np.array([k is not None for k in kinds], dtype=bool)
        embedding = pa.FixedSizeListArray.from_arrays(
            pa.array(vectors.ravel(), pa.float32()), dims, mask=pa.array(failed)
        )
        for name in (self.output, ERROR_TYPE, ERROR_MESSAGE):
            if name in batch.column_names:
                batch = batch.drop_columns([name])
        return (
            batch.append_column(self.output, embedding)
            .append_column(ERROR_TYPE, pa.array(kinds, pa.string()))
            .append_column(ERROR_MESSAGE, pa.array(messages, pa.string()))
        )


def embed_dataset(
    ds: Any,
    *,
    model: str | ProviderSpec,
    column: str = "text",
    intent: Intent = "document",
    options: Mapping[str, Any] | None = None,
    actors: int = 2,
    batch_size: int | None = None,
    requests_per_second: float | None = None,
    tokens_per_minute: float | None = None,
    budget: Any = None,
    num_cpus: float = 0.25,
    env: Mapping[str, str] | None = None,
    output_column: str = "embedding",
    uri_column: str | None = None,
) -> Any:
    """``ds`` plus a vector column (null where the row failed) and ``error_type`` / ``error_message``.

    Lazy, like every Ray Data transform: write it (``.write_parquet``, :func:`write_to_store`) or iterate it.
    ``actors`` fixed-size pool, ``num_cpus`` each (remote calls need little CPU); ``batch_size`` rows per actor
    call (default: enough for the provider's concurrency); ``requests_per_second`` / ``tokens_per_minute``
    create the job's shared budget (or pass one from :func:`shared_budget`); ``env`` sets environment
    variables in the actors (endpoints, ``OMNIVEC_*`` settings — not secrets).
    """
    ray = require_ray()
    spec = model if isinstance(model, ProviderSpec) else ProviderSpec(model, dict(options or {}))
    if isinstance(model, ProviderSpec) and options:
        raise InvalidOptionError("options= is given twice: inside the ProviderSpec and as options=; pass one")
    if not isinstance(actors, int) or actors < 1:
        raise InvalidOptionError(f"actors must be an integer >= 1, got {actors!r}")
    if batch_size is not None and batch_size < 1:
        raise InvalidOptionError(f"batch_size must be >= 1, got {batch_size}")
    schema = ds.schema(fetch_if_missing=False)  # known without running anything, or None: checked in the actors
    if schema is not None and column not in schema.names:
        raise InvalidOptionError(f"column {column!r} is not in the dataset (columns: {schema.names}): pass column=")
    provider = spec.build()  # validates model and options here, before any actor or network call
    expect = fingerprint_hash(_embed.normalized_fingerprint(provider))
    if budget is None and (requests_per_second is not None or tokens_per_minute is not None):
        budget = shared_budget(
            f"{provider.rate_key()}", requests_per_second=requests_per_second, tokens_per_minute=tokens_per_minute
        )
    size = batch_size or max(64, min(1024, provider.capabilities.max_batch_size * provider.concurrency_ceiling))
    remote_args: dict[str, Any] = {"runtime_env": {"env_vars": dict(env)}} if env else {}
    return ds.map_batches(
        _Embedder,
        batch_size=size,
        batch_format="pyarrow",
        num_cpus=num_cpus,
        compute=ray.data.ActorPoolStrategy(size=actors),
        zero_copy_batch=True,
        fn_constructor_kwargs={
            "spec": spec,
            "column": column,
            "intent": intent,
            "output": output_column,
            "budget": budget,
            "count_tokens": tokens_per_minute is not None,
            "uri_column": uri_column,
            "expect": expect,
        },
        **remote_args,
    )


def _vectors(column: Any, dims: int) -> np.ndarray:
    """An Arrow fixed-size-list column as an (n, dims) float32 matrix (null rows: whatever they hold)."""
    array = column.combine_chunks() if hasattr(column, "combine_chunks") else column
    flat = np.asarray(array.values.to_numpy(zero_copy_only=False), dtype=np.float32)
    return flat[array.offset * dims : (array.offset + len(array)) * dims].reshape(len(array), dims)


def _results(
    batches: Iterable[Any], output: str, dims: int
) -> Iterator[tuple[list[str], np.ndarray, list[Any], list[Any]]]:
    for batch in batches:
        yield (
            [str(i) for i in batch.column("id").to_pylist()],
            _vectors(batch.column(output), dims),
            batch.column(ERROR_TYPE).to_pylist(),
            batch.column(ERROR_MESSAGE).to_pylist(),
        )


def _systemic(kinds: list[Any], messages: list[Any]) -> EmbeddingError | None:
    """Every row of a batch failed, and not for its input: the provider is the problem (as in ``_embed``)."""
    if not kinds or any(k is None for k in kinds):
        return None
    cls = getattr(_errors, str(kinds[0]), None)
    if isinstance(cls, type) and issubclass(cls, InputError):
        return None
    return EmbeddingError(f"every item of a batch failed: {kinds[0]}: {messages[0]}")


class RaySync(Sync):
    """``Sync`` (the write loop of ``index`` / ``migrate`` / ``switch``) with the embedding on Ray.

    Same protocol: diff by id + content hash against the target (the checkpoint), the cost cap checked
    per source batch, the shared cache consulted and filled here in the driver, one commit per result
    batch, by this one writer. Items go to Ray in windows of ``window`` items (memory stays bounded);
    a crash loses at most the batches in flight, and the next run embeds only what is missing.
    """

    def __init__(
        self, *args: Any, ray_options: Mapping[str, Any] | None = None, window: int = 20_000, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.ray_options, self.window = dict(ray_options or {}), window

    def run(self, batches: Iterable[list[SourceItem]], progress: Any = None) -> None:
        self._run_windowed(batches, self.window, progress)

    def _flush(self, group: list[SourceItem], progress: Any) -> None:
        items = {item.id: item for item in group}
        fingerprint = self.provider.fingerprint("document")
        found = self.cache.get(fingerprint, [i.content_hash for i in items.values()]) if self.cache is not None else {}
        cached = [i for i in items.values() if i.content_hash in found]
        for start in range(0, len(cached), self.store.settings.batch_size):
            part = cached[start : start + self.store.settings.batch_size]
            rows = [Row(i.id, i.content_hash, i.text, i.uri, i.metadata, found[i.content_hash]) for i in part]
            self._commit(_embed.Embedded(rows=rows, cached=len(rows)), progress, len(rows))
        live = [{"id": i.id, "text": i.text, "uri": i.uri} for i in items.values() if i.content_hash not in found]
        if not live:
            return
        ray = require_ray()
        options = {"actors": 2, **self.ray_options}
        out = embed_dataset(
            ray.data.from_items(live),
            model=ProviderSpec.of(self.provider),
            column="text",
            uri_column="uri",
            intent="document",
            **options,
        )
        dims = self.provider.dimensions
        for ids, vectors, kinds, messages in _results(
            out.iter_batches(batch_size=self.store.settings.batch_size, batch_format="pyarrow"), "embedding", dims
        ):
            done = _embed.Embedded(systemic=_systemic(kinds, messages))
            ok = [n for n, kind in enumerate(kinds) if kind is None]
            for n in ok:
                item = items[ids[n]]
                done.rows.append(Row(item.id, item.content_hash, item.text, item.uri, item.metadata, vectors[n]))
            done.failed.update(
                (ids[n], f"{kinds[n]}: {messages[n]}") for n, kind in enumerate(kinds) if kind is not None
            )
            done.embedded = len(ok)
            if self.cache is not None and ok:
                self.cache.put(fingerprint, [items[ids[n]].content_hash for n in ok], vectors[ok])
            self._commit(done, progress, len(ids))


def write_to_store(
    ds: Any,
    store: str,
    collection: str,
    *,
    model: str | ProviderSpec,
    options: Mapping[str, Any] | None = None,
    id_column: str = "id",
    text_column: str = "text",
    output_column: str = "embedding",
    batch_size: int | None = None,
) -> dict[str, Any]:
    """Write the output of :func:`embed_dataset` into a collection's serving version (created if new).

    The driver is the one writer: one upsert (one commit) per batch by id, so a re-run replaces, never
    duplicates. The collection's stored fingerprint must match ``model``'s (checked before any write).
    Other columns become metadata. Returns ``{"collection", "version", "written", "failed": {id: "Type: message"}}``.
    """
    from .cache import content_key
    from .stores import _embed, open_store
    from .stores.collection import _ensure_collection

    provider = (model if isinstance(model, ProviderSpec) else ProviderSpec(model, dict(options or {}))).build()
    written, failed = 0, {}
    skip = {id_column, text_column, output_column, ERROR_TYPE, ERROR_MESSAGE}
    with open_store(store) as st:
        version, _, _ = _ensure_collection(st, collection, provider)
        with st.lock(collection, version.version):
            for batch in ds.iter_batches(batch_size=batch_size or st.settings.batch_size, batch_format="pyarrow"):
                ids = [str(i) for i in batch.column(id_column).to_pylist()]
                texts = batch.column(text_column).to_pylist()
                vectors = _vectors(batch.column(output_column), provider.dimensions)
                kinds, messages = batch.column(ERROR_TYPE).to_pylist(), batch.column(ERROR_MESSAGE).to_pylist()
                extra = {c: batch.column(c).to_pylist() for c in batch.column_names if c not in skip}
                rows = []
                for n, item_id in enumerate(ids):
                    if kinds[n] is not None:
                        failed[item_id] = f"{kinds[n]}: {messages[n]}"
                    else:
                        metadata = {c: values[n] for c, values in extra.items()}
                        rows.append(Row(item_id, content_key(texts[n]), texts[n], None, metadata, vectors[n]))
                st.upsert(collection, version.version, rows, fingerprint=_embed.normalized_fingerprint(provider))
                written += len(rows)
    return {"collection": collection, "version": version.version, "written": written, "failed": failed}
