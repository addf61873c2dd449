"""Performance scripts with targets (run them by hand; never timed unit tests). See docs/performance.md.

python -m omnivec.benchmarks.perf.overhead_local   # omnivec vs SentenceTransformer.encode directly
python -m omnivec.benchmarks.perf.fault_run        # a faulty emulator: nothing lost, rate kept
python -m omnivec.benchmarks.perf.cache_speedup    # cold run vs warm-cache rerun of omnivec bench
python -m omnivec.benchmarks.perf.throughput       # learned rate control vs raw boto3 / google-genai pools
python -m omnivec.benchmarks.perf.migrate          # migration throughput vs bare embed; store search p50/p95
python -m omnivec.benchmarks.perf.local_backends   # torch vs ONNX / ONNX-int8 / OpenVINO docs/s and nDCG@10
python -m omnivec.benchmarks.perf.ray_curve        # Ray Data throughput vs actors
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

__all__ = ["HelpFormatter", "at_least_one", "run_main"]


def at_least_one(text: str) -> int:
    """argparse type for the perf scripts: a whole number >= 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text!r}")
    return int(text)


def not_negative(text: str) -> float:
    """argparse type for the perf scripts: a number >= 0 (a latency, a bucket size)."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be a number of at least 0, got {text!r}")
    return value


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The module docstring as written (what the columns mean, the targets) and every default."""


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
