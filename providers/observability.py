"""Logging and optional OpenTelemetry spans for provider calls (user guide: docs/observability.md).

Logging: the ``omnivec`` logger (with a ``NullHandler``: silent until the application configures
logging). ``omnivec.calls`` gets one record per throttled answer (INFO), per scheduled retry with
its delay (INFO) and per call given up (WARNING); ``omnivec.concurrency`` one per move of the
adaptive limit (INFO); ``omnivec.pool`` one per endpoint-pool member taken out (WARNING) or back in (INFO). Fields are in the message (``key=value``) and on the record
(``record.provider``, ``record.attempt``...). Records hold provider, model, counts, delays and the
error's class, HTTP status and provider code, never its message, the inputs or settings: messages
can echo input text and settings can hold keys.

Tracing (``opentelemetry-api``, extra ``otel``, once the application sets up a tracer provider):
:func:`observe_call` opens one span per provider call, through its retries, per the GenAI semantic
conventions: ``embeddings {model}``, CLIENT (INTERNAL for in-process models), operation, provider,
model, dimension count and encoding set at start, input tokens when reported, ``error.type`` and
ERROR status on failure, one ``retry`` event per retry. Without the package only the logs remain.
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = [
    "CALLS_LOGGER",
    "CONCURRENCY_LOGGER",
    "LOGGER",
    "CallObserver",
    "genai_provider_name",
    "observe_call",
    "record_concurrency_change",
    "record_pool_attempt",
    "record_pool_member",
    "use_tracer_provider",
]

LOGGER = "omnivec"
CALLS_LOGGER = "omnivec.calls"
CONCURRENCY_LOGGER = "omnivec.concurrency"
POOL_LOGGER = "omnivec.pool"
logging.getLogger(LOGGER).addHandler(logging.NullHandler())
_calls = logging.getLogger(CALLS_LOGGER)
_concurrency = logging.getLogger(CONCURRENCY_LOGGER)
_pool = logging.getLogger(POOL_LOGGER)

_GENAI_PROVIDER = {
    "bedrock": "aws.bedrock",
    "gemini": "gcp.gemini",
    "openai": "openai",
    "cohere": "cohere",
    "sentence-transformers": "sentence_transformers",
}
_tracer_provider: Any = None


def genai_provider_name(provider: str, *, vertex: bool = False) -> str:
    """The semconv ``gen_ai.provider.name`` for an omnivec provider; unknown ones keep their name."""
    if provider == "gemini" and vertex:
        return "gcp.vertex_ai"
    return _GENAI_PROVIDER.get(provider, provider)


def use_tracer_provider(tracer_provider: Any) -> None:
    """Send omnivec's spans to ``tracer_provider`` instead of the global one (``None`` restores it)."""
    global _tracer_provider
    _tracer_provider = tracer_provider


_cached: tuple[Any, Any] = (None, None)
"""(tracer provider, its omnivec tracer): ``get_tracer`` builds a new tracer on every call."""


def _tracer() -> Any:
    """omnivec's tracer, or None when spans would go nowhere (no package, or no provider set up):
    then no span is even started, so untraced calls pay nothing for tracing."""
    global _cached
    try:
        from opentelemetry import trace
    except ImportError:  # the otel extra is optional; logging works without it
        return None
    source = _tracer_provider if _tracer_provider is not None else trace.get_tracer_provider()
    if isinstance(source, (trace.ProxyTracerProvider, trace.NoOpTracerProvider)):
        return None
    if _cached[0] is not source:
        _cached = (source, source.get_tracer("omnivec"))
    return _cached[1]


def _error_fields(error: BaseException) -> dict[str, Any]:
    """What may be said about an error: its class, status and provider code, never its message."""
    return {
        "error_type": type(error).__name__,
        "status_code": getattr(error, "status_code", None),
        "error_code": getattr(error, "code", None),
    }


def _log(logger: logging.Logger, level: int, event: str, fields: dict[str, Any]) -> None:
    if not logger.isEnabledFor(level):
        return
    shown = " ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in fields.items() if v is not None)
    logger.log(level, "%s %s", event, shown, extra={"event": event, **fields})


class CallObserver:
    """Logs and span events for ONE provider call (one batch, through all its attempts).

    The core calls :meth:`throttled` for each rate-limited attempt, :meth:`retrying` before each backoff
    sleep, then exactly one of :meth:`succeeded` or :meth:`gave_up`.
    """

    __slots__ = ("_scope", "ended", "max_attempts", "model", "provider", "span")

    def __init__(self, provider: str, model: str, max_attempts: int, span: Any = None, scope: Any = None) -> None:
        self.provider, self.model, self.max_attempts = provider, model, max_attempts
        self.span, self._scope = span, scope
        self.ended = False

    @property
    def where(self) -> dict[str, str]:
        return {"provider": self.provider, "model": self.model}

    def __enter__(self) -> CallObserver:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: Any) -> None:
        if self._scope is None:
            return
        if error is not None and not self.ended:  # e.g. cancelled by a sibling's failure: still failed
            _mark_failed(self.span, error)
        self._scope.__exit__(kind, error, tb)  # ends the span and restores the current context

    def throttled(self, attempt: int, error: BaseException) -> None:
        fields = {**self.where, "attempt": attempt, "retry_after_s": getattr(error, "retry_after", None)}
        _log(_calls, logging.INFO, "throttled", {**fields, **_error_fields(error)})

    def retrying(self, attempt: int, delay_s: float, error: BaseException) -> None:
        """``attempt`` failed with ``error``; the next one starts after ``delay_s`` seconds."""
        fields = {
            **self.where,
            "attempt": attempt,
            "max_attempts": self.max_attempts,
            "delay_s": float(delay_s),
            **_error_fields(error),
        }
        _log(_calls, logging.INFO, "retry", fields)
        if self.span is not None:
            attributes = {
                "omnivec.attempt": attempt,
                "omnivec.retry.delay_s": float(delay_s),
                "error.type": type(error).__name__,
            }
            if fields["status_code"] is not None:
                attributes["http.response.status_code"] = int(fields["status_code"])
            self.span.add_event("retry", attributes)

    def succeeded(self, *, attempts: int, input_tokens: int | None = None) -> None:
        self.ended = True
        if self.span is not None:
            self.span.set_attribute("omnivec.attempts", attempts)
            if input_tokens is not None:
                self.span.set_attribute("gen_ai.usage.input_tokens", int(input_tokens))

    def gave_up(self, *, attempts: int, error: BaseException) -> None:
        """The call failed for good: retries exhausted, or an error that is never retried."""
        self.ended = True
        _log(
            _calls,
            logging.WARNING,
            "give_up",
            {
                **self.where,
                "attempts": attempts,
                "retryable": bool(getattr(error, "retryable", False)),
                **_error_fields(error),
            },
        )
        if self.span is not None:
            self.span.set_attribute("omnivec.attempts", attempts)
            _mark_failed(self.span, error)


def _mark_failed(span: Any, error: BaseException) -> None:
    from opentelemetry.trace import Status, StatusCode

    span.set_attribute("error.type", type(error).__name__)
    span.set_status(Status(StatusCode.ERROR, type(error).__name__))  # no message: it may echo inputs


def observe_call(
    provider: str,
    model: str,
    *,
    items: int,
    dimensions: int | None,
    max_attempts: int,
    remote: bool = True,
    vertex: bool = False,
    server: tuple[str, int] | None = None,
) -> CallObserver:
    """The observer of one provider call, to use as ``with observe_call(...) as call:``.

    When OpenTelemetry is set up, it starts the call's span, current for the block, with everything
    a sampler may need already set. Exceptions pass through unchanged; one that leaves the block
    before :meth:`~CallObserver.succeeded` or :meth:`~CallObserver.gave_up` marks the span failed.
    The span never gets the exception itself, because its message may echo inputs. Without
    tracing this only builds one small object: it sits on the core's per-call path.
    """
    tracer = _tracer()
    if tracer is None:
        return CallObserver(provider, model, max_attempts)
    from opentelemetry.trace import SpanKind

    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "embeddings",
        "gen_ai.provider.name": genai_provider_name(provider, vertex=vertex),
        "gen_ai.request.model": model,
        "gen_ai.request.encoding_formats": ["float"],
        "omnivec.provider": provider,
        "omnivec.batch.size": items,
    }
    if dimensions is not None:
        attributes["gen_ai.embeddings.dimension.count"] = int(dimensions)
    if server is not None:
        attributes["server.address"], attributes["server.port"] = server[0], int(server[1])
    kind = SpanKind.CLIENT if remote else SpanKind.INTERNAL
    scope = tracer.start_as_current_span(
        f"embeddings {model}", kind=kind, attributes=attributes, record_exception=False, set_status_on_exception=False
    )
    return CallObserver(provider, model, max_attempts, scope.__enter__(), scope)


def record_concurrency_change(
    provider: str, model: str, *, before: float, after: float, throttled: int, window: int
) -> None:
    """The adaptive limit moved, after a window of ``window`` attempts of which ``throttled`` were 429s.

    Only whole-call changes are worth a record (the limit is fractional while it grows back).
    """
    if int(before) == int(after):
        return
    _log(
        _concurrency,
        logging.INFO,
        "concurrency",
        {
            "provider": provider,
            "model": model,
            "limit_before": int(before),
            "limit_after": int(after),
            "throttled": throttled,
            "window": window,
        },
    )


def record_pool_member(member: str, event: str, *, error: BaseException | None = None, **fields: Any) -> None:
    """An endpoint pool's member was taken out (WARNING, with the error's class and status, never its
    message) or came back in (INFO), on ``omnivec.pool``."""
    level = logging.WARNING if event == "member_out" else logging.INFO
    _log(_pool, level, event, {"member": member, **fields, **(_error_fields(error) if error else {})})


def record_pool_attempt(member: str, outcome: str) -> None:
    """One attempt of a pool call went to ``member`` (outcome ``ok``, ``throttled``, ``failed``): an
    event on the call's span, so a trace shows which endpoint answered. Nothing without tracing."""
    if _tracer() is None:
        return
    from opentelemetry import trace

    trace.get_current_span().add_event("pool.member", {"omnivec.pool.member": member, "omnivec.pool.outcome": outcome})
