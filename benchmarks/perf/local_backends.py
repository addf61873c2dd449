"""Local inference backends side by side: docs/s on SciFact abstracts and nDCG@10 on SciFact.

    python benchmarks/perf/local_backends.py [--n 512] [--repeats 3] [--backends torch,onnx,...]
        [--threads N] [--no-ndcg] [--scifact FOLDER] [--calibration-n 300]

Every backend is the same all-MiniLM-L6-v2 SentenceTransformer with its transformer swapped
(``providers/sentence_transformers/_backends.py``); exports are cached, so only a first run pays
for them (the time is printed). Speed: the first ``--n`` SciFact abstracts (title + text, batch 32),
``--repeats`` rounds, the order of backends rotated each round so drift on a shared machine hits
all alike; median and best docs/s and their ratios to torch from the same run. Quality: the whole
corpus and the 300 test claims encoded by each backend, exact cosine top-100, nDCG@10 and
Recall@100 by pytrec_eval. Target: a backend >= 1.5x torch's docs/s within 0.01 nDCG@10; for
``openvino-int8`` (static int8) >= 3x torch at 2 threads within 0.005 nDCG@10. Its calibration
sample is ``--calibration-n`` corpus documents drawn with a fixed seed (the user's own corpus, as
the backend is meant to be used), written to a file beside the exports; the quantization is
timed once like any export.
The BEIR folder is read here directly (corpus.jsonl, queries.jsonl, qrels/test.tsv), so this
script depends on nothing in the benchmark package.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from omnivec.providers.testing.perf import LOCAL_BACKENDS as BACKENDS
from omnivec.providers.testing.perf import HelpFormatter, at_least_one, local_model, run_main

HERE = Path(__file__).resolve()
CANDIDATES = (
    HERE.parents[3] / "shared" / "data" / "text" / "scifact",  # the full set, beside the checkout
    HERE.parents[1] / "data" / "scifact-nano",  # bundled 1/10 stand-in
)
MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def find_scifact(given: str | None) -> Path:
    for folder in [Path(given)] if given else list(CANDIDATES):
        if (folder / "corpus.jsonl").is_file():
            return folder
    raise SystemExit(f"no SciFact folder with corpus.jsonl in {given or [str(c) for c in CANDIDATES]}")


def load_beir(folder: Path) -> tuple[dict[str, str], dict[str, str], dict[str, dict[str, int]]]:
    corpus = {}
    for line in (folder / "corpus.jsonl").open():
        doc = json.loads(line)
        corpus[str(doc["_id"])] = f"{doc.get('title', '')} {doc['text']}".strip()
    qrels: dict[str, dict[str, int]] = {}
    qrel_file = folder / "qrels" / "test.tsv" if (folder / "qrels" / "test.tsv").is_file() else folder / "test.tsv"
    for row in qrel_file.read_text().splitlines()[1:]:
        qid, did, score = row.split("\t")
        qrels.setdefault(qid, {})[did] = int(score)
    queries = {}
    for line in (folder / "queries.jsonl").open():
        query = json.loads(line)
        if str(query["_id"]) in qrels:
            queries[str(query["_id"])] = query["text"]
    return corpus, queries, qrels


def retrieval_scores(
    model: Any, corpus: dict[str, str], queries: dict[str, str], qrels: dict[str, dict[str, int]], batch_size: int
) -> tuple[float, float, float]:
    """(nDCG@10, Recall@100, corpus docs/s) for one backend, exact cosine search."""
    import pytrec_eval

    ids = list(corpus)
    began = time.perf_counter()
    docs = model.encode_document([corpus[i] for i in ids], batch_size=batch_size, convert_to_numpy=True)
    speed = len(ids) / (time.perf_counter() - began)
    qids = list(queries)
    qv = model.encode_query([queries[q] for q in qids], batch_size=batch_size, convert_to_numpy=True)
    docs = docs / np.linalg.norm(docs, axis=1, keepdims=True)
    qv = qv / np.linalg.norm(qv, axis=1, keepdims=True)
    sims = qv @ docs.T
    top = np.argsort(-sims, axis=1)[:, :100]
    run = {q: {ids[j]: float(sims[n, j]) for j in top[n]} for n, q in enumerate(qids)}
    per_query = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.100"}).evaluate(run)
    ndcg = statistics.fmean(v["ndcg_cut_10"] for v in per_query.values())
    recall = statistics.fmean(v["recall_100"] for v in per_query.values())
    return ndcg, recall, speed


def calibration_sample(texts: list[str], count: int) -> str:
    """``count`` texts of the corpus, drawn with a fixed seed, one per line in a file: the static int8
    backend's calibration sample (a user would draw theirs from their own corpus the same way)."""
    rng = np.random.default_rng(23)
    chosen = rng.choice(len(texts), size=min(count, len(texts)), replace=False)
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"omnivec-calibration-{count}.txt"
    path.write_text("\n".join(" ".join(texts[i].split()) for i in sorted(chosen)) + "\n", encoding="utf-8")
    return str(path)


def backend_list(text: str) -> list[str]:
    """argparse type: comma-separated backend names, each known (a near miss is suggested)."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    for name in names:
        if name not in BACKENDS:
            near = difflib.get_close_matches(name, BACKENDS, n=1)
            hint = f"did you mean {near[0]!r}? " if near else ""
            raise argparse.ArgumentTypeError(f"unknown backend {name!r}: {hint}choose from {', '.join(BACKENDS)}")
    if not names:
        raise argparse.ArgumentTypeError(f"name at least one of {', '.join(BACKENDS)}")
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--n", type=at_least_one, default=512, help="abstracts per speed round")
    parser.add_argument("--repeats", type=at_least_one, default=3, help="speed rounds (median and best are shown)")
    parser.add_argument("--batch-size", type=at_least_one, default=32, help="encode batch size")
    parser.add_argument(
        "--backends", type=backend_list, default=",".join(BACKENDS), help="comma-separated; torch is always added"
    )
    parser.add_argument("--threads", type=at_least_one, default=None, help="torch.set_num_threads and runtime threads")
    parser.add_argument(
        "--torch-threads", default=None, help="also time torch at these intra-op thread counts, e.g. 1,2"
    )
    parser.add_argument(
        "--interop", type=at_least_one, default=None, help="torch.set_num_interop_threads (once, at start)"
    )
    parser.add_argument("--no-ndcg", action="store_true", help="speed only")
    parser.add_argument("--no-speed", action="store_true", help="nDCG only")
    parser.add_argument(
        "--ndcg-backends", type=backend_list, default=None, help="backends for nDCG; unset: all of --backends"
    )
    parser.add_argument(
        "--scifact",
        default=None,
        help="BEIR-style SciFact folder; unset: ../shared's full set, else the bundled nano",
    )
    parser.add_argument(
        "--cache-folder", default=None, help="where exports are kept; unset: ~/.cache/omnivec/st-backends"
    )
    parser.add_argument(
        "--torch-ndcg",
        type=float,
        default=None,
        help="skip torch's nDCG pass and compare with this known value (torch's vectors do not change between "
        "runs: 0.6451 for MiniLM on full SciFact); its corpus docs/s is then not measured",
    )
    parser.add_argument(
        "--calibration-n", type=at_least_one, default=300, help="corpus texts sampled to calibrate openvino-int8"
    )
    args = parser.parse_args()

    import torch

    if args.interop:
        torch.set_num_interop_threads(args.interop)
    if args.threads:
        torch.set_num_threads(args.threads)
    backends: list[str] = list(args.backends)
    if "torch" not in backends:
        backends.insert(0, "torch")  # ratios are always against torch measured in this run
    chosen = ["torch", *[b for b in (args.ndcg_backends or backends) if b != "torch"]]
    if args.torch_ndcg is not None:
        chosen.remove("torch")
    folder = find_scifact(args.scifact)
    corpus, queries, qrels = load_beir(folder)
    print(f"SciFact: {folder}", flush=True)
    sample = calibration_sample(list(corpus.values()), args.calibration_n)
    models: dict[str, Any] = {}
    for backend in dict.fromkeys([*backends, *chosen]):
        began = time.perf_counter()
        models[backend], cached = local_model(
            MODEL, backend, cache_folder=args.cache_folder, threads=args.threads, calibration_file=sample
        )
        how = "" if backend == "torch" else " (export cached)" if cached else " (exported now)"
        print(f"load {backend:13s} {time.perf_counter() - began:6.1f} s{how}", flush=True)

    if not args.no_speed:
        timed: dict[str, tuple[Any, int | None]] = {b: (models[b], None) for b in backends}
        for count in (int(c) for c in (args.torch_threads or "").split(",") if c.strip()):
            timed[f"torch-{count}t"] = (models["torch"], count)
        speed_table(timed, list(corpus.values())[: args.n], args.repeats, args.batch_size)
    if args.no_ndcg:
        return
    print(f"\nretrieval: {len(corpus)} docs, {len(queries)} queries (exact cosine)")
    print(f"{'backend':13s} {'nDCG@10':>8s} {'Δ torch':>8s} {'R@100':>7s} {'corpus docs/s':>14s} {'x torch':>8s}")
    base: tuple[float, float, float] | None = None
    if args.torch_ndcg is not None:
        base = (args.torch_ndcg, float("nan"), float("nan"))
        print(f"{'torch':13s} {args.torch_ndcg:8.4f} {'(given)':>8s}")
    for backend in chosen:
        ndcg, recall, speed = retrieval_scores(models[backend], corpus, queries, qrels, args.batch_size)
        base = base or (ndcg, recall, speed)
        print(
            f"{backend:13s} {ndcg:8.4f} {ndcg - base[0]:+8.4f} {recall:7.4f} {speed:14.1f} {speed / base[2]:8.2f}",
            flush=True,
        )


def speed_table(models: dict[str, tuple[Any, int | None]], texts: list[str], repeats: int, batch_size: int) -> None:
    """docs/s per backend, rounds in rotated order; median and best, each as a ratio to torch.

    An entry's thread count, when given, is set with ``torch.set_num_threads`` for its runs only.
    """
    import torch

    backends = list(models)
    default_threads = torch.get_num_threads()
    for model, _ in models.values():
        model.encode_document(texts[:32], batch_size=batch_size)  # warm up
    speeds: dict[str, list[float]] = {b: [] for b in backends}
    per_cpu: dict[str, list[float]] = {b: [] for b in backends}  # docs per CPU-second of this process
    for round_ in range(repeats):
        order = backends[round_ % len(backends) :] + backends[: round_ % len(backends)]
        for backend in order:
            model, threads = models[backend]
            torch.set_num_threads(threads or default_threads)
            began, cpu = time.perf_counter(), time.process_time()
            model.encode_document(texts, batch_size=batch_size, convert_to_numpy=True)
            speeds[backend].append(len(texts) / (time.perf_counter() - began))
            per_cpu[backend].append(len(texts) / (time.process_time() - cpu))
            torch.set_num_threads(default_threads)
        print(f"round {round_ + 1}: " + ", ".join(f"{b} {speeds[b][-1]:.1f}" for b in backends), flush=True)

    torch_median, torch_best = statistics.median(speeds["torch"]), max(speeds["torch"])
    print(
        f"\nspeed: {len(texts)} SciFact abstracts (title + text), batch {batch_size}, {repeats} round{'s' if repeats > 1 else ''}, "
        f"{os.cpu_count()} CPUs, torch threads {default_threads} (interop {torch.get_num_interop_threads()}), "
        f"load {os.getloadavg()[0]:.1f}"
    )
    torch_cpu = statistics.median(per_cpu["torch"])
    print(
        f"{'backend':13s} {'median docs/s':>14s} {'x torch':>8s} {'best docs/s':>12s} {'x torch':>8s} "
        f"{'docs/CPU-s':>11s} {'x torch':>8s}"
    )
    for backend in backends:
        med, best, cpu_med = (
            statistics.median(speeds[backend]),
            max(speeds[backend]),
            statistics.median(per_cpu[backend]),
        )
        print(
            f"{backend:13s} {med:14.1f} {med / torch_median:8.2f} {best:12.1f} {best / torch_best:8.2f} "
            f"{cpu_med:11.1f} {cpu_med / torch_cpu:8.2f}"
        )
    print(
        "docs/CPU-s: docs per second of CPU this process used (all its threads), median; on a busy machine\n"
        "it tracks the work each backend does better than wall-clock docs/s, which waits for a core."
    )


if __name__ == "__main__":
    run_main(main, kept="finished exports stay cached, a half-made one is removed")
