"""Live smoke tests against the real services. Selected with ``pytest -m live``; skipped without credentials."""

from __future__ import annotations

import os

import numpy as np
import pytest

from omnivec.providers import get_provider
from omnivec.providers.testing import allow_remote_calls

pytestmark = pytest.mark.live


def _aws_ready() -> bool:
    boto3 = pytest.importorskip("boto3")
    session = boto3.Session()
    return session.get_credentials() is not None and session.region_name is not None


@pytest.fixture(autouse=True)
def _remote_allowed():  # type: ignore[no-untyped-def]
    with allow_remote_calls():
        yield


def test_bedrock_nova_live() -> None:
    if not _aws_ready():
        pytest.skip("no AWS credentials / region")
    provider = get_provider("bedrock:amazon.nova-2-multimodal-embeddings-v1:0", dimensions=256)
    docs = provider.embed_sync(["solar panels turn light into electricity", "a recipe for bread"], intent="document")
    query = provider.embed_sync("how do solar cells work", intent="query")
    assert docs.vectors.shape == (2, 256)
    assert int(np.argmax(docs.vectors @ query.vectors[0])) == 0


def test_gemini_embedding_2_live() -> None:
    if not (os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY")):
        pytest.skip("no GEMINI_API_KEY / GOOGLE_API_KEY")
    provider = get_provider("gemini:gemini-embedding-2", dimensions=768)
    docs = provider.embed_sync(["solar panels turn light into electricity", "a recipe for bread"], intent="document")
    query = provider.embed_sync("how do solar cells work", intent="query")
    assert docs.vectors.shape == (2, 768)
    np.testing.assert_allclose(np.linalg.norm(docs.vectors, axis=1), 1.0, atol=1e-3)
    assert int(np.argmax(docs.vectors @ query.vectors[0])) == 0
