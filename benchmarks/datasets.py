"""Evaluation data: BEIR-layout text sets and image–text sets, from any folder in that layout.

Text (BEIR): ``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl`` (``_id``, ``text``),
``qrels/<split>.tsv`` (``query-id corpus-id score`` with a header).
Image–text: ``images.jsonl`` (``_id``, ``file``), ``captions.jsonl`` (``_id``, ``image_id``, ``text``),
``qrels/t2i.tsv`` and ``qrels/i2t.tsv``.

Blank items (no text after joining title and text) are skipped, the same for every row, and listed
in the results. A blank document is never ranked but its judgments stay in the qrels, so it still
counts in the ideal ranking and in recall's denominator, as trec_eval counts a judged document that
is missing from a run. A blank query is not evaluated.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..providers.inputs import is_blank_text
from ._files import Qrels, read_jsonl, read_qrels, text_field
from .errors import DatasetError

__all__ = ["BUNDLED", "Qrels", "RetrievalTask", "load_tasks", "resolve_dataset"]

BUNDLED = Path(__file__).parent / "data"


@dataclass(frozen=True)
class RetrievalTask:
    """One retrieval direction: queries searched against a corpus, judged by qrels.

    For text sets both sides are text (a document is ``title + " " + text``, MTEB's convention for
    BEIR, the same string for every row); for image sets one side holds image file paths
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
    path: str = ""
    blank_queries: tuple[str, ...] = ()
    blank_documents: tuple[str, ...] = ()


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
    if str(name_or_path) and (BUNDLED / str(name_or_path)).is_dir():
        return BUNDLED / str(name_or_path)
    bundled = ", ".join(sorted(p.name for p in BUNDLED.iterdir() if p.is_dir() and not p.name.startswith("_")))
    raise DatasetError(f"dataset {str(name_or_path)!r} is neither a folder nor a bundled set ({bundled})")


def _split_blank(items: dict[str, str]) -> tuple[dict[str, str], tuple[str, ...]]:
    """Items the providers would refuse as blank (whitespace, control or zero-width only) are set apart."""
    kept = {key: value for key, value in items.items() if not is_blank_text(value)}
    return kept, tuple(key for key in items if key not in kept)


def _task(
    name: str,
    root: Path,
    queries: dict[str, str],
    corpus: dict[str, str],
    qrels: Qrels,
    *,
    qrels_path: Path,
    queries_path: Path,
    corpus_path: Path,
    revision: str,
    query_kind: str = "text",
    corpus_kind: str = "text",
) -> RetrievalTask:
    """Check the three parts fit together, then drop blank items (see the module notes)."""
    if not corpus:
        raise DatasetError(f"{corpus_path}: no documents")
    judged = {q: r for q, r in qrels.items() if q in queries}
    if not judged:
        example = next(iter(qrels), None)
        raise DatasetError(
            f"{qrels_path}: none of its {len(qrels)} query ids is in {queries_path.name}"
            + (f" (e.g. {example!r})" if example is not None else "")
            + "; do the files belong together?"
        )
    if not any(doc in corpus for judgments in judged.values() for doc in judgments):
        raise DatasetError(
            f"{qrels_path}: none of its corpus ids is in {corpus_path.name}; do the files belong together?"
        )
    queries, blank_queries = _split_blank({q: queries[q] for q in queries if q in judged})
    corpus_kept, blank_documents = _split_blank(corpus)
    if not queries:
        raise DatasetError(f"{queries_path}: every judged query is blank")
    if not corpus_kept:
        raise DatasetError(f"{corpus_path}: every document is blank")
    return RetrievalTask(
        name=name,
        dataset=root.name,
        queries=queries,
        corpus=corpus_kept,
        qrels={q: r for q, r in judged.items() if q in queries},
        revision=revision,
        query_kind=query_kind,
        corpus_kind=corpus_kind,
        path=str(root),
        blank_queries=blank_queries,
        blank_documents=blank_documents,
    )


def _text_set(root: Path, split: str) -> list[RetrievalTask]:
    qrels_path = root / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        found = sorted(p.stem for p in (root / "qrels").glob("*.tsv")) if (root / "qrels").is_dir() else []
        raise DatasetError(f"{qrels_path} not found: choose a --split that exists ({', '.join(found) or 'none'})")
    corpus_path, queries_path = root / "corpus.jsonl", root / "queries.jsonl"
    corpus = {}
    for number, row in read_jsonl(corpus_path):
        title, text = text_field(corpus_path, number, row, "title"), text_field(corpus_path, number, row, "text")
        corpus[row["_id"]] = f"{title} {text}".strip()
    queries = {row["_id"]: text_field(queries_path, n, row, "text") for n, row in read_jsonl(queries_path)}
    qrels = read_qrels(qrels_path)
    revision = _revision(corpus_path, queries_path, qrels_path)
    return [
        _task(
            root.name,
            root,
            queries,
            corpus,
            qrels,
            qrels_path=qrels_path,
            queries_path=queries_path,
            corpus_path=corpus_path,
            revision=revision,
        )
    ]


def _image_set(root: Path) -> list[RetrievalTask]:
    images_path, captions_path = root / "images.jsonl", root / "captions.jsonl"
    images: dict[str, str] = {}
    for number, row in read_jsonl(images_path, required=("_id", "file")):
        file = root / text_field(images_path, number, row, "file")
        if not file.is_file():
            raise DatasetError(f"{images_path}:{number}: image file {str(file.relative_to(root))!r} not found")
        images[row["_id"]] = str(file)
    captions = {row["_id"]: text_field(captions_path, n, row, "text") for n, row in read_jsonl(captions_path)}
    t2i_path, i2t_path = root / "qrels" / "t2i.tsv", root / "qrels" / "i2t.tsv"
    revision = _revision(images_path, captions_path, t2i_path, i2t_path)
    common = {"revision": revision}
    return [
        _task(
            f"{root.name}/t2i",
            root,
            captions,
            images,
            read_qrels(t2i_path),
            qrels_path=t2i_path,
            queries_path=captions_path,
            corpus_path=images_path,
            query_kind="text",
            corpus_kind="image",
            **common,
        ),
        _task(
            f"{root.name}/i2t",
            root,
            images,
            captions,
            read_qrels(i2t_path),
            qrels_path=i2t_path,
            queries_path=images_path,
            corpus_path=captions_path,
            query_kind="image",
            corpus_kind="text",
            **common,
        ),
    ]


def load_tasks(name_or_path: str | Path, *, split: str = "test") -> list[RetrievalTask]:
    """The retrieval tasks of a dataset folder: one for text sets, text→image and image→text for image sets."""
    root = resolve_dataset(name_or_path)
    if (root / "corpus.jsonl").is_file():
        return _text_set(root, split)
    if (root / "images.jsonl").is_file():
        return _image_set(root)
    raise DatasetError(f"{root} has neither corpus.jsonl (BEIR text set) nor images.jsonl (image–text set)")
