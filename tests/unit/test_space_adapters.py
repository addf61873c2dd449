"""Space adapters on synthetic spaces built so the right answer is known (real models: perf/adapters.py)."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest

from omnivec.providers import Fingerprint, InvalidInputError
from omnivec.providers._adapter_fits import ANCHOR_BASIS, ANCHOR_SHORTLIST, Candidate, apply_params, fit_candidate
from omnivec.providers._adapter_one import OneVectorMap
from omnivec.providers.space_adapters import SpaceAdapter, fit_space_adapter, predicted_verdict


def fp(name: str, dims: int, *, normalized: bool = True) -> Fingerprint:
    return Fingerprint("fake", name, dims, normalized, "document", "none")


def unit(m: np.ndarray) -> np.ndarray:
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def latent_space(n: int, dims: int, *, latent: int = 40, seed: int = 0) -> np.ndarray:
    """Unit vectors on a ``latent``-dimensional subspace, as real embeddings occupy few directions."""
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((latent, dims))
    return unit(rng.standard_normal((n, latent)) @ basis).astype(np.float32)


def semi_orthogonal(rows: int, cols: int, seed: int) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((max(rows, cols), min(rows, cols))))
    return q if rows >= cols else q.T


def rowwise_cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray((unit(a) * unit(b)).sum(axis=1))


@pytest.mark.parametrize(("d_new", "d_old"), [(768, 384), (384, 768)])
def test_a_known_rotation_plus_noise_is_recovered_on_unseen_vectors(d_new: int, d_old: int) -> None:
    rng = np.random.default_rng(1)
    rotation = semi_orthogonal(d_new, d_old, seed=2)
    x = latent_space(300, d_new, latent=24)
    old = unit(x @ rotation + 0.02 * rng.standard_normal((300, d_old)) / np.sqrt(d_old))
    adapter = fit_space_adapter(
        x[:200], old[:200], from_fp=fp("new", d_new), to_fp=fp("old", d_old), kinds=("procrustes",)
    )
    mapped = adapter.apply(x[200:])
    assert mapped.shape == (100, d_old)
    assert rowwise_cosine(mapped, x[200:] @ rotation).min() > 0.99  # the true map, on items never fitted
    assert adapter.held_out.mean_cosine > 0.98 and adapter.held_out.overlap_at_10 > 0.9
    # A map fitted on unrelated old vectors learns nothing that carries over: the score says so.
    shuffled = fit_space_adapter(
        x[:200],
        old[rng.permutation(200)],
        from_fp=fp("new", d_new),
        to_fp=fp("old", d_old),
        kinds=("procrustes", "lowrank"),
    )
    assert shuffled.held_out.score < 0.5 < adapter.held_out.score


def test_held_out_selection_picks_the_kind_the_data_was_built_for() -> None:
    x = latent_space(400, 64, latent=16, seed=4)
    # Linear but far from orthogonal (directions stretched 30:1): Procrustes cannot bend angles.
    stretch = semi_orthogonal(64, 32, seed=5) * np.geomspace(30, 1, 32)
    linear = unit(x @ stretch)
    chosen = fit_space_adapter(x, linear, from_fp=fp("new", 64), to_fp=fp("old", 32), kinds=("procrustes", "lowrank"))
    assert chosen.kind == "lowrank"
    by_kind = {r.kind: r.score for r in chosen.report}
    assert by_kind["lowrank"] > by_kind["procrustes"] + 0.05
    # Strongly non-linear (a sign flip that depends on the item): only the MLP can follow it.
    x2 = latent_space(600, 16, latent=16, seed=6)
    bent = unit(np.abs(x2 @ semi_orthogonal(16, 16, seed=7)) + 0.2)
    picked = fit_space_adapter(x2, bent, from_fp=fp("new", 16), to_fp=fp("old", 16), kinds=("procrustes", "mlp"))
    scores = {r.kind: r.score for r in picked.report}
    assert picked.kind == "mlp" and scores["mlp"] > scores["procrustes"] + 0.2
    # And an exact rotation: nothing beats the orthogonal map.
    exact = fit_space_adapter(x, unit(x @ semi_orthogonal(64, 64, seed=8)), from_fp=fp("n", 64), to_fp=fp("o", 64))
    assert exact.kind == "procrustes" and exact.held_out.mean_cosine > 0.999


def test_the_anchored_kind_follows_a_map_that_differs_by_region_and_is_the_default_pick() -> None:
    # Two regions of the new space, each rotated its own way into the old one: no single rotation
    # fits both, but each item's nearest sample items carry its region's residual.
    x = latent_space(900, 48, latent=12, seed=9)
    region = x[:, 0] > np.median(x[:, 0])
    old = unit(np.where(region[:, None], x @ semi_orthogonal(48, 24, seed=10), x @ semi_orthogonal(48, 24, seed=11)))
    fitted = fit_space_adapter(x[:600], old[:600], from_fp=fp("new", 48), to_fp=fp("old", 24))
    plain = fit_space_adapter(x[:600], old[:600], from_fp=fp("new", 48), to_fp=fp("old", 24), kinds=("procrustes",))
    assert fitted.kind == "anchored" and {r.kind for r in fitted.report} == {"procrustes", "anchored"}
    unseen_anchored = rowwise_cosine(fitted.apply(x[600:]), old[600:]).mean()
    unseen_plain = rowwise_cosine(plain.apply(x[600:]), old[600:]).mean()
    assert unseen_anchored > unseen_plain + 0.1
    copy = SpaceAdapter.from_bytes(fitted.to_bytes())  # the anchors travel with the adapter
    assert copy.digest == fitted.digest
    np.testing.assert_array_equal(copy.apply(x[600:]), fitted.apply(x[600:]))


@pytest.mark.parametrize(
    ("kind", "settings", "d_new", "d_old"),
    [
        ("procrustes", {}, 48, 24),
        ("mlp", {"hidden": 16}, 48, 24),
        ("anchored", {"neighbours": 5, "temperature": 0.02, "weight": 1.0}, 48, 24),  # anchors in the old space
        ("anchored", {"neighbours": 20, "temperature": 0.05, "weight": 0.5}, 24, 48),  # anchors in the new space
        ("anchored", {"neighbours": 80, "temperature": 0.05, "weight": 1.0}, 48, 24),  # every anchor a neighbour
        ("anchored", {"neighbours": 5, "temperature": 0.002, "weight": 0.25}, 96, 64),  # basis < space; too cold
        ("anchored", {"neighbours": 7, "temperature": 0.02, "weight": 1.0}, 64, 96),  # for exp without the max
    ],
)
def test_one_query_path_equals_the_batch_map(kind: str, settings: dict, d_new: int, d_old: int) -> None:  # type: ignore[type-arg]
    # Serving maps one vector at a time through OneVectorMap; it must give what the batch map gives.
    x = latent_space(80, d_new, latent=12, seed=3)
    old = unit(np.tanh(3 * x @ np.random.default_rng(4).standard_normal((d_new, d_old)))).astype(np.float32)
    params = fit_candidate(Candidate(kind, settings), x, old, seed=0)
    queries = latent_space(30, d_new, latent=12, seed=5)
    batch = unit(apply_params(params, queries))
    one = OneVectorMap(params, normalized=True)
    np.testing.assert_allclose(np.stack([one(q) for q in queries]), batch, atol=1e-6)
    unnormalized = OneVectorMap(params, normalized=False)
    np.testing.assert_allclose(np.stack([unnormalized(q) for q in queries]), apply_params(params, queries), atol=1e-6)


def test_anchor_neighbours_come_from_a_shortlist_drawn_in_a_small_basis_and_old_adapters_still_map() -> None:
    # The serving path shortlists ANCHOR_SHORTLIST anchors in ANCHOR_BASIS principal directions, then
    # ranks them in the full space; with more anchors than the shortlist the two paths must still agree.
    count = ANCHOR_SHORTLIST + 150
    x = latent_space(count, 96, latent=48, seed=3)
    old = unit(np.tanh(3 * x @ np.random.default_rng(4).standard_normal((96, 64)))).astype(np.float32)
    queries = latent_space(20, 96, latent=48, seed=5)
    for k in (5, ANCHOR_SHORTLIST + 20):  # a neighbour count above the shortlist widens it
        settings = {"neighbours": k, "temperature": 0.05, "weight": 1.0}
        params = fit_candidate(Candidate("anchored", settings), x, old, seed=0)
        assert params["anchor_basis"].shape == (64, ANCHOR_BASIS)
        basis = params["anchor_basis"].astype(np.float64)
        np.testing.assert_allclose(basis.T @ basis, np.eye(ANCHOR_BASIS), atol=1e-5)
        one = OneVectorMap(params, normalized=True)
        np.testing.assert_allclose(np.stack([one(q) for q in queries]), unit(apply_params(params, queries)), atol=1e-6)
        # An adapter stored before the shortlist (4 knobs, no basis) ranks every anchor: both paths agree.
        full = {**{n: a for n, a in params.items() if n != "anchor_basis"}, "anchor_knobs": params["anchor_knobs"][:4]}
        exact = OneVectorMap(full, normalized=True)
        np.testing.assert_allclose(np.stack([exact(q) for q in queries]), unit(apply_params(full, queries)), atol=1e-6)


def test_threads_mapping_through_one_adapter_at_once_each_get_their_own_answer() -> None:
    # The one-query path keeps its intermediates in scratch buffers; serving threads share an adapter,
    # so each thread must get its own (a shared scratch mixes one query's anchors into another's map).
    x = latent_space(ANCHOR_SHORTLIST + 150, 96, latent=48, seed=3)
    old = unit(np.tanh(3 * x @ np.random.default_rng(4).standard_normal((96, 64)))).astype(np.float32)
    params = fit_candidate(Candidate("anchored", {"neighbours": 5, "temperature": 0.05, "weight": 1.0}), x, old, seed=0)
    one = OneVectorMap(params, normalized=True)
    queries = latent_space(4, 96, latent=48, seed=5)
    expected = unit(apply_params(params, queries))
    mismatches: list[int] = []

    def serve(row: int) -> None:
        for _ in range(60):
            if np.abs(one(queries[row]) - expected[row]).max() > 1e-6:
                mismatches.append(row)

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # hand the GIL over as often as Python allows: the threads interleave mid-map
    try:
        threads = [threading.Thread(target=serve, args=(row,)) for row in range(len(queries))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(switch)
    assert mismatches == []


def test_serialisation_round_trips_to_the_same_adapter() -> None:
    x = latent_space(120, 48, latent=12)
    old = unit(x @ semi_orthogonal(48, 24, seed=1))
    ids = [f"doc-{i}" for i in range(120)]
    adapter = fit_space_adapter(x, old, from_fp=fp("new", 48), to_fp=fp("old", 24), sample_ids=ids, seed=7)
    blob = adapter.to_bytes()
    copy = SpaceAdapter.from_bytes(blob)
    assert copy.digest == adapter.digest and copy.fingerprint == adapter.fingerprint and copy.report == adapter.report
    assert copy.to_bytes() == blob
    np.testing.assert_array_equal(copy.apply(x), adapter.apply(x))
    # Same pairs, same seed: the same adapter (an adapt rerun after a crash stores the same digest).
    again = fit_space_adapter(x, old, from_fp=fp("new", 48), to_fp=fp("old", 24), sample_ids=ids, seed=7)
    assert again.digest == adapter.digest
    # Another sample (same vectors, other ids) is another adapter, and says so.
    other = fit_space_adapter(x, old, from_fp=fp("new", 48), to_fp=fp("old", 24), sample_ids=ids[::-1], seed=7)
    assert other.sample_digest != adapter.sample_digest and other.digest != adapter.digest
    for bad in (b"", b"not an adapter", blob[:-4], blob + b"\0\0\0\0"):
        with pytest.raises(InvalidInputError, match="space adapter bytes"):
            SpaceAdapter.from_bytes(bad)


def test_fingerprint_names_both_spaces_with_the_project_hash() -> None:
    x = latent_space(60, 32, latent=8)
    new_fp, old_fp = fp("new", 32), fp("old", 16, normalized=False)
    adapter = fit_space_adapter(x, x[:, :16] * 3.0, from_fp=new_fp, to_fp=old_fp.as_dict(), kinds=("procrustes",))
    print_ = adapter.fingerprint
    assert print_["from_hash"] == new_fp.hash and print_["to_hash"] == old_fp.hash
    assert print_["kind"] == "procrustes" and print_["sample_size"] == 60
    # The old space is not normalised: mapped vectors keep their length (about 3 here), not forced to 1.
    assert np.linalg.norm(adapter.apply(x), axis=1).mean() > 2.0
    normalised = fit_space_adapter(x, x[:, :16] * 3.0, from_fp=new_fp, to_fp=fp("old", 16), kinds=("procrustes",))
    np.testing.assert_allclose(np.linalg.norm(normalised.apply(x), axis=1), 1.0, rtol=1e-5)
    assert normalised.apply(x[0]).shape == (16,)


@pytest.mark.parametrize(
    ("new", "old", "kwargs", "message"),
    [
        (np.ones((20, 4)), np.ones((19, 4)), {}, "new has 20 rows but old has 19"),
        (np.ones((9, 4)), np.ones((9, 4)), {}, "9 pairs: a space adapter needs at least 10"),
        (np.full((20, 4), np.nan), np.ones((20, 4)), {}, "new: row 0 has NaN"),
        (
            np.ones((20, 4)),
            np.vstack([np.ones((5, 4)), np.zeros((1, 4)), np.ones((14, 4))]),
            {},
            "old: row 5 is all zeros",
        ),
        (np.ones((20, 4)), np.ones((20, 4)), {"to_fp": fp("new", 4)}, "same vector space"),
        (np.ones((20, 4)), np.ones((20, 4)), {"kinds": ("rotation",)}, "kinds: rotation unknown"),
        (np.ones((20, 4)), np.ones((20, 4)), {"sample_ids": ["a"] * 20}, "sample_ids: need 20 distinct ids"),
        (np.ones(20), np.ones((20, 4)), {}, "new: expected an \\(n, dimensions\\) matrix"),
    ],
)
def test_bad_input_is_one_typed_line(new: np.ndarray, old: np.ndarray, kwargs: dict, message: str) -> None:  # type: ignore[type-arg]
    options = {"from_fp": fp("new", 4), "to_fp": fp("old", 4), **kwargs}
    with pytest.raises(InvalidInputError, match=message) as caught:
        fit_space_adapter(new, old, **options)
    assert "\n" not in str(caught.value)


def test_apply_refuses_vectors_of_another_size() -> None:
    x = latent_space(40, 16, latent=8)
    adapter = fit_space_adapter(x, x[:, :8], from_fp=fp("new", 16), to_fp=fp("old", 8), kinds=("procrustes",))
    with pytest.raises(InvalidInputError, match="maps 16-dimensional vectors, got shape \\(8,\\)"):
        adapter.apply(np.ones(8))


@pytest.mark.parametrize(
    ("score", "verdict"), [(0.95, "good"), (0.78, "good"), (0.76, "usable"), (0.74, "poor"), (0.2, "poor")]
)
def test_predicted_verdict_reads_the_documented_thresholds(score: float, verdict: str) -> None:
    assert predicted_verdict(score) == verdict
