"""Gemini Embedding 2 through google-genai (``gemini:``).

The provider module imports google-genai, so it loads only when first used; settings load without it.
"""

from __future__ import annotations

from typing import Any

from .settings import GeminiSettings

__all__ = ["GOOGLE_STATUS", "BatchJobFailedError", "GeminiBatchJob", "GeminiProvider", "GeminiSettings"]


def __getattr__(name: str) -> Any:
    if name in ("GeminiProvider", "GOOGLE_STATUS"):
        from . import provider

        return getattr(provider, name)
    if name in ("GeminiBatchJob", "BatchJobFailedError"):
        from . import _batch

        return getattr(_batch, name)
    raise AttributeError(name)
