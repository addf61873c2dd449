"""The lexical baseline row: BM25 from ``bm25s``, beside the embedding providers.

BM25 is not an :class:`~omnivec.providers.EmbeddingProvider` (it makes no vectors), so it is a
benchmark *retriever*: it indexes the same document strings the providers embed, answers the same
queries, and is scored, timed and compared by the same code. A strong lexical baseline is what tells
a reader whether an embedding model earns its cost (on SciFact BM25 beats all-MiniLM-L6-v2).

Settings follow the usual BEIR BM25 baseline: Lucene's BM25 (k1 = 1.5, b = 0.75), lower-cased
word tokens, English stop words removed, Snowball English stemming (through PyStemmer when installed;
without it the run says "no stemmer" in its manifest).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np

from ..providers.errors import InvalidOptionError, MissingDependencyError
from .config import BenchConfig
from .datasets import RetrievalTask
from .results import Cost, IndexThroughput, TaskRun
from .runner import Progress, Ranking, latency_of, now
from .scoring import score

__all__ = ["RETRIEVERS", "BM25Retriever", "make_retriever", "run_lexical"]


@dataclass
class BM25Retriever:
    """Lucene BM25 over stemmed word tokens (bm25s's sparse-matrix implementation)."""

    k1: float = 1.5
    b: float = 0.75
    stopwords: str = "en"
    name: str = "bm25"
    _index: Any = field(default=None, repr=False)
    _tokenizer: Any = field(default=None, repr=False)
    _ids: list[str] = field(default_factory=list, repr=False)

    def describe(self) -> str:
        stemmer = "Snowball English stemmer" if _stemmer() is not None else "no stemmer (pip install PyStemmer)"
        return f"bm25s {_version('bm25s')}, Lucene BM25 k1={self.k1} b={self.b}, {self.stopwords} stop words, {stemmer}"

    def index(self, ids: Sequence[str], texts: Sequence[str]) -> float:
        """Build the index; returns the seconds it took (tokenizing included)."""
        bm25s, tokenization = _import()
        began = time.perf_counter()
        self._tokenizer = tokenization.Tokenizer(stopwords=self.stopwords, stemmer=_stemmer())
        tokens = self._tokenizer.tokenize(list(texts), show_progress=False, return_as="tuple")
        self._index = bm25s.BM25(k1=self.k1, b=self.b, method="lucene")
        self._index.index(tokens, show_progress=False)
        self._ids = list(ids)
        return time.perf_counter() - began

    def search(self, query_ids: Sequence[str], queries: Sequence[str], k: int) -> dict[str, dict[str, float]]:
        """Top-``k`` documents per query as a TREC-style run; a query sharing no term gets an empty ranking."""
        assert self._index is not None, "index() first"
        k = min(k, len(self._ids))
        if k == 0 or not queries:
            return {qid: {} for qid in query_ids}
        tokens = self._tokenizer.tokenize(list(queries), update_vocab=False, show_progress=False, return_as="ids")
        run: dict[str, dict[str, float]] = {}
        for qid, ids in zip(query_ids, tokens, strict=True):
            scores = self._index.get_scores(ids) if ids else np.zeros(len(self._ids), dtype=np.float32)
            top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
            run[qid] = {self._ids[j]: float(scores[j]) for j in top if scores[j] > 0}
        return run


RETRIEVERS: dict[str, type[BM25Retriever]] = {"bm25": BM25Retriever}


def make_retriever(name: str) -> BM25Retriever:
    try:
        cls = RETRIEVERS[name.strip().lower()]
    except KeyError:
        raise InvalidOptionError(f"retrievers: unknown retriever {name!r}; known: {', '.join(RETRIEVERS)}") from None
    _import()  # fail before any work when the library is missing
    return cls()


def _import() -> tuple[Any, Any]:
    try:
        import bm25s
        from bm25s import tokenization
    except ImportError as exc:
        raise MissingDependencyError(
            'the BM25 baseline needs bm25s: pip install "omnivec[bench]" (or pass --retrievers none)'
        ) from exc
    return bm25s, tokenization


def _stemmer() -> Any:
    try:
        import Stemmer
    except ImportError:
        return None
    return Stemmer.Stemmer("english")


def _version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "?"


async def run_lexical(
    retriever: BM25Retriever, task: RetrievalTask, *, config: BenchConfig, progress: Progress | None = None
) -> tuple[TaskRun, Ranking]:
    """The lexical row on one task, measured like a provider row: index throughput, single-query latency."""
    common = {
        "label": retriever.name,
        "kind": "lexical",
        "ref": retriever.name,
        "task": task.name,
        "dataset_revision": task.revision,
        "dimensions": None,
        "emulated": False,
    }
    if task.query_kind != "text" or task.corpus_kind != "text":
        return TaskRun(**common, skipped="takes text only"), {}
    advance = progress(f"{retriever.name} · {task.name} index", len(task.corpus), 0) if progress else None
    seconds = await asyncio.to_thread(retriever.index, list(task.corpus), list(task.corpus.values()))
    if advance:
        advance(len(task.corpus))
    query_ids, texts = list(task.queries), list(task.queries.values())
    timed: list[float] = []
    for qid, text in list(zip(query_ids, texts, strict=True))[
        : config.latency_queries + config.warmup + 1 if config.latency_queries else 0
    ]:
        began = time.perf_counter()
        retriever.search([qid], [text], config.top_k)
        timed.append(time.perf_counter() - began)
    ranking = await asyncio.to_thread(retriever.search, query_ids, texts, config.top_k)
    run = TaskRun(
        **common,
        quality=score(ranking, task, config.ks, config.main_metric),
        query_latency=latency_of(timed[config.warmup + 1 :], timed[0]) if timed else None,
        index_throughput=IndexThroughput(
            items=len(task.corpus),
            seconds=seconds,
            concurrency=1,
            measured_at=now(),
            items_per_s=len(task.corpus) / seconds if seconds > 0 else None,
        ),
        cost=Cost(
            per_1k_documents=0.0,
            per_1k_queries=0.0,
            corpus=0.0,
            tokens_source="none",
            price_as_of=None,
            note="lexical: no API charge; you pay for the hardware and time shown",
        ),
    )
    return run, ranking
