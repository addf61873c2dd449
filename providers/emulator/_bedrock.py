"""Bedrock runtime ``InvokeModel`` for Nova Multimodal Embeddings (Titan and Cohere in _bedrock_families), validated like the service."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from . import _bedrock_families
from ._vectors import decoded_size, media_vector, text_vector

NOVA = "amazon.nova-2-multimodal-embeddings-v1:0"
PURPOSES = {
    "GENERIC_INDEX",
    "GENERIC_RETRIEVAL",
    "TEXT_RETRIEVAL",
    "IMAGE_RETRIEVAL",
    "VIDEO_RETRIEVAL",
    "DOCUMENT_RETRIEVAL",
    "AUDIO_RETRIEVAL",
    "CLASSIFICATION",
    "CLUSTERING",
}
DIMENSIONS = {256, 384, 1024, 3072}
FORMATS = {
    "image": {"png", "jpeg", "gif", "webp"},
    "audio": {"mp3", "wav", "ogg"},
    "video": {"mp4", "mov", "mkv", "webm", "flv", "mpeg", "mpg", "wmv", "3gp"},
}
MAX_BODY = 25_000_000
MAX_TEXT_CHARS = 50_000
_STATUS_CODES = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}
Answer = tuple[int, dict[str, str], Any]


def error(status: int, code: str | None, message: str) -> Answer:
    code = code or _STATUS_CODES.get(status, "InternalServerException")
    return (
        status,
        {"x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/com.amazon.bedrock/"},
        {"message": message},
    )


def _invalid(message: str) -> Answer:
    return error(400, "ValidationException", message)


def _base_model(model: str) -> str:
    if model.startswith("arn:"):
        model = model.rsplit("/", 1)[-1]
    for prefix in ("us.", "us-gov.", "eu.", "apac.", "jp.", "au.", "ca.", "global."):
        model = model.removeprefix(prefix)
    return model


def _check_source(source: Any, where: str) -> str | None:
    if not isinstance(source, dict) or len(source) != 1:
        return f"{where}.source must have exactly one of bytes, s3Location"
    if "bytes" in source:
        return None if decoded_size(source["bytes"]) > 0 else f"{where}.source.bytes is not valid base64"
    uri = source.get("s3Location", {}).get("uri", "") if isinstance(source.get("s3Location"), dict) else ""
    return None if uri.startswith("s3://") else f"{where}.source.s3Location.uri must be an s3:// URI"


def _validate(params: dict[str, Any]) -> str | None:
    if params.get("embeddingPurpose") not in PURPOSES:
        return f"embeddingPurpose must be one of {sorted(PURPOSES)}"
    if "embeddingDimension" in params and params["embeddingDimension"] not in DIMENSIONS:
        return "embeddingDimension must be one of 256, 384, 1024, 3072"
    present = [m for m in ("text", "image", "audio", "video") if m in params]
    if len(present) != 1:
        return "exactly one of text, image, audio, video is required"
    modality, spec = present[0], params[present[0]]
    if not isinstance(spec, dict):
        return f"{modality} must be an object"
    if modality == "text":
        if spec.get("truncationMode") not in ("START", "END", "NONE"):
            return "text.truncationMode is required: START | END | NONE"
        if "value" in spec:
            value = spec["value"]
            if not isinstance(value, str) or not value:
                return "text.value must be a non-empty string"
            if len(value) > MAX_TEXT_CHARS:
                return f"text.value: expected maxLength: {MAX_TEXT_CHARS}"
            return None
        return _check_source(spec.get("source"), "text")
    if spec.get("format") not in FORMATS[modality]:
        return f"{modality}.format must be one of {sorted(FORMATS[modality])}"
    if modality == "image" and spec.get("detailLevel", "STANDARD_IMAGE") not in ("STANDARD_IMAGE", "DOCUMENT_IMAGE"):
        return "image.detailLevel must be STANDARD_IMAGE or DOCUMENT_IMAGE"
    if modality == "video" and spec.get("embeddingMode") not in ("AUDIO_VIDEO_COMBINED", "AUDIO_VIDEO_SEPARATE"):
        return "video.embeddingMode is required: AUDIO_VIDEO_COMBINED | AUDIO_VIDEO_SEPARATE"
    return _check_source(spec.get("source"), modality)


def _with_purpose(vector: list[float], purpose: str) -> list[float]:
    """Tilt non-index purposes slightly, so a wrong purpose mapping shows in the vectors as it would live."""
    if purpose == "GENERIC_INDEX":
        return vector
    tilt = np.asarray(media_vector(purpose, len(vector))) * 0.2
    mixed = np.asarray(vector) + tilt
    return [float(x) for x in mixed / np.linalg.norm(mixed)]


def invoke(model: str, headers: dict[str, str], body: bytes, *, require_auth: bool) -> Answer:
    if require_auth and not any(k.lower() == "authorization" for k in headers):
        return error(403, "AccessDeniedException", "Missing Authentication Token")
    if len(body) > MAX_BODY:
        return _invalid(f"body exceeds {MAX_BODY} bytes")
    base = _base_model(model)
    if base != NOVA:
        other = _bedrock_families.invoke(base, body)
        if other is None:
            return error(400, "ValidationException", "The provided model identifier is invalid.")
        if isinstance(other, str):
            return _invalid(other)
        answer, tokens = other
        embeddings = answer.get("embeddings", [None])  # Titan answers one "embedding"
        items = len(embeddings["float"] if isinstance(embeddings, dict) else embeddings)
        return 200, _headers(tokens, items), answer
    try:
        request = json.loads(body)
    except ValueError:
        return _invalid("Malformed input request: body is not JSON")
    if not isinstance(request, dict):
        return _invalid("Malformed input request: expected an object")
    extra = set(request) - {"schemaVersion", "taskType", "singleEmbeddingParams"}
    if extra:
        return _invalid(f"extraneous key [{sorted(extra)[0]}] is not permitted")
    if request.get("schemaVersion", "nova-multimodal-embed-v1") != "nova-multimodal-embed-v1":
        return _invalid("schemaVersion must be nova-multimodal-embed-v1")
    if request.get("taskType") != "SINGLE_EMBEDDING":
        return _invalid("taskType must be SINGLE_EMBEDDING for InvokeModel")
    params = request.get("singleEmbeddingParams")
    if not isinstance(params, dict):
        return _invalid("singleEmbeddingParams is required")
    problem = _validate(params)
    if problem:
        return _invalid(problem)
    dims = params.get("embeddingDimension", 3072)
    if "text" in params:
        text = params["text"].get("value") or params["text"]["source"]["s3Location"]["uri"]
        vector, kind, tokens = text_vector(text, dims), "TEXT", max(1, len(text.split()))
        vector = _with_purpose(vector, params["embeddingPurpose"])
    else:
        kind = next(m for m in ("image", "audio", "video") if m in params)
        source = params[kind]["source"]
        vector = media_vector(source.get("bytes") or source["s3Location"]["uri"], dims)
        kind, tokens = ("AUDIO_VIDEO_COMBINED" if kind == "video" else kind.upper()), 0
    return 200, _headers(tokens, 1), {"embeddings": [{"embeddingType": kind, "embedding": vector}]}


def _headers(tokens: int, items: int) -> dict[str, str]:
    return {
        "x-amzn-RequestId": "emulated",
        "x-amzn-bedrock-input-token-count": str(tokens),
        "x-amzn-bedrock-invocation-latency": "1",
        "x-omnivec-items": str(items),
    }
