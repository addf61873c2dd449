"""Embedding beyond one machine: a ``ray.data.Dataset`` through an actor pool (the optional ``ray`` extra).

    >>> out = embed_dataset(ds, model="gemini:gemini-embedding-2", column="text", requests_per_second=50)
    >>> out.write_parquet("s3://bucket/vectors")            # or stores.write_to_store(out, "postgresql://...", ...)

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import errors as _errors
from ._rate import estimate_tokens
from ._ray_budget import require_ray, shared_budget
from ._validation import check_against, normalize_inputs
from .base import EmbeddingProvider
from .errors import EmbeddingError, InvalidOptionError
from .inputs import Input, input_for
from .types import Intent

__all__ = ["ERROR_MESSAGE", "ERROR_TYPE", "ProviderSpec", "embed_dataset", "require_ray", "shared_budget"]

ERROR_TYPE, ERROR_MESSAGE = "error_type", "error_message"


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
        got = self.provider.fingerprint("document").space().hash
        if expect is not None and got != expect:
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

    Lazy, like every Ray Data transform: write it (``.write_parquet``, ``stores.write_to_store``) or iterate it.
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
    expect = provider.fingerprint("document").space().hash
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
