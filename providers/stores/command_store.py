"""The store a CLI command works on: opened from ``--store`` (or the configured one), its errors and
Ctrl-C turned into one line and an exit status, closed at the end. Shared by every store command."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer

from ..console import print_error, print_warning
from ..errors import EmbeddingError
from .base import VectorStore
from .errors import MigrationIncompleteError
from .registry import open_store

__all__ = ["command_store"]


@contextmanager
def command_store(url: str | None, batch_size: int | None = None, *, create: bool = False) -> Iterator[VectorStore]:
    """The store of a command; only ``index`` and ``migrate`` may create it (``create``)."""
    try:
        # --store replaces the URL only: the other [store] settings (index, index_min_rows...) still apply
        options = {**({"url": url} if url else {}), **({"batch_size": batch_size} if batch_size else {})}
        store = open_store(None, create=create, **options)
    except EmbeddingError as exc:
        print_error(exc)
        raise typer.Exit(2) from exc
    store.on_lock_wait = print_warning  # a run queued behind another writer says so instead of hanging silently
    try:
        yield store
    except KeyboardInterrupt:
        print_error("interrupted: what was already committed is kept; run the same command again to resume")
        raise typer.Exit(130) from None
    except MigrationIncompleteError as exc:
        print_error(exc)
        raise typer.Exit(3) from exc
    except EmbeddingError as exc:
        print_error(exc)
        raise typer.Exit(2) from exc
    finally:
        store.close()
