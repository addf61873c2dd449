"""``embed_stream``: bounded memory with back-pressure, input order, failures by stream index, and a
checkpoint that lets a restarted job skip what is done."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from pathlib import Path

import numpy as np
import pytest

from omnivec.providers import InvalidOptionError, InvalidRequestError
from omnivec.providers._rate import reset_budgets
from omnivec.providers._stream import FileCheckpoint, StreamChunk
from omnivec.providers.testing import FakeProvider


@pytest.fixture(autouse=True)
def _fresh_rate_budgets():  # type: ignore[no-untyped-def]
    reset_budgets()
    yield
    reset_budgets()


class Counting:
    """A generator of ``n`` inputs that counts how many were read."""

    def __init__(self, n: int) -> None:
        self.n, self.read = n, 0

    def __iter__(self) -> Iterator[str]:
        for i in range(self.n):
            self.read += 1
            yield f"w{i}"


async def test_a_hundred_thousand_inputs_never_hold_more_than_a_window() -> None:
    provider = FakeProvider(max_batch_size=250, default_dimensions=4, default_concurrency=4)
    source = Counting(100_000)
    size, window = 1000, 3
    expected_start, most_ahead = 0, 0
    async for chunk in provider.embed_stream(source, intent="document", chunk_size=size, window=window):
        assert chunk.start == expected_start and len(chunk) == size and chunk.result.ok
        expected_start = chunk.end
        most_ahead = max(most_ahead, source.read - chunk.end)
        assert source.read - chunk.end <= window * size  # read ahead: the window, never more
    assert expected_start == source.read == 100_000
    assert most_ahead == window * size
    np.testing.assert_array_equal(chunk.vectors[-1], provider.embed_one("w99999", "document"))


async def test_a_slow_consumer_stops_the_reading() -> None:
    provider = FakeProvider(max_batch_size=10)
    source = Counting(10_000)
    async with aclosing(provider.embed_stream(source, intent="document", chunk_size=50, window=2)) as stream:
        first = await anext(stream)
        await asyncio.sleep(0.05)  # the consumer is busy: nothing more may be read meanwhile
        assert source.read == first.end + 2 * 50
    assert source.read < 10_000


async def test_chunks_come_in_input_order_from_an_async_source() -> None:
    class Jittery(FakeProvider):
        async def _embed_batch(self, batch, *, intent):  # type: ignore[no-untyped-def]
            await asyncio.sleep(0.01 if int(str(batch[0])[1:]) % 3 == 0 else 0.0)  # some calls finish late
            return await super()._embed_batch(batch, intent=intent)

    async def source() -> AsyncIterator[str]:
        for i in range(230):
            yield f"w{i}"

    provider = Jittery(max_batch_size=3, default_concurrency=8)
    chunks = [c async for c in provider.embed_stream(source(), intent="query", chunk_size=20, window=4)]
    assert [c.start for c in chunks] == list(range(0, 230, 20)) and len(chunks[-1]) == 10
    vectors = np.concatenate([c.vectors for c in chunks])
    np.testing.assert_array_equal(vectors, np.stack([provider.embed_one(f"w{i}", "query") for i in range(230)]))


async def test_failures_are_reported_by_stream_index_and_never_stop_the_stream() -> None:
    provider = FakeProvider(
        max_batch_size=1,
        retry={"max_attempts": 1},
        fail_items={"w7": InvalidRequestError("bad"), "w31": InvalidRequestError("bad")},
    )
    items: list[object] = [f"w{i}" for i in range(40)]
    items[13] = ""  # refused before any call: fails its row only, not its whole chunk
    failures: dict[int, Exception] = {}
    done = 0
    async for chunk in provider.embed_stream(items, intent="document", chunk_size=8):  # type: ignore[arg-type]
        failures.update(chunk.failures)
        for row in range(len(chunk)):
            index = chunk.start + row
            if index in chunk.failures:
                assert np.isnan(chunk.vectors[row]).all()
            else:
                np.testing.assert_array_equal(chunk.vectors[row], provider.embed_one(items[index], "document"))
        done = chunk.end
    assert done == 40 and sorted(failures) == [7, 13, 31]
    assert isinstance(failures[7], InvalidRequestError) and failures[13].index is not None


async def test_resume_skips_what_is_done(tmp_path: Path) -> None:
    items = [f"w{i}" for i in range(100)]
    checkpoint = tmp_path / "job.json"
    first = FakeProvider(max_batch_size=5)
    kept: list[StreamChunk] = []
    async with aclosing(first.embed_stream(items, intent="document", chunk_size=10, checkpoint=checkpoint)) as s:
        async for chunk in s:
            kept.append(chunk)
            if len(kept) == 3:
                break  # the job dies while handling its third chunk
    assert FileCheckpoint(checkpoint).load() == 20  # two chunks handed back; the third comes again

    again = FakeProvider(max_batch_size=5)
    rest = [c async for c in again.embed_stream(items, intent="document", chunk_size=10, checkpoint=checkpoint)]
    assert rest[0].start == 20 and rest[-1].end == 100
    sent_again = [item for batch, _ in again.calls for item in batch]
    assert sent_again == items[20:]  # nothing before the checkpoint is embedded again
    assert FileCheckpoint(checkpoint).load() == 100
    vectors = np.concatenate([c.vectors for c in kept[:2] + rest])
    np.testing.assert_array_equal(vectors, np.stack([first.embed_one(t, "document") for t in items]))
    finished = FakeProvider()
    assert [c async for c in finished.embed_stream(items, intent="document", checkpoint=checkpoint)] == []
    assert finished.calls == []


async def test_any_object_with_load_and_save_is_a_checkpoint() -> None:
    class InMemory:
        def __init__(self) -> None:
            self.saved: list[int] = []

        def load(self) -> int:
            return 6

        def save(self, done: int) -> None:
            self.saved.append(done)

    store = InMemory()
    provider = FakeProvider(max_batch_size=4)
    chunks = [
        c
        async for c in provider.embed_stream(
            [f"w{i}" for i in range(20)], intent="document", chunk_size=5, checkpoint=store
        )
    ]
    assert [c.start for c in chunks] == [6, 11, 16] and store.saved == [11, 16, 20]


@pytest.mark.parametrize(
    ("inputs", "options", "names"),
    [
        (["a"], {"chunk_size": 0}, "chunk_size must be a whole number of at least 1, got 0"),
        (["a"], {"chunk_size": "5"}, "chunk_size must be a whole number of at least 1, got '5'"),
        (["a"], {"window": 0}, "window must be a whole number of at least 1, got 0"),
        (["a"], {"window": None}, "window must be a whole number of at least 1, got None"),
        ("hello world", {}, "not str: wrap a single input in a list"),
        (b"bytes", {}, "not bytes: wrap a single input in a list"),
        (42, {}, "not int: wrap a single input in a list"),
        (["a"], {"checkpoint": 3}, "checkpoint must be a file path or a Checkpoint, not int"),
    ],
)
def test_bad_stream_options_are_refused_at_the_call_before_any_provider_call(
    inputs: object, options: dict[str, object], names: str
) -> None:
    provider = FakeProvider()
    with pytest.raises(InvalidOptionError, match=re.escape(names)):
        provider.embed_stream(inputs, intent="document", **options)  # type: ignore[arg-type]
    assert provider.calls == []


def test_a_checkpoint_in_a_missing_folder_is_created_and_a_folder_is_refused(tmp_path: Path) -> None:
    async def run(checkpoint: Path) -> int:
        async with aclosing(FakeProvider().embed_stream(["a", "b"], intent="document", checkpoint=checkpoint)) as s:
            return sum([len(chunk) async for chunk in s])

    assert asyncio.run(run(tmp_path / "new" / "deeper" / "job.json")) == 2
    assert (tmp_path / "new" / "deeper" / "job.json").exists()
    with pytest.raises(InvalidOptionError, match="is a folder: give a file path"):
        FakeProvider().embed_stream(["a"], intent="document", checkpoint=tmp_path)
    (tmp_path / "torn.json").write_text("{not json")
    with pytest.raises(InvalidOptionError, match="not an omnivec checkpoint"):
        asyncio.run(run(tmp_path / "torn.json"))


def test_closing_a_stream_early_cancels_its_calls_and_leaves_no_task_or_noise(
    capfd: pytest.CaptureFixture[str],
) -> None:
    provider = FakeProvider(latency_s=0.05)
    texts = [f"t{i}" for i in range(400)]

    async def main() -> tuple[int, int]:
        async with aclosing(provider.embed_stream(texts, intent="document", chunk_size=8, window=4)) as chunks:
            async for chunk in chunks:
                if chunk.end >= 40:
                    break
        made = len(provider.calls)
        await asyncio.sleep(0.2)  # anything still running would call again by now
        left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert not left, left
        return made, len(provider.calls)

    made, later = asyncio.run(main())
    assert made == later and made < 400
    assert "Traceback" not in capfd.readouterr().err


def test_a_waiter_cancelled_while_a_release_hands_its_slot_on_leaves_cleanly() -> None:
    from omnivec.providers._concurrency import AdaptiveLimit

    async def main() -> int:
        gate = AdaptiveLimit(1, adaptive=False)
        await gate.acquire()
        first, second = asyncio.ensure_future(gate.acquire()), asyncio.ensure_future(gate.acquire())
        await asyncio.sleep(0)  # both queue
        first.cancel()  # its waiter is cancelled now; the task sees it on its next step
        gate.release()  # skips the cancelled waiter and hands the slot to the second
        with pytest.raises(asyncio.CancelledError):
            await first
        await second
        return gate.in_flight

    assert asyncio.run(main()) == 1


def test_sync_stream_reads_chunks_on_the_calling_thread_in_a_bounded_window() -> None:
    import threading

    from omnivec.providers._stream_sync import stream_embeddings_sync

    provider = FakeProvider(max_batch_size=4, default_concurrency=8, latency_s=0.01)
    read, threads, window = [0], set(), 3
    sizes = [4, 0, 4, 4, 2, 0, 0, 4, 4, 1, 4, 4]  # an emptied batch is an empty chunk, with no call

    def chunks() -> Iterator[list[str]]:
        for n, size in enumerate(sizes):
            threads.add(threading.get_ident())
            read[0] += 1
            yield [f"w{n}-{i}" for i in range(size)]

    handed = 0
    for chunk in stream_embeddings_sync(provider, chunks(), intent="document", window=window):
        assert len(chunk) == sizes[handed] and chunk.result.ok
        assert read[0] - handed <= window + 1  # this chunk and the window read ahead of it, never more
        want = [provider.embed_one(f"w{handed}-{i}", "document") for i in range(sizes[handed])]
        np.testing.assert_array_equal(chunk.vectors, np.stack(want) if want else chunk.vectors)
        handed += 1
    assert handed == len(sizes) and threads == {threading.get_ident()}
    assert len(provider.calls) == sum(1 for s in sizes if s) and provider.peak_in_flight >= 2


def test_leaving_a_sync_stream_early_cancels_the_calls_in_flight() -> None:
    from omnivec.providers._stream_sync import stream_embeddings_sync

    provider = FakeProvider(max_batch_size=2, default_concurrency=8, latency_s=0.2)
    read = [0]

    def chunks() -> Iterator[list[str]]:
        for n in range(1000):
            read[0] += 1
            yield [f"a{n}", f"b{n}"]

    stream = stream_embeddings_sync(provider, chunks(), intent="document", window=4)
    first = next(stream)
    stream.close()  # the caller breaks: what is in flight stops before close() returns
    assert len(first) == 2 and provider.in_flight == 0 and read[0] <= 6

    def broken() -> Iterator[list[str]]:
        yield ["w1"]
        raise RuntimeError("the source failed")

    with pytest.raises(RuntimeError, match="the source failed"):
        list(stream_embeddings_sync(provider, broken(), intent="document"))
    assert provider.in_flight == 0


async def test_given_chunks_keep_their_bounds_and_resume_by_input_count() -> None:
    from omnivec.providers._stream import stream_embeddings

    provider = FakeProvider(max_batch_size=3)
    given = [["a", "b"], [], ["c", "d", "e"], ["f"]]

    saved: list[int] = []

    class At3:
        def load(self) -> int:
            return 3  # a, b and c are done: the third chunk resumes at d

        def save(self, done: int) -> None:
            saved.append(done)

    got = [(c.start, len(c)) async for c in stream_embeddings(
        provider, given, intent="document", chunk_size=None, window=2, checkpoint=None, chunked=True
    )]  # fmt: skip
    assert got == [(0, 2), (2, 0), (2, 3), (5, 1)]
    resumed = [(c.start, len(c)) async for c in stream_embeddings(
        provider, given, intent="document", chunk_size=None, window=2, checkpoint=At3(), chunked=True
    )]  # fmt: skip
    assert resumed == [(3, 2), (5, 1)] and saved == [5, 6]
    with pytest.raises(InvalidOptionError, match="chunked"):
        async for _ in stream_embeddings(
            provider, given, intent="document", chunk_size=4, window=2, checkpoint=None, chunked=True
        ):
            pass


def test_a_restart_with_other_inputs_is_refused_before_any_call(tmp_path: Path) -> None:
    job = tmp_path / "job.json"

    def run(texts: list[str], stop_after: int | None = None, provider: FakeProvider | None = None) -> FakeProvider:
        provider = provider or FakeProvider()

        async def main() -> None:
            async with aclosing(provider.embed_stream(texts, intent="document", chunk_size=20, checkpoint=job)) as s:
                async for chunk in s:
                    if stop_after is not None and chunk.end >= stop_after:
                        break

        asyncio.run(main())
        return provider

    texts = [f"doc {i}" for i in range(100)]
    run(texts, stop_after=40)  # leaves {"done": 20, "head": ...}
    assert json.loads(job.read_text())["done"] == 20 and json.loads(job.read_text())["head"]
    refused = FakeProvider()
    with pytest.raises(InvalidOptionError, match="was written for other inputs"):
        run([f"other {i}" for i in range(100)], provider=refused)
    assert refused.calls == []
    assert json.loads(job.read_text())["done"] == 20  # untouched by the refused run
    resumed = run(texts)
    assert sum(len(batch) for batch, _ in resumed.calls) == 80 and json.loads(job.read_text())["done"] == 100
    job.write_text(json.dumps({"done": 100}))  # a checkpoint from before the digest: accepted as it is
    assert run(texts).calls == []
