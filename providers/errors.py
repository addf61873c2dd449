"""The one exception tree every provider raises.

```
EmbeddingError
├── ConfigurationError          a developer mistake in setup; never retried
│   ├── UnknownProviderError    "provider:model" names no known provider (with a suggestion)
│   ├── MissingDependencyError  the provider's extra is not installed (names the pip command)
│   ├── MissingCredentialsError no credentials found (names where they are looked for)
│   └── InvalidOptionError      an option has a bad value or an unknown name
├── InputError                  the inputs themselves are wrong; raised before any I/O
│   ├── InvalidInputError       empty, None, wrong type, unreadable image, oversize...
│   └── UnsupportedInputError   a modality / format this model cannot take
└── ProviderError               the call to the provider failed
    ├── AuthenticationError     401 / 403
    ├── RateLimitError          429, throttling (retryable, carries retry_after)
    ├── InvalidRequestError     400 / 413 / 422: the provider rejected the request
    ├── ModelNotFoundError      404: unknown model id or not enabled in this region/project
    ├── ProviderTimeoutError    the call timed out (retryable)
    ├── ServiceUnavailableError 5xx, model not ready (retryable)
    └── UnexpectedResponseError the response did not have the expected shape
```

Adapters translate SDK errors by error code or HTTP status, never by message text, and chain the
original with ``raise ... from exc``. The single retry policy in the core reads ``retryable``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .types import EmbeddingResult

__all__ = [
    "AuthenticationError",
    "ConfigurationError",
    "EmbeddingError",
    "InputError",
    "InvalidInputError",
    "InvalidOptionError",
    "InvalidRequestError",
    "MissingCredentialsError",
    "MissingDependencyError",
    "ModelNotFoundError",
    "ProviderError",
    "ProviderTimeoutError",
    "RateLimitError",
    "RemoteCallsBlockedError",
    "ServiceUnavailableError",
    "UnexpectedResponseError",
    "UnknownProviderError",
    "UnsupportedInputError",
    "error_for_status",
]


class EmbeddingError(Exception):
    """Base of every error omnivec raises.

    Attributes:
        provider: registry name of the provider involved, when known.
        model: model id involved, when known.
        status_code: HTTP status of the failed call, when there was one.
        code: the provider's own error code (e.g. ``ThrottlingException``, ``RESOURCE_EXHAUSTED``).
        index: position of the offending input in the caller's list, for input errors.
        partial: for an ``embed(..., errors="raise")`` that failed part-way, the result so far:
            finished rows hold their vectors, the others are NaN, ``failures`` maps the failed
            call's input indices to this error. None for errors raised before any call.
    """

    retryable: bool = False
    partial: EmbeddingResult | None = None

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        model: str | None = None,
        status_code: int | None = None,
        code: str | None = None,
        index: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.model = model
        self.status_code = status_code
        self.code = code
        self.index = index

    def __str__(self) -> str:
        where = ":".join(p for p in (self.provider, self.model) if p)
        details = ", ".join(f"{k}={v}" for k, v in (("status", self.status_code), ("code", self.code)) if v is not None)
        prefix = f"[{where}] " if where else ""
        suffix = f" ({details})" if details else ""
        return f"{prefix}{self.message}{suffix}"


class ConfigurationError(EmbeddingError):
    """The library was set up wrongly (unknown provider, missing extra, bad option)."""


class UnknownProviderError(ConfigurationError, LookupError):
    """The provider part of a ``"provider:model"`` reference is not registered."""


class MissingDependencyError(ConfigurationError, ImportError):
    """The provider's optional dependency is missing; the message names the extra to install."""


class MissingCredentialsError(ConfigurationError):
    """No credentials were found; the message says where they are looked for."""


class InvalidOptionError(ConfigurationError, ValueError):
    """An option has a value the model does not allow, or a name no option has."""


class RemoteCallsBlockedError(ConfigurationError):
    """A remote provider was called while remote calls are blocked (the test guard)."""


class InputError(EmbeddingError, ValueError):
    """The inputs are wrong; always raised before any network or model call."""


class InvalidInputError(InputError):
    """An input is empty, None, of the wrong type, unreadable, or too large."""


class UnsupportedInputError(InputError):
    """An input's modality or format is not accepted by this model."""


class ProviderError(EmbeddingError):
    """The provider call failed."""


class AuthenticationError(ProviderError):
    """Credentials were rejected or lack permission for this model."""


class RateLimitError(ProviderError):
    """The provider throttled the call. ``retry_after`` holds its hint in seconds, if any."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class InvalidRequestError(ProviderError):
    """The provider rejected the request as malformed or too large."""


class ModelNotFoundError(ProviderError):
    """The model id is unknown, or not enabled for this account, region or project."""


class ProviderTimeoutError(ProviderError):
    """The call timed out."""

    retryable = True


class ServiceUnavailableError(ProviderError):
    """The provider failed on its side (5xx) or the model is not ready yet."""

    retryable = True


class UnexpectedResponseError(ProviderError):
    """The provider answered with something that is not the documented shape."""


_STATUS_TABLE: dict[int, type[ProviderError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: AuthenticationError,
    404: ModelNotFoundError,
    408: ProviderTimeoutError,
    413: InvalidRequestError,
    422: InvalidRequestError,
    424: InvalidRequestError,
    429: RateLimitError,
    504: ProviderTimeoutError,
}


def error_for_status(status: int | None) -> type[ProviderError]:
    """The error class for an HTTP status; unknown 5xx are unavailable, other unknowns generic."""
    if status is None:
        return ProviderError
    if status in _STATUS_TABLE:
        return _STATUS_TABLE[status]
    if status >= 500:
        return ServiceUnavailableError
    if 400 <= status < 500:
        return InvalidRequestError
    return UnexpectedResponseError
