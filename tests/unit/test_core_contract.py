"""What the core promises beyond one call: a provider-wide concurrency limit, ``normalize=True``
honoured whatever a model claims, partial results kept on failure, typed option errors, and a
local model's fingerprint that follows its weights."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from omnivec.providers import BatchOutput, InvalidOptionError, InvalidRequestError, ServiceUnavailableError
from omnivec.providers._rate import reset_budgets
from omnivec.providers.sentence_transformers import SentenceTransformersProvider
from omnivec.providers.testing import FakeProvider


@pytest.fixture(autouse=True)
def _fresh_rate_budgets():  # type: ignore[no-untyped-def]
    # Learned rates are process-wide by design (one per rate key): tests must not inherit them.
    reset_budgets()
    yield
    reset_budgets()


class Stretched(FakeProvider):
    """Claims unit vectors (like FakeProvider) but returns them 3x too long, as a buggy model might."""

    async def _embed_batch(self, batch, *, intent):  # type: ignore[no-untyped-def]
        out = await super()._embed_batch(batch, intent=intent)
        return BatchOutput(vectors=np.asarray(out.vectors) * 3.0, usage=out.usage)


async def test_normalize_true_is_honoured_even_when_the_model_claims_unit_vectors() -> None:
    assert Stretched().capabilities.normalized
    raw = await Stretched().embed(["a b c", "d e"], intent="document")
    assert np.linalg.norm(raw.vectors, axis=1) == pytest.approx([3.0, 3.0])
    unit = await Stretched(normalize=True).embed(["a b c", "d e"], intent="document")
    assert np.linalg.norm(unit.vectors, axis=1) == pytest.approx([1.0, 1.0])
    assert unit.fingerprint.normalized


async def test_normalize_true_leaves_failed_rows_nan() -> None:
    provider = Stretched(normalize=True, max_batch_size=1, fail_items={"bad": InvalidRequestError("no")})
    result = await provider.embed(["good", "bad"], intent="document", errors="collect")
    assert np.linalg.norm(result.vectors[0]) == pytest.approx(1.0)
    assert np.isnan(result.vectors[1]).all() and list(result.failures) == [1]


async def test_concurrency_limit_is_per_provider_not_per_call() -> None:
    # A web server: 50 requests at once, each embedding a few texts through ONE shared provider.
    provider = FakeProvider(max_batch_size=1, default_concurrency=16, max_concurrency=4, latency_s=0.005)
    requests = [[f"request {r} text {i}" for i in range(3)] for r in range(50)]
    results = await asyncio.gather(*(provider.embed(texts, intent="document") for texts in requests))
    assert provider.peak_in_flight == 4
    assert len(provider.calls) == 150
    for texts, result in zip(requests, results, strict=True):
        np.testing.assert_array_equal(result.vectors, np.stack([provider.embed_one(t, "document") for t in texts]))


async def test_default_limit_is_shared_too() -> None:
    provider = FakeProvider(max_batch_size=1, default_concurrency=3, latency_s=0.005)
    await asyncio.gather(*(provider.embed([f"text {i}"], intent="document") for i in range(30)))
    assert provider.peak_in_flight == 3


def test_sync_calls_from_many_threads_share_the_limit() -> None:
    provider = FakeProvider(max_batch_size=1, default_concurrency=16, max_concurrency=2, latency_s=0.005)
    threads = [
        threading.Thread(
            target=provider.embed_sync,
            args=([f"thread {t} text {i}" for i in range(4)],),
            kwargs={"intent": "document"},
        )
        for t in range(10)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(provider.calls) == 40 and provider.peak_in_flight == 2


async def test_one_gemini_provider_keeps_its_limit_on_the_wire() -> None:
    # The case: 50 concurrent embed calls on one Gemini provider with max_concurrency=4.
    from omnivec.providers.emulator import Faults, emulated_clouds
    from omnivec.providers.gemini.provider import GeminiProvider

    class Counted(GeminiProvider):
        in_flight = peak = 0

        async def _embed_batch(self, batch, *, intent):  # type: ignore[no-untyped-def]
            Counted.in_flight += 1
            Counted.peak = max(Counted.peak, Counted.in_flight)
            try:
                return await super()._embed_batch(batch, intent=intent)
            finally:
                Counted.in_flight -= 1

    with emulated_clouds(Faults(latency_ms=20)) as emulator:
        provider = Counted("gemini-embedding-2", max_concurrency=4, dimensions=128)
        results = await asyncio.gather(*(provider.embed([f"request {r}"], intent="query") for r in range(50)))
    assert all(r.ok for r in results) and emulator.stats.requests == 50
    assert Counted.peak == 4


INTERRUPTED_SYNC_CALL = """
import os, signal, threading, time
from omnivec.providers.testing import FakeProvider
signal.signal(signal.SIGINT, signal.default_int_handler)  # CI shells in the background start us with SIGINT ignored
provider = FakeProvider(max_batch_size=1, latency_s=0.02, max_concurrency=4)
def interrupt_once_calls_ran():  # not a timer: on a loaded machine 0.5 s could pass before the first call
    while len(provider.calls) < 8:
        time.sleep(0.01)
    os.kill(os.getpid(), signal.SIGINT)
threading.Thread(target=interrupt_once_calls_ran, daemon=True).start()
try:
    provider.embed_sync([f"doc {i}" for i in range(5000)], intent="document")
except KeyboardInterrupt:
    at_interrupt = len(provider.calls)
    time.sleep(0.5)
    print(at_interrupt, len(provider.calls))
"""


def test_an_interrupted_sync_call_stops_its_calls() -> None:
    """Ctrl-C (a notebook's interrupt) during embed_sync: the calls stop, as with asyncio.run. They
    went on, and would be billed, on the background loop after the caller saw KeyboardInterrupt."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-X", "dev", "-c", INTERRUPTED_SYNC_CALL], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    at_interrupt, later = map(int, done.stdout.split())
    assert 8 <= at_interrupt < 5000 and later - at_interrupt <= 4  # at most the calls already in flight
    assert "Traceback" not in done.stderr and "Error" not in done.stderr, done.stderr[-2000:]


def test_a_provider_works_across_event_loops() -> None:
    # asyncio.run makes a new loop each time; the per-provider limit must not be tied to the first.
    provider = FakeProvider(max_batch_size=1, max_concurrency=2, latency_s=0.001)
    for _ in range(3):
        assert len(asyncio.run(provider.embed(["a", "b", "c"], intent="document"))) == 3
    assert provider.peak_in_flight == 2


async def test_raise_mode_attaches_what_was_done() -> None:
    provider = FakeProvider(max_batch_size=2, default_concurrency=1, fail_items={"item 5": InvalidRequestError("bad")})
    items = [f"item {i}" for i in range(10)]
    with pytest.raises(InvalidRequestError) as info:
        await provider.embed(items, intent="document")
    partial = info.value.partial
    assert partial is not None and not partial.ok
    for i in range(4):  # the calls before the failure
        np.testing.assert_array_equal(partial.vectors[i], provider.embed_one(items[i], "document"))
    assert sorted(partial.failures) == [4, 5] and partial.failures[5] is info.value
    assert np.isnan(partial.vectors[4:]).all()
    assert partial.usage.requests == 2 and [t.first_index for t in partial.timings] == [0, 2]


def test_raise_mode_partial_result_survives_the_sync_bridge_and_concurrency() -> None:
    failures = {f"item {i}": ServiceUnavailableError("down") for i in (37,)}
    provider = FakeProvider(
        max_batch_size=1, default_concurrency=4, latency_s=0.001, fail_items=failures, retry={"max_attempts": 1}
    )
    items = [f"item {i}" for i in range(60)]
    with pytest.raises(ServiceUnavailableError) as info:
        provider.embed_sync(items, intent="document")
    partial = info.value.partial
    assert partial is not None and 37 in partial.failures
    done = ~np.isnan(partial.vectors).any(axis=1)
    assert done.sum() >= 30  # what finished before the failure is kept, not thrown away
    for i in np.flatnonzero(done):
        np.testing.assert_array_equal(partial.vectors[i], provider.embed_one(items[i], "document"))


async def test_a_failed_call_gives_its_slots_back() -> None:
    # Cancelled and failed calls must release the shared limit, or the provider would stall.
    provider = FakeProvider(
        max_batch_size=1, max_concurrency=3, latency_s=0.005, fail_items={"item 4": InvalidRequestError("bad")}
    )
    for _ in range(3):
        with pytest.raises(InvalidRequestError):
            await provider.embed([f"item {i}" for i in range(30)], intent="document")
    provider.peak_in_flight = 0
    result = await asyncio.wait_for(provider.embed([f"text {i}" for i in range(12)], intent="document"), 5)
    assert result.ok and provider.peak_in_flight == 3


def test_errors_raised_before_any_call_carry_no_partial_result() -> None:
    with pytest.raises(InvalidOptionError) as info:
        FakeProvider().embed_sync(["a"], intent="document", errors="ignore")  # type: ignore[arg-type]
    assert info.value.partial is None


def test_bad_call_options_never_reach_the_provider() -> None:
    provider = FakeProvider()
    for kwargs in ({"errors": "ignore"}, {"progress": 42}, {"progress": "bar"}):
        with pytest.raises(InvalidOptionError):
            provider.embed_sync(["a"], intent="document", **kwargs)  # type: ignore[arg-type]
    assert provider.calls == []


def test_option_errors_are_one_line_and_name_the_field() -> None:
    with pytest.raises(InvalidOptionError) as info:
        FakeProvider(dimensions=-256, max_batch_size=0, bogus=1)
    message = str(info.value)
    assert "\n" not in message
    assert "dimensions=-256" in message and "max_batch_size=0" in message and "'bogus' is not an option" in message
    assert info.value.__cause__ is None and info.value.__suppress_context__  # the pydantic error is not chained


def test_settings_plus_options_is_a_typed_error() -> None:
    settings = FakeProvider().settings
    with pytest.raises(InvalidOptionError, match="not both"):
        FakeProvider(settings=settings, dimensions=32)
    assert FakeProvider(settings=settings).settings is settings


# --- the local model's fingerprint follows its files --------------------------------------------


def fake_model_folder(folder: Path) -> Path:
    """A local model folder whose size is readable from its files, so nothing loads torch."""
    (folder / "1_Pooling").mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (folder / "modules.json").write_text(
        json.dumps(
            [
                {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            ]
        )
    )
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": 8}))
    (folder / "model.safetensors").write_bytes(b"\x01" * 64)
    return folder


def test_local_fingerprint_changes_when_weights_change_in_place(tmp_path: Path) -> None:
    folder = fake_model_folder(tmp_path / "model")
    before = SentenceTransformersProvider(str(folder)).fingerprint("document")
    assert before == SentenceTransformersProvider(str(folder)).fingerprint("document")  # stable
    assert "weights" in before.options

    weights = folder / "model.safetensors"
    stat = weights.stat()
    weights.write_bytes(b"\x02" * 64)  # same size: fine-tuned in place
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    after = SentenceTransformersProvider(str(folder)).fingerprint("document")
    assert after.hash != before.hash

    (folder / "1_Pooling" / "model.safetensors").write_bytes(b"\x03" * 8)  # a module gains weights
    assert SentenceTransformersProvider(str(folder)).fingerprint("document").hash != after.hash


def test_local_fingerprint_ignores_hidden_files(tmp_path: Path) -> None:
    folder = fake_model_folder(tmp_path / "model")
    before = SentenceTransformersProvider(str(folder)).fingerprint("query").hash
    (folder / ".git").mkdir()
    (folder / ".git" / "index").write_bytes(b"git bookkeeping")
    assert SentenceTransformersProvider(str(folder)).fingerprint("query").hash == before


def test_local_options_fail_before_anything_loads(tmp_path: Path) -> None:
    folder = fake_model_folder(tmp_path / "model")
    with pytest.raises(InvalidOptionError, match="batch_size=0"):
        SentenceTransformersProvider(str(folder), batch_size=0)
    with pytest.raises(InvalidOptionError, match="'batchsize' is not an option"):
        SentenceTransformersProvider("no/such-model-anywhere", batchsize=8)  # refused before any load


def test_a_missing_required_option_never_shows_the_other_options() -> None:
    # pydantic reports a missing field with every option given as its "input", keys included.
    from pydantic import SecretStr

    from omnivec.providers import ProviderSettings

    class KeyedSettings(ProviderSettings):
        endpoint: str
        token: SecretStr | None = None

    class Keyed(FakeProvider):
        settings_class = KeyedSettings  # type: ignore[assignment]

        @property
        def capabilities(self):  # type: ignore[no-untyped-def]
            from omnivec.providers import Capabilities

            return Capabilities(
                modalities=frozenset({"text"}),
                max_batch_size=1,
                max_concurrency=1,
                default_dimensions=8,
                dimension_range=(1, 8),
            )

    with pytest.raises(InvalidOptionError) as info:
        Keyed(token="tok-SECRET-123", retry={"max_attempts": 0, "note": "tok-SECRET-123"})
    message = str(info.value)
    assert "endpoint" in message and "tok-SECRET-123" not in message and "\n" not in message
