"""Find a provider from a ``"provider:model"`` string.

Built-in adapters are imported only when asked for, so importing omnivec loads no SDK. Third-party
providers register in the ``omnivec.providers`` entry-point group (name -> ``module:Class``).
"""

from __future__ import annotations

import difflib
import functools
import importlib
import importlib.util
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Final

from .errors import ConfigurationError, MissingDependencyError, UnknownProviderError

if TYPE_CHECKING:
    from .base import EmbeddingProvider
    from .settings import ProviderSettings

__all__ = [
    "ENTRY_POINT_GROUP",
    "ModelRef",
    "ProviderInfo",
    "builtin_providers",
    "get_provider",
    "known_providers",
    "parse_model_ref",
    "sdk_distributions",
]

ENTRY_POINT_GROUP: Final = "omnivec.providers"


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    """A provider's registry row: where its class lives and what it needs.

    Built-in adapters declare theirs as ``PROVIDER`` in their SDK-free ``settings.py``; config
    sections, ``omnivec providers``, the benchmark's version manifest and the shipped contract
    suite all read these rows, so nothing else lists the adapters.
    """

    name: str
    target: str
    """``"module:Class"``; modules starting with ``.`` are relative to ``omnivec.providers``."""
    default_model: str | None
    extra: str | None = None
    """The omnivec extra that installs its SDK, named in the error when it is missing."""
    requires: tuple[str, ...] = ()
    """Importable modules the adapter needs (checked before import, to name the extra)."""
    models: tuple[str, ...] = ()
    """Known model names, for ``omnivec providers``."""
    settings: type[ProviderSettings] | None = None
    """Its settings class; gives it a typed section in the configuration (``[section]``)."""
    section: str | None = None
    """Config section name (an identifier); defaults to ``name``."""
    distributions: tuple[str, ...] = ()
    """pip distributions whose versions decide its vectors (the benchmark's version manifest)."""
    contract_options: Mapping[str, Any] | None = None
    """Options the shipped contract suite runs it with; None leaves it out of our own suite run."""
    emulated: bool = False
    """The contract suite runs it through its real SDK against omnivec's local wire emulator."""
    credential_env: tuple[str, ...] = ()
    """SDK environment variables whose presence shows credentials are at hand (hints only; never read)."""

    @property
    def config_section(self) -> str:
        return self.section or self.name


# THE list of built-in adapters: one row each, ``module:attribute`` of its ProviderInfo.
_BUILTIN_ROWS: Final = (
    ".sentence_transformers.settings:PROVIDER",
    ".bedrock.settings:PROVIDER",
    ".gemini.settings:PROVIDER",
    ".openai.settings:PROVIDER",
    ".testing:FAKE_PROVIDER",
)


@functools.cache
def builtin_providers() -> dict[str, ProviderInfo]:
    """Built-in rows by name (imports only SDK-free settings modules)."""
    rows = (_import_target(target) for target in _BUILTIN_ROWS)
    return {info.name: info for info in rows}


def sdk_distributions() -> tuple[str, ...]:
    """pip distributions that decide built-in providers' vectors, for version manifests."""
    names = (dist for info in builtin_providers().values() for dist in info.distributions)
    return tuple(dict.fromkeys(names))


def _import_target(target: str) -> Any:
    module_name, _, attr = target.partition(":")
    package = __name__.rpartition(".")[0] if module_name.startswith(".") else None
    return getattr(importlib.import_module(module_name, package), attr)


ALIASES: Final = {"local": "sentence-transformers", "st": "sentence-transformers"}


@dataclass(frozen=True, slots=True)
class ModelRef:
    provider: str
    model: str | None


def parse_model_ref(ref: str) -> ModelRef:
    """Split ``"provider:model"`` on the FIRST colon (Bedrock ids such as ``...-v1:0`` keep theirs).

    A bare provider name (``"local"``) means that provider's default model.
    """
    if not isinstance(ref, str):
        raise ConfigurationError(
            f"model reference {ref!r} is of type {type(ref).__name__}, not a string: use 'provider:model', e.g. 'local'"
        )
    if not ref.strip():
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
        if ep.name in builtin_providers() or ep.name in ALIASES:
            warnings.warn(f"entry point {ep.name!r} clashes with a built-in provider; ignored", stacklevel=3)
            continue
        found[ep.name] = ProviderInfo(ep.name, ep.value, None, None)
    return found


def known_providers() -> dict[str, ProviderInfo]:
    """Built-in and entry-point providers by name."""
    return {**builtin_providers(), **_entry_point_providers()}


def _load_class(info: ProviderInfo) -> type[EmbeddingProvider[Any]]:
    module_name, _, attr = info.target.partition(":")
    package = __name__.rpartition(".")[0] if module_name.startswith(".") else None
    try:
        module = importlib.import_module(module_name, package)
    except ImportError as exc:
        if info.extra is None:
            raise
        raise MissingDependencyError(
            f'the {info.name!r} provider needs its extra: pip install "omnivec[{info.extra}]" ({exc})',
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
        raise UnknownProviderError(f"unknown provider {parsed.provider!r} in {ref!r}.{hint} Known: {', '.join(names)}")
    for module in info.requires:
        if importlib.util.find_spec(module.partition(".")[0]) is None:
            raise MissingDependencyError(
                f'the {info.name!r} provider needs {module}: pip install "omnivec[{info.extra}]"',
                provider=info.name,
            )
    model = parsed.model or info.default_model
    if model is None:
        raise ConfigurationError(f"provider {info.name!r} has no default model: use '{info.name}:<model>'")
    return _load_class(info)(model, **options)
