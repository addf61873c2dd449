"""The rerunnable throughput script still runs end to end (tiny sizes; its numbers are not checked here)."""

from __future__ import annotations

import subprocess
import sys


def test_throughput_script_runs_both_providers_and_loses_nothing() -> None:
    command = [sys.executable, "-m", "omnivec.benchmarks.perf.throughput", "--providers", "bedrock,gemini"]
    command += ["--grants", "400", "--n", "40", "--gemini-n", "400", "--latency-ms", "5", "--overhead", "--pairs", "1"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [
        line.split(" | ") for line in done.stdout.splitlines() if line.startswith(("bedrock | 400", "gemini | 400"))
    ]
    assert [row[0] for row in rows] == ["bedrock", "gemini"], done.stdout
    for row in rows:
        lost, right = row[7], row[8]
        assert (lost, right) == ("0", "True"), row
    summaries = [line for line in done.stdout.splitlines() if "| overhead: " in line]
    assert len(summaries) == 2 and all("raw calls behind asyncio" in line for line in summaries), done.stdout
