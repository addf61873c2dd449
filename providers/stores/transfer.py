"""Move a collection to another store: ``omnivec migrate NAME --to-store URL [--to REF]``.

The serving version of the source is streamed in batches (sources, metadata and vectors) into a
version of the same name in the target store. With the same model (no ``--to``, or ``--to`` naming
the collection's own model) the stored vectors are copied byte for byte under the source's own
fingerprint (the target's fingerprint is identical) and no provider is loaded, so nothing is
embedded or paid. With another model, the target version is filled by the same write loop as
``migrate`` (:class:`~.writer.StoreWriter`), the source rows being the items.

Resumable and exactly once: each batch is one upsert by id (the commit is the checkpoint) and a
run started again skips the rows the target already holds with the same content hash and metadata;
a last pass deletes target rows the source no longer has (not after a first copy into an empty
target, see :func:`_delete_gone`). The target version then serves at once when nothing served there
(the app changes ``OMNIVEC_STORE``), else it waits in state ``ready`` for ``omnivec switch NAME
--store TARGET``. The source is only read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..base import EmbeddingProvider
from ..cache import EmbeddingCache
from ..config import load_provider
from ..errors import InvalidOptionError
from ._record_catalog import redact
from .base import Row, VectorStore, VersionInfo, check_name, fingerprint_hash
from .collection import open_cache
from .engines import engine_for
from .planning import price_per_token
from .serving import require_serving, same_space
from .writer import Engine, IndexReport, Progress, StoreWriter

__all__ = ["TransferReport", "check_distinct_stores", "transfer"]

_LOCAL_SCHEMES = {"lancedb", "qdrant+local", "milvus+lite", "chroma+local"}
_SAME_SERVER = {"postgres": "postgresql", "qdrants": "qdrant", "milvuss": "milvus", "chromas": "chroma"}


@dataclass
class TransferReport:
    collection: str
    source_version: int
    target_version: int
    fingerprint_hash: str
    copied: int = 0
    """Rows written with their stored vector (same model: no provider call)."""
    unchanged: int = 0
    """Rows the target already held (a resumed or repeated run)."""
    embedded: IndexReport | None = None
    """The write loop's report when another model embedded the target."""
    deleted: int = 0
    count: int = 0
    serving: bool = False
    index: str | None = None
    problems: list[str] = field(default_factory=list)


def _location(url: str) -> tuple[str, str]:
    scheme, _, rest = url.partition("://")
    scheme = scheme.lower()
    if scheme in _LOCAL_SCHEMES:
        return scheme, str(Path(rest or ".").expanduser().resolve())
    parts = urlsplit(url)
    return _SAME_SERVER.get(scheme, scheme), f"{(parts.hostname or '').lower()}:{parts.port}{parts.path.rstrip('/')}"


def check_distinct_stores(source_url: str, target_url: str) -> None:
    """Refuse a target that is the source store itself (before the target is opened)."""
    if _location(source_url) == _location(target_url):
        raise InvalidOptionError(
            f"--to-store {target_url} is the store the collection is in: give another store URL, or leave "
            "--to-store out to migrate inside this store"
        )


def transfer(
    source: VectorStore,
    name: str,
    target: VectorStore,
    *,
    to: str | EmbeddingProvider[Any] | None = None,
    dimensions: int | None = None,
    max_cost: float | None = None,
    cache: EmbeddingCache | bool | None = True,
    progress: Progress | None = None,
    engine: str | Engine = "online",
) -> TransferReport:
    """Copy (same model) or re-embed (``to``: another model) the serving version of ``name`` from
    ``source`` into ``target``; run it again to resume. See the module docstring."""
    check_name(name)
    check_distinct_stores(source.url, target.url)
    chosen = engine_for(engine)
    origin = require_serving(source, name)
    provider: EmbeddingProvider[Any] | None = None
    if isinstance(to, str):
        provider = load_provider(model=to, **({"dimensions": dimensions} if dimensions is not None else {}))
    elif to is not None:
        provider = to
    if provider is not None and same_space(origin, provider):
        provider = None  # the collection's own model: copy its vectors, call nothing
    if provider is not None:
        chosen.check(provider)
    stored = dict(origin.fingerprint) if provider is None else provider.fingerprint("document").space().to_stored()
    version = _target_version(target, name, origin, stored)
    report = TransferReport(name, origin.version, version.version, version.fingerprint_hash)
    size = target.settings.batch_size
    with target.lock(name, version.version):
        fresh = target.count(name, version.version) == 0  # under the lock: every row it ends with is copied now
        if provider is None:
            _copy(source, target, name, origin.version, version.version, stored, report, progress)
        else:
            _embed(source, target, name, origin.version, version.version, provider, chosen, report, progress,
                   cache=cache, max_cost=max_cost)  # fmt: skip
        if not fresh:  # a resumed or repeated run: the target may hold ids the source no longer has
            _delete_gone(source, target, name, origin.version, version.version, size, report)
        report.count, expected = target.count(name, version.version), source.count(name, origin.version)
        if report.count != expected or target.duplicate_ids(name, version.version):
            report.problems.append(
                f"{redact(target.url)} holds {report.count} items of {name!r}, the source {expected}: items were indexed or "
                "deleted while it ran; run the same command again to catch up"
            )
            return report
        if not target.has_ann_index(name, version.version):
            report.index = target.build_index(name, version.version)
        _serve_or_ready(target, name, version.version, report)
    return report


def _delete_gone(
    source: VectorStore, target: VectorStore, name: str, origin: int, version: int, size: int, report: TransferReport
) -> None:
    """Delete the target's ids the source no longer has. A target that was empty when the copy began
    holds only ids this run read from the source, so the pass is skipped there (a full read of the
    target: 2/3 of a copy into Milvus Lite, whose keyset pages each scan the table); a source row
    deleted after it was copied still leaves the counts apart, which the caller reports."""
    for ids in target.ids(name, version, size):
        gone = sorted(set(ids) - set(source.hashes(name, origin, ids)))
        target.delete(name, version, gone)
        report.deleted += len(gone)


def _target_version(target: VectorStore, name: str, origin: VersionInfo, stored: dict[str, Any]) -> VersionInfo:
    """The target's version in this space (resumed, or serving already), else a new one; the source's
    version number when the target has none of this collection."""
    digest = fingerprint_hash(stored)
    with target.lock(name, 0):  # the catalog lock: two runs create one version, not two
        versions = target.versions(name)
        pointer = target.alias(name)
        same = [v for v in versions if v.fingerprint_hash == digest and v.state != "retired"]
        serving = [v for v in same if pointer is not None and v.version == pointer[0]]
        if serving or same:
            return (serving or same)[-1]
        number = max((v.version for v in versions), default=origin.version - 1) + 1
        return target.create_version(name, number, stored)


def _copy(
    source: VectorStore,
    target: VectorStore,
    name: str,
    origin: int,
    version: int,
    stored: dict[str, Any],
    report: TransferReport,
    progress: Progress | None,
) -> None:
    for rows in source.scan(name, origin, target.settings.batch_size, vectors=True):
        have = {r.id: r for r in target.rows(name, version, [r.id for r in rows])}
        todo = [r for r in rows if not _same_row(have.get(r.id), r)]
        if todo:
            target.upsert(name, version, todo, fingerprint=stored)  # one commit: the checkpoint
        report.copied += len(todo)
        report.unchanged += len(rows) - len(todo)
        if progress is not None:
            progress(len(rows))


def _same_row(held: Row | None, row: Row) -> bool:
    return held is not None and (held.content_hash, held.text, held.uri, dict(held.metadata)) == (
        row.content_hash,
        row.text,
        row.uri,
        dict(row.metadata),
    )


def _embed(
    source: VectorStore,
    target: VectorStore,
    name: str,
    origin: int,
    version: int,
    provider: EmbeddingProvider[Any],
    engine: Engine,
    report: TransferReport,
    progress: Progress | None,
    *,
    cache: EmbeddingCache | bool | None,
    max_cost: float | None,
) -> None:
    writer = StoreWriter(
        target, name, version, provider, open_cache(target, cache), IndexReport(name, version), engine,
        price_per_token=price_per_token(provider) or 0.0, max_cost=max_cost,
    )  # fmt: skip
    writer.run(source.scan(name, origin, target.settings.batch_size), progress)  # stored rows are items
    report.embedded = writer.report
    writer.raise_if_incomplete(f"moving {name!r} to {redact(target.url)} with {provider.ref}", redact(target.url))


def _serve_or_ready(target: VectorStore, name: str, version: int, report: TransferReport) -> None:
    pointer = target.alias(name)
    if pointer is None:  # nothing served here: the copy serves at once
        target.set_state(name, version, "live")
        target.set_alias(name, version, None)
    elif pointer[0] != version:
        target.set_state(name, version, "ready")  # 'omnivec switch NAME --store TARGET' serves it
    pointer = target.alias(name)
    report.serving = pointer is not None and pointer[0] == version
