"""Bedrock calls awaited on the event loop through aiobotocore: no worker thread, no hop per call.

boto3 blocks, so the thread transport hands every call to a worker thread and its answer back to
the loop. On a client whose Python work is bound to one core by the GIL, that hop and the 32
threads contending for the GIL cost ~20 % more CPU per call than a bare boto3 pool, and CPU per
call is then throughput (``benchmarks/perf/throughput.py``; docs/performance.md). aiobotocore is
botocore (the same request building, signing, endpoint rules and error classes) on aiohttp, which
parses HTTP in C: measured here it used ~10 % less CPU per call than bare boto3 threads.

An aiohttp session belongs to the loop that made it, so there is one client per event loop. Each is
held open by an async generator: ``asyncio.run`` (and any loop that runs ``shutdown_asyncgens``)
closes it when that loop ends, so a provider used from many ``asyncio.run`` calls leaks no sessions.
A provider dropped without ``aclose()`` has its clients closed on their loops when it is collected.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

__all__ = ["LoopClients", "available"]


def available() -> bool:
    try:
        import aiobotocore  # noqa: F401
    except ImportError:
        return False
    return True


async def _hold(opening: AbstractAsyncContextManager[Any]) -> AsyncIterator[Any]:
    async with opening as client:
        yield client


class LoopClients:
    """One client per running event loop, opened on first use by ``open_client`` (which returns
    aiobotocore's ``create_client(...)`` context manager) and closed with its loop or by :meth:`aclose`."""

    def __init__(self, open_client: Callable[[], AbstractAsyncContextManager[Any]]) -> None:
        self._open = open_client
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Future[Any]] = (
            weakref.WeakKeyDictionary()
        )
        # Not left to the garbage collector: it would free the client's session and connector in the
        # same sweep as its holder, in any order, and aiohttp would warn of an unclosed connector.
        weakref.finalize(self, _close_left_open, self._by_loop)

    async def get(self) -> Any:
        loop = asyncio.get_running_loop()
        held = self._by_loop.get(loop)
        if held is None:  # the first call on this loop opens it; calls starting meanwhile wait for it
            held = self._by_loop[loop] = loop.create_future()
            holder = _hold(self._open())
            try:
                client = await holder.__anext__()
            except BaseException as exc:  # e.g. no region: the next call tries again
                del self._by_loop[loop]
                if isinstance(exc, Exception):
                    held.set_exception(exc)
                    held.exception()  # retrieved: waiters get it, nobody is warned it went unseen
                else:
                    held.cancel()
                raise
            held.set_result((holder, client))
        return (await held)[1]

    async def aclose(self) -> None:
        """Close this loop's client (clients of other loops close when their loop ends)."""
        held = self._by_loop.pop(asyncio.get_running_loop(), None)
        if held is not None and held.done() and not held.cancelled() and held.exception() is None:
            await held.result()[0].aclose()


def _close_left_open(by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Future[Any]]) -> None:
    """The owner went away without :meth:`LoopClients.aclose`: close each client on its loop (a loop
    that already ended closed its client then, through ``shutdown_asyncgens``)."""
    for loop, held in list(by_loop.items()):
        if loop.is_closed() or not held.done() or held.cancelled() or held.exception() is not None:
            continue
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(loop.create_task, held.result()[0].aclose())
