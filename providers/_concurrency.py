"""Worker fan-out, the per-provider concurrency limit, and a sync bridge. Used only by the core."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import threading
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, TypeVar

from ._threads import CallThreads, in_thread

__all__ = ["AdaptiveLimit", "CallThreads", "ProviderLimits", "in_thread", "run_sync", "run_workers"]

T = TypeVar("T")
R = TypeVar("R")

_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


async def run_workers(items: Sequence[T], fn: Callable[[T], Awaitable[object]], workers: int) -> None:
    """Run ``fn`` over ``items`` from at most ``workers`` tasks pulling from one shared iterator.

    A few long-lived workers instead of one task per item: no per-item task, and the provider's
    :class:`AdaptiveLimit` (which ``fn`` acquires) decides how many actually call at once. On the
    first failure the other workers are cancelled and that one error is raised as is, never
    wrapped in an ExceptionGroup, so callers see the same error types as for one call.
    """
    pending = iter(items)

    async def worker() -> None:
        for item in pending:
            await fn(item)

    count = min(workers, len(items))
    if count <= 1:
        await worker()
        return
    tasks = [asyncio.ensure_future(worker()) for _ in range(count)]
    try:
        for next_done in asyncio.as_completed(tasks):
            await next_done
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def _background_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _loop_lock:
        if _loop is None or _loop.is_closed():
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, name="omnivec-sync", daemon=True).start()
            atexit.register(_close_async_generators, _loop)
        return _loop


def _close_async_generators(loop: asyncio.AbstractEventLoop) -> None:
    """At exit, wind the sync loop down as ``asyncio.run`` does its own: cancel what still runs, then
    end what async generators hold open (aiobotocore's per-loop clients, see bedrock/_aio.py). Else
    aiohttp warns of unclosed sessions, and generators of calls cut off mid-flight fail to close."""

    async def wind_down() -> None:
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await loop.shutdown_asyncgens()

    if loop.is_running():
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(wind_down(), loop).result(timeout=5)


def run_sync(coro: Coroutine[Any, Any, R]) -> R:
    """Run a coroutine to completion from sync code.

    All sync calls share one background event loop, so clients bound to a loop (httpx-based SDKs)
    stay usable across calls, and the sync API also works where a loop already runs (notebooks).
    An interrupt while waiting cancels the coroutine: without that the calls would go on (and be
    billed) on the background loop after the caller saw ``KeyboardInterrupt``.
    """
    future = asyncio.run_coroutine_threadsafe(coro, _background_loop())
    try:
        return future.result()
    except BaseException:  # Ctrl-C (a notebook's interrupt) while waiting: stop the calls, as asyncio.run would
        future.cancel()
        with contextlib.suppress(BaseException):
            future.result(timeout=5)  # the task's cleanup (closing streams, releasing slots) runs first
        raise


class AdaptiveLimit:
    """Provider calls in flight, under a limit that backs off while the provider throttles (AIMD)
    and grows past its start while calls are latency-bound.

    A call holds its slot through its retries and their backoff sleeps, so a throttled call keeps
    its place instead of letting a fresh call fire into the same 429; only a background throttle's
    sleep gives the slot up (see ``_retry._sleep``). The limit is revised once per
    window of ``limit`` attempts: if more than ``THROTTLED_SHARE`` were throttled it is cut to 3/4,
    otherwise it grows by one, up to ``ceiling``. Judging a window rather than single answers keeps
    occasional 429s from shrinking it; a steady background share of 429s never reaches it (the
    retry loop reports only throttles the rate budget reads as the quota). At the ceiling it keeps growing (by half, like slow start) up to
    ``grow_to`` after ``GROW_STREAK`` windows in a row of at least ``GROW_WINDOW`` answers in which
    calls queued for a slot, none was throttled or paced by the rate budget, and the mean call
    latency stayed within ``LATENCY_SLACK`` of the best window seen: more calls in flight then mean
    more throughput, where a CPU-bound client would only see its latency rise. (One window is not
    enough: on a CPU-bound client a single quick window in ten let it overshoot to 60 calls.) With ``adaptive=False`` it is a plain
    semaphore. Waiters queue FIFO and a release wakes exactly one, so a long queue costs nothing.
    """

    THROTTLED_SHARE = 0.3
    GROW_WINDOW = 32
    LATENCY_SLACK = 1.5
    GROW_STREAK = 2

    def __init__(
        self,
        ceiling: int,
        *,
        adaptive: bool,
        grow_to: int | None = None,
        on_change: Callable[..., object] | None = None,
    ) -> None:
        self.ceiling = ceiling
        self.grow_to = max(ceiling, grow_to or ceiling) if adaptive else ceiling
        self.limit = float(ceiling)
        self._on_change = on_change
        """Told ``before``, ``after``, ``throttled`` and ``window`` when the limit moves (logging, spans)."""
        self.adaptive = adaptive
        self.in_flight = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._window = 0
        self._throttled = 0
        self._grow_n = 0
        self._grow_seconds = 0.0
        self._queued = self._paced = False
        self._best_latency = float("inf")
        self._streak = 0

    async def acquire(self) -> None:
        if self.in_flight < max(1, int(self.limit)) and not self._waiters:
            self.in_flight += 1  # the common case: no await, no loop round trip
            return
        self._queued = True
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.release()  # granted, then cancelled before use: pass the slot on
            elif waiter in self._waiters:  # a release may already have dropped it as cancelled
                self._waiters.remove(waiter)
            raise

    def release(self) -> None:
        self.in_flight -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self.in_flight < max(1, int(self.limit)):
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.in_flight += 1
                waiter.set_result(None)

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, *exc: object) -> None:
        self.release()

    def paced(self) -> None:
        """A call of this window waited for the rate budget: more slots would not help."""
        self._paced = True

    def record(self, *, throttled: bool, seconds: float | None = None) -> None:
        """Feedback from one attempt (called from the event loop, never concurrently)."""
        if not self.adaptive:
            return
        self._window += 1
        self._throttled += throttled
        if self._window >= self.limit:
            before = self.limit
            if self._throttled > self.THROTTLED_SHARE * self._window:
                self.limit = max(1.0, self.limit * 0.75)
            elif self.limit < self.ceiling:
                self.limit = min(float(self.ceiling), self.limit + 1)
                self._wake()
            self._changed(before)
            self._window = self._throttled = 0
        if throttled:
            self._grow_n, self._grow_seconds, self._streak = 0, 0.0, 0
            self._queued = self._paced = False
        elif seconds is not None and self.grow_to > self.ceiling:
            self._grow_n += 1
            self._grow_seconds += seconds
            if self._grow_n >= max(self.GROW_WINDOW, self.limit):
                self._consider_growth()

    def _changed(self, before: float) -> None:
        if self._on_change is not None and self.limit != before:
            self._on_change(before=before, after=self.limit, throttled=self._throttled, window=self._window)

    def _consider_growth(self) -> None:
        latency = self._grow_seconds / self._grow_n
        self._best_latency = min(self._best_latency, latency)
        if (
            (self._queued or self._waiters)
            and not self._paced
            and self.ceiling <= self.limit < self.grow_to
            and latency <= self.LATENCY_SLACK * self._best_latency
        ):
            self._streak += 1
        else:
            self._streak = 0
        if self._streak >= self.GROW_STREAK:
            self._streak = 0
            before = self.limit
            self.limit = min(float(self.grow_to), self.limit + max(1.0, self.limit // 2))
            self._wake()
            self._changed(before)
        self._grow_n, self._grow_seconds = 0, 0.0
        self._queued = self._paced = False


class ProviderLimits:
    """One :class:`AdaptiveLimit` per event loop for a provider, shared by all its calls on that loop.

    The limit a provider is configured with must hold however many ``embed`` calls share it (a web
    server handling 50 requests at once on one provider gets 4 calls in flight with
    ``max_concurrency=4``, not 4 per request). asyncio primitives belong to one loop, so a provider
    used from several loops (``asyncio.run`` in a loop, the sync methods' background loop) keeps
    one limit per loop; a loop that goes away takes its limit with it.
    """

    def __init__(self) -> None:
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AdaptiveLimit] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def current(
        self,
        ceiling: int,
        *,
        adaptive: bool,
        grow_to: int | None = None,
        on_change: Callable[..., object] | None = None,
    ) -> AdaptiveLimit:
        """The limit for the running loop, created on first use."""
        loop = asyncio.get_running_loop()
        limit = self._by_loop.get(loop)  # lock-free fast path: entries are only ever added
        if limit is None:
            with self._lock:
                limit = self._by_loop.get(loop)
                if limit is None:
                    limit = self._by_loop[loop] = AdaptiveLimit(
                        ceiling, adaptive=adaptive, grow_to=grow_to, on_change=on_change
                    )
        return limit
