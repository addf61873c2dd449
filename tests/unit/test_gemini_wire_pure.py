"""providers/gemini/_wire.py on its own: the request as plain data, limits, parsing; no google-genai calls."""

from __future__ import annotations

import base64
from types import SimpleNamespace

import pytest

from omnivec.providers import Fused, Image, InvalidInputError, Media, UnexpectedResponseError, UnsupportedInputError
from omnivec.providers.gemini import _wire
from omnivec.providers.gemini.settings import GeminiSettings

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
S = GeminiSettings()


def test_one_content_per_input_with_the_task_in_the_text() -> None:
    request = _wire.build_request(["a", "b"], model="gemini-embedding-2", intent="query", dimensions=768, settings=S)
    assert request.contents == [
        {"parts": [{"text": "task: search result | query: a"}]},
        {"parts": [{"text": "task: search result | query: b"}]},
    ]
    assert request.config == {"output_dimensionality": 768}  # never task_type for gemini-embedding-2


def test_gemini_001_keeps_the_text_and_sends_task_type() -> None:
    request = _wire.build_request(["a"], model="gemini-embedding-001", intent="document", dimensions=3072, settings=S)
    assert request.contents == [{"parts": [{"text": "a"}]}]
    assert request.config == {"output_dimensionality": 3072, "task_type": "RETRIEVAL_DOCUMENT"}
    qa = _wire.build_request(
        ["a"],
        model="models/gemini-embedding-001",
        intent="query",
        dimensions=768,
        settings=GeminiSettings(task="question_answering"),
    )
    assert qa.config["task_type"] == "QUESTION_ANSWERING"


def test_media_parts_and_fused_contents() -> None:
    image = Image.from_bytes(PNG)
    uri = Image.from_uri("gs://bucket/x.png", mime_type="image/png")
    request = _wire.build_request(
        [Fused(image, "caption"), uri], model="gemini-embedding-2", intent="document", dimensions=256, settings=S
    )
    fused, by_uri = request.contents
    assert fused["parts"] == [
        {"inline_data": {"data": PNG, "mime_type": "image/png"}},
        {"text": "title: none | text: caption"},
    ]
    assert by_uri["parts"] == [{"file_data": {"file_uri": "gs://bucket/x.png", "mime_type": "image/png"}}]


def test_templates() -> None:
    custom = GeminiSettings(query_template="Q: {text}", document_template="title: {title} | body: {text}")
    assert _wire.render(_wire.text_template("query", custom), "x") == "Q: x"
    assert _wire.render(_wire.text_template("document", custom), "x") == "title: none | body: x"
    assert _wire.text_template("classification", S) == "task: classification | query: {text}"


def test_token_estimates_are_low_bounds() -> None:
    assert _wire.estimated_tokens("x" * 60) == 10
    assert _wire.estimated_tokens(Fused(Image.from_bytes(PNG), Image.from_bytes(PNG), "x" * 6)) == 2 * 258 + 1
    assert _wire.estimated_tokens(Media(b"%PDF", "application/pdf", pages=3)) == 3 * 258
    assert _wire.estimated_tokens(Media(b"ID3", "audio/mpeg", duration_s=10)) == 250
    assert _wire.estimated_tokens(Media(b"ID3", "audio/mpeg")) == 0  # unknown length: not refused here


def test_check_inputs_refuses_a_fused_item_over_the_budget() -> None:
    fused = Fused("word " * 6000, "more " * 6000, Image.from_bytes(PNG))  # each part alone is under the 49,152 cap
    with pytest.raises(InvalidInputError, match=r"inputs\[1\].*8,192") as info:
        _wire.check_inputs(["ok", fused], model="gemini-embedding-2", vertex=False)
    assert info.value.index == 1
    _wire.check_inputs(["ok", Fused("word " * 1000, Image.from_bytes(PNG))], model="gemini-embedding-2", vertex=False)
    with pytest.raises(InvalidInputError, match="2,048"):
        _wire.check_inputs(["w" * 13_000], model="gemini-embedding-001", vertex=False)


def test_check_inputs_refuses_inline_media_over_the_request_size() -> None:
    big = Media(b"\x00" * 16_000_000, "video/mp4")  # 21.3 MB after base64
    with pytest.raises(InvalidInputError, match="20,000,000"):
        _wire.check_inputs([big], model="gemini-embedding-2", vertex=False)


def test_gs_uris_need_vertex() -> None:
    gs = Image.from_uri("gs://bucket/x.png", mime_type="image/png")
    for item in (gs, Fused("caption", gs)):
        with pytest.raises(UnsupportedInputError, match="vertexai=true"):
            _wire.check_inputs([item], model="gemini-embedding-2", vertex=False)
        _wire.check_inputs([item], model="gemini-embedding-2", vertex=True)
    _wire.check_inputs(
        [Image.from_uri("https://generativelanguage.googleapis.com/v1beta/files/f", mime_type="image/png")],
        model="gemini-embedding-2",
        vertex=False,
    )


def test_request_groups_keep_order_and_stay_under_the_limit() -> None:
    text = {"parts": [{"text": "x" * 100}]}
    image = {"parts": [{"inline_data": {"data": b"\x00" * 3000, "mime_type": "image/png"}}]}
    assert _wire.request_groups([text] * 5) == [range(0, 5)]
    groups = _wire.request_groups([image, text, image, image, text], limit=6000)
    assert [list(g) for g in groups] == [[0, 1], [2], [3, 4]]
    assert all(
        sum(_wire.wire_size(c) for c in [image, text, image, image, text][g.start : g.stop]) <= 6000 for g in groups
    )
    assert _wire.request_groups([]) == []


def test_vectors_and_tokens_from_a_response() -> None:
    response = SimpleNamespace(
        embeddings=[SimpleNamespace(values=[1.0]), SimpleNamespace(values=[2.0])],
        usage_metadata=SimpleNamespace(prompt_token_count=7),
    )
    assert _wire.vectors_from(response, 2) == [[1.0], [2.0]] and _wire.tokens_from(response) == 7
    vertex = SimpleNamespace(
        embeddings=[SimpleNamespace(values=[1.0], statistics=SimpleNamespace(token_count=3))] * 2, usage_metadata=None
    )
    assert _wire.tokens_from(vertex) == 6
    with pytest.raises(UnexpectedResponseError, match="1 embeddings for 2"):
        _wire.vectors_from(SimpleNamespace(embeddings=[SimpleNamespace(values=[1.0])]), 2)
    with pytest.raises(UnexpectedResponseError, match="without values"):
        _wire.vectors_from(SimpleNamespace(embeddings=[SimpleNamespace(values=[])]), 1)


def test_retry_hints() -> None:
    details = {"error": {"details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "2.5s"}]}}
    assert _wire.retry_after(details, {}) == 2.5
    assert _wire.retry_after({}, {"Retry-After": "4"}) == 4.0
    assert _wire.retry_after(None, {}) is None and _wire.retry_after({"error": {"details": "junk"}}, {}) is None
    answer = _wire.upstream(
        code=429, status="RESOURCE_EXHAUSTED", message="", details=details, headers={}, fallback="f"
    )
    assert (answer.code, answer.status, answer.message, answer.retry_after) == ("RESOURCE_EXHAUSTED", 429, "f", 2.5)


def test_endpoint_and_mode() -> None:
    env = {"GOOGLE_GEMINI_BASE_URL": "http://127.0.0.1:7000", "GOOGLE_VERTEX_BASE_URL": "http://127.0.0.1:7001"}
    assert _wire.endpoint(S, {}) is None
    assert _wire.endpoint(S, env) == "http://127.0.0.1:7000"
    assert _wire.endpoint(GeminiSettings(vertexai=True), env) == "http://127.0.0.1:7001"
    assert _wire.endpoint(S, {**env, "GOOGLE_GENAI_USE_VERTEXAI": "true"}) == "http://127.0.0.1:7001"
    assert _wire.endpoint(GeminiSettings(base_url="https://generativelanguage.googleapis.com"), env) is None
    assert _wire.endpoint(S, {**env, "EMULATED_BY_OMNIVEC": "http://127.0.0.1:7000/"}) == "emulator"
