"""LangChain drop-ins: :class:`OmnivecEmbeddings` implements ``langchain_core.embeddings.Embeddings``,
:class:`OmnivecReranker` a ``BaseDocumentCompressor`` (for ``ContextualCompressionRetriever``).

    from omnivec.providers.integrations.langchain import OmnivecEmbeddings, OmnivecReranker
    embeddings = OmnivecEmbeddings("gemini:gemini-embedding-2", dimensions=768)
    reranker = OmnivecReranker("bedrock:cohere.rerank-v3-5:0", top_n=3)

Every call goes through omnivec's core, so LangChain code gets what omnivec guarantees: queries and
documents embedded with their own intent (Nova ``embeddingPurpose``, Gemini prefixes, ST prompts),
batches cut to the provider's limit, adaptive concurrency, retries with ``retry_after``, typed errors
before any call for bad input, and a fingerprint to store beside the index. The ``a*`` methods await
the async core on the caller's event loop (no thread hop); the sync ones run on omnivec's background
loop, so they also work where a loop is already running (notebooks, async servers).

Needs ``pip install "omnivec[langchain]"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

try:
    from langchain_core.callbacks import Callbacks
    from langchain_core.documents import Document
    from langchain_core.documents.compressor import BaseDocumentCompressor
    from langchain_core.embeddings import Embeddings
    from pydantic import ConfigDict
except ImportError as exc:  # the extra is optional: say which one to install
    from ..errors import MissingDependencyError

    raise MissingDependencyError(
        f'the LangChain adapters need langchain-core: pip install "omnivec[langchain]" ({exc})'
    ) from exc

from ..base import EmbeddingProvider
from ..rerank import Reranker, RerankResult
from ..types import Fingerprint, Intent
from ._common import checked_intent, checked_top_n, rerank_query, resolve_provider, resolve_reranker, to_lists

__all__ = ["OmnivecEmbeddings", "OmnivecReranker"]


class OmnivecEmbeddings(Embeddings):
    """LangChain ``Embeddings`` backed by any omnivec provider.

    Args:
        model: a model reference (``"local"``, ``"gemini:gemini-embedding-2"``,
            ``"bedrock:amazon.nova-2-multimodal-embeddings-v1:0"``), an :class:`EmbeddingProvider`
            you built (shared, not closed by this object), or ``None`` for ``OMNIVEC_MODEL`` / the
            ``omnivec.toml`` model (the local MiniLM by default).
        query_intent: intent for :meth:`embed_query` (``query`` unless you use the vectors for
            clustering or classification, then use that intent for both sides).
        document_intent: intent for :meth:`embed_documents`.
        **options: settings of that provider (e.g. ``dimensions=256``), merged over the configured
            ones; only with a model reference.
    """

    def __init__(
        self,
        model: str | EmbeddingProvider[Any] | None = None,
        *,
        query_intent: Intent = "query",
        document_intent: Intent = "document",
        **options: Any,
    ) -> None:
        where = "OmnivecEmbeddings"
        self.query_intent = checked_intent(query_intent, "query_intent", where=where)
        self.document_intent = checked_intent(document_intent, "document_intent", where=where)
        self._owns_provider = not isinstance(model, EmbeddingProvider)
        self.provider: EmbeddingProvider[Any] = resolve_provider(model, options, where=where)

    @property
    def model(self) -> str:
        """The provider reference, e.g. ``gemini:gemini-embedding-2``."""
        return self.provider.ref

    @property
    def dimensions(self) -> int:
        return self.provider.dimensions

    @property
    def fingerprint(self) -> Fingerprint:
        """The document-side fingerprint: store ``fingerprint.hash`` (or ``as_dict()``) with the index
        and compare it before querying, so vectors from another model or setting are never mixed."""
        return self.provider.fingerprint(self.document_intent)

    @property
    def query_fingerprint(self) -> Fingerprint:
        """The query-side fingerprint (differs from :attr:`fingerprint` in its intent mapping)."""
        return self.provider.fingerprint(self.query_intent)

    def __repr__(self) -> str:
        return f"OmnivecEmbeddings({self.model!r}, dimensions={self.dimensions}, fingerprint={self.fingerprint.hash})"

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order; an empty list gives an empty list without any call."""
        if not texts:
            return []
        return to_lists(self.provider.embed_sync(list(texts), intent=self.document_intent))

    def embed_query(self, text: str) -> list[float]:
        return to_lists(self.provider.embed_sync(text, intent=self.query_intent))[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Async :meth:`embed_documents`, on the caller's event loop."""
        if not texts:
            return []
        return to_lists(await self.provider.embed(list(texts), intent=self.document_intent))

    async def aembed_query(self, text: str) -> list[float]:
        """Async :meth:`embed_query`, on the caller's event loop."""
        return to_lists(await self.provider.embed(text, intent=self.query_intent))[0]

    def close(self) -> None:
        """Release the provider's clients or model, if this object built it (a passed one stays open)."""
        if self._owns_provider:
            self.provider.close()

    async def aclose(self) -> None:
        if self._owns_provider:
            await self.provider.aclose()


class OmnivecReranker(BaseDocumentCompressor):
    """LangChain document compressor that reranks with any omnivec reranker, as ``CohereRerank`` does.

    Returns the ``top_n`` best documents, best first, each a copy with ``metadata["relevance_score"]``
    added (the other metadata kept).

    Args:
        reranker: a reference (``"bedrock:cohere.rerank-v3-5:0"``, ``"local:cross-encoder/..."``), an
            omnivec :class:`Reranker` you built (shared, not closed here), or ``None`` for
            ``OMNIVEC_RERANKER`` / the ``omnivec.toml`` reranker.
        top_n: how many documents to keep (``None`` keeps them all, reordered).
        **options: that reranker's settings, merged over the configured ones; only with a reference.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    reranker: Reranker[Any]
    top_n: int | None = 3

    def __init__(self, reranker: str | Reranker[Any] | None = None, *, top_n: int | None = 3, **options: Any) -> None:
        where = "OmnivecReranker"
        top_n = checked_top_n(top_n, where=where)
        super().__init__(reranker=resolve_reranker(reranker, options, where=where), top_n=top_n)

    def _ranked(self, documents: Sequence[Document], result: RerankResult) -> list[Document]:
        return [
            Document(
                page_content=documents[i].page_content,
                metadata={**documents[i].metadata, "relevance_score": score},
                id=documents[i].id,
            )
            for i, score in result.top(self.top_n or len(documents))
        ]

    def compress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None
    ) -> Sequence[Document]:
        """The ``top_n`` documents best first; no documents gives ``[]`` without a call."""
        query = rerank_query(query, where="OmnivecReranker")
        if not documents:
            return []
        texts = [doc.page_content for doc in documents]
        return self._ranked(documents, self.reranker.rerank_sync(query, texts))

    async def acompress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None
    ) -> Sequence[Document]:
        """Async :meth:`compress_documents`, on the caller's event loop."""
        query = rerank_query(query, where="OmnivecReranker")
        if not documents:
            return []
        texts = [doc.page_content for doc in documents]
        return self._ranked(documents, await self.reranker.rerank(query, texts))
