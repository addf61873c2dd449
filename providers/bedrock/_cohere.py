"""Cohere Embed v3 and v4 on Bedrock: request bodies and answers as plain data (no boto3, no I/O).

v3 (``cohere.embed-english-v3``, ``-multilingual-v3``): ``{"texts": [≤ 96], "input_type", "truncate",
"embedding_types"}``; an image goes alone, as ``{"images": [one data URI], "input_type": "image"}``.
v4 (``cohere.embed-v4:0``): the same ``texts``, or ``inputs`` of interleaved text and image parts (one
vector per input, so images and :class:`Fused` items travel in one call), ``output_dimension`` and
``truncate`` spelled LEFT / RIGHT.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

from ..errors import UnexpectedResponseError
from ..inputs import Fused, Image, Input
from ..types import Capabilities, Intent
from .settings import BedrockSettings

MAX_TEXTS = 96
V3_MAX_CHARS = 2048
V4_MAX_CHARS = 128_000 * 4  # a ~128k-token context at about 4 characters a token
MAX_IMAGE_BYTES = 5_000_000
V3_IMAGE_TYPES = frozenset({"image/png", "image/jpeg"})
V4_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"})
V4_DIMENSIONS = (256, 512, 1024, 1536)
_INPUT_TYPES = {
    "query": "search_query",
    "document": "search_document",
    "similarity": "search_document",  # like with like: both sides as documents (Nova does the same)
    "classification": "classification",
    "clustering": "clustering",
}
_V4_TRUNCATE = {"START": "LEFT", "END": "RIGHT", "NONE": "NONE"}


def input_type(intent: Intent) -> str:
    return _INPUT_TYPES[intent]


def capabilities_v3(settings: BedrockSettings) -> Capabilities:
    return Capabilities(
        modalities=frozenset({"text", "image"}),
        max_batch_size=MAX_TEXTS,
        max_concurrency=4,
        default_dimensions=1024,
        dimensions=(1024,),
        normalized=False,  # not documented as unit length: omnivec normalizes unless normalize=False
        max_input_chars=V3_MAX_CHARS,
        max_input_bytes=MAX_IMAGE_BYTES,
        mime_types=V3_IMAGE_TYPES,
    )


def capabilities_v4(settings: BedrockSettings) -> Capabilities:
    return Capabilities(
        modalities=frozenset({"text", "image"}),
        max_batch_size=MAX_TEXTS,
        max_concurrency=4,
        default_dimensions=1536,
        dimensions=V4_DIMENSIONS,
        normalized=False,
        max_input_chars=V4_MAX_CHARS,
        max_input_bytes=MAX_IMAGE_BYTES,
        mime_types=V4_IMAGE_TYPES,
        fuses_parts=True,
    )


def data_uri(image: Image) -> str:
    return f"data:{image.mime_type};base64,{base64.b64encode(image.data).decode('ascii')}"


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def calls_v3(batch: Sequence[Input], intent: Intent, settings: BedrockSettings) -> list[tuple[tuple[int, ...], bytes]]:
    """All texts in one call; each image in a call of its own (v3 takes one image, never beside texts)."""
    texts = [i for i, item in enumerate(batch) if isinstance(item, str)]
    calls = []
    if texts:
        body = {
            "texts": [batch[i] for i in texts],
            "input_type": input_type(intent),
            "truncate": settings.truncation_mode,
            "embedding_types": ["float"],
        }
        calls.append((tuple(texts), _json(body)))
    for i, item in enumerate(batch):
        if isinstance(item, Image):
            body = {"images": [data_uri(item)], "input_type": "image", "embedding_types": ["float"]}
            calls.append(((i,), _json(body)))
    return calls


def _content(item: Input) -> list[dict[str, Any]]:
    parts = item.parts if isinstance(item, Fused) else (item,)
    content: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, str):
            content.append({"type": "text", "text": part})
        elif isinstance(part, Image):
            content.append({"type": "image_url", "image_url": {"url": data_uri(part)}})
        else:
            raise AssertionError("Cohere v4 takes text and images; capabilities refuse other media before any call")
    return content


def calls_v4(
    batch: Sequence[Input], intent: Intent, dimensions: int, settings: BedrockSettings
) -> list[tuple[tuple[int, ...], bytes]]:
    """One call: ``texts`` when the batch is all text, else ``inputs`` (one content list, one vector each)."""
    body: dict[str, Any] = {"input_type": input_type(intent)}
    if all(isinstance(item, str) for item in batch):
        body["texts"] = list(batch)
    else:
        body["inputs"] = [{"content": _content(item)} for item in batch]
    body.update(
        {
            "truncate": _V4_TRUNCATE[settings.truncation_mode],
            "embedding_types": ["float"],
            "output_dimension": dimensions,
        }
    )
    if settings.cohere_max_tokens is not None:
        body["max_tokens"] = settings.cohere_max_tokens
    return [(tuple(range(len(batch))), _json(body))]


def parse(raw: bytes, expected: int) -> list[list[float]]:
    """The float vectors of a Cohere answer: ``embeddings`` keyed by type, or a plain list (no ``embedding_types``)."""
    try:
        data = json.loads(raw)
        embeddings = data["embeddings"]
        vectors = embeddings["float"] if isinstance(embeddings, dict) else embeddings
    except (ValueError, KeyError, TypeError) as exc:
        raise UnexpectedResponseError(f"Cohere response has no float embeddings: {raw[:200]!r}") from exc
    if not isinstance(vectors, list) or len(vectors) != expected:
        count = len(vectors) if isinstance(vectors, list) else type(vectors).__name__
        raise UnexpectedResponseError(f"Cohere returned {count} embeddings for {expected} inputs")
    return vectors
