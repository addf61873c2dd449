"""``omnivec bench``: the side-by-side benchmark from the command line."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Callable, Optional

import typer
from rich.console import Console

from ..providers._console import err, print_error, progress_bar
from ..providers.errors import EmbeddingError
from .bench import BenchConfig, load_bench_config, run_benchmark
from .report import rich_table, write_outputs

__all__ = ["register"]


def _split(value: Optional[str]) -> Optional[list[str]]:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def bench(
    providers: Annotated[Optional[str], typer.Option(help="Comma-separated provider:model refs (default: local).")] = None,
    dataset: Annotated[Optional[list[str]], typer.Option(help="Bundled set name or folder (repeatable).")] = None,
    config: Annotated[Optional[Path], typer.Option(help="TOML file with the same names as these flags.")] = None,
    baseline: Annotated[Optional[str], typer.Option(help="Label to compare against (default: first provider).")] = None,
    dims: Annotated[Optional[str], typer.Option(help="Dimension sweep, e.g. 128,256,384.")] = None,
    emulate: Annotated[bool, typer.Option(help="Cloud providers against the local emulator (labelled EMULATED).")] = False,
    split: Annotated[Optional[str], typer.Option(help="qrels split of text sets.")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Parent folder of results/<run>/.")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Embed everything live.")] = False,
    latency_queries: Annotated[Optional[int], typer.Option(help="Single-item query calls to time.")] = None,
    no_plots: Annotated[bool, typer.Option("--no-plots", help="Skip the PNG plots.")] = False,
) -> None:
    """Benchmark providers side by side: retrieval quality, latency and cost on the same data."""
    overrides = {
        "providers": _split(providers),
        "datasets": dataset,
        "baseline": baseline,
        "dims": [int(d) for d in _split(dims) or []] or None,
        "emulate": emulate or None,
        "split": split,
        "out": out,
        "latency_queries": latency_queries,
        "plots": False if no_plots else None,
    }
    if no_cache:
        overrides["cache"] = None
    given = {k: v for k, v in overrides.items() if v is not None or k == "cache"}
    try:
        settings = load_bench_config(config, **given) if config else BenchConfig(**given)
    except (ValueError, OSError) as exc:
        print_error(exc)
        raise typer.Exit(2) from exc
    began = time.perf_counter()
    bar = progress_bar("bench")

    def progress(label: str, total: int, done: int) -> Callable[[int], None]:
        task = bar.add_task(label, total=total, completed=done)
        return lambda n: bar.advance(task, n)

    try:
        with bar:
            result = asyncio.run(run_benchmark(settings, progress=progress))
    except (EmbeddingError, FileNotFoundError) as exc:
        print_error(exc)
        raise typer.Exit(2) from exc
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{datetime.now():%Y%m%d-%H%M%S}-{'+'.join(settings.datasets)}")
    folder, n = settings.out / name, 1
    while folder.exists():  # two runs in the same second must not overwrite each other
        n += 1
        folder = settings.out / f"{name}-{n}"
    write_outputs(result, folder, plots=settings.plots)
    Console(width=200).print(rich_table(result))
    err.print(f"results in {folder}/ ({time.perf_counter() - began:.1f} s)")


def register(app: typer.Typer) -> None:
    app.command(name="bench")(bench)
