"""OmnivecEmbeddings: LangChain's own standard suites, then what those suites never check.

The standard suites (``langchain-tests``) run against the fake, the real local MiniLM and the
emulated Gemini and Bedrock clouds through their real SDKs. They only check shapes and types, so
the tests below them check intents, order, batching, retries, the fingerprint and the async path.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, ClassVar

import numpy as np
import pytest

pytest.importorskip("langchain_core", reason='needs the extra: pip install "omnivec[langchain]"')

from langchain_core.documents import Document
from langchain_core.vectorstores import InMemoryVectorStore
from langchain_tests.integration_tests import EmbeddingsIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from omnivec.providers import InvalidInputError, InvalidOptionError, RateLimitError, get_provider
from omnivec.providers.emulator import Emulator
from omnivec.providers.integrations.langchain import OmnivecEmbeddings
from omnivec.providers.testing import FakeProvider

GEMINI = "gemini:gemini-embedding-2"
NOVA = "bedrock:amazon.nova-2-multimodal-embeddings-v1:0"
FAST_RETRY = {"max_attempts": 3, "initial_backoff_s": 0.0, "max_backoff_s": 0.0}


class _Params:
    """Plain mixin (the suites' no-override check looks through it): which model each class runs."""

    params: ClassVar[dict[str, Any]] = {"model": "fake"}

    @property
    def embeddings_class(self) -> type[OmnivecEmbeddings]:
        return OmnivecEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return dict(self.params)


class TestStandardUnit(_Params, EmbeddingsUnitTests):
    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        # No model given: the adapter reads omnivec's own configuration, as plain omnivec code does.
        return {"OMNIVEC_MODEL": "fake"}, {}, {"model": "fake:fake-embedding", "dimensions": 64}


class TestStandardIntegrationFake(_Params, EmbeddingsIntegrationTests):
    pass


@pytest.mark.slow
class TestStandardIntegrationLocal(_Params, EmbeddingsIntegrationTests):
    params: ClassVar[dict[str, Any]] = {"model": "local"}


class _Emulated(_Params):
    @pytest.fixture(autouse=True)
    def _clouds(self, omnivec_emulator: Emulator) -> Emulator:
        return omnivec_emulator


class TestStandardIntegrationGemini(_Emulated, EmbeddingsIntegrationTests):
    params: ClassVar[dict[str, Any]] = {"model": GEMINI, "dimensions": 256}


class TestStandardIntegrationBedrock(_Emulated, EmbeddingsIntegrationTests):
    params: ClassVar[dict[str, Any]] = {"model": NOVA, "dimensions": 256}


# --- what the standard suites do not check -------------------------------------------------------


@pytest.mark.parametrize("ref", [GEMINI, NOVA])
def test_queries_and_documents_reach_the_cloud_with_their_own_intent(ref: str, omnivec_emulator: Emulator) -> None:
    embeddings = OmnivecEmbeddings(ref, dimensions=256)
    provider = get_provider(ref, dimensions=256)
    text = "where do cats sleep"
    query, (document,) = embeddings.embed_query(text), embeddings.embed_documents([text])
    np.testing.assert_allclose(query, provider.embed_sync(text, intent="query").vectors[0], atol=1e-6)
    np.testing.assert_allclose(document, provider.embed_sync(text, intent="document").vectors[0], atol=1e-6)
    assert not np.allclose(query, document, atol=1e-4)  # Nova purpose / Gemini prefix really differ


def test_symmetric_intents_can_be_chosen_for_both_sides() -> None:
    embeddings = OmnivecEmbeddings("fake", query_intent="clustering", document_intent="clustering")
    assert embeddings.embed_query("a b c") == embeddings.embed_documents(["a b c"])[0]
    assert embeddings.fingerprint == embeddings.query_fingerprint


def test_many_texts_are_batched_to_the_provider_limit_and_keep_their_order() -> None:
    provider = FakeProvider(max_batch_size=16)
    texts = [f"text number {i} about {['cats', 'rockets', 'bread'][i % 3]}" for i in range(40)]
    vectors = OmnivecEmbeddings(provider).embed_documents(texts)
    assert [len(batch) for batch, _ in provider.calls] == [16, 16, 8]
    assert all(intent == "document" for _, intent in provider.calls)
    for i in (0, 17, 39):
        np.testing.assert_allclose(vectors[i], provider.embed_one(texts[i], "document"), atol=1e-6)


def test_throttled_calls_are_retried_by_the_core() -> None:
    provider = FakeProvider(failures=[RateLimitError("slow down", retry_after=0.0), None], retry=FAST_RETRY)
    assert len(OmnivecEmbeddings(provider).embed_query("hello")) == 64
    assert len(provider.calls) == 2


def test_the_fingerprint_is_exposed_and_follows_the_settings() -> None:
    small, large = OmnivecEmbeddings("fake", dimensions=32), OmnivecEmbeddings("fake", dimensions=64)
    assert small.fingerprint == small.provider.fingerprint("document")
    assert small.query_fingerprint == small.provider.fingerprint("query")
    assert small.fingerprint.hash != large.fingerprint.hash
    assert small.fingerprint.hash != small.query_fingerprint.hash
    assert small.fingerprint.hash in repr(small)


async def test_async_methods_run_on_the_callers_loop_not_a_thread() -> None:
    seen: list[tuple[asyncio.AbstractEventLoop, threading.Thread]] = []

    class Recording(FakeProvider):
        async def _embed_batch(self, batch: Any, *, intent: Any) -> Any:
            seen.append((asyncio.get_running_loop(), threading.current_thread()))
            return await super()._embed_batch(batch, intent=intent)

    embeddings = OmnivecEmbeddings(Recording())
    await embeddings.aembed_query("q")
    await embeddings.aembed_documents(["a", "b"])
    assert seen == [(asyncio.get_running_loop(), threading.current_thread())] * 2


async def test_sync_methods_work_inside_a_running_loop() -> None:
    embeddings = OmnivecEmbeddings("fake")
    assert len(embeddings.embed_documents(["inside a notebook cell"])[0]) == 64


async def test_empty_lists_make_no_call_and_bad_texts_fail_before_any_call() -> None:
    provider = FakeProvider()
    embeddings = OmnivecEmbeddings(provider)
    assert embeddings.embed_documents([]) == [] and await embeddings.aembed_documents([]) == []
    with pytest.raises(InvalidInputError, match=r"inputs\[1\]"):
        embeddings.embed_documents(["fine", "   "])
    assert provider.calls == []


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((FakeProvider(),), {"dimensions": 8}, "apply only to a model reference"),
        (("fake",), {"query_intent": "search"}, "query_intent='search' is not an intent"),
        (("fake",), {"dimension": 8}, "did you mean 'dimensions'"),
        ((42,), {}, "got int"),
    ],
)
def test_bad_construction_fails_with_one_line_naming_the_fix(
    args: tuple[Any, ...], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidOptionError, match=message) as info:
        OmnivecEmbeddings(*args, **kwargs)
    assert "\n" not in str(info.value)


class Closable(FakeProvider):
    closed = 0

    async def aclose(self) -> None:
        self.closed += 1


def test_a_passed_provider_is_shared_not_closed() -> None:
    provider = Closable()
    OmnivecEmbeddings(provider).close()
    assert provider.closed == 0
    provider.close()
    assert provider.closed == 1


@pytest.mark.slow
def test_a_langchain_retriever_over_the_local_model_finds_the_right_document() -> None:
    store = InMemoryVectorStore(OmnivecEmbeddings("local"))
    store.add_documents(
        [
            Document(page_content=t)
            for t in (
                "The Eiffel Tower is a wrought-iron lattice tower in Paris.",
                "Photosynthesis lets plants turn sunlight into chemical energy.",
                "Sourdough bread rises thanks to wild yeast and bacteria.",
            )
        ]
    )
    hits = store.as_retriever(search_kwargs={"k": 1}).invoke("How do plants make energy from light?")
    assert hits[0].page_content.startswith("Photosynthesis")
