"""Bedrock's two transports against the emulator: aiobotocore on the event loop (the default when
installed) and boto3 in worker threads. Same wire, same vectors; only how a call is awaited differs."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading

import boto3
import numpy as np
import pytest

from omnivec.providers import ConfigurationError, InvalidOptionError, get_provider
from omnivec.providers.emulator import Emulator

NOVA = "bedrock:amazon.nova-2-multimodal-embeddings-v1:0"
TEXTS = [f"text number {i} about topic {i % 5}" for i in range(40)]


def _bedrock_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("omnivec-bedrock")]


def test_the_default_awaits_calls_on_the_loop_with_no_worker_thread(omnivec_emulator: Emulator) -> None:
    on_loop = get_provider(NOVA, dimensions=256, max_concurrency=8)
    threaded = get_provider(NOVA, dimensions=256, max_concurrency=8, transport="boto3")
    before = set(_bedrock_threads())

    async def both() -> tuple[np.ndarray, np.ndarray, list[threading.Thread]]:
        a = await on_loop.embed(TEXTS, intent="document")
        made = [t for t in _bedrock_threads() if t not in before]  # before boto3 makes its own
        b = await threaded.embed(TEXTS, intent="document")
        await on_loop.aclose()
        await threaded.aclose()
        return a.vectors, b.vectors, made

    aio_vectors, thread_vectors, made = asyncio.run(both())
    assert made == []  # aiobotocore: no thread per call, so no hop loop → thread → loop
    np.testing.assert_allclose(aio_vectors, thread_vectors, atol=1e-6)


def test_a_boto3_session_or_client_keeps_the_thread_transport(omnivec_emulator: Emulator) -> None:
    session = boto3.Session(region_name="us-east-1")
    provider = get_provider(NOVA, dimensions=256, client=session)  # auto: the caller's boto3 object is used
    assert provider.embed_sync(TEXTS[:3], intent="document").vectors.shape == (3, 256)
    assert _bedrock_threads()
    with pytest.raises(InvalidOptionError, match="transport='aiobotocore' cannot use a boto3 client or Session"):
        get_provider(NOVA, dimensions=256, client=session, transport="aiobotocore")


def test_asking_for_aiobotocore_without_it_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "aiobotocore", None)  # import aiobotocore now raises ImportError
    with pytest.raises(ConfigurationError, match=r"pip install 'omnivec\[bedrock\]'"):
        get_provider(NOVA, dimensions=256, transport="aiobotocore")
    assert get_provider(NOVA, dimensions=256).embed_sync  # auto falls back to boto3 threads quietly


def test_clients_close_with_their_loops_and_at_exit(omnivec_emulator: Emulator) -> None:
    """One aiohttp session per event loop: each asyncio.run closes its own, the sync methods' loop
    closes its one at exit, and a provider collected without aclose() has its clients closed.
    Otherwise aiohttp prints 'Unclosed client session' / 'Unclosed connector'."""
    script = textwrap.dedent(
        f"""
        import asyncio, gc, time
        from omnivec.providers import get_provider
        provider = get_provider({NOVA!r}, dimensions=256)
        provider.embed_sync(["sync"], intent="document")
        for i in range(3):
            asyncio.run(provider.embed([f"async {{i}}"], intent="document"))
        def drop():  # providers never closed, then collected
            for model, dims in (("bedrock:cohere.embed-v4:0", 1536), ({NOVA!r}, 3072)):
                get_provider(model, dimensions=dims).embed_sync([f"t {{i}}" for i in range(96)], intent="document")
        drop()
        gc.collect()
        time.sleep(0.2)  # its client closes on the sync loop
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-X", "dev", "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
    assert "Unclosed" not in done.stderr, done.stderr[-2000:]


def test_a_large_answer_is_parsed_off_the_loop(omnivec_emulator: Emulator) -> None:
    """A Cohere v4 batch of 96 vectors × 1,536 floats is ~2 MB of JSON: parsed on the loop it would
    stall every other call for milliseconds, so the aiobotocore transport hands it to a worker thread."""
    texts = [f"cohere text {i}" for i in range(96)]
    cohere = get_provider("bedrock:cohere.embed-v4:0", dimensions=1536)
    before = set(_bedrock_threads())
    on_loop = cohere.embed_sync(texts, intent="document").vectors
    assert [t for t in _bedrock_threads() if t not in before]  # the parse ran in a worker thread
    threaded = get_provider("bedrock:cohere.embed-v4:0", dimensions=1536, transport="boto3")
    np.testing.assert_allclose(on_loop, threaded.embed_sync(texts, intent="document").vectors, atol=1e-6)
    small = get_provider(NOVA, dimensions=3072)  # one Nova vector (~60 kB) stays on the loop
    before = set(_bedrock_threads())
    small.embed_sync(TEXTS[:4], intent="document")
    assert [t for t in _bedrock_threads() if t not in before] == []


def test_bedrock_honours_aws_region(monkeypatch: pytest.MonkeyPatch) -> None:
    with Emulator() as emulator:
        for name in ("AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AWS_REGION", "eu-west-1")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "EMULATOR")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "EMULATOR")
        provider = get_provider("bedrock", endpoint_url=emulator.url, dimensions=256)
        assert provider._make_client().meta.region_name == "eu-west-1"  # type: ignore[attr-defined]
