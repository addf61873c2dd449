"""Local throughput through omnivec vs calling ``SentenceTransformer.encode`` directly.

    python benchmarks/perf/overhead_local.py [--n 1100] [--repeats 5] [--batch-size 32]

Same model, same texts, same batch size; runs alternate so drift hits both sides alike. Prints
items/s for each and the ratio of the best runs (target: omnivec ≥ 0.97 × direct). Best-of is
used, as ``timeit`` does, because on a small shared machine the slow runs measure interference
(run-to-run spread here is ±5-10%), not the code. Texts are SciFact abstracts from
the bundled nano set, cut to 300 characters and repeated to ``--n`` so the run spans several of
omnivec's chunks.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from omnivec.providers.sentence_transformers import SentenceTransformersProvider
from omnivec.providers.testing.perf import provider_model

NANO = Path(__file__).parents[1] / "data" / "scifact-nano" / "corpus.jsonl"


def texts(n: int) -> list[str]:
    docs = [json.loads(line) for line in NANO.open()]
    base = [f"{d['title']} {d['text']}"[:300] for d in docs]
    return [f"{base[i % len(base)]} ({i})" for i in range(n)]  # distinct strings, no caching effects


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    provider = SentenceTransformersProvider(batch_size=args.batch_size, device="cpu")
    items = texts(args.n)
    provider.embed_sync(items[:64], intent="document")  # load + warm up
    model = provider_model(provider)  # the very same model object, called directly
    model.encode_document(items[:64], batch_size=args.batch_size)

    direct, ours = [], []
    for _ in range(args.repeats):
        began = time.perf_counter()
        model.encode_document(items, batch_size=args.batch_size, convert_to_numpy=True)
        direct.append(args.n / (time.perf_counter() - began))
        began = time.perf_counter()
        provider.embed_sync(items, intent="document")
        ours.append(args.n / (time.perf_counter() - began))
    d, o = max(direct), max(ours)
    print(
        f"inputs: {args.n}  batch_size: {args.batch_size}  repeats: {args.repeats}  chunk: "
        f"{provider.capabilities.max_batch_size}"
    )
    print(
        f"direct SentenceTransformer.encode_document: best {d:6.1f} items/s  (runs: {', '.join(f'{x:.1f}' for x in direct)})"
    )
    print(
        f"omnivec embed(intent='document'):         best {o:6.1f} items/s  (runs: {', '.join(f'{x:.1f}' for x in ours)})"
    )
    print(
        f"ratio omnivec/direct (best runs): {o / d:.3f}  (target ≥ 0.97); "
        f"medians: {statistics.median(ours) / statistics.median(direct):.3f}"
    )


if __name__ == "__main__":
    main()
