"""How long ``adapt`` takes on a real collection, against embedding its sample alone (target: < 2 min).

    python benchmarks/perf/adapt_time.py [--data ../shared/data/text] [--set scifact] [--sample 1000]

Indexes the set's documents into a fresh LanceDB store with a fake provider (the OLD space: no model,
so indexing is quick and the old provider is never needed again), then times ``adapt NAME --to local
--sample N`` with the embedding cache off, so every sampled source is embedded. The baseline, measured
in the same run on the same loaded model: embedding those N documents directly, which ``adapt`` cannot
beat. ``adapt`` / baseline is what drawing the sample, reading its rows, fitting and storing add.
Prints the count of embedded sources (it must be exactly ``--sample``) and the load average.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from omnivec.benchmarks.datasets import load_tasks
from omnivec.providers import get_provider
from omnivec.providers.cache import content_key
from omnivec.providers.stores import SourceItem, VectorStore, adapt, index_items, open_store
from omnivec.providers.stores.adapting import sample_ids
from omnivec.providers.testing import FakeProvider
from omnivec.providers.testing.perf import HelpFormatter, run_main

DEFAULT_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "text"
TARGET_S = 120.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder holding the BEIR sets")
    parser.add_argument("--set", default="scifact")
    parser.add_argument("--sample", type=int, default=1000)
    args = parser.parse_args()
    task = load_tasks(args.data / args.set)[0]
    items = [SourceItem(i, content_key(t), t) for i, t in task.corpus.items()]
    local = get_provider("local")
    local.embed_documents_sync(["warm the model up"])  # loading the weights is not adapt's cost
    print(f"# adapt timing, {args.set} ({len(items)} documents), sample {args.sample}, model {local.ref}")
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"lancedb://{Path(tmp) / 'lance'}", cache=None)
        try:
            started = time.perf_counter()
            index_items(store, args.set, items, provider=FakeProvider("old"))
            print(f"indexed with a fake provider in {time.perf_counter() - started:.1f} s", flush=True)
            load_before = os.getloadavg()[0]
            started = time.perf_counter()
            report = adapt(store, args.set, local, sample=args.sample, cache=False)
            took = time.perf_counter() - started
            print(
                f"adapt: {took:.1f} s (target < {TARGET_S:.0f} s: {'met' if took < TARGET_S else 'MISSED'}); embedded "
                f"{report.embedded} sources, {report.cached} from cache (must be {args.sample} and 0); kind "
                f"{report.kind}, held-out score {report.score:.3f}; load average {load_before:.2f} before, "
                f"{os.getloadavg()[0]:.2f} after",
                flush=True,
            )
            drawn = [task.corpus[r.id] for r in store.rows(args.set, 1, _sample_of(store, args.set, args.sample))]
            load_before = os.getloadavg()[0]
            started = time.perf_counter()
            local.embed_documents_sync(drawn)
            baseline = time.perf_counter() - started
        finally:
            store.close()
    print(
        f"baseline, embedding the same {len(drawn)} documents alone: {baseline:.1f} s; adapt / baseline = "
        f"{took / baseline:.2f}; load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after",
        flush=True,
    )


def _sample_of(store: VectorStore, name: str, size: int) -> list[str]:
    """The ids ``adapt`` drew (seed 0, its default)."""
    return sample_ids(store, store.versions(name)[0], size, seed=0)[0]


if __name__ == "__main__":
    run_main(main, kept="nothing: the store lives in a temporary folder")
