"""Find a reranker from a ``"provider:model"`` string, and the configured one (``OMNIVEC_RERANKER``).

The same refs as embedders (``local``/``st`` alias Sentence Transformers); adapters import only when
asked for, so importing omnivec loads no SDK.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError, MissingDependencyError, UnknownProviderError
from ..registry import ALIASES, parse_model_ref
from .settings import BUILTIN_RERANKERS, RerankerInfo

if TYPE_CHECKING:
    from ..config import OmnivecConfig
    from .base import Reranker

__all__ = ["get_reranker", "known_rerankers", "load_reranker"]


def known_rerankers() -> dict[str, RerankerInfo]:
    """Built-in rerankers by registry name."""
    return {info.name: info for info in BUILTIN_RERANKERS}


def get_reranker(ref: str, /, **options: Any) -> Reranker[Any]:
    """Build the reranker named by ``ref`` (``"bedrock:cohere.rerank-v3-5:0"``) with ``options`` (its settings)."""
    parsed = parse_model_ref(ref)
    registry = known_rerankers()
    info = registry.get(parsed.provider)
    if info is None:
        names = sorted([*registry, *(a for a, target in ALIASES.items() if target in registry)])
        close = difflib.get_close_matches(parsed.provider, names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UnknownProviderError(f"unknown reranker {parsed.provider!r} in {ref!r}.{hint} Known: {', '.join(names)}")
    model = parsed.model or info.default_model
    if model is None:
        raise ConfigurationError(f"reranker {info.name!r} has no default model: use '{info.name}:<model>'")
    for module in info.requires:
        if importlib.util.find_spec(module) is None:
            raise MissingDependencyError(
                f'the {info.name!r} reranker needs {module}: pip install "omnivec[{info.extra}]"'
                if info.extra
                else f"the {info.name!r} reranker needs {module}: pip install {module}",
                provider=info.name,
            )
    module_name, _, attr = info.target.partition(":")
    cls = getattr(importlib.import_module(module_name, "omnivec.providers"), attr)
    return cls(model, **options)  # type: ignore[no-any-return]


def load_reranker(ref: str | None = None, /, *, config: OmnivecConfig | None = None, **overrides: Any) -> Reranker[Any]:
    """The reranker the configuration names (``OMNIVEC_RERANKER`` / ``reranker = "..."``), or ``ref``.

    Its ``[rerankers.<provider>]`` section applies; ``overrides`` replace fields of it.
    """
    from ..config import load_config

    config = config or load_config()
    ref = ref if ref is not None else config.reranker
    if ref is None:
        raise ConfigurationError(
            'no reranker configured: set OMNIVEC_RERANKER (or reranker = "..." in omnivec.toml), '
            "e.g. 'local:cross-encoder/ms-marco-MiniLM-L6-v2' or 'bedrock:cohere.rerank-v3-5:0'"
        )
    provider = parse_model_ref(ref).provider
    named = (key.replace("_", "-").lower() for key in config.rerankers)
    sections = {ALIASES.get(key, key): value for key, value in zip(named, config.rerankers.values(), strict=True)}
    unknown = sorted(set(sections) - set(known_rerankers()))
    if unknown:
        raise ConfigurationError(
            f"[rerankers.{unknown[0]}] names no reranker: known {', '.join(sorted(known_rerankers()))}"
        )
    section = {**sections.get(provider, {}), **overrides}
    return get_reranker(ref, **section)
