"""The :class:`EmbeddingProvider` base: validation, batching, concurrency, rate, retries and timing live here.

Adapters implement exactly one hook, :meth:`EmbeddingProvider._embed_batch`, which makes ONE
provider call for at most ``capabilities.max_batch_size`` already-validated inputs.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterable, Callable, Hashable, Iterable, Sequence
from typing import Any, ClassVar, Generic, Literal, TypeVar

import numpy as np

from . import _guard
from ._concurrency import ProviderLimits, run_sync
from ._rate import Budget, RateLimits, rate_budget
from ._retry import Retrier
from ._run import run_calls
from ._stream import Checkpoint, StreamChunk, check_stream_options, stream_embeddings
from ._validation import (
    check_against,
    check_call_options,
    check_dimensions,
    check_intent,
    normalize_inputs,
    resolve_settings,
)
from .errors import EmbeddingError, RemoteCallsBlockedError
from .inputs import Input
from .settings import ProviderSettings
from .types import BatchOutput, Capabilities, EmbeddingResult, Fingerprint, Intent

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
        self._retrier = Retrier(self.settings.retry)  # one tenacity object for all of its calls
        self._budget: Budget | None = None
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

    def rate_key(self) -> Hashable:
        """Who shares a quota: calls and providers with equal keys share one process-wide rate budget.
        Adapters add credentials and region (a quota is per account, region and model)."""
        return (self.name, self.model, self.vector_space_options().get("endpoint"))

    @property
    def rate_limits(self) -> RateLimits:  # settings.rate once ProviderSettings has it
        return getattr(self.settings, "rate", None) or RateLimits()

    @property
    def concurrency_ceiling(self) -> int:
        """The most calls in flight the core will ever allow: size thread and connection pools to it."""
        fixed = self.settings.max_concurrency or self.capabilities.max_concurrency
        grows = self.settings.max_concurrency is None and self.settings.adaptive_concurrency
        return max(fixed, self.rate_limits.grow_concurrency_to) if grows else fixed

    @abstractmethod
    async def _embed_batch(self, batch: Sequence[Input], *, intent: Intent) -> BatchOutput:
        """Make exactly ONE provider call for ``batch`` and return its vectors in order."""

    @property
    def normalizes(self) -> bool:
        """Whether results are unit length: ``normalize=True`` always (the core normalizes the vectors
        whatever the model claims), ``None`` when the model's capabilities say it returns unit vectors."""
        return bool(self.settings.normalize) or (self.capabilities.normalized and self.settings.normalize is not False)

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
        vectors = np.full((len(items), self.dimensions), np.nan, dtype=np.float32)
        result = EmbeddingResult(vectors=vectors, fingerprint=fingerprint)
        if self._budget is None:  # one per rate key, shared process-wide
            self._budget = rate_budget(self.rate_key(), self.rate_limits)
        try:
            await run_calls(self, items, result, self._budget, errors=errors, progress=progress)
        except EmbeddingError as exc:
            exc.partial = self._finish(result)  # what was done is not thrown away
            raise
        return self._finish(result)

    def embed_stream(
        self,
        inputs: AsyncIterable[Input] | Iterable[Input],
        *,
        intent: Intent,
        chunk_size: int | None = None,
        window: int = 4,
        checkpoint: Checkpoint | str | os.PathLike[str] | None = None,
    ) -> AsyncGenerator[StreamChunk, None]:
        """Embed any number of inputs in bounded memory; :class:`StreamChunk` results come in input order.

        At most ``window`` chunks of ``chunk_size`` inputs (default: one batch per call in flight) are
        read ahead, more only as you consume. Failed inputs never stop the stream: chunks list them
        in ``failures`` by stream index. ``checkpoint`` (a :class:`Checkpoint` or a file path) counts
        the inputs delivered once you come back for the next chunk; a restart with the same inputs
        and checkpoint skips them (at-least-once). See omnivec.providers._stream and docs/performance.md.
        Bad arguments raise here, at the call; the stream itself is the returned async generator
        (close it, e.g. with ``contextlib.aclosing``, when you stop early: that cancels its calls).
        """
        self.fingerprint(intent)  # a bad intent is refused now, not on the first chunk
        check_stream_options(inputs, chunk_size=chunk_size, window=window, checkpoint=checkpoint)
        return stream_embeddings(
            self, inputs, intent=intent, chunk_size=chunk_size, window=window, checkpoint=checkpoint
        )

    def _finish(self, result: EmbeddingResult) -> EmbeddingResult:
        result.timings.sort(key=lambda t: t.first_index)
        if self.settings.normalize:  # even when the model claims unit vectors: asked is asked
            norms = np.linalg.norm(result.vectors, axis=1, keepdims=True)
            np.divide(result.vectors, norms, out=result.vectors, where=norms > 0)
        if result.truncated:
            result.truncated.sort()
            shown = ", ".join(map(str, result.truncated[:5])) + (", ..." if len(result.truncated) > 5 else "")
            result.warnings.append(
                f"{len(result.truncated)} input(s) longer than {self.ref} reads were cut to fit, the rest ignored "
                f"(indices {shown}; all in result.truncated): split long texts to embed all of them"
            )
        if self.settings.normalize is False and self.capabilities.normalized:
            result.warnings.append(f"{self.ref} always returns normalized vectors; normalize=False has no effect")
        return result

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
