"""providers/openai/_wire.py on its own (plain data in and out), and the SDK error table's coverage."""

from __future__ import annotations

import email.utils

import pytest

from omnivec.providers import errors
from omnivec.providers.openai import _wire
from omnivec.providers.openai.settings import OpenAISettings

S = OpenAISettings()


def test_known_models_and_the_size_a_compatible_server_needs() -> None:
    assert _wire.model_spec("text-embedding-3-large", S) == _wire.ModelSpec(3072, matryoshka=True)
    assert not _wire.model_spec("text-embedding-ada-002", S).matryoshka
    with pytest.raises(errors.InvalidOptionError, match="model_dimensions"):
        _wire.model_spec("nomic-embed-text", S)
    served = _wire.model_spec("nomic-embed-text", OpenAISettings(dimensions=768))
    assert served == _wire.ModelSpec(768, matryoshka=False, known=False)
    assert _wire.model_spec("nomic-embed-text", OpenAISettings(model_dimensions=768)).matryoshka


def test_request_params_send_dimensions_only_to_shorten() -> None:
    spec = _wire.KNOWN_MODELS["text-embedding-3-small"]
    full = _wire.request_params(["a"], model="text-embedding-3-small", dimensions=1536, spec=spec, settings=S)
    assert full == {"model": "text-embedding-3-small", "input": ["a"]}  # the SDK adds encoding_format=base64
    short = _wire.request_params(
        ["a"], model="m", dimensions=256, spec=spec, settings=OpenAISettings(encoding_format="float")
    )
    assert short["dimensions"] == 256 and short["encoding_format"] == "float"


def test_prefixes_and_the_intent_mapping() -> None:
    s = OpenAISettings(query_prefix="query: ", document_prefix="passage: ")
    assert [_wire.prefix(i, s) for i in ("query", "document", "clustering")] == ["query: ", "passage: ", "query: "]
    assert _wire.intent_mapping("document", s) == "document(prompt='passage: ')"
    assert _wire.intent_mapping("query", S) == "query(prompt=None)" != _wire.intent_mapping("document", S)


def test_request_groups_stay_under_the_token_cap() -> None:
    assert _wire.request_groups(["abcd"] * 5, 4) == [range(0, 2), range(2, 4), range(4, 5)]  # 2 tokens each
    assert _wire.request_groups(["x" * 100, "y"], 10) == [range(0, 1), range(1, 2)]  # one over-cap text alone
    assert _wire.request_groups(["a", "b"], 300_000) == [range(0, 2)]
    assert _wire.request_groups([], 10) == []
    assert _wire.estimated_tokens("日本語") == 5  # 9 UTF-8 bytes: the estimate counts bytes, not characters


def test_vectors_come_back_in_index_order_and_checked() -> None:
    assert _wire.vectors_from([(1, [0.0, 1.0]), (0, [1.0, 0.0])], expected=2, dimensions=2) == [[1.0, 0.0], [0.0, 1.0]]
    with pytest.raises(errors.UnexpectedResponseError, match="indexes"):
        _wire.vectors_from([(0, [1.0])], expected=2, dimensions=1)
    with pytest.raises(errors.UnexpectedResponseError, match="indexes"):
        _wire.vectors_from([(0, [1.0]), (0, [1.0])], expected=2, dimensions=1)
    with pytest.raises(errors.UnexpectedResponseError, match=r"384-dim.*ignore `dimensions`"):
        _wire.vectors_from([(0, [0.1] * 384)], expected=1, dimensions=256)
    with pytest.raises(errors.UnexpectedResponseError, match="str-dim"):
        _wire.vectors_from([(0, "AAAA")], expected=1, dimensions=1)


def test_retry_after_reads_milliseconds_seconds_and_dates() -> None:
    assert _wire.retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert _wire.retry_after({"Retry-After": "2"}) == 2.0
    date = email.utils.formatdate(1_000_010, usegmt=True)
    assert _wire.retry_after({"retry-after": date}, now=1_000_000) == pytest.approx(10)
    assert _wire.retry_after({"retry-after": "soon"}) is None
    assert _wire.retry_after({"retry-after": "-1"}) is None
    assert _wire.retry_after({}) is None


def test_upstream_reads_the_error_object() -> None:
    body = {"message": "Rate limit reached", "type": "requests", "param": None, "code": "rate_limit_exceeded"}
    answer = _wire.upstream(status=429, body=body, headers={"retry-after-ms": "50"}, fallback="x")
    assert (answer.code, answer.status, answer.message, answer.retry_after) == (
        "rate_limit_exceeded",
        429,
        "Rate limit reached",
        0.05,
    )
    plain = _wire.upstream(status=502, body="<html>bad gateway</html>", headers={}, fallback="Error code: 502")
    assert plain.code is None and plain.message == "Error code: 502"


def test_the_endpoint_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"EMULATED_BY_OMNIVEC": "http://127.0.0.1:5000", "OPENAI_BASE_URL": "http://127.0.0.1:5000/v1"}
    assert _wire.endpoint(None, env) == "emulator"
    assert _wire.endpoint(None, {}) is None and _wire.endpoint("https://api.openai.com/v1", {}) is None
    assert _wire.endpoint("http://user:pw@localhost:11434/v1?key=s", {}) == "http://localhost:11434/v1"


def test_every_openai_exception_class_is_translated() -> None:
    import openai

    from omnivec.providers.openai.provider import ERROR_TABLE

    exported = [getattr(openai, name) for name in dir(openai) if name.endswith("Error")]
    classes = [c for c in exported if isinstance(c, type) and issubclass(c, openai.OpenAIError)]
    assert len(classes) >= 15
    missing = [c.__name__ for c in classes if not ERROR_TABLE.covers(c)]
    assert not missing, missing


@pytest.mark.parametrize(
    ("code", "status", "cls"),
    [
        ("rate_limit_exceeded", 429, errors.RateLimitError),
        ("insufficient_quota", 429, errors.AuthenticationError),
        ("model_not_found", 404, errors.ModelNotFoundError),
        (None, 401, errors.AuthenticationError),
        (None, 500, errors.ServiceUnavailableError),
        ("context_length_exceeded", 400, errors.InvalidRequestError),
    ],
)
def test_answers_map_by_code_then_status(code: str | None, status: int, cls: type) -> None:
    import httpx2
    import openai

    from omnivec.providers.openai.provider import ERROR_TABLE

    response = httpx2.Response(status, request=httpx2.Request("POST", "http://x/v1/embeddings"))
    exc = openai.APIStatusError("m", response=response, body={"message": "why", "code": code})
    error = ERROR_TABLE.translate(exc, provider="openai", model="m")
    assert type(error) is cls and error.status_code == status and "] why" in str(error)
