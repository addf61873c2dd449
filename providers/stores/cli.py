"""``omnivec index / search / collections / migrate / adapt / switch / rollback / drop / doctor``.

Registered through the ``omnivec.cli`` entry-point group. Every command takes ``--store URL``
(default: ``OMNIVEC_STORE`` / ``[store]`` in omnivec.toml, else ``lancedb://./.omnivec``). Errors are
one line on stderr and exit 2; a migration that stopped early (spend cap, failed items) exits 3:
run the same command again to resume.
"""

from __future__ import annotations

import json
import sys
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ..config import load_provider
from ..console import err, print_error, print_warning, progress_bar
from . import adapting
from . import collection as coll
from . import migration as mig
from .adapter_catalog import describe_adapter, serving_adapter, verdict
from .base import VectorStore
from .command_store import command_store
from .doctor import doctor as find_problems
from .engines import ENGINES, Ray
from .errors import SpaceOverrideWarning
from .planning import estimate, plan_migration
from .sources import read_source
from .writer import Engine

__all__ = ["register"]

StoreOpt = Annotated[
    Optional[str],
    typer.Option("--store", help="Store URL (lancedb://PATH or postgresql://...); default OMNIVEC_STORE."),
]
NoCache = Annotated[bool, typer.Option("--no-cache", help="Do not use the embedding cache.")]
EngineOpt = Annotated[
    str,
    typer.Option(
        "--engine",
        help="online; batch: the provider's batch API (Gemini; half price, slow; rerun to resume; job state "
        "goes to ./.omnivec-batches); or ray: a Ray actor pool (RAY_ADDRESS, else a local Ray).",
    ),
]
Bulk = Annotated[Optional[str], typer.Option("--bulk", help="Same as --engine: online or batch.")]


def _engine(engine: str, bulk: str | None, ray_options: dict[str, Any] | None = None) -> str | Engine:
    """``--engine`` (``local`` is ``online``), or ``--bulk`` as it was before ``--engine`` took batch too."""
    if bulk is not None:
        if bulk not in ("online", "batch"):
            print_error(f"--bulk must be 'online' or 'batch', got {bulk!r} (or use --engine)")
            raise typer.Exit(2)
        if engine not in ("online", "local", bulk):
            print_error(f"--bulk {bulk} and --engine {engine} name two engines: give --engine alone")
            raise typer.Exit(2)
        engine = bulk
    if engine not in ENGINES:
        print_error(f"--engine must be 'online', 'batch' or 'ray', got {engine!r}")
        raise typer.Exit(2)
    return Ray(**ray_options) if engine == "ray" and ray_options else engine


_store = command_store  # every command's store, opened and closed the same way


def index(
    source: Annotated[
        Path, typer.Argument(help="JSONL file (- for stdin), BEIR folder or folder of text/image files.")
    ],
    collection: Annotated[str, typer.Option("--collection", "-c", help="Collection name.")],
    model: Annotated[
        Optional[str], typer.Option("--model", "-m", help="provider:model (new collections; default OMNIVEC_MODEL).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print items, tokens, cost and time; embed nothing.")
    ] = False,
    batch_size: Annotated[Optional[int], typer.Option(min=1, help="Items per commit.")] = None,
    store: StoreOpt = None,
    no_cache: NoCache = False,
    engine: EngineOpt = "online",
    bulk: Bulk = None,
    prune: Annotated[
        bool,
        typer.Option("--prune", help="Delete stored items SOURCE no longer holds (default: keep them, count them)."),
    ] = False,
) -> None:
    """Embed new or changed items of SOURCE into a collection (idempotent, resumable); metadata edits are written."""
    chosen = _engine(engine, bulk)
    with _store(store, batch_size, create=True) as st:
        provider = load_provider(model=model) if model else None
        if dry_run:
            _plan(st, collection, source, provider)
            return
        skipped: list[str] = []
        with progress_bar(f"indexing into {collection}", enabled=sys.stderr.isatty()) as bar:
            task = bar.add_task("index", total=None)
            report = coll.index_items(
                st,
                collection,
                read_source(source, skipped),
                provider=provider,
                cache=not no_cache,
                progress=lambda n: bar.advance(task, n),
                engine=chosen,
                prune=prune,
            )
        if skipped:
            print_warning(
                f"{len(skipped)} blank item(s) skipped (no text, no image): {', '.join(skipped[:10])}"
                + (" ..." if len(skipped) > 10 else "")
            )
        for item_id, reason in sorted(report.failed.items()):
            print_warning(f"item {item_id!r} failed: {reason}")
        gone = (
            f", {report.pruned} deleted (not in the source)"
            if prune
            else f", {report.not_in_source} not in the source (kept; --prune deletes them)"
            if report.not_in_source
            else ""
        )
        err.print(
            f"{collection} v{report.version}: {report.seen} items, {report.embedded} embedded, "
            f"{report.cached} from cache, {report.relabeled} metadata updated, {report.unchanged} unchanged, "
            f"{len(report.failed)} failed{gone}" + (f"; index built: {report.index}" if report.index else ""),
            soft_wrap=True,
        )
        if report.failed:
            raise typer.Exit(3)


def _plan(st: VectorStore, name: str, source: Path, provider: object) -> None:
    serving = coll.serving_version(st, name)
    prov = provider if provider is not None else (coll.provider_for(serving) if serving else load_provider())
    if serving is not None:
        coll.check_provider(serving, prov, "write")  # type: ignore[arg-type]
    items = chars = new = 0
    for batch in coll.batched(read_source(source), 1000):
        have = st.hashes(name, serving.version, [i.id for i in batch]) if serving else {}
        todo = [i for i in batch if have.get(i.id) != i.content_hash]
        items, new, chars = items + len(batch), new + len(todo), chars + sum(len(i.text or "") for i in todo)
    print(json.dumps({"collection": name, "items": items, **estimate(prov, new, chars)}))  # type: ignore[arg-type]


def search(
    collection: Annotated[str, typer.Argument(help="Collection name.")],
    query: Annotated[str, typer.Argument(help="Query text.")],
    k: Annotated[int, typer.Option("-k", min=1, help="Hits to return.")] = 10,
    model: Annotated[
        Optional[str], typer.Option("--model", "-m", help="Embed the query with this model instead (must match).")
    ] = None,
    override_fingerprint: Annotated[
        bool, typer.Option("--override-fingerprint", help="Query with --model even if its fingerprint differs.")
    ] = False,
    store: StoreOpt = None,
    hybrid: Annotated[
        bool, typer.Option("--hybrid", help="Fuse vector and full-text hits (reciprocal rank, k=60, equal weights).")
    ] = False,
    where: Annotated[
        Optional[str],
        typer.Option("--where", help='Metadata filter as JSON: \'{"tenant": "a", "year": {"$gte": 2020}}\'.'),
    ] = None,
    rerank: Annotated[
        Optional[str], typer.Option("--rerank", help="Rerank the top --candidates with this reranker (provider:model).")
    ] = None,
    candidates: Annotated[
        int, typer.Option("--candidates", min=1, help="Hits per side fused by --hybrid / reranked by --rerank.")
    ] = 50,
) -> None:
    """Search a collection; JSONL hits (id, score, metadata) on stdout."""
    try:
        filters = json.loads(where) if where is not None else None
    except json.JSONDecodeError as exc:
        print_error(f'--where is not JSON ({exc.msg} at column {exc.colno}): e.g. --where \'{{"tenant": "a"}}\'')
        raise typer.Exit(2) from None
    with _store(store) as st:
        provider = load_provider(model=model) if model else None
        reranker = _reranker(rerank) if rerank else None
        try:
            with warnings.catch_warnings(record=True) as caught:  # one line each, not Python's two
                warnings.simplefilter("always", SpaceOverrideWarning)
                hits = coll.search(
                    st, collection, query, k, provider=provider, override_fingerprint=override_fingerprint,
                    mode="hybrid" if hybrid else "vector", where=filters, candidates=candidates, reranker=reranker,
                )  # fmt: skip
        finally:
            if reranker is not None:
                reranker.close()
        for warning in caught:
            print_warning(warning.message)
        for hit in hits:
            print(
                json.dumps(
                    {"id": hit.id, "score": round(hit.score, 6), "metadata": dict(hit.metadata)}, ensure_ascii=False
                )
            )


def _reranker(ref: str) -> Any:
    from ..rerank import get_reranker

    return get_reranker(ref)  # an unknown ref is one line (did-you-mean) before the store is searched


def collections(store: StoreOpt = None) -> None:
    """List collections: store, versions with fingerprints and counts, and where the alias points."""
    with _store(store) as st:
        for name in st.collections():
            pointer = st.alias(name)
            for info in st.versions(name):
                held = st.adapters(name, info.version)
                via = next((a for a in held if a.serving), None) if pointer and pointer[0] == info.version else None
                print(
                    json.dumps(
                        {
                            "collection": name,
                            "store": st.scheme,
                            "version": info.version,
                            "state": info.state,
                            "serving": bool(pointer and pointer[0] == info.version),
                            "fingerprint": coll.describe_version(info),
                            "count": st.count(name, info.version),
                            **({"adapters": [describe_adapter(a) for a in held]} if held else {}),
                            **({"via_adapter": describe_adapter(via)} if via else {}),
                        }
                    )
                )
                if via is not None:
                    err.print(
                        f"{name} serving: v{info.version} via adapter from {describe_adapter(via)}", soft_wrap=True
                    )


def migrate(
    collection: Annotated[str, typer.Argument(help="Collection name.")],
    to: Annotated[
        Optional[str], typer.Option("--to", help="provider:model to re-embed with (optional with --to-store).")
    ] = None,
    dimensions: Annotated[Optional[int], typer.Option(min=1, help="Output size of the new model.")] = None,
    max_cost: Annotated[
        Optional[float], typer.Option("--max-cost", min=0, help="Stop (resumably) before spending more USD.")
    ] = None,
    batch_size: Annotated[Optional[int], typer.Option(min=1, help="Items per commit.")] = None,
    store: StoreOpt = None,
    no_cache: NoCache = False,
    engine: EngineOpt = "online",
    actors: Annotated[
        Optional[int],
        typer.Option("--actors", min=1, help="Ray actors embedding in parallel (--engine ray; default 2)."),
    ] = None,
    requests_per_second: Annotated[
        Optional[float], typer.Option("--requests-per-second", min=0.001, help="Budget shared by the Ray actors.")
    ] = None,
    bulk: Bulk = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print items, calls, tokens, cost and time; create and embed nothing.")
    ] = False,
    to_store: Annotated[
        Optional[str],
        typer.Option("--to-store", help="Move the collection into this store (URL); same model: vectors copied."),
    ] = None,
) -> None:
    """Build a new version side by side from the stored sources; resumable; the old one keeps serving."""
    if (actors is not None or requests_per_second is not None) and engine != "ray":  # were silently ignored
        print_error("--actors and --requests-per-second go with --engine ray: add it, or leave them out")
        raise typer.Exit(2)
    if to_store is not None or to is None:  # another store: omnivec.providers.stores.transfer_cli
        from .transfer_cli import migrate_to_store

        return migrate_to_store(
            collection, to_store, to, dimensions, max_cost, batch_size, store, no_cache, engine, dry_run
        )
    ray_options = {
        "actors": actors or 2,
        **({"requests_per_second": requests_per_second} if requests_per_second else {}),
    }
    chosen = _engine(engine, bulk, ray_options)
    with _store(store, batch_size) as st:  # a migration needs an existing store
        if dry_run:
            print(json.dumps(plan_migration(st, collection, to, dimensions=dimensions)))
            return
        serving = coll.serving_version(st, collection)  # its size is the bar's total (an unknown name errs below)
        total = st.count(collection, serving.version) if serving is not None else None
        with progress_bar(f"migrating {collection}", enabled=sys.stderr.isatty()) as bar:
            task = bar.add_task("migrate", total=total)
            report = mig.migrate(
                st,
                collection,
                to,
                dimensions=dimensions,
                max_cost=max_cost,
                cache=not no_cache,
                progress=lambda n: bar.advance(task, n),
                engine=chosen,
            )
        for problem in report.problems:
            print_warning(problem)
        err.print(
            f"{collection} v{report.target_version}: {report.count} items ({report.sync.embedded} embedded, "
            f"{report.sync.cached} from cache, {report.sync.unchanged} already done, {report.deleted} deleted); "
            f"index: {report.index or 'none (exact search)'}; next: omnivec compare {collection}, then omnivec switch {collection}",
            soft_wrap=True,
        )
        if report.problems:
            raise typer.Exit(3)


def switch(
    collection: Annotated[str, typer.Argument()],
    version: Annotated[Optional[int], typer.Option(help="Version to serve (default: the newest ready one).")] = None,
    store: StoreOpt = None,
    via_adapter: Annotated[
        bool, typer.Option("--via-adapter", help="Serve the new model's queries through the adapter 'adapt' fitted.")
    ] = False,
    to: Annotated[Optional[str], typer.Option("--to", help="With --via-adapter: the model adapted to.")] = None,
    dimensions: Annotated[Optional[int], typer.Option(min=1, help="With --via-adapter --to: its size.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Serve an adapter predicted 'poor' anyway.")] = False,
) -> None:
    """Point the collection at its migrated version, atomically (after a last catch-up), or --via-adapter."""
    if via_adapter or to is not None or force or dimensions is not None:
        _switch_via_adapter(collection, version, store, via_adapter, to, dimensions, force)
        return
    with _store(store) as st:
        before = st.alias(collection)
        current = coll.serving_version(st, collection)
        via = serving_adapter(st, current) if current is not None else None
        info = mig.switch(st, collection, version)
        if before is not None and before[0] == info.version:
            err.print(
                f"{collection} already serves v{info.version} ({coll.describe_version(info)}): nothing changed; "
                f"'omnivec rollback {collection}' goes back",
                soft_wrap=True,
            )
            return
        was = f" (was v{current.version} via adapter from {describe_adapter(via)})" if current and via else ""
        err.print(f"{collection} now serves v{info.version} ({coll.describe_version(info)}){was}", soft_wrap=True)


def rollback(collection: Annotated[str, typer.Argument()], store: StoreOpt = None) -> None:
    """Serve the previous version again (or the serving one through its own model, after --via-adapter)."""
    with _store(store) as st:
        serving = coll.serving_version(st, collection)
        via = serving_adapter(st, serving) if serving is not None else None
        info = mig.rollback(st, collection)
        undone = f", no longer via the adapter from {describe_adapter(via)}" if via and info == serving else ""
        err.print(f"{collection} now serves v{info.version} ({coll.describe_version(info)}){undone}", soft_wrap=True)


def adapt(
    collection: Annotated[str, typer.Argument(help="Collection name.")],
    to: Annotated[str, typer.Option("--to", help="provider:model whose queries the adapter maps.")],
    dimensions: Annotated[Optional[int], typer.Option(min=1, help="Output size of the new model.")] = None,
    sample: Annotated[int, typer.Option("--sample", help="Stored items to embed with --to and fit on.")] = 1000,
    max_cost: Annotated[
        Optional[float], typer.Option("--max-cost", min=0, help="Refuse (before any call) a sample costing more USD.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Which random sample (the same seed draws the same).")] = 0,
    batch_size: Annotated[Optional[int], typer.Option(min=1, help="Items per embedding batch (one in flight).")] = None,
    store: StoreOpt = None,
) -> None:
    """Fit a space adapter: the new model's queries, mapped, search the old index (no re-embed, old model unused)."""
    with _store(store, batch_size) as st:
        with progress_bar(f"adapting {collection}", enabled=sys.stderr.isatty()) as bar:
            task = bar.add_task("adapt", total=sample)
            report = adapting.adapt(
                st, collection, to, dimensions=dimensions, sample=sample, max_cost=max_cost, seed=seed,
                progress=lambda n: bar.advance(task, n),
            )  # fmt: skip
        for note in report.notes:
            print_warning(note)
        print(json.dumps(asdict(report)))
        serving = "serving now (a refit of the serving adapter)" if report.serving else "stored"
        err.print(
            f"{collection} v{report.version}: adapter {report.digest} from {report.model} ({report.kind}, "
            f"{report.sample} pairs: {report.embedded} embedded, {report.cached} from cache); held-out mean cosine "
            f"{report.mean_cosine:.3f}, overlap@10 {report.overlap_at_10:.3f}; predicted verdict: {report.verdict}; "
            f"{serving}; next: omnivec compare {collection} --adapter, then omnivec switch {collection} --via-adapter",
            soft_wrap=True,
        )


def _switch_via_adapter(
    collection: str, version: int | None, store: str | None, via: bool, to: str | None, dims: int | None, force: bool
) -> None:
    if not via:
        print_error("--to, --dimensions and --force go with --via-adapter (switch to a migrated version takes none)")
        raise typer.Exit(2)
    if version is not None:
        print_error("--version does not go with --via-adapter: the adapter serves through the version that serves now")
        raise typer.Exit(2)
    with _store(store) as st:
        info, record = adapting.switch_via_adapter(st, collection, to, dimensions=dims, force=force)
        err.print(
            f"{collection} serving: v{info.version} via adapter from {describe_adapter(record)} "
            f"(adapter {record.digest}, verdict {verdict(record)}); 'omnivec rollback {collection}' undoes it",
            soft_wrap=True,
        )


def drop(
    collection: Annotated[str, typer.Argument()],
    version: Annotated[Optional[int], typer.Option(help="Only this version.")] = None,
    all_versions: Annotated[
        bool, typer.Option("--all", help="Drop the whole collection, serving version included.")
    ] = False,
    store: StoreOpt = None,
) -> None:
    """Delete the versions that no longer serve (or one version, or everything with --all)."""
    if all_versions and version is not None:
        print_error("--all drops every version and --version only one: give one of them")
        raise typer.Exit(2)
    with _store(store) as st:
        dropped = mig.drop(st, collection, version, everything=all_versions)
        err.print(f"{collection}: dropped version(s) {', '.join(map(str, dropped)) or 'none'}", soft_wrap=True)


def doctor(
    collection: Annotated[str, typer.Argument()],
    store: StoreOpt = None,
    repair: Annotated[
        bool, typer.Option("--repair", help="Set version states to agree with what serves (the alias).")
    ] = False,
) -> None:
    """Check fingerprints, dimensions, duplicate ids, unit norms, sources and states; exit 1 if anything is wrong."""
    with _store(store) as st:
        problems = find_problems(st, collection, repair=repair)
    for problem in problems:
        print(problem)
    if any("repaired (now" not in p for p in problems):  # all repaired: exit 0
        raise typer.Exit(1)
    err.print(f"{collection}: no problems found", soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the store commands to the ``omnivec`` CLI."""
    for command in (index, search, collections, migrate, adapt, switch, rollback, drop, doctor):
        app.command(name=command.__name__)(command)
