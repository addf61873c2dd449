"""omnivec benchmarks: compare providers (and a BM25 baseline) side by side on the same data.

>>> import asyncio
>>> from omnivec.benchmarks import BenchConfig, run_benchmark, load_results
>>> result = asyncio.run(run_benchmark(BenchConfig()))        # doctest: +SKIP
>>> result.save(path); load_results(path) == result           # doctest: +SKIP
"""

from __future__ import annotations

from .bench import run_benchmark
from .config import BenchConfig, load_bench_config
from .errors import DatasetError, ResultsFileError
from .results import BenchmarkResult, TaskRun, load_results

__all__ = [
    "BenchConfig",
    "BenchmarkResult",
    "DatasetError",
    "ResultsFileError",
    "TaskRun",
    "load_bench_config",
    "load_results",
    "run_benchmark",
]
