"""``omnivec bench``: the side-by-side benchmark from the command line.

With no arguments it compares, offline, the BM25 lexical baseline with the local default model on
the bundled SciFact-nano; ``--emulate`` adds the cloud adapters against the local emulator
(labelled EMULATED). Real cloud providers run only when named in ``--providers``.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from ..providers.console import err, print_error, print_warning, progress_bar
from ..providers.errors import EmbeddingError, InvalidOptionError
from ..providers.registry import builtin_providers
from .bench import results_folder, run_benchmark
from .config import BenchConfig, load_bench_config
from .outputs import write_outputs
from .report import failure_summary, rich_table, table_notes

__all__ = ["register"]

EXIT_FAILED_ITEMS = 1
EXIT_INTERRUPTED = 130


def _split(value: Optional[str], flag: str) -> Optional[list[str]]:
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items:  # an unset shell variable, most likely: never read as "run nothing"
        raise InvalidOptionError(f"{flag} {value!r} names nothing: give a comma-separated list, or 'none' for no rows")
    return [] if items == ["none"] else items


def _ints(value: Optional[str], flag: str) -> Optional[list[int]]:
    if value is None:
        return None
    try:
        numbers = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise InvalidOptionError(f"{flag} {value!r}: give comma-separated whole numbers, e.g. {flag} 128,256") from None
    if not numbers or min(numbers) < 1:
        raise InvalidOptionError(f"{flag} {value!r}: give comma-separated positive whole numbers, e.g. {flag} 128,256")
    return numbers


def _credential_hints(settings: BenchConfig) -> list[str]:
    """How to add the real cloud rows when credentials are present (never used unasked: calls cost money)."""
    if settings.providers is not None or settings.emulate:
        return []
    hints = []
    for name, info in builtin_providers().items():  # the registry knows each SDK's credential variables
        found = [v for v in info.credential_env if os.environ.get(v)]
        if found:
            hints.append(
                f"note: {found[0]} is set: to compare the real {name} model add it with "
                f"--providers local,{name} (paid API calls; this run made none)"
            )
    return hints


def bench(
    providers: Annotated[
        Optional[str], typer.Option(help="Comma-separated provider:model refs (default: local).")
    ] = None,
    dataset: Annotated[Optional[list[str]], typer.Option(help="Bundled set name or folder (repeatable).")] = None,
    config: Annotated[Optional[Path], typer.Option(help="TOML file with the same names as these flags.")] = None,
    retrievers: Annotated[
        Optional[str], typer.Option(help="Lexical rows beside the providers (default: bm25; 'none').")
    ] = None,
    rerank: Annotated[
        Optional[str],
        typer.Option(help="Comma-separated reranker refs: each adds a row <provider>→rerank:<ref> per provider."),
    ] = None,
    hybrid: Annotated[
        Optional[str],
        typer.Option(help="Lexical rows fused (RRF) with each provider: a row hybrid(<lexical>+<provider>) each."),
    ] = None,
    baseline: Annotated[
        Optional[str], typer.Option(help="Row to compare against (default: the first row, BM25).")
    ] = None,
    dims: Annotated[Optional[str], typer.Option(help="Dimension sweep, e.g. 128,256,384.")] = None,
    emulate: Annotated[
        bool, typer.Option(help="Add the cloud providers, run against the local emulator (labelled EMULATED).")
    ] = False,
    split: Annotated[Optional[str], typer.Option(help="qrels split of text sets.")] = None,
    main_metric: Annotated[
        Optional[str], typer.Option(help="Metric compared and plotted, e.g. ndcg@10, recall@100.")
    ] = None,
    out: Annotated[Optional[Path], typer.Option(help="Parent folder of results/<run>/.")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Embed everything live.")] = False,
    latency_queries: Annotated[Optional[int], typer.Option(help="Single-item query calls to time.")] = None,
    no_plots: Annotated[bool, typer.Option("--no-plots", help="Skip the PNG plots.")] = False,
    wide: Annotated[
        bool, typer.Option("--wide", help="Every column in the console table (report.md always has them).")
    ] = False,
    allow_failures: Annotated[
        bool, typer.Option("--allow-failures", help="Exit 0 even when some items failed to embed.")
    ] = False,
) -> None:
    """Benchmark providers side by side: retrieval quality, latency and cost on the same data."""
    began = time.perf_counter()
    try:
        overrides = {
            "providers": _split(providers, "--providers"),
            "datasets": dataset,
            "retrievers": _split(retrievers, "--retrievers"),
            "rerankers": _split(rerank, "--rerank"),
            "hybrid": _split(hybrid, "--hybrid"),
            "baseline": baseline,
            "dims": _ints(dims, "--dims"),
            "emulate": emulate or None,
            "split": split,
            "main_metric": main_metric,
            "out": out,
            "latency_queries": latency_queries,
            "plots": False if no_plots else None,
            "allow_failures": allow_failures or None,
        }
        if no_cache:
            overrides["cache"] = None
        settings = load_bench_config(config, **overrides)
        settings.check_paths()
    except EmbeddingError as exc:
        print_error(exc)
        raise typer.Exit(2) from exc
    for hint in _credential_hints(settings):
        err.print(hint, markup=False, highlight=False, soft_wrap=True)
    bar = progress_bar("bench")

    def progress(label: str, total: int, done: int) -> Callable[[int], None]:
        task = bar.add_task(label, total=total, completed=done)
        return lambda n: bar.advance(task, n)

    try:
        with bar:
            result = asyncio.run(run_benchmark(settings, progress=progress))
    except EmbeddingError as exc:
        print_error(exc)
        raise typer.Exit(2) from exc
    except KeyboardInterrupt:
        kept = "vectors embedded so far are kept in the cache" if settings.cache else "--no-cache: nothing was kept"
        print_error(f"interrupted: no results written ({kept})")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    folder = write_outputs(result, results_folder(settings, datetime.now()), plots=settings.plots)
    console = Console(width=240) if wide else Console()
    console.print(rich_table(result, wide=wide))
    console.print(table_notes(result, wide=wide), markup=False, highlight=False)
    failures = failure_summary(result)
    for line in failures:
        print_warning(line)
    err.print(f"results in {folder}/ ({time.perf_counter() - began:.1f} s)", markup=False, highlight=False)
    if failures and not settings.allow_failures:
        print_error(
            f"{len(failures)} row(s) had failed items (see above and report.md); pass --allow-failures to exit 0 anyway"
        )
        raise typer.Exit(EXIT_FAILED_ITEMS)


def register(app: typer.Typer) -> None:
    app.command(name="bench")(bench)
