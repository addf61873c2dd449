"""The core's thread hop for sync SDK calls: results, errors and cancellation reach the right await."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from omnivec.providers._threads import CallThreads, ProviderThreads, in_thread


def test_many_calls_each_get_their_own_answer_in_order_of_awaiting() -> None:
    pool = ThreadPoolExecutor(8)

    async def main() -> list[int]:
        # Answers finish out of order (longer sleeps for low numbers) and several per loop wake-up.
        return await asyncio.gather(
            *(in_thread(pool, lambda i=i: (time.sleep((50 - i) / 5000), i)[1]) for i in range(50))
        )

    assert asyncio.run(main()) == list(range(50))
    pool.shutdown()


def test_an_error_raised_in_the_thread_is_raised_at_the_await_as_is() -> None:
    pool = ThreadPoolExecutor(2)

    def fails() -> None:
        raise KeyError("boom")

    async def main() -> None:
        await in_thread(pool, fails)

    with pytest.raises(KeyError, match="boom"):
        asyncio.run(main())
    pool.shutdown()


def test_a_cancelled_await_lets_the_call_finish_and_drops_its_answer() -> None:
    pool = ThreadPoolExecutor(2)
    release, finished = threading.Event(), threading.Event()

    def slow() -> str:
        release.wait(5)
        finished.set()
        return "late"

    async def main() -> str:
        task = asyncio.ensure_future(in_thread(pool, slow))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        release.set()
        # The loop keeps working after the dropped answer arrives.
        return await in_thread(pool, lambda: "next")

    assert asyncio.run(main()) == "next"
    assert finished.wait(5)
    pool.shutdown()


def test_calls_from_two_loops_each_complete_on_their_own_loop() -> None:
    pool = ThreadPoolExecutor(4)
    answers: list[str] = []

    def on_new_loop(tag: str) -> None:
        async def main() -> str:
            return await in_thread(pool, lambda: (time.sleep(0.01), tag)[1])

        answers.append(asyncio.run(main()))

    threads = [threading.Thread(target=on_new_loop, args=(tag,)) for tag in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert sorted(answers) == ["a", "b"]
    pool.shutdown()


def test_call_threads_run_calls_concurrently_up_to_size_and_close_after_queued_work() -> None:
    threads = CallThreads(4, name="test")
    started, release = threading.Semaphore(0), threading.Event()
    done: list[int] = []

    def call(i: int) -> None:
        started.release()
        release.wait(5)
        done.append(i)

    for i in range(6):
        threads.submit(lambda i=i: call(i))
    assert all(started.acquire(timeout=5) for _ in range(4))  # four at once...
    assert not started.acquire(timeout=0.2)  # ...and never a fifth while they block
    threads.close()  # queued calls still run
    release.set()
    assert all(started.acquire(timeout=5) for _ in range(2))
    deadline = time.monotonic() + 5
    while len(done) < 6 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sorted(done) == list(range(6))
    with pytest.raises(RuntimeError, match="closed"):
        threads.submit(lambda: None)


def test_in_thread_on_call_threads_returns_answers_and_errors() -> None:
    threads = CallThreads(2, name="test")

    def maybe_fails(i: int) -> int:
        if i == 3:
            raise ValueError("three")
        return i * 2

    async def main() -> list[object]:
        return await asyncio.gather(*(in_thread(threads, maybe_fails, i) for i in range(6)), return_exceptions=True)

    answers = asyncio.run(main())
    assert answers[:3] == [0, 2, 4] and answers[4:] == [8, 10]
    assert isinstance(answers[3], ValueError)
    threads.close()


def test_provider_threads_start_on_first_call_sized_then_and_start_again_after_close() -> None:
    size = [2]
    threads = ProviderThreads(lambda: size[0], name="omnivec-test-lazy")

    def running() -> list[str]:
        return [t.name for t in threading.enumerate() if t.name.startswith("omnivec-test-lazy") and t.is_alive()]

    assert running() == []  # nothing until a call needs a thread
    size[0] = 3  # the size is read at first use (settings may still change after __init__)

    async def calls(n: int) -> list[int]:
        return await asyncio.gather(*(in_thread(threads, lambda i=i: (time.sleep(0.05), i)[1]) for i in range(n)))

    assert asyncio.run(calls(6)) == list(range(6))
    assert len(running()) == 3
    threads.close()
    deadline = time.monotonic() + 5
    while running() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert running() == []
    assert asyncio.run(calls(2)) == [0, 1]  # a closed holder makes threads again
    threads.close()
