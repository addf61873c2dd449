"""Find a provider from a ``"provider:model"`` string.

Built-in adapters are imported only when asked for, so importing omnivec loads no SDK. Third-party
providers register in the ``omnivec.providers`` entry-point group (name -> ``module:Class``).
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import warnings
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Final

from .errors import ConfigurationError, MissingDependencyError, UnknownProviderError

if TYPE_CHECKING:
    from .base import EmbeddingProvider

__all__ = ["ENTRY_POINT_GROUP", "ModelRef", "ProviderInfo", "get_provider", "known_providers", "parse_model_ref"]

ENTRY_POINT_GROUP: Final = "omnivec.providers"


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    """A registered provider: where its class lives and what it needs installed."""

    name: str
    target: str
    """``"module:Class"``; modules starting with ``.`` are relative to ``omnivec.providers``."""
    default_model: str | None
    extra: str | None
    """The omnivec extra that installs its SDK, named in the error when it is missing."""
    requires: tuple[str, ...] = ()
    models: tuple[str, ...] = ()


_BUILTIN: Final[dict[str, ProviderInfo]] = {
    info.name: info
    for info in (
        ProviderInfo(
            "sentence-transformers",
            ".sentence_transformers:SentenceTransformersProvider",
            "sentence-transformers/all-MiniLM-L6-v2",
            "local",
            ("sentence_transformers",),
            ("sentence-transformers/all-MiniLM-L6-v2", "any Sentence Transformers name or local path"),
        ),
        ProviderInfo(
            "bedrock",
            ".bedrock.provider:BedrockNovaProvider",
            "amazon.nova-2-multimodal-embeddings-v1:0",
            "bedrock",
            ("boto3",),
            ("amazon.nova-2-multimodal-embeddings-v1:0", "us./eu./apac./global. prefixed ids", "ARNs"),
        ),
        ProviderInfo(
            "gemini",
            ".gemini.provider:GeminiProvider",
            "gemini-embedding-2",
            "gemini",
            ("google.genai",),
            ("gemini-embedding-2", "gemini-embedding-2-preview", "gemini-embedding-001"),
        ),
        ProviderInfo("fake", ".testing:FakeProvider", "fake-embedding", None, (), ("any name",)),
    )
}
ALIASES: Final = {"local": "sentence-transformers", "st": "sentence-transformers"}


@dataclass(frozen=True, slots=True)
class ModelRef:
    provider: str
    model: str | None


def parse_model_ref(ref: str) -> ModelRef:
    """Split ``"provider:model"`` on the FIRST colon (Bedrock ids such as ``...-v1:0`` keep theirs).

    A bare provider name (``"local"``) means that provider's default model.
    """
    if not isinstance(ref, str) or not ref.strip():
        raise ConfigurationError(f"model reference {ref!r} is empty: use 'provider:model', e.g. 'local'")
    provider, sep, model = ref.strip().partition(":")
    provider = provider.strip().lower()
    provider = ALIASES.get(provider, provider)
    if sep and not model.strip():
        raise ConfigurationError(f"model reference {ref!r} has no model after ':'")
    return ModelRef(provider=provider, model=model.strip() or None)


def _entry_point_providers() -> dict[str, ProviderInfo]:
    found: dict[str, ProviderInfo] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in _BUILTIN or ep.name in ALIASES:
            warnings.warn(f"entry point {ep.name!r} clashes with a built-in provider; ignored", stacklevel=3)
            continue
        found[ep.name] = ProviderInfo(ep.name, ep.value, None, None)
    return found


def known_providers() -> dict[str, ProviderInfo]:
    """Built-in and entry-point providers by name."""
    return {**_BUILTIN, **_entry_point_providers()}


def _load_class(info: ProviderInfo) -> type[EmbeddingProvider[Any]]:
    module_name, _, attr = info.target.partition(":")
    package = __name__.rpartition(".")[0] if module_name.startswith(".") else None
    try:
        module = importlib.import_module(module_name, package)
    except ImportError as exc:
        if info.extra is None:
            raise
        raise MissingDependencyError(
            f"the {info.name!r} provider needs its extra: pip install \"omnivec[{info.extra}]\" ({exc})",
            provider=info.name,
        ) from exc
    cls = getattr(module, attr, None)
    if cls is None:
        raise ConfigurationError(f"provider {info.name!r}: {info.target!r} names no class", provider=info.name)
    return cls  # type: ignore[no-any-return]


def get_provider(ref: str, /, **options: Any) -> EmbeddingProvider[Any]:
    """Build the provider named by ``ref`` with ``options`` (its settings fields)."""
    parsed = parse_model_ref(ref)
    registry = known_providers()
    info = registry.get(parsed.provider)
    if info is None:
        names = sorted([*registry, *ALIASES])
        close = difflib.get_close_matches(parsed.provider, names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UnknownProviderError(
            f"unknown provider {parsed.provider!r} in {ref!r}.{hint} Known: {', '.join(names)}"
        )
    for module in info.requires:
        if importlib.util.find_spec(module.partition(".")[0]) is None:
            raise MissingDependencyError(
                f"the {info.name!r} provider needs {module}: pip install \"omnivec[{info.extra}]\"",
                provider=info.name,
            )
    model = parsed.model or info.default_model
    if model is None:
        raise ConfigurationError(f"provider {info.name!r} has no default model: use '{info.name}:<model>'")
    return _load_class(info)(model, **options)
