"""Amazon Nova Multimodal Embeddings on Bedrock (``bedrock:``).

The provider module imports boto3, so it loads only when first used; settings load without it.
"""

from __future__ import annotations

from typing import Any

from .settings import BedrockSettings

__all__ = ["ERROR_CODES", "BedrockNovaProvider", "BedrockSettings"]


def __getattr__(name: str) -> Any:
    if name in ("BedrockNovaProvider", "ERROR_CODES"):
        from . import provider

        return getattr(provider, name)
    raise AttributeError(name)
