"""Bedrock ``InvokeModel`` bodies of Titan Text Embeddings v2 and Cohere Embed v3 / v4, validated like the service.

Titan answers unit vectors unless ``normalize`` is false; Cohere's are deliberately not unit length
(nothing documents that they are), so an adapter that forgets to normalize shows it.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from ._vectors import decoded_size, media_vector, text_vector

TITAN = "amazon.titan-embed-text-v2:0"
COHERE_V3 = {"cohere.embed-english-v3", "cohere.embed-multilingual-v3"}
COHERE_V4 = "cohere.embed-v4:0"
TITAN_DIMENSIONS = {256, 512, 1024}
V4_DIMENSIONS = {256, 512, 1024, 1536}
INPUT_TYPES = {"search_document", "search_query", "classification", "clustering"}
EMBEDDING_TYPES = {"float", "int8", "uint8", "binary", "ubinary"}
MAX_TEXTS = 96
V3_MAX_CHARS = 2048
TITAN_MAX_CHARS = 50_000
TITAN_MAX_TOKENS = 8192
MAX_IMAGE_BYTES = 5_000_000
COHERE_SCALE = 1.7
"""Length of the emulated Cohere vectors (not 1)."""
Result = tuple[Any, int] | str
"""``(answer body, input tokens)`` or the ValidationException message."""


def _tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4.7))  # Titan's documented English average


def _extra(request: dict[str, Any], allowed: set[str]) -> str | None:
    extra = sorted(set(request) - allowed)
    return f"extraneous key [{extra[0]}] is not permitted" if extra else None


def _tilted(vector: list[float] | np.ndarray, input_type: str) -> np.ndarray:
    """Search queries, classification and clustering lean their own way, as Nova's purposes do in _bedrock."""
    array: np.ndarray = np.asarray(vector, dtype=float)
    if input_type != "search_document":
        array = array + np.asarray(media_vector(input_type, len(vector))) * 0.2
    unit: np.ndarray = array / np.linalg.norm(array)
    return unit


def titan(request: dict[str, Any]) -> Result:
    if problem := _extra(request, {"inputText", "dimensions", "normalize", "embeddingTypes"}):
        return problem
    text = request.get("inputText")
    if not isinstance(text, str) or not text:
        return "inputText: expected a non-empty string"
    if len(text) > TITAN_MAX_CHARS:
        return f"inputText: expected maxLength: {TITAN_MAX_CHARS}"
    if _tokens(text) > TITAN_MAX_TOKENS:
        return (
            f"Too many input tokens. Max input tokens: {TITAN_MAX_TOKENS}, request input token count: {_tokens(text)}"
        )
    dims = request.get("dimensions", 1024)
    if dims not in TITAN_DIMENSIONS or isinstance(dims, bool):
        return "dimensions: must be one of 256, 512, 1024"
    normalize = request.get("normalize", True)
    if not isinstance(normalize, bool):
        return "normalize: expected type: Boolean"
    types = request.get("embeddingTypes", ["float"])
    if not isinstance(types, list) or not types or not set(types) <= {"float", "binary"}:
        return "embeddingTypes: must be a non-empty subset of [float, binary]"
    vector = np.asarray(text_vector(text, dims)) * (1.0 if normalize else 6.5)
    floats = [float(x) for x in vector]
    by_type: dict[str, Any] = {"float": floats} if "float" in types else {}
    if "binary" in types:
        by_type["binary"] = [int(x > 0) for x in floats]
    return {"embedding": floats, "inputTextTokenCount": _tokens(text), "embeddingsByType": by_type}, _tokens(text)


def _data_uri(uri: Any, mimes: set[str]) -> str | None:
    """Problem with an image data URI, or None."""
    if not isinstance(uri, str) or not uri.startswith("data:") or ";base64," not in uri:
        return "images must be data URIs: data:<mime>;base64,<data>"
    mime, _, data = uri[5:].partition(";base64,")
    if mime not in mimes:
        return f"image type {mime} is not supported: use one of {sorted(mimes)}"
    size = decoded_size(data)
    if size <= 0:
        return "image data is not valid base64"
    return f"image exceeds {MAX_IMAGE_BYTES} bytes" if size > MAX_IMAGE_BYTES else None


def _answer(vectors: list[np.ndarray], request: dict[str, Any], texts: list[str]) -> dict[str, Any]:
    floats = [[float(x) for x in v * COHERE_SCALE] for v in vectors]
    if "embedding_types" not in request:
        return {"id": "emulated", "response_type": "embeddings_floats", "embeddings": floats, "texts": texts}
    return {"id": "emulated", "response_type": "embeddings_by_type", "embeddings": {"float": floats}, "texts": texts}


def _common(request: dict[str, Any], truncates: set[str]) -> str | None:
    if "truncate" in request and request["truncate"] not in truncates:
        return f"truncate: must be one of {sorted(truncates)}"
    types = request.get("embedding_types", ["float"])
    if not isinstance(types, list) or not types or not set(types) <= EMBEDDING_TYPES:
        return f"embedding_types: must be a non-empty subset of {sorted(EMBEDDING_TYPES)}"
    return None


def _texts(texts: Any, max_chars: int | None) -> str | None:
    if not isinstance(texts, list) or not 1 <= len(texts) <= MAX_TEXTS:
        return f"texts: expected between 1 and {MAX_TEXTS} strings"
    if not all(isinstance(t, str) and t for t in texts):
        return "texts: every entry must be a non-empty string"
    if max_chars is not None and any(len(t) > max_chars for t in texts):
        return f"texts: expected maxLength: {max_chars}"
    return None


def cohere_v3(request: dict[str, Any]) -> Result:
    if problem := _extra(request, {"texts", "images", "input_type", "truncate", "embedding_types"}) or _common(
        request, {"NONE", "START", "END"}
    ):
        return problem
    if ("texts" in request) == ("images" in request):
        return "exactly one of texts, images is required"
    if "images" in request:
        images = request["images"]
        if not isinstance(images, list) or len(images) != 1:
            return "images: exactly one image per request"
        if request.get("input_type") != "image":
            return "input_type must be image when images are given"
        if problem := _data_uri(images[0], {"image/png", "image/jpeg"}):
            return problem
        return _answer([np.asarray(media_vector(images[0], 1024))], request, []), 0
    if request.get("input_type") not in INPUT_TYPES:
        return f"input_type is required: one of {sorted(INPUT_TYPES)}"
    texts = request["texts"]
    if problem := _texts(texts, V3_MAX_CHARS):
        return problem
    vectors = [_tilted(text_vector(t, 1024), request["input_type"]) for t in texts]
    return _answer(vectors, request, texts), sum(len(t.split()) for t in texts)


def _v4_content(content: Any, dims: int) -> tuple[np.ndarray, int] | str:
    """One fused vector for an ``inputs`` entry (text and image parts summed, as the model fuses them)."""
    if not isinstance(content, list) or not content:
        return "inputs[].content must be a non-empty list"
    vectors, tokens = [], 0
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str) and part["text"]:
            vectors.append(np.asarray(text_vector(part["text"], dims)))
            tokens += len(part["text"].split())
        elif kind == "image_url":
            url = part.get("image_url")
            url = url.get("url") if isinstance(url, dict) else url  # the page shows both spellings
            if problem := _data_uri(url, {"image/png", "image/jpeg", "image/webp", "image/gif"}):
                return problem
            vectors.append(np.asarray(media_vector(str(url), dims)))
        else:
            return "content parts must be {type: text, text} or {type: image_url, image_url}"
    fused = np.sum(vectors, axis=0)
    return fused / np.linalg.norm(fused), tokens


def cohere_v4(request: dict[str, Any]) -> Result:
    allowed = {
        "texts",
        "images",
        "inputs",
        "input_type",
        "truncate",
        "embedding_types",
        "output_dimension",
        "max_tokens",
    }
    if problem := _extra(request, allowed) or _common(request, {"NONE", "LEFT", "RIGHT"}):
        return problem
    if sum(key in request for key in ("texts", "images", "inputs")) != 1:
        return "exactly one of texts, images, inputs is required"
    if request.get("input_type") not in INPUT_TYPES:
        return f"input_type is required: one of {sorted(INPUT_TYPES)}"
    dims = request.get("output_dimension", 1536)
    if dims not in V4_DIMENSIONS or isinstance(dims, bool):
        return "output_dimension: must be one of 256, 512, 1024, 1536"
    max_tokens = request.get("max_tokens", 128_000)
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        return "max_tokens: expected a positive integer"
    if "texts" in request:
        texts = request["texts"]
        if problem := _texts(texts, None):
            return problem
        vectors = [_tilted(text_vector(t, dims), request["input_type"]) for t in texts]
        return _answer(vectors, request, texts), sum(len(t.split()) for t in texts)
    key = "images" if "images" in request else "inputs"
    entries = request[key]
    if not isinstance(entries, list) or not 1 <= len(entries) <= MAX_TEXTS:
        return f"{key}: expected between 1 and {MAX_TEXTS} entries"
    vectors, tokens = [], 0
    for entry in entries:
        content = [{"type": "image_url", "image_url": entry}] if key == "images" else (entry or {}).get("content")
        done = _v4_content(content, dims)
        if isinstance(done, str):
            return done
        vectors.append(_tilted(done[0], request["input_type"]))
        tokens += done[1]
    return _answer(vectors, request, []), tokens


def invoke(base_model: str, body: bytes) -> Result | None:
    """The answer for a Titan or Cohere model id, or None for a model of another family."""
    handler = {TITAN: titan, COHERE_V4: cohere_v4, **dict.fromkeys(COHERE_V3, cohere_v3)}.get(base_model)
    if handler is None:
        return None
    try:
        request = json.loads(body)
    except ValueError:
        return "Malformed input request: body is not JSON"
    if not isinstance(request, dict):
        return "Malformed input request: expected an object"
    return handler(request)
