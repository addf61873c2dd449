"""Rebuild the bundled SciFact "nano" set from the full BEIR-format SciFact.

    python benchmarks/data/make_scifact_nano.py ~/.cache/omnivec/datasets/scifact benchmarks/data/scifact-nano

Seeded and deterministic: 50 test claims sampled with seed 13, every abstract they cite, plus
distractor abstracts sampled from the rest of the corpus (seed 13) up to 800 documents in all.
"""

from __future__ import annotations

import csv
import json
import random
import sys
from pathlib import Path

SEED = 13
QUERIES = 50
DOCUMENTS = 800


def main(source: Path, target: Path) -> None:
    rng = random.Random(SEED)
    qrels: dict[str, dict[str, int]] = {}
    with (source / "qrels" / "test.tsv").open() as f:
        for row in csv.DictReader(f, delimiter="\t"):
            qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = int(row["score"])
    queries = {q["_id"]: q for q in map(json.loads, (source / "queries.jsonl").open())}
    chosen = sorted(rng.sample(sorted(qid for qid in qrels if qid in queries), QUERIES), key=int)
    corpus = [json.loads(line) for line in (source / "corpus.jsonl").open()]
    relevant = {doc for qid in chosen for doc in qrels[qid]}
    others = [d["_id"] for d in corpus if d["_id"] not in relevant]
    keep = relevant | set(rng.sample(others, DOCUMENTS - len(relevant)))
    target.mkdir(parents=True, exist_ok=True)
    (target / "qrels").mkdir(exist_ok=True)
    with (target / "corpus.jsonl").open("w") as f:
        for doc in corpus:
            if doc["_id"] in keep:
                f.write(json.dumps({k: doc[k] for k in ("_id", "title", "text")}) + "\n")
    with (target / "queries.jsonl").open("w") as f:
        for qid in chosen:
            f.write(json.dumps({"_id": qid, "text": queries[qid]["text"]}) + "\n")
    with (target / "qrels" / "test.tsv").open("w") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for qid in chosen:
            for doc, score in sorted(qrels[qid].items()):
                f.write(f"{qid}\t{doc}\t{score}\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
