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
from ..prices import price_for
from . import _embed
from .base import State, VectorStore, VersionInfo, check_name, fingerprint_hash
from .collection import IndexReport, Progress, Sync, open_cache, provider_for, require_serving
from .errors import CollectionNotFoundError, MigrationIncompleteError
from .sources import SourceItem

__all__ = ["MigrationReport", "doctor", "drop", "migrate", "price_per_token", "rollback", "switch"]


def price_per_token(provider: EmbeddingProvider[Any]) -> float | None:
    """USD per input token from the dated price table (None = unknown, never zero)."""
    row = price_for(provider.name, provider.model) or {}
    return float(row["per_1m_tokens"]) / 1e6 if "per_1m_tokens" in row else None


_ASSUMED_CALL_S = 0.25  # one remote embedding call, round trip (Bedrock/Gemini from a nearby region)


def estimate(provider: EmbeddingProvider[Any], items: int, chars: int) -> dict[str, Any]:
    """Calls, tokens, cost and time of embedding ``items`` (``chars`` characters) with ``provider``.

    Time = calls / request rate: the configured ``rate_limits`` if any, else ``max_concurrency``
    calls each ``_ASSUMED_CALL_S`` long; a grant below that (429s) makes it longer, never shorter."""
    caps, limits = provider.capabilities, provider.rate_limits
    calls = -(-items // max(1, caps.max_batch_size))
    concurrency = provider.settings.max_concurrency or caps.max_concurrency
    if limits.requests_per_minute:
        rate, basis = limits.requests_per_minute / 60.0, "your rate_limits.requests_per_minute"
    else:
        per_call = _ASSUMED_CALL_S if provider.is_remote else 0.05
        rate, basis = concurrency / per_call, f"{concurrency} calls in flight x {per_call:g} s each"
    price, tokens = price_per_token(provider), int(chars / 4)
    return {
        "model": provider.ref,
        "to_embed": items,
        "calls": calls,
        "estimated_tokens": tokens,
        "estimated_cost": "unknown (no price in prices.toml)"
        if price is None
        else f"${tokens * price:.4f} (estimated)",
        "estimated_time_s": round(calls / rate, 1),
        "note": f"time assumes ~{rate:.0f} requests/s ({basis}); throttling by your grant makes it longer; "
        "nothing was embedded",
    }


def plan_migration(
    store: VectorStore, name: str, to: str, *, dimensions: int | None = None, batch_size: int = 1000
) -> dict[str, Any]:
    """What ``migrate`` would embed (a resumed one: only what the target still lacks); creates nothing."""
    source = require_serving(store, name)
    provider = load_provider(model=to, **({"dimensions": dimensions} if dimensions is not None else {}))
    if _embed.matches(source.fingerprint, provider):
        raise InvalidOptionError(f"collection {name!r} is already embedded by {provider.ref}: nothing to migrate")
    target = next(
        (v for v in store.versions(name) if _embed.matches(v.fingerprint, provider) and v.state != "retired"), None
    )
    items = todo = chars = 0
    for rows in store.scan(name, source.version, batch_size):
        have = store.hashes(name, target.version, [r.id for r in rows]) if target else {}
        left = [r for r in rows if have.get(r.id) != r.content_hash]
        items, todo, chars = items + len(rows), todo + len(left), chars + sum(len(r.text or "") for r in left)
    plan = {"collection": name, "from_version": source.version, "items": items, **estimate(provider, todo, chars)}
    return plan


@dataclass
class MigrationReport:
    collection: str
    source_version: int
    target_version: int
    sync: IndexReport
    deleted: int = 0
    count: int = 0
    index: str | None = None
    spent_usd: float = 0.0
    problems: list[str] = field(default_factory=list)


def _stream(store: VectorStore, name: str, version: int, batch_size: int) -> Any:
    for rows in store.scan(name, version, batch_size):
        yield [SourceItem(r.id, r.content_hash, r.text, r.uri, dict(r.metadata)) for r in rows]


def _catch_up(
    store: VectorStore,
    name: str,
    source: VersionInfo,
    target: VersionInfo,
    provider: EmbeddingProvider[Any],
    cache: EmbeddingCache | None,
    max_cost: float | None,
    progress: Progress | None,
    ray_options: dict[str, Any] | None = None,
    bulk: str = "online",
) -> tuple[Sync, int]:
    """One pass: embed what is missing or stale in ``target``, then delete ids gone from ``source``.

    ``ray_options`` (a dict, even empty) runs the embedding on Ray (:class:`omnivec.providers.ray.RaySync`):
    the same diff, cost cap, cache and per-batch commits by this one writer, so the same guarantees."""
    report = IndexReport(name, target.version)
    args = (store, name, target.version, provider, cache, report, price_per_token(provider) or 0.0, max_cost)
    if ray_options is None:
        from ._bulk import bulk_sync

        sync = bulk_sync(bulk, *args)  # Sync, or BulkSync for bulk="batch"
    else:
        from ..ray import RaySync

        sync = RaySync(*args, ray_options=ray_options)
    size = store.settings.batch_size
    sync.run(_stream(store, name, source.version, size), progress)
    deleted = 0
    if not sync.stopped:
        for rows in store.scan(name, target.version, size):
            ids = [r.id for r in rows]
            gone = sorted(set(ids) - set(store.hashes(name, source.version, ids)))
            store.delete(name, target.version, gone)
            deleted += len(gone)
    return sync, deleted


def migrate(
    store: VectorStore,
    name: str,
    to: str | EmbeddingProvider[Any],
    *,
    dimensions: int | None = None,
    max_cost: float | None = None,
    cache: EmbeddingCache | bool | None = True,
    progress: Progress | None = None,
    engine: str = "local",
    ray_options: dict[str, Any] | None = None,
    bulk: str = "online",
) -> MigrationReport:
    """Build (or resume) the version of ``name`` embedded by ``to``; the serving version is untouched.

    ``engine="ray"`` embeds on a Ray actor pool (``ray_options``: :func:`omnivec.providers.ray.embed_dataset`
    options such as ``actors`` or ``requests_per_second``); this process stays the one writer.
    """
    if engine not in ("local", "ray"):
        raise InvalidOptionError(f"engine must be 'local' or 'ray', got {engine!r}")
    if max_cost is not None and not (max_cost >= 0 and np.isfinite(max_cost)):  # -1 was 'stopped at the cap'
        raise InvalidOptionError(f"max_cost must be a finite number of USD >= 0, got {max_cost!r}")
    from ._bulk import check_bulk

    check_bulk(bulk, to if isinstance(to, EmbeddingProvider) else None)
    if bulk == "batch" and engine == "ray":
        raise InvalidOptionError(
            "bulk='batch' runs as provider-side batch jobs: drop engine='ray' (or use bulk='online')"
        )
    if engine == "ray":
        from ..ray import require_ray

        require_ray()  # the missing extra is named before anything is created
    source = require_serving(store, name)
    if isinstance(to, str):
        provider = load_provider(model=to, **({"dimensions": dimensions} if dimensions is not None else {}))
    else:
        provider = to
    check_bulk(bulk, provider)
    fingerprint = _embed.normalized_fingerprint(provider)
    target_hash = fingerprint_hash(fingerprint)
    if _embed.matches(source.fingerprint, provider):
        raise InvalidOptionError(
            f"collection {name!r} is already embedded by {provider.ref} ({target_hash}): nothing to migrate"
        )
    with store.lock(name, 0):
        versions = store.versions(name)
        target = next(
            (v for v in versions if _embed.matches(v.fingerprint, provider) and v.state in ("building", "ready")),
            None,
        )
        if target is None:
            target = store.create_version(name, max(v.version for v in versions) + 1, fingerprint)
    with store.lock(name, target.version):
        store.set_state(name, target.version, "building")
        sync, deleted = _catch_up(
            store,
            name,
            source,
            target,
            provider,
            open_cache(store, cache),
            max_cost,
            progress,
            dict(ray_options or {}) if engine == "ray" else None,
            bulk,
        )
        report = MigrationReport(name, source.version, target.version, sync.report, deleted, spent_usd=sync.spent)
        if sync.stopped:
            raise MigrationIncompleteError(
                f"migration of {name!r} to {provider.ref} stopped at the spend cap (${max_cost}) after about "
                f"${sync.spent:.4f}: run the same command with a higher --max-cost to resume"
            )
        if sync.report.failed:
            failed = sorted(sync.report.failed)
            raise MigrationIncompleteError(
                f"{len(failed)} item(s) failed for good and are not in version {target.version}: "
                f"{', '.join(failed[:10])}{' ...' if len(failed) > 10 else ''}; fix or remove them and run again",
                failed_ids=failed,
            )
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
    with store.lock(name, current.version), store.lock(name, target.version):  # no writes land in between
        sync, _ = _catch_up(store, name, current, target, provider, open_cache(store, cache), None, None)
        if sync.report.failed:
            raise MigrationIncompleteError(
                f"catch-up failed for {len(sync.report.failed)} item(s); not switched",
                failed_ids=sorted(sync.report.failed),
            )
        store.flip(name, target.version, current.version, old_state)  # alias + both states: one commit
    return target


def rollback(store: VectorStore, name: str, *, cache: EmbeddingCache | bool | None = True) -> VersionInfo:
    """Serve the version served before the last switch again (kept until ``drop``); the version
    stepped back from stays ``ready``, so a later ``switch`` moves forward to it again."""
    current = require_serving(store, check_name(name))
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


def doctor(store: VectorStore, name: str, *, batch_size: int = 4096, repair: bool = False) -> list[str]:
    """Problems per version: fingerprint integrity, dimensions, duplicates, non-unit vectors, missing
    sources, states that disagree with the alias. ``repair`` fixes the states (the alias is the truth)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidOptionError(f"batch_size must be a whole number >= 1, got {batch_size!r}")  # 0 checked nothing
    problems: list[str] = []
    versions = store.versions(check_name(name))
    if not versions:
        raise CollectionNotFoundError(f"no collection {name!r} in {store.url}")
    pointer = store.alias(name)
    if pointer is None or pointer[0] not in {v.version for v in versions}:
        problems.append(f"{name}: the alias points at no existing version ({pointer})")
    else:
        problems.extend(_check_states(store, name, versions, pointer[0], repair))
    for info in versions:
        tag = f"{name} v{info.version}"
        if fingerprint_hash(info.fingerprint) != info.fingerprint_hash:
            problems.append(f"{tag}: stored fingerprint does not match its hash {info.fingerprint_hash}")
        dims, unit = int(info.fingerprint.get("dimensions", -1)), bool(info.fingerprint.get("normalized"))
        if dims != info.dimensions:
            problems.append(f"{tag}: table is {info.dimensions}-d but the fingerprint says {dims}")
        duplicates = store.duplicate_ids(name, info.version)
        if duplicates:
            problems.append(f"{tag}: {duplicates} duplicate id(s)")
        wrong_width = non_unit = no_source = 0
        for rows in store.scan(name, info.version, batch_size, vectors=True):
            no_source += sum(1 for r in rows if r.text is None and r.uri is None)
            widths = np.array([0 if r.vector is None else len(r.vector) for r in rows])
            wrong_width += int((widths != info.dimensions).sum())
            good = [r.vector for r in rows if r.vector is not None and len(r.vector) == info.dimensions]
            if unit and good:
                norms = np.linalg.norm(np.stack(good), axis=1)
                non_unit += int((np.abs(norms - 1.0) > 1e-3).sum())
        for count, what in (
            (wrong_width, "vectors of the wrong width"),
            (non_unit, "non-unit vectors where unit is promised"),
            (no_source, "items whose source (text or uri) is missing"),
        ):
            if count:
                problems.append(f"{tag}: {count} {what}")
        problems.extend(f"{tag}: {p}" for p in store.health(name, info.version))
    return problems


def _check_states(store: VectorStore, name: str, versions: list[VersionInfo], serving: int, repair: bool) -> list[str]:
    """The serving version must be ``live`` and no other: a switch cut off between its writes by an
    older release (or a third-party store without an atomic ``flip``) left e.g. v2 serving as ``ready``."""
    found = []
    for info in versions:
        wrong = (info.version == serving) != (info.state == "live")
        if not wrong:
            continue
        should: State = "live" if info.version == serving else "retired"
        what = "serves" if info.version == serving else "does not serve"
        if repair:
            store.set_state(name, info.version, should)
            found.append(f"{name} v{info.version}: {what} but was in state {info.state!r}: repaired (now {should!r})")
        else:
            found.append(
                f"{name} v{info.version}: {what} but is in state {info.state!r}: "
                f"run 'omnivec doctor {name} --repair' to set it {should!r}"
            )
    return found
