"""Every bad input fails with a typed error BEFORE any provider call, naming what to fix."""

from __future__ import annotations

import io
import pathlib

import pytest
from PIL import Image as PILImage

from omnivec.providers import (
    Image,
    InputError,
    InvalidInputError,
    InvalidOptionError,
    Media,
    UnsupportedInputError,
)
from omnivec.providers.testing import FakeProvider


def png_bytes() -> bytes:
    buf = io.BytesIO()
    PILImage.new("RGB", (8, 8), "red").save(buf, format="PNG")
    return buf.getvalue()


TEXT_ONLY = {"modalities": frozenset({"text"})}
TEXT_IMAGE = {"modalities": frozenset({"text", "image"})}


def make_bad_inputs() -> list[tuple[str, object, dict, type[Exception]]]:
    png = png_bytes()
    return [
        ("empty string", [""], {}, InvalidInputError),
        ("blank string", ["   \n\t"], {}, InvalidInputError),
        ("None input", None, {}, InvalidInputError),
        ("None item", ["ok", None], {}, InvalidInputError),
        ("int item", [42], {}, InvalidInputError),
        ("float input", 3.14, {}, InvalidInputError),
        ("dict input", {"text": "hi"}, {}, InvalidInputError),
        ("nested list", [["a", "b"]], {}, InvalidInputError),
        ("raw bytes item", [b"hello"], {}, InvalidInputError),
        ("bytes input", png, {}, InvalidInputError),
        ("path item", [pathlib.Path("photo.png")], {}, InvalidInputError),
        ("empty list", [], {}, InvalidInputError),
        ("empty tuple", (), {}, InvalidInputError),
        ("image to a text-only model", ["a", Image.from_bytes(png)], TEXT_ONLY, UnsupportedInputError),
        ("pdf to a text+image model", [Media(b"%PDF-1.4 x", "application/pdf")], TEXT_IMAGE, UnsupportedInputError),
        ("audio to a text-only model", [Media(b"ID3...", "audio/mpeg")], TEXT_ONLY, UnsupportedInputError),
        ("oversize text", ["x" * 101], {"max_input_chars": 100}, InvalidInputError),
        ("object item", [object()], {}, InvalidInputError),
        ("set input", {"a"}, {}, InvalidInputError),
        ("bool item", [True], {}, InvalidInputError),
    ]


BAD = make_bad_inputs()


@pytest.mark.parametrize(("label", "inputs", "options", "error"), BAD, ids=[b[0] for b in BAD])
async def test_bad_input_is_refused_before_any_call(label, inputs, options, error) -> None:  # type: ignore[no-untyped-def]
    provider = FakeProvider(**options)
    with pytest.raises(error) as info:
        await provider.embed(inputs, intent="document")
    assert isinstance(info.value, InputError)
    assert provider.calls == [], f"{label}: the provider was called"
    assert len(str(info.value)) > 20  # says what was wrong


def test_set_input_is_refused_not_reordered() -> None:
    # A set has no order: silently embedding it would scramble the caller's rows.
    provider = FakeProvider()
    with pytest.raises(InvalidInputError):
        provider.embed_sync({"b", "a"}, intent="document")


def test_error_names_the_index() -> None:
    with pytest.raises(InvalidInputError) as info:
        FakeProvider().embed_sync(["fine", "also fine", ""], intent="document")
    assert info.value.index == 2 and "inputs[2]" in str(info.value)


@pytest.mark.parametrize(
    ("factory", "error"),
    [
        (lambda: Image.from_bytes(b"not an image at all"), InvalidInputError),
        (lambda: Image.from_bytes(png_bytes()[:40]), InvalidInputError),  # truncated PNG
        (lambda: Image.from_bytes(b""), InvalidInputError),
        (lambda: Image.from_bytes("a string"), InvalidInputError),  # type: ignore[arg-type]
        (lambda: Image.from_path("/nonexistent/cat.png"), InvalidInputError),
        (lambda: Image.from_uri("ftp://host/cat.png", mime_type="image/png"), InvalidInputError),
        (lambda: Media(b"data", "application/x-unknown"), InvalidInputError),
        (lambda: Media(b"data", "not-a-mime"), InvalidInputError),
        (lambda: Media(b"", "application/pdf"), InvalidInputError),
        (lambda: Media("text", "application/pdf"), InvalidInputError),  # type: ignore[arg-type]
    ],
)
def test_corrupt_or_unknown_media_is_refused_at_construction(factory, error) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error):
        factory()


@pytest.mark.parametrize("dims", [0, -1, 65, 1000, True, 64.5, "many"])
def test_dimensions_not_allowed_fail_at_construction(dims: object) -> None:
    with pytest.raises((InvalidOptionError, ValueError)):
        FakeProvider(dimensions=dims, allowed_dimensions=(32, 64))


def test_unknown_intent_is_refused() -> None:
    provider = FakeProvider()
    with pytest.raises(InvalidOptionError, match="intent="):
        provider.embed_sync(["a"], intent="search")  # type: ignore[arg-type]
    assert provider.calls == []


def test_unknown_option_is_refused() -> None:
    with pytest.raises(ValueError, match="dimension"):
        FakeProvider(dimension=32)


def test_media_limits_are_checked_from_hints() -> None:
    class Limited(FakeProvider):
        @property
        def capabilities(self):  # type: ignore[no-untyped-def]
            from dataclasses import replace

            return replace(super().capabilities, max_seconds={"video": 30, "audio": 30}, max_pdf_pages=6, max_input_bytes=1000)

    provider = Limited()
    too_long = Media(b"\x00" * 10, "video/mp4", duration_s=31)
    too_many_pages = Media(b"%PDF", "application/pdf", pages=7)
    too_big = Media(b"\x00" * 1001, "audio/wav")
    for item in (too_long, too_many_pages, too_big):
        with pytest.raises(InvalidInputError):
            provider.embed_sync([item], intent="document")
    assert provider.calls == []
    assert len(provider.embed_sync([Media(b"\x00" * 10, "video/mp4", duration_s=30)], intent="document")) == 1


def test_pil_images_are_accepted_directly() -> None:
    provider = FakeProvider()
    result = provider.embed_sync([PILImage.new("RGB", (4, 4), "blue")], intent="document")
    assert result.usage.images == 1
