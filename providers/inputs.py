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

from .errors import InvalidInputError

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

__all__ = ["Fused", "Image", "Input", "Media", "Modality", "modality_of"]

Modality = Literal["text", "image", "audio", "video", "pdf"]

_IMAGE_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
)
_MEDIA_PREFIXES: dict[str, Modality] = {"image/": "image", "audio/": "audio", "video/": "video"}
_REMOTE_SCHEMES = ("s3://", "gs://", "https://")


def _sniff_image(data: bytes) -> str | None:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((mime for magic, mime in _IMAGE_MAGIC if data.startswith(magic)), None)


def _check_decodable(data: bytes, mime: str) -> None:
    """Decode the image fully when Pillow is installed, so truncated files fail before any call."""
    try:
        from PIL import Image as PILImageModule
    except ImportError:  # Pillow is optional; the magic-number check already ran.
        return
    try:
        with PILImageModule.open(io.BytesIO(data)) as img:
            img.load()
    except Exception as exc:  # Pillow raises many unrelated types for corrupt data.
        raise InvalidInputError(
            f"image bytes claim to be {mime} but cannot be decoded ({type(exc).__name__}): "
            "pass a complete, valid image file"
        ) from exc


@dataclass(frozen=True, slots=True)
class Image:
    """An image to embed. Build it with :meth:`from_path`, :meth:`from_bytes`, :meth:`from_pil` or :meth:`from_uri`."""

    data: bytes = field(repr=False)
    mime_type: str
    uri: str | None = None
    """A cloud storage URI (``s3://`` for Bedrock, ``gs://`` for Vertex) used instead of bytes."""

    @property
    def modality(self) -> Modality:
        return "image"

    @property
    def size(self) -> int:
        return len(self.data)

    @classmethod
    def from_bytes(cls, data: bytes, *, validate: bool = True) -> Image:
        """Wrap encoded image bytes (PNG, JPEG, GIF, WEBP, BMP); the format is read from the bytes."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise InvalidInputError(f"Image.from_bytes needs bytes, got {type(data).__name__}")
        data = bytes(data)
        if not data:
            raise InvalidInputError("Image.from_bytes got empty bytes: pass the encoded image file")
        mime = _sniff_image(data)
        if mime is None:
            raise InvalidInputError(
                "bytes are not a PNG, JPEG, GIF, WEBP or BMP image (unknown header): "
                "pass an encoded image file, or use Media(data, mime_type) for other content"
            )
        if validate:
            _check_decodable(data, mime)
        return cls(data=data, mime_type=mime)

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
        image.save(buf, format=format)
        return cls.from_bytes(buf.getvalue(), validate=False)

    @classmethod
    def from_uri(cls, uri: str, *, mime_type: str) -> Image:
        """Refer to an image in cloud storage; only providers that read that store accept it."""
        if not uri.startswith(_REMOTE_SCHEMES):
            raise InvalidInputError(f"image URI {uri!r} must start with one of {', '.join(_REMOTE_SCHEMES)}")
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
        if not isinstance(self.data, (bytes, bytearray)):
            raise InvalidInputError(f"Media.data must be bytes, got {type(self.data).__name__}")
        if not self.data and not self.uri:
            raise InvalidInputError("Media got empty bytes and no uri: pass the file's content")
        if not isinstance(self.mime_type, str) or "/" not in self.mime_type:
            raise InvalidInputError(
                f"Media.mime_type {self.mime_type!r} is not a MIME type such as 'application/pdf' or 'audio/mpeg'"
            )
        object.__setattr__(self, "mime_type", self.mime_type.lower())
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
            if isinstance(part, str) and not part.strip():
                raise InvalidInputError(f"Fused part {i} is an empty string")
        object.__setattr__(self, "parts", tuple(parts))


Input = Union[str, Image, Media, Fused]


def image_count(items: list[Input]) -> int:
    """Images among the inputs, parts of Fused inputs included (what image pricing counts)."""
    return sum(isinstance(part, Image) for item in items for part in (item.parts if isinstance(item, Fused) else (item,)))


def modality_of(item: Part) -> Modality:
    """The modality of one (already validated) input or fused part."""
    if isinstance(item, str):
        return "text"
    if isinstance(item, Image):
        return "image"
    mime = item.mime_type
    if mime == "application/pdf":
        return "pdf"
    for prefix, modality in _MEDIA_PREFIXES.items():
        if mime.startswith(prefix):
            return modality
    raise InvalidInputError(
        f"unsupported MIME type {mime!r}: use application/pdf, image/*, audio/* or video/*"
    )
