"""Exact cosine top-k search: numpy in blocks (never a full queries × corpus matrix), FAISS when large."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["FAISS_FROM", "search"]

FAISS_FROM = 200_000
"""Corpus size from which the exact FAISS inner-product index is used, when faiss is installed."""
_BLOCK_BYTES = 64 * 1024 * 1024


def _unit(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    unit: np.ndarray = np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)
    return unit


def _top_k_numpy(queries: np.ndarray, corpus: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    n_q, n_c = len(queries), len(corpus)
    block = max(1, _BLOCK_BYTES // (4 * n_c))
    indices = np.empty((n_q, k), dtype=np.int64)
    scores = np.empty((n_q, k), dtype=np.float32)
    for start in range(0, n_q, block):
        sims = queries[start : start + block] @ corpus.T
        part = np.argpartition(-sims, k - 1, axis=1)[:, :k] if k < n_c else np.tile(np.arange(n_c), (len(sims), 1))
        part_scores = np.take_along_axis(sims, part, axis=1)
        order = np.argsort(-part_scores, axis=1, kind="stable")
        indices[start : start + block] = np.take_along_axis(part, order, axis=1)
        scores[start : start + block] = np.take_along_axis(part_scores, order, axis=1)
    return scores, indices


def _top_k_faiss(queries: np.ndarray, corpus: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    import faiss

    index = faiss.IndexFlatIP(corpus.shape[1])  # exact inner product; vectors are unit length
    index.add(corpus)
    scores, indices = index.search(queries, k)
    return scores, indices


def search(
    query_vectors: np.ndarray,
    corpus_vectors: np.ndarray,
    query_ids: Sequence[str],
    corpus_ids: Sequence[str],
    *,
    k: int = 100,
) -> dict[str, dict[str, float]]:
    """Top-``k`` corpus ids per query by cosine similarity, as a TREC-style run ``{qid: {doc: score}}``."""
    if len(corpus_ids) == 0 or len(query_ids) == 0:
        return {qid: {} for qid in query_ids}
    queries, corpus = _unit(query_vectors), _unit(corpus_vectors)
    k = min(k, len(corpus_ids))
    use_faiss = len(corpus_ids) >= FAISS_FROM
    if use_faiss:
        try:
            scores, indices = _top_k_faiss(queries, corpus, k)
        except ImportError:
            use_faiss = False
    if not use_faiss:
        scores, indices = _top_k_numpy(queries, corpus, k)
    return {
        qid: {corpus_ids[j]: float(s) for j, s in zip(row_idx, row_scores, strict=True)}
        for qid, row_idx, row_scores in zip(query_ids, indices, scores, strict=True)
    }
