"""``omnivec migrate NAME --to-store URL [--to REF]``: the command around :func:`.transfer.transfer`,
kept out of :mod:`.cli` so that module only routes to it."""

from __future__ import annotations

import sys

import typer

from ..config import load_provider
from ..console import err, print_error, print_warning, progress_bar
from .base import check_name
from .command_store import command_store
from .registry import open_store
from .serving import require_serving
from .transfer import check_distinct_stores, transfer

__all__ = ["migrate_to_store"]


def migrate_to_store(
    collection: str,
    to_store: str | None,
    to: str | None,
    dimensions: int | None,
    max_cost: float | None,
    batch_size: int | None,
    store: str | None,
    no_cache: bool,
    engine: str,
    dry_run: bool,
) -> None:
    """Exit 2 with one line on bad input (nothing opened in the target, nothing written), 3 when the
    copy needs another run (items changed while it ran, spend cap, failed items)."""
    if to_store is None:
        print_error("migrate needs --to REF (re-embed with another model) or --to-store URL (move to another store)")
        raise typer.Exit(2)
    if dry_run:
        print_error("--dry-run plans a re-embedding inside one store: leave it out with --to-store")
        raise typer.Exit(2)
    for flag, given in (("--dimensions", dimensions is not None), ("--engine", engine != "online")):
        if given and to is None:
            print_error(f"{flag} goes with --to REF (re-embedding); a move without --to copies the stored vectors")
            raise typer.Exit(2)
    with command_store(store, batch_size) as source:
        # Everything that can be refused is checked before the target is opened, since opening creates it.
        check_name(collection)
        check_distinct_stores(source.url, to_store)
        require_serving(source, collection)
        provider = None if to is None else load_provider(model=to, **({"dimensions": dimensions} if dimensions else {}))
        target = open_store(to_store, batch_size=batch_size) if batch_size else open_store(to_store)
        with target, progress_bar(f"moving {collection}", enabled=sys.stderr.isatty()) as bar:
            task = bar.add_task("move", total=None)
            report = transfer(
                source, collection, target, to=provider, max_cost=max_cost, cache=not no_cache,
                progress=lambda n: bar.advance(task, n), engine=engine,
            )  # fmt: skip
    for problem in report.problems:
        print_warning(problem)
    how = (
        f"{report.copied} copied with their vectors, {report.unchanged} already there"
        if report.embedded is None
        else f"{report.embedded.embedded} embedded, {report.embedded.cached} from cache, "
        f"{report.embedded.unchanged} already there"
    )
    after = (
        "it serves there now: point OMNIVEC_STORE at the target"
        if report.serving
        else f"next: omnivec switch {collection} --store TARGET"
    )
    err.print(
        f"{collection} v{report.target_version} in the target store: {report.count} items ({how}, {report.deleted} "
        f"deleted), fingerprint #{report.fingerprint_hash}; index: {report.index or 'none (exact search)'}; {after}",
        soft_wrap=True,
    )
    if report.problems:
        raise typer.Exit(3)
