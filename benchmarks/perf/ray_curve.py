"""Throughput vs actors for docs/scale.md (not a test): ``python benchmarks/perf/ray_curve.py [items]``.

Bedrock Nova through the real SDK against the emulator (one item per call, 40 ms per call, each actor
at a fixed 8 calls in flight): the shape of a latency-bound remote model. Prints one JSON line per
pool size: wall seconds including the actor start, and items/s from the first result to the last.
"""

from __future__ import annotations

import json
import os
import sys
import time

import ray

from omnivec.providers import get_provider
from omnivec.providers.emulator import Emulator, Faults, emulated_clouds
from omnivec.providers.ray import embed_dataset
from omnivec.providers.testing import allow_remote_calls

NOVA = "bedrock:amazon.nova-2-multimodal-embeddings-v1:0"


def main(items: int = 2000, sizes: tuple[int, ...] = (1, 2, 4)) -> None:
    with emulated_clouds(Faults(latency_ms=40)) as _emulator:
        assert isinstance(_emulator, Emulator)
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
        ray.data.DataContext.get_current().enable_progress_bars = False
        rows = [{"id": str(i), "text": f"document {i} about topic {i % 37}"} for i in range(items)]
        with allow_remote_calls():
            provider = get_provider(NOVA, dimensions=256, max_concurrency=8)
            started = time.monotonic()
            provider.embed_sync([r["text"] for r in rows], intent="document")
            print(
                json.dumps(
                    {
                        "actors": 0,
                        "note": "one process, no Ray",
                        "items": items,
                        "items_per_s": round(items / (time.monotonic() - started), 1),
                    }
                ),
                flush=True,
            )
        for actors in sizes:
            out = embed_dataset(
                ray.data.from_items(rows),
                model=NOVA,
                options={"dimensions": 256, "max_concurrency": 8},
                actors=actors,
                batch_size=50,
            )
            started = time.monotonic()
            first = None
            done = 0
            for batch in out.iter_batches(batch_size=50, batch_format="pyarrow"):
                first = first or time.monotonic()
                done += batch.num_rows
            end = time.monotonic()
            steady = (done - 50) / (end - first) if first and end > first else float("nan")
            print(
                json.dumps(
                    {
                        "actors": actors,
                        "items": done,
                        "wall_s": round(end - started, 1),
                        "items_per_s_steady": round(steady, 1),
                        "load_1m": round(os.getloadavg()[0], 1),
                    }
                ),
                flush=True,
            )
        ray.shutdown()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
