"""Gemini Embedding 2 (and gemini-embedding-001) through google-genai ``client.aio.models.embed_content``.

ONE ``types.Content`` per input: a list of plain strings would be fused by gemini-embedding-2
into a single vector. Up to 100 contents per request (the core chunks). google-genai talks through
httpx2; its own retries stay off so the core's policy is the only one.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import httpx2
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from ..base import EmbeddingProvider
from ..errors import (
    AuthenticationError,
    InvalidRequestError,
    MissingCredentialsError,
    ModelNotFoundError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    ServiceUnavailableError,
    UnexpectedResponseError,
    error_for_status,
)
from ..inputs import Fused, Input, Part
from ..types import BatchOutput, Capabilities, Intent, Usage
from . import _wire
from .settings import GeminiSettings

__all__ = ["GOOGLE_STATUS", "GeminiProvider"]

GOOGLE_STATUS: dict[str, type[ProviderError]] = {
    "INVALID_ARGUMENT": InvalidRequestError,
    "FAILED_PRECONDITION": InvalidRequestError,
    "OUT_OF_RANGE": InvalidRequestError,
    "UNAUTHENTICATED": AuthenticationError,
    "PERMISSION_DENIED": AuthenticationError,
    "NOT_FOUND": ModelNotFoundError,
    "RESOURCE_EXHAUSTED": RateLimitError,
    "DEADLINE_EXCEEDED": ProviderTimeoutError,
    "UNAVAILABLE": ServiceUnavailableError,
    "INTERNAL": ServiceUnavailableError,
    "ABORTED": ServiceUnavailableError,
}
"""google.rpc status strings → omnivec errors; unknown ones fall back to the HTTP status."""
_DELAY = re.compile(r"^(\d+(?:\.\d+)?)s$")


def _retry_after(exc: genai_errors.APIError) -> float | None:
    details = exc.details.get("error", {}).get("details", []) if isinstance(exc.details, dict) else []
    for detail in details if isinstance(details, list) else []:
        if isinstance(detail, dict) and detail.get("@type", "").endswith("google.rpc.RetryInfo"):
            match = _DELAY.match(str(detail.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    header = getattr(getattr(exc, "response", None), "headers", {}).get("retry-after", "")
    return float(header) if str(header).isdigit() else None


class GeminiProvider(EmbeddingProvider[GeminiSettings]):
    """``gemini:gemini-embedding-2`` (also ``-preview`` and ``gemini-embedding-001``)."""

    name = "gemini"
    settings_class = GeminiSettings

    def __init__(self, model: str = "gemini-embedding-2", **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        if _wire.uses_task_type(model) and self.settings.normalize is None and self.dimensions < 3072:
            # gemini-embedding-001 returns truncated vectors unnormalized; cosine users expect unit length.
            self.settings = self.settings.model_copy(update={"normalize": True})
        self._clients: dict[int, genai.Client] = {}

    @property
    def capabilities(self) -> Capabilities:
        text_only = _wire.uses_task_type(self.model)
        return Capabilities(
            modalities=frozenset({"text"} if text_only else {"text", "image", "audio", "video", "pdf"}),
            max_batch_size=100,  # batchEmbedContents rejects more than 100 requests
            max_concurrency=4,
            default_dimensions=3072,
            dimension_range=(128, 3072),
            normalized=not text_only,  # gemini-embedding-2 normalizes every size; 001 only 3072
            mime_types=frozenset({"image/png", "image/jpeg", "application/pdf", "audio/mpeg", "audio/mp3",
                                  "audio/wav", "video/mp4", "video/quicktime"}),
            uri_schemes=frozenset({"gs", "https"}),
            max_seconds={"audio": 180, "video": 120},
            max_pdf_pages=6,
            fuses_parts=not text_only,
            max_images_per_item=6,
        )

    def intent_mapping(self, intent: Intent) -> str:
        if _wire.uses_task_type(self.model):
            return f"task_type={_wire.task_type(intent, self.settings)}"
        return f"prefix={_wire.text_template(intent, self.settings)!r}"

    def vector_space_options(self) -> dict[str, Any]:
        return {"task": self.settings.task, "api": "vertex" if self.settings.vertexai else "developer"}

    def _client(self) -> genai.Client:
        # httpx2's async pool belongs to one event loop: keep one client per loop.
        loop = id(asyncio.get_running_loop())
        if loop not in self._clients:
            s = self.settings
            options = types.HttpOptions(timeout=int(s.timeout_s * 1000), base_url=s.base_url,
                                        retry_options=types.HttpRetryOptions(attempts=1))
            try:
                self._clients[loop] = genai.Client(
                    api_key=s.api_key.get_secret_value() if s.api_key else None,
                    vertexai=s.vertexai or None, project=s.project, location=s.location, http_options=options,
                )
            except ValueError as exc:  # google-genai's way of saying credentials or project are missing
                raise MissingCredentialsError(
                    "Gemini needs GEMINI_API_KEY / GOOGLE_API_KEY (or the gemini `api_key` option), or "
                    "vertexai=true with project and location and Application Default Credentials",
                    provider=self.name, model=self.model) from exc
        return self._clients[loop]

    @contextmanager
    def _translated(self) -> Iterator[None]:
        where = {"provider": self.name, "model": self.model}
        try:
            yield
        except genai_errors.APIError as exc:
            cls = GOOGLE_STATUS.get(str(exc.status)) or error_for_status(exc.code)
            extra = {"retry_after": _retry_after(exc)} if cls is RateLimitError else {}
            raise cls(exc.message or str(exc), status_code=exc.code, code=exc.status, **where, **extra) from exc
        except genai_errors.UnknownApiResponseError as exc:
            raise UnexpectedResponseError(f"Gemini answered with something unparseable: {exc}", **where) from exc
        except httpx2.TimeoutException as exc:
            raise ProviderTimeoutError(f"Gemini call timed out: {exc!r}", **where) from exc
        except httpx2.TransportError as exc:
            raise ServiceUnavailableError(f"cannot reach Gemini: {exc!r}", **where) from exc

    def _part(self, item: Part, intent: Intent) -> types.Part:
        if isinstance(item, str):
            text = item if _wire.uses_task_type(self.model) else _wire.render(_wire.text_template(intent, self.settings), item)
            return types.Part(text=text)
        if item.uri is not None:
            return types.Part.from_uri(file_uri=item.uri, mime_type=item.mime_type)
        return types.Part.from_bytes(data=item.data, mime_type=item.mime_type)

    def _content(self, item: Input, intent: Intent) -> types.Content:
        """ONE Content per input; only a Fused input puts several parts in it (one fused vector)."""
        parts = item.parts if isinstance(item, Fused) else (item,)
        return types.Content(parts=[self._part(part, intent) for part in parts])

    async def _embed_batch(self, batch: Sequence[Input], *, intent: Intent) -> BatchOutput:
        config = types.EmbedContentConfig(
            output_dimensionality=self.dimensions,
            task_type=_wire.task_type(intent, self.settings) if _wire.uses_task_type(self.model) else None,
        )
        contents = [self._content(item, intent) for item in batch]
        with self._translated():
            response = await self._client().aio.models.embed_content(model=self.model, contents=contents, config=config)
        return BatchOutput(
            vectors=_wire.vectors_from(response, len(batch)),
            usage=Usage(input_tokens=_wire.tokens_from(response)),
        )

    async def aclose(self) -> None:
        """Close the client of the running loop (clients of other loops close with their loop)."""
        client = self._clients.pop(id(asyncio.get_running_loop()), None)
        if client is not None:
            await client.aio.aclose()
