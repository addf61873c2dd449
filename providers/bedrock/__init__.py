"""Bedrock embeddings (``bedrock:``): Nova Multimodal, Titan Text Embeddings v2, Cohere Embed v3/v4.

The provider module imports boto3, so it loads only when first used; settings load without it.
"""

from __future__ import annotations

from typing import Any

from .settings import BedrockSettings

__all__ = ["ERROR_CODES", "BedrockNovaProvider", "BedrockProvider", "BedrockSettings"]


def __getattr__(name: str) -> Any:
    if name in ("BedrockProvider", "BedrockNovaProvider", "ERROR_CODES"):
        from . import provider

        return getattr(provider, name)
    raise AttributeError(name)
