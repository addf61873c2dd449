"""OpenAI embeddings and any server speaking ``/v1/embeddings`` through the ``openai`` SDK (``openai:``).

The provider module imports the SDK, so it loads only when first used; settings load without it.
"""

from __future__ import annotations

from typing import Any

from .settings import OpenAISettings

__all__ = ["ERROR_CODES", "OpenAIProvider", "OpenAISettings"]


def __getattr__(name: str) -> Any:
    if name in ("OpenAIProvider", "ERROR_CODES"):
        from . import provider

        return getattr(provider, name)
    raise AttributeError(name)
