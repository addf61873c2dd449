"""The console helpers every ``omnivec`` command shares: the stderr console, error lines, progress bars.

Public, because commands plug into ``omnivec`` from other packages too (the ``omnivec.cli`` entry
point, as ``omnivec bench`` does): theirs should print errors and progress the same way.

Messages are printed as plain text, never as Rich markup: an error that quotes ``[provider:model]``
or ``[/path]`` must reach the user verbatim, and a line must not be wrapped when stderr is a file.
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

__all__ = ["err", "print_error", "print_warning", "progress_bar"]

err = Console(stderr=True, soft_wrap=True, emoji=False)  # "fake:x:y" must not print as "fake❌y"


def print_error(message: object) -> None:
    """One ``error: ...`` line on stderr, the message shown exactly as given."""
    err.print(f"[red]error:[/red] {escape(str(message))}", soft_wrap=True)


def print_warning(message: object) -> None:
    """One ``warning: ...`` line on stderr, the message shown exactly as given."""
    err.print(f"[yellow]warning:[/yellow] {escape(str(message))}", soft_wrap=True)


def progress_bar(label: str, *, enabled: bool = True) -> Progress:
    """The one progress bar style used by every command (rendered on stderr, gone when done).

    Shown only when stderr is a terminal: in a log file or a pipe a live bar is noise, and even a
    transient one leaves a stray blank line before the next message.
    """
    return Progress(
        TextColumn(f"[bold]{escape(label)}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not enabled or not err.is_terminal,
    )
