"""Filtered search on both stores: a ``--rows`` collection (default 100,000) spread over ``--tenants``
(100) tenants, ``where={"tenant": t}`` per query against exact filtered search (numpy over that
tenant's rows).

Prints, per store: rows/s loaded, the ANN index built, for ``--queries`` queries (each for one
tenant) the share of hits from another tenant (must be 0), recall@10 against the exact filtered
top 10 (target >= 0.95), and p50/p95 latency of the filtered search next to the unfiltered ANN
search of the same queries measured in the same run (the baseline; ``filtered/unfiltered`` ratio).
Vectors are random clustered float32 (no provider): the store is what is measured. PostgreSQL is a
throwaway local server (pgserver wheel) unless ``--pg-url`` is given. Numbers describe this machine.

    python benchmarks/perf/filters.py [--rows 100000 --tenants 100 --dims 64 --queries 200]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from omnivec.providers.stores import Row, VectorStore, open_store
from omnivec.providers.stores.filters import check_where
from omnivec.providers.stores.pgdev import start_local_postgres

FINGERPRINT = {"provider": "random", "model": "clustered", "normalized": True, "intent": "document",
               "intent_mapping": "none", "options": {}}  # fmt: skip


def _clustered(n: int, dims: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((1000, dims)).astype(np.float32)
    x = centers[rng.integers(0, 1000, n)] + 1.2 * rng.standard_normal((n, dims)).astype(np.float32)
    unit: np.ndarray = x / np.linalg.norm(x, axis=1, keepdims=True)
    return unit


def _pct(samples: list[float], q: float) -> float:
    return round(float(np.percentile(samples, q)) * 1000, 2)


def measure(store: VectorStore, vectors: np.ndarray, tenants: np.ndarray, queries: np.ndarray) -> dict[str, Any]:
    fingerprint = {**FINGERPRINT, "dimensions": vectors.shape[1]}
    store.create_version("bench", 1, fingerprint)
    began = time.perf_counter()
    for start in range(0, len(vectors), 10_000):
        rows = [Row(f"r{i}", f"h{i}", f"row {i}", None, {"tenant": f"t{tenants[i]}", "n": i}, vectors[i])
                for i in range(start, min(start + 10_000, len(vectors)))]  # fmt: skip
        store.upsert("bench", 1, rows, fingerprint=fingerprint)
    load_s = time.perf_counter() - began
    began = time.perf_counter()
    built = store.build_index("bench", 1)
    index_s = time.perf_counter() - began
    fields = store.metadata_fields("bench", 1)
    filtered_s, plain_s, recalls, foreign = [], [], [], 0
    for j, query in enumerate(queries):
        tenant = j % (tenants.max() + 1)
        mine = np.flatnonzero(tenants == tenant)
        exact = set(mine[np.argsort(-(vectors[mine] @ query))[:10]].tolist())
        where = check_where({"tenant": f"t{tenant}"}, fields, "bench__v1")
        t0 = time.perf_counter()
        hits = store.search("bench", 1, query, 10, where=where)
        t1 = time.perf_counter()
        store.search("bench", 1, query, 10)  # the baseline: the same query unfiltered, through the ANN index
        plain_s.append(time.perf_counter() - t1)
        filtered_s.append(t1 - t0)
        foreign += sum(1 for h in hits if h.metadata.get("tenant") != f"t{tenant}")
        recalls.append(len({int(h.id[1:]) for h in hits} & exact) / 10)
    return {
        "rows": len(vectors),
        "load_rows_per_s": round(len(vectors) / load_s),
        "index": built,
        "index_build_s": round(index_s, 1),
        "queries": len(queries),
        "hits_from_another_tenant": foreign,
        "recall@10_vs_exact_filtered": round(float(np.mean(recalls)), 4),
        "filtered_p50_ms": _pct(filtered_s, 50),
        "filtered_p95_ms": _pct(filtered_s, 95),
        "unfiltered_ann_p50_ms": _pct(plain_s, 50),
        "unfiltered_ann_p95_ms": _pct(plain_s, 95),
        "p95_ratio_filtered_over_unfiltered": round(_pct(filtered_s, 95) / max(_pct(plain_s, 95), 1e-3), 2),
        **(_post_filtered_hnsw(store, vectors, tenants, queries) if store.scheme == "postgresql" else {}),
    }


def _post_filtered_hnsw(store: Any, vectors: np.ndarray, tenants: np.ndarray, queries: np.ndarray) -> dict[str, Any]:
    """What omnivec does NOT do on pgvector 0.6.2: the same filter through the HNSW index (the planner's
    choice when left alone), which filters the ef_search candidates afterwards. Shown for the caveat."""
    recalls, found = [], []
    for j, query in enumerate(queries):
        tenant = j % (tenants.max() + 1)
        mine = np.flatnonzero(tenants == tenant)
        exact = set(mine[np.argsort(-(vectors[mine] @ query))[:10]].tolist())
        with store._conn.transaction():
            store._conn.execute(f"SET LOCAL hnsw.ef_search = {int(store.settings.ef_search)}")
            store._conn.execute("SET LOCAL enable_seqscan = off")  # as the planner picks at scale
            store._conn.execute("SET LOCAL enable_bitmapscan = off")
            rows = store._conn.execute(
                'SELECT id FROM "omnivec_bench__v1" WHERE "m_tenant" = %s ORDER BY embedding <=> %s LIMIT 10',
                (f"t{tenant}", query),
            ).fetchall()
        found.append(len(rows))
        recalls.append(len({int(r[0][1:]) for r in rows} & exact) / 10)
    return {
        "post_filtered_hnsw_recall@10": round(float(np.mean(recalls)), 4),
        "post_filtered_hnsw_mean_hits": round(float(np.mean(found)), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--dims", type=int, default=64)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--stores", default="lancedb,postgresql")
    parser.add_argument("--pg-url", default=None)
    args = parser.parse_args()
    data = _clustered(args.rows + args.queries, args.dims, seed=0)
    vectors, queries = data[: args.rows], data[args.rows :]
    tenants = np.random.default_rng(1).integers(0, args.tenants, args.rows)
    server = None
    results: dict[str, Any] = {"rows": args.rows, "tenants": args.tenants, "dims": args.dims}
    with tempfile.TemporaryDirectory() as work:
        for kind in args.stores.split(","):
            if kind == "lancedb":
                url = f"lancedb://{Path(work) / 'lance'}"
            else:
                if args.pg_url is None and server is None:
                    server = start_local_postgres()
                url = args.pg_url or server.url  # type: ignore[union-attr]
            with open_store(url, cache=None, index_min_rows=1000) as store:
                results[kind] = measure(store, vectors, tenants, queries)
            print(json.dumps({kind: results[kind]}), flush=True)
    if server is not None:
        server.stop(remove=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
