"""Pure translation between omnivec inputs and the Nova Multimodal Embeddings ``InvokeModel`` wire.

No boto3 here and no I/O: request bodies, response parsing, how an error answer reads (code,
status, retry hint) and which endpoint is in effect are plain functions of plain data, unit-tested
on their own (tests/unit/test_bedrock_wire_pure.py).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from .._translate import EMULATOR_URL_ENV, Upstream, endpoint_identity
from ..errors import UnexpectedResponseError
from ..inputs import Fused, Image, Input, Media, modality_of
from ..types import Intent
from .settings import BedrockSettings

SCHEMA_VERSION = "nova-multimodal-embed-v1"
DIMENSIONS = (256, 384, 1024, 3072)
MAX_BODY_BYTES = 25_000_000
IMAGE_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/gif": "gif", "image/webp": "webp"}
AUDIO_FORMATS = {"audio/mpeg": "mp3", "audio/mp3": "mp3", "audio/wav": "wav", "audio/x-wav": "wav", "audio/ogg": "ogg"}
VIDEO_FORMATS = {
    "video/mp4": "mp4",
    "video/quicktime": "mov",
    "video/x-matroska": "mkv",
    "video/webm": "webm",
    "video/x-flv": "flv",
    "video/mpeg": "mpeg",
    "video/x-ms-wmv": "wmv",
    "video/3gpp": "3gp",
}
_QUERY_PURPOSE = {
    "mixed": "GENERIC_RETRIEVAL",
    "text": "TEXT_RETRIEVAL",
    "image": "IMAGE_RETRIEVAL",
    "video": "VIDEO_RETRIEVAL",
    "document": "DOCUMENT_RETRIEVAL",
    "audio": "AUDIO_RETRIEVAL",
}
_SYMMETRIC = {"classification": "CLASSIFICATION", "clustering": "CLUSTERING", "similarity": "GENERIC_INDEX"}


def embedding_purpose(intent: Intent, settings: BedrockSettings) -> str:
    """``embeddingPurpose`` for an intent. Documents always index with GENERIC_INDEX; queries use the
    purpose matching what the index holds; ``similarity`` compares like with like, so both sides index."""
    if intent == "document":
        return "GENERIC_INDEX"
    if intent == "query":
        return _QUERY_PURPOSE[settings.index_modality]
    return _SYMMETRIC[intent]


def _source(item: Image | Media) -> dict[str, Any]:
    if item.uri is not None:
        return {"s3Location": {"uri": item.uri}}
    return {"bytes": base64.b64encode(item.data).decode("ascii")}


def request_body(item: Input, *, intent: Intent, dimensions: int, settings: BedrockSettings) -> bytes:
    """The JSON body for one input (Nova takes exactly one per call)."""
    params: dict[str, Any] = {"embeddingPurpose": embedding_purpose(intent, settings), "embeddingDimension": dimensions}
    if isinstance(item, Fused):
        raise AssertionError("Nova makes one vector per input; capabilities refuse Fused before any call")
    modality = modality_of(item)
    if isinstance(item, str):
        params["text"] = {"truncationMode": settings.truncation_mode, "value": item}
    elif modality == "image":
        params["image"] = {
            "format": IMAGE_FORMATS[item.mime_type],
            "detailLevel": settings.detail_level,
            "source": _source(item),
        }
    elif modality == "pdf":
        raise AssertionError("PDF pages go to Nova as DOCUMENT_IMAGE images; capabilities refuse raw PDF")
    elif modality == "audio":
        params["audio"] = {"format": AUDIO_FORMATS[item.mime_type], "source": _source(item)}
    else:
        params["video"] = {
            "format": VIDEO_FORMATS[item.mime_type],
            "embeddingMode": settings.video_embedding_mode,
            "source": _source(item),
        }
    body = {"schemaVersion": SCHEMA_VERSION, "taskType": "SINGLE_EMBEDDING", "singleEmbeddingParams": params}
    return json.dumps(body, separators=(",", ":")).encode()


def parse_response(raw: bytes) -> list[float]:
    """The vector from a Nova response body; anything else is an UnexpectedResponseError."""
    try:
        data = json.loads(raw)
        embeddings = data["embeddings"]
        vector = embeddings[0]["embedding"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise UnexpectedResponseError(f"Nova response has no embeddings[0].embedding: {raw[:200]!r}") from exc
    if len(embeddings) != 1:
        raise UnexpectedResponseError(f"Nova returned {len(embeddings)} embeddings for one input")
    return vector  # type: ignore[no-any-return]


def retry_after(headers: Mapping[str, str]) -> float | None:
    """The wait a Bedrock error answer asks for, in seconds (``x-amz-retry-after`` is milliseconds)."""
    lowered = {k.lower(): str(v).strip() for k, v in headers.items()}
    for name, scale in (("x-amz-retry-after", 1000.0), ("retry-after", 1.0)):
        value = lowered.get(name, "")
        try:
            seconds = float(value) / scale
        except ValueError:
            continue
        if seconds >= 0:
            return seconds
    return None


def upstream(response: Mapping[str, Any], fallback: str) -> Upstream:
    """Read a botocore ``ClientError.response``: error code, HTTP status, message, retry hint."""
    error = response.get("Error") or {}
    meta = response.get("ResponseMetadata") or {}
    return Upstream(
        code=error.get("Code") or None,
        status=meta.get("HTTPStatusCode"),
        message=error.get("Message") or fallback,
        retry_after=retry_after(meta.get("HTTPHeaders") or {}),
    )


VENDOR_HOSTS = (".amazonaws.com", ".amazonaws.com.cn")


def endpoint(setting: str | None, environ: Mapping[str, str]) -> str | None:
    """Identity of the runtime endpoint boto3 will call, for the fingerprint (see ``endpoint_identity``).

    Follows boto3's order: the ``endpoint_url`` setting, then ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``,
    then ``AWS_ENDPOINT_URL`` (both ignored when ``AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true``).
    """
    url = setting
    if not url and environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() != "true":
        url = environ.get("AWS_ENDPOINT_URL_BEDROCK_RUNTIME") or environ.get("AWS_ENDPOINT_URL")
    return endpoint_identity(url, emulator_url=environ.get(EMULATOR_URL_ENV), vendor_hosts=VENDOR_HOSTS)
