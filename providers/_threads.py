"""Blocking SDK calls awaited from the core's event loop: a lean worker pool and the hop to it.

boto3, google-genai's sync client and the OpenAI SDK block; the core is asyncio. Every call hops
loop → worker thread → loop, and on a CPU-bound client that hop is most of what the core adds to a
call (measured with ``benchmarks/perf/throughput.py --overhead``). ``concurrent.futures`` pays for
generality there: ``ThreadPoolExecutor.submit`` takes two locks the workers also take (the loop
thread then waits behind busy SDK threads) and builds a Future that ``run_in_executor`` chains to
an asyncio one. :class:`CallThreads` is a queue and a few threads; :func:`in_thread` completes one
asyncio future per call, and :class:`_Completions` wakes the loop once for all calls that finished
while it was busy.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import weakref
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

R = TypeVar("R")

__all__ = ["CallThreads", "ProviderThreads", "in_thread"]


class Submits(Protocol):
    def submit(self, fn: Callable[[], Any], /) -> object: ...


class CallThreads:
    """Up to ``size`` daemon threads running submitted functions in order of submission.

    Threads start on demand, one per submit until ``size`` exist, and then stay (an idle one costs a
    blocked ``get``). Daemon threads, so a provider nobody closed never holds up interpreter exit;
    :meth:`close` ends them once the calls already queued are done.
    """

    def __init__(self, size: int, *, name: str) -> None:
        self.size, self._name = max(1, size), name
        self._queue: queue.SimpleQueue[Callable[[], Any] | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, fn: Callable[[], Any], /) -> None:
        if self._closed:
            raise RuntimeError(f"{self._name} threads are closed")
        self._queue.put(fn)
        if len(self._threads) < self.size:  # read without the lock: at worst one more check below
            with self._lock:
                if len(self._threads) < self.size and not self._closed:
                    thread = threading.Thread(target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True)
                    self._threads.append(thread)
                    thread.start()

    def _work(self) -> None:
        while (fn := self._queue.get()) is not None:
            fn()

    def close(self) -> None:
        """Let queued calls finish, then end the threads (without waiting for them)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for _ in self._threads:
                self._queue.put(None)


class ProviderThreads:
    """A provider's own worker threads: made on first use, ``size()`` of them (the concurrency
    ceiling, which the settings decide, so asyncio's default pool of min(32, cpus + 4) never caps
    calls silently), and made again after :meth:`close`, so a closed provider stays usable."""

    def __init__(self, size: Callable[[], int], *, name: str) -> None:
        self._size, self._name = size, name
        self._threads: CallThreads | None = None
        self._lock = threading.Lock()

    def submit(self, fn: Callable[[], Any], /) -> None:
        threads = self._threads  # read without the lock: set once until close()
        if threads is None:
            with self._lock:
                if self._threads is None:
                    self._threads = CallThreads(self._size(), name=self._name)
                threads = self._threads
        threads.submit(fn)

    def close(self) -> None:
        """End the threads once the calls already queued are done; the next submit makes new ones."""
        with self._lock:
            threads, self._threads = self._threads, None
        if threads is not None:
            threads.close()


async def in_thread(pool: Submits, fn: Callable[..., R], *args: Any) -> R:
    """``fn(*args)`` on ``pool`` (:class:`CallThreads` or any Executor), awaited.

    What ``loop.run_in_executor`` does, with one asyncio future and a batched wake-up. A cancelled
    await leaves the thread to finish its call and drops the answer, as ``run_in_executor`` does.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[R] = loop.create_future()
    completions = _completions(loop)

    def run() -> None:
        if future.done():  # cancelled while queued: the call is never made (a benign racy read)
            return
        try:
            outcome = fn(*args)
        except BaseException as exc:  # handed to the awaiting task as is
            completions.put(future, None, exc)
        else:
            completions.put(future, outcome, None)

    pool.submit(run)
    return await future


class _Completions:
    """Calls finished in worker threads, handed to their loop in one wake-up per busy spell."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._done: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        self._lock = threading.Lock()
        self._scheduled = False

    def put(self, future: asyncio.Future[Any], outcome: Any, error: BaseException | None) -> None:
        with self._lock:
            self._done.append((future, outcome, error))
            if self._scheduled:
                return
            self._scheduled = True
        with contextlib.suppress(RuntimeError):  # the loop closed while the call ran: nobody waits
            self._loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        with self._lock:
            done, self._done, self._scheduled = self._done, [], False
        for future, outcome, error in done:
            if future.done():  # the awaiting task was cancelled
                continue
            if error is None:
                future.set_result(outcome)
            else:
                future.set_exception(error)


_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Completions] = weakref.WeakKeyDictionary()
_by_loop_lock = threading.Lock()


def _completions(loop: asyncio.AbstractEventLoop) -> _Completions:
    completions = _by_loop.get(loop)
    if completions is None:
        with _by_loop_lock:
            completions = _by_loop.setdefault(loop, _Completions(loop))
    return completions
