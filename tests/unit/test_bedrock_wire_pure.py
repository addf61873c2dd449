"""providers/bedrock/_wire.py on its own: plain data in, plain data out; no boto3, no emulator."""

from __future__ import annotations

import base64
import json

import pytest

from omnivec.providers import Image, Media, UnexpectedResponseError
from omnivec.providers.bedrock import _wire
from omnivec.providers.bedrock.settings import BedrockSettings

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def params(body: bytes) -> dict:  # type: ignore[type-arg]
    data = json.loads(body)
    assert data["schemaVersion"] == "nova-multimodal-embed-v1" and data["taskType"] == "SINGLE_EMBEDDING"
    return data["singleEmbeddingParams"]  # type: ignore[no-any-return]


def test_text_body() -> None:
    body = _wire.request_body("hi", intent="query", dimensions=256, settings=BedrockSettings(truncation_mode="NONE"))
    assert params(body) == {
        "embeddingPurpose": "GENERIC_RETRIEVAL",
        "embeddingDimension": 256,
        "text": {"truncationMode": "NONE", "value": "hi"},
    }
    assert b" " not in body.replace(b"hi", b"")  # compact JSON: the 25 MB cap counts every byte


def test_image_bytes_and_s3_uri() -> None:
    s = BedrockSettings(detail_level="DOCUMENT_IMAGE")
    inline = params(_wire.request_body(Image.from_bytes(PNG), intent="document", dimensions=1024, settings=s))
    assert inline["image"] == {
        "format": "png",
        "detailLevel": "DOCUMENT_IMAGE",
        "source": {"bytes": base64.b64encode(PNG).decode()},
    }
    s3 = params(
        _wire.request_body(
            Image.from_uri("s3://b/k.png", mime_type="image/png"), intent="document", dimensions=1024, settings=s
        )
    )
    assert s3["image"]["source"] == {"s3Location": {"uri": "s3://b/k.png"}}


def test_audio_and_video_formats() -> None:
    s = BedrockSettings()
    audio = params(_wire.request_body(Media(b"ID3x", "audio/wav"), intent="document", dimensions=256, settings=s))
    video = params(
        _wire.request_body(Media(b"\x00\x00", "video/quicktime"), intent="document", dimensions=256, settings=s)
    )
    assert audio["audio"]["format"] == "wav"
    assert video["video"]["format"] == "mov" and video["video"]["embeddingMode"] == "AUDIO_VIDEO_COMBINED"


@pytest.mark.parametrize(
    ("index_modality", "intent", "purpose"),
    [
        ("mixed", "query", "GENERIC_RETRIEVAL"),
        ("audio", "query", "AUDIO_RETRIEVAL"),
        ("image", "document", "GENERIC_INDEX"),
        ("mixed", "similarity", "GENERIC_INDEX"),
        ("mixed", "clustering", "CLUSTERING"),
    ],
)
def test_purpose(index_modality: str, intent: str, purpose: str) -> None:
    assert _wire.embedding_purpose(intent, BedrockSettings(index_modality=index_modality)) == purpose  # type: ignore[arg-type]


def test_parse_response() -> None:
    assert _wire.parse_response(b'{"embeddings":[{"embeddingType":"TEXT","embedding":[0.6,0.8]}]}') == [0.6, 0.8]
    for bad in (b"not json", b"{}", b'{"embeddings":[]}', b'{"embeddings":[{"embedding":[1]},{"embedding":[1]}]}'):
        with pytest.raises(UnexpectedResponseError):
            _wire.parse_response(bad)


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({}, None),
        ({"x-amz-retry-after": "1500"}, 1.5),
        ({"X-Amz-Retry-After": "250"}, 0.25),
        ({"retry-after": "2"}, 2.0),
        ({"retry-after": "soon"}, None),
        ({"x-amz-retry-after": "-5"}, None),
    ],
)
def test_retry_after(headers: dict[str, str], seconds: float | None) -> None:
    assert _wire.retry_after(headers) == seconds


def test_upstream_reads_a_client_error_response() -> None:
    response = {
        "Error": {"Code": "ThrottlingException", "Message": "slow down"},
        "ResponseMetadata": {"HTTPStatusCode": 429, "HTTPHeaders": {"x-amz-retry-after": "3000"}},
    }
    answer = _wire.upstream(response, "fallback")
    assert (answer.code, answer.status, answer.message, answer.retry_after) == (
        "ThrottlingException",
        429,
        "slow down",
        3.0,
    )
    bare = _wire.upstream({}, "An error occurred (502)")
    assert (bare.code, bare.status, bare.message, bare.retry_after) == (None, None, "An error occurred (502)", None)


def test_endpoint_follows_boto3s_order() -> None:
    env = {"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": "http://127.0.0.1:5000", "AWS_ENDPOINT_URL": "http://other:1"}
    assert _wire.endpoint(None, {}) is None
    assert _wire.endpoint(None, env) == "http://127.0.0.1:5000"
    assert _wire.endpoint(None, {"AWS_ENDPOINT_URL": "http://other:1"}) == "http://other:1"
    assert _wire.endpoint("https://vpce-1.bedrock-runtime.us-east-1.vpce.amazonaws.com", env) is None  # AWS itself
    assert _wire.endpoint(None, {**env, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}) is None
    assert _wire.endpoint(None, {**env, "EMULATED_BY_OMNIVEC": "http://127.0.0.1:5000"}) == "emulator"
    assert (
        _wire.endpoint("http://127.0.0.1:5001", {**env, "EMULATED_BY_OMNIVEC": "http://127.0.0.1:5000"})
        == "http://127.0.0.1:5001"
    )  # the setting wins over the variables, as in boto3
