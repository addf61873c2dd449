"""The ``omnivec`` command: ``embed`` and ``providers`` here; every other subcommand plugs in.

Subcommands such as ``bench`` and ``emulate`` register through the ``omnivec.cli`` entry-point group
(name -> ``module:register``, where ``register(app)`` adds its commands). This module therefore knows
none of its consumers: ``omnivec.benchmarks`` depends on ``omnivec.providers``, never the reverse.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, Any, Optional

import numpy as np
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup
from typer.exceptions import TyperException

from ._validation import check_intent, describe_validation_error
from .config import load_config, load_provider
from .console import err, print_error, print_warning, progress_bar
from .errors import EmbeddingError
from .inputs import Image, Input, is_blank_text
from .registry import ALIASES, get_provider, known_providers
from .types import INTENTS

COMMAND_GROUP = "omnivec.cli"


class CliError(Exception):
    """A mistake on the command line, found before any work: printed as one line, exit 2."""


@contextmanager
def _one_line_usage_errors() -> Iterator[None]:
    # Click's usage errors render as a multi-line box; every omnivec error is one line instead.
    # Typer vendors its own click, whose exceptions all derive from TyperException.
    try:
        yield
    except TyperException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError" or not hasattr(exc, "format_message"):
            raise  # bare `omnivec`: the help text is the answer
        ctx = getattr(exc, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        print_error(exc.format_message() + hint)
        raise typer.Exit(getattr(exc, "exit_code", 2)) from exc


class _OneLineErrorsGroup(TyperGroup):
    """The ``omnivec`` group: usage errors of any subcommand are one ``error:`` line, exit 2."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        with _one_line_usage_errors():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: Any) -> Any:
        with _one_line_usage_errors():
            return super().invoke(ctx)


app = typer.Typer(
    help="One embedding interface for Bedrock Nova, Gemini and local models.",
    no_args_is_help=True,
    cls=_OneLineErrorsGroup,
)


def _read_lines(file: Path) -> list[str]:
    """The non-blank lines of a UTF-8 text file (``-``: standard input); one that is not is a one-line error."""
    if str(file) == "-":
        return _text_lines(sys.stdin.buffer.read(), "--file - (standard input)")
    if not file.exists():
        raise CliError(f"--file {str(file)!r} does not exist")
    if file.is_dir():
        raise CliError(f"--file {str(file)!r} is a directory: pass a text file with one input per line")
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise CliError(f"--file {str(file)!r} cannot be read: {exc.strerror or exc}") from exc
    return _text_lines(data, f"--file {str(file)!r}")


def _text_lines(data: bytes, source: str) -> list[str]:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(data) > 1 and data.count(0) > len(data) // 4):
        raise CliError(f"{source} is not UTF-8 text (it looks like UTF-16, UTF-32 or binary): save it as UTF-8")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CliError(
            f"{source} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}): save it as UTF-8"
        ) from exc
    # One input per line: split on newlines only (str.splitlines would also cut at U+2028, \x0c...).
    return [line.removesuffix("\r") for line in text.split("\n") if not is_blank_text(line)]


OUT_FORMATS = {".jsonl": "one JSON object per line", ".npy": "a NumPy matrix"}


def _out_format(out: Path) -> str:
    """The output format, from the suffix in any case (``vec.NPY`` is NumPy); others are refused."""
    suffix = out.suffix.lower()
    if suffix not in OUT_FORMATS:
        accepted = ", ".join(f"{name} ({what})" for name, what in OUT_FORMATS.items())
        given = f"ends in {out.suffix!r}" if out.suffix else "has no suffix"
        raise CliError(f"--out {str(out)!r} {given}: name a file ending in {accepted}")
    return suffix


def _check_out(out: Path) -> None:
    """Refuse an output path that cannot be written before any embedding is paid for."""
    if out.is_dir():
        raise CliError(f"--out {str(out)!r} is a directory: give a file name ending in .jsonl or .npy")
    _out_format(out)
    folder = out.parent
    if not folder.is_dir():
        raise CliError(f"--out {str(out)!r}: folder {str(folder)!r} does not exist; create it first")
    if not os.access(folder, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise CliError(f"--out {str(out)!r} is not writable")


def _checked_args(model: str | None, dimensions: int | None, intent: str, out: Path | None) -> None:
    if model is not None and not model.strip():
        raise CliError(
            "--model is empty: pass provider:model (e.g. local, gemini:gemini-embedding-2), "
            "or leave it out to use OMNIVEC_MODEL"
        )
    if dimensions is not None and dimensions < 1:
        raise CliError(f"--dimensions {dimensions} is not a vector size: pass a positive size the model allows")
    check_intent(intent)
    if out is not None:
        _check_out(out)


@app.command()
def embed(
    texts: Annotated[Optional[list[str]], typer.Argument(help="Texts to embed.")] = None,
    image: Annotated[Optional[list[Path]], typer.Option("--image", "-i", help="Image file (repeatable).")] = None,
    file: Annotated[
        Optional[Path], typer.Option("--file", "-f", help="UTF-8 text file, one input per line ('-': stdin).")
    ] = None,
    intent: Annotated[str, typer.Option(help=f"One of: {', '.join(INTENTS)}.")] = "document",
    model: Annotated[
        Optional[str], typer.Option("--model", "-m", help="provider:model; default OMNIVEC_MODEL.")
    ] = None,
    dimensions: Annotated[Optional[int], typer.Option(help="Output size, if the model allows it.")] = None,
    out: Annotated[
        Optional[Path], typer.Option("--out", "-o", help="Write .jsonl or .npy (default: JSONL on stdout).")
    ] = None,
) -> None:
    """Embed texts and images; vectors come out in input order.

    Every argument is checked before the model is loaded or a request is sent; a mistake is one
    ``error:`` line on stderr and exit status 2.
    """
    inputs: list[Input] = list(texts or [])
    labels: list[str] = list(inputs)  # type: ignore[arg-type]
    try:
        _checked_args(model, dimensions, intent, out)
        if file is not None:
            lines = _read_lines(file)
            inputs += lines
            labels += lines
        for path in image or []:
            inputs.append(Image.from_path(path))
            labels.append(str(path))
        if not inputs:
            raise CliError("nothing to embed: pass texts, --file or --image")
        with warnings.catch_warnings(record=True) as caught:  # shown below as one line each, not Python's two
            warnings.simplefilter("always")
            provider = load_provider(model=model, **({"dimensions": dimensions} if dimensions is not None else {}))
            with progress_bar(f"embedding with {provider.ref}", enabled=len(inputs) > 1) as bar:
                task = bar.add_task("embed", total=len(inputs))
                result = provider.embed_sync(inputs, intent=intent, progress=lambda n: bar.advance(task, n))  # type: ignore[arg-type]
        for message in dict.fromkeys([*(str(w.message) for w in caught), *result.warnings]):
            print_warning(message)
        _write(result.vectors, labels, out)
    except (EmbeddingError, CliError) as exc:
        print_error(exc)
        raise typer.Exit(2) from exc
    except ValidationError as exc:  # settings built outside the core; shown without values
        print_error(describe_validation_error(exc, "omnivec"))
        raise typer.Exit(2) from exc
    where = f" → {out}" if out else ""
    err.print(
        f"{len(result)} × {result.dimensions} vectors from {provider.ref} (fingerprint {result.fingerprint.hash}){where}",
        markup=False,
        highlight=False,
    )


def _write(vectors: np.ndarray, labels: list[str], out: Path | None) -> None:
    if out is not None and _out_format(out) == ".npy":
        try:
            with out.open("wb") as handle:  # np.save(path) would append ".npy" to "vec.NPY"
                np.save(handle, vectors)
        except OSError as exc:
            raise CliError(f"cannot write --out {str(out)!r}: {exc.strerror or exc}") from exc
        return
    lines_out = "".join(
        json.dumps({"index": i, "input": label, "embedding": vector.tolist()}) + "\n"
        for i, (label, vector) in enumerate(zip(labels, vectors, strict=True))
    )
    if out is None:
        sys.stdout.write(lines_out)
        return
    try:
        out.write_text(lines_out, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot write --out {str(out)!r}: {exc.strerror or exc}") from exc


@app.command()
def providers() -> None:
    """List known providers, their models and capabilities, and whether their extra is installed."""
    table = Table(title="omnivec providers")
    for column in ("provider", "aliases", "default model", "installed", "modalities", "batch", "dimensions"):
        table.add_column(column)
    for name, info in known_providers().items():
        aliases = ", ".join(a for a, target in ALIASES.items() if target == name)
        installed = all(importlib.util.find_spec(m.partition(".")[0]) for m in info.requires)
        extra = "yes" if installed else f'no: pip install "omnivec[{info.extra}]"'
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
    try:
        _pool_table()
    except EmbeddingError as exc:  # a bad [pool] section: one line, as everywhere
        print_error(exc)
        raise typer.Exit(2) from exc


def _pool_table() -> None:
    """The configured endpoint pool's members with their rate budgets (process-wide, per rate key)."""
    config = load_config()
    if not config.pool.member_options():
        return
    from .pool import EndpointPool

    pool = load_provider(config)
    assert isinstance(pool, EndpointPool)
    table = Table(title=f"endpoint pool for {config.model} (one vector space)")
    for column in ("#", "endpoint", "state", "learned req/s", "ok", "failed", "throttled", "outages"):
        table.add_column(column)
    for i, row in enumerate(pool.snapshot()):
        learned = row["learned_rps"]
        table.add_row(str(i), *(str(row[k]) for k in ("endpoint", "state")), "-" if learned is None else f"{learned:.1f}",
                      *(str(row[k]) for k in ("ok", "failed", "throttled", "outages")))  # fmt: skip
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
