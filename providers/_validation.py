"""Input and option checks the core runs before any provider call."""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from contextvars import ContextVar
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ._input_checks import text_problem
from .errors import InvalidInputError, InvalidOptionError, UnsupportedInputError
from .inputs import Fused, Image, Input, Media, Part, modality_of
from .types import INTENTS, Capabilities, Intent

M = TypeVar("M", bound=BaseModel)
options_from_configuration: ContextVar[frozenset[str]] = ContextVar(
    "omnivec_options_from_configuration", default=frozenset()
)
"""Names of keyword options that came from the environment or a file (strings there are normal),
set by ``load_provider`` while it builds a plugin provider from its ``[plugins.<name>]`` section."""
_SECRET_NAME = re.compile(r"key|secret|token|passw|credential|auth", re.IGNORECASE)
ERROR_MODES = ("raise", "collect")


def resolve_settings(cls: type[M], settings: object, options: Mapping[str, Any], *, where: str) -> M:
    """The settings object for a provider: ``settings=`` as given, or built from keyword options.

    Pydantic's own error is multi-line and echoes every value it rejects; this one is one line,
    names each bad field and its fix, and never shows the value of a secret-like or unknown field
    (a misspelt ``apikey=...`` is most likely a key).
    """
    if settings is not None:
        if options:
            raise InvalidOptionError(
                f"{where}: pass either settings=... or keyword options ({', '.join(sorted(options))}), not both"
            )
        if not isinstance(settings, cls):
            raise InvalidOptionError(
                f"{where}: settings= must be a {cls.__name__}, got {type(settings).__name__}: "
                f"build it as {cls.__name__}(...) or pass the options as keywords"
            )
        return settings
    try:
        built = cls(**options)
    except ValidationError as exc:
        raise InvalidOptionError(describe_validation_error(exc, where, cls)) from None  # no values chained
    refuse_lax_coercions(built, options, where=where)
    return built


def refuse_lax_coercions(built: BaseModel, options: Mapping[str, Any], *, where: str) -> None:
    """Keyword options from Python code take their own type: pydantic's lax mode reads True as 1
    (``dimensions=True`` would mean 1 dimension), ``'256'`` as 256 and ``'yes'`` / ``'no'`` as booleans.
    Strings stay accepted from the environment and files, where every value is a string."""
    configured = options_from_configuration.get()
    for name, value in options.items():
        kept = getattr(built, name, value)
        if isinstance(value, bool) and not isinstance(kept, bool):
            raise InvalidOptionError(f"invalid option for {where}: {name}={value!r} is a bool: pass a number")
        if isinstance(value, str) and isinstance(kept, (bool, int, float)) and name not in configured:
            wanted = "True or False" if isinstance(kept, bool) else "a number"
            shown = "..." if _SECRET_NAME.search(name) else repr(value)
            raise InvalidOptionError(f"invalid option for {where}: {name}={shown} is a string: pass {wanted}")


def describe_validation_error(exc: ValidationError, where: str, cls: type[BaseModel] | None = None) -> str:
    """One line for a pydantic error: each bad field and what it should be, secret values never shown."""
    problems = "; ".join(_describe(error, cls) for error in exc.errors())
    return "invalid option for " + where + ": " + " ".join(problems.split())  # one line, whatever a validator wrote


def _describe(error: Mapping[str, Any], cls: type[BaseModel] | None) -> str:
    path = ".".join(str(part) for part in error.get("loc", ())) or "settings"
    if error.get("type") == "extra_forbidden":
        if cls is None or len(error.get("loc", ())) != 1:
            return f"{path!r} is not an option"
        names = sorted({*cls.model_fields, *(f.alias for f in cls.model_fields.values() if f.alias)})
        close = difflib.get_close_matches(path.rpartition(".")[2], names, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else f"known options: {', '.join(names)}"
        return f"{path!r} is not an option ({hint})"
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    value = error.get("input")
    if error.get("type") == "missing" or _SECRET_NAME.search(path) or isinstance(value, Mapping) or _has_login(value):
        return f"{path}: {message}"  # a missing field's "input" is every option given, secrets included
    shown = repr(value)
    return f"{path}={shown if len(shown) <= 60 else shown[:57] + '...'}: {message}"


def _has_login(value: object) -> bool:
    """A URL with ``user:password@`` in it: shown, it would print the password."""
    return isinstance(value, str) and "@" in value.partition("://")[2].partition("/")[0]


def check_call_options(errors: object, progress: object) -> None:
    """Refuse bad ``embed`` keywords up front, so a mistake never surfaces after a request was made."""
    if errors not in ERROR_MODES:
        raise InvalidOptionError(
            f"errors={errors!r} is not allowed: use 'raise' (stop at the first failure) or 'collect' "
            "(finish the rest, failures listed by index)"
        )
    if progress is not None and not callable(progress):
        raise InvalidOptionError(
            f"progress= must be a callable taking the number of inputs done, got {type(progress).__name__}"
        )


def check_intent(intent: object) -> Intent:
    if intent not in INTENTS:
        raise InvalidOptionError(f"intent={intent!r} is not one of {', '.join(INTENTS)}")
    return intent  # type: ignore[return-value]


def check_dimensions(dims: int | None, caps: Capabilities, *, model: str) -> int:
    if dims is None:
        return caps.default_dimensions
    if isinstance(dims, bool) or not isinstance(dims, int) or not caps.allows_dimensions(dims):
        raise InvalidOptionError(
            f"dimensions={dims!r} is not allowed for {model}: choose one of {caps.describe_dimensions()}"
        )
    return dims


def _coerce(item: Any, index: int) -> Input:
    if isinstance(item, (str, Image, Media, Fused)):
        return item
    if item is None:
        raise InvalidInputError(f"inputs[{index}] is None: pass a str, Image or Media", index=index)
    if isinstance(item, (bytes, bytearray, memoryview)):
        raise InvalidInputError(
            f"inputs[{index}] is raw bytes: wrap it as Image.from_bytes(...) or Media(data, mime_type=...)",
            index=index,
        )
    if isinstance(item, os.PathLike):
        raise InvalidInputError(
            f"inputs[{index}] is a path: use Image.from_path(...) or Media.from_path(...) "
            "(a path is never embedded as text)",
            index=index,
        )
    if hasattr(item, "save") and hasattr(item, "mode") and hasattr(item, "size"):  # a PIL image
        return Image.from_pil(item)
    raise InvalidInputError(f"inputs[{index}] has type {type(item).__name__}: pass a str, Image or Media", index=index)


def normalize_inputs(inputs: object) -> list[Input]:
    """Turn what the caller passed into a non-empty list of inputs, refusing anything odd."""
    if inputs is None:
        raise InvalidInputError("inputs is None: pass a str, an Image/Media, or a list of them")
    if isinstance(inputs, (str, Image, Media, Fused)):
        return [inputs]
    if isinstance(inputs, (AbstractSet, Mapping)):
        raise InvalidInputError(
            f"inputs is a {type(inputs).__name__}, which has no order: pass a list so rows match inputs"
        )
    if isinstance(inputs, (bytes, bytearray)) or not isinstance(inputs, Iterable):
        return [_coerce(inputs, 0)]
    items = [_coerce(item, i) for i, item in enumerate(inputs)]
    if not items:
        raise InvalidInputError("inputs is empty: pass at least one item")
    return items


def check_against(items: list[Input], caps: Capabilities, *, model: str) -> None:
    """Refuse inputs this model cannot take, naming the index and the fix."""
    for i, item in enumerate(items):
        if isinstance(item, Fused):
            _check_fused(item, caps, model=model, index=i)
        else:
            _check_one(item, caps, model=model, index=i)


def _check_fused(item: Fused, caps: Capabilities, *, model: str, index: int) -> None:
    if not caps.fuses_parts:
        raise UnsupportedInputError(
            f"inputs[{index}] is Fused, but {model} makes one vector per input: pass the parts separately",
            index=index,
        )
    images = sum(isinstance(part, Image) for part in item.parts)
    if caps.max_images_per_item is not None and images > caps.max_images_per_item:
        raise InvalidInputError(
            f"inputs[{index}] fuses {images} images; {model} takes at most {caps.max_images_per_item} per item",
            index=index,
        )
    for part in item.parts:
        _check_one(part, caps, model=model, index=index)


def _check_one(item: Part, caps: Capabilities, *, model: str, index: int) -> None:
    modality = modality_of(item)
    if modality not in caps.modalities:
        accepted = ", ".join(sorted(caps.modalities))
        raise UnsupportedInputError(
            f"inputs[{index}] is {modality}, which {model} does not accept (it takes: {accepted})", index=index
        )
    if isinstance(item, str):
        problem = text_problem(item)
        if problem is not None:
            raise InvalidInputError(f"inputs[{index}] {problem}", index=index)
        if caps.max_input_chars is not None and len(item) > caps.max_input_chars:
            raise InvalidInputError(
                f"inputs[{index}] has {len(item):,} characters; {model} takes at most "
                f"{caps.max_input_chars:,}: split or shorten it",
                index=index,
            )
        return
    if caps.mime_types is not None and item.mime_type not in caps.mime_types:
        raise UnsupportedInputError(
            f"inputs[{index}] is {item.mime_type}; {model} accepts {', '.join(sorted(caps.mime_types))}", index=index
        )
    if isinstance(item, Media):
        _check_media_length(item, caps, model=model, index=index)
    if item.uri is not None:
        scheme = item.uri.split("://", 1)[0]
        if scheme not in caps.uri_schemes:
            raise UnsupportedInputError(
                f"inputs[{index}] is a {scheme}:// URI, which {model} cannot read: pass the bytes instead", index=index
            )
    elif caps.max_input_bytes is not None and item.size > caps.max_input_bytes:
        raise InvalidInputError(
            f"inputs[{index}] is {item.size:,} bytes; {model} takes at most {caps.max_input_bytes:,} "
            "inline: shrink it or pass a storage URI",
            index=index,
        )


def _check_media_length(item: Media, caps: Capabilities, *, model: str, index: int) -> None:
    limit = caps.max_seconds.get(item.modality)
    if limit is not None and item.duration_s is not None and item.duration_s > limit:
        raise InvalidInputError(
            f"inputs[{index}] lasts {item.duration_s:g} s; {model} takes at most {limit:g} s of "
            f"{item.modality} per item: cut it into segments",
            index=index,
        )
    if caps.max_pdf_pages is not None and item.pages is not None and item.pages > caps.max_pdf_pages:
        raise InvalidInputError(
            f"inputs[{index}] has {item.pages} pages; {model} takes at most {caps.max_pdf_pages}: split the PDF",
            index=index,
        )
