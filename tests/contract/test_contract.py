"""ONE behavioural suite over all three adapters, each through its real SDK or library.

Bedrock runs through boto3 and Gemini through google-genai against the local wire emulator;
the local adapter runs the real all-MiniLM-L6-v2.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from omnivec.providers import (
    AuthenticationError,
    EmbeddingProvider,
    InvalidRequestError,
    RateLimitError,
    ServiceUnavailableError,
    get_provider,
)
from omnivec.providers.emulator import Emulator

REFS = {
    "local": ("local", {"dimensions": 128, "normalize": True}),
    "bedrock": ("bedrock:amazon.nova-2-multimodal-embeddings-v1:0", {"dimensions": 256}),
    "gemini": ("gemini:gemini-embedding-2", {"dimensions": 256}),
}
CLOUD = ["bedrock", "gemini"]
FAST_RETRY = {"max_attempts": 3, "initial_backoff_s": 0.0, "max_backoff_s": 0.0}
TEXTS = [f"passage {i}: the {['cat', 'dog', 'bird', 'fish'][i % 4]} sat near item {i}" for i in range(23)]

Factory = Callable[..., EmbeddingProvider[Any]]


@pytest.fixture(params=list(REFS))
def make(request: pytest.FixtureRequest, omnivec_emulator: Emulator) -> Factory:
    ref, defaults = REFS[request.param]

    def factory(**options: Any) -> EmbeddingProvider[Any]:
        return get_provider(ref, **{**defaults, **options})

    factory.kind = request.param  # type: ignore[attr-defined]
    return factory


@pytest.fixture(params=CLOUD)
def make_cloud(request: pytest.FixtureRequest, omnivec_emulator: Emulator) -> Factory:
    ref, defaults = REFS[request.param]
    return lambda **options: get_provider(ref, **{**defaults, **options})


def test_order_is_preserved(make: Factory) -> None:
    provider = make()
    result = provider.embed_sync(TEXTS, intent="document")
    for i in (0, 7, 22):
        single = provider.embed_sync(TEXTS[i], intent="document").vectors[0]
        np.testing.assert_allclose(result.vectors[i], single, atol=1e-5)


def test_batch_equals_single(make: Factory) -> None:
    provider = make()
    batch = provider.embed_sync(TEXTS[:5], intent="query").vectors
    singles = np.stack([provider.embed_sync(t, intent="query").vectors[0] for t in TEXTS[:5]])
    np.testing.assert_allclose(batch, singles, atol=1e-5)
    assert len({tuple(np.round(v, 4)) for v in batch}) == 5  # never fused into one vector


def test_intent_changes_the_request(make: Factory) -> None:
    provider = make()
    q = provider.embed_sync("what sat near the cat", intent="query")
    d = provider.embed_sync("what sat near the cat", intent="document")
    assert q.fingerprint.intent_mapping != d.fingerprint.intent_mapping
    if make.kind != "local":  # type: ignore[attr-defined]  # MiniLM has no query prompt by default
        assert not np.allclose(q.vectors, d.vectors, atol=1e-4)


def test_dimensions_are_honoured_and_vectors_are_unit_length(make: Factory) -> None:
    result = make().embed_sync(TEXTS[:3], intent="document")
    assert result.vectors.shape == (3, REFS[make.kind][1]["dimensions"])  # type: ignore[attr-defined]
    np.testing.assert_allclose(np.linalg.norm(result.vectors, axis=1), 1.0, atol=1e-5)
    assert result.fingerprint.normalized


def test_retrieval_over_the_adapter_beats_chance(make: Factory) -> None:
    provider = make()
    docs = provider.embed_sync(["the cat sat on the mat", "stock prices fell sharply", "rain is expected tomorrow"],
                               intent="document").vectors
    query = provider.embed_sync("cat on a mat", intent="query").vectors[0]
    assert int(np.argmax(docs @ query)) == 0


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, InvalidRequestError), (403, AuthenticationError), (429, RateLimitError),
     (500, ServiceUnavailableError), (503, ServiceUnavailableError)],
)
def test_http_errors_become_typed_errors(make_cloud: Factory, omnivec_emulator: Emulator, status: int,
                                         error: type[Exception]) -> None:
    provider = make_cloud(retry={"max_attempts": 1})
    omnivec_emulator.fail_next(status)
    with pytest.raises(error) as info:
        provider.embed_sync("x", intent="query")
    assert info.value.status_code == status and info.value.__cause__ is not None


def test_retryable_errors_are_retried_through_the_sdk(make_cloud: Factory, omnivec_emulator: Emulator) -> None:
    provider = make_cloud(retry=FAST_RETRY)
    omnivec_emulator.fail_next(429)
    omnivec_emulator.fail_next(503)
    before = omnivec_emulator.stats.requests
    result = provider.embed_sync("x", intent="query")
    assert omnivec_emulator.stats.requests - before == 3  # our retries only: the SDK's own are off
    assert result.timings[0].retried == ("RateLimitError", "ServiceUnavailableError")


def test_non_retryable_errors_are_sent_once(make_cloud: Factory, omnivec_emulator: Emulator) -> None:
    provider = make_cloud(retry=FAST_RETRY)
    omnivec_emulator.fail_next(400)
    before = omnivec_emulator.stats.requests
    with pytest.raises(InvalidRequestError):
        provider.embed_sync("x", intent="query")
    assert omnivec_emulator.stats.requests - before == 1


def test_usage_is_reported(make_cloud: Factory) -> None:
    result = make_cloud().embed_sync(["one two three", "four five"], intent="document")
    assert result.usage.input_tokens and result.usage.input_tokens > 0
    assert result.usage.requests >= 1


def last_bodies(emulator: Emulator, n: int) -> list[dict[str, Any]]:
    return [json.loads(entry["body"]) for entry in list(emulator.requests_log)[-n:]]


def test_hangs_past_the_timeout_become_timeouts_and_are_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    from omnivec.providers import ProviderTimeoutError
    from omnivec.providers.emulator import Faults, emulator_env
    from omnivec.providers.testing import allow_remote_calls

    with Emulator(Faults(hang_rate=1.0, hang_s=1.5)) as emulator, allow_remote_calls():
        for name, value in emulator_env(emulator.url).items():
            monkeypatch.setenv(name, value)
        for provider in (get_provider("gemini:gemini-embedding-2", dimensions=128, timeout_s=0.3, retry=FAST_RETRY),
                         get_provider("bedrock:amazon.nova-2-multimodal-embeddings-v1:0", dimensions=256,
                                      read_timeout_s=0.3, retry=FAST_RETRY)):
            before = emulator.stats.requests
            with pytest.raises(ProviderTimeoutError):
                provider.embed_sync("x", intent="query")
            assert emulator.stats.requests - before == FAST_RETRY["max_attempts"]


def test_dropped_connections_are_unavailable_and_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    from omnivec.providers.emulator import Faults, emulator_env
    from omnivec.providers.testing import allow_remote_calls

    with Emulator(Faults(drop_rate=1.0)) as emulator, allow_remote_calls():
        for name, value in emulator_env(emulator.url).items():
            monkeypatch.setenv(name, value)
        for ref, dims in (("gemini:gemini-embedding-2", 128), ("bedrock:amazon.nova-2-multimodal-embeddings-v1:0", 256)):
            provider = get_provider(ref, dimensions=dims, retry=FAST_RETRY)
            with pytest.raises(ServiceUnavailableError):
                provider.embed_sync("x", intent="query")
        assert emulator.stats.injected == 2 * FAST_RETRY["max_attempts"]
