"""omnivec.providers.observability: log records and GenAI spans, checked with OpenTelemetry's in-memory exporter."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator

import pytest

pytest.importorskip("opentelemetry.sdk", reason="needs opentelemetry-sdk (dev extra)")

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from omnivec.providers import InvalidRequestError, RateLimitError, ServiceUnavailableError
from omnivec.providers.observability import (
    LOGGER,
    genai_provider_name,
    observe_call,
    record_concurrency_change,
    use_tracer_provider,
)

SECRET = "AKIA-TEST-SECRET-0123456789"
PRIVATE_TEXT = "my private diary entry"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    use_tracer_provider(provider)
    yield exporter
    use_tracer_provider(None)
    provider.shutdown()


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger=LOGGER)
    return caplog


def only_span(exporter: InMemorySpanExporter) -> ReadableSpan:
    (span,) = exporter.get_finished_spans()
    return span


def throttle() -> RateLimitError:
    # A message that echoes a key and the input, as some services do: none of it may be recorded.
    return RateLimitError(
        f"key {SECRET} over quota for '{PRIVATE_TEXT}'",
        retry_after=0.5,
        provider="bedrock",
        model="amazon.nova-2-multimodal-embeddings-v1:0",
        status_code=429,
        code="ThrottlingException",
    )


def test_a_successful_call_after_two_throttles_gives_one_span_with_retry_events(
    spans: InMemorySpanExporter, logs: pytest.LogCaptureFixture
) -> None:
    model = "amazon.nova-2-multimodal-embeddings-v1:0"
    with observe_call("bedrock", model, items=1, dimensions=1024, max_attempts=5) as call:
        for attempt in (1, 2):
            call.throttled(attempt, throttle())
            call.retrying(attempt, 0.5, throttle())
        call.succeeded(attempts=3, input_tokens=7)

    span = only_span(spans)
    assert span.name == f"embeddings {model}" and span.kind is SpanKind.CLIENT
    assert dict(span.attributes or {}) == {
        "gen_ai.operation.name": "embeddings",
        "gen_ai.provider.name": "aws.bedrock",
        "gen_ai.request.model": model,
        "gen_ai.request.encoding_formats": ("float",),
        "gen_ai.embeddings.dimension.count": 1024,
        "omnivec.provider": "bedrock",
        "omnivec.batch.size": 1,
        "omnivec.attempts": 3,
        "gen_ai.usage.input_tokens": 7,
    }
    assert [(e.name, dict(e.attributes or {})) for e in span.events] == [
        (
            "retry",
            {
                "omnivec.attempt": n,
                "omnivec.retry.delay_s": 0.5,
                "error.type": "RateLimitError",
                "http.response.status_code": 429,
            },
        )
        for n in (1, 2)
    ]
    assert span.status.status_code is StatusCode.UNSET

    assert [(r.name, r.levelname, r.event) for r in logs.records] == [
        ("omnivec.calls", "INFO", "throttled"),
        ("omnivec.calls", "INFO", "retry"),
    ] * 2
    retry = logs.records[1]
    assert (retry.provider, retry.model, retry.attempt, retry.max_attempts, retry.delay_s) == (
        "bedrock",
        model,
        1,
        5,
        0.5,
    )
    assert (retry.error_type, retry.status_code, retry.error_code) == ("RateLimitError", 429, "ThrottlingException")
    assert retry.getMessage() == (
        f"retry provider=bedrock model={model} attempt=1 max_attempts=5 delay_s=0.500 "
        "error_type=RateLimitError status_code=429 error_code=ThrottlingException"
    )
    assert logs.records[0].retry_after_s == 0.5


def test_giving_up_is_a_warning_and_an_error_span(spans: InMemorySpanExporter, logs: pytest.LogCaptureFixture) -> None:
    error = ServiceUnavailableError(f"upstream said {PRIVATE_TEXT}", status_code=503)

    def call_that_gives_up() -> None:
        with observe_call("gemini", "gemini-embedding-2", items=100, dimensions=768, max_attempts=3) as call:
            call.gave_up(attempts=3, error=error)
            raise error

    with pytest.raises(ServiceUnavailableError):
        call_that_gives_up()
    span = only_span(spans)
    assert span.status.status_code is StatusCode.ERROR and span.status.description == "ServiceUnavailableError"
    assert span.attributes["error.type"] == "ServiceUnavailableError" and span.attributes["omnivec.attempts"] == 3
    assert span.events == ()  # the exception is not recorded: its message may echo inputs
    (record,) = logs.records
    assert (record.levelname, record.event, record.attempts, record.retryable) == ("WARNING", "give_up", 3, True)


def test_an_unexpected_exception_still_fails_the_span_and_passes_through(spans: InMemorySpanExporter) -> None:
    with (
        pytest.raises(KeyError),
        observe_call("gemini", "gemini-embedding-2", items=1, dimensions=None, max_attempts=3),
    ):
        raise KeyError(SECRET)
    span = only_span(spans)
    assert span.attributes["error.type"] == "KeyError" and span.status.status_code is StatusCode.ERROR
    assert "gen_ai.embeddings.dimension.count" not in span.attributes


def test_local_models_get_internal_spans_and_server_attributes_are_optional(spans: InMemorySpanExporter) -> None:
    with observe_call(
        "sentence-transformers", "all-MiniLM-L6-v2", items=2, dimensions=384, max_attempts=1, remote=False
    ) as call:
        call.succeeded(attempts=1)
    with observe_call(
        "openai", "text-embedding-3-small", items=2, dimensions=256, max_attempts=1, server=("127.0.0.1", 8080)
    ) as call:
        call.succeeded(attempts=1)
    local, remote = spans.get_finished_spans()
    assert local.kind is SpanKind.INTERNAL and local.attributes["gen_ai.provider.name"] == "sentence_transformers"
    assert "gen_ai.usage.input_tokens" not in local.attributes  # not reported: not invented
    assert (remote.attributes["server.address"], remote.attributes["server.port"]) == ("127.0.0.1", 8080)


def test_no_secret_or_input_text_reaches_logs_or_spans(
    spans: InMemorySpanExporter, logs: pytest.LogCaptureFixture
) -> None:
    bad = InvalidRequestError(f"bad key {SECRET} for input '{PRIVATE_TEXT}'", status_code=400)

    def throttled_then_rejected() -> None:
        with observe_call("bedrock", "m", items=1, dimensions=8, max_attempts=3) as call:
            call.throttled(1, throttle())
            call.retrying(1, 0.1, throttle())
            call.gave_up(attempts=2, error=bad)
            raise bad

    with pytest.raises(InvalidRequestError):
        throttled_then_rejected()
    captured = [r.getMessage() for r in logs.records] + [repr(vars(r)) for r in logs.records]
    captured += [span.to_json() for span in spans.get_finished_spans()]
    assert logs.records and captured
    for needle in (SECRET, PRIVATE_TEXT):
        assert not [text for text in captured if needle in text]


def test_concurrency_changes_are_logged_only_when_the_whole_limit_moves(logs: pytest.LogCaptureFixture) -> None:
    record_concurrency_change("gemini", "gemini-embedding-2", before=8.0, after=6.0, throttled=5, window=8)
    record_concurrency_change("gemini", "gemini-embedding-2", before=6.0, after=6.75, throttled=0, window=6)
    (record,) = logs.records
    assert (record.name, record.event, record.limit_before, record.limit_after) == (
        "omnivec.concurrency",
        "concurrency",
        8,
        6,
    )
    assert record.getMessage() == (
        "concurrency provider=gemini model=gemini-embedding-2 limit_before=8 limit_after=6 throttled=5 window=8"
    )


def test_without_opentelemetry_logging_still_works(
    monkeypatch: pytest.MonkeyPatch, logs: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # as if the otel extra were not installed
    with observe_call("gemini", "gemini-embedding-2", items=1, dimensions=768, max_attempts=2) as call:
        assert call.span is None
        call.retrying(1, 0.2, throttle())
        call.succeeded(attempts=2)
    assert [r.event for r in logs.records] == ["retry"]


def test_the_library_logger_prints_nothing_until_the_application_configures_logging() -> None:
    assert any(isinstance(h, logging.NullHandler) for h in logging.getLogger(LOGGER).handlers)


@pytest.mark.parametrize(
    ("name", "vertex", "expected"),
    [
        ("bedrock", False, "aws.bedrock"),
        ("gemini", False, "gcp.gemini"),
        ("gemini", True, "gcp.vertex_ai"),
        ("sentence-transformers", False, "sentence_transformers"),
        ("my-plugin", False, "my-plugin"),
    ],
)
def test_provider_names_follow_the_semantic_conventions(name: str, vertex: bool, expected: str) -> None:
    assert genai_provider_name(name, vertex=vertex) == expected
