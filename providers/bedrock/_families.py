"""Which request body a Bedrock model speaks, chosen by model id (as Pydantic AI does), as plain data.

A :class:`Family` bundles what differs between Nova, Titan Text Embeddings v2 and Cohere Embed v3 /
v4: capabilities, how an intent reaches the wire, how one batch becomes ``InvokeModel`` calls and
how an answer reads. The provider is family-blind. No boto3 and no I/O here
(tests/unit/test_bedrock_families_pure.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidOptionError, UnexpectedResponseError
from ..inputs import Input
from ..types import Capabilities, Intent
from . import _cohere, _wire
from .settings import BedrockSettings

__all__ = ["FAMILIES", "Call", "Family", "Parsed", "base_model", "family_for"]

GEO_PREFIXES = ("us.", "us-gov.", "eu.", "apac.", "jp.", "au.", "ca.", "global.")


@dataclass(frozen=True, slots=True)
class Call:
    """One ``InvokeModel`` body and which items of the batch (by position) it embeds, in answer order."""

    positions: tuple[int, ...]
    body: bytes


@dataclass(frozen=True, slots=True)
class Parsed:
    vectors: list[list[float]]
    tokens: int | None = None
    """Input tokens the body reports (Titan); None leaves the response header to say."""


@dataclass(frozen=True)
class Family:
    name: str
    title: str
    model_ids: tuple[str, ...]
    """Base model ids (after geo prefix and ARN path) that start with one of these speak this family."""
    capabilities: Callable[[BedrockSettings], Capabilities]
    intent_mapping: Callable[[Intent, BedrockSettings], str]
    calls: Callable[[Sequence[Input], Intent, int, BedrockSettings], list[Call]]
    parse: Callable[[bytes, int], Parsed]
    options: Callable[[BedrockSettings], dict[str, Any]]
    """Settings that change this family's vectors, for the fingerprint."""


def base_model(model: str) -> str:
    """``amazon.titan-embed-text-v2:0`` from a geo-prefixed id or a foundation-model / profile ARN."""
    base = model.rsplit("/", 1)[-1] if model.startswith("arn:") else model
    for prefix in GEO_PREFIXES:
        if base.startswith(prefix):
            return base[len(prefix) :]
    return base


def family_for(model: str, override: str | None = None) -> Family:
    """The family a model id speaks (or the ``model_family`` setting); anything else is refused by name."""
    if override is not None:
        return FAMILIES[override]
    base = base_model(model)
    for family in FAMILIES.values():
        if base.startswith(family.model_ids):
            return family
    known = "; ".join(f"{f.title} ({', '.join(f.model_ids)})" for f in FAMILIES.values())
    raise InvalidOptionError(
        f"bedrock:{model} is no model family omnivec speaks: {known}. For an ARN that names none, set model_family"
    )


# Nova (the body lives in _wire.py)


def _nova_capabilities(settings: BedrockSettings) -> Capabilities:
    return Capabilities(
        modalities=frozenset({"text", "image", "audio", "video"}),
        max_batch_size=1,  # InvokeModel embeds exactly one item
        max_concurrency=8,  # sized for default Bedrock on-demand quotas; raise with max_concurrency
        default_dimensions=3072,
        dimensions=_wire.DIMENSIONS,
        normalized=True,
        max_input_chars=50_000,
        # 25 MB body after base64 (4/3 growth) and the JSON around it.
        max_input_bytes=(_wire.MAX_BODY_BYTES - 1024) * 3 // 4,
        mime_types=frozenset({*_wire.IMAGE_FORMATS, *_wire.AUDIO_FORMATS, *_wire.VIDEO_FORMATS}),
        uri_schemes=frozenset({"s3"}),
        max_seconds={"audio": 30, "video": 30},  # sync InvokeModel limit
    )


NOVA = Family(
    name="nova",
    title="Nova Multimodal Embeddings",
    model_ids=("amazon.nova-2-multimodal-embeddings",),
    capabilities=_nova_capabilities,
    intent_mapping=lambda intent, s: f"embeddingPurpose={_wire.embedding_purpose(intent, s)}",
    calls=lambda batch, intent, dims, s: [
        Call((0,), _wire.request_body(batch[0], intent=intent, dimensions=dims, settings=s))
    ],
    parse=lambda raw, n: Parsed([_wire.parse_response(raw)]),
    options=lambda s: {
        "truncation_mode": s.truncation_mode,
        "detail_level": s.detail_level,
        "video_embedding_mode": s.video_embedding_mode,
    },
)


# Titan Text Embeddings v2: {"inputText", "dimensions", "normalize", "embeddingTypes"}, one text per call.

TITAN_DIMENSIONS = (256, 512, 1024)


def titan_body(text: str, *, dimensions: int, settings: BedrockSettings) -> bytes:
    """Titan's ``normalize`` follows the common ``normalize`` option: only ``False`` asks for raw vectors."""
    body = {
        "inputText": text,
        "dimensions": dimensions,
        "normalize": settings.normalize is not False,
        "embeddingTypes": ["float"],
    }
    return json.dumps(body, separators=(",", ":")).encode()


def titan_parse(raw: bytes, n: int) -> Parsed:
    try:
        data = json.loads(raw)
        vector = (data.get("embeddingsByType") or {}).get("float") or data["embedding"]
        tokens = data.get("inputTextTokenCount")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UnexpectedResponseError(f"Titan response has no embedding: {raw[:200]!r}") from exc
    if not isinstance(vector, list) or not vector:
        raise UnexpectedResponseError(f"Titan response has no embedding: {raw[:200]!r}")
    return Parsed([vector], tokens if isinstance(tokens, int) else None)


TITAN = Family(
    name="titan-v2",
    title="Titan Text Embeddings v2",
    model_ids=("amazon.titan-embed-text-v2",),
    capabilities=lambda s: Capabilities(
        modalities=frozenset({"text"}),
        max_batch_size=1,  # one inputText per call
        max_concurrency=8,
        default_dimensions=1024,
        dimensions=TITAN_DIMENSIONS,
        normalized=s.normalize is not False,
        max_input_chars=50_000,
    ),
    # Titan has no input type: query and document vectors are the same (the fingerprint still tells them apart).
    intent_mapping=lambda intent, s: f"{intent}(prompt=None)",
    calls=lambda batch, intent, dims, s: [Call((0,), titan_body(str(batch[0]), dimensions=dims, settings=s))],
    parse=titan_parse,
    options=lambda s: {},
)

COHERE_V3 = Family(
    name="cohere-v3",
    title="Cohere Embed v3",
    model_ids=("cohere.embed-english-v3", "cohere.embed-multilingual-v3"),
    capabilities=_cohere.capabilities_v3,
    intent_mapping=lambda intent, s: f"input_type={_cohere.input_type(intent)}",
    calls=lambda batch, intent, dims, s: [Call(p, b) for p, b in _cohere.calls_v3(batch, intent, s)],
    parse=lambda raw, n: Parsed(_cohere.parse(raw, n)),
    options=lambda s: {"truncation_mode": s.truncation_mode},
)

COHERE_V4 = Family(
    name="cohere-v4",
    title="Cohere Embed v4",
    model_ids=("cohere.embed-v4",),
    capabilities=_cohere.capabilities_v4,
    intent_mapping=lambda intent, s: f"input_type={_cohere.input_type(intent)}",
    calls=lambda batch, intent, dims, s: [Call(p, b) for p, b in _cohere.calls_v4(batch, intent, dims, s)],
    parse=lambda raw, n: Parsed(_cohere.parse(raw, n)),
    options=lambda s: {"truncation_mode": s.truncation_mode, "max_tokens": s.cohere_max_tokens},
)

FAMILIES: dict[str, Family] = {f.name: f for f in (NOVA, TITAN, COHERE_V3, COHERE_V4)}
