"""OmnivecEmbedding inside real LlamaIndex indexes: build, retrieve, async, images, and omnivec's guarantees."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("llama_index.core", reason='needs the extra: pip install "omnivec[llamaindex]"')

from llama_index.core import Document, VectorStoreIndex
from llama_index.core.indices import MultiModalVectorStoreIndex
from llama_index.core.schema import ImageDocument
from PIL import Image as PILImage

from omnivec.providers import InvalidInputError, InvalidOptionError, UnsupportedInputError, get_provider
from omnivec.providers.emulator import Emulator
from omnivec.providers.integrations.llamaindex import OmnivecEmbedding
from omnivec.providers.testing import FakeProvider

GEMINI = "gemini:gemini-embedding-2"
NOVA = "bedrock:amazon.nova-2-multimodal-embeddings-v1:0"
FAST_RETRY = {"max_attempts": 3, "initial_backoff_s": 0.0, "max_backoff_s": 0.0}
PASSAGES = [
    "The Eiffel Tower is a wrought-iron lattice tower in Paris, France.",
    "Photosynthesis lets plants turn sunlight into chemical energy.",
    "Sourdough bread rises thanks to wild yeast and lactic acid bacteria.",
    "A rocket needs about 7.8 km/s of horizontal speed to reach low Earth orbit.",
]
QUESTIONS = {
    "How do plants make energy from light?": 1,
    "What makes sourdough rise?": 2,
    "How fast must a rocket go to reach orbit?": 3,
}
KEYWORDS = {"plants sunlight energy": 1, "sourdough yeast": 2, "rocket orbit speed": 3}
"""The emulator's vectors are hashed words, not a model: its questions must share words with the answer."""


def build(embed_model: OmnivecEmbedding, **kwargs: Any) -> VectorStoreIndex:
    return VectorStoreIndex.from_documents([Document(text=t) for t in PASSAGES], embed_model=embed_model, **kwargs)


def top_hit(index: VectorStoreIndex, question: str) -> int:
    (hit,) = index.as_retriever(similarity_top_k=1).retrieve(question)
    return PASSAGES.index(hit.node.get_content())


@pytest.mark.slow
def test_an_index_over_the_local_model_retrieves_the_right_passages() -> None:
    embed = OmnivecEmbedding("local")
    index = build(embed)
    assert {q: top_hit(index, q) for q in QUESTIONS} == QUESTIONS
    assert embed.model_name == "sentence-transformers:sentence-transformers/all-MiniLM-L6-v2"


@pytest.mark.parametrize("ref", [GEMINI, NOVA])
def test_an_index_over_an_emulated_cloud_uses_query_and_document_intents(ref: str, omnivec_emulator: Emulator) -> None:
    embed = OmnivecEmbedding(ref, dimensions=256)
    index = build(embed)
    assert {q: top_hit(index, q) for q in KEYWORDS} == KEYWORDS
    direct = get_provider(ref, dimensions=256)
    question = next(iter(QUESTIONS))
    np.testing.assert_allclose(
        embed.get_query_embedding(question), direct.embed_sync(question, intent="query").vectors[0], atol=1e-6
    )
    np.testing.assert_allclose(
        embed.get_text_embedding(question), direct.embed_sync(question, intent="document").vectors[0], atol=1e-6
    )


async def test_async_build_and_retrieve() -> None:
    index = VectorStoreIndex.from_documents(
        [Document(text=t) for t in PASSAGES], embed_model=OmnivecEmbedding("fake"), use_async=True
    )
    hits = await index.as_retriever(similarity_top_k=1).aretrieve("rocket orbit speed")
    assert hits[0].node.get_content() == PASSAGES[3]


def test_throttling_during_an_index_build_is_retried(omnivec_emulator: Emulator) -> None:
    embed = OmnivecEmbedding(GEMINI, dimensions=256, retry=FAST_RETRY)
    omnivec_emulator.fail_next(429)
    before = omnivec_emulator.stats.requests
    build(embed)
    assert omnivec_emulator.stats.requests - before == 2  # one throttled, one retried; all four passages in a call


def test_omnivec_does_the_batching_to_the_provider_limit() -> None:
    provider = FakeProvider(max_batch_size=16)
    texts = [f"passage {i}" for i in range(40)]
    vectors = OmnivecEmbedding(provider).get_text_embedding_batch(texts)
    assert [len(batch) for batch, _ in provider.calls] == [16, 16, 8]
    np.testing.assert_allclose(vectors[39], provider.embed_one(texts[39], "document"), atol=1e-6)


async def test_llamaindex_gathering_every_chunk_at_once_stays_within_the_provider_limit() -> None:
    provider = FakeProvider(max_batch_size=2, default_concurrency=2, latency_s=0.01)
    embed = OmnivecEmbedding(provider, embed_batch_size=4)  # 24 texts -> 6 chunks gathered together
    vectors = await embed.aget_text_embedding_batch([f"text {i}" for i in range(24)])
    assert len(vectors) == 24 and len(provider.calls) == 12
    assert provider.peak_in_flight <= 2  # one limit per provider in the core, not 2 per chunk


def test_the_fingerprint_is_exposed_and_reaches_instrumentation_without_secrets(omnivec_emulator: Emulator) -> None:
    embed = OmnivecEmbedding(GEMINI, dimensions=256, api_key="sk-test-do-not-leak")
    assert embed.fingerprint == embed.provider.fingerprint("document")
    assert embed.query_fingerprint == embed.provider.fingerprint("query")
    assert embed.to_payload()["fingerprint"] == embed.fingerprint.hash
    exported = json.dumps(embed.to_payload()) + embed.model_dump_json() + repr(embed)
    assert "sk-test-do-not-leak" not in exported


# --- images ---------------------------------------------------------------------------------


@pytest.fixture
def images(tmp_path: Path) -> list[Path]:
    paths = []
    for color in ("red", "green", "blue"):
        path = tmp_path / f"{color}.png"
        PILImage.new("RGB", (16, 16), color).save(path)
        paths.append(path)
    return paths


def test_images_from_paths_bytesio_and_uris_embed_as_documents(images: list[Path]) -> None:
    provider = FakeProvider()
    embed = OmnivecEmbedding(provider)
    from_path = embed.get_image_embedding(str(images[0]))
    from_bytes = embed.get_image_embedding(io.BytesIO(images[0].read_bytes()))
    assert from_path == from_bytes
    assert len(embed.get_image_embedding("s3://bucket/cat.png")) == 64
    assert len(embed.get_image_embedding_batch([str(p) for p in images])) == 3
    assert {intent for _, intent in provider.calls} == {"document"}
    with pytest.raises(InvalidInputError, match="from_uri"):
        embed.get_image_embedding("s3://bucket/no-extension")


def test_images_on_a_text_only_model_fail_before_any_call(images: list[Path]) -> None:
    provider = FakeProvider(modalities=frozenset({"text"}))
    with pytest.raises(UnsupportedInputError):
        OmnivecEmbedding(provider).get_image_embedding(str(images[0]))
    assert provider.calls == []


@pytest.mark.parametrize("ref", ["fake", GEMINI])
async def test_a_multimodal_index_retrieves_images_by_image_and_text(
    ref: str, images: list[Path], omnivec_emulator: Emulator
) -> None:
    embed = OmnivecEmbedding(ref, **({"dimensions": 256} if ref == GEMINI else {}))
    docs = [ImageDocument(image_path=str(p), metadata={"file": p.name}) for p in images]
    index = MultiModalVectorStoreIndex.from_documents(docs, embed_model=embed, image_embed_model=embed)
    retriever = index.as_retriever(image_similarity_top_k=1)
    (same,) = retriever.image_to_image_retrieve(str(images[1]))
    assert Path(same.node.image_path).name == "green.png" and same.score == pytest.approx(1.0, abs=1e-5)
    assert len(await retriever.atext_to_image_retrieve("a green square")) == 1


def test_bad_construction_fails_with_one_line_naming_the_fix() -> None:
    with pytest.raises(InvalidOptionError, match="image_intent='picture' is not an intent"):
        OmnivecEmbedding("fake", image_intent="picture")
    with pytest.raises(InvalidOptionError, match="apply only to a model reference"):
        OmnivecEmbedding(FakeProvider(), dimensions=8)
    with pytest.raises(InvalidOptionError, match="did you mean 'dimensions'"):
        OmnivecEmbedding("fake", dimension=8)


def test_llamaindex_ingestion_caching_tells_vector_spaces_apart() -> None:
    from llama_index.core.ingestion.pipeline import get_transformation_hash

    nodes = [Document(text="same text")]
    small, large = OmnivecEmbedding("fake", dimensions=32), OmnivecEmbedding("fake", dimensions=64)
    assert small.to_dict()["fingerprint_hash"] == small.fingerprint.hash
    assert get_transformation_hash(nodes, small) != get_transformation_hash(nodes, large)
    assert get_transformation_hash(nodes, small) == get_transformation_hash(
        nodes, OmnivecEmbedding("fake", dimensions=32)
    )
