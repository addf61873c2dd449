"""``migrate --to-store`` throughput between stores (a script with numbers, not a timed test).

    python benchmarks/perf/store_transfer.py [--rows 100000] [--dims 384] [--batch-size 1000]
                                             [--stores qdrant,milvus,chroma] [--pg] [--cross]
                                             [--only milvus-postgresql,chroma-qdrant,...]

``--rows`` random float32 vectors (fake fingerprint, no model) are written into a LanceDB collection,
then moved with :func:`omnivec.providers.stores.transfer.transfer` (what ``omnivec migrate NAME
--to-store URL`` runs): LanceDB -> LanceDB (the baseline, measured in the same run), LanceDB -> each
store, and each store -> LanceDB. Per pair: items/s, its ratio to the baseline, the embedding calls
made (must be 0: the same model copies the stored vectors), and whether the target answers 3 queries
with the same top 10 as the source under exact search. Every store is embedded (local mode / Milvus Lite
/ PersistentClient) in a temporary folder; ``--pg`` adds pgvector on a throwaway local server.
``--cross`` replaces the store -> LanceDB pairs by every ordered pair between the other stores (each
filled from LanceDB first, those fills measured too; pgvector targets get a fresh database each),
the pgvector targets first because they are the quickest; ``--only`` keeps the pairs it names (and
the fills their sources need).
Numbers describe this machine, loaded or not: see the load average it prints.
"""

from __future__ import annotations

import argparse
import functools
import os
import tempfile
import time
from collections.abc import Callable
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


def pg_database(url: str, label: str) -> str:
    """The server's own database for ``copy`` (a source), a new empty one for any other label (a target)."""
    if label == "copy":
        return url
    import psycopg  # the stores extra

    database, base = label.replace("-", "_"), url.rsplit("/", 1)[0]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {database}")
    with psycopg.connect(f"{base}/{database}", autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    return f"{base}/{database}"


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
    parser.add_argument(
        "--cross", action="store_true",
        help="instead of store -> LanceDB, every ordered pair between the other stores (each filled from LanceDB first)",
    )  # fmt: skip
    parser.add_argument(
        "--only", default="",
        help="with --cross, only these pairs (e.g. milvus-postgresql,chroma-qdrant) after the fills their sources need",
    )  # fmt: skip
    args = parser.parse_args()
    only = {tuple(pair.split("-", 1)) for pair in args.only.split(",") if pair}
    calls: list[int] = []
    original = FakeProvider._embed_batch

    async def counting(self: FakeProvider, batch: Any, **kwargs: Any) -> Any:  # any embedding call counts
        calls.append(len(batch))
        return await original(self, batch, **kwargs)

    FakeProvider._embed_batch = counting  # type: ignore[method-assign]
    print(f"load average before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        urls: dict[str, Callable[[str], str]] = {
            kind: functools.partial(template.format, tmp) for kind, template in URLS.items()
        }
        server = None
        if args.pg:
            from omnivec.providers.stores.pgdev import start_local_postgres

            server = start_local_postgres()
            pg_url = server.url  # with --cross, one database per source: a target of several starts empty each time
            urls["postgresql"] = lambda label: pg_database(pg_url, label) if args.cross else pg_url
        source = urls["lancedb"]("source")
        with open_store(source, cache=None) as store:
            fill(store, args.rows, args.dims, args.batch_size)
        pairs = [("lancedb", "lancedb")]
        kinds = [s for s in args.stores.split(",") if s] + (["postgresql"] if args.pg else [])
        for kind in kinds:
            pairs += [("lancedb", kind)] + ([] if args.cross else [(kind, "lancedb")])
        if args.cross:
            cheap_first = sorted(
                kinds, key=lambda kind: kind != "postgresql"
            )  # the fast target first: most pairs per hour
            cross = [(a, b) for b in cheap_first for a in kinds if a != b and (not only or (a, b) in only)]
            needed = {a for a, _ in cross}  # a source store is filled from LanceDB first
            pairs = [p for p in pairs if p[0] != "lancedb" or p[1] in needed or p[1] == "lancedb"] + cross
        results: dict[str, dict[str, Any]] = {}
        for src, dst in pairs:
            from_url = source if src == "lancedb" else urls[src]("copy")
            to_url = urls[dst]("copy" if src == "lancedb" else f"back-{src}")
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
