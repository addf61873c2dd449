"""What the LangChain and LlamaIndex adapters share: building the provider or reranker, intents, images.

Kept free of any framework import, so each adapter module only pulls in its own framework.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping
from io import BytesIO
from pathlib import Path
from typing import Any

from ..base import EmbeddingProvider
from ..config import load_provider
from ..errors import InvalidInputError, InvalidOptionError
from ..inputs import Image
from ..rerank import Reranker, load_reranker
from ..types import INTENTS, EmbeddingResult, Intent

__all__ = [
    "checked_intent",
    "checked_top_n",
    "rerank_query",
    "resolve_provider",
    "resolve_reranker",
    "to_image",
    "to_lists",
]

_URI_SCHEMES = ("s3://", "gs://", "https://")


def resolve_provider(
    model: str | EmbeddingProvider[Any] | None, options: Mapping[str, Any], *, where: str
) -> EmbeddingProvider[Any]:
    """The provider an adapter wraps: the one passed in, or the one a model reference names.

    A reference goes through :func:`load_provider`, so ``omnivec.toml`` / ``OMNIVEC_*`` settings
    apply exactly as they do for plain omnivec code; ``None`` means ``OMNIVEC_MODEL`` (or the
    local default). Options given beside a ready provider would be silently ignored, so they fail.
    """
    if isinstance(model, EmbeddingProvider):
        if options:
            raise InvalidOptionError(
                f"{where}: options ({', '.join(sorted(options))}) apply only to a model reference; "
                "set them when you build the provider you pass, or pass its 'provider:model' string instead"
            )
        return model
    if model is None or isinstance(model, str):
        return load_provider(model=model, **options)
    raise InvalidOptionError(
        f"{where}: model must be a 'provider:model' reference (e.g. 'local') or an EmbeddingProvider, "
        f"got {type(model).__name__}"
    )


def resolve_reranker(reranker: str | Reranker[Any] | None, options: Mapping[str, Any], *, where: str) -> Reranker[Any]:
    """The reranker an adapter wraps: the one passed in, or the one a reference (or ``OMNIVEC_RERANKER``) names."""
    if isinstance(reranker, Reranker):
        if options:
            raise InvalidOptionError(
                f"{where}: options ({', '.join(sorted(options))}) apply only to a reranker reference; "
                "set them when you build the reranker you pass, or pass its 'provider:model' string instead"
            )
        return reranker
    if reranker is None or isinstance(reranker, str):
        return load_reranker(reranker, **options)
    raise InvalidOptionError(
        f"{where}: reranker must be a 'provider:model' reference (e.g. 'bedrock:cohere.rerank-v3-5:0') "
        f"or an omnivec Reranker, got {type(reranker).__name__}"
    )


def checked_top_n(value: object, *, where: str) -> int | None:
    """``top_n`` refused at construction when it is not a whole number >= 1 (None keeps every document)."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise InvalidOptionError(f"{where}: top_n must be a whole number >= 1 or None (keep all), got {value!r}")
    return value  # type: ignore[return-value]


def rerank_query(query: object, *, where: str) -> str:
    """The query to rank against, or one line saying it is missing (checked before the empty-list shortcut)."""
    if not isinstance(query, str) or not query.strip():
        raise InvalidInputError(f"{where}: reranking needs a non-empty query string, got {query!r}")
    return query


def checked_intent(value: str, field: str, *, where: str) -> Intent:
    """An intent option, refused at construction when misspelt (not at the first call)."""
    if value not in INTENTS:
        raise InvalidOptionError(f"{where}: {field}={value!r} is not an intent: use one of {', '.join(INTENTS)}")
    return value  # type: ignore[return-value]


def to_lists(result: EmbeddingResult) -> list[list[float]]:
    """Plain Python floats, as both frameworks expect (``np.float32`` is not a ``float``)."""
    return result.vectors.tolist()  # type: ignore[no-any-return]


def to_image(source: str | Path | BytesIO | bytes | Image) -> Image:
    """A LlamaIndex ``ImageType`` (path string or ``BytesIO``) as an omnivec :class:`Image`.

    ``s3://`` / ``gs://`` / ``https://`` strings stay references for the providers that read them;
    their MIME type comes from the file extension.
    """
    if isinstance(source, Image):
        return source
    if isinstance(source, BytesIO):
        return Image.from_bytes(source.getvalue())
    if isinstance(source, (bytes, bytearray)):
        return Image.from_bytes(bytes(source))
    if isinstance(source, str) and source.startswith(_URI_SCHEMES):
        mime, _ = mimetypes.guess_type(source)
        if mime is None or not mime.startswith("image/"):
            raise InvalidInputError(
                f"cannot tell the image type of {source!r} from its extension: "
                "pass omnivec Image.from_uri(uri, mime_type=...) instead"
            )
        return Image.from_uri(source, mime_type=mime)
    if isinstance(source, (str, Path)):
        return Image.from_path(source)
    raise InvalidInputError(
        f"image must be a file path, a BytesIO, bytes or an omnivec Image, got {type(source).__name__}"
    )
