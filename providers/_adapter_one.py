"""One query vector through a space adapter, with the per-query work cut to a fixed few BLAS calls.

Serving maps one query at a time, and there numpy's per-call overhead, not arithmetic, is what the
batch path (:func:`._adapter_fits.apply_params`) costs: the ``anchored`` kind took 220-290 us per
query at 768 -> 384 through it. :class:`OneVectorMap` lays out everything that does not depend on the
query once, when the adapter is built or loaded (contiguous float32 matrices, the anchor knobs as
Python numbers), so a query costs the linear map (one gemv), for ``anchored`` the similarity to every
anchor in their 32-d principal basis (a small second gemv), a shortlist of 100 anchors ranked in the
full space (a third, 100-row gemv), partial sorts and a k-row weighted sum. Its result equals ``apply_params``
on the same row to float32 rounding (tests/test_space_adapters.py holds it to 1e-6).

Buffers are NOT shared between calls: ``np.dot`` allocating a few KiB costs well under a microsecond,
and a per-adapter scratch buffer would make two threads serving the same adapter overwrite each other.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

__all__ = ["OneVectorMap"]

Array = npt.NDArray[np.float32]


def _f32(a: npt.NDArray[np.float32]) -> Array:
    return np.ascontiguousarray(a, dtype=np.float32)


class OneVectorMap:
    """``apply_params`` (then the target space's normalisation) for a single ``(d_new,)`` vector."""

    def __init__(self, params: Mapping[str, Array], *, normalized: bool) -> None:
        self.normalized = normalized
        self.w = _f32(params["W"])
        # The fits never centre (see _adapter_fits._means), so the bias is zero and adding it is skipped.
        self.b = _f32(params["b"]) if np.any(params["b"]) else None
        self.mlp = (_f32(params["A"]), _f32(params["a"]), _f32(params["B"])) if "A" in params else None
        self.anchored = _Anchors(params, self.w, self.b) if "anchors" in params and self.mlp is None else None

    def __call__(self, x: Array) -> Array:
        if self.anchored is not None:
            return self.anchored(x, self.normalized)
        out: Array = np.dot(x, self.w)
        if self.b is not None:
            out += self.b
        if self.mlp is not None:
            a_in, a_bias, b_out = self.mlp
            hidden = np.dot(x, a_in)
            hidden += a_bias
            np.maximum(hidden, 0.0, out=hidden)
            out += np.dot(hidden, b_out)
        if self.normalized:
            out /= max(float(np.sqrt(np.dot(out, out))), 1e-12)
        return out


class _Anchors:
    """The ``anchored`` kind's one-query path (see _adapter_fits.fit_anchored), in ~15 numpy calls.

    The shortlist is drawn in the anchors' 32-d principal basis; at 768 -> 384 the probe lives in the
    old space, so its basis coordinates ride along the linear map in ONE product (``W`` with
    ``W @ basis`` appended as 32 more columns). The softmax needs no max subtracted: similarities are
    cosines, so ``exp(sim / T)`` stays in float32 range for ``T >= 1/80``; and the residual rows carry
    a column of ones whose weighted sum is the softmax's denominator, so it costs no extra call.
    """

    def __init__(self, params: Mapping[str, Array], w: Array, b: Array | None) -> None:
        k, temperature, weight, in_old_space, *shortlist = (float(v) for v in params["anchor_knobs"])
        anchors = _f32(params["anchors"])
        count = len(anchors)
        self.k = min(int(k), count)
        size = max(int(shortlist[0]), self.k) if shortlist and "anchor_basis" in params else count
        self.size = min(size, count)
        basis = _f32(params["anchor_basis"]) if self.size < count else np.zeros((anchors.shape[1], 0), np.float32)
        self.d_old = w.shape[1]
        self.in_old_space = bool(in_old_space)
        # in_old_space: [x W + b | (x W + b) basis]; else the probe is x itself (unit(x) scaled in later).
        self.w = _f32(np.hstack([w, w @ basis])) if self.in_old_space else w
        self.b = None if b is None else _f32(np.concatenate([b, b @ basis]) if self.in_old_space else b)
        self.basis = basis
        self.anchors = anchors
        self.coords_t = _f32((anchors @ basis).T)  # (basis, n): the probe times it is one row-major product
        residuals = params["residuals"]
        self.residuals_1 = _f32(np.hstack([residuals, np.ones((count, 1), dtype=np.float32)]))
        # argpartition's kth: the largest values are the ones from the cut on (no cut: take them all).
        self.short_cut, self.cut = count - self.size, self.size - self.k
        self.inv_t, self.weight = 1.0 / temperature, weight
        self.shift_max = temperature < 1 / 80  # too cold for exp(sim / T) in float32: subtract the max

    def __call__(self, x: Array, normalized: bool) -> Array:
        both = np.dot(x, self.w)
        if self.b is not None:
            both += self.b
        linear = both[: self.d_old]
        length = max(math.sqrt(np.dot(linear, linear)), 1e-12)
        probe, probe_length = (linear, length) if self.in_old_space else (x, max(math.sqrt(np.dot(x, x)), 1e-12))
        if self.short_cut:
            coords = both[self.d_old :] if self.in_old_space else np.dot(x, self.basis)
            short = np.dot(coords, self.coords_t).argpartition(self.short_cut)[self.short_cut :]
            sims = np.dot(self.anchors.take(short, axis=0), probe)
        else:
            short, sims = None, np.dot(self.anchors, probe)
        if self.cut:
            near = sims.argpartition(self.cut)[self.cut :]
            weights = sims.take(near)
            rows = self.residuals_1.take(near if short is None else short.take(near), axis=0)
        else:
            weights = sims
            rows = self.residuals_1 if short is None else self.residuals_1.take(short, axis=0)
        if self.shift_max:
            weights -= weights.max()
        weights *= self.inv_t / probe_length
        np.exp(weights, out=weights)
        summed = np.dot(weights, rows)  # [sum_i w_i r_i | sum_i w_i]
        # linear / length + weight * summed / total, times length (the scale goes with the normalisation)
        out: Array = summed[: self.d_old]
        out *= self.weight * length / float(summed[self.d_old])
        out += linear
        scale = math.sqrt(np.dot(out, out)) if normalized else length
        out *= 1.0 / max(scale, 1e-12)
        return out
