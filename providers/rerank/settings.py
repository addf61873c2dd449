"""Settings and registry rows of the built-in rerankers (no SDK import here, as for embedders).

A reranker's settings carry the fields the shared core reads (concurrency, retry policy, rate budget)
plus its adapter's own; unknown names are errors, so a typo in code, env or TOML fails loudly.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from .._rate import RateLimits
from ..settings import ProviderSettings, RetryPolicy

__all__ = [
    "BUILTIN_RERANKERS",
    "BedrockRerankSettings",
    "LocalRerankSettings",
    "RerankApiSettings",
    "RerankerInfo",
    "RerankerSettings",
    "VertexRankingSettings",
]


class RerankerSettings(BaseModel):
    """What every reranker understands: the core's own knobs, the same as embedders'."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_concurrency: int | None = Field(None, ge=1)
    """Calls in flight at once; None uses the adapter's default."""
    adaptive_concurrency: bool = True
    retry: RetryPolicy = RetryPolicy()
    rate: RateLimits = RateLimits()
    max_candidates_per_call: int | None = Field(None, ge=1)
    """Candidates sent in one call; None uses the API's own limit (lower it for a smaller server limit)."""

    # The same checks embedders' settings run (URL shape, no blank secrets), not a copy of them.
    _http_url = field_validator("base_url", "endpoint_url", check_fields=False)(ProviderSettings._http_url.__func__)  # type: ignore[attr-defined]
    _not_blank = field_validator("api_key", "region", "profile", mode="before", check_fields=False)(
        ProviderSettings._not_blank.__func__  # type: ignore[attr-defined]
    )


class LocalRerankSettings(RerankerSettings):
    """``local:<name or path>``: a Sentence Transformers ``CrossEncoder``."""

    device: str | None = None
    """``cpu``, ``cuda``, ``mps``; None lets Sentence Transformers pick."""
    max_length: int | None = Field(None, ge=1)
    """Tokens of query + candidate the model reads; None keeps the model's own limit."""
    batch_size: int = Field(32, ge=1)
    """Pairs per forward pass, and per core call (one call = one ``predict``)."""


class BedrockRerankSettings(RerankerSettings):
    """``bedrock:<rerank model id or ARN>``: the ``Rerank`` operation of ``bedrock-agent-runtime``."""

    region: str | None = None
    """None uses boto3's chain (AWS_REGION, profile); it also goes into the model ARN."""
    profile: str | None = None
    endpoint_url: str | None = None
    """None honours ``AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME`` (the emulator sets it)."""
    timeout_s: float = Field(60.0, gt=0, allow_inf_nan=False)


class RerankApiSettings(RerankerSettings):
    """``rerank-api:<model>``: Cohere-style ``POST {base_url}/v2/rerank`` (Cohere, Jina, vLLM, Infinity)."""

    base_url: str = "https://api.cohere.com"
    """Server root; the request goes to ``base_url + path``."""
    path: str = "/v2/rerank"
    """``/v2/rerank`` (Cohere, vLLM, Infinity); ``/v1/rerank`` for Jina's API and vLLM's v1 route."""
    api_key: SecretStr | None = None
    """Sent as ``Authorization: Bearer``; None sends none (local servers). Never logged."""
    timeout_s: float = Field(60.0, gt=0, allow_inf_nan=False)

    @field_validator("path")
    @classmethod
    def _absolute_path(cls, value: str) -> str:
        if not value.startswith("/") or any(c.isspace() for c in value):
            raise ValueError("must be a URL path starting with '/', e.g. /v2/rerank")
        return value


class VertexRankingSettings(RerankerSettings):
    """``vertex-ranking:<model>``: Vertex AI Ranking API (``rankingConfigs:rank``) over REST."""

    project: str
    """Google Cloud project id (required; also sent as ``X-Goog-User-Project`` for quota)."""
    location: str = "global"
    ranking_config: str = "default_ranking_config"
    base_url: str = "https://discoveryengine.googleapis.com"
    access_token: SecretStr | None = None
    """An OAuth token (``gcloud auth print-access-token``); None uses Application Default Credentials. Never logged."""
    timeout_s: float = Field(60.0, gt=0, allow_inf_nan=False)

    @field_validator("project", "location", "ranking_config")
    @classmethod
    def _path_segment(cls, value: str) -> str:
        if not value.strip() or any(c in value for c in "/?#:") or any(c.isspace() for c in value):
            raise ValueError("must be one URL path segment (no '/', ':', '?', '#' or spaces), e.g. my-project")
        return value


@dataclass(frozen=True, slots=True)
class RerankerInfo:
    """A reranker's registry row, as :class:`~omnivec.providers.registry.ProviderInfo` is an embedder's."""

    name: str
    target: str
    """``"module:Class"`` relative to ``omnivec.providers``."""
    default_model: str | None
    settings: type[RerankerSettings]
    extra: str | None = None
    requires: tuple[str, ...] = ()
    models: tuple[str, ...] = ()


BUILTIN_RERANKERS: tuple[RerankerInfo, ...] = (
    RerankerInfo(
        "sentence-transformers",
        ".rerank.local:CrossEncoderReranker",
        "cross-encoder/ms-marco-MiniLM-L6-v2",
        LocalRerankSettings,
        extra="local",
        requires=("sentence_transformers",),
        models=("cross-encoder/ms-marco-MiniLM-L6-v2", "BAAI/bge-reranker-v2-m3", "any CrossEncoder name or path"),
    ),
    RerankerInfo(
        "bedrock",
        ".rerank.bedrock:BedrockReranker",
        "cohere.rerank-v3-5:0",
        BedrockRerankSettings,
        extra="bedrock",
        requires=("boto3",),
        models=("amazon.rerank-v1:0", "cohere.rerank-v3-5:0"),
    ),
    RerankerInfo(
        "rerank-api",
        ".rerank.http:RerankApiReranker",
        None,
        RerankApiSettings,
        requires=("httpx",),
        models=("rerank-v3.5 (Cohere)", "jina-reranker-v2-base-multilingual", "any model a /v2/rerank server serves"),
    ),
    RerankerInfo(
        "vertex-ranking",
        ".rerank.vertex:VertexRankingReranker",
        "semantic-ranker-default@latest",
        VertexRankingSettings,
        extra="gemini",
        requires=("httpx", "google.auth"),
        models=("semantic-ranker-default@latest", "semantic-ranker-default-004", "semantic-ranker-fast-004"),
    ),
)
