"""Data the core and adapters exchange: intents, capabilities, results, fingerprints."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt

from .errors import EmbeddingError, InvalidInputError
from .inputs import Modality

__all__ = [
    "INTENTS",
    "BatchOutput",
    "CallTiming",
    "Capabilities",
    "EmbeddingResult",
    "Fingerprint",
    "Intent",
    "Usage",
]

Intent = Literal["query", "document", "similarity", "classification", "clustering"]
"""Why the vectors are made. ``query``/``document`` are the two sides of retrieval; the rest are
symmetric (both sides use the same mapping). Providers map each to their own mechanism."""

INTENTS: tuple[Intent, ...] = get_args(Intent)


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a model accepts, as data. The core validates, chunks and bounds concurrency with it."""

    modalities: frozenset[Modality]
    max_batch_size: int
    """Most inputs one provider call takes (Nova: 1, Gemini: 100)."""
    max_concurrency: int
    """Default number of provider calls in flight at once."""
    default_dimensions: int
    dimensions: tuple[int, ...] = ()
    """Exact sizes allowed; empty means any size in ``dimension_range``."""
    dimension_range: tuple[int, int] | None = None
    normalized: bool = True
    """Whether the provider returns unit-length vectors (if not, the core normalizes on request)."""
    max_input_chars: int | None = None
    max_input_bytes: int | None = None
    """Largest encoded image/media item accepted inline."""
    mime_types: frozenset[str] | None = None
    """Accepted MIME types for images and media; None accepts any of an accepted modality."""
    uri_schemes: frozenset[str] = frozenset()
    """Storage URI schemes the provider reads itself (``s3``, ``gs``); others must be sent inline."""
    max_seconds: Mapping[str, float] = field(default_factory=dict)
    """Longest audio / video accepted in one item, by modality; checked when ``Media.duration_s`` is given."""
    max_pdf_pages: int | None = None
    fuses_parts: bool = False
    """Whether :class:`Fused` inputs (several parts → one vector) are accepted."""
    max_images_per_item: int | None = None

    def allows_dimensions(self, dims: int) -> bool:
        if self.dimensions:
            return dims in self.dimensions
        if self.dimension_range is not None:
            low, high = self.dimension_range
            return low <= dims <= high
        return dims == self.default_dimensions

    def describe_dimensions(self) -> str:
        if self.dimensions:
            return ", ".join(map(str, self.dimensions))
        if self.dimension_range is not None:
            return f"{self.dimension_range[0]}–{self.dimension_range[1]}"
        return str(self.default_dimensions)


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """Everything that decides which vector space a result lives in.

    Two results are comparable (and a cache entry reusable) only if their fingerprints are equal.
    """

    provider: str
    model: str
    dimensions: int
    normalized: bool
    intent: Intent
    intent_mapping: str
    """What the intent became on the provider side, e.g. ``embeddingPurpose=GENERIC_INDEX``."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """Provider options that change the vectors (prompts, truncation, detail level...)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "model": self.model,
            "dimensions": self.dimensions,
            "normalized": self.normalized,
            "intent": self.intent,
            "intent_mapping": self.intent_mapping,
            "options": dict(sorted(self.options.items())),
        }

    @property
    def hash(self) -> str:
        """A stable 16-hex-digit digest of :meth:`as_dict`."""
        return Fingerprint.digest(self.as_dict())

    @staticmethod
    def digest(fields: Mapping[str, Any]) -> str:
        """The one digest of a fingerprint's fields, also of a stored (JSON) copy: both give the same."""
        blob = json.dumps(dict(fields), sort_keys=True, default=str, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    @classmethod
    def from_stored(cls, stored: Mapping[str, Any]) -> Fingerprint:
        """A fingerprint kept by a store (the JSON form of :meth:`as_dict`) as an object again."""
        if not isinstance(stored, Mapping):  # e.g. provider.fingerprint (the method) instead of its result
            raise InvalidInputError(
                f"a fingerprint is a mapping (provider.fingerprint(intent)), got {type(stored).__name__}"
            )
        names = ("provider", "model", "dimensions", "normalized", "intent", "intent_mapping")
        missing = [name for name in names if name not in stored]
        if missing:
            raise InvalidInputError(f"a stored fingerprint lacks {', '.join(missing)}: it was not written by omnivec")
        return cls(**{name: stored[name] for name in names}, options=dict(stored.get("options") or {}))

    def to_stored(self) -> dict[str, Any]:
        """:meth:`as_dict` as it reads back from JSON (the form stores keep); same :attr:`hash`."""
        stored: dict[str, Any] = json.loads(json.dumps(self.as_dict(), sort_keys=True, default=str))
        return stored

    def space(self) -> Fingerprint:
        """The vector space only: an endpoint URL is how the vendor was reached (``localhost`` or
        ``127.0.0.1``, a proxy, a VPC endpoint), not which vectors it makes, so it is dropped;
        ``"emulator"`` stays, so emulated vectors never mix with a real endpoint's."""
        if self.options.get("endpoint") in (None, "emulator"):
            return self
        return Fingerprint(**{**self.as_dict(), "options": {**self.options, "endpoint": None}})

    def same_space(self, other: Fingerprint) -> bool:
        """Whether vectors of ``self`` and ``other`` are comparable (equal but for the endpoint)."""
        return self.space().hash == other.space().hash


@dataclass(slots=True)
class Usage:
    """What a call consumed. Tokens and media seconds as far as the provider reports them (None = not
    reported); ``images`` and ``requests`` (successful provider calls) are counted by the core."""

    input_tokens: int | None = None
    images: int = 0
    media_seconds: float | None = None
    requests: int = 0

    def add(self, other: Usage) -> None:
        if other.input_tokens is not None:
            self.input_tokens = (self.input_tokens or 0) + other.input_tokens
        if other.media_seconds is not None:
            self.media_seconds = (self.media_seconds or 0.0) + other.media_seconds
        self.images += other.images
        self.requests += other.requests

    def add_call(self, reported: Usage, *, images: int) -> None:
        """One successful provider call: what the adapter ``reported`` plus the core's own counts."""
        if reported.input_tokens is not None:
            self.input_tokens = (self.input_tokens or 0) + reported.input_tokens
        if reported.media_seconds is not None:
            self.media_seconds = (self.media_seconds or 0.0) + reported.media_seconds
        self.images += images
        self.requests += 1


@dataclass(frozen=True, slots=True)
class BatchOutput:
    """What an adapter's ``_embed_batch`` returns for one provider call."""

    vectors: npt.NDArray[np.float32] | list[list[float]]
    usage: Usage = field(default_factory=Usage)
    truncated: tuple[int, ...] = ()
    """Positions in this batch whose input the model cut to fit its input length (the rest did not count)."""


@dataclass(frozen=True, slots=True)
class CallTiming:
    """One provider call as the core saw it: the successful attempt's duration and how many tries."""

    first_index: int
    items: int
    seconds: float
    attempts: int
    retried: tuple[str, ...] = ()
    """Error class names of the failed attempts before the successful one (e.g. ``RateLimitError``)."""


@dataclass(slots=True)
class EmbeddingResult:
    """Vectors in input order plus where they came from.

    ``vectors`` is a float32 ``(n, d)`` matrix. When ``errors="collect"`` was asked for, rows whose
    call failed for good are NaN and ``failures`` maps their input index to the error.
    """

    vectors: npt.NDArray[np.float32]
    fingerprint: Fingerprint
    usage: Usage = field(default_factory=Usage)
    timings: list[CallTiming] = field(default_factory=list)
    failures: dict[int, EmbeddingError] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    truncated: list[int] = field(default_factory=list)
    """Input indices the model cut to fit its input length, as far as the provider tells (the local
    provider counts tokens; cloud APIs cut silently unless told to refuse: Bedrock ``truncation_mode="NONE"``)."""

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    @property
    def dimensions(self) -> int:
        return int(self.vectors.shape[1])

    @property
    def retries(self) -> int:
        return sum(t.attempts - 1 for t in self.timings)

    @property
    def ok(self) -> bool:
        return not self.failures
