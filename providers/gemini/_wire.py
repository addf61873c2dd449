"""Pure parts of the Gemini adapter: the request as plain data, limits, response and error reading.

No google-genai here and no I/O, so every rule is unit-tested on its own
(tests/unit/test_gemini_wire_pure.py); the provider only turns :class:`EmbedRequest` into SDK types.

gemini-embedding-2 ignores ``task_type``; the task is written into the text instead
(``task: search result | query: ...`` for queries, ``title: none | text: ...`` for documents).
gemini-embedding-001 keeps ``task_type``. Templates are data: they appear in the fingerprint and
can be overridden per provider.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._translate import EMULATOR_URL_ENV, Upstream, endpoint_identity
from ..errors import InvalidInputError, UnexpectedResponseError, UnsupportedInputError
from ..inputs import Fused, Image, Input, Media, Part
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

# Documented limits (cloud-apis.md 2.5). Tokens cannot be counted offline, so text is bounded by a
# generous CHARS_PER_TOKEN (English averages about 4): what is refused is surely over the limit.
MAX_TOKENS_2 = 8192
MAX_TOKENS_001 = 2048
CHARS_PER_TOKEN = 6
IMAGE_TOKENS = 258
PDF_PAGE_TOKENS = 258
AUDIO_TOKENS_PER_S = 25
VIDEO_FRAME_TOKENS = 66
MAX_REQUEST_BYTES = 20_000_000
"""The Gemini API's documented inline request size (base64 included); bigger media go by URI."""
MAX_INLINE_BYTES = (MAX_REQUEST_BYTES - 1024) * 3 // 4
"""Largest single inline item: its base64 plus the JSON around it fits one request."""
VENDOR_HOSTS = (".googleapis.com",)
_REQUEST_OVERHEAD = 64
_DELAY = re.compile(r"^(\d+(?:\.\d+)?)s$")


def uses_task_type(model: str) -> bool:
    """Only the text-only gemini-embedding-001 family honours ``task_type``."""
    return model.removeprefix("models/").startswith(("gemini-embedding-001", "text-embedding"))


def max_tokens(model: str) -> int:
    return MAX_TOKENS_001 if uses_task_type(model) else MAX_TOKENS_2


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


@dataclass(frozen=True, slots=True)
class EmbedRequest:
    """One ``embed_content`` call as plain data: ``contents`` validate as ``types.Content``,
    ``config`` as ``types.EmbedContentConfig``."""

    contents: list[dict[str, Any]]
    config: dict[str, Any]


def part(item: Part, *, model: str, intent: Intent, settings: GeminiSettings) -> dict[str, Any]:
    """One ``types.Part`` as a dict: text (with the task prompt for gemini-embedding-2), file URI or inline bytes."""
    if isinstance(item, str):
        return {"text": item if uses_task_type(model) else render(text_template(intent, settings), item)}
    if item.uri is not None:
        return {"file_data": {"file_uri": item.uri, "mime_type": item.mime_type}}
    return {"inline_data": {"data": item.data, "mime_type": item.mime_type}}


def build_request(
    batch: Sequence[Input], *, model: str, intent: Intent, dimensions: int, settings: GeminiSettings
) -> EmbedRequest:
    """ONE content per input (a list of plain strings would fuse into one vector); a Fused input is
    one content with several parts. gemini-embedding-001 gets ``task_type``, gemini-embedding-2 never."""
    contents = [
        {
            "parts": [
                part(p, model=model, intent=intent, settings=settings)
                for p in (item.parts if isinstance(item, Fused) else (item,))
            ]
        }
        for item in batch
    ]
    config: dict[str, Any] = {"output_dimensionality": dimensions}
    if uses_task_type(model):
        config["task_type"] = task_type(intent, settings)
    return EmbedRequest(contents=contents, config=config)


def estimated_tokens(item: Input) -> int:
    """A LOW estimate of what one content costs, at the documented per-media rates; unknown durations count 0."""
    total = 0
    for p in item.parts if isinstance(item, Fused) else (item,):
        if isinstance(p, str):
            total += math.ceil(len(p) / CHARS_PER_TOKEN)
        elif isinstance(p, Image):
            total += IMAGE_TOKENS
        elif isinstance(p, Media) and p.mime_type == "application/pdf":
            total += PDF_PAGE_TOKENS * (p.pages or 1)
        elif isinstance(p, Media) and p.duration_s is not None:
            rate = AUDIO_TOKENS_PER_S if p.mime_type.startswith("audio/") else VIDEO_FRAME_TOKENS
            total += math.ceil(p.duration_s * rate)
    return total


def wire_size(content: Mapping[str, Any]) -> int:
    """Bytes a content takes in the JSON request (base64 for inline data), within a few bytes."""
    size = 32
    for p in content["parts"]:
        if "text" in p:
            size += len(p["text"].encode("utf-8", "surrogatepass")) + 16
        elif "inline_data" in p:
            size += 4 * math.ceil(len(p["inline_data"]["data"]) / 3) + 64
        else:
            size += len(p["file_data"]["file_uri"].encode()) + 64
    return size


def check_inputs(items: Sequence[Any], *, model: str, vertex: bool) -> None:
    """Refuse, before any call, a ``gs://`` URI outside Vertex, or an input over the per-content
    token budget or the request size.

    Each part is already bounded by the capabilities; this adds what only the whole content shows
    (a Fused item's parts together). Items that are not inputs are left to the core's checks.
    """
    budget = max_tokens(model)
    for index, item in enumerate(items):
        if not isinstance(item, (str, Image, Media, Fused)):
            continue
        parts = item.parts if isinstance(item, Fused) else (item,)
        if not vertex and any(isinstance(p, (Image, Media)) and (p.uri or "").startswith("gs://") for p in parts):
            raise UnsupportedInputError(
                f"inputs[{index}] is a gs:// URI, which only Vertex AI reads: set vertexai=true (with project and "
                "location), or pass the bytes or a Files-API https:// URI",
                index=index,
            )
        tokens = estimated_tokens(item)
        if tokens > budget:
            raise InvalidInputError(
                f"inputs[{index}] needs at least {tokens:,} tokens (text at ~{CHARS_PER_TOKEN} characters per token, "
                f"{IMAGE_TOKENS} per image or PDF page, {AUDIO_TOKENS_PER_S}/s of audio, {VIDEO_FRAME_TOKENS} per video "
                f"frame); {model} takes at most {budget:,} per input: split or shorten it",
                index=index,
            )
        inline = sum(len(p.data) for p in parts if isinstance(p, (Image, Media)) and p.uri is None)
        if _content_size(parts) + _REQUEST_OVERHEAD > MAX_REQUEST_BYTES:
            raise InvalidInputError(
                f"inputs[{index}] carries {inline:,} bytes inline; a Gemini request takes at most "
                f"{MAX_REQUEST_BYTES:,} after base64: shrink the media or pass them by URI",
                index=index,
            )


def _content_size(parts: Sequence[Part]) -> int:
    """:func:`wire_size` of the content these parts make (task prompts aside)."""
    return wire_size(
        {
            "parts": [
                {"text": p}
                if isinstance(p, str)
                else {"file_data": {"file_uri": p.uri}}
                if p.uri is not None
                else {"inline_data": {"data": p.data}}
                for p in parts
            ]
        }
    )


def request_groups(contents: Sequence[Mapping[str, Any]], limit: int | None = None) -> list[range]:
    """Split contents, in order, into runs whose JSON stays under ``limit`` bytes (one request each;
    default :data:`MAX_REQUEST_BYTES`). A batch of 100 inline images would otherwise be one huge request."""
    limit = MAX_REQUEST_BYTES if limit is None else limit
    groups: list[range] = []
    start, size = 0, _REQUEST_OVERHEAD
    for i, content in enumerate(contents):
        item = wire_size(content)
        if i > start and size + item > limit:
            groups.append(range(start, i))
            start, size = i, _REQUEST_OVERHEAD
        size += item
    if contents:
        groups.append(range(start, len(contents)))
    return groups


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
    total: int | None = None
    for embedding in response.embeddings or []:
        count = getattr(getattr(embedding, "statistics", None), "token_count", None)
        if count is None:
            return None
        total = (total or 0) + int(count)
    return total


def retry_after(details: Any, headers: Mapping[str, str]) -> float | None:
    """The wait a Google error asks for: ``google.rpc.RetryInfo.retryDelay`` ("1.5s"), else ``Retry-After``."""
    found = details.get("error", {}).get("details", []) if isinstance(details, dict) else []
    for detail in found if isinstance(found, list) else []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            match = _DELAY.match(str(detail.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    header = str({k.lower(): v for k, v in headers.items()}.get("retry-after", "")).strip()
    try:
        return float(header) if float(header) >= 0 else None
    except ValueError:
        return None


def upstream(
    *,
    code: int | None,
    status: str | None,
    message: str | None,
    details: Any,
    headers: Mapping[str, str],
    fallback: str,
) -> Upstream:
    """Read a ``google.genai.errors.APIError``'s fields: google.rpc status, HTTP code, message, retry hint."""
    return Upstream(
        code=status or None, status=code, message=message or fallback, retry_after=retry_after(details, headers)
    )


def vertex_mode(settings: GeminiSettings, environ: Mapping[str, str]) -> bool:
    """Vertex AI or the Developer API: the setting, else google-genai's ``GOOGLE_GENAI_USE_VERTEXAI``."""
    return settings.vertexai or environ.get("GOOGLE_GENAI_USE_VERTEXAI", "").lower() in ("true", "1")


def endpoint(settings: GeminiSettings, environ: Mapping[str, str]) -> str | None:
    """Identity of the endpoint google-genai will call, for the fingerprint: the ``base_url`` setting,
    else ``GOOGLE_VERTEX_BASE_URL`` (Vertex) or ``GOOGLE_GEMINI_BASE_URL`` (Developer API)."""
    variable = "GOOGLE_VERTEX_BASE_URL" if vertex_mode(settings, environ) else "GOOGLE_GEMINI_BASE_URL"
    url = settings.base_url or environ.get(variable)
    return endpoint_identity(url, emulator_url=environ.get(EMULATOR_URL_ENV), vendor_hosts=VENDOR_HOSTS)


# --- Batch API (asyncBatchEmbedContent): pure pieces of providers/gemini/_batch.py ---------------------

BATCH_DONE = {"JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED"}
"""States after which a batch job never changes (google-genai's names; the wire says ``BATCH_STATE_*``)."""
MAX_JOB_ITEMS = 10_000
"""Inputs per batch job by default: the inline form carries them in ONE create request (< 20 MB)."""


def job_groups(contents: Sequence[Mapping[str, Any]], max_items: int = MAX_JOB_ITEMS) -> list[range]:
    """Split contents, in order, into batch jobs: at most ``max_items`` each, and each create request
    under :data:`MAX_REQUEST_BYTES` (the inline form's documented limit)."""
    groups: list[range] = []
    for run in request_groups(contents):
        groups += [range(s, min(s + max_items, run.stop)) for s in range(run.start, run.stop, max_items)]
    return groups


def job_digest(model: str, config: Mapping[str, Any], contents: Sequence[Mapping[str, Any]]) -> str:
    """What a batch job was asked, as a hash: the state file's manifest, compared on resume so a job is
    reused only for exactly the same requests (model, task, size, every part in order)."""
    digest = hashlib.sha256(json.dumps([model, dict(config)], sort_keys=True).encode())
    for content in contents:
        for p in content["parts"]:
            blob = p.get("text") or p.get("file_data") or p.get("inline_data")
            digest.update(json.dumps(blob, sort_keys=True, default=_bytes_digest).encode())
        digest.update(b"\x00")
    return digest.hexdigest()


def _bytes_digest(value: Any) -> str:
    return hashlib.sha256(value).hexdigest() if isinstance(value, (bytes, bytearray)) else str(value)


def batch_results(
    responses: Sequence[Any] | None, expected: int
) -> tuple[list[list[float] | None], dict[int, str], int | None]:
    """Vectors, per-item errors and tokens of a job's inline responses, in REQUEST order.

    Responses that carry ``metadata.key`` (an index) are placed by it, whatever order they came in;
    otherwise by position, which the inline form keeps. A count or key mismatch is an error: a vector
    must never land on another input's row.
    """
    responses = list(responses or [])
    if len(responses) != expected:
        raise UnexpectedResponseError(f"the Gemini batch job returned {len(responses)} results for {expected} inputs")
    keys = [(getattr(r, "metadata", None) or {}).get("key") for r in responses]
    if all(k is not None for k in keys):
        order = [int(str(k)) if str(k).isdigit() else -1 for k in keys]
        if sorted(order) != list(range(expected)):
            raise UnexpectedResponseError(
                f"the Gemini batch job returned keys {sorted(map(str, keys))[:5]}... not 0..{expected - 1}"
            )
    else:
        order = list(range(expected))
    vectors: list[list[float] | None] = [None] * expected
    failures: dict[int, str] = {}
    tokens: int | None = 0
    for index, response in zip(order, responses, strict=True):
        error = getattr(response, "error", None)
        embedding = getattr(getattr(response, "response", None), "embedding", None)
        values = getattr(embedding, "values", None)
        if error is not None or not values:
            failures[index] = getattr(error, "message", None) or "the batch job returned no embedding for this input"
            continue
        vectors[index] = list(values)
        count = getattr(response.response, "token_count", None)
        tokens = None if tokens is None or count is None else tokens + int(count)
    return vectors, failures, tokens


MAX_FILE_JOB_ITEMS = 100_000
"""Inputs per batch job in the file form (a JSONL upload; the Files API takes up to 2 GB per file)."""


def jsonl_requests(contents: Sequence[Mapping[str, Any]], config: Mapping[str, Any]) -> bytes:
    """The file form's input: one ``{"key": "<index>", "request": {...}}`` line per content; the key
    (the index in this job) is how results are placed, since the output file has no promised order."""
    lines = []
    for index, content in enumerate(contents):
        parts = [_json_part(p) for p in content["parts"]]
        lines.append(json.dumps({"key": str(index), "request": {"content": {"parts": parts}, **config}}))
    return ("\n".join(lines) + "\n").encode()


def _json_part(part: Mapping[str, Any]) -> Mapping[str, Any]:
    blob = part.get("inline_data")
    if blob is None or not isinstance(blob.get("data"), (bytes, bytearray)):
        return part
    # base64 as google-genai writes bytes (URL-safe alphabet); proto-JSON reads either.
    return {"inline_data": {"data": base64.urlsafe_b64encode(blob["data"]).decode(), "mime_type": blob["mime_type"]}}


def jsonl_results(data: bytes) -> list[dict[str, Any]]:
    """The file form's output lines as inline-response dicts (``metadata.key`` set from ``key``)."""
    rows = []
    for number, line in enumerate(data.decode("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise UnexpectedResponseError(f"line {number} of the Gemini batch output is not JSON: {exc}") from exc
        rows.append({"metadata": {"key": row.get("key")}, "response": row.get("response"), "error": row.get("error")})
    return rows
