"""``vertex-ranking:<model>``: Google's Vertex AI Ranking API (Discovery Engine ``rankingConfigs:rank``).

Wire (REST reference, ``projects.locations.rankingConfigs.rank``, v1)::

    POST {base_url}/v1/projects/{project}/locations/{location}/rankingConfigs/{config}:rank
    Authorization: Bearer <OAuth token, scope cloud-platform>   X-Goog-User-Project: {project}
    {"model": "semantic-ranker-default@latest", "query": q, "topN": n,
     "records": [{"id": "0", "content": t}, ...], "ignoreRecordDetailsInResponse": true}
    -> {"records": [{"id": "0", "score": s}, ...]}     # sorted by descending score

At most 200 records a request. Record ids are the candidates' positions in the batch, so each score
goes back to its candidate by id. The token comes from Application Default Credentials
(``google.auth.default``), refreshed in a worker thread, unless ``access_token`` is set.
Errors are Google's ``{"error": {"code", "message", "status"}}``: the status names the class.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

import httpx

from .._retry import with_guessed_wait
from .._translate import one_line
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
    error_for_status,
)
from ..types import Usage
from .base import Reranker
from .http import post_json
from .settings import VertexRankingSettings
from .types import RerankBatch

__all__ = ["VertexRankingReranker"]

STATUS_CODES: dict[str, type[ProviderError]] = {
    "INVALID_ARGUMENT": InvalidRequestError,
    "FAILED_PRECONDITION": InvalidRequestError,
    "UNAUTHENTICATED": AuthenticationError,
    "PERMISSION_DENIED": AuthenticationError,
    "NOT_FOUND": ModelNotFoundError,
    "RESOURCE_EXHAUSTED": RateLimitError,
    "UNAVAILABLE": ServiceUnavailableError,
    "INTERNAL": ServiceUnavailableError,
    "DEADLINE_EXCEEDED": ProviderTimeoutError,
}
_SCOPE = "https://www.googleapis.com/auth/cloud-platform"


class VertexRankingReranker(Reranker[VertexRankingSettings]):
    """``vertex-ranking:semantic-ranker-default@latest`` (or ``semantic-ranker-fast-004``, ...)."""

    name = "vertex-ranking"
    settings_class = VertexRankingSettings
    max_candidates = 200  # "At most 200 records to rank"

    def __init__(self, model: str, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        self._client: httpx.AsyncClient | None = None
        self._credentials: Any = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        s = self.settings
        path = f"/v1/projects/{s.project}/locations/{s.location}/rankingConfigs/{s.ranking_config}:rank"
        return s.base_url.rstrip("/") + path

    def options(self) -> dict[str, Any]:
        base = self.settings.base_url.rstrip("/")
        return {} if base == "https://discoveryengine.googleapis.com" else {"endpoint": base}

    def _token(self) -> str:
        """An OAuth access token: the configured one, or Application Default Credentials' (blocking)."""
        if self.settings.access_token is not None:
            return self.settings.access_token.get_secret_value()
        import google.auth
        import google.auth.exceptions
        import google.auth.transport.requests

        with self._lock:
            try:
                if self._credentials is None:
                    self._credentials, _ = google.auth.default(scopes=[_SCOPE])
                if not self._credentials.valid:
                    self._credentials.refresh(google.auth.transport.requests.Request())
            except google.auth.exceptions.GoogleAuthError as exc:
                raise MissingCredentialsError(
                    f"no usable Google credentials ({one_line(str(exc))[:200]}): run "
                    "`gcloud auth application-default login` or set the vertex-ranking access_token",
                    provider=self.name,
                    model=self.model,
                ) from None
            return str(self._credentials.token)

    def _http(self) -> httpx.AsyncClient:
        with self._lock:
            if self._client is None:
                limits = httpx.Limits(max_connections=self.concurrency_ceiling)
                self._client = httpx.AsyncClient(timeout=self.settings.timeout_s, limits=limits)
            return self._client

    def _error(self, response: httpx.Response) -> EmbeddingError:
        try:
            error = response.json().get("error") or {}
        except (ValueError, AttributeError):
            error = {}
        status = error.get("status") if isinstance(error, dict) else None
        cls = STATUS_CODES.get(status or "") or error_for_status(response.status_code)
        where: dict[str, Any] = {"provider": self.name, "model": self.model, "status_code": response.status_code}
        message = error.get("message") if isinstance(error, dict) else None
        text = one_line(str(message or response.text)) or f"HTTP {response.status_code}"
        return with_guessed_wait(cls(text, code=status, **where))

    async def _rerank_batch(self, query: str, candidates: Sequence[str]) -> RerankBatch:
        token = await asyncio.to_thread(self._token)
        headers = {"Authorization": f"Bearer {token}", "X-Goog-User-Project": self.settings.project}
        body = {
            "model": self.model,
            "query": query,
            "topN": len(candidates),
            "records": [{"id": str(i), "content": text} for i, text in enumerate(candidates)],
            "ignoreRecordDetailsInResponse": True,
        }
        answer = await post_json(self, self._http(), self.url, body, headers, self._error)
        records = answer.get("records") if isinstance(answer, dict) else None
        scores: list[float | None] = [None] * len(candidates)
        for record in records if isinstance(records, list) and len(records) == len(candidates) else []:
            at, score = (record.get("id"), record.get("score", 0.0)) if isinstance(record, dict) else (None, None)
            if not (isinstance(at, str) and at.isdigit() and int(at) < len(scores)) or scores[int(at)] is not None:
                break
            if isinstance(score, bool) or not isinstance(score, int | float):
                break
            scores[int(at)] = float(score)
        if any(s is None for s in scores):
            raise UnexpectedResponseError(
                "rank answered without one score per record id", provider=self.name, model=self.model
            )
        return RerankBatch(scores=scores, usage=Usage())  # type: ignore[arg-type]

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
