"""Evaluation data: BEIR-layout text sets and image–text sets, from any folder in that layout.

Text (BEIR): ``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl`` (``_id``, ``text``),
``qrels/<split>.tsv`` (``query-id corpus-id score`` with a header).
Image–text: ``images.jsonl`` (``_id``, ``file``), ``captions.jsonl`` (``_id``, ``image_id``, ``text``),
``qrels/t2i.tsv`` and ``qrels/i2t.tsv``.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["BUNDLED", "Qrels", "RetrievalTask", "load_tasks", "resolve_dataset"]

BUNDLED = Path(__file__).parent / "data"
Qrels = dict[str, dict[str, int]]


@dataclass(frozen=True)
class RetrievalTask:
    """One retrieval direction: queries searched against a corpus, judged by qrels.

    For text sets both sides are text; for image sets one side holds image file paths
    (``query_kind`` / ``corpus_kind`` say which).
    """

    name: str
    dataset: str
    queries: Mapping[str, str]
    corpus: Mapping[str, str]
    qrels: Qrels
    revision: str
    """Content hash of the files read, stored in results so numbers name their data."""
    query_kind: str = "text"
    corpus_kind: str = "text"
    titles: Mapping[str, str] = field(default_factory=dict)


def _jsonl(path: Path) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def _qrels(path: Path) -> Qrels:
    qrels: Qrels = {}
    with path.open(encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            qrels.setdefault(str(row["query-id"]), {})[str(row["corpus-id"])] = int(row["score"])
    return qrels


def _revision(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def resolve_dataset(name_or_path: str | Path) -> Path:
    """A folder path, or the name of a bundled set (``scifact-nano``)."""
    path = Path(name_or_path)
    if path.is_dir():
        return path
    if (BUNDLED / str(name_or_path)).is_dir():
        return BUNDLED / str(name_or_path)
    bundled = ", ".join(sorted(p.name for p in BUNDLED.iterdir() if p.is_dir() and not p.name.startswith("_")))
    raise FileNotFoundError(f"dataset {str(name_or_path)!r} is neither a folder nor a bundled set ({bundled})")


def load_tasks(name_or_path: str | Path, *, split: str = "test") -> list[RetrievalTask]:
    """The retrieval tasks of a dataset folder: one for text sets, text→image and image→text for image sets."""
    root = resolve_dataset(name_or_path)
    name = root.name
    if (root / "corpus.jsonl").is_file():
        qrels_path = root / "qrels" / f"{split}.tsv"
        if not qrels_path.is_file():
            raise FileNotFoundError(f"{qrels_path} not found: choose a split that exists in {root / 'qrels'}")
        corpus_rows = list(_jsonl(root / "corpus.jsonl"))
        qrels = _qrels(qrels_path)
        queries = {q["_id"]: q["text"] for q in _jsonl(root / "queries.jsonl") if q["_id"] in qrels}
        return [
            RetrievalTask(
                name=name,
                dataset=name,
                queries=queries,
                corpus={d["_id"]: d.get("text", "") for d in corpus_rows},
                titles={d["_id"]: d.get("title", "") for d in corpus_rows},
                qrels={q: r for q, r in qrels.items() if q in queries},
                revision=_revision(root / "corpus.jsonl", root / "queries.jsonl", qrels_path),
            )
        ]
    if (root / "images.jsonl").is_file():
        images = {row["_id"]: str(root / row["file"]) for row in _jsonl(root / "images.jsonl")}
        captions = {row["_id"]: row["text"] for row in _jsonl(root / "captions.jsonl")}
        files = [root / "images.jsonl", root / "captions.jsonl", root / "qrels" / "t2i.tsv", root / "qrels" / "i2t.tsv"]
        revision = _revision(*files)
        return [
            RetrievalTask(f"{name}/t2i", name, captions, images, _qrels(files[2]), revision, "text", "image"),
            RetrievalTask(f"{name}/i2t", name, images, captions, _qrels(files[3]), revision, "image", "text"),
        ]
    raise FileNotFoundError(f"{root} has neither corpus.jsonl (BEIR text set) nor images.jsonl (image–text set)")
