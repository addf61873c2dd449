"""The one write loop of ``index``, ``migrate`` and ``switch``, and the engines that feed it vectors.

:class:`StoreWriter` diffs each source batch by id + content hash against the target version (the
checkpoint), books its estimated cost against ``max_cost``, prepares it (the shared cache answers
first), finishes it (rows, failures by id, the "every item failed" check, caching) and commits it.
An :class:`Engine` only says how a group of prepared inputs becomes vectors:

* :class:`Online` (the default): store batches stream through the core's ``embed_stream``, the
  next ``_embed.STORE_WINDOW`` batches embedding while one is committed;
* ``BatchAPI`` (:mod:`.engines`): windows of items as provider batch jobs, half the price;
* ``Ray`` (:mod:`.ray_engine`): windows of items on a Ray actor pool.

A kill at any point loses at most the batches in flight; the next run embeds only those.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .._rate import tokens_for_chars
from ..base import EmbeddingProvider
from ..cache import EmbeddingCache
from ..errors import AuthenticationError, ConfigurationError, ProviderTimeoutError, ServiceUnavailableError
from ..inputs import Input
from ..types import EmbeddingResult
from . import _embed
from .base import Row, VectorStore
from .errors import MigrationIncompleteError
from .sources import SourceItem

__all__ = ["Engine", "IndexReport", "Online", "Progress", "StoreWriter"]

Progress = Callable[[int], None]
_UNREACHABLE = (ServiceUnavailableError, ProviderTimeoutError, AuthenticationError, ConfigurationError)


@dataclass
class IndexReport:
    collection: str
    version: int
    seen: int = 0
    unchanged: int = 0
    embedded: int = 0
    cached: int = 0
    input_tokens: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    created: bool = False
    relabeled: int = 0
    """Items whose metadata alone changed: rewritten with their stored vector, not embedded again."""
    not_in_source: int = 0
    """Stored items the source no longer has (deleted with ``prune=True``, else kept and counted)."""
    pruned: int = 0
    index: str | None = None
    """The ANN index this run built (the collection passed ``index_min_rows``), if any."""
    lexical_index: str | None = None
    """The full-text index this run built (stores with the ``lexical`` feature; once per version)."""


class Engine:
    """How a group of items becomes vectors. ``window`` None: the online stream (:class:`Online`);
    otherwise up to ``window`` items still to embed are gathered and handed to :meth:`embed_group`."""

    name: ClassVar[str] = "online"
    window: int | None = None
    price_factor: float = 1.0
    """Multiplies the online price per token for ``max_cost`` (the batch API costs half)."""

    def require(self) -> None:
        """Refuse, in one line, before anything is opened, when this engine cannot run here (an extra)."""

    def check(self, provider: EmbeddingProvider[Any]) -> None:
        """Refuse, in one line, before any call, a provider this engine cannot embed with."""

    def embed_group(
        self, writer: StoreWriter, items: list[SourceItem], inputs: list[Input]
    ) -> Iterator[tuple[list[int], EmbeddingResult]]:
        """Vectors for ``inputs`` (``items[i]`` is the item of ``inputs[i]``), as ``(positions, result)``
        parts in any order; the writer finishes and commits each part before asking for the next."""
        raise NotImplementedError(f"the {self.name} engine streams: it embeds no groups")


class Online(Engine):
    """Each store batch is one chunk of the shared stream (:func:`._embed.stream`)."""


class StoreWriter:
    """Write ``batches`` of source items into ``version`` of collection ``name``, embedding by ``engine``."""

    def __init__(
        self,
        store: VectorStore,
        name: str,
        version: int,
        provider: EmbeddingProvider[Any],
        cache: EmbeddingCache | None,
        report: IndexReport,
        engine: Engine | None = None,
        *,
        price_per_token: float = 0.0,
        max_cost: float | None = None,
    ) -> None:
        self.store, self.name, self.version, self.provider, self.cache = store, name, version, provider, cache
        self.engine = engine or Online()
        self.report, self.max_cost, self.spent = report, max_cost, 0.0
        self.price = price_per_token * self.engine.price_factor
        self.fingerprint = provider.fingerprint("document")  # once per run: cache keys, and the store's check
        self.stored_fingerprint = self.fingerprint.space().to_stored()
        self.stopped = False

    def run(self, batches: Iterable[list[SourceItem]], progress: Progress | None = None) -> None:
        if self.engine.window is None:
            self._stream(batches, progress)
        else:
            self._windowed(batches, self.engine.window, progress)

    def raise_if_incomplete(self, run: str, missing_from: str) -> None:
        """End a migration or a move the same way when it fell short: at the spend cap (rerun with a
        higher cap to resume) or with items that failed for good (named, at most ten).

        ``run`` names the run in the message ("migration of 'docs' to REF"), ``missing_from`` where the
        failed items are not ("version 2")."""
        if self.stopped:
            raise MigrationIncompleteError(
                f"{run} stopped at the spend cap (${self.max_cost}) after about ${self.spent:.4f}: "
                "run the same command with a higher --max-cost to resume"
            )
        if self.report.failed:
            failed = sorted(self.report.failed)
            raise MigrationIncompleteError(
                f"{len(failed)} item(s) failed for good and are not in {missing_from}: {', '.join(failed[:10])}"
                f"{' ...' if len(failed) > 10 else ''}; fix or remove them and run again",
                failed_ids=failed,
            )

    def _todo(self, batch: list[SourceItem]) -> list[SourceItem]:
        """The items to embed; items whose content is unchanged but metadata is not are rewritten
        here with their stored vector (one commit, nothing embedded)."""
        latest = {item.id: item for item in batch}  # a repeated id in one batch: the last one wins
        have = {row.id: row for row in self.store.rows(self.name, self.version, list(latest))}
        todo = [i for i in latest.values() if i.id not in have or have[i.id].content_hash != i.content_hash]
        fresh = {i.id for i in todo}
        relabel = [i.id for i in latest.values() if i.id not in fresh and dict(have[i.id].metadata) != dict(i.metadata)]
        if relabel:
            stored = self.store.rows(self.name, self.version, relabel, vectors=True)
            rows = [Row(r.id, r.content_hash, r.text, r.uri, latest[r.id].metadata, r.vector) for r in stored]
            self.store.upsert(self.name, self.version, rows, fingerprint=self.stored_fingerprint)
            self.report.relabeled += len(rows)
        self.report.seen += len(batch)
        self.report.unchanged += len(latest) - len(todo) - len(relabel)
        return todo

    def _afford(self, todo: list[SourceItem]) -> bool:
        """Book ``todo``'s estimated cost; False (and ``stopped``) past ``max_cost``."""
        cost = tokens_for_chars(sum(len(i.text or "") for i in todo)) * self.price
        if self.max_cost is not None and self.spent + cost > self.max_cost:
            self.stopped = True
            return False
        self.spent += cost
        return True

    def _commit(self, embedded: _embed.Embedded, progress: Progress | None, size: int) -> None:
        if embedded.systemic is not None:
            raise embedded.systemic
        if embedded.rows:
            self.store.upsert(self.name, self.version, embedded.rows, fingerprint=self.stored_fingerprint)
        self.report.embedded += embedded.embedded
        self.report.cached += embedded.cached
        self.report.input_tokens += embedded.input_tokens
        self.report.failed.update(embedded.failed)
        if progress is not None:
            progress(size)

    def _stream(self, batches: Iterable[list[SourceItem]], progress: Progress | None) -> None:
        """Diff each batch, then embed what is left through the shared stream: batch i is committed
        here while the next ``_embed.STORE_WINDOW`` batches are embedded."""

        def todos() -> Iterator[tuple[list[SourceItem], int]]:  # read on this thread, as the stream asks
            probe = True
            for batch in batches:
                todo = self._todo(batch)
                if not self._afford(todo):
                    return
                if probe and len(todo) > 1:  # the first call alone: an unreachable endpoint fails after one
                    yield todo[:1], -1  # call's retries, not after a whole batch's (548 s were seen)
                    todo = todo[1:]
                probe = probe and not todo
                yield todo, len(batch)

        stream = _embed.stream(self.provider, self.cache, todos(), self.fingerprint)
        with closing(stream) as results:  # a failed commit stops the calls
            for embedded, size in results:
                if size == -1:  # the probe: only an unreachable or refusing endpoint stops the run
                    if embedded.systemic is not None and not isinstance(embedded.systemic, _UNREACHABLE):
                        embedded.systemic = None
                    size = 0
                self._commit(embedded, progress, size)

    def _windowed(self, batches: Iterable[list[SourceItem]], window: int, progress: Progress | None) -> None:
        """Gather up to ``window`` items still to do, then embed them as one group; unchanged ones
        count as progress at once."""
        pending: dict[str, SourceItem] = {}
        for batch in batches:
            todo = self._todo(batch)
            if not self._afford(todo):
                break
            pending.update((item.id, item) for item in todo)
            if progress is not None and len(todo) < len(batch):
                progress(len(batch) - len(todo))
            if len(pending) >= window:
                self._group(list(pending.values()), progress)
                pending = {}
        if pending:
            self._group(list(pending.values()), progress)

    def _group(self, items: list[SourceItem], progress: Progress | None) -> None:
        prepared = _embed.prepare(self.provider, items, self.cache, self.fingerprint)
        self._commit_parts(_embed.finish(prepared.cached_part(), None, None, self.fingerprint), progress)
        live = [prepared.ready[n] for n in prepared.live]
        for positions, result in self.engine.embed_group(self, live, prepared.inputs):
            part = prepared.part(positions)
            self._commit_parts(_embed.finish(part, result, self.cache, self.fingerprint), progress)

    def _commit_parts(self, out: _embed.Embedded, progress: Progress | None) -> None:
        """One commit per ``batch_size`` rows (the counts go with the first)."""
        size = self.store.settings.batch_size
        if out.systemic is not None:
            raise out.systemic
        for start in range(0, max(len(out.rows), 1), size):
            part = _embed.Embedded(rows=out.rows[start : start + size])
            if start == 0:
                part.failed, part.cached, part.embedded = out.failed, out.cached, out.embedded
                part.input_tokens = out.input_tokens
            self._commit(part, progress, len(part.rows) + len(part.failed))
