"""The OpenAI-compatible adapter through the real ``openai`` SDK against the emulator: what reaches the wire."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import numpy as np
import openai
import pytest

from omnivec.providers import (
    AuthenticationError,
    InputError,
    InvalidOptionError,
    MissingCredentialsError,
    ModelNotFoundError,
    ProviderTimeoutError,
    RateLimitError,
    ServiceUnavailableError,
    UnexpectedResponseError,
    get_provider,
)
from omnivec.providers.emulator import Emulator, Faults, emulated_clouds
from omnivec.providers.testing.contract import ProviderContract

SMALL = "openai:text-embedding-3-small"
FAST = {"max_attempts": 3, "initial_backoff_s": 0.0, "max_backoff_s": 0.0}


def bodies(emulator: Emulator, n: int) -> list[dict[str, Any]]:
    return [json.loads(e["body"]) for e in list(emulator.requests_log)[-n:]]


class TestCompatibleServerContract(ProviderContract):
    """The shipped suite on a model a TEI-like server serves: E5 prefixes, JSON floats, 8 inputs a request."""

    @pytest.fixture
    def make_provider(self, omnivec_emulator: Emulator) -> Any:
        options = {
            "base_url": f"{omnivec_emulator.url}/v1",
            "dimensions": 384,
            "query_prefix": "query: ",
            "document_prefix": "passage: ",
            "encoding_format": "float",
            "max_inputs_per_request": 8,
        }
        return lambda **extra: get_provider("openai:BAAI/bge-small-en-v1.5", **{**options, **extra})


def test_the_default_body_asks_for_base64_and_shortened_vectors(omnivec_emulator: Emulator) -> None:
    result = get_provider(SMALL, dimensions=256).embed_sync(["solar panels", "wind"], intent="document")
    assert result.vectors.shape == (2, 256)
    np.testing.assert_allclose(np.linalg.norm(result.vectors, axis=1), 1.0, atol=1e-5)
    (body,) = bodies(omnivec_emulator, 1)
    assert body == {
        "model": "text-embedding-3-small",
        "input": ["solar panels", "wind"],
        "dimensions": 256,
        "encoding_format": "base64",
    }
    assert result.usage.input_tokens and result.usage.input_tokens > 0


def test_float_transfer_and_native_size_send_no_dimensions(omnivec_emulator: Emulator) -> None:
    base64_vectors = get_provider(SMALL).embed_sync("tidal energy", intent="query").vectors
    floats = get_provider(SMALL, encoding_format="float").embed_sync("tidal energy", intent="query").vectors
    assert floats.shape == (1, 1536)
    np.testing.assert_allclose(floats, base64_vectors, atol=1e-6)  # same vectors either way
    assert bodies(omnivec_emulator, 1)[0] == {
        "model": "text-embedding-3-small",
        "input": ["tidal energy"],
        "encoding_format": "float",
    }


def test_ada_takes_no_dimensions_and_refuses_others_before_any_call(omnivec_emulator: Emulator) -> None:
    assert get_provider("openai:text-embedding-ada-002").embed_sync("x", intent="query").vectors.shape == (1, 1536)
    assert "dimensions" not in bodies(omnivec_emulator, 1)[0]
    with pytest.raises(InvalidOptionError, match="1536"):
        get_provider("openai:text-embedding-ada-002", dimensions=256)
    with pytest.raises(InvalidOptionError, match="1–3072"):
        get_provider("openai:text-embedding-3-large", dimensions=4096)


def test_batches_are_cut_to_the_input_limit_in_order(omnivec_emulator: Emulator) -> None:
    texts = [f"item {i} about topic {i % 3}" for i in range(7)]
    provider = get_provider(SMALL, dimensions=64, max_inputs_per_request=3, max_concurrency=1)
    result = provider.embed_sync(texts, intent="document")
    sent = bodies(omnivec_emulator, 3)
    assert [len(b["input"]) for b in sent] == [3, 3, 1] and omnivec_emulator.stats.requests == 3
    single = get_provider(SMALL, dimensions=64).embed_sync(texts[5], intent="document").vectors[0]
    np.testing.assert_allclose(result.vectors[5], single, atol=1e-6)


def test_batches_are_split_under_the_summed_token_cap(omnivec_emulator: Emulator) -> None:
    texts = ["x" * 40] * 5  # 20 estimated tokens each
    provider = get_provider(SMALL, dimensions=64, max_tokens_per_request=45)
    result = provider.embed_sync(texts, intent="document")
    assert [len(b["input"]) for b in bodies(omnivec_emulator, 3)] == [2, 2, 1]
    assert result.usage.requests == 1 and result.usage.input_tokens == 5 * 10  # one core call, three requests


def test_empty_and_blank_strings_are_refused_before_any_call(omnivec_emulator: Emulator) -> None:
    provider = get_provider(SMALL, dimensions=64)
    for bad in ([""], ["fine", "  "]):
        with pytest.raises(InputError):
            provider.embed_sync(bad, intent="document")
    assert omnivec_emulator.stats.requests == 0


def test_the_emulator_refuses_what_the_api_refuses(omnivec_emulator: Emulator) -> None:
    client = openai.OpenAI(base_url=f"{omnivec_emulator.url}/v1", api_key="k", max_retries=0)
    for kwargs in (
        {"input": ""},
        {"input": ["a"] * 2049},
        {"input": "a", "dimensions": 0},
        {"input": "a", "encoding_format": "hex"},
        {"input": "x " * 40_000},
    ):
        with pytest.raises(openai.BadRequestError):
            client.embeddings.create(model="text-embedding-3-small", **kwargs)
    with pytest.raises(openai.BadRequestError, match="dimensions"):
        client.embeddings.create(model="text-embedding-ada-002", input="a", dimensions=256)
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="text-embedding-9", input="a")
    with pytest.raises(openai.BadRequestError, match="Unrecognized"):
        client.embeddings.create(model="text-embedding-3-small", input="a", extra_body={"task": "x"})
    request = urllib.request.Request(
        f"{omnivec_emulator.url}/v1/embeddings",
        method="POST",
        data=b'{"model": "text-embedding-3-small", "input": "a"}',
    )
    with pytest.raises(urllib.error.HTTPError) as info:  # no Authorization header at all
        urllib.request.urlopen(request, timeout=5)
    assert info.value.code == 401


def test_a_429_hint_is_obeyed_and_the_sdk_does_not_retry(omnivec_emulator: Emulator) -> None:
    omnivec_emulator.fail_next(429)
    with pytest.raises(RateLimitError) as info:
        get_provider(SMALL, dimensions=64, retry={"max_attempts": 1}).embed_sync("x", intent="query")
    assert info.value.retry_after == pytest.approx(0.05) and info.value.code == "rate_limit_exceeded"
    assert omnivec_emulator.stats.requests == 1
    omnivec_emulator.fail_next(429)
    result = get_provider(SMALL, dimensions=64, retry=FAST).embed_sync("x", intent="query")
    assert result.timings[0].retried == ("RateLimitError",) and omnivec_emulator.stats.requests == 3


def test_quota_and_unknown_models_are_not_retried(omnivec_emulator: Emulator) -> None:
    omnivec_emulator.fail_next(429, "insufficient_quota")
    with pytest.raises(AuthenticationError) as info:
        get_provider(SMALL, dimensions=64, retry=FAST).embed_sync("x", intent="query")
    assert info.value.status_code == 429 and omnivec_emulator.stats.requests == 1
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        get_provider("openai:text-embedding-9", dimensions=8, retry=FAST).embed_sync("x", intent="query")
    assert omnivec_emulator.stats.requests == 2


def test_hangs_time_out_and_drops_are_unavailable_both_retried() -> None:
    with emulated_clouds(Faults(hang_rate=1.0, hang_s=1.5)) as emulator:
        with pytest.raises(ProviderTimeoutError):
            get_provider(SMALL, dimensions=64, timeout_s=0.3, retry=FAST).embed_sync("x", intent="query")
        assert emulator.stats.requests == FAST["max_attempts"]
    with emulated_clouds(Faults(drop_rate=1.0)) as emulator:
        with pytest.raises(ServiceUnavailableError, match="reach"):
            get_provider(SMALL, dimensions=64, retry=FAST).embed_sync("x", intent="query")
        assert emulator.stats.requests == FAST["max_attempts"]


def test_no_key_for_openai_is_missing_credentials_before_any_call(
    omnivec_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.delenv("OPENAI_BASE_URL")
    with pytest.raises(MissingCredentialsError, match="OPENAI_API_KEY"):
        get_provider(SMALL, dimensions=64, retry=FAST).embed_sync("x", intent="query")
    # A server of your own needs no key: the SDK gets a placeholder.
    local = get_provider(SMALL, dimensions=64, base_url=f"{omnivec_emulator.url}/v1")
    assert local.embed_sync("x", intent="query").vectors.shape == (1, 64)
    assert omnivec_emulator.stats.requests == 1


def test_compatible_server_models_need_their_size(omnivec_emulator: Emulator) -> None:
    with pytest.raises(InvalidOptionError, match="model_dimensions"):
        get_provider("openai:BAAI/bge-small-en-v1.5")
    served = get_provider("openai:BAAI/bge-small-en-v1.5", dimensions=384)
    assert served.embed_sync("x", intent="query").vectors.shape == (1, 384)
    assert "dimensions" not in bodies(omnivec_emulator, 1)[0] and served.fingerprint("query").normalized
    shortened = get_provider("openai:BAAI/bge-small-en-v1.5", model_dimensions=384, dimensions=128)
    assert shortened.embed_sync("x", intent="query").vectors.shape == (1, 128)
    assert bodies(omnivec_emulator, 1)[0]["dimensions"] == 128
    wrong = get_provider("openai:BAAI/bge-small-en-v1.5", dimensions=256, retry=FAST)  # the server returns 384
    with pytest.raises(UnexpectedResponseError, match="384-dim"):
        wrong.embed_sync("x", intent="query")


def test_prefixes_reach_the_wire_and_the_fingerprint(omnivec_emulator: Emulator) -> None:
    provider = get_provider(SMALL, dimensions=64, query_prefix="query: ", document_prefix="passage: ")
    query = provider.embed_sync("solar", intent="query")
    document = provider.embed_sync("solar", intent="document")
    assert [b["input"] for b in bodies(omnivec_emulator, 2)] == [["query: solar"], ["passage: solar"]]
    assert query.fingerprint.intent_mapping == "query(prompt='query: ')"
    assert not np.allclose(query.vectors, document.vectors)
    plain = get_provider(SMALL, dimensions=64).fingerprint("query")
    assert plain.intent_mapping == "query(prompt=None)" and plain.hash != query.fingerprint.hash


def test_the_fingerprint_knows_the_emulator_from_openai(
    omnivec_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulated = get_provider(SMALL).fingerprint("document")
    assert emulated.options["endpoint"] == "emulator"
    for name in ("OPENAI_BASE_URL", "EMULATED_BY_OMNIVEC"):
        monkeypatch.delenv(name)
    real = get_provider(SMALL).fingerprint("document")
    explicit = get_provider(SMALL, base_url="https://api.openai.com/v1").fingerprint("document")
    vllm = get_provider(SMALL, base_url="http://gpu-box:8000/v1/").fingerprint("document")
    assert real.options["endpoint"] is None and explicit.hash == real.hash
    assert vllm.options["endpoint"] == "http://gpu-box:8000/v1" and len({real.hash, emulated.hash, vllm.hash}) == 3


# Caller-owned clients: apps that configured credentials, proxies or headers pass their client.


@pytest.mark.parametrize("kind", [openai.AsyncOpenAI, openai.OpenAI])
def test_a_caller_owned_client_is_used_with_its_retries_off(omnivec_emulator: Emulator, kind: type) -> None:
    client = kind(
        base_url=f"{omnivec_emulator.url}/v1", api_key="callers-key", max_retries=5, default_headers={"x-app": "mine"}
    )
    provider = get_provider(SMALL, dimensions=64, client=client, retry={"max_attempts": 1})
    result = provider.embed_sync(["a b", "c d"], intent="document")
    assert result.vectors.shape == (2, 64) and result.fingerprint.options["endpoint"] == "emulator"
    omnivec_emulator.fail_next(503)
    with pytest.raises(ServiceUnavailableError):
        provider.embed_sync("x", intent="query")
    assert omnivec_emulator.stats.requests == 2  # the SDK's five retries stayed off
    assert client.max_retries == 5  # the caller's own client is untouched
    provider.close()
    if isinstance(client, openai.OpenAI):
        assert client.embeddings.create(model="text-embedding-3-small", input="still open").data


def test_a_caller_client_excludes_connection_options() -> None:
    client = openai.AsyncOpenAI(base_url="http://127.0.0.1:9/v1", api_key="k")
    with pytest.raises(InvalidOptionError, match="client"):
        get_provider(SMALL, client=client, api_key="other")
    with pytest.raises(InvalidOptionError, match="AsyncOpenAI"):
        get_provider(SMALL, client=object())
