"""Pure parts of the Gemini adapter: task prompts, intent → task_type, response parsing.

gemini-embedding-2 ignores ``task_type``; the task is written into the text instead
(``task: search result | query: ...`` for queries, ``title: none | text: ...`` for documents).
gemini-embedding-001 keeps ``task_type``. Templates are data: they appear in the fingerprint and
can be overridden per provider.
"""

from __future__ import annotations

from typing import Any

from ..errors import UnexpectedResponseError
from ..types import Intent
from .settings import GeminiSettings, RetrievalTask

DOCUMENT_TEMPLATE = "title: none | text: {text}"
QUERY_TASKS: dict[RetrievalTask, str] = {
    "search": "search result",
    "question_answering": "question answering",
    "fact_checking": "fact checking",
    "code_retrieval": "code retrieval",
}
SYMMETRIC_TASKS: dict[str, str] = {
    "similarity": "sentence similarity",
    "classification": "classification",
    "clustering": "clustering",
}
TASK_TYPES_001: dict[str, str] = {
    "search": "RETRIEVAL_QUERY",
    "question_answering": "QUESTION_ANSWERING",
    "fact_checking": "FACT_VERIFICATION",
    "code_retrieval": "CODE_RETRIEVAL_QUERY",
    "document": "RETRIEVAL_DOCUMENT",
    "similarity": "SEMANTIC_SIMILARITY",
    "classification": "CLASSIFICATION",
    "clustering": "CLUSTERING",
}


def uses_task_type(model: str) -> bool:
    """Only the text-only gemini-embedding-001 family honours ``task_type``."""
    return model.removeprefix("models/").startswith(("gemini-embedding-001", "text-embedding"))


def text_template(intent: Intent, settings: GeminiSettings) -> str:
    """The prompt template for gemini-embedding-2 (``{text}`` is replaced by the input)."""
    if intent == "document":
        return settings.document_template or DOCUMENT_TEMPLATE
    if intent == "query":
        return settings.query_template or f"task: {QUERY_TASKS[settings.task]} | query: {{text}}"
    return f"task: {SYMMETRIC_TASKS[intent]} | query: {{text}}"


def task_type(intent: Intent, settings: GeminiSettings) -> str:
    """``task_type`` for gemini-embedding-001."""
    return TASK_TYPES_001[settings.task if intent == "query" else intent]


def render(template: str, text: str) -> str:
    return template.replace("{title}", "none").replace("{text}", text)


def vectors_from(response: Any, expected: int) -> list[list[float]]:
    """Vectors of an ``EmbedContentResponse``; a count mismatch is an error (the SDK does not check)."""
    embeddings = getattr(response, "embeddings", None)
    if not embeddings or len(embeddings) != expected:
        got = 0 if not embeddings else len(embeddings)
        raise UnexpectedResponseError(f"Gemini returned {got} embeddings for {expected} inputs")
    vectors = [e.values for e in embeddings]
    if any(not v for v in vectors):
        raise UnexpectedResponseError("Gemini returned an embedding without values")
    return vectors


def tokens_from(response: Any) -> int | None:
    usage = getattr(response, "usage_metadata", None)
    if usage is not None and getattr(usage, "prompt_token_count", None) is not None:
        return int(usage.prompt_token_count)
    counts = [getattr(getattr(e, "statistics", None), "token_count", None) for e in response.embeddings or []]
    return int(sum(counts)) if counts and all(c is not None for c in counts) else None
