"""``migrate --to-store`` throughput between stores (a script with numbers, not a timed test).

    python benchmarks/perf/store_transfer.py [--rows 100000] [--dims 384] [--batch-size 1000]
                                             [--stores qdrant,milvus,chroma] [--pg]

``--rows`` random float32 vectors (fake fingerprint, no model) are written into a LanceDB collection,
then moved with :func:`omnivec.providers.stores.transfer.transfer` (what ``omnivec migrate NAME
--to-store URL`` runs): LanceDB -> LanceDB (the baseline, measured in the same run), LanceDB -> each
store, and each store -> LanceDB. Per pair: items/s, its ratio to the baseline, the embedding calls
made (must be 0: the same model copies the stored vectors), and whether the target answers 3 queries
with the same top 10 as the source under exact search. Every store is embedded (local mode / Milvus Lite
/ PersistentClient) in a temporary folder; ``--pg`` adds pgvector on a throwaway local server.
Numbers describe this machine, loaded or not: see the load average it prints.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from omnivec.providers.stores import Row, VectorStore, open_store
from omnivec.providers.stores.transfer import transfer
from omnivec.providers.testing import FakeProvider
from omnivec.providers.testing.store_contract import contract_fingerprint

URLS = {
    "lancedb": "lancedb://{}/lance-{}",
    "qdrant": "qdrant+local://{}/qdrant-{}",
    "milvus": "milvus+lite://{}/milvus-{}.db",
    "chroma": "chroma+local://{}/chroma-{}",
}


def fill(store: VectorStore, rows: int, dims: int, batch: int) -> None:
    fingerprint = contract_fingerprint("transfer-bench", dims)
    store.create_version("docs", 1, fingerprint)
    rng = np.random.default_rng(0)
    for start in range(0, rows, batch):
        n = min(batch, rows - start)
        vectors = rng.standard_normal((n, dims)).astype(np.float32)
        store.upsert(
            "docs", 1,
            [Row(f"d{start + i}", f"h{start + i}", f"text {start + i}", None, {"i": start + i}, vectors[i])
             for i in range(n)],
            fingerprint=fingerprint,
        )  # fmt: skip
    store.set_state("docs", 1, "live")
    store.set_alias("docs", 1, None)


def same_top_10(source: VectorStore, target: VectorStore, dims: int) -> bool:
    version = target.alias("docs")
    assert version is not None
    for seed in range(3):
        query = np.random.default_rng(1000 + seed).standard_normal(dims).astype(np.float32)
        a = [h.id for h in source.search("docs", 1, query, 10, exact=True)]
        b = [h.id for h in target.search("docs", version[0], query, 10, exact=True)]
        if a != b:
            return False
    return True


def move(source_url: str, target_url: str, batch: int, dims: int, calls: list[int]) -> dict[str, Any]:
    with (
        open_store(source_url, cache=None, batch_size=batch) as source,
        open_store(target_url, cache=None, batch_size=batch, index="none") as target,
    ):
        before = len(calls)
        started = time.perf_counter()
        report = transfer(source, "docs", target, cache=False)
        seconds = time.perf_counter() - started
        return {
            "rows": report.count,
            "seconds": seconds,
            "items_s": report.count / seconds,
            "calls": len(calls) - before,
            "top10": same_top_10(source, target, dims),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dims", type=int, default=384)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--stores", default="qdrant,milvus,chroma")
    parser.add_argument("--pg", action="store_true", help="add pgvector on a throwaway local server")
    args = parser.parse_args()
    calls: list[int] = []
    original = FakeProvider._embed_batch

    async def counting(self: FakeProvider, batch: Any, **kwargs: Any) -> Any:  # any embedding call counts
        calls.append(len(batch))
        return await original(self, batch, **kwargs)

    FakeProvider._embed_batch = counting  # type: ignore[method-assign]
    print(f"load average before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        urls = {kind: URLS[kind].format(tmp, "{}") for kind in URLS}
        server = None
        if args.pg:
            from omnivec.providers.stores.pgdev import start_local_postgres

            server = start_local_postgres()
            urls["postgresql"] = server.url
        source = urls["lancedb"].format("source")
        with open_store(source, cache=None) as store:
            fill(store, args.rows, args.dims, args.batch_size)
        pairs = [("lancedb", "lancedb")]
        for kind in [s for s in args.stores.split(",") if s] + (["postgresql"] if args.pg else []):
            pairs += [("lancedb", kind), (kind, "lancedb")]
        results: dict[str, dict[str, Any]] = {}
        for src, dst in pairs:
            from_url = source if src == "lancedb" else urls[src].format("copy")
            to_url = urls[dst].format("copy" if src == "lancedb" else f"back-{src}")
            results[f"{src} -> {dst}"] = move(from_url, to_url, args.batch_size, args.dims, calls)
            line = results[f"{src} -> {dst}"]
            base = results["lancedb -> lancedb"]["items_s"]
            print(
                f"{src:>10} -> {dst:<10} {line['rows']:>7} rows {line['seconds']:7.1f} s {line['items_s']:8.0f} items/s "
                f"({line['items_s'] / base:.2f} x LanceDB->LanceDB)  calls={line['calls']}  same top-10: {line['top10']}",
                flush=True,
            )
        if server is not None:
            server.stop(remove=True)
    print(f"load average after: {os.getloadavg()}; folder sizes are gone with {Path(tmp).name}")


if __name__ == "__main__":
    main()
