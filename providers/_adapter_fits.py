"""The maps a space adapter can be: closed-form linear fits and a small residual MLP, in numpy.

Every map takes rows of the NEW model's space (``x``, ``d_new``) to the OLD one (``d_old``) and is kept
as plain arrays, applied as ``x @ W + b`` (+ ``relu(x @ A + a) @ B`` for the MLP), so applying costs
one or two matrix products whatever the kind. Fits are deterministic: same pairs, same seed, same
arrays (an ``adapt`` rerun after a crash stores the same adapter).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["Candidate", "apply_params", "candidates", "fit_candidate", "unit_rows"]

Array = npt.NDArray[np.float32]
Params = dict[str, Array]

RIDGE_STRENGTHS = (0.01, 0.1, 1.0)
"""Ridge strengths, as fractions of the mean eigenvalue of ``XᵀX`` (scale-free)."""
RANKS = (32, 64, 128, 256)
ANCHOR_NEIGHBOURS = (5, 20)
ANCHOR_TEMPERATURES = (0.02, 0.05)
ANCHOR_WEIGHTS = (0.5, 1.0)
ANCHOR_BASIS = 32
ANCHOR_SHORTLIST = 100
"""A query's neighbours are drawn in two steps: the ANCHOR_SHORTLIST anchors nearest in the anchors'
top ANCHOR_BASIS principal directions (a 1,000 x 32 product instead of 1,000 x 384 per query), then the
nearest of those in the full space. Measured on Cranfield and CISI (1,000 pairs, both directions),
the shortlist holds 98.6-99.3 % of the exact 20 nearest (32 directions alone rank only 72-78 % of them
right, which cost up to 0.03 x nDCG@10)."""
MLP_HIDDEN = 128
MLP_MAX_EPOCHS = 200
MLP_PATIENCE = 15


@dataclass(frozen=True)
class Candidate:
    """One kind with its settings, as compared on the held-out pairs."""

    kind: str
    settings: Mapping[str, Any]

    @property
    def label(self) -> str:
        extra = ",".join(f"{k}={v}" for k, v in self.settings.items())
        return f"{self.kind}({extra})" if extra else self.kind


def candidates(kinds: tuple[str, ...], n_fit: int, d_old: int) -> Iterator[Candidate]:
    """The grid searched per kind. A rank at or above what the pairs can support is left out."""
    for kind in kinds:
        if kind == "procrustes":
            yield Candidate("procrustes", {})
        elif kind == "lowrank":
            full = min(n_fit - 1, d_old)
            for rank in [*(r for r in RANKS if r < full), full]:
                for ridge in RIDGE_STRENGTHS:
                    yield Candidate("lowrank", {"rank": rank, "ridge": ridge})
        elif kind == "mlp":
            yield Candidate("mlp", {"hidden": MLP_HIDDEN})
        elif kind == "anchored":
            for k in sorted({min(k, n_fit) for k in ANCHOR_NEIGHBOURS}):
                for temperature in ANCHOR_TEMPERATURES:
                    for weight in ANCHOR_WEIGHTS:
                        yield Candidate("anchored", {"neighbours": k, "temperature": temperature, "weight": weight})


def _means(x: Array, y: Array) -> tuple[Array, Array]:
    """No centring (zeros): the pairs are documents but the map serves QUERIES, whose mean differs;
    a document-mean intercept cost Cranfield nDCG@10 (0.965 vs 0.979 x old at 1,000 pairs)."""
    return np.zeros(x.shape[1], dtype=np.float32), np.zeros(y.shape[1], dtype=np.float32)


def _affine(w: npt.NDArray[Any], mx: Array, my: Array) -> Params:
    """``(x - mx) W + my`` folded into ``x W + b``: centring costs nothing at apply time."""
    w32 = np.ascontiguousarray(w, dtype=np.float32)
    return {"W": w32, "b": (my - mx @ w32).astype(np.float32)}


def fit_procrustes(x: Array, y: Array) -> Params:
    """Scaled orthogonal Procrustes: ``W = s·U Vᵀ`` from the SVD of ``XᵀY`` (uncentred, see _means).

    ``U Vᵀ`` is semi-orthogonal for any ``d_new``/``d_old`` (thin SVD, ``min(d_new, d_old)`` columns):
    it keeps the new space's angles as far as the smaller space can, which is why it needs few pairs.
    """
    mx, my = _means(x, y)
    xc, yc = (x - mx).astype(np.float64), (y - my).astype(np.float64)
    u, s, vt = np.linalg.svd(xc.T @ yc, full_matrices=False)
    scale = s.sum() / max(float((xc * xc).sum()), 1e-12)
    return _affine(scale * (u @ vt), mx, my)


def fit_lowrank(x: Array, y: Array, *, rank: int, ridge: float, memo: dict[str, Any] | None = None) -> Params:
    """Reduced-rank ridge regression: the ridge map, its fitted values projected on their top ``rank``
    directions. Closed form from one SVD of ``Xc``; ``memo`` (one dict per training set) shares that SVD
    and each ridge's map across the rank/ridge grid, so searching the grid costs about one fit."""
    memo = {} if memo is None else memo
    if "svd" not in memo:
        mx, my = _means(x, y)
        xc, yc = (x - mx).astype(np.float64), (y - my).astype(np.float64)
        memo["svd"] = (mx, my, xc, yc, *np.linalg.svd(xc, full_matrices=False))
    mx, my, xc, yc, u, s, vt = memo["svd"]
    if f"ridge={ridge}" not in memo:
        lam = ridge * float((s**2).mean())
        w = vt.T @ ((s / (s**2 + lam))[:, None] * (u.T @ yc))
        fitted = xc @ w
        _, directions = np.linalg.eigh(fitted.T @ fitted)  # ascending: the top ones are last
        memo[f"ridge={ridge}"] = (w, directions[:, ::-1])
    w, directions = memo[f"ridge={ridge}"]
    top = directions[:, :rank]
    return _affine(w @ top @ top.T, mx, my)


def fit_anchored(x: Array, y: Array, *, neighbours: int, temperature: float, weight: float) -> Params:
    """Procrustes plus a local correction from the sample itself (the pairs are the anchors).

    A query's mapped vector moves by ``weight`` x the softmax-weighted (``temperature``) mean of what
    Procrustes got wrong on its ``neighbours`` nearest sample items (nearest in the NEW space, where the
    query lives): ``unit(y_i) - unit(x_i W)``. A global rotation cannot bend; the residuals of nearby
    stored items say where the old model put that region. Measured on Cranfield (MiniLM <-> mpnet, 3
    samples of 1,000 pairs): 0.962 / 0.978 x the old index's nDCG@10 for Procrustes alone, 1.009 /
    0.987 with the correction chosen by held-out pairs. Applying it costs one more product with the
    sample in a 32-d principal basis of the anchors (n x 32), one with a 100-anchor shortlist in the full
    space (see ANCHOR_SHORTLIST) and a k-row weighted sum; the adapter keeps the sample's vectors,
    residuals and the basis (n x (d_small + d_old) + d_small x 32).
    """
    params = fit_procrustes(x, y)
    mapped = unit_rows(x @ params["W"] + params["b"])
    # Neighbours are found in the smaller of the two spaces (the same nDCG on Cranfield either way,
    # half the products at 768 -> 384): the new one, or the old one after the linear map.
    in_old_space = y.shape[1] < x.shape[1]
    anchors = mapped if in_old_space else unit_rows(x)
    knobs = np.array([neighbours, temperature, weight, in_old_space, ANCHOR_SHORTLIST], dtype=np.float32)
    as32 = {
        "anchors": anchors,
        "anchor_basis": _principal_basis(anchors, ANCHOR_BASIS),
        "residuals": unit_rows(y) - mapped,
        "anchor_knobs": knobs,
    }
    return {**params, **{k: np.ascontiguousarray(v, dtype=np.float32) for k, v in as32.items()}}


def _principal_basis(rows: npt.NDArray[Any], size: int) -> npt.NDArray[Any]:
    """The ``size`` directions that keep most of ``rows`` (uncentred SVD: dot products, not variances,
    are what the neighbour search needs), as columns. Sign-fixed so a refit gives the same numbers."""
    _, _, vt = np.linalg.svd(rows.astype(np.float64), full_matrices=False)
    top = vt[: min(size, len(vt))]
    signs = np.where(top[np.arange(len(top)), np.abs(top).argmax(axis=1)] < 0, -1.0, 1.0)
    basis: npt.NDArray[Any] = (top * signs[:, None]).T
    return basis


def _anchor_shift(params: Mapping[str, Array], x: Array, mapped: Array) -> Array:
    """The softmax-weighted residual of each row's nearest anchors (see :func:`fit_anchored`);
    ``mapped``: the rows' unit-length linear map, where the anchors live when ``in_old_space``.
    Neighbours come from a shortlist drawn in the anchors' principal basis (see ANCHOR_SHORTLIST)."""
    k, temperature, weight, in_old_space, *shortlist = (float(v) for v in params["anchor_knobs"])
    anchors = params["anchors"]
    n = min(int(k), len(anchors))
    probe = mapped if in_old_space else unit_rows(x)
    size = max(int(shortlist[0]), n) if shortlist and "anchor_basis" in params else len(anchors)
    if size < len(anchors):
        near, near_sims = _shortlisted(probe, anchors, params["anchor_basis"], size, n)
    else:  # no shortlist (or adapters stored before it): every anchor in the full space
        sims = probe @ anchors.T
        near = np.argpartition(-sims, n - 1, axis=1)[:, :n] if n < sims.shape[1] else np.argsort(-sims, axis=1)
        near_sims = np.take_along_axis(sims, near, axis=1)
    w = np.exp((near_sims - near_sims.max(axis=1, keepdims=True)) / temperature)
    w /= w.sum(axis=1, keepdims=True)
    shift: Array = weight * np.einsum("nk,nkd->nd", w, params["residuals"][near]).astype(np.float32)
    return shift


def _shortlisted(probe: Array, anchors: Array, basis: Array, size: int, n: int) -> tuple[npt.NDArray[np.intp], Array]:
    """Each row's ``n`` nearest anchors (ids, similarities) among the ``size`` nearest in ``basis``;
    by blocks of rows, so a large batch never holds ``rows x size x d`` floats at once."""
    coords = anchors @ basis
    near, near_sims = [], []
    for start in range(0, len(probe), 256):
        block = probe[start : start + 256]
        short = np.argpartition(-((block @ basis) @ coords.T), size - 1, axis=1)[:, :size]
        exact = np.einsum("nd,ncd->nc", block, anchors[short])
        top = np.argpartition(-exact, n - 1, axis=1)[:, :n] if n < size else np.argsort(-exact, axis=1)
        near.append(np.take_along_axis(short, top, axis=1))
        near_sims.append(np.take_along_axis(exact, top, axis=1))
    return np.concatenate(near), np.concatenate(near_sims)


def unit_rows(m: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Rows scaled to length 1 (a zero row stays zero rather than NaN)."""
    unit: npt.NDArray[Any] = m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)
    return unit


def _cosine_loss_grad(out: npt.NDArray[Any], target_unit: npt.NDArray[Any]) -> tuple[float, npt.NDArray[Any]]:
    """Mean ``1 - cos(out, target)`` and its gradient with respect to ``out``."""
    norms = np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    cos = (out * target_unit).sum(axis=1, keepdims=True) / norms
    grad = (target_unit / norms - cos * out / norms**2) / -len(out)
    return float(1.0 - cos.mean()), grad


def fit_mlp(x: Array, y: Array, *, hidden: int, seed: int) -> Params:
    """A residual MLP ``x W + b + relu(x A + a) B`` on the cosine loss, Adam, full batch.

    The linear path starts at the Procrustes fit and the residual at zero (``B = 0``), so training
    starts from the closed-form answer and can only move away where the pairs say so. Early stopping
    on a tenth of the pairs held out from this fit (never the caller's held-out fold).
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    n_stop = max(2, len(x) // 10)
    stop_idx, train_idx = order[:n_stop], order[n_stop:]
    base = fit_procrustes(x[train_idx], y[train_idx])
    params: dict[str, npt.NDArray[Any]] = {
        "W": base["W"],
        "b": base["b"],
        "A": rng.normal(0.0, 1.0 / np.sqrt(x.shape[1]), (x.shape[1], hidden)).astype(np.float32),
        "a": np.zeros(hidden, dtype=np.float32),
        "B": np.zeros((hidden, y.shape[1]), dtype=np.float32),
    }
    moments = {k: (np.zeros_like(v), np.zeros_like(v)) for k, v in params.items()}
    xt, yt = x[train_idx], unit_rows(y[train_idx])
    xs, ys = x[stop_idx], unit_rows(y[stop_idx])
    best = (_cosine_loss_grad(_forward(params, xs)[0], ys)[0], {k: v.copy() for k, v in params.items()})
    waited, lr, decay = 0, 2e-3, 1e-4
    for step in range(1, MLP_MAX_EPOCHS + 1):
        out, hid = _forward(params, xt)
        _, g_out = _cosine_loss_grad(out, yt)
        g_hid = (g_out @ params["B"].T) * (hid > 0)
        grads = {
            "W": xt.T @ g_out,
            "b": g_out.sum(axis=0),
            "A": xt.T @ g_hid + decay * params["A"],
            "a": g_hid.sum(axis=0),
            "B": hid.T @ g_out + decay * params["B"],
        }
        for k, g in grads.items():  # Adam (beta 0.9 / 0.999)
            m, v = moments[k]
            m[:] = 0.9 * m + 0.1 * g
            v[:] = 0.999 * v + 0.001 * g * g
            params[k] -= lr * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
        loss = _cosine_loss_grad(_forward(params, xs)[0], ys)[0]
        if loss < best[0] - 1e-6:
            best, waited = (loss, {k: v.copy() for k, v in params.items()}), 0
        elif (waited := waited + 1) >= MLP_PATIENCE:
            break
    return {k: v.astype(np.float32) for k, v in best[1].items()}


def _forward(params: Mapping[str, npt.NDArray[Any]], x: npt.NDArray[Any]) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    hid = np.maximum(x @ params["A"] + params["a"], 0.0)
    return x @ params["W"] + params["b"] + hid @ params["B"], hid


def fit_candidate(candidate: Candidate, x: Array, y: Array, *, seed: int, memo: dict[str, Any] | None = None) -> Params:
    """``memo``: one dict per training set, shared by the candidates fitted on it (see fit_lowrank)."""
    if candidate.kind == "procrustes":
        return fit_procrustes(x, y)
    if candidate.kind == "anchored":
        st = candidate.settings
        return fit_anchored(
            x, y, neighbours=int(st["neighbours"]), temperature=float(st["temperature"]), weight=float(st["weight"])
        )
    if candidate.kind == "lowrank":
        settings = candidate.settings
        return fit_lowrank(x, y, rank=int(settings["rank"]), ridge=float(settings["ridge"]), memo=memo)
    return fit_mlp(x, y, hidden=int(candidate.settings["hidden"]), seed=seed)


def apply_params(params: Mapping[str, Array], x: Array) -> Array:
    """The map itself: one matrix product for the linear kinds, three for the MLP; the anchored kind
    adds its correction to the unit-length linear map (the residuals it learned are between unit rows)."""
    out: Array = x @ params["W"] + params["b"]
    if "A" in params:
        out = out + np.maximum(x @ params["A"] + params["a"], 0.0) @ params["B"]
    if "anchors" in params:
        out = unit_rows(out)
        out = out + _anchor_shift(params, x, out)
    return out
