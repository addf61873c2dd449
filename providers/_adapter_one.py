"""One query vector through a space adapter, with the per-query work cut to a fixed few BLAS calls.

Serving maps one query at a time, and there numpy's per-call overhead, not arithmetic, is what the
batch path (:func:`._adapter_fits.apply_params`) costs: the ``anchored`` kind took 220-290 us per
query at 768 -> 384 through it. :class:`OneVectorMap` lays out everything that does not depend on the
query once, when the adapter is built or loaded (contiguous float32 matrices, the anchor knobs as
Python numbers), so a query costs the linear map (one gemv), for ``anchored`` the similarity to every
anchor (a second gemv), a partial sort and a k-row weighted sum. Its result equals ``apply_params``
on the same row to float32 rounding (tests/test_space_adapters.py holds it to 1e-6).

Buffers are NOT shared between calls: ``np.dot`` allocating a few KiB costs well under a microsecond,
and a per-adapter scratch buffer would make two threads serving the same adapter overwrite each other.
"""

from __future__ import annotations

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
        self.anchors: Array | None = None
        if "anchors" in params:
            k, temperature, weight, in_old_space = (float(v) for v in params["anchor_knobs"])
            self.anchors, self.residuals = _f32(params["anchors"]), _f32(params["residuals"])
            count = len(self.anchors)
            self.k = min(int(k), count)
            # argpartition's kth: the k largest similarities are the ones from ``cut`` on; all of them when k == n.
            self.cut = count - self.k
            self.temperature, self.weight, self.in_old_space = np.float32(temperature), np.float32(weight), in_old_space

    def __call__(self, x: Array) -> Array:
        out: Array = np.dot(x, self.w)
        if self.b is not None:
            out += self.b
        if self.mlp is not None:
            a_in, a_bias, b_out = self.mlp
            hidden = np.dot(x, a_in)
            hidden += a_bias
            np.maximum(hidden, 0.0, out=hidden)
            out += np.dot(hidden, b_out)
        if self.anchors is not None:
            out /= max(float(np.sqrt(np.dot(out, out))), 1e-12)
            out += self._anchor_shift(x, out)
        if self.normalized:
            out /= max(float(np.sqrt(np.dot(out, out))), 1e-12)
        return out

    def _anchor_shift(self, x: Array, mapped: Array) -> Array:
        """The softmax-weighted residual of the ``k`` anchors nearest to the query (see fit_anchored)."""
        assert self.anchors is not None
        probe = mapped if self.in_old_space else x / max(float(np.sqrt(np.dot(x, x))), 1e-12)
        sims = np.dot(self.anchors, probe)
        near = np.argpartition(sims, self.cut)[self.cut :] if self.cut else slice(None)
        weights = sims[near]  # ours to change in place: a fancy-index copy, or all of the fresh ``sims``
        weights -= weights.max()
        weights /= self.temperature
        np.exp(weights, out=weights)
        weights *= self.weight / weights.sum()
        shift: Array = np.dot(weights, self.residuals[near])
        return shift
