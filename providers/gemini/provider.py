"""Gemini Embedding 2 (and gemini-embedding-001) through google-genai's SYNC ``client.models.embed_content``,
one call per worker thread; bulk jobs through the Batch API with :meth:`GeminiProvider.embed_bulk` (``_batch.py``).

Why sync in threads: google-genai's async client builds and parses every request and response on the
one event-loop thread, which caps throughput below what the same SDK reaches from a thread pool
(1.1-1.3x measured on a 2-core machine). Here each call is built, sent and PARSED in a worker thread; the event loop only
hands the batch over and takes the vectors back (``in_thread``, as the Bedrock adapter does).

ONE ``types.Content`` per input: a list of plain strings would be fused by gemini-embedding-2
into a single vector. Up to 100 contents per request (the core chunks). google-genai talks through
httpx2; its own retries stay off so the core's policy is the only one. A caller's ``genai.Client``
(API key, Vertex project and credentials, proxies already set) can be passed as ``client=``.
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
import warnings
from collections.abc import Hashable, Iterator, Sequence
from typing import Any, Literal

import httpx2
from google import genai
from google.genai import types

from .._threads import ProviderThreads, in_thread
from .._translate import translated
from ..base import EmbeddingProvider
from ..errors import InvalidOptionError
from ..inputs import Fused, Image, Input, Media
from ..types import BatchOutput, Capabilities, EmbeddingResult, Intent, Usage
from . import _wire
from ._error_table import CLIENT_ERRORS, ERROR_TABLE, GOOGLE_STATUS
from .settings import PROVIDER, GeminiSettings

__all__ = ["ERROR_TABLE", "GOOGLE_STATUS", "GeminiProvider"]


class GeminiProvider(EmbeddingProvider[GeminiSettings]):
    """``gemini:gemini-embedding-2`` (also ``-preview`` and ``gemini-embedding-001``)."""

    name = "gemini"
    settings_class = GeminiSettings

    def __init__(self, model: str = "gemini-embedding-2", *, client: genai.Client | None = None, **kwargs: Any) -> None:
        """``client``: a ``genai.Client`` you configured (Developer API or Vertex AI); then its key,
        project, location, base URL and timeout are used as they are. It is not closed by :meth:`aclose`."""
        if client is not None and not isinstance(client, genai.Client):
            raise InvalidOptionError(f"client must be a google.genai.Client, not {type(client).__name__}")
        self._owned = client
        super().__init__(model, **kwargs)
        _warn_if_unknown(model)
        if client is not None:
            given = [n for n in ("api_key", "vertexai", "project", "location", "base_url") if getattr(self.settings, n)]
            if given:
                raise InvalidOptionError(f"client= is a ready genai.Client: drop {', '.join(given)} (it has its own)")
            # Capabilities (gs:// URIs) and the fingerprint follow the client's own API and endpoint.
            self.settings = self.settings.model_copy(
                update={"vertexai": bool(client.vertexai), "base_url": _client_base_url(client)}
            )
        if _wire.uses_task_type(model) and self.settings.normalize is None and self.dimensions < 3072:
            # gemini-embedding-001 returns truncated vectors unnormalized; cosine users expect unit length.
            self.settings = self.settings.model_copy(update={"normalize": True})
        self._made: genai.Client | None = None
        self._threads = ProviderThreads(lambda: self.concurrency_ceiling, name="omnivec-gemini")
        self._lock = threading.Lock()

    @property
    def capabilities(self) -> Capabilities:
        text_only = _wire.uses_task_type(self.model)
        vertex = _wire.vertex_mode(self.settings, os.environ)
        return Capabilities(
            modalities=frozenset({"text"} if text_only else {"text", "image", "audio", "video", "pdf"}),
            max_batch_size=100,  # batchEmbedContents rejects more than 100 requests
            max_concurrency=4,
            default_dimensions=3072,
            dimension_range=(128, 3072),
            # gemini-embedding-2 normalizes every size; 001 only its full 3072 (the docs).
            normalized=not text_only or self.settings.dimensions in (None, 3072),
            max_input_chars=_wire.max_tokens(self.model) * _wire.CHARS_PER_TOKEN,
            max_input_bytes=_wire.MAX_INLINE_BYTES,
            mime_types=frozenset(
                {
                    "image/png",
                    "image/jpeg",
                    "application/pdf",
                    "audio/mpeg",
                    "audio/mp3",
                    "audio/wav",
                    "video/mp4",
                    "video/quicktime",
                }
            ),
            uri_schemes=frozenset({"gs", "https"} if vertex else {"https"}),  # gs:// is Vertex-only
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
        return {
            "task": self.settings.task,
            "api": "vertex" if self.settings.vertexai else "developer",
            # None = Google itself; "emulator" or a URL otherwise, so their vectors never share a cache.
            "endpoint": _wire.endpoint(self.settings, os.environ),
        }

    def rate_key(self) -> Hashable:
        # A Gemini quota is per project (Vertex) or API key (Developer API) and model; the key is hashed.
        s, env = self.settings, os.environ
        if s.vertexai:
            who = f"{s.project}/{s.location}"
        else:
            key = s.api_key.get_secret_value() if s.api_key else env.get("GEMINI_API_KEY") or env.get("GOOGLE_API_KEY")
            who = hashlib.sha256((key or "").encode()).hexdigest()[:16]
        return (self.name, self.model, who, self.vector_space_options().get("endpoint"))

    async def embed(self, inputs: Any, *args: Any, **kwargs: Any) -> EmbeddingResult:
        """Check what only a whole Gemini content shows (token budget, request size, gs:// outside
        Vertex) for every input before the core makes any call."""
        if isinstance(inputs, Iterator):
            inputs = list(inputs)  # looked at twice: here and by the core
        items = [inputs] if isinstance(inputs, (str, Image, Media, Fused)) else inputs
        if isinstance(items, (list, tuple)):
            _wire.check_inputs(items, model=self.model, vertex=_wire.vertex_mode(self.settings, os.environ))
        return await super().embed(inputs, *args, **kwargs)

    async def embed_bulk(
        self,
        inputs: Input | Sequence[Input],
        *,
        intent: Intent,
        state_path: str | os.PathLike[str],
        poll_s: float = 30.0,
        timeout_s: float | None = None,
        errors: Literal["raise", "collect"] = "raise",
        keep_state: bool = False,
        form: Literal["auto", "inline", "file"] = "auto",
    ) -> EmbeddingResult:
        """Embed through the Gemini Batch API (half the online price; minutes to hours): the same vectors
        and fingerprint as :meth:`embed`. ``state_path`` records the submitted jobs: run again with the same
        inputs and file after a crash or ``timeout_s`` to resume them instead of paying twice.
        See :class:`~omnivec.providers.gemini._batch.GeminiBatchJob` and docs/providers/gemini.md."""
        from ._batch import GeminiBatchJob

        job = GeminiBatchJob(self, state_path, poll_s=poll_s, timeout_s=timeout_s, keep_state=keep_state, form=form)
        return await job.run(inputs, intent=intent, errors=errors)

    def _client(self) -> genai.Client:
        """The caller's client, or the one this provider made on first use. One for every thread and
        event loop: the sync side (httpx2 ``Client``) is thread-safe, and google-genai keeps one async
        pool per loop itself for the Batch API's ``client.aio`` calls."""
        if self._owned is not None:
            return self._owned
        made = self._made  # lock-free once made: every call of every thread comes here
        if made is not None:
            return made
        with self._lock:
            if self._made is None:
                s, size = self.settings, self.concurrency_ceiling
                options = types.HttpOptions(
                    timeout=int(s.timeout_s * 1000),
                    base_url=s.base_url,
                    retry_options=types.HttpRetryOptions(attempts=1),
                    # httpx2 keeps only 20 idle connections by default: with more calls in flight
                    # than that, every extra call would open a fresh connection.
                    client_args={"limits": httpx2.Limits(max_connections=size, max_keepalive_connections=size)},
                )
                with translated(CLIENT_ERRORS, provider=self.name, model=self.model):
                    self._made = genai.Client(
                        api_key=s.api_key.get_secret_value() if s.api_key else None,
                        vertexai=s.vertexai or None,
                        project=s.project,
                        location=s.location,
                        http_options=options,
                    )
            return self._made

    def _call(self, batch: Sequence[Input], intent: Intent) -> tuple[list[list[float]], int | None]:
        """Build, send and parse one batch: runs in a worker thread, so the event loop never
        validates SDK models or parses JSON."""
        request = _wire.build_request(
            batch, model=self.model, intent=intent, dimensions=self.dimensions, settings=self.settings
        )
        config = types.EmbedContentConfig(**request.config)
        if self._owned is not None:  # the caller's client may retry on its own: this request does not
            config.http_options = types.HttpOptions(retry_options=types.HttpRetryOptions(attempts=1))
        contents = [types.Content.model_validate(content) for content in request.contents]
        models = self._client().models
        vectors: list[list[float]] = []
        tokens: list[int | None] = []
        # Normally one request; media-heavy batches are split to stay under the request size limit.
        for group in _wire.request_groups(request.contents):
            with translated(ERROR_TABLE, provider=self.name, model=self.model):
                response = models.embed_content(
                    model=self.model, contents=contents[group.start : group.stop], config=config
                )
            vectors += _wire.vectors_from(response, len(group))
            tokens.append(_wire.tokens_from(response))
        total = None if any(t is None for t in tokens) else sum(t for t in tokens if t is not None)
        return vectors, total

    async def _embed_batch(self, batch: Sequence[Input], *, intent: Intent) -> BatchOutput:
        vectors, tokens = await in_thread(self._threads, self._call, batch, intent)
        return BatchOutput(vectors=vectors, usage=Usage(input_tokens=tokens))

    async def aclose(self) -> None:
        """End the worker threads (calls in flight finish first) and close the client this provider
        made, sync and async sides; a caller's client stays open. The next call starts afresh."""
        self._threads.close()
        with self._lock:
            client, self._made = self._made, None
        if client is not None:
            client.close()
            await client.aio.aclose()


@functools.cache
def _warn_if_unknown(model: str) -> None:
    """Once per model per process. Not refused: Google adds models faster than omnivec releases, and
    a new one works the day it ships; a typo then fails at the first call with Google's 404."""
    if model.removeprefix("models/") not in PROVIDER.models:
        warnings.warn(
            f"gemini:{model} is not a model omnivec knows ({', '.join(PROVIDER.models)}); "
            f"it is sent as given, treated like {'gemini-embedding-001' if _wire.uses_task_type(model) else 'gemini-embedding-2'}",
            stacklevel=4,
        )


def _client_base_url(client: genai.Client) -> str | None:
    """The endpoint a caller's client calls, for the fingerprint. google-genai has no public accessor;
    None (Google's own) when its internals move."""
    options = getattr(getattr(client, "_api_client", None), "_http_options", None)
    url = getattr(options, "base_url", None)
    return str(url) if url else None
