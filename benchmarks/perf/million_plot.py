"""Plot the curves of ``million.py`` runs: items done vs time, and RSS vs items done (needs matplotlib).

python benchmarks/perf/million_plot.py OUT.png DIR/lancedb-samples.jsonl [DIR/postgresql-samples.jsonl ...]

A file given as ``LABEL=PATH`` is labelled LABEL (two runs of one store side by side); else the store
named by the file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # after the backend is chosen


def main(target: str, files: list[str]) -> None:
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for given in files:
        label_given, _, file = given.rpartition("=")
        samples = [json.loads(line) for line in Path(file).read_text().splitlines()]
        store = label_given or Path(file).name.split("-")[0]
        for run, style in (("first", "-"), ("resume", "--")):
            part = [s for s in samples if s["run"] == run]
            if not part:
                continue
            label = f"{store} ({'killed at ~70%' if run == 'first' else 'resumed'})"
            left.plot([s["t"] for s in part], [s["done"] / 1000 for s in part], style, label=label)
            right.plot([s["done"] / 1000 for s in part], [s["rss_mb"] for s in part], style, label=label)
    left.set(xlabel="seconds since the process started", ylabel="items done (thousands)", title="Migration progress")
    right.set(xlabel="items done (thousands)", ylabel="RSS of the migrating process (MiB)", title="Memory")
    right.set_ylim(bottom=0)
    for axis in (left, right):
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(target, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
