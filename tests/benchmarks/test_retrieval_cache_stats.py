from __future__ import annotations

import numpy as np
import pytest

from omnivec.benchmarks import retrieval
from omnivec.benchmarks.stats import bootstrap_ci, paired_randomization_test, wins_losses
from omnivec.providers import ConfigurationError, Image
from omnivec.providers.cache import EmbeddingCache, content_key
from omnivec.providers.testing import FakeProvider


def brute_force(q, c, k):  # type: ignore[no-untyped-def]
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    cn = c / np.linalg.norm(c, axis=1, keepdims=True)
    sims = qn @ cn.T
    return [list(np.argsort(-row, kind="stable")[:k]) for row in sims]


@pytest.mark.parametrize("k", [1, 10, 60])
def test_blocked_search_equals_brute_force(monkeypatch: pytest.MonkeyPatch, k: int) -> None:
    rng = np.random.default_rng(0)
    q, c = rng.standard_normal((37, 16)), rng.standard_normal((50, 16))
    monkeypatch.setattr(retrieval, "_BLOCK_BYTES", 4 * 50 * 5)  # 5 queries per block
    run = retrieval.search(q, c, [f"q{i}" for i in range(37)], [f"d{j}" for j in range(50)], k=k)
    for i, expected in enumerate(brute_force(q, c, min(k, 50))):
        got = sorted(run[f"q{i}"].items(), key=lambda kv: -kv[1])
        assert [d for d, _ in got] == [f"d{j}" for j in expected]


def test_faiss_path_equals_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("faiss")
    rng = np.random.default_rng(1)
    q, c = rng.standard_normal((20, 8)).astype(np.float32), rng.standard_normal((300, 8)).astype(np.float32)
    ids_q, ids_c = [str(i) for i in range(20)], [str(j) for j in range(300)]
    exact = retrieval.search(q, c, ids_q, ids_c, k=10)
    monkeypatch.setattr(retrieval, "FAISS_FROM", 1)
    via_faiss = retrieval.search(q, c, ids_q, ids_c, k=10)
    for qid in ids_q:
        assert list(exact[qid]) == list(via_faiss[qid])
        np.testing.assert_allclose(list(exact[qid].values()), list(via_faiss[qid].values()), atol=1e-5)


def test_cache_never_mixes_fingerprints(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cache = EmbeddingCache(tmp_path / "c.sqlite")
    a = FakeProvider(default_dimensions=8).fingerprint("document")
    b = FakeProvider(default_dimensions=8).fingerprint("query")
    keys = [content_key("x"), content_key("y")]
    cache.put(a, keys, np.ones((2, 8), dtype=np.float32))
    assert set(cache.get(a, keys)) == set(keys)
    assert cache.get(b, keys) == {}
    cache.close()
    reopened = EmbeddingCache(tmp_path / "c.sqlite")
    np.testing.assert_array_equal(reopened.get(a, keys[:1])[keys[0]], np.ones(8))


def test_cache_refuses_a_hash_collision(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    cache = EmbeddingCache(tmp_path / "c.sqlite")
    a = FakeProvider(default_dimensions=8).fingerprint("document")
    other = FakeProvider(default_dimensions=16).fingerprint("document")
    cache.put(a, ["k"], np.ones((1, 8), dtype=np.float32))
    stored_hash = a.hash
    monkeypatch.setattr(type(other), "hash", property(lambda self: stored_hash))
    with pytest.raises(ConfigurationError, match="collision"):
        cache.put(other, ["k"], np.ones((1, 16), dtype=np.float32))


def test_content_key_separates_text_and_media() -> None:
    from PIL import Image as PILImage

    image = Image.from_pil(PILImage.new("RGB", (2, 2)))
    assert content_key("a") != content_key("b")
    assert content_key("a") == content_key("a")
    assert content_key(image) != content_key("a")


def test_stats() -> None:
    rng = np.random.default_rng(3)
    values = rng.random(200)
    low, high = bootstrap_ci(values)
    assert low < values.mean() < high and high - low < 0.2
    better = values + 0.1
    assert paired_randomization_test(better, values) < 0.01
    assert paired_randomization_test(values, values) == 1.0
    assert wins_losses([1, 0, 0.5], [0, 1, 0.5]) == (1, 1, 1)
