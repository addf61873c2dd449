"""Titan Text Embeddings v2 and Cohere Embed v3/v4 on Bedrock, through boto3 against the emulator.

Each family runs the shipped contract suite, then what reaches the wire is checked body by body.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage

from omnivec.providers import (
    EmbeddingProvider,
    Fused,
    Image,
    InvalidInputError,
    InvalidOptionError,
    InvalidRequestError,
    Media,
    UnsupportedInputError,
    get_provider,
)
from omnivec.providers.emulator import Emulator
from omnivec.providers.testing.contract import ProviderContract

TITAN = "bedrock:amazon.titan-embed-text-v2:0"
COHERE_V3 = "bedrock:cohere.embed-english-v3"
COHERE_V4 = "bedrock:cohere.embed-v4:0"
Factory = Callable[..., EmbeddingProvider[Any]]


def png(color: str = "red") -> bytes:
    buf = io.BytesIO()
    PILImage.new("RGB", (16, 16), color).save(buf, format="PNG")
    return buf.getvalue()


def bodies(emulator: Emulator, n: int) -> list[dict[str, Any]]:
    return [json.loads(e["body"]) for e in list(emulator.requests_log)[-n:]]


FAMILY_CASES = [(TITAN, {"dimensions": 256}), (COHERE_V3, {}), (COHERE_V4, {"dimensions": 256})]


class TestFamiliesContract(ProviderContract):
    @pytest.fixture(params=FAMILY_CASES, ids=["titan-v2", "cohere-v3", "cohere-v4"])
    def make_provider(self, request: pytest.FixtureRequest, omnivec_emulator: Emulator) -> Factory:
        ref, options = request.param
        return lambda **extra: get_provider(ref, **{**options, **extra})

    def asymmetric_intents(self, provider: EmbeddingProvider[Any]) -> bool:
        return "prompt=None" not in provider.intent_mapping("query")  # Titan has no input type


def test_titan_body_and_token_count(omnivec_emulator: Emulator) -> None:
    result = get_provider(TITAN, dimensions=512).embed_sync(["one two three four", "five"], intent="query")
    assert result.vectors.shape == (2, 512) and omnivec_emulator.stats.requests == 2  # one text per call
    sent = sorted(bodies(omnivec_emulator, 2), key=lambda b: b["inputText"])
    assert sent[0] == {"inputText": "five", "dimensions": 512, "normalize": True, "embeddingTypes": ["float"]}
    assert result.usage.input_tokens == 4 + 1  # inputTextTokenCount from the bodies


def test_titan_normalize_follows_the_common_option(omnivec_emulator: Emulator) -> None:
    raw = get_provider(TITAN, dimensions=256, normalize=False)
    result = raw.embed_sync("unit or not", intent="document")
    assert bodies(omnivec_emulator, 1)[0]["normalize"] is False
    assert not np.isclose(np.linalg.norm(result.vectors[0]), 1.0) and not result.fingerprint.normalized
    assert not result.warnings  # Titan honoured it, so nothing to warn about
    unit = get_provider(TITAN, dimensions=256).fingerprint("document")
    assert unit.normalized and unit.hash != result.fingerprint.hash


def test_titan_refuses_what_it_cannot_take_before_any_call(omnivec_emulator: Emulator) -> None:
    with pytest.raises(InvalidOptionError, match="256, 512, 1024"):
        get_provider(TITAN, dimensions=384)
    provider = get_provider(TITAN)
    with pytest.raises(UnsupportedInputError):
        provider.embed_sync(Image.from_bytes(png()), intent="document")
    with pytest.raises(InvalidInputError, match="50,000"):
        provider.embed_sync("x" * 50_001, intent="document")
    assert omnivec_emulator.stats.requests == 0


@pytest.mark.parametrize(
    ("intent", "input_type"),
    [
        ("query", "search_query"),
        ("document", "search_document"),
        ("classification", "classification"),
        ("clustering", "clustering"),
        ("similarity", "search_document"),
    ],
)
def test_cohere_input_types(omnivec_emulator: Emulator, intent: str, input_type: str) -> None:
    get_provider(COHERE_V3).embed_sync("x", intent=intent)  # type: ignore[arg-type]
    assert bodies(omnivec_emulator, 1)[0]["input_type"] == input_type


def test_cohere_v3_texts_go_96_to_a_call_and_images_alone(omnivec_emulator: Emulator) -> None:
    texts = [f"text number {i}" for i in range(100)]
    result = get_provider(COHERE_V3, truncation_mode="START").embed_sync(texts, intent="document")
    assert result.vectors.shape == (100, 1024)
    sizes = sorted(len(b["texts"]) for b in bodies(omnivec_emulator, 2))
    assert sizes == [4, 96] and all(b["truncate"] == "START" for b in bodies(omnivec_emulator, 2))
    np.testing.assert_allclose(np.linalg.norm(result.vectors, axis=1), 1.0, atol=1e-5)  # omnivec normalized
    before = omnivec_emulator.stats.requests
    items = ["a red square", Image.from_bytes(png("red")), "a blue square", Image.from_bytes(png("blue"))]
    mixed = get_provider(COHERE_V3).embed_sync(items, intent="query")
    sent = bodies(omnivec_emulator, 3)
    assert omnivec_emulator.stats.requests - before == 3
    assert sent[0]["texts"] == ["a red square", "a blue square"]
    assert [b["input_type"] for b in sent[1:]] == ["image", "image"]
    assert sent[1]["images"][0].startswith("data:image/png;base64,")
    alone = get_provider(COHERE_V3).embed_sync(Image.from_bytes(png("blue")), intent="query").vectors[0]
    np.testing.assert_allclose(mixed.vectors[3], alone, atol=1e-6)  # order kept across the calls


def test_cohere_raw_vectors_stay_raw_when_asked(omnivec_emulator: Emulator) -> None:
    result = get_provider(COHERE_V3, normalize=False).embed_sync("x", intent="query")
    assert np.linalg.norm(result.vectors[0]) > 1.1 and not result.fingerprint.normalized


def test_cohere_v3_limits_before_any_call(omnivec_emulator: Emulator) -> None:
    provider = get_provider(COHERE_V3)
    with pytest.raises(InvalidInputError, match="2,048"):
        provider.embed_sync("x" * 2049, intent="document")
    with pytest.raises(UnsupportedInputError):
        provider.embed_sync(Fused("caption", Image.from_bytes(png())), intent="document")
    with pytest.raises(UnsupportedInputError):
        provider.embed_sync(Media(b"ID3\x03fake", "audio/mpeg"), intent="document")
    with pytest.raises(InvalidOptionError, match="1024"):
        get_provider(COHERE_V3, dimensions=256)
    assert omnivec_emulator.stats.requests == 0


def test_cohere_v4_dimensions_truncate_and_fused_inputs(omnivec_emulator: Emulator) -> None:
    provider = get_provider(COHERE_V4, dimensions=1024, truncation_mode="END", cohere_max_tokens=512)
    provider.embed_sync(["alpha", "beta"], intent="document")
    (text_body,) = bodies(omnivec_emulator, 1)
    assert text_body == {
        "input_type": "search_document",
        "texts": ["alpha", "beta"],
        "truncate": "RIGHT",
        "embedding_types": ["float"],
        "output_dimension": 1024,
        "max_tokens": 512,
    }
    items = ["alpha", Image.from_bytes(png()), Fused("a red square", Image.from_bytes(png()))]
    result = provider.embed_sync(items, intent="document")
    assert result.vectors.shape == (3, 1024) and omnivec_emulator.stats.requests == 2  # one call for all three
    inputs = bodies(omnivec_emulator, 1)[0]["inputs"]
    assert inputs[0] == {"content": [{"type": "text", "text": "alpha"}]}
    assert [p["type"] for p in inputs[2]["content"]] == ["text", "image_url"]
    np.testing.assert_allclose(result.vectors[0], provider.embed_sync("alpha", intent="document").vectors[0], atol=1e-6)


@pytest.mark.parametrize(
    "model",
    [
        "us.amazon.titan-embed-text-v2:0",
        "arn:aws:bedrock:us-east-1::foundation-model/cohere.embed-english-v3",
        "eu.cohere.embed-v4:0",
    ],
)
def test_geo_prefixed_ids_and_arns_pick_their_family(omnivec_emulator: Emulator, model: str) -> None:
    result = get_provider(f"bedrock:{model}").embed_sync("x", intent="query")
    assert result.vectors.shape[0] == 1 and omnivec_emulator.stats.ok == 1


@pytest.mark.parametrize(
    "model",
    [
        "amazon.titan-embed-text-v1",
        "amazon.titan-embed-image-v1",
        "cohere.embed-v9",
        "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3",
    ],
)
def test_unknown_families_are_refused_by_name_before_any_call(omnivec_emulator: Emulator, model: str) -> None:
    with pytest.raises(InvalidOptionError, match=r"Titan Text Embeddings v2.*Cohere Embed v3.*model_family"):
        get_provider(f"bedrock:{model}")
    assert omnivec_emulator.stats.requests == 0


def test_model_family_names_the_body_of_an_opaque_arn(omnivec_emulator: Emulator) -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3"
    provider = get_provider(f"bedrock:{arn}", model_family="titan-v2", dimensions=256)
    assert provider.capabilities.dimensions == (256, 512, 1024)
    # The emulator cannot resolve the profile: the body it refuses is still Titan's.
    with pytest.raises(InvalidRequestError, match="model identifier"):
        provider.embed_sync("x", intent="query")
    assert bodies(omnivec_emulator, 1)[0]["inputText"] == "x"


@pytest.mark.parametrize(
    ("model", "body"),
    [
        ("amazon.titan-embed-text-v2:0", {"inputText": ""}),
        ("amazon.titan-embed-text-v2:0", {"inputText": "x", "dimensions": 384}),
        ("amazon.titan-embed-text-v2:0", {"inputText": "x", "input_type": "search_query"}),
        ("amazon.titan-embed-text-v2:0", {"inputText": "x" * 50_001}),
        ("cohere.embed-english-v3", {"texts": ["x"]}),  # input_type is required
        ("cohere.embed-english-v3", {"texts": ["x"] * 97, "input_type": "search_query"}),
        ("cohere.embed-english-v3", {"texts": ["x" * 2049], "input_type": "search_query"}),
        ("cohere.embed-english-v3", {"texts": ["x"], "images": ["data:image/png;base64,AA=="], "input_type": "image"}),
        ("cohere.embed-english-v3", {"texts": ["x"], "input_type": "search_query", "truncate": "LEFT"}),
        ("cohere.embed-v4:0", {"texts": ["x"], "input_type": "search_query", "output_dimension": 768}),
        ("cohere.embed-v4:0", {"texts": ["x"], "input_type": "search_query", "truncate": "END"}),
        ("cohere.embed-v4:0", {"inputs": [{"content": [{"type": "video", "url": "x"}]}], "input_type": "clustering"}),
    ],
)
def test_the_emulator_refuses_bodies_the_service_refuses(
    omnivec_emulator: Emulator, model: str, body: dict[str, Any]
) -> None:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    client = boto3.client("bedrock-runtime", config=Config(retries={"total_max_attempts": 1}))
    with pytest.raises(ClientError, match="ValidationException"):
        client.invoke_model(modelId=model, body=json.dumps(body).encode())
