"""Bounded fan-out that keeps order, and a sync bridge. Used only by the core."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


async def map_bounded(items: Sequence[T], fn: Callable[[T], Awaitable[R]], limit: int) -> list[R]:
    """Run ``fn`` over ``items`` with at most ``limit`` in flight; results keep input order.

    On the first failure the other calls are cancelled and that one error is raised as is,
    never wrapped in an ExceptionGroup, so callers see the same error types as for one call.
    """
    if not items:
        return []
    if limit <= 1 or len(items) == 1:
        return [await fn(item) for item in items]
    semaphore = asyncio.Semaphore(limit)
    results: list[Any] = [None] * len(items)

    async def run_one(i: int) -> None:
        async with semaphore:
            results[i] = await fn(items[i])

    tasks = [asyncio.ensure_future(run_one(i)) for i in range(len(items))]
    try:
        for next_done in asyncio.as_completed(tasks):
            await next_done
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return results


def _background_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _loop_lock:
        if _loop is None or _loop.is_closed():
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, name="omnivec-sync", daemon=True).start()
        return _loop


def run_sync(coro: Coroutine[Any, Any, R]) -> R:
    """Run a coroutine to completion from sync code.

    All sync calls share one background event loop, so clients bound to a loop (httpx-based SDKs)
    stay usable across calls, and the sync API also works where a loop already runs (notebooks).
    """
    return asyncio.run_coroutine_threadsafe(coro, _background_loop()).result()
