"""``omnivec compare NAME``: old vs new version of a collection on the user's own data, before switching.

With qrels (BEIR TSV: query-id, corpus-id, score), the benchmark's metrics (trec_eval semantics) with
bootstrap CIs and the paired randomization test. Without, how much the new version agrees with the
old: overlap@k and Spearman rank correlation of shared hits. Both ways, query latency (embed +
search, p50/p95) and the estimated cost per 1,000 queries. Queries come from ``--queries`` (JSONL
``_id``/``text`` or one query per line), else from up to ``--sample`` stored item texts.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Optional

import numpy as np
import typer

from ..providers.base import EmbeddingProvider
from ..providers.console import err, print_error, print_warning
from ..providers.errors import EmbeddingError, InvalidOptionError
from ..providers.stores import VectorStore, open_store, provider_for
from ..providers.stores.collection import require_serving
from ..providers.stores.planning import price_per_token
from .metrics import evaluate, mean
from .stats import bootstrap_ci, paired_randomization_test

__all__ = ["compare_versions", "register"]


@dataclass
class _Side:
    version: int
    model: str
    rankings: dict[str, list[tuple[str, float]]]
    latencies: list[float]
    cost_per_1k: float | None


def _load_queries(path: Path | None, store: VectorStore, name: str, version: int, sample: int) -> dict[str, str]:
    if path is None:
        queries: dict[str, str] = {}
        for rows in store.scan(name, version, sample):  # batches may be short (one per stored fragment)
            queries.update((f"item:{r.id}", r.text) for r in rows if r.text)
            if len(queries) >= sample:
                break
        return dict(list(queries.items())[:sample])
    try:
        lines = path.read_bytes().splitlines()
    except OSError as exc:  # it printed a bare "[Errno 2] No such file or directory: 'q.txt'"
        raise InvalidOptionError(f"--queries {path}: cannot read it ({exc.strerror or exc})") from None
    out = {}
    for number, data in enumerate(lines, 1):
        try:
            line = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidOptionError(f"{path}:{number}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except ValueError:
            out[str(number)] = line.strip()  # plain text: one query per line
            continue
        if isinstance(raw, str):
            out[str(number)] = raw
        elif isinstance(raw, dict) and isinstance(raw.get("text"), str) and raw["text"].strip():
            out[str(raw.get("_id", raw.get("id", number)))] = raw["text"]
        else:  # an array, a number, an object without text: never embed its JSON as a query
            raise InvalidOptionError(
                f"{path}:{number}: a query line must be plain text or a JSON object with a non-empty 'text', "
                f"not {type(raw).__name__ if not isinstance(raw, dict) else 'an object without text'}"
            )
    return out


def _load_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    try:
        with path.open(newline="") as handle:
            rows = list(csv.reader(handle, delimiter="\t"))
    except OSError as exc:
        raise InvalidOptionError(f"--qrels {path}: cannot read it ({exc.strerror or exc})") from None
    for row in rows[1:] if rows and not rows[0][-1].strip().lstrip("-").isdigit() else rows:
        if len(row) >= 3:
            qrels.setdefault(row[0], {})[row[-2] if len(row) == 4 else row[1]] = int(row[-1])
    return qrels


def _run(
    store: VectorStore,
    name: str,
    version: int,
    queries: dict[str, str],
    k: int,
    provider: EmbeddingProvider[Any] | None = None,
    mapper: Callable[[np.ndarray], np.ndarray] | None = None,
) -> _Side:
    """``provider`` (default: the version's own) embeds each query; ``mapper`` (an adapter) maps it first."""
    info = next(v for v in store.versions(name) if v.version == version)
    provider = provider or provider_for(info)
    rankings, latencies = {}, []
    if queries and not provider.is_remote:
        # One untimed query loads a local model first: its cold start is not a query's latency
        # (a remote provider is timed as it comes, connection set-up included, as in production).
        provider.embed_query_sync(next(iter(queries.values())))
    for qid, text in queries.items():  # the provider is shared per process: not closed here
        began = time.perf_counter()
        vector = provider.embed_query_sync(text).vectors[0]
        hits = store.search(name, version, vector if mapper is None else mapper(vector), k)
        latencies.append(time.perf_counter() - began)
        rankings[qid] = [(h.id, h.score) for h in hits]
    price = price_per_token(provider)
    avg_tokens = sum(len(t) for t in queries.values()) / max(1, len(queries)) / 4.0
    return _Side(version, provider.ref, rankings, latencies, None if price is None else price * avg_tokens * 1000)


def side_row(side: _Side) -> dict[str, Any]:
    """A side's row of the report: version, model, latency p50/p95, cost per 1,000 queries."""
    lat = np.array(side.latencies) * 1000
    return {
        "version": side.version,
        "model": side.model,
        "latency_ms_p50": float(np.percentile(lat, 50)),
        "latency_ms_p95": float(np.percentile(lat, 95)),
        "cost_per_1k_queries_usd": side.cost_per_1k,
    }


def overlap(a: _Side, b: _Side, queries: dict[str, str], k: int) -> float:
    """Mean share of hits two sides agree on, over the hits actually returned: a collection smaller
    than k caps neither side below 1.0."""
    shares = [
        len({d for d, _ in a.rankings[q]} & {d for d, _ in b.rankings[q]})
        / max(1, min(k, max(len(a.rankings[q]), len(b.rankings[q]))))
        for q in queries
    ]
    return float(np.mean(shares))


def _spearman(a: list[str], b: list[str]) -> float | None:
    shared = [doc for doc in a if doc in b]
    if len(shared) < 2:
        return None
    ra = np.array([a.index(d) for d in shared], dtype=float)
    rb = np.array([b.index(d) for d in shared], dtype=float)
    if ra.std() == 0 or rb.std() == 0:
        return None
    return float(np.corrcoef(ra, rb)[0, 1])


def compare_versions(
    store: VectorStore,
    name: str,
    *,
    new: int | None = None,
    queries_file: Path | None = None,
    qrels_file: Path | None = None,
    k: int = 10,
    sample: int = 100,
) -> dict[str, Any]:
    """Evaluate the serving version against ``new`` (default: the newest other version)."""
    old = require_serving(store, name)
    versions = {v.version: v for v in store.versions(name)}
    others = [v for v in versions.values() if v.version != old.version]
    warnings: list[str] = []
    if new is None:
        finished = [v for v in others if v.state != "building"]
        if not finished:
            raise InvalidOptionError(
                f"collection {name!r} has no other finished version"
                + (f" (v{others[-1].version} is still building: finish 'omnivec migrate {name}')" if others else "")
                + f": run 'omnivec migrate {name} --to REF' first"
            )
        new = finished[-1].version
    elif new not in versions:
        known = ", ".join(f"v{n}" for n in versions)
        raise InvalidOptionError(f"--version {new}: {name!r} has no such version (its versions: {known})")
    elif new == old.version:
        raise InvalidOptionError(
            f"--version {new} is the serving version: compare it with another one "
            f"({', '.join(f'v{v.version}' for v in others) or 'none yet: run omnivec migrate'})"
        )
    elif versions[new].state == "building":
        warnings.append(
            f"v{new} is still building ({store.count(name, new)} of {store.count(name, old.version)} items): "
            f"its results are partial until 'omnivec migrate {name}' finishes"
        )
    qrels_all = _load_qrels(qrels_file) if qrels_file is not None else None  # a bad path fails before any request
    queries = _load_queries(queries_file, store, name, old.version, sample)
    if not queries:
        raise InvalidOptionError("no queries: pass --queries FILE (JSONL with _id/text, or one query per line)")
    sides = [_run(store, name, v, queries, k) for v in (old.version, new)]
    report: dict[str, Any] = {"collection": name, "queries": len(queries), "k": k, "versions": {}}
    if warnings:
        report["warnings"] = warnings
    for label, side in zip(("old", "new"), sides, strict=False):
        report["versions"][label] = side_row(side)
    a, b = sides
    rhos = [
        r for q in queries if (r := _spearman([d for d, _ in a.rankings[q]], [d for d, _ in b.rankings[q]])) is not None
    ]
    report["agreement"] = {
        f"overlap@{k}": overlap(a, b, queries, k),
        "spearman_shared": float(np.mean(rhos)) if rhos else None,
    }
    if qrels_all is not None:
        qrels = {q: j for q, j in qrels_all.items() if q in queries}
        if not qrels:
            raise InvalidOptionError(f"{qrels_file}: no judged query matches a query id of --queries")
        per = [evaluate({q: dict(side.rankings[q]) for q in qrels}, qrels, ks=(k,)) for side in sides]
        metrics: dict[str, Any] = {}
        for metric in (f"ndcg@{k}", f"recall@{k}", f"mrr@{k}"):
            values = [[per_side[q][metric] for q in qrels] for per_side in per]
            metrics[metric] = {
                "old": mean(per[0], metric),
                "new": mean(per[1], metric),
                "old_ci95": bootstrap_ci(values[0]),
                "new_ci95": bootstrap_ci(values[1]),
                "p_value": paired_randomization_test(values[1], values[0]),
            }
        report["metrics"] = metrics
    return report


def compare(
    collection: Annotated[str, typer.Argument(help="Collection name.")],
    queries: Annotated[
        Optional[Path], typer.Option("--queries", help="JSONL (_id, text) or one query per line.")
    ] = None,
    qrels: Annotated[Optional[Path], typer.Option("--qrels", help="BEIR qrels TSV for the queries.")] = None,
    version: Annotated[
        Optional[int], typer.Option(help="Version to compare with the serving one (default: newest).")
    ] = None,
    k: Annotated[int, typer.Option("-k", min=1)] = 10,
    sample: Annotated[int, typer.Option(min=1, help="Stored items used as queries when --queries is absent.")] = 100,
    store: Annotated[Optional[str], typer.Option("--store", help="Store URL; default OMNIVEC_STORE.")] = None,
    adapter: Annotated[
        bool, typer.Option("--adapter", help="Old model vs the adapter (vs the full new version, once migrated).")
    ] = False,
) -> None:
    """Compare the serving version with the migrated one on your own queries (JSON on stdout)."""
    try:
        if adapter and version is not None:
            raise InvalidOptionError("--adapter compares the serving version's adapter; drop --version")
        st = open_store(None, create=False, **({"url": store} if store else {}))  # read-only: never creates a store
        try:
            if adapter:
                from .adapter_compare import compare_adapter

                report = compare_adapter(st, collection, queries_file=queries, qrels_file=qrels, k=k, sample=sample)
            else:
                report = compare_versions(
                    st, collection, new=version, queries_file=queries, qrels_file=qrels, k=k, sample=sample
                )
        finally:
            st.close()
    except (EmbeddingError, OSError, ValueError) as exc:
        print_error(exc)
        raise typer.Exit(2) from exc
    print(json.dumps(report, indent=2))
    if adapter:
        _say_adapter(report, k)
        return
    for warning in report.get("warnings", []):
        print_warning(warning)
    agreement = report["agreement"]
    err.print(
        f"overlap@{k} {agreement[f'overlap@{k}']:.3f} between v{report['versions']['old']['version']} and "
        f"v{report['versions']['new']['version']}",
        soft_wrap=True,
    )


def _say_adapter(report: dict[str, Any], k: int) -> None:
    for warning in report.get("warnings", []):
        print_warning(warning)
    if "error" in report["rows"].get("old", {}):
        print_warning(f"old model: {report['rows']['old']['error']}")
    agreement = ", ".join(f"{name} {value:.3f}" for name, value in report["agreement"].items() if value is not None)
    err.print(
        f"adapter {report['adapter']['digest']} from {report['adapter']['from']}: predicted "
        f"{report['adapter']['predicted_verdict']}; " + (agreement or f"no overlap@{k} could be computed"),
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    app.command(name="compare")(compare)
