"""What a script measuring omnivec needs beside the public API (ours live in the repository's
``benchmarks/perf`` and run from there; they import nothing private, and neither need yours).

* Rate state: start each run as a fresh process would (nothing learned), and read where the rate
  control ended (learned rate, throttles, calls in flight).
* The core's thread hop: raw SDK calls awaited through the same hand-off the core uses, so a raw
  baseline can pay what the core pays for blocking SDKs (``CallThreads`` / ``in_thread``).
* The vector the emulator answers for a text, to check every vector came back to the right row.
* Local models: the Sentence Transformers runtimes and their cached exports, loaded as the
  provider loads them, and the model object a provider calls (to time it called directly).
* Script plumbing: argparse types and ``run_main``, which ends a Ctrl-C in one line and status 130.
* The rate control's parts (``RateBudget``, ``RateBackground``, ``retry_backoff``, ``guessed_throttle``)
  for a model of it on a simulated clock (``benchmarks/perf/rate_model.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

from .._background import Background as RateBackground
from .._rate import Budget as RateBudget
from .._rate import rate_budget, reset_budgets
from .._retry import backoff as retry_backoff
from .._retry import with_guessed_wait
from .._threads import CallThreads, in_thread
from ..emulator._vectors import text_vector
from ..errors import RateLimitError
from ..sentence_transformers._backends import BACKENDS

if TYPE_CHECKING:
    from ..base import EmbeddingProvider
    from ..sentence_transformers import SentenceTransformersProvider

__all__ = [
    "LOCAL_BACKENDS",
    "CallThreads",
    "HelpFormatter",
    "RateBackground",
    "RateBudget",
    "at_least_one",
    "emulator_text_vector",
    "fresh_rate_state",
    "guessed_throttle",
    "in_thread",
    "local_model",
    "not_negative",
    "provider_model",
    "rate_state",
    "retry_backoff",
    "run_main",
]

LOCAL_BACKENDS: tuple[str, ...] = BACKENDS
"""Runtimes a local Sentence Transformers model can run on (``backend=``), torch first."""


def guessed_throttle() -> RateLimitError:
    """A 429 without a hint, as an adapter's error table hands it to the core (our guessed wait)."""
    return with_guessed_wait(RateLimitError("throttled"))


def fresh_rate_state() -> None:
    """Forget every learned rate and fixed cap, as a new process would start."""
    reset_budgets()


def rate_state(provider: EmbeddingProvider[Any]) -> dict[str, float | int | None]:
    """Where ``provider``'s rate control stands: learned req/s (None: standing down), ``w_max``,
    requests sent and throttled, the background throttle share, and the calls-in-flight ``limit``."""
    state = rate_budget(provider.rate_key(), provider.rate_limits).snapshot()
    gate = provider._limits.current(provider.capabilities.max_concurrency, adaptive=True)
    return {**state, "limit": gate.limit}


def emulator_text_vector(text: str, dims: int) -> list[float]:
    """The vector the emulator answers for ``text`` (as the provider sent it, prompt included)."""
    return text_vector(text, dims)


def local_model(
    model: str,
    backend: str,
    *,
    cache_folder: str | None = None,
    threads: int | None = None,
    calibration_file: str | None = None,
) -> tuple[Any, bool]:
    """A SentenceTransformer for ``model`` on ``backend``, loaded as the local provider loads it,
    and whether its export was in the cache already (torch has none: always True).
    ``calibration_file`` is the static int8 sample (``backend="openvino-int8"`` only)."""
    import json

    from ..sentence_transformers._backends import export_folder, load_sentence_transformer
    from ..sentence_transformers._static_int8 import Calibration
    from ..sentence_transformers.provider import _resolve_path, _weights_signature

    path = _resolve_path(model)
    weights = _weights_signature(path)
    calibration = Calibration.from_file(calibration_file) if backend == "openvino-int8" else None
    folder = export_folder(path, weights, cache_folder)
    record = folder / "export.json"
    cached = backend == "torch" or (record.is_file() and backend in json.loads(record.read_text()))
    if calibration is not None:  # one export per sample
        cached = any((folder / "openvino").glob(f"*_{calibration.digest}.xml"))
    st = load_sentence_transformer(
        path,
        backend=backend,
        weights=weights,
        device="cpu",
        cache_folder=cache_folder,
        threads=threads,
        calibration=calibration,
    )
    return st, cached


def provider_model(provider: SentenceTransformersProvider) -> Any:
    """The very model object a local provider embeds with (loaded on first use), to time it called
    directly against the provider."""
    return provider._load(provider.settings)


def at_least_one(text: str) -> int:
    """argparse type: a whole number >= 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text!r}")
    return int(text)


def not_negative(text: str) -> float:
    """argparse type: a number >= 0 (a latency, a bucket size)."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be a number of at least 0, got {text!r}")
    return value


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The script's docstring as written (what the columns mean, the targets) and every default."""


def run_main(main: Callable[[], None], *, kept: str = "nothing else is kept") -> None:
    """A perf script's entry point: Ctrl-C ends in one line and exit status 130 (128 + SIGINT, what a
    shell reports for an interrupted command), not a traceback. ``kept`` says what survives the stop."""
    try:
        main()
        _quiet_interrupts_while_exiting()  # inside the try: a Ctrl-C just after main() is handled here too
    except KeyboardInterrupt:
        print(f"interrupted: the rows printed so far stand; {kept}", file=sys.stderr, flush=True)
        _quiet_interrupts_while_exiting()
        raise SystemExit(130) from None


def _quiet_interrupts_while_exiting() -> None:
    """The work is over; the interpreter still joins threads and runs exit hooks (emulator processes,
    the sync loop). A Ctrl-C landing there raised KeyboardInterrupt inside ``threading._shutdown`` and
    printed 'Exception ignored in: <module 'threading'>' with a traceback: end at once instead, 130."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return  # SIGINT ignored (a background shell) or handled by the caller: leave it be

    def stop(signum: int, frame: FrameType | None) -> None:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError, RuntimeError):  # closed, or interrupted mid-write
                stream.flush()
        os._exit(128 + signum)

    signal.signal(signal.SIGINT, stop)
