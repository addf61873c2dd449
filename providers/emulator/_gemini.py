"""Gemini ``embedContent`` / ``batchEmbedContents`` (Developer API and Vertex paths), validated like the service."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ._vectors import decoded_size, media_vector, text_vector

MODELS = {"gemini-embedding-2", "gemini-embedding-2-preview", "gemini-embedding-001"}
MAX_BATCH = 100
MAX_IMAGES = 6
MIME = {
    "image/png",
    "image/jpeg",
    "application/pdf",
    "audio/mpeg",
    "audio/mp3",
    "audio/wav",
    "video/mp4",
    "video/quicktime",
}
_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
Answer = tuple[int, dict[str, str], Any]


def error(status: int, code: str | None, message: str) -> Answer:
    body: dict[str, Any] = {"code": status, "message": message, "status": code or _STATUS.get(status, "UNKNOWN")}
    if status == 429:
        body["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0.05s"}]
    return status, {}, {"error": body}


def _get(obj: dict[str, Any], snake: str, camel: str) -> Any:
    return obj.get(snake, obj.get(camel))


def _embed_one(model: str, request: dict[str, Any]) -> tuple[list[float] | None, int, str | None]:
    config = request.get("embedContentConfig") or {}
    dims = (
        _get(request, "output_dimensionality", "outputDimensionality")
        or _get(config, "output_dimensionality", "outputDimensionality")
        or 3072
    )
    if not isinstance(dims, int) or not 128 <= dims <= 3072:
        return None, 0, "outputDimensionality must be between 128 and 3072"
    content = request.get("content")
    parts = content.get("parts") if isinstance(content, dict) else None
    if not parts:
        return None, 0, "content.parts must not be empty"
    texts, blobs = [], []
    for part in parts:
        inline = _get(part, "inline_data", "inlineData")
        file_data = _get(part, "file_data", "fileData")
        if "text" in part:
            texts.append(str(part["text"]))
        elif isinstance(inline, dict):
            mime = _get(inline, "mime_type", "mimeType")
            if mime not in MIME:
                return None, 0, f"Unsupported MIME type: {mime}"
            if decoded_size(inline.get("data", "")) <= 0:
                return None, 0, "inline_data.data is not valid base64"
            blobs.append((mime, inline["data"]))
        elif isinstance(file_data, dict):
            blobs.append((_get(file_data, "mime_type", "mimeType"), _get(file_data, "file_uri", "fileUri") or ""))
        else:
            return None, 0, "each part needs text, inline_data or file_data"
    if sum(1 for mime, _ in blobs if str(mime).startswith("image/")) > MAX_IMAGES:
        return None, 0, f"at most {MAX_IMAGES} images per content"
    # Several parts in one content fuse into ONE vector, as the real model does.
    vectors = [np.array(text_vector(" ".join(texts), dims))] if texts else []
    vectors += [np.array(media_vector(data, dims)) for _, data in blobs]
    fused = np.sum(vectors, axis=0)
    if model == "gemini-embedding-001" and dims < 3072:
        fused = fused / np.linalg.norm(fused) * 0.8  # 001 does not normalize truncated outputs
    else:
        fused = fused / np.linalg.norm(fused)
    tokens = sum(len(t.split()) for t in texts) + 258 * len(blobs)
    return [float(x) for x in fused], tokens, None


def embed(model: str, method: str, headers: dict[str, str], body: bytes, *, require_auth: bool) -> Answer:
    lowered = {k.lower(): v for k, v in headers.items()}
    if require_auth and not (lowered.get("x-goog-api-key") or lowered.get("authorization", "").startswith("Bearer ")):
        return error(403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers. Please use an API key.")
    if model not in MODELS:
        return error(
            404, "NOT_FOUND", f"models/{model} is not found for API version, or is not supported for embedContent."
        )
    try:
        payload = json.loads(body)
    except ValueError:
        return error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
    requests = payload.get("requests") if method == "batchEmbedContents" else [payload]
    if not isinstance(requests, list) or not requests:
        return error(400, "INVALID_ARGUMENT", "requests must not be empty")
    if len(requests) > MAX_BATCH:
        return error(
            400,
            "INVALID_ARGUMENT",
            f"BatchEmbedContentsRequest.requests: at most {MAX_BATCH} requests can be in one batch",
        )
    embeddings, tokens = [], 0
    for i, request in enumerate(requests):
        inner = request.get("model")
        if inner is not None and inner.removeprefix("models/") != model:
            return error(400, "INVALID_ARGUMENT", f"requests[{i}].model does not match the URL model")
        vector, used, problem = _embed_one(model, request)
        if problem:
            return error(400, "INVALID_ARGUMENT", f"requests[{i}]: {problem}")
        embeddings.append({"values": vector})
        tokens += used
    usage = {"promptTokenCount": tokens}
    items = {"x-omnivec-items": str(len(embeddings))}
    if method == "embedContent":
        return 200, items, {"embedding": embeddings[0], "usageMetadata": usage}
    return 200, items, {"embeddings": embeddings, "usageMetadata": usage}
