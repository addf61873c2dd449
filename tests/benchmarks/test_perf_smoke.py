"""The rerunnable throughput script still runs end to end (tiny sizes; its numbers are not checked here)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

PERF = Path(__file__).resolve().parents[2] / "benchmarks" / "perf"
"""The perf scripts run from the checkout (they are not installed), as docs/performance.md runs them."""


def test_throughput_script_runs_both_providers_and_loses_nothing() -> None:
    command = [sys.executable, str(PERF / "throughput.py"), "--providers", "bedrock,gemini"]
    command += ["--grants", "400", "--n", "40", "--gemini-n", "400", "--latency-ms", "5", "--overhead", "--pairs", "1"]
    command += ["--repeats", "2", "--random-throttle", "0"]  # the random-throttle case has its own test below
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


def test_grant_and_random_throttle_ratios_hold_a_loose_floor() -> None:
    """Issue 17: random 429s drove the learned rate to a crawl (0.17 of the grant) while the grant
    cases still passed. Both kinds run in one script; either ratio under 0.5 fails here (a loose
    floor for a noisy CI machine: the script's own targets are 0.9 and 0.7)."""
    command = [sys.executable, str(PERF / "throughput.py"), "--providers", "bedrock"]
    command += ["--grants", "100", "--n", "300", "--latency-ms", "5", "--random-n", "1000"]
    # Two tries: with the 2 cores shared by 7 busy processes the grant row once read 0.33 (a ceiling
    # measured in a quiet second against a run in a busy one); a real regression misses both.
    for _ in range(2):
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        rows = {
            row[1].split(",")[0]: row
            for row in (line.split(" | ") for line in done.stdout.splitlines())
            if len(row) > 5
        }
        grant, random_throttle = rows["100"], rows["none"]
        assert "20% random 429" in random_throttle[1], done.stdout
        for row in (grant, random_throttle):
            assert (row[7], row[8]) == ("0", "True"), row  # nothing lost, every vector right
        if min(float(grant[5]), float(random_throttle[5])) >= 0.5:
            return
    pytest.fail(f"a ratio under 0.5 in two runs:\n{done.stdout}")


@pytest.mark.parametrize(
    ("script", "args", "says"),
    [
        ("throughput", ["--grants", "abc"], "argument --grants: 'abc' is not a comma-separated list of numbers"),
        ("throughput", ["--grants", "50,0"], "every grant must be above 0 requests/s"),
        ("throughput", ["--providers", "bedrok"], "--providers: unknown bedrok; choose from bedrock, gemini"),
        ("throughput", ["--pairs", "0"], "argument --pairs: must be a whole number of at least 1, got '0'"),
        ("throughput", ["--latency-ms", "-5"], "argument --latency-ms: must be a number of at least 0, got '-5'"),
        ("throughput", ["--random-throttle", "1.5"], "argument --random-throttle: must be a share from 0 to below 1"),
        ("peers", ["--n", "-3"], "argument --n: must be a whole number of at least 1, got '-3'"),
        ("peers", ["--peers", "langchan"], "--peers: unknown langchan"),
        ("local_backends", ["--n", "0"], "argument --n: must be a whole number of at least 1, got '0'"),
        ("pool", ["--outage-n", "0"], "argument --outage-n: must be a whole number of at least 1, got '0'"),
        ("local_backends", ["--repeats", "0"], "argument --repeats: must be a whole number of at least 1"),
        ("local_backends", ["--backends", "onnx_int8"], "unknown backend 'onnx_int8': did you mean 'onnx-int8'?"),
    ],
)
def test_bad_perf_script_options_end_in_one_line_before_any_run(script: str, args: list[str], says: str) -> None:
    done = subprocess.run(
        [sys.executable, str(PERF / f"{script}.py"), *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2 and says in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert done.stdout == ""


def _installed_peer() -> str | None:
    """A peer library whose Bedrock path is installed (``omnivec[peers]``, which CI does not install)."""
    import importlib.util

    for peer, module in (("langchain", "langchain_aws"), ("pydantic-ai", "pydantic_ai"), ("litellm", "litellm")):
        if importlib.util.find_spec(module) is not None:
            return peer
    return None


def _interruptible(command: list[str]) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # A shell running CI in the background starts its children with SIGINT ignored, and Python then
    # never installs its KeyboardInterrupt handler: give the script the default a terminal would.
    return subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _interrupt_after(running: subprocess.Popen[str], under_way: str) -> tuple[str, str]:
    """SIGINT once stdout shows ``under_way``; what the script printed after that."""
    assert running.stdout is not None
    seen = []
    for line in running.stdout:
        seen.append(line)
        if line.startswith(under_way):
            break
    else:
        pytest.fail(f"ended before it got under way: {running.communicate(timeout=60)[1][-2000:]}")
    running.send_signal(signal.SIGINT)
    try:
        out, err = running.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        running.kill()  # else leaving the `with Popen` block waits for it forever
        pytest.fail(f"still running 120 s after Ctrl-C: {running.communicate()[1][-2000:]}")
    return "".join(seen) + out, err


# Each case interrupts work that is certain to be still running when the signal lands (minutes of it:
# the test never waits for it), so the outcome does not depend on timing. The peers case needs a peer
# library installed: with none, peers has no work that lasts (it prints 'not installed' and ends),
# which is what made the old test race against interpreter shutdown.
@pytest.mark.parametrize(
    ("script", "args", "under_way"),
    [
        ("local_backends", ["--backends", "torch", "--n", "512", "--repeats", "50", "--no-ndcg"], "SciFact: "),
        ("peers", ["--grants", "50", "--n", "20000"], "peer | grant"),
        ("throughput", ["--providers", "bedrock", "--grants", "50", "--n", "20000"], "provider | grant"),
    ],
)
def test_ctrl_c_ends_a_perf_script_in_one_line_and_status_130(
    script: str, args: list[str], under_way: str, tmp_path: Path
) -> None:
    # local_backends ended in a KeyboardInterrupt traceback; peers in one line but exit status 1.
    command = [sys.executable, str(PERF / f"{script}.py"), *args]
    if script == "local_backends":
        command += ["--cache-folder", str(tmp_path)]
    if script == "peers":
        peer = _installed_peer()
        if peer is None:
            pytest.skip("no peer library installed (pip install 'omnivec[peers]'): peers has no lasting work")
        command += ["--peers", peer]
    with _interruptible(command) as running:
        _, err = _interrupt_after(running, under_way)
    assert running.returncode == 130, err[-2000:]
    assert "Traceback" not in err and "Exception ignored" not in err, err[-2000:]
    assert err.strip().splitlines()[-1].startswith("interrupted: "), err[-2000:]


WAITS_FOR_CTRL_C = """
import sys, threading, time
from omnivec.providers.testing.perf import run_main

def main():
    print("rows so far", flush=True)
    if sys.argv[1] == "in-main":
        threading.Event().wait(600)  # interrupted here
    else:  # main returns; a worker thread keeps the interpreter in threading._shutdown
        threading.Thread(target=time.sleep, args=(600,)).start()

run_main(main)
print("run_main returned", flush=True)  # the interpreter winds down from here
"""


@pytest.mark.parametrize(("where", "under_way"), [("in-main", "rows so far"), ("at-exit", "run_main returned")])
def test_ctrl_c_in_a_perf_script_or_while_it_exits_prints_no_traceback(where: str, under_way: str) -> None:
    """run_main is what every perf script ends in. A Ctrl-C landing after main() returned, while the
    interpreter joined threads, printed 'Exception ignored in: <module 'threading'>' and a
    KeyboardInterrupt traceback (issue #24). Both scripts here wait for the signal: no race."""
    with _interruptible([sys.executable, "-c", WAITS_FOR_CTRL_C, where]) as running:
        out, err = _interrupt_after(running, under_way)
    assert running.returncode == 130, err[-2000:]
    assert "Traceback" not in err and "Exception ignored" not in err and "KeyboardInterrupt" not in err, err
    assert out.startswith("rows so far")  # what was printed stays


def test_million_script_kills_resumes_and_counts_what_was_embedded_twice(tmp_path: Path) -> None:
    """benchmarks/perf/million.py end to end at a tiny size (LanceDB): the resumed run finishes the
    collection, the provider-call count shows at most the batches in flight embedded twice, and the
    figures docs/scale.md quotes are all produced."""
    command = [sys.executable, str(PERF / "million.py"), "--store", "lancedb", "--n", "3000", "--batch-size", "200"]
    command += ["--kill-at", "0.5", "--queries", "20", "--out", str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads((tmp_path / "lancedb.json").read_text())
    assert figures["resume"]["report"]["count"] == 3000
    assert figures["resume"]["provider_items"] == 3000 - figures["first"]["committed_at_kill"]
    assert 0 <= figures["re_embedded"] <= figures["in_flight_bound"]
    assert figures["ann"]["recall@10"] > 0.5 and figures["ann"]["p95_ms"] > 0
    # the migration dropped its version's superseded table versions (optimize() may update an index after)
    assert figures["table_versions"] <= 2
    samples = (tmp_path / "lancedb-samples.jsonl").read_text().splitlines()
    assert {json.loads(line)["run"] for line in samples} == {"first", "resume"}
