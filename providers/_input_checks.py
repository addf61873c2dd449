"""Checks behind :mod:`.inputs`: what counts as blank text, image sniffing, field validation.

Kept apart so ``inputs`` stays a readable list of the input types; everything here raises
:class:`InvalidInputError` with the field named, before any provider sees the input.
"""

from __future__ import annotations

import functools
import io
import math
import numbers
import re
import unicodedata
from contextvars import ContextVar
from typing import cast

from .errors import InvalidInputError

_IMAGE_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
)
_MIME_ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/x-ms-bmp": "image/bmp",
    "image/x-bmp": "image/bmp",
    "image/x-png": "image/png",
}
_MIME = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")
REMOTE_SCHEMES = ("s3://", "gs://", "https://")
decode_images: ContextVar[bool] = ContextVar("omnivec_decode_images", default=True)
"""False only inside ``from_pil`` / ``from_bytes(validate=False)``, whose bytes need no decoding test."""


@functools.cache
def _invisible_chars() -> str:
    """Characters that show nothing: whitespace, controls (NUL...), format and zero-width characters.

    Computed once, on the first text checked (about 10 ms), from the Unicode categories rather
    than a hand-made list, plus the default-ignorable fillers and variation selectors.
    """
    planes = (range(0x10000), range(0xE0000, 0xE0080), range(0xE0100, 0xE01F0))
    chars = [
        chr(c)
        for plane in planes
        for c in plane
        if unicodedata.category(chr(c)) in ("Cc", "Cf", "Zs", "Zl", "Zp") or chr(c).isspace()
    ]
    chars += ["\u034f", "\u115f", "\u1160", "\u3164", "\uffa0", *map(chr, range(0xFE00, 0xFE10))]
    chars += [chr(c) for c in range(0xE0100, 0xE01F0)]
    return "".join(dict.fromkeys(chars))


def is_blank_text(text: str) -> bool:
    """True when ``text`` shows nothing: empty, whitespace, NUL and other control characters,
    zero-width spaces/joiners, BOMs. Such text carries no meaning, so embedding it is refused."""
    return not text.strip() or not text.strip(_invisible_chars())


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be embedded (blank, or not valid Unicode), or None when it can."""
    if is_blank_text(text):
        return "is an empty or blank string (only whitespace, control or zero-width characters): remove it"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            return (
                f"contains a lone surrogate (U+{ord(text[exc.start]):04X} at character {exc.start}), "
                "which is not valid Unicode: decode the source with errors='replace' or fix it"
            )
    return None


def sniff_image(data: bytes) -> str | None:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((mime for magic, mime in _IMAGE_MAGIC if data.startswith(magic)), None)


def ensure_decodable(data: bytes, mime: str) -> None:
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


def checked_bytes(data: object, owner: str) -> bytes:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        hint = "; for text pass the str itself, for a file use .from_path(...)" if isinstance(data, str) else ""
        raise InvalidInputError(f"{owner}.data must be bytes, got {type(data).__name__}{hint}")
    return bytes(data)


def checked_mime(mime: object, owner: str, example: str) -> str:
    if not isinstance(mime, str) or not _MIME.match(mime.strip().lower()):
        raise InvalidInputError(f"{owner}.mime_type {mime!r} is not a MIME type such as {example}")
    mime = mime.strip().lower()
    return _MIME_ALIASES.get(mime, mime)


def checked_uri(uri: object, owner: str, has_data: bool) -> None:
    if not isinstance(uri, str) or not uri.startswith(REMOTE_SCHEMES) or uri.endswith("://"):
        raise InvalidInputError(f"{owner} URI {uri!r} must start with one of {', '.join(REMOTE_SCHEMES)}")
    if has_data:
        raise InvalidInputError(f"{owner} got both bytes and uri={uri!r}: pass one of them")


def checked_number(value: object, name: str, *, integer: bool) -> float | int | None:
    if value is None:
        return None
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind) or not math.isfinite(value) or value <= 0:
        wanted = "a whole number" if integer else "a number of seconds"
        raise InvalidInputError(f"Media.{name}={value!r} must be {wanted} above 0, or None when unknown")
    number = cast(float, value)  # a finite Real (or Integral) now
    return int(number) if integer else float(number)
