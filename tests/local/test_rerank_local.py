"""The local CrossEncoder reranker on a tiny random cross-encoder built at test time: the plumbing
(pairs in, one score per pair, batches merged in order), never quality."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from omnivec.providers import ModelNotFoundError
from omnivec.providers.rerank import get_reranker

QUERY = "what do cats eat"
DOCS = [f"document {i} about {'cats fish' if i % 3 else 'tax law'} {i * 7}" for i in range(11)]


def test_scores_match_the_cross_encoder_called_directly_in_input_order(tiny_cross_encoder_path: Path) -> None:
    from sentence_transformers import CrossEncoder

    reranker = get_reranker(f"local:{tiny_cross_encoder_path}", batch_size=4, device="cpu")
    result = reranker.rerank_sync(QUERY, DOCS)
    direct = CrossEncoder(str(tiny_cross_encoder_path), device="cpu").predict([(QUERY, d) for d in DOCS])
    assert [t.items for t in result.timings] == [4, 4, 3]  # one predict per batch_size pairs
    np.testing.assert_allclose(result.scores, direct, rtol=1e-4, atol=1e-6)
    assert len(set(np.round(direct, 5))) > 5  # the random model does tell the candidates apart
    assert result.order() == sorted(range(len(DOCS)), key=lambda i: -float(result.scores[i]))
    assert result.estimated_cost_usd == 0.0 and result.fingerprint.provider == "sentence-transformers"


def test_a_model_that_is_neither_a_folder_nor_reachable_is_model_not_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError, match="cannot load CrossEncoder"):
        get_reranker(f"local:{tmp_path / 'no-such-model'}").rerank_sync(QUERY, DOCS[:2])
