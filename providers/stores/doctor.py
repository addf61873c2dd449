"""``omnivec doctor``: what is wrong with a collection's versions, and the repair of their states."""

from __future__ import annotations

import numpy as np

from ..errors import InvalidOptionError
from .base import State, VectorStore, VersionInfo, check_name, fingerprint_hash
from .errors import CollectionNotFoundError

__all__ = ["doctor"]


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
