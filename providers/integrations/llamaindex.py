"""LlamaIndex drop-ins: :class:`OmnivecEmbedding` implements ``MultiModalEmbedding`` (a ``BaseEmbedding``),
:class:`OmnivecRerank` a node post-processor (``node_postprocessors=[OmnivecRerank(...)]``).

    from llama_index.core import VectorStoreIndex
    from omnivec.providers.integrations.llamaindex import OmnivecEmbedding
    index = VectorStoreIndex.from_documents(docs, embed_model=OmnivecEmbedding("local"))

LlamaIndex's query/text split maps to omnivec intents (``query`` / ``document`` by default), so Nova
gets its retrieval purpose and Gemini its query prefix. Texts and images go through omnivec's core:
batches cut to the provider's limit, adaptive concurrency, retries, typed errors before any call, and
a fingerprint to store beside the index. The async methods await the async core on the caller's loop.

``embed_batch_size`` defaults to LlamaIndex's maximum (2048) so omnivec, which knows each provider's
real limit, does the batching. LlamaIndex's async batch path fires all its chunks at once; they share
the provider's one (adaptive) concurrency limit in omnivec's core, so that does not multiply the calls
in flight.

Needs ``pip install "omnivec[llamaindex]"``.
"""

from __future__ import annotations

from typing import Any

try:
    from llama_index.core.embeddings import MultiModalEmbedding
    from llama_index.core.postprocessor.types import BaseNodePostprocessor
    from llama_index.core.schema import ImageType, MetadataMode, NodeWithScore, QueryBundle
except ImportError as exc:  # the extra is optional: say which one to install
    from ..errors import MissingDependencyError

    raise MissingDependencyError(
        f'the LlamaIndex adapters need llama-index-core: pip install "omnivec[llamaindex]" ({exc})'
    ) from exc

from pydantic import Field, PrivateAttr

from ..base import EmbeddingProvider
from ..rerank import Reranker, RerankResult
from ..types import Fingerprint, Intent
from ._common import checked_intent, checked_top_n, rerank_query, resolve_provider, resolve_reranker, to_image, to_lists

__all__ = ["OmnivecEmbedding", "OmnivecRerank"]

Embedding = list[float]


class OmnivecEmbedding(MultiModalEmbedding):
    """LlamaIndex embedding model backed by any omnivec provider (text and, where it takes them, images).

    Args:
        model: a model reference (``"local"``, ``"gemini:gemini-embedding-2"``...), an
            :class:`EmbeddingProvider` you built (shared, not closed here), or ``None`` for
            ``OMNIVEC_MODEL`` / ``omnivec.toml`` (the local MiniLM by default).
        query_intent / text_intent / image_intent: the omnivec intent of each LlamaIndex side.
            Images are indexed content by default (``document``); set ``image_intent="query"`` for
            an index that is searched *with* images.
        **kwargs: LlamaIndex fields (``embed_batch_size``, ``callback_manager``, ``num_workers``...)
            and, with a model reference, the provider's settings (e.g. ``dimensions=256``).
    """

    model_name: str = Field(default="unknown", description="omnivec provider reference, e.g. 'local:...'.")
    embed_batch_size: int = Field(
        default=2048,
        gt=0,
        le=2048,
        description="Texts per LlamaIndex batch; omnivec re-cuts them to the provider's limit.",
    )
    query_intent: str = Field(default="query", description="omnivec intent for queries.")
    text_intent: str = Field(default="document", description="omnivec intent for indexed texts.")
    image_intent: str = Field(default="document", description="omnivec intent for images.")
    fingerprint_hash: str = Field(
        default="",
        description="omnivec fingerprint of the indexed-text side. Part of to_dict(), so LlamaIndex's "
        "ingestion cache never reuses vectors across models, dimensions or prompts.",
    )

    _provider: EmbeddingProvider[Any] = PrivateAttr()
    _owns_provider: bool = PrivateAttr(default=True)

    def __init__(self, model: str | EmbeddingProvider[Any] | None = None, **kwargs: Any) -> None:
        fields = {name: kwargs.pop(name) for name in list(kwargs) if name in type(self).model_fields}
        where = "OmnivecEmbedding"
        defaults = {"query_intent": "query", "text_intent": "document", "image_intent": "document"}
        intents = {name: checked_intent(fields.get(name, d), name, where=where) for name, d in defaults.items()}
        provider = resolve_provider(model, kwargs, where=where)
        fields.update(intents, fingerprint_hash=provider.fingerprint(intents["text_intent"]).hash)
        fields.setdefault("model_name", provider.ref)
        super().__init__(**fields)
        # Private attributes are set only after pydantic's __init__, or they are lost.
        self._provider = provider
        self._owns_provider = not isinstance(model, EmbeddingProvider)

    @classmethod
    def class_name(cls) -> str:
        return "OmnivecEmbedding"

    @property
    def provider(self) -> EmbeddingProvider[Any]:
        return self._provider

    @property
    def dimensions(self) -> int:
        return self._provider.dimensions

    @property
    def fingerprint(self) -> Fingerprint:
        """The indexed-text fingerprint: store ``fingerprint.hash`` with the index and compare it
        before querying, so vectors from another model or setting are never mixed."""
        return self._provider.fingerprint(self._intent(self.text_intent))

    @property
    def query_fingerprint(self) -> Fingerprint:
        return self._provider.fingerprint(self._intent(self.query_intent))

    def to_payload(self) -> dict[str, Any]:
        """What LlamaIndex instrumentation records: no settings, hence no secrets; the fingerprint hash."""
        return {**super().to_payload(), "fingerprint": self.fingerprint.hash}

    @staticmethod
    def _intent(value: str) -> Intent:
        return checked_intent(value, "intent", where="OmnivecEmbedding")  # fields can be reassigned

    # --- text ---------------------------------------------------------------------------------

    def _get_query_embedding(self, query: str) -> Embedding:
        return to_lists(self._provider.embed_sync(query, intent=self._intent(self.query_intent)))[0]

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return to_lists(await self._provider.embed(query, intent=self._intent(self.query_intent)))[0]

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._get_text_embeddings([text])[0]

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return (await self._aget_text_embeddings([text]))[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        if not texts:
            return []
        return to_lists(self._provider.embed_sync(list(texts), intent=self._intent(self.text_intent)))

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        if not texts:
            return []
        return to_lists(await self._provider.embed(list(texts), intent=self._intent(self.text_intent)))

    # --- images -------------------------------------------------------------------------------

    def _get_image_embedding(self, img_file_path: ImageType) -> Embedding:
        return self._get_image_embeddings([img_file_path])[0]

    async def _aget_image_embedding(self, img_file_path: ImageType) -> Embedding:
        return (await self._aget_image_embeddings([img_file_path]))[0]

    def _get_image_embeddings(self, img_file_paths: list[ImageType]) -> list[Embedding]:
        if not img_file_paths:
            return []
        images = [to_image(path) for path in img_file_paths]
        return to_lists(self._provider.embed_sync(images, intent=self._intent(self.image_intent)))

    async def _aget_image_embeddings(self, img_file_paths: list[ImageType]) -> list[Embedding]:
        if not img_file_paths:
            return []
        images = [to_image(path) for path in img_file_paths]
        return to_lists(await self._provider.embed(images, intent=self._intent(self.image_intent)))

    # --- lifecycle ----------------------------------------------------------------------------

    def close(self) -> None:
        """Release the provider's clients or model, if this object built it (a passed one stays open)."""
        if self._owns_provider:
            self._provider.close()

    async def aclose(self) -> None:
        if self._owns_provider:
            await self._provider.aclose()


class OmnivecRerank(BaseNodePostprocessor):
    """LlamaIndex node post-processor that reranks with any omnivec reranker, as ``CohereRerank`` does.

    Returns the ``top_n`` best nodes, best first, as new ``NodeWithScore`` whose score is the
    reranker's. Nodes are read as LlamaIndex's own rerankers read them (``MetadataMode.EMBED``).

    Args:
        reranker: a reference (``"bedrock:cohere.rerank-v3-5:0"``...), an omnivec :class:`Reranker`
            you built (shared, not closed here), or ``None`` for ``OMNIVEC_RERANKER`` / ``omnivec.toml``.
        top_n: how many nodes to keep (``None`` keeps them all, reordered).
        **options: that reranker's settings; only with a reference.
    """

    model: str = Field(default="unknown", description="omnivec reranker reference, e.g. 'bedrock:...'.")
    top_n: int | None = Field(default=2, description="Nodes to keep, best first (None keeps all).")
    _reranker: Reranker[Any] = PrivateAttr()

    def __init__(self, reranker: str | Reranker[Any] | None = None, *, top_n: int | None = 2, **options: Any) -> None:
        where = "OmnivecRerank"
        top_n = checked_top_n(top_n, where=where)
        resolved = resolve_reranker(reranker, options, where=where)
        super().__init__(model=resolved.ref, top_n=top_n)
        self._reranker = resolved

    @classmethod
    def class_name(cls) -> str:
        return "OmnivecRerank"

    @property
    def reranker(self) -> Reranker[Any]:
        return self._reranker

    def _texts(self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None) -> tuple[str, list[str]]:
        query = rerank_query(query_bundle.query_str if query_bundle is not None else None, where="OmnivecRerank")
        return query, [node.node.get_content(metadata_mode=MetadataMode.EMBED) for node in nodes]

    def _ranked(self, nodes: list[NodeWithScore], result: RerankResult) -> list[NodeWithScore]:
        return [NodeWithScore(node=nodes[i].node, score=score) for i, score in result.top(self.top_n or len(nodes))]

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        """The ``top_n`` nodes best first; no nodes gives ``[]`` without a call."""
        query, texts = self._texts(nodes, query_bundle)
        if not nodes:
            return []
        return self._ranked(nodes, self._reranker.rerank_sync(query, texts))

    async def _apostprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        """Async :meth:`_postprocess_nodes`, on the caller's event loop (not a thread)."""
        query, texts = self._texts(nodes, query_bundle)
        if not nodes:
            return []
        return self._ranked(nodes, await self._reranker.rerank(query, texts))
