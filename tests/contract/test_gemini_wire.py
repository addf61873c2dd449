"""Gemini through google-genai (httpx2) against the emulator: what reaches the wire, exactly."""

from __future__ import annotations

import io
import json
import re
import urllib.request
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage

from omnivec.providers import Image, InvalidInputError, Media, MissingCredentialsError, get_provider
from omnivec.providers.emulator import Emulator


def png(color: str = "red") -> bytes:
    buf = io.BytesIO()
    PILImage.new("RGB", (16, 16), color).save(buf, format="PNG")
    return buf.getvalue()


def requests_of(emulator: Emulator, n: int) -> list[dict[str, Any]]:
    return [json.loads(e["body"]) for e in list(emulator.requests_log)[-n:]]


def test_150_inputs_become_2_requests_in_order(omnivec_emulator: Emulator) -> None:
    provider = get_provider("gemini:gemini-embedding-2", dimensions=256)
    texts = [f"text number {i}" for i in range(150)]
    result = provider.embed_sync(texts, intent="document")
    first, second = sorted(requests_of(omnivec_emulator, 2), key=lambda r: -len(r["requests"]))  # sent concurrently
    assert (len(first["requests"]), len(second["requests"])) == (100, 50)
    assert all(e["path"].endswith(":batchEmbedContents") for e in list(omnivec_emulator.requests_log)[-2:])
    assert first["requests"][0]["content"]["parts"] == [{"text": "title: none | text: text number 0"}]
    np.testing.assert_allclose(
        result.vectors[149], provider.embed_sync("text number 149", intent="document").vectors[0]
    )
    assert second["requests"][-1]["content"]["parts"] == [{"text": "title: none | text: text number 149"}]
    assert result.vectors.shape == (150, 256) and result.usage.requests == 2


def test_three_texts_become_three_vectors_never_one_fused(omnivec_emulator: Emulator) -> None:
    result = get_provider("gemini:gemini-embedding-2", dimensions=128).embed_sync(
        ["first", "second", "third"], intent="query"
    )
    (request,) = requests_of(omnivec_emulator, 1)
    assert [len(r["content"]["parts"]) for r in request["requests"]] == [1, 1, 1]
    assert result.vectors.shape == (3, 128)
    assert not np.allclose(result.vectors[0], result.vectors[1])


@pytest.mark.parametrize(
    ("options", "intent", "text"),
    [
        ({}, "query", "task: search result | query: solar"),
        ({}, "document", "title: none | text: solar"),
        ({"task": "question_answering"}, "query", "task: question answering | query: solar"),
        ({"task": "fact_checking"}, "query", "task: fact checking | query: solar"),
        ({"task": "code_retrieval"}, "query", "task: code retrieval | query: solar"),
        ({}, "classification", "task: classification | query: solar"),
        ({}, "clustering", "task: clustering | query: solar"),
        ({}, "similarity", "task: sentence similarity | query: solar"),
        ({"query_template": "Q: {text}"}, "query", "Q: solar"),
    ],
)
def test_gemini_2_writes_the_task_into_the_text(
    omnivec_emulator: Emulator, options: dict[str, str], intent: str, text: str
) -> None:
    provider = get_provider("gemini:gemini-embedding-2", dimensions=256, **options)
    provider.embed_sync("solar", intent=intent)  # type: ignore[arg-type]
    (request,) = requests_of(omnivec_emulator, 1)
    entry = request["requests"][0]
    assert entry["content"]["parts"] == [{"text": text}]
    assert "taskType" not in entry and entry["outputDimensionality"] == 256
    assert text.replace("solar", "{text}") in provider.fingerprint(intent).intent_mapping  # type: ignore[arg-type]


def test_gemini_001_keeps_task_type_and_is_normalized_by_us(omnivec_emulator: Emulator) -> None:
    provider = get_provider("gemini:gemini-embedding-001", dimensions=256)
    result = provider.embed_sync(["a b", "c d"], intent="query")
    (request,) = requests_of(omnivec_emulator, 1)
    assert [r["taskType"] for r in request["requests"]] == ["RETRIEVAL_QUERY"] * 2
    assert request["requests"][0]["content"]["parts"] == [{"text": "a b"}]
    np.testing.assert_allclose(np.linalg.norm(result.vectors, axis=1), 1.0, atol=1e-5)  # the emulator sends 0.8
    provider.embed_sync("a", intent="document")
    assert requests_of(omnivec_emulator, 1)[0]["requests"][0]["taskType"] == "RETRIEVAL_DOCUMENT"


def test_images_are_inline_parts_one_content_each(omnivec_emulator: Emulator) -> None:
    provider = get_provider("gemini:gemini-embedding-2", dimensions=256)
    result = provider.embed_sync(
        [Image.from_bytes(png("red")), "caption", Image.from_bytes(png("blue"))], intent="document"
    )
    (request,) = requests_of(omnivec_emulator, 1)
    parts = [r["content"]["parts"] for r in request["requests"]]
    assert parts[0][0]["inline_data"]["mime_type"] == "image/png" and parts[1] == [
        {"text": "title: none | text: caption"}
    ]
    assert result.vectors.shape == (3, 256) and result.usage.images == 2


def test_limits_are_checked_before_sending(omnivec_emulator: Emulator) -> None:
    provider = get_provider("gemini:gemini-embedding-2", dimensions=256)
    before = omnivec_emulator.stats.requests
    for bad in (
        Media(b"%PDF-1.4", "application/pdf", pages=7),
        Media(b"ID3", "audio/mpeg", duration_s=181),
        Media(b"\x00", "video/mp4", duration_s=121),
    ):
        with pytest.raises(InvalidInputError):
            provider.embed_sync(bad, intent="document")
    from omnivec.providers import InvalidOptionError, UnsupportedInputError

    gif = Image.from_bytes(
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,"
        b"\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
    )
    with pytest.raises(UnsupportedInputError, match="image/gif"):
        provider.embed_sync(gif, intent="document")
    with pytest.raises(InvalidOptionError, match="128–3072"):
        get_provider("gemini:gemini-embedding-2", dimensions=64)
    assert omnivec_emulator.stats.requests == before


def test_vertex_express_mode_uses_the_vertex_path(omnivec_emulator: Emulator) -> None:
    provider = get_provider(
        "gemini:gemini-embedding-2", dimensions=256, vertexai=True, api_key="k", base_url=omnivec_emulator.url
    )
    assert provider.embed_sync(["one"], intent="query").vectors.shape == (1, 256)
    assert "/publishers/google/models/gemini-embedding-2:" in list(omnivec_emulator.requests_log)[-1]["path"]


def test_missing_api_key_is_a_configuration_error(omnivec_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEMINI_API_KEY")
    with pytest.raises(MissingCredentialsError, match="GEMINI_API_KEY"):
        get_provider("gemini:gemini-embedding-2").embed_sync("x", intent="query")


def test_the_emulator_rejects_more_than_100_entries(omnivec_emulator: Emulator) -> None:
    body = {"requests": [{"content": {"parts": [{"text": str(i)}]}} for i in range(101)]}
    request = urllib.request.Request(
        f"{omnivec_emulator.url}/v1beta/models/gemini-embedding-2:batchEmbedContents",
        data=json.dumps(body).encode(),
        headers={"x-goog-api-key": "k"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request)
    error = json.loads(info.value.read())["error"]
    assert info.value.code == 400 and error["status"] == "INVALID_ARGUMENT" and "at most 100" in error["message"]


def test_fused_item_is_one_content_with_several_parts_and_one_vector(omnivec_emulator: Emulator) -> None:
    from omnivec.providers import Fused

    provider = get_provider("gemini:gemini-embedding-2", dimensions=256)
    photo = Image.from_bytes(png("green"))
    result = provider.embed_sync([Fused(photo, "a green square"), "a green square", photo], intent="document")
    (request,) = requests_of(omnivec_emulator, 1)
    fused_parts = request["requests"][0]["content"]["parts"]
    assert len(request["requests"]) == 3 and len(fused_parts) == 2
    assert "inline_data" in fused_parts[0] and fused_parts[1] == {"text": "title: none | text: a green square"}
    assert result.vectors.shape == (3, 256) and result.usage.images == 2
    assert not np.allclose(result.vectors[0], result.vectors[1]) and not np.allclose(
        result.vectors[0], result.vectors[2]
    )


def test_fused_limits_and_refusals_before_sending(omnivec_emulator: Emulator) -> None:
    from omnivec.providers import Fused, UnsupportedInputError

    before = omnivec_emulator.stats.requests
    seven = Fused(*[Image.from_bytes(png(c)) for c in ("red", "blue", "green", "white", "black", "yellow", "gray")])
    with pytest.raises(InvalidInputError, match="at most 6"):
        get_provider("gemini:gemini-embedding-2", dimensions=256).embed_sync(seven, intent="document")
    for ref in ("bedrock:amazon.nova-2-multimodal-embeddings-v1:0", "gemini:gemini-embedding-001", "local"):
        with pytest.raises(UnsupportedInputError, match="Fused"):
            get_provider(ref).embed_sync(Fused("a", "b"), intent="document")
    assert omnivec_emulator.stats.requests == before


def test_size_limits_are_checked_before_any_call(omnivec_emulator: Emulator) -> None:
    from omnivec.providers import Fused

    provider = get_provider("gemini:gemini-embedding-2", dimensions=256)
    huge_png = Image.from_bytes(png() + b"\0" * 21_900_000)  # 21.9 MB: over the 20 MB request
    over_budget = Fused("word " * 6000, "more " * 6000)  # each part fits, the content does not
    for bad, where in (("x " * 500_000, "inputs[1]"), (huge_png, "inputs[1]"), (over_budget, "inputs[1]")):
        with pytest.raises(InvalidInputError, match=re.escape(where)) as info:
            provider.embed_sync(["fine", bad], intent="document")
        assert "\n" not in str(info.value)
    with pytest.raises(InvalidInputError, match="2,048"):
        get_provider("gemini:gemini-embedding-001").embed_sync("w" * 13_000, intent="document")
    assert omnivec_emulator.stats.requests == 0


def test_gs_uris_are_refused_outside_vertex_before_any_call(omnivec_emulator: Emulator) -> None:
    from omnivec.providers import UnsupportedInputError

    gs = Image.from_uri("gs://bucket/cat.png", mime_type="image/png")
    with pytest.raises(UnsupportedInputError, match="vertexai=true"):
        get_provider("gemini:gemini-embedding-2", dimensions=256).embed_sync(["a", gs], intent="document")
    assert omnivec_emulator.stats.requests == 0
    vertex = get_provider(
        "gemini:gemini-embedding-2", dimensions=256, vertexai=True, api_key="k", base_url=omnivec_emulator.url
    )
    vertex.embed_sync(gs, intent="document")
    (request,) = requests_of(omnivec_emulator, 1)
    file_data = request["content"]["parts"][0]["fileData"]
    assert (file_data.get("fileUri") or file_data.get("file_uri")) == "gs://bucket/cat.png"  # Vertex mixes cases


def test_vertex_without_credentials_is_one_line(
    omnivec_emulator: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))  # no gcloud ADC file
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:9")  # and no metadata server
    monkeypatch.setenv("GCE_METADATA_IP", "127.0.0.1:9")
    provider = get_provider(
        "gemini:gemini-embedding-2",
        dimensions=256,
        vertexai=True,
        project="p",
        location="us-central1",
        base_url=omnivec_emulator.url,
        retry={"max_attempts": 3},
    )
    with pytest.raises(MissingCredentialsError, match="Application Default Credentials") as info:
        provider.embed_sync("x", intent="query")
    assert "\n" not in str(info.value) and len(str(info.value)) < 300
    assert omnivec_emulator.stats.requests == 0


def test_gemini_001_is_normalized_at_3072_as_documented(omnivec_emulator: Emulator) -> None:
    full = get_provider("gemini:gemini-embedding-001")
    assert full.capabilities.normalized and full.fingerprint("document").normalized
    cut = get_provider("gemini:gemini-embedding-001", dimensions=768)
    assert not cut.capabilities.normalized and cut.fingerprint("document").normalized  # the core normalizes it
    np.testing.assert_allclose(np.linalg.norm(cut.embed_sync("a b", intent="query").vectors, axis=1), 1.0, atol=1e-5)


def test_the_fingerprint_knows_the_emulator_from_google(
    omnivec_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulated = get_provider("gemini:gemini-embedding-2", dimensions=256).fingerprint("query")
    assert emulated.options["endpoint"] == "emulator"
    for name in ("GOOGLE_GEMINI_BASE_URL", "EMULATED_BY_OMNIVEC"):
        monkeypatch.delenv(name)
    real = get_provider("gemini:gemini-embedding-2", dimensions=256).fingerprint("query")
    assert real.options["endpoint"] is None and real.hash != emulated.hash
    proxy = get_provider("gemini:gemini-embedding-2", dimensions=256, base_url="http://localhost:4000").fingerprint(
        "query"
    )
    assert proxy.options["endpoint"] == "http://localhost:4000" and len({real.hash, emulated.hash, proxy.hash}) == 3


def test_a_batch_over_the_request_size_is_split_not_refused(omnivec_emulator: Emulator) -> None:
    images = [Image.from_bytes(png(c) + b"\0" * 7_000_000) for c in ("red", "green", "blue")]  # 9.3 MB each in base64
    result = get_provider("gemini:gemini-embedding-2", dimensions=256).embed_sync(images, intent="document")
    assert (omnivec_emulator.stats.requests, omnivec_emulator.stats.items) == (2, 3)  # each request under 20 MB
    assert result.usage.requests >= 1
    assert result.vectors.shape == (3, 256) and not np.isnan(result.vectors).any()
    assert not np.allclose(result.vectors[1], result.vectors[2])


# A caller-owned genai.Client: apps that set up API keys, Vertex auth or proxies pass it in.


def test_a_callers_genai_client_is_used_with_its_retries_off(omnivec_emulator: Emulator) -> None:
    from google import genai
    from google.genai import types

    from omnivec.providers import ServiceUnavailableError

    options = types.HttpOptions(base_url=omnivec_emulator.url, retry_options=types.HttpRetryOptions(attempts=5))
    client = genai.Client(api_key="callers-key", http_options=options)
    provider = get_provider("gemini:gemini-embedding-2", dimensions=128, client=client, retry={"max_attempts": 1})
    result = provider.embed_sync(["a", "b"], intent="document")
    assert result.vectors.shape == (2, 128) and result.fingerprint.options["endpoint"] == "emulator"
    omnivec_emulator.fail_next(503)
    with pytest.raises(ServiceUnavailableError):
        provider.embed_sync("x", intent="query")
    assert omnivec_emulator.stats.requests == 2  # the client's five attempts stayed off for our call
    provider.close()
    assert client.models.embed_content(model="gemini-embedding-2", contents="still open").embeddings


def test_a_callers_client_excludes_connection_options() -> None:
    from google import genai

    from omnivec.providers import InvalidOptionError

    client = genai.Client(api_key="k")
    with pytest.raises(InvalidOptionError, match="api_key"):
        get_provider("gemini:gemini-embedding-2", client=client, api_key="other")
    with pytest.raises(InvalidOptionError, match=r"genai\.Client"):
        get_provider("gemini:gemini-embedding-2", client="not a client")
    assert get_provider("gemini:gemini-embedding-2", client=client).fingerprint("query").options["endpoint"] is None
