"""The :class:`EmbeddingProvider` base: validation, batching, concurrency, retries and timing live here.

Adapters implement exactly one hook, :meth:`EmbeddingProvider._embed_batch`, which makes ONE
provider call for at most ``capabilities.max_batch_size`` already-validated inputs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, ClassVar, Generic, Literal, TypeVar

import numpy as np

from . import _guard
from ._concurrency import AdaptiveLimit, ProviderLimits, map_bounded, run_sync
from ._retry import call_with_retries
from ._validation import (
    check_against,
    check_call_options,
    check_dimensions,
    check_intent,
    normalize_inputs,
    resolve_settings,
)
from .errors import EmbeddingError, RemoteCallsBlockedError, UnexpectedResponseError
from .inputs import Input, image_count
from .settings import ProviderSettings
from .types import BatchOutput, CallTiming, Capabilities, EmbeddingResult, Fingerprint, Intent

__all__ = ["EmbeddingProvider"]

S = TypeVar("S", bound=ProviderSettings)
Progress = Callable[[int], None]
"""Called with the number of inputs finished after each provider call."""


class EmbeddingProvider(ABC, Generic[S]):
    """Turns text, images and media into vectors. Subclasses implement ``_embed_batch`` only."""

    name: ClassVar[str]
    """Registry name, e.g. ``"bedrock"``."""
    settings_class: ClassVar[type[ProviderSettings]] = ProviderSettings
    is_remote: ClassVar[bool] = True
    """Remote providers are refused while remote calls are blocked (the test guard)."""

    def __init__(self, model: str, *, settings: S | None = None, **options: Any) -> None:
        """Create a provider for ``model``; ``options`` are the fields of ``settings_class``."""
        self.model = model
        self.settings: S = resolve_settings(self.settings_class, settings, options, where=self.ref)  # type: ignore[assignment]
        self._limits = ProviderLimits()
        self.dimensions = check_dimensions(self.settings.dimensions, self.capabilities, model=self.ref)

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.model}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model!r}, dimensions={self.dimensions})"

    @property
    @abstractmethod
    def capabilities(self) -> Capabilities:
        """What this model accepts."""

    def intent_mapping(self, intent: Intent) -> str:
        """How ``intent`` reaches the provider, for fingerprints and docs. Override per adapter."""
        return "ignored"

    def vector_space_options(self) -> dict[str, Any]:
        """Options besides model/dimensions that change the vectors (prompts, truncation...)."""
        return {}

    @abstractmethod
    async def _embed_batch(self, batch: Sequence[Input], *, intent: Intent) -> BatchOutput:
        """Make exactly ONE provider call for ``batch`` and return its vectors in order."""

    @property
    def normalizes(self) -> bool:
        """Whether results are unit length: ``normalize=True`` always (the core normalizes the vectors
        whatever the model claims), ``None`` when the model's capabilities say it returns unit vectors."""
        return bool(self.settings.normalize) or (
            self.capabilities.normalized and self.settings.normalize is not False
        )

    def fingerprint(self, intent: Intent) -> Fingerprint:
        """The fingerprint results for ``intent`` will carry; computed without any call."""
        intent = check_intent(intent)
        return Fingerprint(
            provider=self.name,
            model=self.model,
            dimensions=self.dimensions,
            normalized=self.normalizes,
            intent=intent,
            intent_mapping=self.intent_mapping(intent),
            options=self.vector_space_options(),
        )

    async def embed(
        self,
        inputs: Input | Sequence[Input],
        *,
        intent: Intent,
        errors: Literal["raise", "collect"] = "raise",
        progress: Progress | None = None,
    ) -> EmbeddingResult:
        """Embed ``inputs`` for ``intent``; vectors come back in input order.

        Args:
            inputs: one item or a sequence of ``str`` / :class:`Image` / :class:`Media`.
            intent: ``query``, ``document``, ``similarity``, ``classification`` or ``clustering``.
            errors: ``raise`` stops at the first call that fails for good and raises its error,
                with what was done on ``error.partial`` (vectors finished, NaN rows elsewhere,
                the failed call's inputs in ``failures``); ``collect`` finishes everything else,
                leaves failed rows NaN and lists them in ``result.failures`` by input index.
            progress: called with the count of inputs done after each provider call.
        """
        check_call_options(errors, progress)
        fingerprint = self.fingerprint(intent)
        items = normalize_inputs(inputs)
        caps = self.capabilities
        check_against(items, caps, model=self.ref)
        if self.is_remote and _guard.remote_calls_blocked():
            raise RemoteCallsBlockedError(
                "remote calls are blocked (tests block them by default): use the emulator or "
                "omnivec.providers.testing.allow_remote_calls()",
                provider=self.name,
                model=self.model,
            )
        size = caps.max_batch_size
        chunks = [(start, items[start : start + size]) for start in range(0, len(items), size)]
        vectors = np.full((len(items), self.dimensions), np.nan, dtype=np.float32)
        result = EmbeddingResult(vectors=vectors, fingerprint=fingerprint)
        limit = self.settings.max_concurrency or caps.max_concurrency
        # Shared by every call on this provider, so the configured limit holds across concurrent calls.
        gate = self._limits.current(limit, adaptive=self.settings.adaptive_concurrency)

        async def run_chunk(chunk: tuple[int, list[Input]]) -> None:
            start, batch = chunk
            try:
                async with gate:
                    output, timing = await self._call(batch, start, fingerprint.intent, gate)
                matrix = self._checked_matrix(output, len(batch))
            except EmbeddingError as exc:
                for offset in range(len(batch)):
                    result.failures[start + offset] = exc
                if errors == "raise":
                    raise
            else:
                vectors[start : start + len(batch)] = matrix
                # Calls and images are counted here, the same way for every adapter.
                result.usage.add(replace(output.usage, images=image_count(batch), requests=1))
                result.timings.append(timing)
            if progress is not None:
                progress(len(batch))

        try:
            await map_bounded(chunks, run_chunk, limit)
        except EmbeddingError as exc:
            exc.partial = self._finish(result)  # what was done is not thrown away
            raise
        return self._finish(result)

    def _finish(self, result: EmbeddingResult) -> EmbeddingResult:
        result.timings.sort(key=lambda t: t.first_index)
        if self.settings.normalize:  # even when the model claims unit vectors: asked is asked
            norms = np.linalg.norm(result.vectors, axis=1, keepdims=True)
            np.divide(result.vectors, norms, out=result.vectors, where=norms > 0)
        if self.settings.normalize is False and self.capabilities.normalized:
            result.warnings.append(f"{self.ref} always returns normalized vectors; normalize=False has no effect")
        return result

    async def _call(self, batch: list[Input], start: int, intent: Intent, gate: AdaptiveLimit) -> tuple[BatchOutput, CallTiming]:
        output, seconds, tries, retried = await call_with_retries(
            lambda: self._embed_batch(batch, intent=intent), self.settings.retry, gate
        )
        return output, CallTiming(first_index=start, items=len(batch), seconds=seconds, attempts=tries, retried=retried)

    def _checked_matrix(self, output: BatchOutput, expected: int) -> np.ndarray:
        matrix = np.asarray(output.vectors, dtype=np.float32)
        if matrix.ndim != 2 or matrix.shape != (expected, self.dimensions):
            raise UnexpectedResponseError(
                f"expected {expected} vectors of {self.dimensions} dims, got shape {matrix.shape}",
                provider=self.name,
                model=self.model,
            )
        return matrix

    async def embed_query(self, query: Input | Sequence[Input], **kwargs: Any) -> EmbeddingResult:
        """Embed search queries (``intent="query"``)."""
        return await self.embed(query, intent="query", **kwargs)

    async def embed_documents(self, documents: Input | Sequence[Input], **kwargs: Any) -> EmbeddingResult:
        """Embed documents to index (``intent="document"``)."""
        return await self.embed(documents, intent="document", **kwargs)

    def embed_sync(self, inputs: Input | Sequence[Input], *, intent: Intent, **kwargs: Any) -> EmbeddingResult:
        """Blocking twin of :meth:`embed`."""
        return run_sync(self.embed(inputs, intent=intent, **kwargs))

    def embed_query_sync(self, query: Input | Sequence[Input], **kwargs: Any) -> EmbeddingResult:
        """Blocking twin of :meth:`embed_query`."""
        return run_sync(self.embed_query(query, **kwargs))

    def embed_documents_sync(self, documents: Input | Sequence[Input], **kwargs: Any) -> EmbeddingResult:
        """Blocking twin of :meth:`embed_documents`."""
        return run_sync(self.embed_documents(documents, **kwargs))

    async def aclose(self) -> None:
        """Release clients and models. Override when the adapter holds any."""

    def close(self) -> None:
        """Blocking twin of :meth:`aclose`, for providers used through the ``_sync`` methods."""
        run_sync(self.aclose())

    def __enter__(self) -> EmbeddingProvider[S]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> EmbeddingProvider[S]:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
