"""Our adapters through the SHIPPED contract suite, plus emulator-only cloud error tests.

The cases come from the registry rows (``contract_options``): Bedrock runs through boto3 and Gemini
through google-genai against the local wire emulator; the local adapter runs the real all-MiniLM-L6-v2.
"""

from __future__ import annotations

import asyncio
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
from omnivec.providers.testing.contract import ContractCase, ProviderContract, builtin_contract_cases

CASES = builtin_contract_cases()
# Bedrock's other transport (each boto3 call in a worker thread) runs the same suite as its default.
CASES.append(ContractCase("bedrock-boto3", "bedrock", {"dimensions": 256, "transport": "boto3"}, emulated=True))
CLOUD = [case for case in CASES if case.emulated]
FAST_RETRY = {"max_attempts": 3, "initial_backoff_s": 0.0, "max_backoff_s": 0.0}

Factory = Callable[..., EmbeddingProvider[Any]]


def _factory(case: ContractCase) -> Factory:
    return lambda **options: get_provider(case.ref, **{**case.options, **options})


class TestBuiltinProviders(ProviderContract):
    @pytest.fixture(params=CASES, ids=[case.name for case in CASES])
    def make_provider(self, request: pytest.FixtureRequest) -> Factory:
        if request.param.emulated:
            request.getfixturevalue("omnivec_emulator")
        return _factory(request.param)

    def asymmetric_intents(self, provider: EmbeddingProvider[Any]) -> bool:
        # MiniLM has no query prompt, so its query and document vectors are the same on purpose.
        return "prompt=None" not in provider.intent_mapping("query")


def test_every_builtin_adapter_is_in_the_suite() -> None:
    assert {case.name for case in CASES} >= {"sentence-transformers", "bedrock", "gemini", "openai", "fake"}
    assert {case.name for case in CLOUD} == {"bedrock", "bedrock-boto3", "gemini", "openai"}


@pytest.fixture(params=CLOUD, ids=[case.name for case in CLOUD])
def make_cloud(request: pytest.FixtureRequest, omnivec_emulator: Emulator) -> Factory:
    return _factory(request.param)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, InvalidRequestError),
        (403, AuthenticationError),
        (429, RateLimitError),
        (500, ServiceUnavailableError),
        (503, ServiceUnavailableError),
    ],
)
def test_http_errors_become_typed_errors(
    make_cloud: Factory, omnivec_emulator: Emulator, status: int, error: type[Exception]
) -> None:
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


def test_a_closed_provider_is_usable_again(make_cloud: Factory) -> None:
    """aclose() frees threads and clients; a later call builds them again instead of failing."""
    provider = make_cloud()

    async def twice() -> tuple[Any, Any]:
        first = await provider.embed(["one two three"], intent="document")
        await provider.aclose()
        second = await provider.embed(["one two three"], intent="document")
        await provider.aclose()
        return first.vectors, second.vectors

    first, second = asyncio.run(twice())
    assert np.array_equal(first, second)


def last_bodies(emulator: Emulator, n: int) -> list[dict[str, Any]]:
    return [json.loads(entry["body"]) for entry in list(emulator.requests_log)[-n:]]


def test_hangs_past_the_timeout_become_timeouts_and_are_retried() -> None:
    from omnivec.providers import ProviderTimeoutError
    from omnivec.providers.emulator import Faults, emulated_clouds

    with emulated_clouds(Faults(hang_rate=1.0, hang_s=1.5)) as emulator:
        for provider in (
            get_provider("gemini:gemini-embedding-2", dimensions=128, timeout_s=0.3, retry=FAST_RETRY),
            get_provider(
                "bedrock:amazon.nova-2-multimodal-embeddings-v1:0", dimensions=256, read_timeout_s=0.3, retry=FAST_RETRY
            ),
        ):
            before = emulator.stats.requests
            with pytest.raises(ProviderTimeoutError):
                provider.embed_sync("x", intent="query")
            assert emulator.stats.requests - before == FAST_RETRY["max_attempts"]


def test_dropped_connections_are_unavailable_and_retried() -> None:
    from omnivec.providers.emulator import Faults, emulated_clouds

    with emulated_clouds(Faults(drop_rate=1.0)) as emulator:
        for ref, dims in (
            ("gemini:gemini-embedding-2", 128),
            ("bedrock:amazon.nova-2-multimodal-embeddings-v1:0", 256),
        ):
            provider = get_provider(ref, dimensions=dims, retry=FAST_RETRY)
            with pytest.raises(ServiceUnavailableError):
                provider.embed_sync("x", intent="query")
        assert emulator.stats.injected == 2 * FAST_RETRY["max_attempts"]
