"""The peers' throughput script still runs end to end (tiny sizes; its numbers are not checked here).

CI does not install the peers (``omnivec[peers]``), so each row is either a measured one or
``not installed``: both must keep the script going and print one row per peer.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PERF = Path(__file__).resolve().parents[2] / "benchmarks" / "perf"
PEERS = ["langchain", "pydantic-ai", "litellm"]


def test_peers_script_prints_one_row_per_peer_measured_or_not_installed() -> None:
    command = [sys.executable, str(PERF / "peers.py"), "--grants", "400", "--n", "20"]
    command += ["--latency-ms", "5", "--peers", ",".join(PEERS)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines()[1].startswith("versions: "), done.stdout
    rows = [line.split(" | ") for line in done.stdout.splitlines() if line.split(" | ")[0] in PEERS]
    assert [row[0] for row in rows] == PEERS, done.stdout
    for row in rows:
        assert row[1] == "400", row
        if len(row) == 3:
            assert row[2] == "not installed (pip install 'omnivec[peers]')", row
            continue
        # peer | grant | ceiling | target | items/s | ratio | throttled | lost | right
        assert len(row) == 9, row
        assert float(row[4]) > 0, row  # a peer that raised prints "fails: ..." here instead
        assert (row[7], row[8]) == ("0", "True"), row
