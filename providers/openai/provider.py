"""OpenAI ``text-embedding-3-*`` and any ``/v1/embeddings`` server (TEI, vLLM, Ollama, LM Studio) through ``openai``.

``AsyncOpenAI.embeddings.create`` with up to 2048 inputs per request (the core chunks), split further
only to stay under the summed-token cap. The SDK's own retries are off (``max_retries=0``) so the
core's policy is the only one; its default base64 transfer is kept. A caller's ``OpenAI`` /
``AsyncOpenAI`` client can be passed as ``client=`` (its credentials, proxies and headers are used as
they are; only its retries are switched off, on a copy).
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Sequence
from typing import Any

import openai

from .._threads import ProviderThreads, in_thread
from .._translate import ErrorTable, Upstream, translated
from ..base import EmbeddingProvider
from ..errors import (
    AuthenticationError,
    InvalidOptionError,
    InvalidRequestError,
    MissingCredentialsError,
    ModelNotFoundError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    ServiceUnavailableError,
    UnexpectedResponseError,
)
from ..inputs import Input
from ..types import BatchOutput, Capabilities, Intent, Usage
from . import _wire
from .settings import OpenAISettings

__all__ = ["CLIENT_ERRORS", "ERROR_CODES", "ERROR_TABLE", "OpenAIProvider"]

ERROR_CODES: dict[str, type[ProviderError]] = {
    "rate_limit_exceeded": RateLimitError,
    # 429 too, but a billing state: retrying cannot help.
    "insufficient_quota": AuthenticationError,
    "invalid_api_key": AuthenticationError,
    "unsupported_country_region_territory": AuthenticationError,
    "model_not_found": ModelNotFoundError,
    "max_tokens_per_request": InvalidRequestError,
    "context_length_exceeded": InvalidRequestError,
}
"""The ``error.code`` of OpenAI answers → omnivec errors; others (and servers without codes) go by HTTP status."""


def _answer(exc: openai.APIStatusError) -> Upstream:
    return _wire.upstream(
        status=exc.status_code, body=exc.body, headers=dict(exc.response.headers), fallback=exc.message
    )


ERROR_TABLE = ErrorTable(
    codes=ERROR_CODES,
    api_errors={openai.APIStatusError: _answer},
    exceptions={
        openai.APITimeoutError: (ProviderTimeoutError, "OpenAI-compatible call timed out: {exc}"),
        openai.APIConnectionError: (ServiceUnavailableError, "cannot reach the /v1/embeddings endpoint: {exc}"),
        openai.APIResponseValidationError: (UnexpectedResponseError, "the server answered outside the schema: {exc}"),
        openai.OpenAIError: (UnexpectedResponseError, "openai failed: {exc}"),
    },
)
"""Everything the openai SDK raises around ``embeddings.create``, by class and, for answers, by ``error.code``."""

CLIENT_ERRORS = ErrorTable(
    codes={},
    exceptions={
        openai.OpenAIError: (
            MissingCredentialsError,
            "OpenAI client not configured ({exc}): set OPENAI_API_KEY or the openai `api_key` option",
        ),
    },
)

Client = openai.AsyncOpenAI | openai.OpenAI


class OpenAIProvider(EmbeddingProvider[OpenAISettings]):
    """``openai:text-embedding-3-small`` (``-large``, ``ada-002``), or any model a compatible server serves."""

    name = "openai"
    settings_class = OpenAISettings

    def __init__(self, model: str = "text-embedding-3-small", *, client: Client | None = None, **kwargs: Any) -> None:
        """``client``: an ``openai.AsyncOpenAI`` or ``openai.OpenAI`` you configured; then ``api_key``,
        ``base_url`` and ``timeout_s`` are its own. It is not closed by :meth:`aclose`."""
        if client is not None and not isinstance(client, (openai.AsyncOpenAI, openai.OpenAI)):
            raise InvalidOptionError(
                f"client must be an openai.AsyncOpenAI or openai.OpenAI, not {type(client).__name__}"
            )
        self._owned = client.with_options(max_retries=0) if client is not None else None
        super().__init__(model, **kwargs)
        s = self.settings
        if client is not None and (s.api_key is not None or s.base_url is not None):
            raise InvalidOptionError("pass either client= or api_key/base_url, not both: the client has its own")
        self._spec = _wire.model_spec(model, s)
        if not self._spec.known and s.normalize is None:
            # A model omnivec does not know may or may not return unit vectors: make them cosine-ready.
            self.settings = s.model_copy(update={"normalize": True})
        self._clients: dict[int, openai.AsyncOpenAI] = {}
        self._pool = ProviderThreads(lambda: self.concurrency_ceiling, name="omnivec-openai")  # a blocking client's

    @property
    def capabilities(self) -> Capabilities:
        spec = _wire.model_spec(self.model, self.settings)
        return Capabilities(
            modalities=frozenset({"text"}),
            max_batch_size=self.settings.max_inputs_per_request,
            max_concurrency=4,
            default_dimensions=spec.native,
            dimension_range=(1, spec.native) if spec.matryoshka else None,
            normalized=spec.known,  # OpenAI's models return unit vectors at every size
            max_input_chars=_wire.MAX_INPUT_TOKENS * _wire.CHARS_PER_TOKEN if spec.known else None,
        )

    def intent_mapping(self, intent: Intent) -> str:
        return _wire.intent_mapping(intent, self.settings)

    def vector_space_options(self) -> dict[str, Any]:
        # None = OpenAI itself; "emulator" or a URL otherwise, so their vectors never share a cache.
        url = str(self._owned.base_url) if self._owned is not None else self.settings.base_url
        return {"endpoint": _wire.endpoint(url, os.environ)}

    def _client(self) -> openai.AsyncOpenAI:
        # httpx's async pool belongs to one event loop: keep one client per loop.
        loop = id(asyncio.get_running_loop())
        if loop not in self._clients:
            s = self.settings
            key = s.api_key.get_secret_value() if s.api_key else os.environ.get("OPENAI_API_KEY")
            if not key:
                if _wire.endpoint(s.base_url, os.environ) is None:
                    raise MissingCredentialsError(
                        "no OpenAI API key: set OPENAI_API_KEY or the openai `api_key` option",
                        provider=self.name,
                        model=self.model,
                    )
                key = _wire.PLACEHOLDER_KEY
            with translated(CLIENT_ERRORS, provider=self.name, model=self.model):
                self._clients[loop] = openai.AsyncOpenAI(
                    api_key=key, base_url=s.base_url, timeout=s.timeout_s, max_retries=0
                )
        return self._clients[loop]

    async def _create(self, params: dict[str, Any]) -> Any:
        owned = self._owned
        if owned is None:
            return await self._client().embeddings.create(**params)
        if isinstance(owned, openai.AsyncOpenAI):
            return await owned.embeddings.create(**params)
        return await in_thread(self._pool, functools.partial(owned.embeddings.create, **params))

    async def _embed_batch(self, batch: Sequence[Input], *, intent: Intent) -> BatchOutput:
        lead = _wire.prefix(intent, self.settings)
        texts = [f"{lead}{item}" for item in batch]  # capabilities admit text only
        vectors: list[list[float]] = []
        tokens: int | None = 0
        for group in _wire.request_groups(texts, self.settings.max_tokens_per_request):
            params = _wire.request_params(
                texts[group.start : group.stop],
                model=self.model,
                dimensions=self.dimensions,
                spec=self._spec,
                settings=self.settings,
            )
            with translated(ERROR_TABLE, provider=self.name, model=self.model):
                response = await self._create(params)
            data = [(item.index, item.embedding) for item in response.data]
            vectors += _wire.vectors_from(data, expected=len(group), dimensions=self.dimensions)
            used = getattr(response.usage, "prompt_tokens", None)  # compatible servers may leave usage out
            tokens = None if tokens is None or used is None else tokens + used
        return BatchOutput(vectors=vectors, usage=Usage(input_tokens=tokens))

    async def aclose(self) -> None:
        """Close the client of the running loop (a caller's client stays open: it is theirs)."""
        client = self._clients.pop(id(asyncio.get_running_loop()), None)
        if client is not None:
            await client.close()
        self._pool.close()
