"""``omnivec compare NAME --adapter``: the verdict a team needs before ``switch --via-adapter``.

Up to three rows on the user's own queries: ``old`` (the serving version's own model), ``adapter``
(the new model's queries mapped into the old index by the adapter the serving version holds) and
``new`` (the full re-embed, once ``migrate`` has built it). With qrels, the benchmark's metrics with
bootstrap CIs and paired randomization tests; without, overlap@k against the old model. The old
model may be gone (retired, credentials removed, an outage): its row then says it could not be
computed, and every other row still is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..providers.errors import (
    AuthenticationError,
    ConfigurationError,
    InvalidOptionError,
    ProviderTimeoutError,
    ServiceUnavailableError,
)
from ..providers.stores import VectorStore, VersionInfo
from ..providers.stores.adapter_catalog import (
    describe_adapter,
    held_adapters,
    load_adapter,
    provider_of_adapter,
    verdict,
)
from ..providers.stores.base import AdapterRecord
from ..providers.stores.collection import require_serving
from ..providers.types import Fingerprint
from .collection_compare import _load_qrels, _load_queries, _run, _Side, overlap, side_row
from .metrics import evaluate, mean
from .stats import bootstrap_ci, paired_randomization_test

__all__ = ["compare_adapter"]

_UNREACHABLE = (ServiceUnavailableError, ProviderTimeoutError, AuthenticationError, ConfigurationError)
_PAIRS = (("adapter", "old"), ("new", "old"), ("adapter", "new"))


def _adapter_of(store: VectorStore, info: VersionInfo, name: str) -> AdapterRecord:
    held = held_adapters(store, info)
    return next((a for a in held if a.serving), held[-1])


def _full_version(store: VectorStore, name: str, record: AdapterRecord) -> VersionInfo | None:
    """The version ``migrate`` built with the adapter's model, if there is one (finished or not)."""
    built = [
        v
        for v in store.versions(name)
        if v.version != record.version and Fingerprint.from_stored(v.fingerprint).space().hash == record.from_hash
    ]
    return built[-1] if built else None


def compare_adapter(
    store: VectorStore,
    name: str,
    *,
    queries_file: Path | None = None,
    qrels_file: Path | None = None,
    k: int = 10,
    sample: int = 100,
) -> dict[str, Any]:
    """Old model vs the serving version's adapter (vs the full new version when there is one)."""
    info = require_serving(store, name)
    record = _adapter_of(store, info, name)
    qrels_all = _load_qrels(qrels_file) if qrels_file is not None else None  # a bad path fails before any request
    queries = _load_queries(queries_file, store, name, info.version, sample)
    if not queries:
        raise InvalidOptionError("no queries: pass --queries FILE (JSONL with _id/text, or one query per line)")
    adapter = load_adapter(store, record)
    sides: dict[str, _Side] = {}
    report: dict[str, Any] = {
        "collection": name,
        "queries": len(queries),
        "k": k,
        "adapter": {"digest": record.digest, "from": describe_adapter(record), "kind": record.meta.get("kind"),
                    "held_out": record.meta.get("held_out"), "predicted_verdict": verdict(record)},
        "rows": {},
    }  # fmt: skip
    try:
        sides["old"] = _run(store, name, info.version, queries, k)
    except _UNREACHABLE as exc:  # the point of an adapter: the old model may be gone
        report["rows"]["old"] = {"version": info.version, "error": f"could not be computed: {exc}".splitlines()[0]}
    sides["adapter"] = _run(store, name, info.version, queries, k, provider_of_adapter(record), adapter.apply)
    full = _full_version(store, name, record)
    if full is not None:
        sides["new"] = _run(store, name, full.version, queries, k)
        if full.state == "building":
            report["warnings"] = [f"v{full.version} is still building: its row is partial until migrate finishes"]
    report["rows"].update({label: side_row(side) for label, side in sides.items()})
    report["agreement"] = {
        f"{a}_vs_{b}_overlap@{k}": overlap(sides[a], sides[b], queries, k) if a in sides and b in sides else None
        for a, b in _PAIRS
    }
    if qrels_all is not None:
        report["metrics"] = _metrics(sides, queries, qrels_all, qrels_file, k)
    return report


def _metrics(
    sides: dict[str, _Side], queries: dict[str, str], qrels_all: dict[str, dict[str, int]], path: Path | None, k: int
) -> dict[str, Any]:
    qrels = {q: j for q, j in qrels_all.items() if q in queries}
    if not qrels:
        raise InvalidOptionError(f"{path}: no judged query matches a query id of --queries")
    per = {label: evaluate({q: dict(side.rankings[q]) for q in qrels}, qrels, ks=(k,)) for label, side in sides.items()}
    metrics: dict[str, Any] = {}
    for metric in (f"ndcg@{k}", f"recall@{k}", f"mrr@{k}"):
        values = {label: [scores[q][metric] for q in qrels] for label, scores in per.items()}
        row: dict[str, Any] = {}
        for label in ("old", "adapter", "new"):
            if label in per:
                row[label], row[f"{label}_ci95"] = mean(per[label], metric), bootstrap_ci(values[label])
        for a, b in _PAIRS:
            if a in values and b in values:
                row[f"p_value_{a}_vs_{b}"] = paired_randomization_test(values[a], values[b])
        metrics[metric] = row
    return metrics
