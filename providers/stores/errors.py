"""Errors of the vector-store layer, in the same tree as every other omnivec error."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import ConfigurationError, EmbeddingError
from ..types import Fingerprint

__all__ = [
    "CollectionNotFoundError",
    "MigrationIncompleteError",
    "SpaceOverrideWarning",
    "StoreError",
    "VectorSpaceMismatchError",
]


def describe(fingerprint: Mapping[str, Any]) -> str:
    """``provider:model/dims[,normalized][ options] #hash`` — short enough for one error line."""
    options = fingerprint.get("options") or {}
    extra = f" options={dict(options)}" if options else ""
    norm = ",normalized" if fingerprint.get("normalized") else ""
    return (
        f"{fingerprint.get('provider')}:{fingerprint.get('model')}/{fingerprint.get('dimensions')}{norm}"
        f"{extra} #{Fingerprint.digest(fingerprint)}"
    )


class VectorSpaceMismatchError(ConfigurationError):
    """A provider whose vectors live in another space than the collection's was about to write or query.

    Raised before anything is embedded, written or searched. ``stored`` and ``given`` are the two
    fingerprints (as dicts).
    """

    def __init__(self, collection: str, action: str, stored: Mapping[str, Any], given: Mapping[str, Any]) -> None:
        self.collection, self.action = collection, action
        self.stored, self.given = dict(stored), dict(given)
        differ = ", ".join(differences(stored, given)) or "the hash"
        if action == "embed for it":  # nothing was named: the collection's own model resolved differently here
            hint = (
                f"no model was given, but the collection's own ({stored.get('provider')}:{stored.get('model')}) "
                f"resolves here to another space (differs in {differ}): set these back as they were when it was "
                "filled (omnivec.toml, OMNIVEC_* or the SDK's environment)"
            )
        else:
            hint = (
                f"they differ in {differ}. Leave the model out (no --model / provider=) to use the collection's "
                f"own, or move the collection: 'omnivec migrate {collection} --to {given.get('provider')}:"
                f"{given.get('model')}" + (f" --dimensions {given['dimensions']}'" if given.get("dimensions") else "'")
            )
        super().__init__(
            f"collection {collection!r} holds vectors of {describe(stored)}; refusing to {action} with "
            f"{describe(given)}: {hint}"
        )


def differences(stored: Mapping[str, Any], given: Mapping[str, Any]) -> list[str]:
    """Dotted names of the fingerprint fields that differ (``options.endpoint``, ``dimensions``...)."""
    found = []
    for key in sorted(set(stored) | set(given)):
        a, b = stored.get(key), given.get(key)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            found += [f"{key}.{sub}" for sub in differences(a, b)]
        elif a != b:
            found.append(key)
    return found


class SpaceOverrideWarning(UserWarning):
    """A search ran with ``override_fingerprint`` across two vector spaces of the same width: allowed
    (the caller says the models are equivalent) but never silent, since scores from another model's
    space look valid and are not."""


class CollectionNotFoundError(ConfigurationError, LookupError):
    """No collection (or version) of that name exists in the configured store."""


class StoreError(EmbeddingError):
    """The store itself failed (unreachable server, broken table); the message says which and how to fix it."""


class MigrationIncompleteError(EmbeddingError):
    """A migration stopped before the end (spend cap, items that failed for good); running it again resumes."""

    def __init__(self, message: str, *, failed_ids: list[str] | None = None) -> None:
        super().__init__(message)
        self.failed_ids = list(failed_ids or [])
