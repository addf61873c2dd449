"""SDK exceptions → the omnivec error tree, from one table per adapter (as httpx maps httpcore's errors).

Each cloud adapter declares an :class:`ErrorTable` as data: which SDK exceptions carry an HTTP
answer (and how to read its code, status, message and retry hint), which vendor codes become which
omnivec error, and which other SDK exceptions (credentials, timeouts, connections) become what.
:func:`translated` applies it around an SDK call. The most specific entry wins: the exception's own
class is looked up first, then its bases in MRO order, so ``PartialCredentialsError`` can be
mapped apart from its base ``BotoCoreError``.

A 429 that came without a hint gets the retry policy's guessed wait
(:func:`~omnivec.providers._retry.with_guessed_wait`). Also here, because it is about the SDK boundary
too: the endpoint identity that goes into fingerprints (so vectors from the emulator or a proxy never
pass for the vendor's).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ._retry import with_guessed_wait
from .errors import EmbeddingError, ProviderError, RateLimitError, error_for_status

__all__ = [
    "EMULATOR_URL_ENV",
    "ErrorTable",
    "Upstream",
    "endpoint_identity",
    "one_line",
    "translated",
]

EMULATOR_URL_ENV = "EMULATED_BY_OMNIVEC"
"""Set by the omnivec emulator's environment helper to the emulator's base URL. An endpoint equal
to it is fingerprinted as ``"emulator"`` whatever its (random) port."""

_MAX_MESSAGE = 500


@dataclass(frozen=True, slots=True)
class Upstream:
    """What an SDK's API error reports, read by the adapter: vendor code, HTTP status, message, retry hint."""

    code: str | None
    status: int | None
    message: str
    retry_after: float | None = None
    """Seconds the provider asked us to wait, if it said so."""


@dataclass(frozen=True, slots=True)
class ErrorTable:
    """How one adapter's SDK errors become omnivec errors. Pure data plus small readers."""

    codes: Mapping[str, type[ProviderError]]
    """Vendor error code (``ThrottlingException``, ``RESOURCE_EXHAUSTED``) → class; unknown codes
    fall back to the HTTP status (:func:`~omnivec.providers.errors.error_for_status`)."""
    api_errors: Mapping[type[BaseException], Callable[[Any], Upstream]] = field(default_factory=dict)
    """SDK exceptions that carry a provider answer, and how to read it."""
    exceptions: Mapping[type[BaseException], tuple[type[EmbeddingError], str]] = field(default_factory=dict)
    """Other SDK exceptions → (class, message). ``{exc}`` in the message is the SDK's own text, on one line."""

    def covers(self, cls: type[BaseException]) -> bool:
        """Whether exceptions of ``cls`` are translated (the tests check every SDK class is)."""
        return any(base in self.api_errors or base in self.exceptions for base in cls.__mro__)

    def _lookup(self, exc: BaseException) -> tuple[str, Any] | None:
        for cls in type(exc).__mro__:  # most specific first
            if cls in self.api_errors:
                return "api", self.api_errors[cls]
            if cls in self.exceptions:
                return "plain", self.exceptions[cls]
        return None

    def translate(self, exc: BaseException, *, provider: str, model: str) -> EmbeddingError | None:
        """The omnivec error for ``exc``, or None when the table does not know it."""
        found = self._lookup(exc)
        if found is None:
            return None
        kind, entry = found
        where: dict[str, Any] = {"provider": provider, "model": model}
        if kind == "plain":
            cls, template = entry
            return cls(template.replace("{exc}", one_line(str(exc) or type(exc).__name__)), **where)  # type: ignore[no-any-return]
        answer: Upstream = entry(exc)
        error_cls = self.codes.get(answer.code or "") or error_for_status(answer.status)
        if issubclass(error_cls, RateLimitError):
            where["retry_after"] = answer.retry_after
        error = error_cls(
            one_line(answer.message) or error_cls.__name__, status_code=answer.status, code=answer.code, **where
        )
        return with_guessed_wait(error)


def one_line(text: str) -> str:
    """Whitespace collapsed and length capped: SDK texts can span pages (google-auth, botocore dumps)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= _MAX_MESSAGE else flat[: _MAX_MESSAGE - 1] + "…"


@contextmanager
def translated(table: ErrorTable, *, provider: str, model: str) -> Iterator[None]:
    """Run an SDK call; anything the table knows leaves as its omnivec error, chained to the original."""
    try:
        yield
    except EmbeddingError:
        raise
    except Exception as exc:
        error = table.translate(exc, provider=provider, model=model)
        if error is None:
            raise
        raise error from exc


def endpoint_identity(url: str | None, *, emulator_url: str | None, vendor_hosts: tuple[str, ...]) -> str | None:
    """Which service answers, for fingerprints: None for the vendor, ``"emulator"``, or the URL.

    ``url`` is the endpoint override in effect (setting or SDK variable), None when there is none.
    Hosts ending in one of ``vendor_hosts`` (``.amazonaws.com``) are the vendor's own, so an explicit
    regional URL shares the default's cache. Anything else is identified by scheme, host, port and
    path, never user info or query (they may hold secrets).
    """
    if not url or not url.strip():
        return None
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    if host and host.endswith(vendor_hosts):
        return None
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # a port that is not a number: keep what was written
        port = ":" + parts.netloc.rsplit(":", 1)[-1]
    canonical = f"{parts.scheme.lower()}://{host}{port}{parts.path.rstrip('/')}"
    emulator = endpoint_identity(emulator_url, emulator_url=None, vendor_hosts=()) if emulator_url else None
    if emulator and (canonical == emulator or canonical.startswith(emulator + "/")):  # OpenAI's base URL adds /v1
        return "emulator"
    return canonical
