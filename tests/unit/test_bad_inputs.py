"""Every bad input fails with a typed, one-line error BEFORE any provider call, naming what to fix.

Cases run through the public API (inputs, constructors, options), the ``omnivec`` CLI and the
configuration (files and environment). Where a real adapter is involved it points at the wire
emulator, and each case checks the emulator saw 0 requests: refusing late, after paying for a
call, counts as a failure here. CLI cases must exit 2 with exactly one ``error:`` line on stderr.
"""

from __future__ import annotations

import io
import math
import pathlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from PIL import Image as PILImage
from typer.testing import CliRunner

from omnivec.providers import (
    ConfigurationError,
    EmbeddingError,
    Fused,
    Image,
    InputError,
    InvalidInputError,
    InvalidOptionError,
    Media,
    UnknownProviderError,
    UnsupportedInputError,
    get_provider,
    load_config,
    load_provider,
)
from omnivec.providers.bedrock.settings import BedrockSettings
from omnivec.providers.cli import app
from omnivec.providers.emulator import Emulator, EmulatorStats, emulator_env
from omnivec.providers.testing import FakeProvider, allow_remote_calls

SECRET = "AIzaSy-THIS-IS-A-SECRET-0123456789"
REFS = {
    "bedrock": "bedrock:amazon.nova-2-multimodal-embeddings-v1:0",
    "gemini": "gemini:gemini-embedding-2",
    "gemini-001": "gemini:gemini-embedding-001",
}


def encoded(fmt: str = "PNG", mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    PILImage.new(mode, (8, 8), "red").save(buf, format=fmt)
    return buf.getvalue()


def png_bytes() -> bytes:
    return encoded("PNG")


@pytest.fixture(scope="module")
def _one_emulator() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def omnivec_emulator(_one_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """The plugin's ``omnivec_emulator``, with one server for the module and fresh stats per test.

    Same setup (SDKs pointed at it through their own variables, dummy credentials, remote calls
    allowed); one server instead of ~250 keeps this file fast (each server takes 0.5 s to stop).
    """
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "GOOGLE_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI"):
        monkeypatch.delenv(name, raising=False)
    for name, value in emulator_env(_one_emulator.url).items():
        monkeypatch.setenv(name, value)
    _one_emulator.stats = EmulatorStats()
    with allow_remote_calls():
        yield _one_emulator


def test_the_emulator_counts_requests(omnivec_emulator: Emulator) -> None:
    # Guards every "0 requests" assertion below: a request that is sent IS counted.
    get_provider(REFS["gemini"]).embed_sync(["hello"], intent="query")
    get_provider(REFS["bedrock"]).embed_sync(["hello"], intent="query")
    assert omnivec_emulator.stats.requests == 2


def assert_one_line(exc: BaseException, *, secret: str | None = None) -> str:
    message = str(exc)
    assert isinstance(exc, EmbeddingError), f"untyped {type(exc).__name__}: {message}"
    assert "\n" not in message, f"more than one line: {message!r}"
    assert len(message) > 20, f"says too little: {message!r}"
    if secret is not None:
        assert secret not in message and secret not in repr(exc)
        chained = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
        assert chained is None or secret not in str(chained), "the secret is in the chained error"
    return message


def refused(
    call: Callable[[], object], error: type[Exception], emulator: Emulator, *, secret: str | None = None
) -> str:
    with pytest.raises(error) as info:
        call()
    assert emulator.stats.requests == 0, "a request was sent for a bad input"
    return assert_one_line(info.value, secret=secret)


# --- inputs passed to embed(), through real adapters on the emulator and the fake ---------------

TEXT_ONLY = {"modalities": frozenset({"text"})}
TEXT_IMAGE = {"modalities": frozenset({"text", "image"})}
ALL = ("fake", "bedrock", "gemini")


def input_cases() -> list[tuple[str, Callable[[], object], tuple[str, ...], type[Exception]]]:
    png = png_bytes()
    image = Image.from_bytes(png)
    return [
        ("empty string", lambda: [""], ALL, InvalidInputError),
        ("blank string", lambda: ["   \n\t"], ALL, InvalidInputError),
        ("NUL only", lambda: ["\x00"], ALL, InvalidInputError),
        ("many NULs", lambda: ["\x00" * 50], ALL, InvalidInputError),
        ("NULs and spaces", lambda: ["\x00 \x00\t"], ALL, InvalidInputError),
        ("zero-width space only", lambda: ["\u200b"], ALL, InvalidInputError),
        ("zero-width joiners only", lambda: ["\u200c\u200d\u2060"], ALL, InvalidInputError),
        ("BOM only", lambda: ["\ufeff"], ALL, InvalidInputError),
        ("no-break spaces only", lambda: ["\u00a0\u202f\u3000"], ALL, InvalidInputError),
        ("control characters only", lambda: ["\x07\x1b\x7f"], ALL, InvalidInputError),
        ("bidi marks only", lambda: ["\u200e\u200f\u202a"], ALL, InvalidInputError),
        ("hangul filler only", lambda: ["\u3164"], ALL, InvalidInputError),
        ("line separators only", lambda: ["\u2028\u2029"], ALL, InvalidInputError),
        ("blank after good ones", lambda: ["fine", "also fine", "\u200b "], ALL, InvalidInputError),
        ("lone high surrogate", lambda: ["abc\ud800def"], ALL, InvalidInputError),
        ("lone low surrogate", lambda: ["\udc80"], ALL, InvalidInputError),
        (
            "surrogate from surrogateescape",
            lambda: [b"caf\xe9".decode("utf-8", "surrogateescape")],
            ALL,
            InvalidInputError,
        ),
        ("None input", lambda: None, ALL, InvalidInputError),
        ("None item", lambda: ["ok", None], ALL, InvalidInputError),
        ("int item", lambda: [42], ALL, InvalidInputError),
        ("float input", lambda: 3.14, ALL, InvalidInputError),
        ("dict input", lambda: {"text": "hi"}, ALL, InvalidInputError),
        ("nested list", lambda: [["a", "b"]], ALL, InvalidInputError),
        ("raw bytes item", lambda: [b"hello"], ALL, InvalidInputError),
        ("bytes input", lambda: png, ALL, InvalidInputError),
        ("bytearray item", lambda: [bytearray(b"hello")], ALL, InvalidInputError),
        ("memoryview item", lambda: [memoryview(b"hello")], ALL, InvalidInputError),
        ("path item", lambda: [pathlib.Path("photo.png")], ALL, InvalidInputError),
        ("pure path item", lambda: [pathlib.PurePosixPath("notes.txt")], ALL, InvalidInputError),
        ("empty list", lambda: [], ALL, InvalidInputError),
        ("empty tuple", lambda: (), ALL, InvalidInputError),
        ("empty generator", lambda: (x for x in ()), ALL, InvalidInputError),
        ("object item", lambda: [object()], ALL, InvalidInputError),
        ("set input", lambda: {"a"}, ALL, InvalidInputError),
        ("frozenset input", lambda: frozenset({"a", "b"}), ALL, InvalidInputError),
        ("bool item", lambda: [True], ALL, InvalidInputError),
        ("oversize text", lambda: ["word " * 300_000], ("bedrock", "gemini"), InvalidInputError),
        ("PDF to Nova", lambda: [Media(b"%PDF-1.4 x", "application/pdf")], ("bedrock",), UnsupportedInputError),
        ("BMP to Gemini", lambda: [Image.from_bytes(encoded("BMP"))], ("gemini",), UnsupportedInputError),
        ("audio format Nova lacks", lambda: [Media(b"fLaC....", "audio/flac")], ("bedrock",), UnsupportedInputError),
        (
            "video over 30 s to Nova",
            lambda: [Media(b"\x00" * 16, "video/mp4", duration_s=31)],
            ("bedrock",),
            InvalidInputError,
        ),
        (
            "audio over 180 s to Gemini",
            lambda: [Media(b"\x00" * 16, "audio/mpeg", duration_s=181)],
            ("gemini",),
            InvalidInputError,
        ),
        (
            "PDF over 6 pages to Gemini",
            lambda: [Media(b"%PDF-1.4", "application/pdf", pages=7)],
            ("gemini",),
            InvalidInputError,
        ),
        (
            "gs:// image to Nova",
            lambda: [Image.from_uri("gs://bucket/cat.png", mime_type="image/png")],
            ("bedrock",),
            UnsupportedInputError,
        ),
        (
            "s3:// image to Gemini",
            lambda: [Image.from_uri("s3://bucket/cat.png", mime_type="image/png")],
            ("gemini",),
            UnsupportedInputError,
        ),
        ("Fused to Nova", lambda: [Fused("caption", image)], ("bedrock",), UnsupportedInputError),
        ("Fused with 7 images", lambda: [Fused(*[image] * 7)], ("fake", "gemini"), InvalidInputError),
        ("Fused with a surrogate part", lambda: [Fused("ok", "\ud83d")], ("fake", "gemini"), InvalidInputError),
        ("image to a text-only model", lambda: ["a", image], ("gemini-001",), UnsupportedInputError),
        (
            "PDF to a text-only model",
            lambda: [Media(b"%PDF-1.4", "application/pdf")],
            ("gemini-001",),
            UnsupportedInputError,
        ),
    ]


INPUTS = [(name, factory, where, error) for name, factory, wheres, error in input_cases() for where in wheres]


def provider_for(where: str, **options: Any):  # type: ignore[no-untyped-def]
    return FakeProvider(**options) if where == "fake" else get_provider(REFS[where], **options)


@pytest.mark.parametrize(("label", "factory", "where", "error"), INPUTS, ids=[f"{c[2]}: {c[0]}" for c in INPUTS])
def test_bad_input_is_refused_before_any_request(label, factory, where, error, omnivec_emulator) -> None:  # type: ignore[no-untyped-def]
    provider = provider_for(where)
    refused(lambda: provider.embed_sync(factory(), intent="document"), error, omnivec_emulator)
    assert getattr(provider, "calls", []) == [], f"{label}: the provider was called"


FAKE_ONLY = [
    ("image to a text-only fake", lambda: ["a", Image.from_bytes(png_bytes())], TEXT_ONLY, UnsupportedInputError),
    ("pdf to a text+image fake", lambda: [Media(b"%PDF-1.4 x", "application/pdf")], TEXT_IMAGE, UnsupportedInputError),
    ("audio to a text-only fake", lambda: [Media(b"ID3...", "audio/mpeg")], TEXT_ONLY, UnsupportedInputError),
    ("text over max_input_chars", lambda: ["x" * 101], {"max_input_chars": 100}, InvalidInputError),
]


@pytest.mark.parametrize(("label", "factory", "options", "error"), FAKE_ONLY, ids=[c[0] for c in FAKE_ONLY])
async def test_capabilities_refuse_before_any_call(label, factory, options, error) -> None:  # type: ignore[no-untyped-def]
    provider = FakeProvider(**options)
    with pytest.raises(error) as info:
        await provider.embed(factory(), intent="document")
    assert isinstance(info.value, InputError)
    assert provider.calls == [], f"{label}: the provider was called"
    assert_one_line(info.value)


def test_set_input_is_refused_not_reordered() -> None:
    # A set has no order: silently embedding it would scramble the caller's rows.
    provider = FakeProvider()
    with pytest.raises(InvalidInputError):
        provider.embed_sync({"b", "a"}, intent="document")


@pytest.mark.parametrize("blank", ["", "\x00", "\u200b\u200d", "\ufeff ", "\ud800"])
def test_error_names_the_index(blank: str) -> None:
    # An application embedding many texts must learn WHICH one was bad.
    with pytest.raises(InvalidInputError) as info:
        FakeProvider().embed_sync(["fine", "also fine", blank, "fine again"], intent="document")
    assert info.value.index == 2 and "inputs[2]" in str(info.value)


def test_text_that_shows_something_is_not_blank() -> None:
    # Zero-width characters around real text, emoji with joiners, a NUL inside a word: all embedded.
    texts = ["\u200bword\u200b", "👩\u200d💻", "a\x00b", "\ufeffstart of file", "é"]
    result = FakeProvider().embed_sync(texts, intent="document")
    assert result.ok and len(result) == len(texts)


# --- constructors: Image, Media and Fused check themselves -------------------------------------


def constructor_cases() -> list[tuple[str, Callable[[], object]]]:
    png = png_bytes()
    return [
        ("Image.from_bytes garbage", lambda: Image.from_bytes(b"not an image at all")),
        ("Image.from_bytes truncated PNG", lambda: Image.from_bytes(png[:40])),
        ("Image.from_bytes empty", lambda: Image.from_bytes(b"")),
        ("Image.from_bytes str", lambda: Image.from_bytes("a string")),  # type: ignore[arg-type]
        ("Image.from_bytes None", lambda: Image.from_bytes(None)),  # type: ignore[arg-type]
        ("Image.from_path missing", lambda: Image.from_path("/nonexistent/cat.png")),
        ("Image.from_path directory", lambda: Image.from_path("/")),
        ("Image.from_uri ftp", lambda: Image.from_uri("ftp://host/cat.png", mime_type="image/png")),
        ("Image.from_uri scheme only", lambda: Image.from_uri("s3://", mime_type="image/png")),
        ("Image.from_uri not an image type", lambda: Image.from_uri("s3://b/cat.txt", mime_type="text/plain")),
        ("Image.from_uri bad MIME", lambda: Image.from_uri("s3://b/cat.png", mime_type="png")),
        ("Image.from_uri int uri", lambda: Image.from_uri(42, mime_type="image/png")),  # type: ignore[arg-type]
        ("Image.from_pil RGBA as JPEG", lambda: Image.from_pil(PILImage.new("RGBA", (4, 4)), format="JPEG")),
        ("Image() empty bytes", lambda: Image(b"", "image/png")),
        ("Image() wrong MIME for the bytes", lambda: Image(png, "image/jpeg")),
        ("Image() text MIME", lambda: Image(png, "text/plain")),
        ("Image() not a MIME type", lambda: Image(png, "png")),
        ("Image() None MIME", lambda: Image(png, None)),  # type: ignore[arg-type]
        ("Image() garbage bytes", lambda: Image(b"\x00\x01garbage" * 10, "image/png")),
        ("Image() truncated PNG", lambda: Image(png[:40], "image/png")),
        ("Image() str data", lambda: Image("cat.png", "image/png")),  # type: ignore[arg-type]
        ("Image() None data", lambda: Image(None, "image/png")),  # type: ignore[arg-type]
        ("Image() bytes and uri", lambda: Image(png, "image/png", uri="s3://b/cat.png")),
        ("Image() uri with a bad scheme", lambda: Image(b"", "image/png", uri="file:///tmp/cat.png")),
        ("Media empty bytes", lambda: Media(b"", "application/pdf")),
        ("Media str data", lambda: Media("text", "application/pdf")),  # type: ignore[arg-type]
        ("Media unknown family", lambda: Media(b"data", "application/x-unknown")),
        ("Media text MIME", lambda: Media(b"data", "text/plain")),
        ("Media not a MIME type", lambda: Media(b"data", "not-a-mime")),
        ("Media None MIME", lambda: Media(b"data", None)),  # type: ignore[arg-type]
        ("Media duration 'long'", lambda: Media(b"\x00", "audio/wav", duration_s="long")),  # type: ignore[arg-type]
        ("Media duration negative", lambda: Media(b"\x00", "audio/wav", duration_s=-1)),
        ("Media duration zero", lambda: Media(b"\x00", "audio/wav", duration_s=0)),
        ("Media duration NaN", lambda: Media(b"\x00", "audio/wav", duration_s=math.nan)),
        ("Media duration inf", lambda: Media(b"\x00", "video/mp4", duration_s=math.inf)),
        ("Media duration bool", lambda: Media(b"\x00", "video/mp4", duration_s=True)),  # type: ignore[arg-type]
        ("Media pages zero", lambda: Media(b"%PDF", "application/pdf", pages=0)),
        ("Media pages fractional", lambda: Media(b"%PDF", "application/pdf", pages=2.5)),  # type: ignore[arg-type]
        ("Media pages str", lambda: Media(b"%PDF", "application/pdf", pages="3")),  # type: ignore[arg-type]
        ("Media bytes and uri", lambda: Media(b"%PDF", "application/pdf", uri="gs://b/doc.pdf")),
        ("Media uri with a bad scheme", lambda: Media(b"", "application/pdf", uri="ftp://host/doc.pdf")),
        ("Media.from_path missing", lambda: Media.from_path("/nonexistent/a.mp3", mime_type="audio/mpeg")),
        ("Fused with no parts", lambda: Fused()),
        ("Fused with a blank part", lambda: Fused("caption", "  ")),
        ("Fused with a zero-width part", lambda: Fused("\u200b")),
        ("Fused with an int part", lambda: Fused("caption", 7)),  # type: ignore[arg-type]
        ("Fused with a None part", lambda: Fused(None)),  # type: ignore[arg-type]
    ]


CONSTRUCTORS = constructor_cases()


@pytest.mark.parametrize(("label", "factory"), CONSTRUCTORS, ids=[c[0] for c in CONSTRUCTORS])
def test_bad_media_is_refused_at_construction(label, factory, omnivec_emulator) -> None:  # type: ignore[no-untyped-def]
    refused(factory, InvalidInputError, omnivec_emulator)


def test_direct_images_are_normalised_like_built_ones() -> None:
    png = png_bytes()
    assert Image(png, " IMAGE/PNG ").mime_type == "image/png"
    assert Image(encoded("JPEG"), "image/jpg").mime_type == "image/jpeg"  # the common alias
    assert Image(bytearray(png), "image/png").data == png
    assert Image.from_uri("s3://bucket/cat.JPG", mime_type="Image/JPEG").mime_type == "image/jpeg"
    assert Image.from_bytes(png) == Image(png, "image/png")
    assert Media(b"\x00", "Audio/WAV", duration_s=3).duration_s == 3.0


# --- keyword options and embed() arguments -----------------------------------------------------


def option_cases() -> list[tuple[str, Callable[[], object], type[Exception], str | None]]:
    gemini, bedrock = REFS["gemini"], REFS["bedrock"]
    return [
        ("Nova dimensions=-256", lambda: get_provider(bedrock, dimensions=-256), InvalidOptionError, None),
        ("Nova dimensions=100", lambda: get_provider(bedrock, dimensions=100), InvalidOptionError, None),
        ("Nova dimensions='big'", lambda: get_provider(bedrock, dimensions="big"), InvalidOptionError, None),
        (
            "Nova truncation_mode=MIDDLE",
            lambda: get_provider(bedrock, truncation_mode="MIDDLE"),
            InvalidOptionError,
            None,
        ),
        (
            "Nova detail_level lower case",
            lambda: get_provider(bedrock, detail_level="document"),
            InvalidOptionError,
            None,
        ),
        ("Nova index_modality unknown", lambda: get_provider(bedrock, index_modality="pdf"), InvalidOptionError, None),
        ("Nova misspelt option", lambda: get_provider(bedrock, dimension=256), InvalidOptionError, None),
        ("Nova read_timeout_s=0", lambda: get_provider(bedrock, read_timeout_s=0), InvalidOptionError, None),
        ("Nova max_concurrency=0", lambda: get_provider(bedrock, max_concurrency=0), InvalidOptionError, None),
        (
            "Nova retry max_attempts=0",
            lambda: get_provider(bedrock, retry={"max_attempts": 0}),
            InvalidOptionError,
            None,
        ),
        ("Nova retry misspelt", lambda: get_provider(bedrock, retry={"max_attemps": 3}), InvalidOptionError, None),
        ("Nova misspelt secret", lambda: get_provider(bedrock, aws_secret_key=SECRET), InvalidOptionError, SECRET),
        ("Gemini dimensions=-256", lambda: get_provider(gemini, dimensions=-256), InvalidOptionError, None),
        ("Gemini dimensions=64", lambda: get_provider(gemini, dimensions=64), InvalidOptionError, None),
        ("Gemini dimensions=4096", lambda: get_provider(gemini, dimensions=4096), InvalidOptionError, None),
        ("Gemini apikey misspelt", lambda: get_provider(gemini, apikey=SECRET), InvalidOptionError, SECRET),
        ("Gemini api_kye misspelt", lambda: get_provider(gemini, api_kye=SECRET), InvalidOptionError, SECRET),
        ("Gemini api_key not a string", lambda: get_provider(gemini, api_key=12345), InvalidOptionError, None),
        ("Gemini task unknown", lambda: get_provider(gemini, task="retrieval"), InvalidOptionError, None),
        ("Gemini timeout_s negative", lambda: get_provider(gemini, timeout_s=-1), InvalidOptionError, None),
        ("Gemini vertexai='maybe'", lambda: get_provider(gemini, vertexai="maybe"), InvalidOptionError, None),
        (
            "Gemini settings of another provider",
            lambda: get_provider(gemini, settings=BedrockSettings()),
            InvalidOptionError,
            None,
        ),
        (
            "Gemini settings as a dict",
            lambda: get_provider(gemini, settings={"dimensions": 256}),
            InvalidOptionError,
            None,
        ),
        (
            "Gemini settings plus options",
            lambda: get_provider(gemini, settings=get_provider(gemini).settings, dimensions=256),
            InvalidOptionError,
            None,
        ),
        ("local batch_size=0", lambda: get_provider("local", batch_size=0), InvalidOptionError, None),
        ("local truncate_dim=-1", lambda: get_provider("local", truncate_dim=-1), InvalidOptionError, None),
        ("local misspelt option", lambda: get_provider("local", batchsize=8), InvalidOptionError, None),
        ("local device as a number", lambda: get_provider("local", device=0), InvalidOptionError, None),
        ("local modalities empty", lambda: get_provider("local", modalities=[]), InvalidOptionError, None),
        ("load_config(toml_file=5)", lambda: load_config(5), InvalidOptionError, None),
        ("local device='tpu'", lambda: get_provider("local", device="tpu"), InvalidOptionError, None),
        ("local device='cuda:99'", lambda: get_provider("local", device="cuda:99"), InvalidOptionError, None),
        ("local device='CPU'", lambda: get_provider("local", device="CPU"), InvalidOptionError, None),
        (
            "fake dimensions=0",
            lambda: FakeProvider(dimensions=0, allowed_dimensions=(32, 64)),
            InvalidOptionError,
            None,
        ),
        ("fake dimensions=-1", lambda: FakeProvider(dimensions=-1), InvalidOptionError, None),
        (
            "fake dimensions=65 not allowed",
            lambda: FakeProvider(dimensions=65, allowed_dimensions=(32, 64)),
            InvalidOptionError,
            None,
        ),
        ("fake dimensions=True", lambda: FakeProvider(dimensions=True), InvalidOptionError, None),
        ("fake max_concurrency=True", lambda: FakeProvider(max_concurrency=True), InvalidOptionError, None),
        ("Nova dimensions=True", lambda: get_provider(bedrock, dimensions=True), InvalidOptionError, None),
        ("fake dimensions=64.5", lambda: FakeProvider(dimensions=64.5), InvalidOptionError, None),
        ("fake dimensions='many'", lambda: FakeProvider(dimensions="many"), InvalidOptionError, None),
        ("fake max_batch_size=0", lambda: FakeProvider(max_batch_size=0), InvalidOptionError, None),
        ("fake normalize='yes please'", lambda: FakeProvider(normalize="yes please"), InvalidOptionError, None),
        ("fake misspelt dimension", lambda: FakeProvider(dimension=32), InvalidOptionError, None),
        ("fake password option", lambda: FakeProvider(password=SECRET), InvalidOptionError, SECRET),
        (
            "Nova endpoint_url not a URL",
            lambda: get_provider(bedrock, endpoint_url="not a url"),
            InvalidOptionError,
            None,
        ),
        ("Gemini base_url ftp", lambda: get_provider(gemini, base_url="ftp://x"), InvalidOptionError, None),
        (
            "OpenAI base_url without scheme",
            lambda: get_provider("openai", base_url="localhost:8080/v1"),
            InvalidOptionError,
            None,
        ),
        (
            "OpenAI base_url with a password",
            lambda: get_provider("openai", base_url=f"ftp://me:{SECRET}@host/v1"),
            InvalidOptionError,
            SECRET,
        ),
        (
            "Gemini query_template without {text}",
            lambda: get_provider(gemini, query_template="no placeholder"),
            InvalidOptionError,
            None,
        ),
        (
            "Gemini document_template {nope}",
            lambda: get_provider(gemini, document_template="{nope}"),
            InvalidOptionError,
            None,
        ),
        ("Gemini dimensions='256'", lambda: get_provider(gemini, dimensions="256"), InvalidOptionError, None),
        ("Nova read_timeout_s='5'", lambda: get_provider(bedrock, read_timeout_s="5"), InvalidOptionError, None),
        ("fake normalize='yes'", lambda: FakeProvider(normalize="yes"), InvalidOptionError, None),
        ("Gemini vertexai='no'", lambda: get_provider(gemini, vertexai="no"), InvalidOptionError, None),
        (
            "Gemini base_url with a space",
            lambda: get_provider(gemini, base_url="https://x y/"),
            InvalidOptionError,
            None,
        ),
        ("Gemini api_key ''", lambda: get_provider(gemini, api_key=""), InvalidOptionError, None),
        ("Nova region ''", lambda: get_provider(bedrock, region=""), InvalidOptionError, None),
        ("Nova profile blank", lambda: get_provider(bedrock, profile="  "), InvalidOptionError, None),
        ("OpenAI timeout_s inf", lambda: get_provider("openai", timeout_s=math.inf), InvalidOptionError, None),
        ("Nova read_timeout_s inf", lambda: get_provider(bedrock, read_timeout_s=math.inf), InvalidOptionError, None),
        (
            "Gemini retry max_backoff_s inf",
            lambda: get_provider(gemini, retry={"max_backoff_s": math.inf}),
            InvalidOptionError,
            None,
        ),
        ("model reference a number", lambda: load_provider(model=123), ConfigurationError, None),
        ("unknown provider", lambda: get_provider("nosuch:model"), UnknownProviderError, None),
        ("provider with no model after ':'", lambda: get_provider("gemini:"), ConfigurationError, None),
        ("empty model reference", lambda: get_provider(""), ConfigurationError, None),
    ]


OPTIONS = option_cases()


@pytest.mark.parametrize(("label", "factory", "error", "secret"), OPTIONS, ids=[c[0] for c in OPTIONS])
def test_bad_option_is_one_line_and_hides_secrets(label, factory, error, secret, omnivec_emulator) -> None:  # type: ignore[no-untyped-def]
    refused(factory, error, omnivec_emulator, secret=secret)


def test_misspelt_option_suggests_the_right_one() -> None:
    with pytest.raises(InvalidOptionError, match="did you mean 'api_key'") as info:
        get_provider(REFS["gemini"], apikey=SECRET)
    assert SECRET not in str(info.value) and "apikey" in str(info.value)
    with pytest.raises(InvalidOptionError, match="truncation_mode='MIDDLE'"):
        get_provider(REFS["bedrock"], truncation_mode="MIDDLE")  # a plain value is shown, it helps


def call_cases() -> list[tuple[str, dict[str, Any]]]:
    return [
        ("errors='ignore'", {"errors": "ignore"}),
        ("errors=None", {"errors": None}),
        ("errors='RAISE'", {"errors": "RAISE"}),
        ("progress=42", {"progress": 42}),
        ("progress='bar'", {"progress": "bar"}),
        ("intent='search'", {"intent": "search"}),
        ("intent=None", {"intent": None}),
        ("intent='QUERY'", {"intent": "QUERY"}),
    ]


CALLS = [(name, kwargs, where) for name, kwargs in call_cases() for where in ("bedrock", "gemini")]


@pytest.mark.parametrize(("label", "kwargs", "where"), CALLS, ids=[f"{c[2]}: {c[0]}" for c in CALLS])
def test_bad_embed_argument_is_refused_before_any_request(label, kwargs, where, omnivec_emulator) -> None:  # type: ignore[no-untyped-def]
    provider = provider_for(where)
    kwargs = {"intent": "document", **kwargs}
    refused(lambda: provider.embed_sync(["a fine text"], **kwargs), InvalidOptionError, omnivec_emulator)


# --- the CLI: exit 2, one line on stderr, nothing sent -------------------------------------------


def cli_cases(tmp: pathlib.Path) -> list[tuple[str, list[str], str]]:
    (tmp / "latin1.txt").write_bytes("café\n".encode("latin-1"))
    (tmp / "utf16.txt").write_text("hello\nworld\n", encoding="utf-16")
    (tmp / "utf16le.txt").write_bytes("hello\nworld\n".encode("utf-16-le"))
    (tmp / "utf32.txt").write_text("hello\n", encoding="utf-32")
    (tmp / "blank.txt").write_text("\n  \n\u200b\n", encoding="utf-8")
    (tmp / "folder").mkdir()
    (tmp / "not-an-image.png").write_bytes(b"hello, I am text")
    nova, gemini = ["-m", REFS["bedrock"]], ["-m", REFS["gemini"]]
    return [
        ("--file missing", [*gemini, "--file", str(tmp / "missing.txt")], "does not exist"),
        ("--file a directory", [*gemini, "--file", str(tmp / "folder")], "is a directory"),
        ("--file latin-1", [*gemini, "--file", str(tmp / "latin1.txt")], "not UTF-8"),
        ("--file UTF-16 with BOM", [*gemini, "--file", str(tmp / "utf16.txt")], "UTF-16"),
        ("--file UTF-16 without BOM", [*gemini, "--file", str(tmp / "utf16le.txt")], "UTF-16"),
        ("--file UTF-32", [*gemini, "--file", str(tmp / "utf32.txt")], "UTF-32"),
        ("--file only blank lines", [*gemini, "--file", str(tmp / "blank.txt")], "nothing to embed"),
        ("--out in a missing folder (.npy)", [*gemini, "--out", str(tmp / "nodir" / "x.npy"), "hello"], "nodir"),
        ("--out in a missing folder (.jsonl)", [*nova, "--out", str(tmp / "nodir" / "x.jsonl"), "hello"], "nodir"),
        ("--out an existing directory", [*gemini, "--out", str(tmp / "folder"), "hello"], "is a directory"),
        ("--out .csv", [*gemini, "--out", str(tmp / "x.csv"), "hello"], "'.csv': name a file ending in .jsonl"),
        ("--out .NPY.txt", [*nova, "--out", str(tmp / "x.NPY.txt"), "hello"], "'.txt'"),
        ("--out without a suffix", [*gemini, "--out", str(tmp / "vectors"), "hello"], "has no suffix"),
        ("--file - not UTF-8", [*gemini, "--file", "-"], "standard input"),
        ("--dimensions 0", [*gemini, "--dimensions", "0", "hello"], "--dimensions 0"),
        ("--dimensions -5", [*nova, "--dimensions", "-5", "hello"], "--dimensions -5"),
        ("--dimensions abc", [*gemini, "--dimensions", "abc", "hello"], "--dimensions"),
        ("--dimensions not allowed by Nova", [*nova, "--dimensions", "100", "hello"], "dimensions=100"),
        ("--dimensions over Gemini's maximum", [*gemini, "--dimensions", "5000", "hello"], "dimensions=5000"),
        ("-m ''", ["-m", "", "hello"], "--model is empty"),
        ("-m blank", ["-m", "   ", "hello"], "--model is empty"),
        ("-m unknown provider", ["-m", "nosuch:model", "hello"], "nosuch"),
        ("-m provider with no model", ["-m", "gemini:", "hello"], "no model"),
        ("--intent unknown", [*gemini, "--intent", "search", "hello"], "intent='search'"),
        ("empty text argument", [*gemini, ""], "inputs[0]"),
        ("NUL text argument", [*nova, "\x00"], "inputs[0]"),
        ("zero-width text argument", [*gemini, "fine", "\u200b"], "inputs[1]"),
        ("--image missing", [*nova, "--image", str(tmp / "missing.png")], "missing.png"),
        ("--image not an image", [*nova, "--image", str(tmp / "not-an-image.png")], "not a PNG"),
        ("--image a directory", [*gemini, "--image", str(tmp / "folder")], "folder"),
        ("nothing to embed", [*gemini], "nothing to embed"),
        ("unknown option", [*gemini, "--bogus", "hello"], "--bogus"),
    ]


def _cli_case_names() -> list[str]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return [c[0] for c in cli_cases(pathlib.Path(tmp))]


CLI_NAMES = _cli_case_names()


def run_cli(args: list[str], stdin: bytes = b"\xff\xfe\x00binary") -> Any:
    return CliRunner().invoke(app, args, input=stdin)


def assert_clean_exit(out: Any, emulator: Emulator) -> str:
    assert out.exit_code == 2, (out.exit_code, out.stderr, out.exception)
    assert not isinstance(out.exception, Exception) or isinstance(out.exception, SystemExit), out.exception
    lines = out.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    assert "Traceback" not in out.output and out.stdout == ""
    assert emulator.stats.requests == 0, "a request was sent for a bad command line"
    return lines[0]


@pytest.mark.parametrize("label", CLI_NAMES)
def test_bad_command_line_exits_2_with_one_line(label, tmp_path, isolated_cwd, monkeypatch, omnivec_emulator) -> None:  # type: ignore[no-untyped-def]
    args, names = {c[0]: c[1:] for c in cli_cases(tmp_path)}[label]
    line = assert_clean_exit(run_cli(["embed", *args]), omnivec_emulator)
    assert names in line, line


def test_out_is_checked_before_any_embedding(tmp_path, isolated_cwd, monkeypatch, omnivec_emulator) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("OMNIVEC_EMULATOR_URL", raising=False)
    # Many inputs and a bad --out: nothing is embedded, then thrown away.
    texts = [f"text {i}" for i in range(20)]
    line = assert_clean_exit(
        run_cli(["embed", "-m", REFS["bedrock"], "--out", str(tmp_path / "no" / "v.npy"), *texts]), omnivec_emulator
    )
    assert "does not exist" in line


def test_out_format_follows_the_suffix_in_any_case(tmp_path, isolated_cwd) -> None:  # type: ignore[no-untyped-def]
    import json

    import numpy as np

    out = run_cli(["embed", "-m", "fake", "--out", str(tmp_path / "vec.NPY"), "a", "b"])
    assert out.exit_code == 0, out.stderr
    assert np.load(tmp_path / "vec.NPY").shape == (2, 64)  # NumPy, not JSONL, and no "vec.NPY.npy" beside it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vec.NPY"]
    out = run_cli(["embed", "-m", "fake", "--out", str(tmp_path / "v.JSONL"), "a"])
    assert json.loads((tmp_path / "v.JSONL").read_text())["input"] == "a"


def test_result_warnings_reach_the_command_line(isolated_cwd, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # result.warnings were dropped by `omnivec embed`; each is one "warning:" line on stderr now.
    monkeypatch.setenv("OMNIVEC_PLUGINS__FAKE__NORMALIZE", "false")
    out = run_cli(["embed", "-m", "fake", "hi"])
    assert out.exit_code == 0, out.stderr
    assert "warning: fake:fake-embedding always returns normalized vectors" in out.stderr.splitlines()[0]


def test_a_model_name_with_colons_prints_as_given(isolated_cwd) -> None:  # type: ignore[no-untyped-def]
    # Rich read ":x:" as an emoji code: "fake:x:y" printed as "fake❌y".
    out = run_cli(["embed", "-m", "fake:x:y", "hi"])
    assert out.exit_code == 0 and "from fake:x:y " in out.stderr, out.stderr


def test_file_dash_reads_standard_input(isolated_cwd) -> None:  # type: ignore[no-untyped-def]
    import json

    out = run_cli(["embed", "-m", "fake", "--file", "-", "first"], stdin="\ufeffone\n\ntwo\r\n".encode())
    assert out.exit_code == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [row["input"] for row in rows] == ["first", "one", "two"]  # BOM dropped, blank line skipped


def test_unknown_command_is_one_line(isolated_cwd, omnivec_emulator) -> None:  # type: ignore[no-untyped-def]
    assert_clean_exit(run_cli(["embedd", "hello"]), omnivec_emulator)


# --- configuration: files and environment ------------------------------------------------------


def config_cases() -> list[tuple[str, str | bytes | None, dict[str, str], type[Exception], str, str | None]]:
    """(label, omnivec.toml text (or bytes) or None, environment, error, word the message names, hidden secret)."""
    return [
        ("toml binary", b"\x00\xff\xfe\x89PNG", {}, InvalidOptionError, "not UTF-8", None),
        ("toml latin-1", '[gemini]\nproject = "caf\xe9"\n'.encode("latin-1"), {}, InvalidOptionError, "0xe9", None),
        ("env section not JSON", None, {"OMNIVEC_LOCAL": "not json"}, InvalidOptionError, "OMNIVEC_LOCAL", None),
        (
            "env section JSON with a trailing comma",
            None,
            {"OMNIVEC_GEMINI": f'{{"api_key": "{SECRET}",}}'},
            InvalidOptionError,
            "OMNIVEC_GEMINI is not valid JSON",
            SECRET,
        ),
        ("env plugins not JSON", None, {"OMNIVEC_PLUGINS": "{"}, InvalidOptionError, "OMNIVEC_PLUGINS", None),
        ("toml unknown top-level key", 'modle = "fake"\n', {}, InvalidOptionError, "modle", None),
        ("toml misspelt secret", f'[gemini]\napi_kye = "{SECRET}"\n', {}, InvalidOptionError, "api_kye", SECRET),
        (
            "toml truncation_mode MIDDLE",
            '[bedrock]\ntruncation_mode = "MIDDLE"\n',
            {},
            InvalidOptionError,
            "truncation_mode",
            None,
        ),
        ("toml dimensions negative", "[bedrock]\ndimensions = -256\n", {}, InvalidOptionError, "dimensions", None),
        ("toml dimensions a string", '[gemini]\ndimensions = "big"\n', {}, InvalidOptionError, "dimensions", None),
        ("toml model a number", "model = 5\n", {}, InvalidOptionError, "model", None),
        ("toml local batch_size 0", "[local]\nbatch_size = 0\n", {}, InvalidOptionError, "batch_size", None),
        (
            "toml retry max_attempts 0",
            "[bedrock.retry]\nmax_attempts = 0\n",
            {},
            InvalidOptionError,
            "max_attempts",
            None,
        ),
        ("toml unknown section", "[nosuch]\nx = 1\n", {}, InvalidOptionError, "nosuch", None),
        ("toml unknown provider", 'model = "nosuch:model"\n', {}, UnknownProviderError, "nosuch", None),
        ("toml empty model", 'model = ""\n', {}, ConfigurationError, "empty", None),
        ("env misspelt top-level", None, {"OMNIVEC_MODELL": "fake"}, InvalidOptionError, "OMNIVEC_MODELL", None),
        ("env misspelt secret", None, {"OMNIVEC_GEMINI__API_KYE": SECRET}, InvalidOptionError, "api_kye", SECRET),
        (
            "env truncation_mode MIDDLE",
            None,
            {"OMNIVEC_BEDROCK__TRUNCATION_MODE": "MIDDLE"},
            InvalidOptionError,
            "truncation_mode",
            None,
        ),
        ("env dimensions abc", None, {"OMNIVEC_GEMINI__DIMENSIONS": "abc"}, InvalidOptionError, "dimensions", None),
        ("env unknown provider", None, {"OMNIVEC_MODEL": "nosuch:model"}, UnknownProviderError, "nosuch", None),
        (
            "env endpoint_url not a URL",
            None,
            {"OMNIVEC_MODEL": REFS["bedrock"], "OMNIVEC_BEDROCK__ENDPOINT_URL": "bedrock.local"},
            InvalidOptionError,
            "endpoint_url",
            None,
        ),
        ("toml local device tpu", '[local]\ndevice = "tpu"\n', {}, InvalidOptionError, "device='tpu'", None),
        (
            "toml query_template without {text}",
            'model = "gemini"\n[gemini]\nquery_template = "search: "\n',
            {},
            InvalidOptionError,
            "query_template",
            None,
        ),
        ("env provider with no model", None, {"OMNIVEC_MODEL": "gemini:"}, ConfigurationError, "gemini:", None),
        (
            "env api_key empty",
            None,
            {"OMNIVEC_MODEL": REFS["gemini"], "OMNIVEC_GEMINI__API_KEY": ""},
            InvalidOptionError,
            "api_key: is empty",
            None,
        ),
    ]


CONFIGS = config_cases()


@pytest.mark.parametrize(("label", "toml", "env", "error", "names", "secret"), CONFIGS, ids=[c[0] for c in CONFIGS])
def test_bad_configuration_is_one_line(
    label, toml, env, error, names, secret, isolated_cwd, monkeypatch, omnivec_emulator
) -> None:  # type: ignore[no-untyped-def]
    if isinstance(toml, bytes):
        (isolated_cwd / "omnivec.toml").write_bytes(toml)
    elif toml is not None:
        (isolated_cwd / "omnivec.toml").write_text(toml)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    message = refused(
        lambda: load_provider().embed_sync(["hello"], intent="query"), error, omnivec_emulator, secret=secret
    )
    assert names.lower() in message.lower(), message
    # The CLI reads the same configuration: the same mistake is one line and exit 2 there.
    line = assert_clean_exit(run_cli(["embed", "hello"]), omnivec_emulator)
    assert names.lower() in line.lower() and (secret is None or secret not in line)


OVERRIDES = [
    ("override dimensions=0", {"dimensions": 0}, None),
    ("override misspelt secret", {"apikey": SECRET}, SECRET),
    ("override normalize='sometimes'", {"normalize": "sometimes"}, None),
    ("override dimensions='256'", {"dimensions": "256"}, None),
    ("override normalize='yes'", {"normalize": "yes"}, None),
]


@pytest.mark.parametrize(("label", "overrides", "secret"), OVERRIDES, ids=[c[0] for c in OVERRIDES])
def test_bad_load_provider_override_is_one_line(label, overrides, secret, isolated_cwd, omnivec_emulator) -> None:  # type: ignore[no-untyped-def]
    refused(
        lambda: load_provider(model=REFS["gemini"], **overrides), InvalidOptionError, omnivec_emulator, secret=secret
    )


def test_strings_from_the_environment_still_read_as_numbers(isolated_cwd, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # Every environment value is a string: only keyword options from code must take their own type.
    monkeypatch.setenv("OMNIVEC_GEMINI__DIMENSIONS", "256")
    monkeypatch.setenv("OMNIVEC_PLUGINS__FAKE__DIMENSIONS", "32")
    monkeypatch.setenv("OMNIVEC_PLUGINS__FAKE__NORMALIZE", "true")
    assert load_provider(REFS["gemini"]).dimensions == 256
    fake = load_provider("fake", max_concurrency=2)
    assert fake.dimensions == 32 and fake.settings.normalize is True
    with pytest.raises(InvalidOptionError, match="max_concurrency='2' is a string"):
        load_provider("fake", max_concurrency="2")


def test_a_model_that_cannot_be_loaded_is_one_line(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # Hugging Face's offline message spans two lines; it is quoted inside ours, flattened.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EmbeddingError) as info:
        get_provider("local:nosuch-org/nosuch-model")
    assert "nosuch-org/nosuch-model" in assert_one_line(info.value)


def test_templates_that_fill_every_placeholder_are_accepted() -> None:
    provider = get_provider(REFS["gemini"], document_template="{title} / {text}", query_template="find: {text}")
    assert provider.intent_mapping("query") == "prefix='find: {text}'"


def test_missing_config_file_is_one_line(isolated_cwd, omnivec_emulator) -> None:  # type: ignore[no-untyped-def]
    refused(lambda: load_config("missing.toml"), InvalidOptionError, omnivec_emulator)


def test_a_config_path_that_is_a_folder_says_so(isolated_cwd, omnivec_emulator) -> None:  # type: ignore[no-untyped-def]
    assert "is not a file" in refused(lambda: load_config("."), InvalidOptionError, omnivec_emulator)


def test_binary_config_file_is_one_line(isolated_cwd, omnivec_emulator) -> None:  # type: ignore[no-untyped-def]
    (isolated_cwd / "settings.bin").write_bytes(bytes(range(256)))
    message = refused(lambda: load_config("settings.bin"), InvalidOptionError, omnivec_emulator)
    assert "settings.bin" in message and "UTF-8" in message


def test_a_byte_order_mark_before_the_toml_is_accepted(isolated_cwd) -> None:  # type: ignore[no-untyped-def]
    # Notepad and PowerShell write one; it carries no meaning, so the settings after it apply.
    (isolated_cwd / "omnivec.toml").write_bytes(b'\xef\xbb\xbfmodel = "fake"\n[gemini]\ndimensions = 256\n')
    config = load_config()
    assert config.model == "fake" and config.section("gemini").dimensions == 256
    (isolated_cwd / "pyproject.toml").write_bytes(b'\xef\xbb\xbf[tool.omnivec]\nmodel = "fake"\n')
    (isolated_cwd / "omnivec.toml").unlink()
    assert load_config().model == "fake"


# --- limits read from hints, and accepted odd inputs ---------------------------------------------


def test_media_limits_are_checked_from_hints() -> None:
    class Limited(FakeProvider):
        @property
        def capabilities(self):  # type: ignore[no-untyped-def]
            from dataclasses import replace

            return replace(
                super().capabilities, max_seconds={"video": 30, "audio": 30}, max_pdf_pages=6, max_input_bytes=1000
            )

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


def test_a_keyword_embed_does_not_take_is_a_type_error_before_any_call() -> None:
    # Decided (docs/errors.md): a misspelt keyword is Python's own TypeError, naming it, raised
    # before any call; the typed signature lets checkers flag it earlier still.
    provider = FakeProvider()
    with pytest.raises(TypeError, match="'dims'"):
        provider.embed_sync(["a"], intent="query", dims=256)
    assert provider.calls == []


def test_an_unknown_gemini_model_is_sent_with_one_warning(omnivec_emulator) -> None:  # type: ignore[no-untyped-def]
    # Decided (docs/configuration.md): warn once, listing the known models, and keep sending:
    # Google adds models faster than omnivec releases.
    import warnings

    with pytest.warns(
        UserWarning, match=r"gemini:gemini-embedding-9 is not a model omnivec knows \(gemini-embedding-2"
    ):
        get_provider("gemini:gemini-embedding-9")
    with warnings.catch_warnings(record=True) as again:
        warnings.simplefilter("always")
        get_provider("gemini:gemini-embedding-9")
        get_provider(REFS["gemini"])
        get_provider("gemini:models/gemini-embedding-001")
    assert [str(w.message) for w in again] == []


def test_load_provider_of_something_else_than_a_ref_or_config_is_one_line() -> None:
    with pytest.raises(InvalidOptionError, match="load_provider takes a model reference or an OmnivecConfig"):
        load_provider(5)  # type: ignore[call-overload]
