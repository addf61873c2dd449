"""One query vector through a space adapter, with the per-query work cut to a fixed few BLAS calls.

Serving maps one query at a time, and there numpy's per-call overhead, not arithmetic, is what the
batch path (:func:`._adapter_fits.apply_params`) costs: the ``anchored`` kind took 220-290 us per
query at 768 -> 384 through it. :class:`OneVectorMap` lays out everything that does not depend on the
query once, when the adapter is built or loaded (contiguous float32 matrices, the anchor knobs as
Python numbers), so a query costs the linear map (one gemv), for ``anchored`` the similarity to every
anchor in their 32-d principal basis (a small second gemv), a shortlist of 100 anchors ranked in the
full space (a third, 100-row gemv), partial sorts and a k-row weighted sum. Its result equals ``apply_params``
on the same row to float32 rounding (tests/test_space_adapters.py holds it to 1e-6).

The ``anchored`` path writes its intermediates into scratch buffers made once PER THREAD (serving
threads share one adapter; a buffer shared between them would mix one query into another's map).
"""

from __future__ import annotations

import math
import threading
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
    """The ``anchored`` kind's one-query path (see _adapter_fits.fit_anchored).

    What each query needs beyond the linear product is a dozen numpy calls on small arrays, and at
    that size a call's overhead and allocation, not arithmetic, is the cost; so:

    - The shortlist is drawn in the anchors' 32-d principal basis; at 768 -> 384 the probe lives in the
      old space, so its basis coordinates ride along the linear map in ONE product (``W`` with
      ``W @ basis`` appended as 32 more columns).
    - Every intermediate goes into a per-thread scratch (:class:`_Scratch`, made on a thread's first
      query): ``np.dot(..., out=)`` and ``take(..., out=, mode="clip")`` allocate nothing and skip the
      bounds check (the indices come from argpartition, always in range).
    - The softmax needs no max subtracted: similarities are cosines, so ``exp(sim / T)`` stays in
      float32 range for ``T >= 1/80``; and the residual rows carry a column of ones whose weighted sum
      is the softmax's denominator, so it costs no extra call.
    - The linear map and the weighted residual sum sit in two rows of one scratch matrix, so
      ``linear + c * summed`` (times the scale when the target is not normalised) is one 2-row product
      that writes the fresh output array.
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
        self.shortlisted = self.size < count
        # argpartition's kth: the largest values are the ones from the cut on.
        self.short_cut, self.near_cut = count - self.size, self.size - self.k
        self.inv_t, self.weight = 1.0 / temperature, weight
        self.shift_max = temperature < 1 / 80  # too cold for exp(sim / T) in float32: subtract the max
        self._threads = threading.local()

    def __call__(self, x: Array, normalized: bool) -> Array:
        try:
            scratch: _Scratch = self._threads.scratch
        except AttributeError:  # this thread's first query
            scratch = self._threads.scratch = _Scratch(self)
        np.dot(x, self.w, out=scratch.both)
        if self.b is not None:
            scratch.both += self.b
        linear = scratch.linear
        length = max(math.sqrt(linear.dot(linear)), 1e-12)
        probe, probe_length = (linear, length) if self.in_old_space else (x, max(math.sqrt(x.dot(x)), 1e-12))
        sims = scratch.sims
        if self.shortlisted:
            coords = scratch.coords if self.in_old_space else np.dot(x, self.basis)
            short = np.dot(coords, self.coords_t, out=scratch.scores).argpartition(self.short_cut)[self.short_cut :]
            np.dot(self.anchors.take(short, axis=0, out=scratch.rows, mode="clip"), probe, out=sims)
        else:
            short = None
            np.dot(self.anchors, probe, out=sims)
        if self.near_cut:
            near = sims.argpartition(self.near_cut)[self.near_cut :]
            weights = sims.take(near)
            picked = near if short is None else short.take(near)
            rows = self.residuals_1.take(picked, axis=0, out=scratch.near_rows, mode="clip")
        else:
            weights = sims
            rows = self.residuals_1
            if short is not None:
                rows = rows.take(short, axis=0, out=scratch.near_rows, mode="clip")
        if self.shift_max:
            weights -= weights.max()
        weights *= self.inv_t / probe_length
        np.exp(weights, out=weights)
        np.dot(weights, rows, out=scratch.summed)  # [sum_i w_i r_i | sum_i w_i]
        # linear / length + weight * summed / total, times length (the scale goes with the normalisation)
        mix = scratch.mix
        scale = 1.0 if normalized else 1.0 / length
        mix[0], mix[1] = scale, scale * self.weight * length / scratch.summed.item(self.d_old)
        out: Array = np.dot(mix, scratch.pair)
        if normalized:
            out *= 1.0 / max(math.sqrt(out.dot(out)), 1e-12)
        return out


class _Scratch:
    """One thread's buffers for :class:`_Anchors` (two threads serving one adapter never share them)."""

    def __init__(self, anchors: _Anchors) -> None:
        d_old, width = anchors.d_old, anchors.w.shape[1]
        # Row 0: [linear | basis coordinates]; row 1: [weighted residual sum | softmax denominator].
        self.stacked = np.zeros((2, max(width, d_old + 1)), dtype=np.float32)
        self.both, self.summed = self.stacked[0, :width], self.stacked[1, : d_old + 1]
        self.linear, self.coords = self.stacked[0, :d_old], self.stacked[0, d_old:width]
        self.pair = self.stacked[:, :d_old]
        self.mix = np.zeros(2, dtype=np.float32)
        self.scores = np.empty(len(anchors.anchors), dtype=np.float32)
        self.rows = np.empty((anchors.size, anchors.anchors.shape[1]), dtype=np.float32)
        self.sims = np.empty(anchors.size, dtype=np.float32)
        self.near_rows = np.empty((anchors.k, anchors.residuals_1.shape[1]), dtype=np.float32)
