"""``rerank-api:<model>``: the Cohere-style ``POST /v2/rerank`` that Cohere, Jina, vLLM and Infinity serve.

Wire (Cohere API v2 reference, "Rerank")::

    POST {base_url}/v2/rerank   Authorization: Bearer <key>   (none when no api_key is set)
    {"model": m, "query": q, "documents": [t, ...], "top_n": n}
    -> {"id": ..., "results": [{"index": i, "relevance_score": s}, ...], "meta": {"billed_units": {"search_units": u}}}

Results come best first; the adapter puts each score back at its ``index``. ``top_n`` is the batch
size so every candidate gets its score. Cohere recommends at most 1,000 documents per request
(``max_candidates_per_call`` lowers it for a server's smaller limit). Errors come as HTTP statuses
with ``{"message": ...}`` (Cohere) or ``{"detail": ...}`` / ``{"error": ...}`` (servers); 429
answers honour ``Retry-After``. TEI's native ``POST /rerank`` (``{"query", "texts"}``) is a
different wire and is not this adapter's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from .._retry import with_guessed_wait
from .._translate import EMULATOR_URL_ENV, endpoint_identity, one_line
from ..errors import (
    EmbeddingError,
    ProviderTimeoutError,
    RateLimitError,
    ServiceUnavailableError,
    UnexpectedResponseError,
    error_for_status,
)
from ..types import Usage
from .base import Reranker
from .bedrock import scores_by_index
from .settings import RerankApiSettings
from .types import RerankBatch

__all__ = ["RerankApiReranker", "post_json"]

_COHERE_HOSTS = (".cohere.com", ".cohere.ai")


class RerankApiReranker(Reranker[RerankApiSettings]):
    """``rerank-api:<model>`` against ``base_url`` (Cohere's API by default)."""

    name = "rerank-api"
    settings_class = RerankApiSettings
    max_candidates = 1000

    def __init__(self, model: str, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        self._client: httpx.AsyncClient | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return self.settings.base_url.rstrip("/") + self.settings.path

    def options(self) -> dict[str, Any]:
        import os

        where = endpoint_identity(self.url, emulator_url=os.environ.get(EMULATOR_URL_ENV), vendor_hosts=_COHERE_HOSTS)
        return {"endpoint": where} if where else {}

    def _http(self) -> httpx.AsyncClient:
        with self._lock:
            if self._client is None:
                key = self.settings.api_key
                headers = {"Authorization": f"Bearer {key.get_secret_value()}"} if key else {}
                limits = httpx.Limits(max_connections=self.concurrency_ceiling)
                self._client = httpx.AsyncClient(headers=headers, timeout=self.settings.timeout_s, limits=limits)
            return self._client

    def _error(self, response: httpx.Response) -> EmbeddingError:
        try:
            body = response.json()
        except ValueError:
            body = None
        message = response.text
        if isinstance(body, dict):
            detail = body.get("message") or body.get("detail") or body.get("error")
            message = str(detail.get("message", detail) if isinstance(detail, dict) else detail or message)
        cls = error_for_status(response.status_code)
        where: dict[str, Any] = {"provider": self.name, "model": self.model, "status_code": response.status_code}
        if issubclass(cls, RateLimitError):
            hint = response.headers.get("retry-after")
            try:
                where["retry_after"] = float(hint) if hint is not None else None
            except ValueError:
                where["retry_after"] = None  # an HTTP date: not worth parsing for a reranker
        return with_guessed_wait(cls(one_line(message) or f"HTTP {response.status_code}", **where))

    async def _rerank_batch(self, query: str, candidates: Sequence[str]) -> RerankBatch:
        body = {"model": self.model, "query": query, "documents": list(candidates), "top_n": len(candidates)}
        where: dict[str, Any] = {"provider": self.name, "model": self.model}
        answer = await post_json(self, self._http(), self.url, body, {}, self._error)
        results = answer.get("results") if isinstance(answer, dict) else None
        scores = scores_by_index(results, len(candidates), index="index", score="relevance_score")
        if scores is None:
            raise UnexpectedResponseError(
                f"{self.settings.path} answered without one relevance_score per document index", **where
            )
        billed = (answer.get("meta") or {}).get("billed_units") or {}
        units = billed.get("search_units")
        return RerankBatch(scores=scores, usage=Usage(), search_units=units if isinstance(units, int) else None)

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()


async def post_json(
    reranker: Reranker[Any],
    client: httpx.AsyncClient,
    url: str,
    body: dict[str, Any],
    headers: dict[str, str],
    error: Callable[[httpx.Response], EmbeddingError],
) -> Any:
    """POST ``body``; the answer's JSON (None if it is not JSON), or a typed error: ``error(response)``
    for a non-200 answer, timeouts and unreachable servers as their classes (both retryable)."""
    where: dict[str, Any] = {"provider": reranker.name, "model": reranker.model}
    try:
        response = await client.post(url, json=body, headers=headers)
    except httpx.TimeoutException as exc:
        raise ProviderTimeoutError(
            f"rerank call timed out: {one_line(str(exc)) or type(exc).__name__}", **where
        ) from exc
    except httpx.HTTPError as exc:
        raise ServiceUnavailableError(
            f"cannot reach {url}: {one_line(str(exc)) or type(exc).__name__}", **where
        ) from exc
    if response.status_code != 200:
        raise error(response)
    try:
        return response.json()
    except ValueError:
        return None
