"""Checking a space adapter's pairs and scoring its candidates on held-out pairs (never on qrels)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ._adapter_fits import Array, Candidate, apply_params, fit_candidate, unit_rows
from .errors import InvalidInputError
from .types import Fingerprint

__all__ = ["MIN_PAIRS", "HeldOut", "check_pairs", "fingerprint_dict", "folds", "score_fold"]

MIN_PAIRS = 10
NEIGHBOURS = 10


@dataclass(frozen=True)
class HeldOut:
    """How one candidate did on pairs it was not fitted on.

    ``mean_cosine``: cosine of each mapped vector with its true old vector. ``overlap_at_10``: share
    of the true old vector's 10 nearest sample items (in the old space) that the mapped vector also
    has among its 10 nearest; it is what a search sees. ``score`` is their mean, the number the kind
    is chosen by and :func:`predicted_verdict` reads.
    """

    kind: str
    settings: Mapping[str, Any]
    mean_cosine: float
    overlap_at_10: float

    @property
    def score(self) -> float:
        return (self.mean_cosine + self.overlap_at_10) / 2

    @property
    def label(self) -> str:
        return Candidate(self.kind, self.settings).label

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "settings": dict(self.settings),
            "mean_cosine": round(self.mean_cosine, 6),
            "overlap_at_10": round(self.overlap_at_10, 6),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HeldOut:
        return cls(data["kind"], data["settings"], float(data["mean_cosine"]), float(data["overlap_at_10"]))

    @classmethod
    def mean(cls, candidate: Candidate, per_fold: Sequence[tuple[float, float]]) -> HeldOut:
        cosines, overlaps = zip(*per_fold, strict=True)
        # Rounded as stored, so a fitted adapter and its from_bytes copy hold the very same numbers.
        return cls(
            candidate.kind,
            dict(candidate.settings),
            round(float(np.mean(cosines)), 6),
            round(float(np.mean(overlaps)), 6),
        )


def _matrix(value: npt.ArrayLike, name: str) -> Array:
    try:
        m = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{name}: not a numeric matrix; pass an (n, dimensions) array") from None
    if m.ndim != 2 or m.shape[1] == 0:
        raise InvalidInputError(f"{name}: expected an (n, dimensions) matrix, got shape {m.shape}")
    if not np.isfinite(m).all():
        row = int(np.argwhere(~np.isfinite(m))[0][0])
        raise InvalidInputError(f"{name}: row {row} has NaN or infinite values; drop the failed embeddings first")
    zero = np.flatnonzero(~np.abs(m).any(axis=1))
    if zero.size:
        raise InvalidInputError(f"{name}: row {int(zero[0])} is all zeros (no direction to map); drop it")
    return m


def check_pairs(new: npt.ArrayLike, old: npt.ArrayLike, sample_ids: Sequence[str] | None) -> tuple[Array, Array]:
    """The pairs as float32 matrices, or one-line InvalidInputError naming what is wrong."""
    x, y = _matrix(new, "new"), _matrix(old, "old")
    if len(x) != len(y):
        raise InvalidInputError(f"new has {len(x)} rows but old has {len(y)}: row i of each must be the same item")
    if len(x) < MIN_PAIRS:
        raise InvalidInputError(f"{len(x)} pairs: a space adapter needs at least {MIN_PAIRS} (1,000 recommended)")
    if sample_ids is not None and (len(sample_ids) != len(x) or len(set(sample_ids)) != len(sample_ids)):
        raise InvalidInputError(f"sample_ids: need {len(x)} distinct ids, one per row, got {len(sample_ids)}")
    return x, y


def fingerprint_dict(fp: Fingerprint | Mapping[str, Any], name: str) -> dict[str, Any]:
    """A fingerprint in the JSON form stores keep, so its hash equals the stored one's."""
    if isinstance(fp, Fingerprint):
        fp = fp.as_dict()
    if not isinstance(fp, Mapping) or not fp:
        raise InvalidInputError(f"{name}: expected a Fingerprint or a stored fingerprint dict, got {type(fp).__name__}")
    normalized: dict[str, Any] = json.loads(json.dumps(dict(fp), sort_keys=True, default=str))
    return normalized


def folds(n: int, k: int, seed: int) -> list[npt.NDArray[np.int64]]:
    """``k`` disjoint held-out index sets covering ``n`` rows (a seeded shuffle), each of >= 2 rows."""
    k = max(2, min(k, n // 2))
    order = np.random.default_rng(seed).permutation(n)
    return [np.sort(part) for part in np.array_split(order, k)]


def score_fold(
    tried: Sequence[Candidate], x: Array, y: Array, held: npt.NDArray[np.int64], *, seed: int
) -> list[tuple[float, float]]:
    """Fit each candidate on every pair but ``held``, then (mean cosine, overlap@10) on ``held``.

    Neighbours are searched among the old vectors of ALL sample items, as the old index would be.
    """
    train = np.setdiff1d(np.arange(len(x)), held)
    old_unit = unit_rows(y)
    k = min(NEIGHBOURS, len(y) // 2)
    true_top = np.argsort(-(old_unit[held] @ old_unit.T), axis=1, kind="stable")[:, :k]
    memo: dict[str, Any] = {}
    found = []
    for candidate in tried:
        params = fit_candidate(candidate, x[train], y[train], seed=seed, memo=memo)
        mapped = unit_rows(apply_params(params, x[held]))
        got_top = np.argsort(-(mapped @ old_unit.T), axis=1, kind="stable")[:, :k]
        overlap = np.mean([len(set(t) & set(g)) / k for t, g in zip(true_top, got_top, strict=True)])
        found.append((float((mapped * old_unit[held]).sum(axis=1).mean()), float(overlap)))
    return found
