"""Errors of the vector-store layer, in the same tree as every other omnivec error."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import ConfigurationError, EmbeddingError

__all__ = ["CollectionNotFoundError", "MigrationIncompleteError", "StoreError", "VectorSpaceMismatchError"]


def describe(fingerprint: Mapping[str, Any]) -> str:
    """``provider:model/dims[,normalized][ options] #hash`` — short enough for one error line."""
    from .base import fingerprint_hash

    options = fingerprint.get("options") or {}
    extra = f" options={dict(options)}" if options else ""
    norm = ",normalized" if fingerprint.get("normalized") else ""
    return (
        f"{fingerprint.get('provider')}:{fingerprint.get('model')}/{fingerprint.get('dimensions')}{norm}"
        f"{extra} #{fingerprint_hash(fingerprint)}"
    )


class VectorSpaceMismatchError(ConfigurationError):
    """A provider whose vectors live in another space than the collection's was about to write or query.

    Raised before anything is embedded, written or searched. ``stored`` and ``given`` are the two
    fingerprints (as dicts).
    """

    def __init__(self, collection: str, action: str, stored: Mapping[str, Any], given: Mapping[str, Any]) -> None:
        self.collection, self.action = collection, action
        self.stored, self.given = dict(stored), dict(given)
        super().__init__(
            f"collection {collection!r} holds vectors of {describe(stored)}; refusing to {action} with "
            f"{describe(given)}: leave the model out (no --model / provider=) to use the collection's own, "
            f"or move the collection: 'omnivec migrate {collection} --to {given.get('provider')}:{given.get('model')}"
            + (f" --dimensions {given['dimensions']}'" if given.get("dimensions") else "'")
        )


class CollectionNotFoundError(ConfigurationError, LookupError):
    """No collection (or version) of that name exists in the configured store."""


class StoreError(EmbeddingError):
    """The store itself failed (unreachable server, broken table); the message says which and how to fix it."""


class MigrationIncompleteError(EmbeddingError):
    """A migration stopped before the end (spend cap, items that failed for good); running it again resumes."""

    def __init__(self, message: str, *, failed_ids: list[str] | None = None) -> None:
        super().__init__(message)
        self.failed_ids = list(failed_ids or [])
