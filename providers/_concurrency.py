"""Bounded fan-out that keeps order, and a sync bridge. Used only by the core."""

from __future__ import annotations

import asyncio
import threading
import weakref
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


class AdaptiveLimit:
    """Provider calls in flight, under a limit that backs off while the provider throttles (AIMD).

    A call holds its slot through its retries and their backoff sleeps, so a throttled call keeps
    its place instead of letting a fresh call fire into the same 429. The limit is revised once per
    window of ``limit`` attempts: if more than ``THROTTLED_SHARE`` were rate-limited it is cut to 3/4,
    otherwise it grows by one, up to the ceiling. Judging a window rather than single answers keeps
    occasional 429s from shrinking it. With ``adaptive=False`` it is a plain semaphore.
    """

    THROTTLED_SHARE = 0.3

    def __init__(self, ceiling: int, *, adaptive: bool) -> None:
        self.ceiling = ceiling
        self.limit = float(ceiling)
        self.adaptive = adaptive
        self.in_flight = 0
        self._window = 0
        self._throttled = 0
        self._changed = asyncio.Condition()

    async def __aenter__(self) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self.in_flight < max(1, int(self.limit)))
            self.in_flight += 1

    async def __aexit__(self, *exc: object) -> None:
        async with self._changed:
            self.in_flight -= 1
            self._changed.notify_all()

    def record(self, *, throttled: bool) -> None:
        """Feedback from one attempt (called from the event loop, never concurrently)."""
        if not self.adaptive:
            return
        self._window += 1
        self._throttled += throttled
        if self._window >= self.limit:
            if self._throttled > self.THROTTLED_SHARE * self._window:
                self.limit = max(1.0, self.limit * 0.75)
            else:
                self.limit = min(float(self.ceiling), self.limit + 1)
            self._window = self._throttled = 0


class ProviderLimits:
    """One :class:`AdaptiveLimit` per event loop for a provider, shared by all its calls on that loop.

    The limit a provider is configured with must hold however many ``embed`` calls share it (a web
    server handling 50 requests at once on one provider gets 4 calls in flight with
    ``max_concurrency=4``, not 4 per request). asyncio primitives belong to one loop, so a provider
    used from several loops (``asyncio.run`` in a loop, the sync methods' background loop) keeps
    one limit per loop; a loop that goes away takes its limit with it.
    """

    def __init__(self) -> None:
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AdaptiveLimit] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()

    def current(self, ceiling: int, *, adaptive: bool) -> AdaptiveLimit:
        """The limit for the running loop, created on first use."""
        loop = asyncio.get_running_loop()
        with self._lock:
            limit = self._by_loop.get(loop)
            if limit is None:
                limit = self._by_loop[loop] = AdaptiveLimit(ceiling, adaptive=adaptive)
            return limit
