"""``local:<name or path>``: a Sentence Transformers ``CrossEncoder`` scoring (query, candidate) pairs.

One core call is one ``predict`` over at most ``batch_size`` pairs, run in a worker thread so the
event loop stays free. Real models (``cross-encoder/ms-marco-MiniLM-L6-v2``, ``BAAI/bge-reranker-v2-m3``)
load by name with Hugging Face Hub access, or from a local folder. Scores are what ``predict``
returns: the logit through the activation the model's config names (Sentence Transformers' default
for one-label models is a sigmoid).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import ModelNotFoundError
from ..types import Usage
from .base import Reranker
from .settings import LocalRerankSettings
from .types import RerankBatch

__all__ = ["CrossEncoderReranker"]


class CrossEncoderReranker(Reranker[LocalRerankSettings]):
    """``local:<CrossEncoder name or path>``."""

    name = "sentence-transformers"
    settings_class = LocalRerankSettings
    is_remote = False
    default_concurrency = 1  # one model, one device: parallel predicts only contend

    def __init__(self, model: str, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def max_candidates(self) -> int:  # type: ignore[override]
        return self.settings.batch_size

    def options(self) -> dict[str, Any]:
        return {"max_length": self.settings.max_length} if self.settings.max_length else {}

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                from sentence_transformers import CrossEncoder

                s = self.settings
                try:
                    self._model = CrossEncoder(self.model, device=s.device, max_length=s.max_length)
                except OSError as exc:  # not a folder, and not on the Hub (or no Hub access)
                    raise ModelNotFoundError(
                        f"cannot load CrossEncoder {self.model!r}: not a local folder and not reachable on the "
                        f"Hugging Face Hub ({' '.join(str(exc).split())[:200]})",
                        provider=self.name,
                        model=self.model,
                    ) from None
            return self._model

    def _predict(self, query: str, candidates: list[str]) -> np.ndarray:
        model = self._load()
        pairs = [(query, text) for text in candidates]
        return np.asarray(
            model.predict(pairs, batch_size=self.settings.batch_size, show_progress_bar=False), dtype=np.float32
        ).reshape(len(candidates))

    async def _rerank_batch(self, query: str, candidates: Sequence[str]) -> RerankBatch:
        scores = await asyncio.to_thread(self._predict, query, list(candidates))
        return RerankBatch(scores=scores, usage=Usage())

    async def aclose(self) -> None:
        self._model = None
