"""Bedrock Nova through boto3 against the emulator: what reaches the wire, exactly."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage

from omnivec.providers import (
    Image,
    InvalidInputError,
    InvalidOptionError,
    Media,
    MissingCredentialsError,
    UnsupportedInputError,
    get_provider,
)
from omnivec.providers.emulator import Emulator

NOVA = "amazon.nova-2-multimodal-embeddings-v1:0"


def png(color: str = "red") -> bytes:
    buf = io.BytesIO()
    PILImage.new("RGB", (16, 16), color).save(buf, format="PNG")
    return buf.getvalue()


def bodies(emulator: Emulator, n: int) -> list[dict[str, Any]]:
    return [json.loads(e["body"])["singleEmbeddingParams"] for e in list(emulator.requests_log)[-n:]]


def test_text_and_images_come_back_in_order_with_the_requested_dims(omnivec_emulator: Emulator) -> None:
    provider = get_provider(f"bedrock:{NOVA}", dimensions=384)
    items = ["a red square", Image.from_bytes(png("red")), "a blue square", Image.from_bytes(png("blue"))]
    result = provider.embed_sync(items, intent="document")
    assert result.vectors.shape == (4, 384)
    for i, item in enumerate(items):
        np.testing.assert_allclose(
            provider.embed_sync([item], intent="document").vectors[0], result.vectors[i], atol=1e-6
        )
    assert result.usage.requests == 4 and result.usage.images == 2


def test_query_and_document_payloads(omnivec_emulator: Emulator) -> None:
    provider = get_provider(f"bedrock:{NOVA}", dimensions=256)
    provider.embed_sync("solar panels", intent="query")
    provider.embed_sync("solar panels", intent="document")
    query, doc = bodies(omnivec_emulator, 2)
    assert query == {
        "embeddingPurpose": "GENERIC_RETRIEVAL",
        "embeddingDimension": 256,
        "text": {"truncationMode": "END", "value": "solar panels"},
    }
    assert doc["embeddingPurpose"] == "GENERIC_INDEX" and doc["text"] == query["text"]
    body = json.loads(list(omnivec_emulator.requests_log)[-1]["body"])
    assert body["schemaVersion"] == "nova-multimodal-embed-v1" and body["taskType"] == "SINGLE_EMBEDDING"


@pytest.mark.parametrize(
    ("options", "intent", "purpose"),
    [
        ({"index_modality": "image"}, "query", "IMAGE_RETRIEVAL"),
        ({"index_modality": "text"}, "query", "TEXT_RETRIEVAL"),
        ({"index_modality": "document"}, "query", "DOCUMENT_RETRIEVAL"),
        ({}, "classification", "CLASSIFICATION"),
        ({}, "clustering", "CLUSTERING"),
        ({"index_modality": "video"}, "document", "GENERIC_INDEX"),
    ],
)
def test_purpose_mapping(omnivec_emulator: Emulator, options: dict[str, str], intent: str, purpose: str) -> None:
    get_provider(f"bedrock:{NOVA}", dimensions=256, **options).embed_sync("x", intent=intent)  # type: ignore[arg-type]
    assert bodies(omnivec_emulator, 1)[0]["embeddingPurpose"] == purpose


def test_image_and_options_on_the_wire(omnivec_emulator: Emulator) -> None:
    provider = get_provider(f"bedrock:{NOVA}", dimensions=1024, detail_level="DOCUMENT_IMAGE", truncation_mode="START")
    provider.embed_sync(
        [Image.from_bytes(png()), "long text", Image.from_uri("s3://bucket/page.png", mime_type="image/png")],
        intent="document",
    )
    sent = bodies(omnivec_emulator, 3)  # the calls run concurrently: find each by content
    image = next(b for b in sent if "image" in b and "bytes" in b["image"]["source"])
    s3 = next(b for b in sent if "image" in b and "s3Location" in b["image"]["source"])
    text = next(b for b in sent if "text" in b)
    assert image["image"]["format"] == "png" and image["image"]["detailLevel"] == "DOCUMENT_IMAGE"
    assert image["image"]["source"]["bytes"]
    assert text["text"]["truncationMode"] == "START"
    assert s3["image"]["source"] == {"s3Location": {"uri": "s3://bucket/page.png"}}


@pytest.mark.parametrize(
    "model", [f"us.{NOVA}", f"global.{NOVA}", f"arn:aws:bedrock:us-east-1::foundation-model/{NOVA}"]
)
def test_geo_prefixed_ids_and_arns(omnivec_emulator: Emulator, model: str) -> None:
    assert get_provider(f"bedrock:{model}", dimensions=256).embed_sync("x", intent="query").vectors.shape == (1, 256)
    assert "%3A0/invoke" in list(omnivec_emulator.requests_log)[-1]["path"]


def test_audio_video_and_limits_before_sending(omnivec_emulator: Emulator) -> None:
    provider = get_provider(f"bedrock:{NOVA}", dimensions=256)
    provider.embed_sync(
        [Media(b"ID3\x03fake-mp3", "audio/mpeg", duration_s=5), Media(b"\x00\x00\x00 ftypmp4", "video/mp4")],
        intent="document",
    )
    audio, video = sorted(bodies(omnivec_emulator, 2), key=lambda b: "video" in b)  # calls run concurrently
    assert audio["audio"]["format"] == "mp3" and video["video"]["embeddingMode"] == "AUDIO_VIDEO_COMBINED"
    before = omnivec_emulator.stats.requests
    with pytest.raises(InvalidInputError, match="30 s"):
        provider.embed_sync(Media(b"x", "video/mp4", duration_s=31), intent="document")
    with pytest.raises(InvalidInputError, match="bytes"):
        provider.embed_sync(Media(b"\x00" * 19_000_000, "video/mp4"), intent="document")  # 25 MB after base64
    with pytest.raises(UnsupportedInputError):
        provider.embed_sync(Media(b"%PDF-1.4", "application/pdf"), intent="document")
    with pytest.raises(UnsupportedInputError):
        provider.embed_sync(Image.from_uri("gs://bucket/x.png", mime_type="image/png"), intent="document")
    assert omnivec_emulator.stats.requests == before


def test_dimensions_outside_the_nova_set_fail_before_any_call() -> None:
    from omnivec.providers import InvalidOptionError

    with pytest.raises(InvalidOptionError, match="256, 384, 1024, 3072"):
        get_provider(f"bedrock:{NOVA}", dimensions=512)


def test_token_usage_from_the_response_header(omnivec_emulator: Emulator) -> None:
    result = get_provider(f"bedrock:{NOVA}", dimensions=256).embed_sync(["one two three"], intent="document")
    assert result.usage.input_tokens == 3


def test_missing_credentials_are_a_configuration_error(omnivec_emulator: Emulator, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(MissingCredentialsError, match="credential"):
        get_provider(f"bedrock:{NOVA}", dimensions=256, retry={"max_attempts": 1}).embed_sync("x", intent="query")


FAST = {"max_attempts": 3, "initial_backoff_s": 0.0, "max_backoff_s": 0.0}


def test_partial_credentials_are_missing_credentials_and_not_retried(
    omnivec_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")  # the key id alone: botocore's PartialCredentialsError
    provider = get_provider(f"bedrock:{NOVA}", dimensions=256, retry=FAST)
    began = time.perf_counter()
    with pytest.raises(MissingCredentialsError, match="AWS_SECRET_ACCESS_KEY") as info:
        provider.embed_sync("x", intent="query")
    assert time.perf_counter() - began < 1.0 and "\n" not in str(info.value)
    assert omnivec_emulator.stats.requests == 0


def test_model_error_424_is_tied_to_the_input_and_sent_once(omnivec_emulator: Emulator) -> None:
    from omnivec.providers import InvalidRequestError

    omnivec_emulator.fail_next(424)  # ModelErrorException
    with pytest.raises(InvalidRequestError) as info:
        get_provider(f"bedrock:{NOVA}", dimensions=256, retry=FAST).embed_sync("x", intent="query")
    assert info.value.code == "ModelErrorException" and info.value.status_code == 424
    assert omnivec_emulator.stats.requests == 1


def test_a_429_without_a_hint_waits_about_a_second(omnivec_emulator: Emulator) -> None:
    from omnivec.providers import RateLimitError

    omnivec_emulator.fail_next(429)  # ThrottlingException, no x-amz-retry-after
    with pytest.raises(RateLimitError) as info:
        get_provider(f"bedrock:{NOVA}", dimensions=256, retry={"max_attempts": 1}).embed_sync("x", intent="query")
    assert info.value.retry_after is not None and 0.5 <= info.value.retry_after <= 1.5
    omnivec_emulator.fail_next(429)
    began = time.perf_counter()
    result = get_provider(f"bedrock:{NOVA}", dimensions=256, retry=FAST).embed_sync("x", intent="query")
    assert result.timings[0].retried == ("RateLimitError",) and time.perf_counter() - began >= 0.45


def test_the_fingerprint_knows_the_emulator_from_aws(
    omnivec_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulated = get_provider(f"bedrock:{NOVA}", dimensions=256).fingerprint("document")
    assert emulated.options["endpoint"] == "emulator"
    for name in ("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "EMULATED_BY_OMNIVEC"):
        monkeypatch.delenv(name)
    real = get_provider(f"bedrock:{NOVA}", dimensions=256).fingerprint("document")
    assert real.options["endpoint"] is None and real.hash != emulated.hash
    proxy = get_provider(f"bedrock:{NOVA}", dimensions=256, endpoint_url="http://10.0.0.7:8080").fingerprint("document")
    assert proxy.options["endpoint"] == "http://10.0.0.7:8080" and len({real.hash, emulated.hash, proxy.hash}) == 3


def test_an_unknown_profile_is_missing_credentials(
    omnivec_emulator: Emulator, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    provider = get_provider(f"bedrock:{NOVA}", dimensions=256, profile="nope", retry=FAST)
    with pytest.raises(MissingCredentialsError, match="nope"):
        provider.embed_sync("x", intent="query")
    assert omnivec_emulator.stats.requests == 0


# Caller-owned clients: apps that already configured credentials, proxies or regions pass them in.


def test_a_callers_boto3_session_is_used_with_retries_off(omnivec_emulator: Emulator) -> None:
    import boto3

    session = boto3.Session(aws_access_key_id="CALLER", aws_secret_access_key="CALLER", region_name="us-east-1")
    provider = get_provider(f"bedrock:{NOVA}", dimensions=256, client=session, retry={"max_attempts": 1})
    assert provider.embed_sync("x", intent="query").vectors.shape == (1, 256)
    omnivec_emulator.fail_next(503)
    from omnivec.providers import ServiceUnavailableError

    with pytest.raises(ServiceUnavailableError):
        provider.embed_sync("y", intent="query")
    assert omnivec_emulator.stats.requests == 2  # botocore's own retries stayed off
    with pytest.raises(InvalidOptionError, match="profile"):
        get_provider(f"bedrock:{NOVA}", client=session, profile="other")


def test_a_callers_bedrock_runtime_client_is_used_as_it_is(omnivec_emulator: Emulator) -> None:
    import boto3
    from botocore.config import Config

    client = boto3.client("bedrock-runtime", config=Config(retries={"total_max_attempts": 1}))
    provider = get_provider("bedrock:amazon.titan-embed-text-v2:0", client=client)
    result = provider.embed_sync(["a", "b"], intent="document")
    assert result.vectors.shape == (2, 1024) and result.fingerprint.options["endpoint"] == "emulator"
    provider.close()
    assert client.invoke_model(modelId="amazon.titan-embed-text-v2:0", body=b'{"inputText": "still open"}')[
        "body"
    ].read()
    with pytest.raises(InvalidOptionError, match="region"):
        get_provider(f"bedrock:{NOVA}", client=client, region="eu-west-1")
    with pytest.raises(InvalidOptionError, match="bedrock-runtime"):
        get_provider(f"bedrock:{NOVA}", client=boto3.client("s3", region_name="us-east-1"))


def test_a_client_that_retries_on_its_own_is_flagged(omnivec_emulator: Emulator) -> None:
    import boto3

    with pytest.warns(UserWarning, match="total_max_attempts"):
        get_provider(f"bedrock:{NOVA}", client=boto3.client("bedrock-runtime"))
