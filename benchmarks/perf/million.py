"""A million-item migration, measured (issue #23 item 2): the store and the write loop, not a provider.

    python benchmarks/perf/million.py --store lancedb [--n 1000000] [--kill-at 0.7] [--out DIR]
    python benchmarks/perf/million.py --store postgresql [--n 300000]
    [--malloc-arena-max 2] [--no-ann]

The provider is :class:`CheapProvider` (64 dims, one blake2b per text: a vector near one of 1,024
fixed cluster centres), so what is timed is the loop: scan the serving version, diff by id + content
hash against the target (the checkpoint), embed, commit one batch at a time.

1. **load**: ``--n`` source rows written straight into version 1 (no embedding; timed, not the point).
2. **migrate** in a child process, killed with SIGKILL once ``--kill-at`` of the items are committed,
   then run again to the end. The child samples items done and its RSS every second; every provider
   call appends its size to a file, so the items embedded twice are counted, not estimated.
   The child runs with ``MALLOC_ARENA_MAX=--malloc-arena-max`` (2 by default, 0 = glibc's own 8 per
   core): LanceDB's worker threads otherwise spread their allocations over many glibc arenas that
   keep the freed memory (docs/scale.md measures both).
3. **ANN index** (unless ``--no-ann``) built on the target (IVF-PQ on LanceDB, HNSW on pgvector), timed; then search p50/p95
   over ``--queries`` held-out texts and recall@10 against exact numpy search over all vectors.

Writes ``DIR/<store>.json`` (figures) and ``DIR/<store>-samples.jsonl`` (the curve). Numbers describe
this machine at the time (the JSON holds the load average at start and end).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from omnivec.providers.cache import content_key
from omnivec.providers.stores import Row, migrate, open_store
from omnivec.providers.stores.serving import ensure_collection
from omnivec.providers.testing import FakeProvider
from omnivec.providers.types import BatchOutput, Intent, Usage

DIMS, CLUSTERS, NAME = 64, 1024, "million"
_CENTRES = np.random.default_rng(7).standard_normal((CLUSTERS, DIMS)).astype(np.float32)


def cheap_vectors(texts: Sequence[str]) -> np.ndarray:
    """Deterministic clustered unit vectors: a text's blake2b digest picks a centre and the noise."""
    digests = b"".join(hashlib.blake2b(t.encode(), digest_size=DIMS).digest() for t in texts)
    raw = np.frombuffer(digests, dtype=np.uint8).reshape(len(texts), DIMS)
    centre = (raw[:, 0].astype(np.int64) << 8 | raw[:, 1]) % CLUSTERS
    noise = raw.astype(np.float32) / 128.0 - 1.0
    x = _CENTRES[centre] + 1.5 * noise
    return np.asarray(x / np.linalg.norm(x, axis=1, keepdims=True), dtype=np.float32)


class CheapProvider(FakeProvider):
    """64-dim vectors at ~1 µs of hashing per item; each call's size goes to ``calls_file`` (O_APPEND),
    so a kill -9 loses no count. FakeProvider's own call list is not kept (it would grow with n)."""

    def __init__(self, model: str = "million-target", calls_file: str | None = None, **options: Any) -> None:
        options = {"default_dimensions": DIMS, "max_batch_size": 256, "default_concurrency": 4, **options}
        super().__init__(model, **options)
        self._calls_fd = os.open(calls_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT) if calls_file else None

    async def _embed_batch(self, batch: Sequence[Any], *, intent: Intent) -> BatchOutput:
        if self._calls_fd is not None:
            os.write(self._calls_fd, f"{len(batch)}\n".encode())
        return BatchOutput(vectors=cheap_vectors([str(t) for t in batch]), usage=Usage(input_tokens=len(batch)))


def text(i: int) -> str:
    return f"item {i}: a million items migrate between embedding models, batch by batch, {i * 7919 % 100003}"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def load_source(url: str, n: int, batch: int) -> float:
    store = open_store(url, batch_size=batch, index="none")
    try:
        version, provider, _ = ensure_collection(store, NAME, CheapProvider("million-source"))
        fingerprint = provider.fingerprint("document").space().to_stored()
        began = time.perf_counter()
        for start in range(0, n, 10_000):
            texts = [text(i) for i in range(start, min(n, start + 10_000))]
            vectors = np.random.default_rng(start).standard_normal((len(texts), DIMS)).astype(np.float32)
            rows = [Row(f"d{start + k:07d}", content_key(t), t, None, {}, v) for k, (t, v) in enumerate(zip(texts, vectors, strict=True))]  # fmt: skip
            store.upsert(NAME, version.version, rows, fingerprint=fingerprint)
        return time.perf_counter() - began
    finally:
        store.close()


def child(url: str, batch: int, samples: str, calls: str) -> None:
    """One migrate run; a thread appends {t, done, rss_mb} to ``samples`` every second."""
    done, began = [0], time.perf_counter()
    out = open(samples, "a", buffering=1)  # noqa: SIM115 - line-buffered, written until the process dies

    def sample() -> None:
        while True:
            out.write(
                json.dumps({"t": round(time.perf_counter() - began, 2), "done": done[0], "rss_mb": rss_mb()}) + "\n"
            )
            time.sleep(1.0)

    threading.Thread(target=sample, daemon=True).start()
    store = open_store(url, batch_size=batch, index="none")  # the ANN index is timed on its own
    report = migrate(store, NAME, CheapProvider(calls_file=calls), cache=False, progress=lambda k: done.__setitem__(0, done[0] + k))  # fmt: skip
    out.write(json.dumps({"t": round(time.perf_counter() - began, 2), "done": done[0], "rss_mb": rss_mb(), "end": True}) + "\n")  # fmt: skip
    print(json.dumps({"count": report.count, "embedded": report.sync.embedded, "unchanged": report.sync.unchanged}))


def run_child(args: argparse.Namespace, url: str, tag: str, kill_at: int | None) -> dict[str, Any]:
    samples, calls = args.out / f"{args.store}-{tag}.jsonl", args.out / f"{args.store}-{tag}-calls.txt"
    command = [sys.executable, __file__, "--child", url, "--batch-size", str(args.batch_size)]
    began = time.perf_counter()
    env = os.environ | ({"MALLOC_ARENA_MAX": str(args.malloc_arena_max)} if args.malloc_arena_max else {})
    proc = subprocess.Popen([*command, "--samples", str(samples), "--calls", str(calls)], stdout=subprocess.PIPE, text=True, env=env)  # fmt: skip
    killed = False
    while proc.poll() is None:
        time.sleep(0.2)
        if kill_at is not None and samples.exists():
            lines = samples.read_text().splitlines()
            if lines and json.loads(lines[-1])["done"] >= kill_at:
                os.kill(proc.pid, signal.SIGKILL)
                killed = True
    wall = time.perf_counter() - began
    output = proc.stdout.read() if proc.stdout else ""
    if not killed and proc.returncode != 0:
        raise SystemExit(f"migrate child failed ({proc.returncode}): {output}")
    rows = [json.loads(x) for x in samples.read_text().splitlines()]
    embedded = sum(int(x) for x in calls.read_text().split()) if calls.exists() else 0
    result = {"wall_s": round(wall, 1), "killed": killed, "provider_items": embedded, "samples": rows}
    if not killed:
        result["report"] = json.loads(output.strip().splitlines()[-1])
    return result


def disk_bytes(url: str, store: Any) -> int:
    if url.startswith("lancedb://"):
        folder = Path(url.removeprefix("lancedb://")) / f"{NAME}__v2.lance"
        return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    with store._conn.cursor() as cur:  # pgvector: the table with its TOAST and indexes
        cur.execute("SELECT pg_total_relation_size(%s)", (f'"omnivec_{NAME}__v2"',))
        return int(cur.fetchone()[0])


def ann(url: str, n: int, queries: int) -> dict[str, Any]:
    store = open_store(url, index_min_rows=1000)
    try:
        size_before = disk_bytes(url, store)
        began = time.perf_counter()
        index = store.build_index(NAME, 2)
        build_s = time.perf_counter() - began
        rng = np.random.default_rng(1)
        asked = cheap_vectors([f"query {k}: " + text(int(i)) for k, i in enumerate(rng.integers(0, n, queries))])
        every = np.concatenate([cheap_vectors([text(i) for i in range(s, min(n, s + 50_000))]) for s in range(0, n, 50_000)])  # fmt: skip
        latencies, recalls = [], []
        for q in asked:
            truth = set(np.argpartition(-(every @ q), 10)[:10].tolist())
            began = time.perf_counter()
            hits = store.search(NAME, 2, q, 10)
            latencies.append((time.perf_counter() - began) * 1000)
            recalls.append(len({int(h.id[1:]) for h in hits} & truth) / 10)
        return {
            "index": index,
            "index_build_s": round(build_s, 1),
            "disk_mb_before_index": round(size_before / 2**20, 1),
            "disk_mb": round(disk_bytes(url, store) / 2**20, 1),
            "p50_ms": round(float(np.percentile(latencies, 50)), 2),
            "p95_ms": round(float(np.percentile(latencies, 95)), 2),
            "recall@10": round(float(np.mean(recalls)), 4),
        }
    finally:
        store.close()


def rss_flat(samples: list[dict[str, Any]], n: int) -> dict[str, Any]:
    """RSS after warm-up (the first 10% of items) against its median: flat means within +-20%."""
    after = [s["rss_mb"] for s in samples if s["done"] >= 0.1 * n]
    if not after:
        return {"flat": None}
    median = float(np.median(after))
    spread = (min(after) / median - 1, max(after) / median - 1)
    return {
        "median_mb": round(median, 1),
        "spread": [round(x, 3) for x in spread],
        "flat": max(map(abs, spread)) <= 0.2,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", choices=["lancedb", "postgresql"], default="lancedb")
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--kill-at", type=float, default=0.7)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--malloc-arena-max", type=int, default=2, help="MALLOC_ARENA_MAX of the child; 0: unset")
    parser.add_argument("--no-ann", action="store_true", help="skip the ANN index build and the search figures")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--samples", help=argparse.SUPPRESS)
    parser.add_argument("--calls", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.batch_size, args.samples, args.calls)
    args.out = args.out or Path(tempfile.mkdtemp(prefix="omnivec-million-"))
    args.out.mkdir(parents=True, exist_ok=True)
    server = None
    if args.store == "lancedb":
        url = f"lancedb://{args.out / 'lance'}"
    else:
        from omnivec.providers.stores.pgdev import start_local_postgres

        server = start_local_postgres()
        url = server.url
    try:
        out: dict[str, Any] = {"store": args.store, "n": args.n, "batch_size": args.batch_size, "dims": DIMS}
        out["malloc_arena_max"] = args.malloc_arena_max or None
        out["load_start"] = os.getloadavg()
        out["source_load_s"] = round(load_source(url, args.n, args.batch_size), 1)
        print(json.dumps(out), flush=True)
        first = run_child(args, url, "first", int(args.kill_at * args.n) if args.kill_at < 1 else None)
        store = open_store(url)
        committed = store.count(NAME, 2)
        store.close()
        second = run_child(args, url, "resume", None)
        out["first"] = {k: v for k, v in first.items() if k != "samples"} | {"committed_at_kill": committed}
        out["resume"] = {k: v for k, v in second.items() if k != "samples"}
        resumed = second["samples"]
        start_new = next((s["t"] for s in resumed if s["done"] > committed), None)
        out["resume"]["s_to_first_new_commit"] = start_new  # the scan + diff of what was already there
        out["re_embedded"] = first["provider_items"] + second["provider_items"] - args.n
        out["in_flight_bound"] = (4 + 1) * args.batch_size  # STORE_WINDOW batches embedding + one committing
        every = [dict(s, run="first") for s in first["samples"]] + [dict(s, run="resume") for s in resumed]
        (args.out / f"{args.store}-samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in every))
        out["rss_first"] = rss_flat(first["samples"], args.n)
        out["rss_resume"] = rss_flat(resumed, args.n)  # counts the resume's scan and the end's index builds
        writing = [s for s in resumed if start_new is not None and s["t"] >= start_new and s["done"] < args.n]
        out["rss_resume_writing"] = rss_flat(writing, args.n)  # from its first new commit to its last batch
        out["rss_after_last_batch_peak_mb"] = max((s["rss_mb"] for s in resumed if s["done"] >= args.n), default=None)
        out["peak_rss_mb"] = max(s["rss_mb"] for s in every)
        store = open_store(url)
        out["disk_mb_after_migrate"] = round(disk_bytes(url, store) / 2**20, 1)
        store.close()
        if url.startswith("lancedb://"):  # table versions kept on disk (each commit and compaction writes one)
            versions = Path(url.removeprefix("lancedb://")) / f"{NAME}__v2.lance" / "_versions"
            out["table_versions"] = len(list(versions.glob("*.manifest")))
        out["ann"] = None if args.no_ann else ann(url, args.n, args.queries)
        out["load_end"] = os.getloadavg()
        (args.out / f"{args.store}.json").write_text(json.dumps(out, indent=2))
        print(json.dumps(out, indent=2), flush=True)
        print(f"results: {args.out}")
    finally:
        if server is not None:
            server.stop(remove=True)


if __name__ == "__main__":
    main()
