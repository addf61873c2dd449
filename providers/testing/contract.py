"""The provider contract suite, shipped so a third-party adapter runs the same tests as ours.

Subclass :class:`ProviderContract` in a test module and give it a ``make_provider`` fixture that
returns a factory (``**options -> EmbeddingProvider``), the way ``langchain-tests`` serves
LangChain integrations::

    from omnivec.providers.testing.contract import ProviderContract

    class TestAcme(ProviderContract):
        @pytest.fixture
        def make_provider(self):
            return lambda **options: AcmeProvider("acme-embed-1", dimensions=256, **options)

Every test goes through the public API only (``embed_sync``, ``embed``, results and fingerprints),
so it holds for any adapter that implements the one hook, ``_embed_batch``. Needs pytest.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from ..base import EmbeddingProvider
from ..errors import InputError
from ..registry import builtin_providers

__all__ = ["ContractCase", "ProviderContract", "builtin_contract_cases"]

ProviderFactory = Callable[..., EmbeddingProvider[Any]]
TEXTS = [f"passage {i}: the {['cat', 'dog', 'bird', 'fish'][i % 4]} sat near item {i}" for i in range(23)]


@dataclass(frozen=True)
class ContractCase:
    """One provider configuration the suite runs: a model reference and its options."""

    name: str
    ref: str
    options: dict[str, Any] = field(default_factory=dict)
    emulated: bool = False
    """Needs omnivec's wire emulator (the ``omnivec_emulator`` fixture) to answer its SDK."""


def builtin_contract_cases() -> list[ContractCase]:
    """One case per built-in registry row that declares ``contract_options``."""
    return [
        ContractCase(info.name, info.name, dict(info.contract_options), info.emulated)
        for info in builtin_providers().values()
        if info.contract_options is not None
    ]


class ProviderContract:
    """Behaviour every omnivec provider must show. Override :meth:`make_provider` (a fixture)."""

    @pytest.fixture
    def make_provider(self) -> ProviderFactory:
        raise NotImplementedError("subclasses provide a make_provider fixture returning a factory")

    def asymmetric_intents(self, provider: EmbeddingProvider[Any]) -> bool:
        """Whether query and document vectors of the same text must differ (prompts, purposes)."""
        return True

    def test_order_is_preserved(self, make_provider: ProviderFactory) -> None:
        provider = make_provider()
        result = provider.embed_sync(TEXTS, intent="document")
        assert len(result) == len(TEXTS)
        for i in (0, 7, 22):
            single = provider.embed_sync(TEXTS[i], intent="document").vectors[0]
            np.testing.assert_allclose(result.vectors[i], single, atol=1e-5)

    def test_batch_equals_single_and_is_never_fused(self, make_provider: ProviderFactory) -> None:
        provider = make_provider()
        batch = provider.embed_sync(TEXTS[:5], intent="query").vectors
        singles = np.stack([provider.embed_sync(t, intent="query").vectors[0] for t in TEXTS[:5]])
        np.testing.assert_allclose(batch, singles, atol=1e-5)
        assert len({tuple(np.round(v, 4)) for v in batch}) == 5

    def test_intent_changes_the_request(self, make_provider: ProviderFactory) -> None:
        provider = make_provider()
        query = provider.embed_sync("what sat near the cat", intent="query")
        document = provider.embed_sync("what sat near the cat", intent="document")
        assert query.fingerprint.intent_mapping != document.fingerprint.intent_mapping
        if self.asymmetric_intents(provider):
            assert not np.allclose(query.vectors, document.vectors, atol=1e-4)

    def test_dimensions_match_the_fingerprint_and_vectors_are_unit_length(self, make_provider: ProviderFactory) -> None:
        provider = make_provider(normalize=True)
        result = provider.embed_sync(TEXTS[:3], intent="document")
        assert result.vectors.shape == (3, provider.dimensions) == (3, result.fingerprint.dimensions)
        np.testing.assert_allclose(np.linalg.norm(result.vectors, axis=1), 1.0, atol=1e-4)
        assert result.fingerprint.normalized

    def test_fingerprint_is_stable_and_names_the_model(self, make_provider: ProviderFactory) -> None:
        first = make_provider().embed_sync("a", intent="document").fingerprint
        second = make_provider().embed_sync("b", intent="document").fingerprint
        assert first == second and first.hash == second.hash
        assert first.model and first.provider

    def test_retrieval_over_the_adapter_beats_chance(self, make_provider: ProviderFactory) -> None:
        provider = make_provider()
        docs = ["the cat sat on the mat", "stock prices fell sharply", "rain is expected tomorrow"]
        doc_vectors = provider.embed_sync(docs, intent="document").vectors
        query = provider.embed_sync("cat on a mat", intent="query").vectors[0]
        assert int(np.argmax(doc_vectors @ query)) == 0

    def test_async_and_sync_agree(self, make_provider: ProviderFactory) -> None:
        provider = make_provider()

        async def both() -> tuple[np.ndarray, np.ndarray]:
            docs = await provider.embed_documents(TEXTS[:4])
            query = await provider.embed_query(TEXTS[0])
            return docs.vectors, query.vectors

        docs, query = asyncio.run(both())
        np.testing.assert_allclose(docs, provider.embed_documents_sync(TEXTS[:4]).vectors, atol=1e-5)
        np.testing.assert_allclose(query, provider.embed_query_sync(TEXTS[0]).vectors, atol=1e-5)

    def test_bad_input_is_refused_before_any_call(self, make_provider: ProviderFactory) -> None:
        provider = make_provider()
        with pytest.raises(InputError):
            provider.embed_sync(["fine", "   "], intent="document")
        with pytest.raises(InputError):
            provider.embed_sync([], intent="document")
