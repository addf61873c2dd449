"""Settings of the Gemini provider (no google-genai import here)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator

from ..registry import ProviderInfo
from ..settings import ProviderSettings

__all__ = ["PROVIDER", "GeminiSettings", "RetrievalTask"]

RetrievalTask = Literal["search", "question_answering", "fact_checking", "code_retrieval"]


class GeminiSettings(ProviderSettings):
    """Options of ``gemini:`` models: Gemini Developer API by default, Vertex AI with ``vertexai``."""

    api_key: SecretStr | None = None
    """None lets google-genai read ``GEMINI_API_KEY`` / ``GOOGLE_API_KEY``. Never logged."""
    vertexai: bool = False
    """Use Vertex AI (project + location, Application Default Credentials) instead of an API key."""
    project: str | None = None
    location: str | None = None
    base_url: str | None = None
    """Override the endpoint; None honours ``GOOGLE_GEMINI_BASE_URL`` / ``GOOGLE_VERTEX_BASE_URL``."""
    task: RetrievalTask = "search"
    """Which retrieval task queries are written for (gemini-embedding-2 prompt prefix / 001 task_type)."""
    query_template: str | None = None
    """Override the query prefix template (must contain ``{text}``)."""
    document_template: str | None = None
    """Override the document template (``{title}`` and ``{text}``)."""
    timeout_s: float = Field(60.0, gt=0, allow_inf_nan=False)

    @field_validator("query_template", "document_template")
    @classmethod
    def _one_text_placeholder(cls, value: str | None, info: ValidationInfo) -> str | None:
        # A template without {text} would send the same string for every input (identical vectors);
        # any other {name} would be sent literally, as nothing fills it.
        if value is None:
            return None
        allowed = ("{text}", "{title}") if info.field_name == "document_template" else ("{text}",)
        unknown = sorted({name for name in _PLACEHOLDER.findall(value) if name not in allowed})
        if unknown or "{text}" not in value:
            problem = f"has {', '.join(unknown)}, which nothing fills" if unknown else "has no {text}"
            raise ValueError(f"{problem}: the input goes where {{text}} is; allowed: {' and '.join(allowed)}")
        return value


_PLACEHOLDER = re.compile(r"\{[^{}]*\}")


PROVIDER = ProviderInfo(
    name="gemini",
    target=".gemini.provider:GeminiProvider",
    default_model="gemini-embedding-2",
    extra="gemini",
    requires=("google.genai",),
    models=("gemini-embedding-2", "gemini-embedding-2-preview", "gemini-embedding-001"),
    settings=GeminiSettings,
    distributions=("google-genai",),
    contract_options={"dimensions": 256},
    emulated=True,
    credential_env=("GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_APPLICATION_CREDENTIALS"),
)
