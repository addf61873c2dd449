"""Migration throughput and store search speed (a script with targets, not a timed test).

    python benchmarks/perf/migrate.py [--n 10000] [--rate 200] [--error-rate 0.2] [--stores lancedb,postgresql]
    python benchmarks/perf/migrate.py --search-only [--vectors 100000] [--queries 200]

Part 1: ``--n`` items indexed with ``--source-model`` are migrated to Bedrock Nova through the local
emulator (token bucket of ``--rate`` req/s, ``--error-rate`` injected 429/5xx), into each store.
Target: migrate throughput >= 0.9 x the bare ``embed_documents`` throughput on the same items and
emulator settings; every item exactly once (count, no duplicate id, nothing failed). The ANN index
build is left out of this timing (``index="none"``): part 2 times it on its own.

Part 2: ``--vectors`` x 384 unit vectors (2,000 Gaussian clusters) bulk-written into each store, the
ANN index built after the load (HNSW on pgvector, IVF-PQ on LanceDB), then search p50/p95 over
``--queries`` held-out queries and recall@10 against exact numpy search. PostgreSQL is a throwaway
local server (pgserver wheel) unless ``--pg-url`` is given. Numbers describe this machine.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from omnivec.providers import get_provider, load_provider
from omnivec.providers.cache import content_key
from omnivec.providers.emulator import Faults, emulated_clouds
from omnivec.providers.stores import (
    MigrationIncompleteError,
    Row,
    SourceItem,
    VectorStore,
    index_items,
    migrate,
    open_store,
)
from omnivec.providers.stores.pgdev import start_local_postgres

NOVA = "bedrock:amazon.nova-2-multimodal-embeddings-v1:0"
WORDS = [
    "cat",
    "dog",
    "tax",
    "law",
    "rust",
    "code",
    "pasta",
    "river",
    "bank",
    "loan",
    "music",
    "opera",
    "goal",
    "match",
    "storm",
    "cloud",
    "city",
    "train",
]


def _texts(n: int) -> list[str]:
    rng = np.random.default_rng(0)
    return [f"item {i}: " + " ".join(rng.choice(WORDS, size=12)) for i in range(n)]


def migrate_throughput(args: argparse.Namespace, urls: dict[str, str], work: Path) -> dict[str, Any]:
    texts = _texts(args.n)
    items = [SourceItem(f"d{i:07d}", content_key(t), t) for i, t in enumerate(texts)]
    faults = Faults(rate_limit_rps=args.rate, burst=max(1, int(args.rate / 10)), error_rate=args.error_rate, seed=1)
    out: dict[str, Any] = {"n": args.n, "rate_rps": args.rate, "error_rate": args.error_rate}
    with emulated_clouds(faults):
        nova = get_provider(NOVA, dimensions=384, max_concurrency=args.concurrency)
        began = time.perf_counter()
        bare = nova.embed_documents_sync(texts, errors="collect")
        out["bare_items_per_s"] = round(args.n / (time.perf_counter() - began), 1)
        out["bare_ratio_to_grant"] = round(out["bare_items_per_s"] / args.rate, 3)  # Nova: one item per request
        out["bare_failed"] = len(bare.failures)
        print(json.dumps(out), flush=True)
        for name, url in urls.items():
            cache = (
                str(work / f"cache-{name}.sqlite") if args.cache else None
            )  # --cache: each vector cached as it arrives
            store = open_store(url, cache=cache, batch_size=args.batch_size, index="none")  # index: part 2
            try:
                index_items(store, "perf", items, provider=load_provider(model=args.source_model), cache=False)
                target = get_provider(NOVA, dimensions=384, max_concurrency=args.concurrency)
                began, reruns, failed_first = time.perf_counter(), 0, 0
                while True:  # items that exhausted their retries are reported by id; a rerun resumes
                    try:
                        report = migrate(store, "perf", target, cache=bool(args.cache))
                        break
                    except MigrationIncompleteError as exc:
                        reruns, failed_first = reruns + 1, failed_first or len(exc.failed_ids)
                        if reruns > 3:
                            raise
                rate = args.n / (time.perf_counter() - began)
                out[name] = {
                    "items_per_s": round(rate, 1),
                    "ratio_to_bare": round(rate / out["bare_items_per_s"], 3),
                    "ratio_to_grant": round(rate / args.rate, 3),
                    "count": report.count,
                    "duplicates": store.duplicate_ids("perf", report.target_version),
                    "failed_then_resumed": failed_first,
                    "reruns": reruns,
                    "exactly_once": report.count == args.n,
                }
                print(json.dumps({name: out[name]}), flush=True)
            finally:
                store.close()
    return out


def _clustered(n: int, dims: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((2000, dims)).astype(np.float32)
    x = centers[rng.integers(0, 2000, n)] + 1.2 * rng.standard_normal((n, dims)).astype(np.float32)
    return np.asarray(x / np.linalg.norm(x, axis=1, keepdims=True), dtype=np.float32)


def search_speed(store: VectorStore, vectors: np.ndarray, queries: np.ndarray) -> dict[str, Any]:
    fp = {
        "provider": "synthetic",
        "model": "clusters",
        "dimensions": vectors.shape[1],
        "normalized": True,
        "intent": "document",
        "intent_mapping": "none",
        "options": {},
    }
    store.create_version("bench", 1, fp)
    began = time.perf_counter()
    for start in range(0, len(vectors), 10_000):
        store.upsert(
            "bench",
            1,
            [Row(f"v{i}", "h", None, None, {}, vectors[i]) for i in range(start, min(start + 10_000, len(vectors)))],
            fingerprint=fp,
        )
    load_s = time.perf_counter() - began
    began = time.perf_counter()
    index = store.build_index("bench", 1)
    index_s = time.perf_counter() - began
    exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    latencies, recalls = [], []
    for q, truth in zip(queries, exact, strict=False):
        began = time.perf_counter()
        hits = store.search("bench", 1, q, 10)
        latencies.append((time.perf_counter() - began) * 1000)
        recalls.append(len({int(h.id[1:]) for h in hits} & set(truth.tolist())) / 10)
    return {
        "rows": len(vectors),
        "load_rows_per_s": round(len(vectors) / load_s),
        "index": index,
        "index_build_s": round(index_s, 1),
        "p50_ms": round(float(np.percentile(latencies, 50)), 2),
        "p95_ms": round(float(np.percentile(latencies, 95)), 2),
        "recall@10": round(float(np.mean(recalls)), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--error-rate", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--source-model", default="fake:source")
    parser.add_argument("--stores", default="lancedb,postgresql")
    parser.add_argument("--pg-url")
    parser.add_argument("--cache", action="store_true", help="migrate through the embedding cache, as the CLI does")
    parser.add_argument("--search-only", action="store_true")
    parser.add_argument("--migrate-only", action="store_true")
    parser.add_argument("--vectors", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="omnivec-perf-"))
    server = None
    urls: dict[str, str] = {}
    for name in args.stores.split(","):
        if name == "lancedb":
            urls[name] = f"lancedb://{work / 'lance'}"
        else:
            if args.pg_url is None and server is None:
                server = start_local_postgres()  # its own temporary folder (pgdev refuses unreachable ones as root)
            urls[name] = args.pg_url or server.url  # type: ignore[union-attr]
    try:
        results: dict[str, Any] = {}
        if not args.search_only:
            results["migrate"] = migrate_throughput(args, urls, work)
            print(json.dumps(results["migrate"]), flush=True)
        if not args.migrate_only:
            data = _clustered(args.vectors + args.queries, 384, seed=0)
            vectors, queries = data[: args.vectors], data[args.vectors :]
            for name, url in urls.items():
                store = open_store(url, index_min_rows=1000)
                try:
                    results[f"search_{name}"] = search_speed(store, vectors, queries)
                    print(json.dumps({name: results[f"search_{name}"]}), flush=True)
                finally:
                    store.close()
        (work / "results.json").write_text(json.dumps(results, indent=2))
        print(f"results: {work / 'results.json'}")
    finally:
        if server is not None:
            server.stop(remove=True)


if __name__ == "__main__":
    main()
