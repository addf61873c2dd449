"""Pure parts of the OpenAI-compatible adapter: models, limits, request parameters, response and error reading.

No ``openai`` import and no I/O, so every rule is unit-tested on its own (tests/unit/test_openai_wire_pure.py);
the provider only hands :func:`request_params` to ``client.embeddings.create``.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._translate import EMULATOR_URL_ENV, Upstream, endpoint_identity
from ..errors import InvalidOptionError, UnexpectedResponseError
from ..types import Intent
from .settings import OpenAISettings

__all__ = [
    "KNOWN_MODELS",
    "ModelSpec",
    "endpoint",
    "intent_mapping",
    "model_spec",
    "prefix",
    "request_groups",
    "request_params",
    "retry_after",
    "upstream",
    "vectors_from",
]


@dataclass(frozen=True, slots=True)
class ModelSpec:
    native: int
    """The size the model returns when no ``dimensions`` is sent."""
    matryoshka: bool
    """Whether the server shortens vectors when asked (the wire ``dimensions``)."""
    known: bool = True
    """An OpenAI model omnivec knows (limits and unit length are documented)."""


KNOWN_MODELS: dict[str, ModelSpec] = {
    "text-embedding-3-small": ModelSpec(1536, matryoshka=True),
    "text-embedding-3-large": ModelSpec(3072, matryoshka=True),
    "text-embedding-ada-002": ModelSpec(1536, matryoshka=False),  # the API refuses `dimensions` for it
}
MAX_INPUT_TOKENS = 8192
"""OpenAI's per-input limit. Tokens cannot be counted offline (tiktoken downloads its tables), so text
is refused only when surely over: more than ``MAX_INPUT_TOKENS * CHARS_PER_TOKEN`` characters."""
CHARS_PER_TOKEN = 6
BYTES_PER_TOKEN = 2
"""For splitting a batch under ``max_tokens_per_request``: byte-level BPE gives about 4 UTF-8 bytes per
token on English and rarely fewer than 2 on anything, so bytes / 2 over-estimates and the real sum stays under."""
PLACEHOLDER_KEY = "unused"
"""Sent to servers other than OpenAI's when no key is configured: the SDK insists on one, local servers ignore it."""
VENDOR_HOSTS = (".openai.com",)


def model_spec(model: str, settings: OpenAISettings) -> ModelSpec:
    """What ``model`` returns; models omnivec does not know need ``model_dimensions`` or ``dimensions``."""
    if model in KNOWN_MODELS:
        return KNOWN_MODELS[model]
    native = settings.model_dimensions or settings.dimensions
    if native is None:
        raise InvalidOptionError(
            f"openai:{model} is not an OpenAI model omnivec knows: set dimensions (the vector size the "
            "server returns) or model_dimensions (its native size, to ask for fewer)"
        )
    return ModelSpec(native, matryoshka=settings.model_dimensions is not None, known=False)


def prefix(intent: Intent, settings: OpenAISettings) -> str:
    """Text put before each input: documents get ``document_prefix``, everything else ``query_prefix``."""
    return settings.document_prefix if intent == "document" else settings.query_prefix


def intent_mapping(intent: Intent, settings: OpenAISettings) -> str:
    """OpenAI has no input type; the intent reaches the wire only as a prefix (``prompt=None``: none)."""
    return f"{intent}(prompt={prefix(intent, settings) or None!r})"


def request_params(
    texts: Sequence[str], *, model: str, dimensions: int, spec: ModelSpec, settings: OpenAISettings
) -> dict[str, Any]:
    """Keyword arguments of ``embeddings.create``. ``dimensions`` is sent only to shorten a Matryoshka
    model's vectors; ``encoding_format`` is left out for base64, so the SDK asks for base64 and decodes it."""
    params: dict[str, Any] = {"model": model, "input": list(texts)}
    if dimensions != spec.native:
        params["dimensions"] = dimensions
    if settings.encoding_format == "float":
        params["encoding_format"] = "float"
    return params


def estimated_tokens(text: str) -> int:
    return max(1, math.ceil(len(text.encode()) / BYTES_PER_TOKEN))


def request_groups(texts: Sequence[str], max_tokens: int) -> list[range]:
    """Consecutive runs of ``texts`` whose estimated tokens stay under ``max_tokens`` (one run normally)."""
    groups: list[range] = []
    start, used = 0, 0
    for i, text in enumerate(texts):
        cost = estimated_tokens(text)
        if i > start and used + cost > max_tokens:
            groups.append(range(start, i))
            start, used = i, 0
        used += cost
    if texts:
        groups.append(range(start, len(texts)))
    return groups


def vectors_from(data: Sequence[tuple[int, Any]], *, expected: int, dimensions: int) -> list[list[float]]:
    """The vectors of ``(index, embedding)`` pairs, in input order, checked for count and size.

    A wrong size most often means the server ignored ``dimensions`` (TEI does) or returned floats to a
    client that decoded base64 (vectors a quarter as long): said plainly instead of a shape error.
    """
    by_index = dict(data)
    if len(data) != expected or sorted(by_index) != list(range(expected)):
        raise UnexpectedResponseError(f"asked for {expected} embeddings, got indexes {sorted(by_index)[:10]}")
    vectors = [by_index[i] for i in range(expected)]
    for vector in vectors:
        listlike = isinstance(vector, Sequence) and not isinstance(vector, str)
        if not listlike or len(vector) != dimensions:
            size = len(vector) if listlike else type(vector).__name__
            raise UnexpectedResponseError(
                f"the server returned {size}-dim vectors, not {dimensions}: it may ignore `dimensions` "
                "(set dimensions to the model's native size) or answer floats to base64 (set encoding_format='float')"
            )
    return [list(v) for v in vectors]


def retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds an error answer asks us to wait: ``retry-after-ms``, else ``retry-after`` (seconds or an HTTP date)."""
    lowered = {k.lower(): str(v).strip() for k, v in headers.items()}
    try:
        ms = float(lowered.get("retry-after-ms", ""))
        if ms >= 0:
            return ms / 1000
    except ValueError:
        pass
    value = lowered.get("retry-after", "")
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
        return max(0.0, seconds)
    return seconds if seconds >= 0 else None


def upstream(*, status: int | None, body: object, headers: Mapping[str, str], fallback: str) -> Upstream:
    """Read an ``APIStatusError``: the ``error`` object's code and message, the status, the retry hint."""
    error = body if isinstance(body, Mapping) else {}
    code = error.get("code")
    return Upstream(
        code=str(code) if code not in (None, "") else None,
        status=status,
        message=str(error.get("message") or fallback),
        retry_after=retry_after(headers),
    )


def endpoint(url: str | None, environ: Mapping[str, str]) -> str | None:
    """Identity of the API root in effect, for the fingerprint: the ``base_url`` option (or a client's),
    else ``OPENAI_BASE_URL``; None for OpenAI itself (see ``endpoint_identity``)."""
    return endpoint_identity(
        url or environ.get("OPENAI_BASE_URL"), emulator_url=environ.get(EMULATOR_URL_ENV), vendor_hosts=VENDOR_HOSTS
    )
