"""Ray for the stores: the write loop's embedding on a Ray actor pool, and :func:`write_to_store`.

``Ray(actors=8, requests_per_second=40)`` as ``engine=`` of ``index`` / ``migrate``: the same diff,
cost cap, shared cache and per-batch commits by this one writer (:class:`.writer.StoreWriter`), so the
same guarantees. Items go to Ray in windows of ``window`` items (memory stays bounded); a crash loses
at most the batches in flight, and the next run embeds only what is missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar

import numpy as np

from .. import errors as _errors
from ..base import EmbeddingProvider
from ..cache import content_key
from ..errors import EmbeddingError
from ..inputs import Input
from ..ray import ERROR_MESSAGE, ERROR_TYPE, ProviderSpec, embed_dataset, require_ray
from ..types import EmbeddingResult
from .base import Row
from .registry import open_store
from .serving import ensure_collection
from .sources import SourceItem
from .writer import Engine, StoreWriter

__all__ = ["Ray", "write_to_store"]


class Ray(Engine):
    """Embed on a Ray actor pool; ``options`` go to :func:`omnivec.providers.ray.embed_dataset`
    (``actors``, ``requests_per_second``, ``tokens_per_minute``, ``env``...)."""

    name: ClassVar[str] = "ray"

    def __init__(self, *, window: int = 20_000, **options: Any) -> None:
        self.window, self.options = window, {"actors": 2, **options}

    def require(self) -> None:
        require_ray()  # the missing extra is named before anything is created

    def embed_group(
        self, writer: StoreWriter, items: list[SourceItem], inputs: list[Input]
    ) -> Iterator[tuple[list[int], EmbeddingResult]]:
        ray = require_ray()
        rows = [{"id": str(n), "text": item.text, "uri": item.uri} for n, item in enumerate(items)]
        out = embed_dataset(
            ray.data.from_items(rows),
            model=ProviderSpec.of(writer.provider),
            column="text",
            uri_column="uri",
            intent="document",
            **self.options,
        )
        batches = out.iter_batches(batch_size=writer.store.settings.batch_size, batch_format="pyarrow")
        for ids, vectors, kinds, messages in _results(batches, "embedding", writer.provider.dimensions):
            failures = {n: _error(kind, messages[n]) for n, kind in enumerate(kinds) if kind is not None}
            yield [int(i) for i in ids], EmbeddingResult(vectors, writer.fingerprint, failures=failures)


def _error(kind: str, message: str) -> EmbeddingError:
    """A failure column back as the error it was in the actor (its class, when it is one of ours)."""
    cls = getattr(_errors, kind, None)
    cls = cls if isinstance(cls, type) and issubclass(cls, EmbeddingError) else EmbeddingError
    return cls(f"{kind}: {message}")


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
    """Write the output of :func:`omnivec.providers.ray.embed_dataset` into a collection's serving
    version (created if new).

    The driver is the one writer: one upsert (one commit) per batch by id, so a re-run replaces, never
    duplicates. The collection's stored fingerprint must match ``model``'s (checked before any write).
    Other columns become metadata. Returns ``{"collection", "version", "written", "failed": {id: "Type: message"}}``.
    """
    provider: EmbeddingProvider[Any] = (
        model if isinstance(model, ProviderSpec) else ProviderSpec(model, dict(options or {}))
    ).build()
    fingerprint = provider.fingerprint("document").space().to_stored()
    written, failed = 0, {}
    skip = {id_column, text_column, output_column, ERROR_TYPE, ERROR_MESSAGE}
    with open_store(store) as st:
        version, _, _ = ensure_collection(st, collection, provider)
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
                st.upsert(collection, version.version, rows, fingerprint=fingerprint)
                written += len(rows)
    return {"collection": collection, "version": version.version, "written": written, "failed": failed}
