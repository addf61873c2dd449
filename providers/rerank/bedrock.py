"""``bedrock:<model>``: the ``Rerank`` operation of boto3's ``bedrock-agent-runtime`` client.

Wire (botocore's service model ``bedrock-agent-runtime/2023-07-26``, ``POST /rerank``, rest-json)::

    queries=[{"type": "TEXT", "textQuery": {"text": q}}]                       # exactly 1
    sources=[{"type": "INLINE", "inlineDocumentSource": {"type": "TEXT", "textDocument": {"text": t}}}]  # 1..1000
    rerankingConfiguration={"type": "BEDROCK_RERANKING_MODEL", "bedrockRerankingConfiguration": {
        "numberOfResults": n, "modelConfiguration": {"modelArn": "arn:aws:bedrock:<region>::foundation-model/<id>"}}}
    -> {"results": [{"index": i, "relevanceScore": s}, ...], "nextToken"?}   # best first

Texts are 1..32,000 characters (the model's own token window still cuts longer ones). The
answer is sorted by score; the adapter puts scores back at their ``index``. boto3's own retries are
off (one attempt): the core's policy is the only one, as for the embedding adapter.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Sequence
from typing import Any

import boto3
from botocore.config import Config

from .._translate import EMULATOR_URL_ENV, ErrorTable, endpoint_identity, translated
from ..bedrock import _wire
from ..bedrock.provider import ERROR_CODES, ERROR_TABLE
from ..errors import InvalidRequestError, ServiceUnavailableError, UnexpectedResponseError
from ..types import Usage
from .base import Reranker
from .settings import BedrockRerankSettings
from .types import RerankBatch

__all__ = ["RERANK_ERROR_TABLE", "BedrockReranker"]

RERANK_ERROR_TABLE = ErrorTable(
    codes={
        **ERROR_CODES,
        # Rerank's own error shapes besides those InvokeModel shares (service-2.json, operation Rerank).
        "DependencyFailedException": ServiceUnavailableError,
        "BadGatewayException": ServiceUnavailableError,
        "ConflictException": InvalidRequestError,
    },
    api_errors=ERROR_TABLE.api_errors,
    exceptions=ERROR_TABLE.exceptions,
)
ENDPOINT_ENV = "AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME"


class BedrockReranker(Reranker[BedrockRerankSettings]):
    """``bedrock:amazon.rerank-v1:0`` or ``bedrock:cohere.rerank-v3-5:0`` (or a model ARN)."""

    name = "bedrock"
    settings_class = BedrockRerankSettings
    max_candidates = 1000  # RerankRequest.sources: max 1000
    max_query_chars = 32_000  # RerankTextDocument.text: max 32000
    max_candidate_chars = 32_000

    def __init__(self, model: str = "cohere.rerank-v3-5:0", *, client: Any = None, **kwargs: Any) -> None:
        """``client``: a ``bedrock-agent-runtime`` client used as it is (its retries are yours)."""
        super().__init__(model, **kwargs)
        self._client = client
        self._client_lock = threading.Lock()

    def options(self) -> dict[str, Any]:
        url = self.settings.endpoint_url
        if not url and os.environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() != "true":
            url = os.environ.get(ENDPOINT_ENV) or os.environ.get("AWS_ENDPOINT_URL")
        where = endpoint_identity(url, emulator_url=os.environ.get(EMULATOR_URL_ENV), vendor_hosts=_wire.VENDOR_HOSTS)
        return {"endpoint": where} if where else {}

    def _make_client(self) -> Any:
        with self._client_lock:
            if self._client is None:
                s = self.settings
                with translated(RERANK_ERROR_TABLE, provider=self.name, model=self.model):
                    session = boto3.Session(profile_name=s.profile, region_name=s.region)
                    config = Config(
                        retries={"total_max_attempts": 1, "mode": "standard"},  # "max_attempts" counts RETRIES
                        read_timeout=s.timeout_s,
                        connect_timeout=min(s.timeout_s, 10.0),
                        max_pool_connections=self.concurrency_ceiling,
                    )
                    self._client = session.client("bedrock-agent-runtime", endpoint_url=s.endpoint_url, config=config)
            return self._client

    def model_arn(self, region: str) -> str:
        """A foundation model id becomes its ARN in ``region``; an ARN passes as it is."""
        if self.model.startswith("arn:"):
            return self.model
        partition = "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"
        return f"arn:{partition}:bedrock:{region}::foundation-model/{self.model}"

    def _call(self, query: str, candidates: list[str]) -> dict[str, Any]:
        client = self._make_client()
        with translated(RERANK_ERROR_TABLE, provider=self.name, model=self.model):
            answer: dict[str, Any] = client.rerank(
                queries=[{"type": "TEXT", "textQuery": {"text": query}}],
                sources=[
                    {"type": "INLINE", "inlineDocumentSource": {"type": "TEXT", "textDocument": {"text": text}}}
                    for text in candidates
                ],
                rerankingConfiguration={
                    "type": "BEDROCK_RERANKING_MODEL",
                    "bedrockRerankingConfiguration": {
                        "numberOfResults": len(candidates),
                        "modelConfiguration": {"modelArn": self.model_arn(client.meta.region_name or "us-east-1")},
                    },
                },
            )
        return answer

    async def _rerank_batch(self, query: str, candidates: Sequence[str]) -> RerankBatch:
        answer = await asyncio.to_thread(self._call, query, list(candidates))
        scores = scores_by_index(answer.get("results"), len(candidates), index="index", score="relevanceScore")
        if scores is None or answer.get("nextToken"):
            raise UnexpectedResponseError(
                f"Rerank answered {len(answer.get('results') or [])} results for {len(candidates)} sources "
                "(each index once expected, no nextToken)",
                provider=self.name,
                model=self.model,
            )
        return RerankBatch(scores=scores, usage=Usage())

    async def aclose(self) -> None:
        self._client = None


def scores_by_index(results: object, count: int, *, index: str, score: str) -> list[float] | None:
    """Scores put back in the order sent from an answer sorted by score; None unless every index comes once."""
    if not isinstance(results, list) or len(results) != count:
        return None
    scores: list[float | None] = [None] * count
    for row in results:
        at, value = (row.get(index), row.get(score)) if isinstance(row, dict) else (None, None)
        if not isinstance(at, int) or not 0 <= at < count or scores[at] is not None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        scores[at] = float(value)
    return scores  # type: ignore[return-value]
