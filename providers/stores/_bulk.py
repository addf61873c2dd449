"""``bulk="batch"`` for ``index`` / ``migrate``: what the diff finds goes to the provider's batch API.

Half the online price (the Gemini Batch API), latency of minutes to hours. The write loop keeps
:class:`Sync`'s protocol: diff by id + content hash against the target (the checkpoint), the cost cap
(at the batch price), the shared cache read and filled here, commits of ``batch_size`` rows by this one
writer. Items go out in windows of ``window`` inputs; each window's jobs are recorded in a state file
(``./.omnivec-batches/<collection>-v<version>.json``) before anything is awaited, so a killed run that is started
again resumes the same jobs instead of paying twice, and the file is removed once the window is committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .._concurrency import _background_loop
from ..base import EmbeddingProvider
from ..cache import EmbeddingCache
from ..errors import InvalidOptionError
from . import _embed
from .collection import IndexReport, Progress, Sync
from .sources import SourceItem

__all__ = ["BATCH_PRICE_FACTOR", "BULK_MODES", "BulkSync", "bulk_sync", "check_bulk"]

BULK_MODES = ("online", "batch")
BATCH_PRICE_FACTOR = 0.5
"""Batch jobs cost half the online price (Gemini Batch API, 2025-09 announcement); used by ``--max-cost``."""
DEFAULT_STATE_DIR = ".omnivec-batches"
"""Where batch job state files go, relative to the working directory (like the default LanceDB store)."""


def check_bulk(bulk: str, provider: EmbeddingProvider[Any] | None = None) -> None:
    """Refuse an unknown mode, or ``batch`` with a provider that has no batch API, before any call."""
    if bulk not in BULK_MODES:
        raise InvalidOptionError(f"bulk must be 'online' or 'batch', got {bulk!r}")
    if bulk == "batch" and provider is not None and not hasattr(provider, "embed_bulk"):
        raise InvalidOptionError(
            f"bulk='batch' needs a provider with a batch API (gemini:...); {provider.ref} has none: use bulk='online'"
        )


def bulk_sync(
    bulk: str,
    store: Any,
    name: str,
    version: int,
    provider: EmbeddingProvider[Any],
    cache: EmbeddingCache | None,
    report: IndexReport,
    price_per_token: float = 0.0,
    max_cost: float | None = None,
) -> Sync:
    """The write loop for ``bulk``: :class:`Sync` online, :class:`BulkSync` for batch jobs."""
    check_bulk(bulk, provider)
    cls = BulkSync if bulk == "batch" else Sync
    return cls(store, name, version, provider, cache, report, price_per_token, max_cost)


class BulkSync(Sync):
    """:class:`Sync` whose embedding is batch jobs (``provider.embed_bulk``), resumable by state file."""

    def __init__(
        self, *args: Any, window: int = 50_000, poll_s: float = 30.0, state_dir: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.price *= BATCH_PRICE_FACTOR
        self.window, self.poll_s = window, poll_s
        folder = Path(state_dir or DEFAULT_STATE_DIR)
        self.state_path = folder / f"{self.name}-v{self.version}.json"

    def run(self, batches: Iterable[list[SourceItem]], progress: Progress | None = None) -> None:
        self._run_windowed(batches, self.window, progress)

    def _flush(self, items: list[SourceItem], progress: Progress | None) -> None:
        def by_batch_api(inputs: list[Any]) -> Any:
            return self.provider.embed_bulk(  # type: ignore[attr-defined]
                inputs,
                intent="document",
                state_path=self.state_path,
                poll_s=self.poll_s,
                errors="collect",
                keep_state=True,
            )

        # The same lookup / failures / caching as the online path; only the embedding call differs.
        job = _embed._embed(self.provider, items, self.cache, by_batch_api)
        out = asyncio.run_coroutine_threadsafe(job, _background_loop()).result()
        rows = out.rows
        size = self.store.settings.batch_size
        for start in range(0, max(len(rows), 1), size):  # one commit per batch_size rows; counts go with the first
            part = _embed.Embedded(rows=rows[start : start + size])
            if start == 0:
                part.failed, part.cached, part.embedded = out.failed, out.cached, out.embedded
                part.input_tokens, part.systemic = out.input_tokens, out.systemic
            self._commit(part, None, 0)
        if progress is not None:
            progress(len(items))
        self.state_path.unlink(missing_ok=True)  # committed: the jobs are not needed again
