"""Test helpers shipped for users' tests and ours: a deterministic fake provider, the remote-call guard,
and the provider contract suite (:mod:`omnivec.providers.testing.contract`, needs pytest).

``FakeProvider`` makes vectors from hashed word features, so equal texts give equal vectors,
similar texts give similar vectors (retrieval over it beats chance), and every run is identical.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
from pydantic import Field

from .. import _guard
from ..base import EmbeddingProvider
from ..errors import EmbeddingError
from ..inputs import Fused, Image, Input, Media, Modality
from ..registry import ProviderInfo
from ..settings import ProviderSettings
from ..types import BatchOutput, Capabilities, Intent, Usage

__all__ = [
    "FAKE_PROVIDER",
    "FakeProvider",
    "FakeSettings",
    "allow_remote_calls",
    "block_remote_calls",
    "hashed_features",
]

_WORD = re.compile(r"\w+", re.UNICODE)


def hashed_features(text: str, dims: int) -> np.ndarray:
    """Unit vector of signed hashed word and word-bigram counts (the "hashing trick")."""
    vector = np.zeros(dims, dtype=np.float32)
    words = _WORD.findall(text.lower())
    for feature in words + [f"{a} {b}" for a, b in itertools.pairwise(words)]:
        digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
        bucket = int.from_bytes(digest[:4], "little") % dims
        vector[bucket] += 1.0 if digest[4] & 1 else -1.0
    norm = float(np.linalg.norm(vector))
    if norm == 0.0:  # no word characters at all: fall back to a hash of the raw text
        vector[int(hashlib.blake2b(text.encode(), digest_size=4).hexdigest(), 16) % dims] = 1.0
        return vector
    return vector / norm


def _bytes_features(data: bytes, dims: int) -> np.ndarray:
    seed = int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")
    vector = np.random.default_rng(seed).standard_normal(dims).astype(np.float32)
    return vector / np.linalg.norm(vector)


class FakeSettings(ProviderSettings):
    """Shape of the fake model: its dimensions, modalities and batch limits are yours to set."""

    default_dimensions: int = Field(64, ge=1)
    modalities: frozenset[Modality] = frozenset({"text", "image", "audio", "video", "pdf"})
    max_batch_size: int = Field(16, ge=1)
    default_concurrency: int = Field(4, ge=1)
    allowed_dimensions: tuple[int, ...] = ()
    """Exact sizes allowed; empty allows any size from 1 to 4096."""
    max_input_chars: int | None = None
    query_prefix: str = "query: "
    """Prepended to query texts, so query and document vectors differ like real asymmetric models."""


class FakeProvider(EmbeddingProvider[FakeSettings]):
    """Deterministic offline provider with call recording and injectable failures.

    Args:
        failures: errors to raise, consumed one per provider call in order (``None`` = succeed);
            ``fail_items`` raises the given error on every call containing that exact text.
        latency_s: seconds each call sleeps, to exercise concurrency.
        remote: behave as a remote provider (subject to the remote-call guard).
    """

    name = "fake"
    settings_class = FakeSettings
    is_remote = False

    def __init__(
        self,
        model: str = "fake-embedding",
        *,
        failures: Sequence[EmbeddingError | None] = (),
        fail_items: dict[str, EmbeddingError] | None = None,
        latency_s: float = 0.0,
        remote: bool = False,
        **options: Any,
    ) -> None:
        super().__init__(model, **options)
        self._failures = list(failures)
        self._fail_items = dict(fail_items or {})
        self.latency_s = latency_s
        self.is_remote = remote  # type: ignore[misc]
        self.calls: list[tuple[list[Input], Intent]] = []
        self.in_flight = 0
        self.peak_in_flight = 0

    @property
    def capabilities(self) -> Capabilities:
        s = self.settings
        return Capabilities(
            modalities=s.modalities,
            max_batch_size=s.max_batch_size,
            max_concurrency=s.default_concurrency,
            default_dimensions=s.default_dimensions,
            dimensions=s.allowed_dimensions,
            dimension_range=None if s.allowed_dimensions else (1, 4096),
            normalized=True,
            max_input_chars=s.max_input_chars,
            uri_schemes=frozenset({"s3", "gs"}),
            fuses_parts=True,
            max_images_per_item=6,
        )

    def intent_mapping(self, intent: Intent) -> str:
        return f"prefix={self.settings.query_prefix!r}" if intent == "query" else "none"

    def embed_one(self, item: Input, intent: Intent) -> np.ndarray:
        """The vector this fake gives ``item``; tests compare results against it."""
        if isinstance(item, Fused):
            total = np.sum([self.embed_one(part, intent) for part in item.parts], axis=0)
            return np.asarray(total / np.linalg.norm(total), dtype=np.float32)
        if isinstance(item, str):
            text = self.settings.query_prefix + item if intent == "query" else item
            return hashed_features(text, self.dimensions)
        assert isinstance(item, (Image, Media))
        return _bytes_features(item.data or (item.uri or "").encode(), self.dimensions)

    async def _embed_batch(self, batch: Sequence[Input], *, intent: Intent) -> BatchOutput:
        self.calls.append((list(batch), intent))
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            if self.latency_s:
                await asyncio.sleep(self.latency_s)
            if self._failures:
                failure = self._failures.pop(0)
                if failure is not None:
                    raise failure
            for item in batch:
                if isinstance(item, str) and item in self._fail_items:
                    raise self._fail_items[item]
            vectors = np.stack([self.embed_one(item, intent) for item in batch])
            tokens = sum(len(_WORD.findall(i)) for i in batch if isinstance(i, str))
            return BatchOutput(vectors=vectors, usage=Usage(input_tokens=tokens))
        finally:
            self.in_flight -= 1


@contextmanager
def block_remote_calls(blocked: bool = True) -> Iterator[None]:
    """Within the block, remote providers raise ``RemoteCallsBlockedError`` instead of calling out."""
    previous = _guard.set_remote_calls_blocked(blocked)
    try:
        yield
    finally:
        _guard.set_remote_calls_blocked(previous)


def allow_remote_calls() -> Any:
    """Within the block, remote providers may call out (for emulator and live tests)."""
    return block_remote_calls(False)


# Registered so ``fake:`` refs work in apps' tests and benchmarks; it has no config section (its
# options go under ``[plugins.fake]``), so production configuration never names a test double.
FAKE_PROVIDER = ProviderInfo(
    name="fake",
    target=".testing:FakeProvider",
    default_model="fake-embedding",
    models=("any name",),
    contract_options={"default_dimensions": 64},
)
