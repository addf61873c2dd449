"""Which version of a collection serves, and the provider of its vector space.

The provider of a collection is resolved from the fingerprint stored with its serving version, so a
query is never embedded with another model. A provider whose fingerprint differs is refused with
:class:`VectorSpaceMismatchError` before anything is embedded, written or searched.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from ..base import EmbeddingProvider
from ..config import load_provider
from ..types import Fingerprint
from .base import VectorStore, VersionInfo, check_name
from .errors import CollectionNotFoundError, VectorSpaceMismatchError

__all__ = ["check_provider", "ensure_collection", "provider_for", "require_serving", "same_space", "serving_version"]


def serving_version(store: VectorStore, name: str) -> VersionInfo | None:
    """The version the alias points at; a first version left without alias by a crash is adopted."""
    check_name(name)
    versions = store.versions(name)
    pointer = store.alias(name)
    if pointer is not None:
        found = [v for v in versions if v.version == pointer[0]]
        if found:
            return found[0]
    if not versions:
        return None
    first = versions[0]
    store.set_state(name, first.version, "live")
    store.set_alias(name, first.version, None)
    return first


def require_serving(store: VectorStore, name: str) -> VersionInfo:
    version = serving_version(store, name)
    if version is None:
        raise CollectionNotFoundError(
            f"no collection {name!r} in {store.url}: create it with 'omnivec index SOURCE --collection {name}'"
        )
    return version


def same_space(version: VersionInfo, provider: EmbeddingProvider[Any]) -> bool:
    """Whether ``provider`` embeds into the space of ``version`` (old ones may carry a URL)."""
    return Fingerprint.from_stored(version.fingerprint).same_space(provider.fingerprint("document"))


_PROVIDERS: dict[tuple[str, ...], EmbeddingProvider[Any]] = {}
_PROVIDERS_LOCK = threading.Lock()
_ENDPOINT_ENV = ("AWS_", "GOOGLE_", "GEMINI_", "OMNIVEC_")


def provider_for(version: VersionInfo) -> EmbeddingProvider[Any]:
    """The provider that made ``version``'s vectors, rebuilt from its stored fingerprint.

    Kept per process (keyed by fingerprint and the endpoint/credential environment), so a search
    does not reload a local model or rebuild an SDK client on every query.
    """
    env = sorted(f"{k}={v}" for k, v in os.environ.items() if k.startswith(_ENDPOINT_ENV))
    key = (version.fingerprint_hash, *env)
    with _PROVIDERS_LOCK:
        if key not in _PROVIDERS:
            _PROVIDERS[key] = _build_provider(version)
        return _PROVIDERS[key]


def _build_provider(version: VersionInfo) -> EmbeddingProvider[Any]:
    fp = version.fingerprint
    ref = f"{fp['provider']}:{fp['model']}"
    provider = load_provider(model=ref, dimensions=int(fp["dimensions"]))
    if not same_space(version, provider) and bool(fp.get("normalized")) != provider.normalizes:
        provider = load_provider(model=ref, dimensions=int(fp["dimensions"]), normalize=bool(fp.get("normalized")))
    check_provider(version, provider, "embed for it")  # config (e.g. a prompt) changed the space
    return provider


def check_provider(version: VersionInfo, provider: EmbeddingProvider[Any], action: str) -> None:
    if not same_space(version, provider):
        stored = Fingerprint.from_stored(version.fingerprint).space().as_dict()
        given = provider.fingerprint("document").space().to_stored()
        raise VectorSpaceMismatchError(version.collection, action, stored, given)


def ensure_collection(
    store: VectorStore, name: str, provider: EmbeddingProvider[Any] | None
) -> tuple[VersionInfo, EmbeddingProvider[Any], bool]:
    """The serving version of ``name`` (created, embedded by ``provider`` or the configured model, if
    there is none), the provider that writes into it (checked against it), and whether it was created."""
    serving = serving_version(store, name)
    if serving is not None:
        if provider is None:
            return serving, provider_for(serving), False
        check_provider(serving, provider, "write")
        return serving, provider, False
    provider = provider or load_provider()
    with store.lock(name, 0):  # the catalog lock: two first runs create one version, not two
        serving = serving_version(store, name)
        if serving is None:
            info = store.create_version(name, 1, provider.fingerprint("document").space().to_stored())
            store.set_state(name, 1, "live")
            store.set_alias(name, 1, None)
            return info, provider, True
    check_provider(serving, provider, "write")
    return serving, provider, False
