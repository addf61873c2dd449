"""Bedrock wire families on their own: which model id speaks which body, and the bodies and answers as data."""

from __future__ import annotations

import base64
import json

import pytest

from omnivec.providers import Fused, Image, InvalidOptionError, UnexpectedResponseError
from omnivec.providers.bedrock import _cohere, _families
from omnivec.providers.bedrock.settings import BedrockSettings

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
S = BedrockSettings()


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("amazon.nova-2-multimodal-embeddings-v1:0", "nova"),
        ("global.amazon.nova-2-multimodal-embeddings-v1:0", "nova"),
        ("amazon.titan-embed-text-v2:0", "titan-v2"),
        ("us-gov.amazon.titan-embed-text-v2:0", "titan-v2"),
        ("arn:aws:bedrock:eu-west-1::foundation-model/cohere.embed-multilingual-v3", "cohere-v3"),
        ("cohere.embed-english-v3", "cohere-v3"),
        ("apac.cohere.embed-v4:0", "cohere-v4"),
    ],
)
def test_the_model_id_picks_the_family(model: str, family: str) -> None:
    assert _families.family_for(model).name == family


def test_an_unknown_family_is_refused_naming_the_supported_ones() -> None:
    with pytest.raises(InvalidOptionError) as info:
        _families.family_for("amazon.titan-embed-image-v1")
    for title in ("Nova Multimodal Embeddings", "Titan Text Embeddings v2", "Cohere Embed v3", "Cohere Embed v4"):
        assert title in str(info.value)
    assert _families.family_for("arn:aws:bedrock:us-east-1:1:provisioned-model/x", "cohere-v4").name == "cohere-v4"


def test_capabilities_per_family() -> None:
    caps = {name: family.capabilities(S) for name, family in _families.FAMILIES.items()}
    assert [caps[n].max_batch_size for n in ("nova", "titan-v2", "cohere-v3", "cohere-v4")] == [1, 1, 96, 96]
    assert caps["titan-v2"].dimensions == (256, 512, 1024) and caps["titan-v2"].modalities == {"text"}
    assert caps["cohere-v3"].dimensions == (1024,) and caps["cohere-v3"].modalities == {"text", "image"}
    assert caps["cohere-v4"].default_dimensions == 1536 and caps["cohere-v4"].fuses_parts
    assert caps["nova"].modalities == {"text", "image", "audio", "video"}
    assert not _families.TITAN.capabilities(BedrockSettings(normalize=False)).normalized


def test_titan_body_and_answer() -> None:
    (call,) = _families.TITAN.calls(["hi"], "query", 512, BedrockSettings(normalize=False))
    assert json.loads(call.body) == {
        "inputText": "hi",
        "dimensions": 512,
        "normalize": False,
        "embeddingTypes": ["float"],
    }
    raw = b'{"embedding":[0.6,0.8],"inputTextTokenCount":3,"embeddingsByType":{"float":[0.6,0.8]}}'
    assert _families.titan_parse(raw, 1) == _families.Parsed([[0.6, 0.8]], 3)
    for bad in (b"nope", b"{}", b'{"embedding": []}'):
        with pytest.raises(UnexpectedResponseError):
            _families.titan_parse(bad, 1)


def test_cohere_v3_sends_texts_together_and_each_image_alone() -> None:
    batch = ["a", Image.from_bytes(PNG), "b"]
    calls = _families.COHERE_V3.calls(batch, "query", 1024, BedrockSettings(truncation_mode="NONE"))
    assert [c.positions for c in calls] == [(0, 2), (1,)]
    texts, image = (json.loads(c.body) for c in calls)
    assert texts == {
        "texts": ["a", "b"],
        "input_type": "search_query",
        "truncate": "NONE",
        "embedding_types": ["float"],
    }
    assert image == {
        "images": [f"data:image/png;base64,{base64.b64encode(PNG).decode()}"],
        "input_type": "image",
        "embedding_types": ["float"],
    }


def test_cohere_v4_uses_texts_or_inputs_in_one_call() -> None:
    (plain,) = _families.COHERE_V4.calls(["a", "b"], "document", 256, BedrockSettings(truncation_mode="START"))
    assert json.loads(plain.body)["texts"] == ["a", "b"] and json.loads(plain.body)["truncate"] == "LEFT"
    (mixed,) = _families.COHERE_V4.calls([Fused("cap", Image.from_bytes(PNG)), "b"], "clustering", 512, S)
    body = json.loads(mixed.body)
    assert mixed.positions == (0, 1) and body["output_dimension"] == 512 and body["input_type"] == "clustering"
    assert body["inputs"][0]["content"][0] == {"type": "text", "text": "cap"}
    assert body["inputs"][0]["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")
    assert "max_tokens" not in body


def test_cohere_answers_by_type_or_as_a_list() -> None:
    assert _cohere.parse(b'{"embeddings": {"float": [[1.0], [2.0]]}}', 2) == [[1.0], [2.0]]
    assert _cohere.parse(b'{"embeddings": [[1.0]]}', 1) == [[1.0]]
    for bad, n in ((b'{"embeddings": {"int8": [[1]]}}', 1), (b'{"embeddings": [[1.0]]}', 2), (b"[]", 1)):
        with pytest.raises(UnexpectedResponseError):
            _cohere.parse(bad, n)


def test_intents_and_fingerprint_options_per_family() -> None:
    assert _families.COHERE_V4.intent_mapping("similarity", S) == "input_type=search_document"
    assert _families.NOVA.intent_mapping("query", S) == "embeddingPurpose=GENERIC_RETRIEVAL"
    assert _families.TITAN.intent_mapping("query", S) != _families.TITAN.intent_mapping("document", S)
    assert _families.COHERE_V4.options(BedrockSettings(cohere_max_tokens=100)) == {
        "truncation_mode": "END",
        "max_tokens": 100,
    }
