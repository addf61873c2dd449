"""Local Sentence Transformers provider (``local:`` / ``st:`` / ``sentence-transformers:``)."""

from .provider import DEFAULT_LOCAL_MODEL, SentenceTransformersProvider
from .settings import SentenceTransformersSettings

__all__ = ["DEFAULT_LOCAL_MODEL", "SentenceTransformersProvider", "SentenceTransformersSettings"]
