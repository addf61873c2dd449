"""How everything google-genai raises becomes an omnivec error: by class, and by google.rpc status.

Its own module so that the provider and the Batch API job (``_batch.py``) both use it without
importing each other.
"""

from __future__ import annotations

from typing import Any

import httpx2
from google.auth.exceptions import DefaultCredentialsError, RefreshError
from google.auth.exceptions import TransportError as AuthTransportError
from google.genai import errors as genai_errors

from .._translate import ErrorTable
from ..errors import (
    AuthenticationError,
    EmbeddingError,
    InvalidRequestError,
    MissingCredentialsError,
    ModelNotFoundError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    ServiceUnavailableError,
    UnexpectedResponseError,
)
from . import _wire

__all__ = ["CLIENT_ERRORS", "ERROR_TABLE", "GOOGLE_STATUS"]

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

_ADC = (
    "no Google Application Default Credentials for Vertex AI: run `gcloud auth application-default login`, "
    "set GOOGLE_APPLICATION_CREDENTIALS, or pass api_key (express mode)"
)


def _answer(exc: genai_errors.APIError) -> Any:
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    return _wire.upstream(
        code=exc.code,
        status=exc.status,
        message=exc.message,
        details=exc.details,
        headers=dict(headers),
        fallback=str(exc),
    )


def _aiohttp_errors() -> dict[type[BaseException], tuple[type[EmbeddingError], str]]:
    """google-genai sends async calls (the Batch API's, ``_batch.py``) through aiohttp instead of httpx2
    whenever aiohttp is installed; online calls use the sync client (httpx2)."""
    try:
        import aiohttp
    except ImportError:
        return {}
    return {
        aiohttp.ServerTimeoutError: (ProviderTimeoutError, "Gemini call timed out: {exc}"),
        aiohttp.ClientError: (ServiceUnavailableError, "cannot reach Gemini: {exc}"),
    }


ERROR_TABLE = ErrorTable(
    codes=GOOGLE_STATUS,
    api_errors={genai_errors.APIError: _answer},
    exceptions={
        genai_errors.UnknownApiResponseError: (
            UnexpectedResponseError,
            "Gemini answered with something unparseable: {exc}",
        ),
        httpx2.TimeoutException: (ProviderTimeoutError, "Gemini call timed out: {exc}"),
        httpx2.TransportError: (ServiceUnavailableError, "cannot reach Gemini: {exc}"),
        **_aiohttp_errors(),
        TimeoutError: (
            ProviderTimeoutError,
            "Gemini call timed out (no answer within timeout_s)",
        ),  # aiohttp's total timeout
        DefaultCredentialsError: (MissingCredentialsError, _ADC),
        RefreshError: (AuthenticationError, "Google credentials could not be refreshed: {exc}"),
        AuthTransportError: (ServiceUnavailableError, "cannot reach Google's token service: {exc}"),
    },
)
"""Everything google-genai (httpx2, google-auth) raises around a call, by class, and by google.rpc status."""

CLIENT_ERRORS = ErrorTable(
    codes={},
    exceptions={
        # google-genai says "credentials or project missing" with a ValueError when the client is built.
        ValueError: (
            MissingCredentialsError,
            "Gemini client not configured ({exc}): set GEMINI_API_KEY / "
            "GOOGLE_API_KEY (or the gemini `api_key` option), or vertexai=true with project and location "
            "and Application Default Credentials",
        ),
        DefaultCredentialsError: (MissingCredentialsError, _ADC),
    },
)
