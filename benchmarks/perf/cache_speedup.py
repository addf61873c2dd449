"""Cold run vs warm-cache rerun of the same benchmark (target: warm ≥ 20× faster).

    python benchmarks/perf/cache_speedup.py [--dataset scifact-nano] [--providers local]

Both runs go through the same code path as ``omnivec bench`` (benchmark + every output file),
each in a fresh process so the warm run also pays imports and provider construction — but not
model loading, which the cache makes unnecessary.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed_bench(args: list[str], cwd: Path) -> float:
    began = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "omnivec.providers", "bench", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL
    )
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="scifact-nano")
    parser.add_argument("--providers", default="local")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench_args = ["--dataset", args.dataset, "--providers", args.providers]
        cold = timed_bench(bench_args, Path(tmp))
        warm = timed_bench(bench_args, Path(tmp))
    print(f"dataset: {args.dataset}  providers: {args.providers}")
    print(f"cold run (empty cache): {cold:7.2f} s")
    print(f"warm rerun (cached):    {warm:7.2f} s")
    print(f"speed-up: {cold / warm:.1f}×  (target ≥ 20×)")


if __name__ == "__main__":
    main()
