"""The ``omnivec`` command: ``embed`` and ``providers`` here; every other subcommand plugs in.

Subcommands such as ``bench`` and ``emulate`` register through the ``omnivec.cli`` entry-point group
(name -> ``module:register``, where ``register(app)`` adds its commands). This module therefore knows
none of its consumers: ``omnivec.benchmarks`` depends on ``omnivec.providers``, never the reverse.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import warnings
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from ._console import err, print_error, progress_bar
from .config import load_provider
from .errors import EmbeddingError
from .inputs import Image, Input
from .registry import ALIASES, get_provider, known_providers
from .types import INTENTS

app = typer.Typer(help="One embedding interface for Bedrock Nova, Gemini and local models.", no_args_is_help=True)
COMMAND_GROUP = "omnivec.cli"


@app.command()
def embed(
    texts: Annotated[Optional[list[str]], typer.Argument(help="Texts to embed.")] = None,
    image: Annotated[Optional[list[Path]], typer.Option("--image", "-i", help="Image file (repeatable).")] = None,
    file: Annotated[Optional[Path], typer.Option("--file", "-f", help="Text file, one input per line.")] = None,
    intent: Annotated[str, typer.Option(help=f"One of: {', '.join(INTENTS)}.")] = "document",
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="provider:model; default OMNIVEC_MODEL.")] = None,
    dimensions: Annotated[Optional[int], typer.Option(help="Output size, if the model allows it.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write .jsonl or .npy (default: JSONL on stdout).")] = None,
) -> None:
    """Embed texts and images; vectors come out in input order."""
    inputs: list[Input] = list(texts or [])
    labels: list[str] = list(inputs)  # type: ignore[arg-type]
    if file is not None:
        lines = [line for line in file.read_text().splitlines() if line.strip()]
        inputs += lines
        labels += lines
    try:
        for path in image or []:
            inputs.append(Image.from_path(path))
            labels.append(str(path))
        provider = load_provider(model=model, **({"dimensions": dimensions} if dimensions else {}))
        with progress_bar(f"embedding with {provider.ref}", enabled=len(inputs) > 1) as bar:
            task = bar.add_task("embed", total=len(inputs))
            result = provider.embed_sync(inputs, intent=intent, progress=lambda n: bar.advance(task, n))  # type: ignore[arg-type]
    except EmbeddingError as exc:
        print_error(exc)
        raise typer.Exit(2) from exc
    if out is not None and out.suffix == ".npy":
        np.save(out, result.vectors)
    else:
        lines_out = (
            json.dumps({"index": i, "input": label, "embedding": vector.tolist()})
            for i, (label, vector) in enumerate(zip(labels, result.vectors))
        )
        if out is None:
            sys.stdout.write("\n".join(lines_out) + "\n")
        else:
            out.write_text("\n".join(lines_out) + "\n")
    err.print(
        f"{len(result)} × {result.dimensions} vectors from {provider.ref} "
        f"(fingerprint {result.fingerprint.hash})" + (f" → {out}" if out else "")
    )


@app.command()
def providers() -> None:
    """List known providers, their models and capabilities, and whether their extra is installed."""
    table = Table(title="omnivec providers")
    for column in ("provider", "aliases", "default model", "installed", "modalities", "batch", "dimensions"):
        table.add_column(column)
    for name, info in known_providers().items():
        aliases = ", ".join(a for a, target in ALIASES.items() if target == name)
        installed = all(importlib.util.find_spec(m.partition(".")[0]) for m in info.requires)
        extra = "yes" if installed else f"no: pip install \"omnivec[{info.extra}]\""
        caps = None
        if installed and info.default_model:
            try:
                caps = get_provider(f"{name}:{info.default_model}").capabilities
            except EmbeddingError:
                caps = None
        table.add_row(
            name,
            aliases,
            info.default_model or "",
            extra,
            ", ".join(sorted(caps.modalities)) if caps else "?",
            str(caps.max_batch_size) if caps else "?",
            caps.describe_dimensions() if caps else "?",
        )
    Console().print(table)


def attach_commands(target: typer.Typer = app) -> typer.Typer:
    """Add every subcommand registered in the ``omnivec.cli`` entry-point group to ``target``.

    A plugin that fails to load costs only its own commands (with a warning), never the CLI.
    """
    for ep in sorted(entry_points(group=COMMAND_GROUP), key=lambda ep: ep.name):
        try:
            ep.load()(target)
        except ImportError as exc:  # its optional extra is not installed
            warnings.warn(f"omnivec command {ep.name!r} unavailable: {exc}", stacklevel=2)
    return target


def main() -> None:
    """Entry point of the ``omnivec`` script."""
    attach_commands()
    app()
