"""What can be embedded: text (``str``), :class:`Image` and generic :class:`Media`.

Images and media are held as bytes plus a MIME type sniffed from their content, so every adapter
sees the same thing whatever the source (path, bytes, PIL image, ``s3://`` or ``gs://`` URI).
Corrupt or unknown content is refused here, before any provider is called.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Union

from ._input_checks import (
    checked_bytes,
    checked_mime,
    checked_number,
    checked_uri,
    decode_images,
    ensure_decodable,
    is_blank_text,
    sniff_image,
)
from .errors import InputError, InvalidInputError

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

__all__ = ["Fused", "Image", "Input", "Media", "Modality", "input_for", "is_blank_text", "modality_of"]

Modality = Literal["text", "image", "audio", "video", "pdf"]
MEDIA_PREFIXES: dict[str, Modality] = {"image/": "image", "audio/": "audio", "video/": "video"}


@dataclass(frozen=True, slots=True)
class Image:
    """An image to embed. Build it with :meth:`from_path`, :meth:`from_bytes`, :meth:`from_pil` or :meth:`from_uri`.

    Built directly, it is checked the same way: bytes that are a PNG, JPEG, GIF, WEBP or BMP whose
    header agrees with ``mime_type`` (and that decode, when Pillow is installed), or an ``image/*``
    storage URI and no bytes.
    """

    data: bytes = field(repr=False)
    mime_type: str
    uri: str | None = None
    """A cloud storage URI (``s3://`` for Bedrock, ``gs://`` for Vertex) used instead of bytes."""

    def __post_init__(self) -> None:
        data = checked_bytes(self.data, "Image")
        mime = checked_mime(self.mime_type, "Image", "'image/png'")
        if not mime.startswith("image/"):
            raise InvalidInputError(
                f"Image.mime_type {mime!r} is not an image type: use Media(data, mime_type) for other content"
            )
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "mime_type", mime)
        if self.uri is not None:
            checked_uri(self.uri, "Image", bool(data))
            return
        if not data:
            raise InvalidInputError("Image got empty bytes and no uri: pass the encoded image file")
        sniffed = sniff_image(data)
        if sniffed is None:
            raise InvalidInputError(
                "bytes are not a PNG, JPEG, GIF, WEBP or BMP image (unknown header): "
                "pass an encoded image file, or use Media(data, mime_type) for other content"
            )
        if sniffed != mime:
            raise InvalidInputError(
                f"Image.mime_type is {mime!r} but the bytes are {sniffed}: pass mime_type={sniffed!r}, "
                "or use Image.from_bytes(data), which reads the type from the bytes"
            )
        if decode_images.get():
            ensure_decodable(data, mime)

    @property
    def modality(self) -> Modality:
        return "image"

    @property
    def size(self) -> int:
        return len(self.data)

    @classmethod
    def from_bytes(cls, data: bytes, *, validate: bool = True) -> Image:
        """Wrap encoded image bytes (PNG, JPEG, GIF, WEBP, BMP); the format is read from the bytes.

        ``validate=False`` skips the full decode (the header is still checked).
        """
        data = checked_bytes(data, "Image.from_bytes")
        if not data:
            raise InvalidInputError("Image.from_bytes got empty bytes: pass the encoded image file")
        mime = sniff_image(data) or "image/unknown"  # an unknown header fails in the constructor
        token = decode_images.set(validate)
        try:
            return cls(data=data, mime_type=mime)
        finally:
            decode_images.reset(token)

    @classmethod
    def from_path(cls, path: str | os.PathLike[str]) -> Image:
        """Read an image file."""
        p = Path(path)
        try:
            data = p.read_bytes()
        except OSError as exc:
            raise InvalidInputError(f"cannot read image file {str(p)!r}: {exc.strerror or exc}") from exc
        return cls.from_bytes(data)

    @classmethod
    def from_pil(cls, image: PILImage, *, format: str = "PNG") -> Image:
        """Encode a PIL image (PNG by default, lossless)."""
        buf = io.BytesIO()
        try:
            image.save(buf, format=format)
        except (OSError, ValueError, KeyError) as exc:  # e.g. an RGBA image saved as JPEG
            raise InvalidInputError(f"cannot encode the PIL image as {format}: {exc}") from exc
        return cls.from_bytes(buf.getvalue(), validate=False)

    @classmethod
    def from_uri(cls, uri: str, *, mime_type: str) -> Image:
        """Refer to an image in cloud storage; only providers that read that store accept it."""
        return cls(data=b"", mime_type=mime_type, uri=uri)

    def to_pil(self) -> PILImage:
        """Decode to a PIL image (needs Pillow: ``pip install "omnivec[local]"``)."""
        from PIL import Image as PILImageModule

        return PILImageModule.open(io.BytesIO(self.data))


@dataclass(frozen=True, slots=True)
class Media:
    """Any other content as bytes plus MIME type: ``application/pdf``, ``audio/*``, ``video/*``.

    ``duration_s`` (audio/video) and ``pages`` (PDF) are optional hints that let the core refuse
    over-long media before sending it; providers that know better still check on their side.
    """

    data: bytes = field(repr=False)
    mime_type: str
    duration_s: float | None = None
    pages: int | None = None
    uri: str | None = None

    def __post_init__(self) -> None:
        data = checked_bytes(self.data, "Media")
        if not data and not self.uri:
            raise InvalidInputError("Media got empty bytes and no uri: pass the file's content")
        mime = checked_mime(self.mime_type, "Media", "'application/pdf' or 'audio/mpeg'")
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "mime_type", mime)
        object.__setattr__(self, "duration_s", checked_number(self.duration_s, "duration_s", integer=False))
        object.__setattr__(self, "pages", checked_number(self.pages, "pages", integer=True))
        if self.uri is not None:
            checked_uri(self.uri, "Media", bool(data))
        modality_of(self)  # refuse unknown families at construction

    @property
    def modality(self) -> Modality:
        return modality_of(self)

    @property
    def size(self) -> int:
        return len(self.data)

    @classmethod
    def from_path(cls, path: str | os.PathLike[str], *, mime_type: str, **hints: Any) -> Media:
        """Read a media file; the MIME type is given, since extensions lie."""
        p = Path(path)
        try:
            data = p.read_bytes()
        except OSError as exc:
            raise InvalidInputError(f"cannot read media file {str(p)!r}: {exc.strerror or exc}") from exc
        return cls(data=data, mime_type=mime_type, **hints)


Part = Union[str, Image, Media]


@dataclass(frozen=True, slots=True)
class Fused:
    """Several parts embedded as ONE vector on purpose, e.g. a product photo and its caption.

    Only models that fuse parts accept it (Gemini Embedding 2); others refuse it before any call.
    To get one vector per part, pass the parts as separate inputs instead.
    """

    parts: tuple[Part, ...]

    def __init__(self, *parts: Part) -> None:
        if len(parts) == 1 and isinstance(parts[0], (list, tuple)):
            parts = tuple(parts[0])
        if not parts:
            raise InvalidInputError("Fused() needs at least one part")
        for i, part in enumerate(parts):
            if not isinstance(part, (str, Image, Media)):
                raise InvalidInputError(f"Fused part {i} has type {type(part).__name__}: use str, Image or Media")
            if isinstance(part, str) and is_blank_text(part):
                raise InvalidInputError(f"Fused part {i} is an empty or blank string: remove it")
        object.__setattr__(self, "parts", tuple(parts))


Input = Union[str, Image, Media, Fused]


def image_count(items: list[Input]) -> int:
    """Images among the inputs, parts of Fused inputs included (what image pricing counts)."""
    return sum(
        isinstance(part, Image) for item in items for part in (item.parts if isinstance(item, Fused) else (item,))
    )


def modality_of(item: Part) -> Modality:
    """The modality of one (already validated) input or fused part."""
    if isinstance(item, str):
        return "text"
    if isinstance(item, Image):
        return "image"
    mime = item.mime_type
    if mime == "application/pdf":
        return "pdf"
    for prefix, modality in MEDIA_PREFIXES.items():
        if mime.startswith(prefix):
            return modality
    raise InvalidInputError(f"unsupported MIME type {mime!r}: use application/pdf, image/*, audio/* or video/*")


def input_for(text: str | None, uri: str | None) -> Input:
    """What to embed for a stored item: its text, or the image its ``file://`` URI points at."""
    if text is not None:
        return text
    if uri is None:
        raise InputError("item has neither text nor uri: its source is missing")
    if uri.startswith("file://"):
        return Image.from_path(uri.removeprefix("file://"))
    raise InputError(f"cannot read {uri!r} again: only file:// image sources can be re-embedded")
