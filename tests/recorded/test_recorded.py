"""The cloud adapters replayed from cassettes through boto3 (urllib3), google-genai and openai (httpx2).

Bedrock runs here with ``transport="boto3"``: VCR's aiohttp stubs do not give aiobotocore a body it can
stream, so the default aiobotocore transport is tested against the emulator (tests/contract) and live.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from omnivec.providers import RateLimitError, get_provider

from .conftest import SECRET_HEADERS, Cloud

CASSETTES = Path(__file__).parent / "cassettes"
NOVA = "bedrock:amazon.nova-2-multimodal-embeddings-v1:0"
FAST = {"max_attempts": 3, "initial_backoff_s": 0.0, "max_backoff_s": 0.0}


@pytest.mark.vcr
def test_bedrock_query_and_documents(cloud: Cloud, vcr) -> None:  # type: ignore[no-untyped-def]
    provider = get_provider(NOVA, dimensions=256, max_concurrency=1, transport="boto3")
    docs = provider.embed_sync(["solar panels convert light", "wind turbines spin"], intent="document")
    query = provider.embed_sync("how does solar power work", intent="query")
    assert docs.vectors.shape == (2, 256) and query.vectors.shape == (1, 256)
    np.testing.assert_allclose(np.linalg.norm(docs.vectors, axis=1), 1.0, atol=1e-5)
    assert int(np.argmax(docs.vectors @ query.vectors[0])) == 0
    if cloud.kind == "replay":
        assert vcr.play_count == 3 and vcr.all_played  # served from the cassette, not the network


@pytest.mark.vcr
def test_gemini_three_texts_three_vectors(cloud: Cloud, vcr) -> None:  # type: ignore[no-untyped-def]
    provider = get_provider("gemini:gemini-embedding-2", dimensions=128)
    result = provider.embed_sync(["first", "second", "third"], intent="document")
    assert result.vectors.shape == (3, 128)
    assert len({tuple(np.round(v, 5)) for v in result.vectors}) == 3
    if cloud.kind == "replay":
        assert vcr.play_count == 1 and vcr.all_played  # httpx2 went through VCR


@pytest.mark.vcr
def test_gemini_rate_limit_then_success(cloud: Cloud, vcr) -> None:  # type: ignore[no-untyped-def]
    cloud.fail_next(429)
    provider = get_provider("gemini:gemini-embedding-2", dimensions=128, retry=FAST)
    result = provider.embed_sync("throttled once", intent="query")
    if cloud.kind != "live":
        assert result.timings[0].retried == ("RateLimitError",)
        assert result.vectors.shape == (1, 128)


@pytest.mark.vcr
def test_bedrock_throttling_maps_to_rate_limit(cloud: Cloud, vcr) -> None:  # type: ignore[no-untyped-def]
    if cloud.kind == "live":
        pytest.skip("cannot make the live service throttle on demand")
    cloud.fail_next(429)
    provider = get_provider(NOVA, dimensions=256, retry={"max_attempts": 1}, transport="boto3")
    with pytest.raises(RateLimitError) as info:
        provider.embed_sync("x", intent="query")
    assert info.value.code == "ThrottlingException" and info.value.status_code == 429


@pytest.mark.vcr
def test_openai_documents_then_query(cloud: Cloud, vcr) -> None:  # type: ignore[no-untyped-def]
    provider = get_provider("openai:text-embedding-3-small", dimensions=256)
    docs = provider.embed_sync(["solar panels convert light", "wind turbines spin"], intent="document")
    query = provider.embed_sync("how does solar power work", intent="query")
    assert docs.vectors.shape == (2, 256) and query.vectors.shape == (1, 256)
    np.testing.assert_allclose(np.linalg.norm(docs.vectors, axis=1), 1.0, atol=1e-5)
    assert int(np.argmax(docs.vectors @ query.vectors[0])) == 0
    assert docs.usage.input_tokens and docs.usage.input_tokens > 0
    if cloud.kind == "replay":
        assert vcr.play_count == 2 and vcr.all_played  # one request per embed, base64 decoded by the SDK


@pytest.mark.vcr
def test_openai_rate_limit_hint_then_success(cloud: Cloud, vcr) -> None:  # type: ignore[no-untyped-def]
    if cloud.kind == "live":
        pytest.skip("cannot make the live service throttle on demand")
    cloud.fail_next(429)
    provider = get_provider("openai:text-embedding-3-small", dimensions=256, retry=FAST)
    result = provider.embed_sync("throttled once", intent="query")
    assert result.timings[0].retried == ("RateLimitError",) and result.vectors.shape == (1, 256)
    if cloud.kind == "replay":
        assert vcr.play_count == 2 and vcr.all_played


def test_replay_without_a_cassette_fails_instead_of_reaching_the_network(cloud: Cloud) -> None:
    if cloud.kind != "replay":
        pytest.skip("only meaningful when replaying")
    from omnivec.providers import ServiceUnavailableError

    with pytest.raises(ServiceUnavailableError, match="reach"):
        get_provider("gemini:gemini-embedding-2", dimensions=128, retry={"max_attempts": 1}).embed_sync(
            "x", intent="query"
        )


def test_cassettes_hold_no_secrets() -> None:
    files = sorted(CASSETTES.rglob("*.yaml"))
    assert len(files) >= 6
    for path in files:
        text = path.read_text().lower()
        for header in SECRET_HEADERS[:3]:
            assert f"{header}:" not in text, f"{path.name} keeps {header}"
        assert "aws4-hmac-sha256" not in text and "emulator-key" not in text
