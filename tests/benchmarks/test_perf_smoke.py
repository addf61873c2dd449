"""The rerunnable throughput script still runs end to end (tiny sizes; its numbers are not checked here)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest


def test_throughput_script_runs_both_providers_and_loses_nothing() -> None:
    command = [sys.executable, "-m", "omnivec.benchmarks.perf.throughput", "--providers", "bedrock,gemini"]
    command += ["--grants", "400", "--n", "40", "--gemini-n", "400", "--latency-ms", "5", "--overhead", "--pairs", "1"]
    command += ["--repeats", "2"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [
        line.split(" | ") for line in done.stdout.splitlines() if line.startswith(("bedrock | 400", "gemini | 400"))
    ]
    rows = [row for row in rows if "median ratio" not in row[2]]
    assert [row[0] for row in rows] == ["bedrock", "bedrock", "gemini", "gemini"], done.stdout  # --repeats 2
    assert sum("median ratio of 2 runs" in line for line in done.stdout.splitlines()) == 2, done.stdout
    for row in rows:
        lost, right = row[7], row[8]
        assert (lost, right) == ("0", "True"), row
    summaries = [line for line in done.stdout.splitlines() if "| overhead at " in line]
    assert len(summaries) == 2 and all("behind asyncio median" in line for line in summaries), done.stdout
    assert "omnivec boto3 threads median" in summaries[0], summaries[0]  # Bedrock's two transports side by side


@pytest.mark.parametrize(
    ("script", "args", "says"),
    [
        ("throughput", ["--grants", "abc"], "argument --grants: 'abc' is not a comma-separated list of numbers"),
        ("throughput", ["--grants", "50,0"], "every grant must be above 0 requests/s"),
        ("throughput", ["--providers", "bedrok"], "--providers: unknown bedrok; choose from bedrock, gemini"),
        ("throughput", ["--pairs", "0"], "argument --pairs: must be a whole number of at least 1, got '0'"),
        ("throughput", ["--latency-ms", "-5"], "argument --latency-ms: must be a number of at least 0, got '-5'"),
        ("peers", ["--n", "-3"], "argument --n: must be a whole number of at least 1, got '-3'"),
        ("peers", ["--peers", "langchan"], "--peers: unknown langchan"),
        ("local_backends", ["--n", "0"], "argument --n: must be a whole number of at least 1, got '0'"),
        ("local_backends", ["--repeats", "0"], "argument --repeats: must be a whole number of at least 1"),
        ("local_backends", ["--backends", "onnx_int8"], "unknown backend 'onnx_int8': did you mean 'onnx-int8'?"),
    ],
)
def test_bad_perf_script_options_end_in_one_line_before_any_run(script: str, args: list[str], says: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", f"omnivec.benchmarks.perf.{script}", *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2 and says in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("script", "args", "under_way"),
    [
        ("local_backends", ["--backends", "torch", "--n", "64", "--repeats", "1", "--no-ndcg"], "SciFact: "),
        ("peers", ["--grants", "50", "--n", "400", "--peers", "langchain"], "peer | grant"),
        ("throughput", ["--providers", "bedrock", "--grants", "50", "--n", "2000"], "provider | grant"),
    ],
)
def test_ctrl_c_ends_a_perf_script_in_one_line_and_status_130(
    script: str, args: list[str], under_way: str, tmp_path: Path
) -> None:
    # local_backends ended in a KeyboardInterrupt traceback; peers in one line but exit status 1.
    command = [sys.executable, "-m", f"omnivec.benchmarks.perf.{script}", *args]
    if script == "local_backends":
        command += ["--cache-folder", str(tmp_path)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # A shell running CI in the background starts its children with SIGINT ignored, and Python then
    # never installs its KeyboardInterrupt handler: give the script the default a terminal would.
    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    ) as running:
        assert running.stdout is not None
        for line in running.stdout:  # torch imported and SciFact read / the emulator's table begun
            if line.startswith(under_way):
                break
        else:
            pytest.fail(f"{script} ended before it got under way: {running.communicate(timeout=60)[1][-2000:]}")
        running.send_signal(signal.SIGINT)
        _, err = running.communicate(timeout=120)
    assert running.returncode == 130, err[-2000:]
    assert "Traceback" not in err, err[-2000:]
    assert err.strip().splitlines()[-1].startswith("interrupted: "), err[-2000:]
