"""``embed_stream``: any number of inputs in bounded memory, results in order, resumable.

The stream reads inputs chunk by chunk and keeps at most ``window`` chunks in flight, each one an
ordinary ``embed`` call on the provider (so they share its concurrency limit and rate budget, and
the calls of the next chunk start while the tail of the previous one finishes). It reads further
only when the consumer asks for the next chunk: that is the back-pressure.

A checkpoint stores one number, how many leading inputs were delivered and handed back (the
consumer asked for the chunk after them, or the stream ended); a file checkpoint also keeps a digest
of the first inputs, so a restart with another list is refused instead of skipping inputs it never
embedded. A restarted job passing the same inputs and checkpoint skips that many without embedding them. Delivery is at-least-once: a chunk
the consumer received but did not come back from is sent again after a restart.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterable, Iterable
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

import numpy as np
import numpy.typing as npt

from .cache import content_key
from .errors import EmbeddingError, InputError, InvalidOptionError
from .inputs import Fused, Image, Input, Media
from .types import EmbeddingResult, Intent

if TYPE_CHECKING:
    from .base import EmbeddingProvider

__all__ = ["Checkpoint", "FileCheckpoint", "StreamChunk", "stream_embeddings"]

T = TypeVar("T")


@runtime_checkable
class Checkpoint(Protocol):
    """Where a stream keeps how many leading inputs are done. Any object with these two methods."""

    def load(self) -> int:
        """Inputs already done (0 for a new job)."""
        ...

    def save(self, done: int) -> None:
        """Record that the first ``done`` inputs are delivered; called after each chunk."""
        ...


class FileCheckpoint:
    """The offset in a small JSON file (``{"done": n, "head": digest}``), replaced atomically so a
    crash never tears it; ``head`` identifies the inputs it counts (their first ``HEAD_ITEMS``)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.head: str | None = None
        """Digest of the stream's first inputs (see :class:`_Head`): a restart with other inputs is refused."""
        if self.path.is_dir():
            raise InvalidOptionError(
                f"checkpoint {self.path} is a folder: give a file path, e.g. {self.path / 'job.json'}"
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)  # as embed_bulk's state_path: never fail after paying

    def load(self) -> int:
        if not self.path.exists():
            return 0
        try:
            saved = json.loads(self.path.read_text())
            self.head = saved.get("head")
            return int(saved["done"])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InvalidOptionError(
                f'checkpoint {self.path} is not an omnivec checkpoint ({{"done": n}}): delete it to start over'
            ) from exc

    def save(self, done: int) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps({"done": done, **({"head": self.head} if self.head else {})}))
        os.replace(tmp, self.path)


@dataclass(frozen=True, slots=True)
class StreamChunk:
    """Results for inputs ``start`` … ``start + len(chunk) - 1`` of the stream, in order."""

    start: int
    result: EmbeddingResult
    """Rows of this chunk; its own ``failures`` are keyed by row (use :attr:`failures` for stream indices)."""

    def __len__(self) -> int:
        return len(self.result)

    @property
    def end(self) -> int:
        """Stream index after this chunk's last input."""
        return self.start + len(self.result)

    @property
    def vectors(self) -> npt.NDArray[np.float32]:
        return self.result.vectors

    @property
    def failures(self) -> dict[int, EmbeddingError]:
        """Failed inputs by their index in the whole stream."""
        return {self.start + row: exc for row, exc in self.result.failures.items()}


async def _each(inputs: AsyncIterable[T] | Iterable[T]) -> AsyncGenerator[T, None]:
    if isinstance(inputs, AsyncIterable):
        async for item in inputs:
            yield item
    else:
        for item in inputs:
            yield item


HEAD_ITEMS = 16


class _Head:
    """The digest of a stream's first ``HEAD_ITEMS`` inputs, checked against the one a file
    checkpoint recorded: its count alone would let a restart with another list skip inputs it never
    embedded. Known before the first chunk of ``HEAD_ITEMS`` or more inputs is sent."""

    def __init__(self, store: FileCheckpoint | None) -> None:
        self.store, self.seen, self.digest = store, 0, hashlib.sha256()

    def see(self, item: Any) -> None:
        if self.store is None or self.seen >= HEAD_ITEMS:
            return
        self.digest.update(content_key(item).encode() if isinstance(item, (str, Image, Media, Fused)) else b"?")
        self.seen += 1
        if self.seen == HEAD_ITEMS:
            self.end()

    def end(self) -> None:
        if self.store is None or self.store.head == (value := self.digest.hexdigest()):
            return
        if self.store.head is not None:
            raise InvalidOptionError(
                f"checkpoint {self.store.path} was written for other inputs (their first {self.seen} differ): "
                "pass the same inputs in the same order, or delete it to start over"
            )
        self.store.head = value


async def _chunks(inputs: Any, size: int | None, skip: int, head: _Head) -> AsyncGenerator[list[Input], None]:
    """The inputs after the first ``skip``, cut into lists of ``size``; or (``size`` None) the
    caller's own lists as they come, empty ones included."""
    batch: list[Input] = []
    async with aclosing(_each(inputs)) as source:
        async for item in source:
            for part in item if size is None else (item,):
                head.see(part)
            if size is None:  # a given chunk wholly inside the done prefix (an empty one too) is left out
                if skip:
                    cut = min(skip, len(item))
                    skip -= cut
                    if cut == len(item):
                        continue
                    item = item[cut:]
                yield list(item)
                continue
            if skip:
                skip -= 1
                continue
            batch.append(item)
            if len(batch) == size:
                yield batch
                batch = []
    head.end()  # a stream shorter than HEAD_ITEMS
    if batch:
        yield batch


async def _embed_chunk(provider: EmbeddingProvider[Any], chunk: list[Input], intent: Intent) -> EmbeddingResult:
    """``embed`` with ``errors="collect"``, where an input refused before any call (empty text,
    wrong modality...) becomes that row's failure instead of failing the whole chunk."""
    refused: dict[int, EmbeddingError] = {}
    while True:
        keep = [i for i in range(len(chunk)) if i not in refused]
        if not keep:
            vectors = np.full((len(chunk), provider.dimensions), np.nan, dtype=np.float32)
            return EmbeddingResult(vectors=vectors, fingerprint=provider.fingerprint(intent), failures=refused)
        try:
            result = await provider.embed([chunk[i] for i in keep], intent=intent, errors="collect")
        except InputError as exc:
            if exc.index is None or not 0 <= exc.index < len(keep):
                raise
            refused[keep[exc.index]] = exc
            continue
        if not refused:
            return result
        vectors = np.full((len(chunk), provider.dimensions), np.nan, dtype=np.float32)
        vectors[keep] = result.vectors
        result.failures = {**refused, **{keep[row]: exc for row, exc in result.failures.items()}}
        result.vectors = vectors
        return result


def check_stream_options(
    inputs: object,
    *,
    chunk_size: object,
    window: object,
    checkpoint: Checkpoint | str | os.PathLike[str] | None,
    chunked: bool = False,
) -> Checkpoint | None:
    """Refuse bad stream arguments in one line each, before anything is read or called; the checkpoint to use."""
    if isinstance(inputs, (str, bytes)) or not isinstance(inputs, (Iterable, AsyncIterable)):
        raise InvalidOptionError(
            f"inputs must be an iterable or async iterable of inputs, not {type(inputs).__name__}: "
            "wrap a single input in a list"
        )
    if chunked and chunk_size is not None:
        raise InvalidOptionError("chunked=True streams the lists as given: leave chunk_size unset")
    for name, value in (("chunk_size", chunk_size), ("window", window)):
        if value is None and name == "chunk_size":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidOptionError(f"{name} must be a whole number of at least 1, got {value!r}")
    if checkpoint is None or isinstance(checkpoint, Checkpoint):
        return checkpoint
    if not isinstance(checkpoint, (str, os.PathLike)):
        raise InvalidOptionError(f"checkpoint must be a file path or a Checkpoint, not {type(checkpoint).__name__}")
    return FileCheckpoint(checkpoint)


async def stream_embeddings(
    provider: EmbeddingProvider[Any],
    inputs: AsyncIterable[Any] | Iterable[Any],
    *,
    intent: Intent,
    chunk_size: int | None,
    window: int,
    checkpoint: Checkpoint | str | os.PathLike[str] | None,
    chunked: bool = False,
) -> AsyncGenerator[StreamChunk, None]:
    """The engine of :meth:`EmbeddingProvider.embed_stream` (see there and the module docstring).

    ``chunked=True``: ``inputs`` yields lists, each one chunk of the stream as given (an empty list
    is an empty chunk, no call), so a caller such as the store loop keeps its own batch boundaries."""
    store = check_stream_options(inputs, chunk_size=chunk_size, window=window, checkpoint=checkpoint, chunked=chunked)
    if not chunked and chunk_size is None:  # one batch per call the provider may have in flight
        s, caps = provider.settings, provider.capabilities
        chunk_size = caps.max_batch_size * (s.max_concurrency or caps.max_concurrency)
    done = store.load() if store is not None else 0
    source = _chunks(inputs, chunk_size, done, _Head(store if isinstance(store, FileCheckpoint) else None))
    pending: deque[tuple[int, asyncio.Task[EmbeddingResult]]] = deque()
    next_start, exhausted = done, False

    async def fill() -> None:
        nonlocal next_start, exhausted
        while not exhausted and len(pending) < window:
            chunk = await anext(source, None)
            if chunk is None:
                exhausted = True
                return
            pending.append((next_start, asyncio.ensure_future(_embed_chunk(provider, chunk, intent))))
            next_start += len(chunk)

    try:
        await fill()
        while pending:
            start, task = pending.popleft()
            result = await task
            await fill()  # keep calls going while the consumer works on this chunk
            yield StreamChunk(start, result)
            if store is not None:
                store.save(start + len(result))  # the consumer came back: this chunk is handled
    finally:
        for _, task in pending:
            task.cancel()
        await asyncio.gather(*(task for _, task in pending), return_exceptions=True)
        await source.aclose()
