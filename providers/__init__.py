"""omnivec: one embedding interface over Bedrock Nova, Gemini Embedding 2 and Sentence Transformers.

Importing this package loads no cloud SDK and no torch; adapters load when first asked for.

    >>> from omnivec.providers import load_provider
    >>> provider = load_provider()            # OMNIVEC_MODEL picks it; local MiniLM by default
    >>> result = provider.embed_documents_sync(["a cat", "a dog"])   # doctest: +SKIP
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from ._rate import RateLimits
from ._stream import Checkpoint, FileCheckpoint, StreamChunk
from .base import EmbeddingProvider
from .config import DEFAULT_MODEL, OmnivecConfig, load_config, load_provider
from .errors import (
    AuthenticationError,
    ConfigurationError,
    EmbeddingError,
    InputError,
    InvalidInputError,
    InvalidOptionError,
    InvalidRequestError,
    MissingCredentialsError,
    MissingDependencyError,
    ModelNotFoundError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    RemoteCallsBlockedError,
    ServiceUnavailableError,
    UnexpectedResponseError,
    UnknownProviderError,
    UnsupportedInputError,
)
from .inputs import Fused, Image, Input, Media, Modality
from .registry import get_provider, known_providers, parse_model_ref
from .rerank import Reranker, RerankResult, get_reranker, load_reranker
from .settings import ProviderSettings, RetryPolicy
from .types import BatchOutput, CallTiming, Capabilities, EmbeddingResult, Fingerprint, Intent, Usage

try:
    __version__ = version("omnivec")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "DEFAULT_MODEL",
    "AuthenticationError",
    "BatchOutput",
    "CallTiming",
    "Capabilities",
    "Checkpoint",
    "ConfigurationError",
    "EmbeddingError",
    "EmbeddingProvider",
    "EmbeddingResult",
    "FileCheckpoint",
    "Fingerprint",
    "Fused",
    "Image",
    "Input",
    "InputError",
    "Intent",
    "InvalidInputError",
    "InvalidOptionError",
    "InvalidRequestError",
    "Media",
    "MissingCredentialsError",
    "MissingDependencyError",
    "Modality",
    "ModelNotFoundError",
    "OmnivecConfig",
    "ProviderError",
    "ProviderSettings",
    "ProviderTimeoutError",
    "RateLimitError",
    "RateLimits",
    "RemoteCallsBlockedError",
    "RerankResult",
    "Reranker",
    "RetryPolicy",
    "ServiceUnavailableError",
    "StreamChunk",
    "UnexpectedResponseError",
    "UnknownProviderError",
    "UnsupportedInputError",
    "Usage",
    "get_provider",
    "get_reranker",
    "known_providers",
    "load_config",
    "load_provider",
    "load_reranker",
    "parse_model_ref",
]
