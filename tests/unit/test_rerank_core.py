"""The reranker core with a fake adapter: input checks before any call, batching merged in order,
the shared retry policy and concurrency limit, result ordering, refs and the one-line switch."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from omnivec.providers import (
    ConfigurationError,
    InvalidInputError,
    InvalidOptionError,
    RateLimitError,
    ServiceUnavailableError,
    UnknownProviderError,
)
from omnivec.providers.rerank import RerankBatch, Reranker, RerankerSettings, get_reranker, load_reranker
from omnivec.providers.types import Usage

FAST = {"max_attempts": 5, "initial_backoff_s": 0.0, "max_backoff_s": 0.0}


def true_score(query: str, text: str) -> float:
    return float(len(set(query.split()) & set(text.split())) + int(text.split()[-1]) / 1e5)


class FakeReranker(Reranker[RerankerSettings]):
    """Scores by shared words (plus a tiny per-candidate id), with optional failures and jitter."""

    name = "fake-rerank"
    is_remote = False
    max_candidates = 7

    def __init__(self, *, fail_share: float = 0.0, **options: Any) -> None:
        super().__init__("m", **options)
        self.fail_share, self.calls, self.in_flight, self.most_in_flight = fail_share, [], 0, 0
        self.rng = random.Random(1)
        self.failed: dict[tuple[str, ...], int] = {}  # failures so far, per batch

    async def _rerank_batch(self, query: str, candidates: Sequence[str]) -> RerankBatch:
        self.calls.append(list(candidates))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.rng.random() / 500)  # calls finish out of order
            # At most 3 failures per batch below certainty: with max_attempts=5 every batch then comes
            # through whatever order the concurrent calls draw from the rng (0.3**5 per batch gave up 1 run in 6).
            failures = self.failed.get(tuple(candidates), 0)
            if self.rng.random() < self.fail_share and (self.fail_share >= 1.0 or failures < 3):
                self.failed[tuple(candidates)] = failures + 1
                if self.rng.random() < 0.5:
                    raise RateLimitError("injected", retry_after=0.0)
                raise ServiceUnavailableError("injected")
            return RerankBatch(
                scores=[true_score(query, t) for t in candidates], usage=Usage(input_tokens=len(candidates))
            )
        finally:
            self.in_flight -= 1


def texts(n: int) -> list[str]:
    words = ["cat", "fish", "dog", "tax", "law"]
    return [f"{words[i % 5]} {words[(i * 3) % 5]} {i}" for i in range(n)]


def test_long_lists_are_batched_to_the_limit_and_merged_back_in_input_order() -> None:
    fake = FakeReranker(retry=FAST, max_concurrency=3)
    candidates = texts(100)
    result = fake.rerank_sync("cat fish", candidates)
    assert [len(c) for c in fake.calls].count(7) == 14 and sorted(map(len, fake.calls))[0] == 2  # 14×7 + 2
    assert 1 < fake.most_in_flight <= 3
    np.testing.assert_allclose(result.scores, [true_score("cat fish", t) for t in candidates], rtol=1e-6)
    assert result.usage.requests == 15 and result.usage.input_tokens == 100
    assert [t.first_index for t in result.timings] == list(range(0, 100, 7))
    assert result.order() == sorted(range(100), key=lambda i: -true_score("cat fish", candidates[i]))


def test_throttled_calls_are_retried_by_the_shared_policy_and_every_score_comes_back_once() -> None:
    fake = FakeReranker(fail_share=0.3, retry=FAST)
    candidates = texts(500)
    result = fake.rerank_sync("dog law", candidates)
    assert result.ok and result.retries > 0
    np.testing.assert_allclose(result.scores, [true_score("dog law", t) for t in candidates], rtol=1e-6)


def test_errors_collect_leaves_failed_candidates_nan_and_ranks_them_last() -> None:
    fake = FakeReranker(fail_share=1.0, retry={**FAST, "max_attempts": 1})
    result = fake.rerank_sync("cat", texts(10), errors="collect")
    assert sorted(result.failures) == list(range(10)) and np.isnan(result.scores).all()
    with pytest.raises((RateLimitError, ServiceUnavailableError)) as caught:
        FakeReranker(fail_share=1.0, retry={**FAST, "max_attempts": 1}).rerank_sync("cat", texts(3))
    assert caught.value.partial is not None and np.isnan(caught.value.partial.scores).all()


def test_order_and_top_k() -> None:
    from omnivec.providers.rerank import RerankFingerprint, RerankResult

    result = RerankResult(np.array([0.1, np.nan, 0.9, 0.1], dtype=np.float32), RerankFingerprint("p", "m"))
    assert result.order() == [2, 0, 3, 1]
    assert result.order(top_k=2) == [2, 0] and result.top(1) == [(2, pytest.approx(0.9))]
    with pytest.raises(ValueError, match="top_k"):
        result.order(top_k=0)


@pytest.mark.parametrize(
    ("query", "candidates", "message"),
    [
        ("q", [], "candidates are empty"),
        ("", ["a"], "query is empty"),
        ("   ", ["a"], "query is empty"),
        (None, ["a"], "query must be a string"),
        ("q", "just one text", "list of strings"),
        ("q", ["a", 3], "candidate 1 is a int"),
        ("q", ["a", b"bytes"], "candidate 1 is a bytes"),
        ("q", ["a", " "], "candidate 1 is empty"),
    ],
)
def test_bad_input_is_one_typed_line_before_any_call(query: Any, candidates: Any, message: str) -> None:
    fake = FakeReranker()
    with pytest.raises(InvalidInputError, match=message) as caught:
        fake.rerank_sync(query, candidates)
    assert "\n" not in str(caught.value) and fake.calls == []


def test_unknown_reranker_ref_says_did_you_mean() -> None:
    with pytest.raises(UnknownProviderError, match=r"unknown reranker 'bedrok'.*Did you mean 'bedrock'\?"):
        get_reranker("bedrok:cohere.rerank-v3-5:0")
    with pytest.raises(ConfigurationError, match="no default model"):
        get_reranker("rerank-api")
    with pytest.raises(InvalidOptionError, match="max_candidates_per_call"):
        get_reranker("rerank-api:m", max_candidates_per_call=0)


def test_one_line_switch_from_environment_and_toml(isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="OMNIVEC_RERANKER"):
        load_reranker()
    (isolated_cwd / "omnivec.toml").write_text(
        'reranker = "rerank-api:rerank-v3.5"\n[rerankers.rerank-api]\nbase_url = "http://127.0.0.1:9"\n'
        "max_candidates_per_call = 50\n"
    )
    reranker = load_reranker()
    assert reranker.ref == "rerank-api:rerank-v3.5" and reranker.batch_limit == 50
    assert reranker.settings.base_url == "http://127.0.0.1:9"
    monkeypatch.setenv("OMNIVEC_RERANKER", "rerank-api:jina-reranker-v2-base-multilingual")
    assert load_reranker().model == "jina-reranker-v2-base-multilingual"
    assert load_reranker(max_candidates_per_call=10).batch_limit == 10  # overrides replace the section's fields
    (isolated_cwd / "omnivec.toml").write_text('[rerankers.bedrok]\nregion = "us-east-1"\n')
    with pytest.raises(ConfigurationError, match=r"\[rerankers.bedrok\] names no reranker"):
        load_reranker("bedrock")
