"""Sync twin of :func:`omnivec.providers._stream.stream_embeddings` over given chunks: the store loop
of ``index`` / ``migrate`` reads and commits on its own thread while the stream embeds ahead."""

from __future__ import annotations

import asyncio
import queue
from collections.abc import AsyncIterator, Generator, Iterable
from concurrent.futures import wait
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

from ._concurrency import _background_loop
from ._stream import StreamChunk, stream_embeddings
from .inputs import Input
from .types import Intent

if TYPE_CHECKING:
    from .base import EmbeddingProvider

__all__ = ["stream_embeddings_sync"]


_END: Any = object()


def stream_embeddings_sync(
    provider: EmbeddingProvider[Any], chunks: Iterable[list[Input]], *, intent: Intent, window: int = 4
) -> Generator[StreamChunk, None, None]:
    """:func:`stream_embeddings` of given ``chunks`` for sync code: the store loop of ``index`` / ``migrate``.

    The stream runs on omnivec's background loop, but ``chunks`` is read, and each result handled, on
    the calling thread: a store keeps its diff reads and commits on its own thread while the calls
    of the next ``window`` chunks go on during each commit (one thread hop per chunk; the same
    back-pressure). Leaving early (break, an error, Ctrl-C) cancels the calls in flight first.
    """
    loop, source = _background_loop(), iter(chunks)
    events: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
    task: list[asyncio.Task[Any] | None] = []

    async def feed() -> AsyncIterator[list[Input]]:  # on the loop: each chunk comes from the caller's thread
        while True:
            wanted: asyncio.Future[Any] = loop.create_future()
            events.put(("need", wanted))
            if (chunk := await wanted) is _END:
                return
            yield chunk

    async def pump() -> None:
        task.append(asyncio.current_task())
        stream = stream_embeddings(provider, feed(), intent=intent, chunk_size=None, window=window,
                                   checkpoint=None, chunked=True)  # fmt: skip
        async with aclosing(stream):
            async for chunk in stream:
                handled: asyncio.Future[Any] = loop.create_future()
                events.put(("chunk", (chunk, handled)))
                await handled  # back-pressure: the stream moves on once the caller asks for more

    running = asyncio.run_coroutine_threadsafe(pump(), loop)
    running.add_done_callback(lambda done: events.put(("end", done)))
    try:
        while True:
            kind, payload = events.get()
            if kind == "need":  # an error reading the source leaves through the finally below
                loop.call_soon_threadsafe(_settle, payload, next(source, _END))
            elif kind == "chunk":
                yield payload[0]
                loop.call_soon_threadsafe(_settle, payload[1], None)
            else:
                payload.result()  # the stream's own error, if any
                return
    finally:
        if not running.done():
            if task and task[0] is not None:  # cancel the task itself, then wait until it has cleaned up
                loop.call_soon_threadsafe(task[0].cancel)
            else:
                running.cancel()
            wait([running])


def _settle(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)
