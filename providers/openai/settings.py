"""Settings of the OpenAI-compatible provider (no ``openai`` import here)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from ..registry import ProviderInfo
from ..settings import ProviderSettings

__all__ = ["PROVIDER", "OpenAISettings"]


class OpenAISettings(ProviderSettings):
    """Options of ``openai:`` models: OpenAI itself by default, any ``/v1/embeddings`` server with ``base_url``."""

    api_key: SecretStr | None = None
    """None lets the SDK read ``OPENAI_API_KEY``. Servers other than OpenAI's that need no key (a local
    TEI, vLLM, Ollama, LM Studio) get a placeholder when none is set. Never logged."""
    base_url: str | None = None
    """The API root, e.g. ``http://localhost:8080/v1``; None honours ``OPENAI_BASE_URL``, else OpenAI."""
    timeout_s: float = Field(60.0, gt=0, allow_inf_nan=False)
    encoding_format: Literal["base64", "float"] = "base64"
    """Wire: ``encoding_format``. ``base64`` (the SDK's default: float32 bytes, about 3× smaller) or
    ``float`` (JSON numbers) for servers that refuse base64, such as some vLLM builds."""
    model_dimensions: int | None = Field(None, ge=1)
    """Native vector size of a model omnivec does not know (served by TEI, vLLM, Ollama...). With it,
    a smaller ``dimensions`` is sent as the wire ``dimensions`` (Matryoshka); without it,
    ``dimensions`` is the size the server returns and is not sent."""
    query_prefix: str = ""
    """Prepended to queries (and to symmetric intents), e.g. ``"query: "`` for E5 or ``"search_query: "``
    for nomic models behind a compatible server. OpenAI's own models take none."""
    document_prefix: str = ""
    """Prepended to documents, e.g. ``"passage: "`` (E5) or ``"search_document: "`` (nomic)."""
    max_inputs_per_request: int = Field(2048, ge=1, le=2048)
    """Wire: length of ``input``. OpenAI takes 2048; lower it to a server's own limit (TEI's
    ``--max-client-batch-size`` defaults to 32)."""
    max_tokens_per_request: int = Field(300_000, ge=1)
    """OpenAI's cap on the summed tokens of one request; batches are split to stay under it (estimated)."""


PROVIDER = ProviderInfo(
    name="openai",
    target=".openai.provider:OpenAIProvider",
    default_model="text-embedding-3-small",
    extra="openai",
    requires=("openai",),
    models=("text-embedding-3-small", "text-embedding-3-large", "text-embedding-ada-002", "any /v1/embeddings model"),
    settings=OpenAISettings,
    distributions=("openai",),
    contract_options={"dimensions": 256},
    emulated=True,
    credential_env=("OPENAI_API_KEY",),
)
