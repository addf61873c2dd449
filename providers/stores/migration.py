"""Side-by-side re-embedding: ``migrate`` builds version N+1 from the stored sources while version N
serves; ``switch`` flips the alias after a last catch-up; ``rollback`` flips back; ``drop`` deletes.

Nothing here loads a collection into memory: sources are streamed from the serving version in
batches (keyset pages on PostgreSQL, Arrow batches on LanceDB) and every batch is one commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..base import EmbeddingProvider
from ..cache import EmbeddingCache
from ..config import load_provider
from ..errors import InvalidOptionError
from .adapter_catalog import stop_serving_adapter
from .base import State, VectorStore, VersionInfo, check_name
from .collection import open_cache
from .engines import engine_for, refuse_removed
from .errors import CollectionNotFoundError, MigrationIncompleteError
from .planning import price_per_token
from .serving import provider_for, require_serving, same_space
from .writer import Engine, IndexReport, Progress, StoreWriter

__all__ = ["MigrationReport", "drop", "migrate", "rollback", "switch"]


@dataclass
class MigrationReport:
    collection: str
    source_version: int
    target_version: int
    sync: IndexReport
    deleted: int = 0
    count: int = 0
    index: str | None = None
    lexical_index: str | None = None
    """The full-text index built over the copied text (stores with the ``lexical`` feature)."""
    spent_usd: float = 0.0
    problems: list[str] = field(default_factory=list)


def _catch_up(
    store: VectorStore,
    name: str,
    source: VersionInfo,
    target: VersionInfo,
    writer: StoreWriter,
    progress: Progress | None,
) -> int:
    """One pass: embed what is missing or stale in ``target``, then delete ids gone from ``source``."""
    size = store.settings.batch_size
    writer.run(store.scan(name, source.version, size), progress)  # stored rows are source items
    deleted = 0
    if not writer.stopped:  # the id column alone, in the store's best lookup size (see lookup_ids)
        for ids in store.ids(name, target.version, max(size, store.lookup_ids or 0)):
            gone = sorted(set(ids) - set(store.hashes(name, source.version, ids)))
            store.delete(name, target.version, gone)
            deleted += len(gone)
    return deleted


def migrate(
    store: VectorStore,
    name: str,
    to: str | EmbeddingProvider[Any],
    *,
    dimensions: int | None = None,
    max_cost: float | None = None,
    cache: EmbeddingCache | bool | None = True,
    progress: Progress | None = None,
    engine: str | Engine = "online",
    **removed: Any,
) -> MigrationReport:
    """Build (or resume) the version of ``name`` embedded by ``to``; the serving version is untouched.

    ``engine``: ``"online"``, ``"batch"`` (the provider's batch API) or ``"ray"``, or an engine object
    such as ``Ray(actors=8, requests_per_second=40)`` (:mod:`omnivec.providers.stores.engines`); this
    process stays the one writer.
    """
    refuse_removed(removed, "migrate")
    chosen = engine_for(engine)
    if max_cost is not None and not (max_cost >= 0 and np.isfinite(max_cost)):  # -1 was 'stopped at the cap'
        raise InvalidOptionError(f"max_cost must be a finite number of USD >= 0, got {max_cost!r}")
    if not isinstance(to, (str, EmbeddingProvider)):
        raise InvalidOptionError(f"to must be a provider:model string or an EmbeddingProvider, got {to!r}")
    if isinstance(to, str):
        provider = load_provider(model=to, **({"dimensions": dimensions} if dimensions is not None else {}))
    else:
        provider = to
    chosen.check(provider)
    source = require_serving(store, name)
    if same_space(source, provider):
        raise InvalidOptionError(
            f"collection {name!r} is already embedded by {provider.ref} "
            f"({provider.fingerprint('document').space().hash}): nothing to migrate"
        )
    with store.lock(name, 0):
        versions = store.versions(name)
        target = next(
            (v for v in versions if same_space(v, provider) and v.state in ("building", "ready")),
            None,
        )
        if target is None:
            stored = provider.fingerprint("document").space().to_stored()
            target = store.create_version(name, max(v.version for v in versions) + 1, stored)
    with store.lock(name, target.version):
        store.set_state(name, target.version, "building")
        price = price_per_token(provider) or 0.0
        writer = StoreWriter(
            store, name, target.version, provider, open_cache(store, cache), IndexReport(name, target.version),
            chosen, price_per_token=price, max_cost=max_cost,
        )  # fmt: skip
        deleted = _catch_up(store, name, source, target, writer, progress)
        report = MigrationReport(name, source.version, target.version, writer.report, deleted, spent_usd=writer.spent)
        writer.raise_if_incomplete(f"migration of {name!r} to {provider.ref}", f"version {target.version}")
        report.count = store.count(name, target.version)
        expected = store.count(name, source.version)
        if report.count != expected or store.duplicate_ids(name, target.version):
            report.problems.append(
                f"version {target.version} holds {report.count} items, the source {expected}: items were indexed "
                f"or deleted while it ran (expected with live writes); run the same command again to catch up "
                f"(only the difference is embedded)"
            )
            return report
        report.index = store.build_index(name, target.version)
        if "lexical" in store.features:  # the text is copied as is: the lexical side ranks as before
            report.lexical_index = store.build_lexical_index(name, target.version)
        store.set_state(name, target.version, "ready")
    return report


def switch(
    store: VectorStore, name: str, version: int | None = None, *, cache: EmbeddingCache | bool | None = True
) -> VersionInfo:
    """Catch the target up with the serving version, then point the alias at it in ONE atomic write.

    Without ``version`` the target is the newest version in state ``ready`` (a finished migration
    never served, or one a rollback stepped back from). A version already serving is left as it
    is, so a retried deploy step never flips production back: only :func:`rollback` goes back."""
    current = require_serving(store, name)
    versions = {v.version: v for v in store.versions(name)}
    if version is None:
        ready = [v for v in versions.values() if v.state == "ready" and v.version != current.version]
        building = [v.version for v in versions.values() if v.state == "building"]
        if not ready and building:
            raise CollectionNotFoundError(
                f"version {building[-1]} of {name!r} is still building: finish it with 'omnivec migrate {name} --to REF'"
            )
        if not ready and len(versions) == 1:
            raise CollectionNotFoundError(
                f"collection {name!r} has no migrated version ready: run 'omnivec migrate {name} --to REF' first"
            )
        if not ready:
            return current  # the newest finished version already serves: a repeated switch is a no-op
        target = ready[-1]
    elif version not in versions:
        raise CollectionNotFoundError(f"collection {name!r} has no version {version}")
    else:
        target = versions[version]
    if target.version == current.version:
        return current
    return _flip(store, name, current, target, "retired", cache)


def _flip(
    store: VectorStore,
    name: str,
    current: VersionInfo,
    target: VersionInfo,
    old_state: State,
    cache: EmbeddingCache | bool | None,
) -> VersionInfo:
    provider = provider_for(target)
    writer = StoreWriter(
        store, name, target.version, provider, open_cache(store, cache), IndexReport(name, target.version)
    )
    with store.lock(name, current.version), store.lock(name, target.version):  # no writes land in between
        _catch_up(store, name, current, target, writer, None)
        if writer.report.failed:
            raise MigrationIncompleteError(
                f"catch-up failed for {len(writer.report.failed)} item(s); not switched",
                failed_ids=sorted(writer.report.failed),
            )
        store.flip(name, target.version, current.version, old_state)  # alias + both states: one commit
    return target


def rollback(store: VectorStore, name: str, *, cache: EmbeddingCache | bool | None = True) -> VersionInfo:
    """Serve the version served before the last switch again (kept until ``drop``); the version
    stepped back from stays ``ready``, so a later ``switch`` moves forward to it again. A version
    serving through an adapter (``switch --via-adapter``) goes back to its own model first."""
    current = require_serving(store, check_name(name))
    if stop_serving_adapter(store, current) is not None:
        return current
    pointer = store.alias(name)
    versions = {v.version: v for v in store.versions(name)}
    previous = versions.get(pointer[1]) if pointer is not None and pointer[1] is not None else None
    if previous is not None and previous.state == "ready":
        # the version a rollback stepped back from: going there is a switch, never a second rollback;
        # step back further, to the newest version switched away from, if there is one
        retired = [v for v in versions.values() if v.state == "retired" and v.version != current.version]
        if not retired:
            raise CollectionNotFoundError(
                f"collection {name!r} was already rolled back to v{current.version} and served nothing before it; "
                f"'omnivec switch {name}' goes forward to v{previous.version} again"
            )
        previous = retired[-1]
    if previous is None:
        raise CollectionNotFoundError(f"collection {name!r} has no previous version to roll back to")
    return _flip(store, name, current, previous, "ready", cache)


def drop(store: VectorStore, name: str, version: int | None = None, *, everything: bool = False) -> list[int]:
    """Delete one version, every non-serving version (default), or the whole collection (``everything``)."""
    if everything and version is not None:
        raise InvalidOptionError("drop: everything=True drops every version and version= only one: give one of them")
    versions = store.versions(check_name(name))
    if not versions:
        raise CollectionNotFoundError(f"no collection {name!r} in {store.url}")
    pointer = store.alias(name)
    serving = pointer[0] if pointer else None
    if version is not None and version not in {v.version for v in versions}:
        known = ", ".join(str(v.version) for v in versions)
        raise InvalidOptionError(f"{name!r} has no version {version}: its versions are {known}")
    if version is not None and version == serving and not everything:
        raise InvalidOptionError(f"version {version} of {name!r} is serving: switch first, or drop --all")
    doomed = [
        v.version
        for v in versions
        if everything or (v.version == version if version is not None else v.version != serving)
    ]
    for number in doomed:
        store.drop_version(name, number)
    return doomed
