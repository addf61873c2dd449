"""Space adapters: serve a NEW model's query vectors against an index built with an OLD model.

A collection stores its old vectors and their sources; re-embedding a random sample of those sources
with the new model gives paired rows (``new[i]``, ``old[i]``). A map fitted on them (Drift-Adapter,
arXiv 2509.23471) takes new-space query vectors into the old space, so the old index keeps answering
while (or instead of) a full re-embed. Kinds, all applied as one or a few matrix products:

- ``procrustes``: scaled semi-orthogonal map (any dimensions); needs the fewest pairs.
- ``lowrank``: reduced-rank ridge regression (rank r), closed form.
- ``anchored``: Procrustes plus a local correction from the residuals of the query's nearest sample
  items (the default pick on real models, see docs/adapters.md).
- ``mlp``: a small residual MLP on top of Procrustes, numpy only, early-stopped.

The kind (and rank, ridge) is chosen on held-out pairs by k-fold cross-validation, never on qrels:
:func:`held_out_scores` says how each did. The adapter then refits the winner on all pairs.

    >>> adapter = fit_space_adapter(new, old, from_fp=new_fp, to_fp=old_fp)   # doctest: +SKIP
    >>> old_space_queries = adapter.apply(new_model_query_vectors)           # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from threadpoolctl import threadpool_limits

from ._adapter_fits import Candidate, apply_params, candidates, fit_candidate
from ._adapter_one import OneVectorMap
from ._adapter_score import HeldOut, check_pairs, fingerprint_dict, folds, score_fold
from .errors import InvalidInputError
from .types import Fingerprint

__all__ = [
    "DEFAULT_KINDS",
    "KINDS",
    "VERDICT_THRESHOLDS",
    "HeldOut",
    "SpaceAdapter",
    "fit_space_adapter",
    "predicted_verdict",
]

KINDS = ("procrustes", "anchored", "lowrank", "mlp")
DEFAULT_KINDS = ("procrustes", "anchored")
"""What :func:`fit_space_adapter` chooses among unless told: the kinds that keep the new space's angles.
``lowrank`` and ``mlp`` score higher on held-out DOCUMENTS yet retrieve worse with QUERIES on both
directions of Cranfield (docs/adapters.md), so the held-out score cannot be trusted to pick them."""
_MAGIC = b"omnivec-space-adapter/1\n"

VERDICT_THRESHOLDS = {"good": 0.78, "usable": 0.75}
"""Held-out score (mean of mean cosine and overlap@10, see :class:`HeldOut`) from which an adapter is
predicted to keep >= 0.98 ('good') or >= 0.92 ('usable') of the old index's nDCG@10; below 'usable'
it is 'poor' and ``switch --via-adapter`` refuses it without ``--force``. Calibrated on Cranfield only
(MiniLM <-> mpnet, both directions, docs/adapters.md): scores 0.736 / ~0.757 / ~0.79 went with
0.65 / 0.925 / 1.0 x at 100 / 300 / 1,000 pairs. PROVISIONAL until more sets are measured
(benchmarks/perf/adapters.py prints score, verdict and ratio side by side)."""


def predicted_verdict(score: float) -> str:
    """'good', 'usable' or 'poor' for a held-out score (thresholds: :data:`VERDICT_THRESHOLDS`)."""
    return next((name for name, floor in VERDICT_THRESHOLDS.items() if score >= floor), "poor")


@dataclass(frozen=True)
class SpaceAdapter:
    """A fitted map from one vector space (``from_fingerprint``) to another (``to_fingerprint``)."""

    kind: str
    settings: Mapping[str, Any]
    from_fingerprint: Mapping[str, Any]
    to_fingerprint: Mapping[str, Any]
    sample_size: int
    sample_digest: str
    held_out: HeldOut
    """The chosen candidate's cross-validated score."""
    report: tuple[HeldOut, ...]
    """Every candidate tried, best first."""
    params: Mapping[str, npt.NDArray[np.float32]]
    _one: OneVectorMap = field(init=False, repr=False, compare=False)
    """The one-query path (serving maps a query at a time), laid out once here rather than per query."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "_one", OneVectorMap(self.params, normalized=self.normalized))

    @property
    def normalized(self) -> bool:
        """Whether mapped vectors are made unit length: the target space's own convention."""
        return bool(self.to_fingerprint.get("normalized"))

    @property
    def fingerprint(self) -> dict[str, Any]:
        """What this adapter is, as data: the two spaces (with their hashes), kind, sample, score."""
        return {
            "from": dict(self.from_fingerprint),
            "from_hash": _hash(self.from_fingerprint),
            "to": dict(self.to_fingerprint),
            "to_hash": _hash(self.to_fingerprint),
            "kind": self.kind,
            "settings": dict(self.settings),
            "sample_size": self.sample_size,
            "sample_digest": self.sample_digest,
            "held_out": self.held_out.as_dict(),
        }

    @property
    def digest(self) -> str:
        """16 hex digits over the fingerprint AND the map's numbers: equal digests, equal adapters."""
        blob = hashlib.sha256(_canonical(self.fingerprint).encode())
        for name in sorted(self.params):
            blob.update(name.encode() + np.ascontiguousarray(self.params[name], dtype="<f4").tobytes())
        return blob.hexdigest()[:16]

    def apply(self, vectors: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """New-space vectors (``(d_new,)`` or ``(n, d_new)``) mapped into the old space."""
        x = np.asarray(vectors, dtype=np.float32)
        d_new = int(self.params["W"].shape[0])
        if x.ndim not in (1, 2) or x.shape[-1] != d_new:
            raise InvalidInputError(f"vectors: this adapter maps {d_new}-dimensional vectors, got shape {x.shape}")
        if x.ndim == 1:
            return self._one(x)
        out = apply_params(self.params, x)
        if self.normalized:
            out = out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), np.float32(1e-12))
        return out

    def to_bytes(self) -> bytes:
        """One self-describing blob (JSON header, then raw little-endian float32 arrays); no pickle."""
        shapes = {name: list(self.params[name].shape) for name in sorted(self.params)}
        header = {**self.fingerprint, "report": [r.as_dict() for r in self.report], "arrays": shapes}
        body = b"".join(np.ascontiguousarray(self.params[n], dtype="<f4").tobytes() for n in sorted(self.params))
        return _MAGIC + _canonical(header).encode() + b"\n" + body

    @classmethod
    def from_bytes(cls, blob: bytes) -> SpaceAdapter:
        """The adapter :meth:`to_bytes` wrote (same digest); anything else is an InvalidInputError."""
        try:
            if not blob.startswith(_MAGIC):
                raise ValueError("it does not start with the space-adapter marker")
            head, _, body = blob[len(_MAGIC) :].partition(b"\n")
            meta = json.loads(head)
            params, offset = {}, 0
            for name, shape in meta["arrays"].items():
                size = int(np.prod(shape)) * 4
                if offset + size > len(body):
                    raise ValueError("it is truncated")
                params[name] = (
                    np.frombuffer(body[offset : offset + size], dtype="<f4").reshape(shape).astype(np.float32)
                )
                offset += size
            if offset != len(body):
                raise ValueError("it has trailing bytes")
            return cls(
                kind=meta["kind"],
                settings=meta["settings"],
                from_fingerprint=meta["from"],
                to_fingerprint=meta["to"],
                sample_size=int(meta["sample_size"]),
                sample_digest=meta["sample_digest"],
                held_out=HeldOut.from_dict(meta["held_out"]),
                report=tuple(HeldOut.from_dict(r) for r in meta["report"]),
                params=params,
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInputError(
                f"space adapter bytes: not readable ({exc}); store the output of to_bytes()"
            ) from None


def _canonical(data: Mapping[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))


def _hash(fingerprint: Mapping[str, Any]) -> str:
    """The same 16 hex digits as :attr:`Fingerprint.hash` (and the stores' stored-fingerprint hash)."""
    return hashlib.sha256(_canonical(fingerprint).encode()).hexdigest()[:16]


def fit_space_adapter(
    new: npt.ArrayLike,
    old: npt.ArrayLike,
    *,
    from_fp: Fingerprint | Mapping[str, Any],
    to_fp: Fingerprint | Mapping[str, Any],
    kinds: Sequence[str] = DEFAULT_KINDS,
    sample_ids: Sequence[str] | None = None,
    seed: int = 0,
    folds_k: int = 5,
) -> SpaceAdapter:
    """Fit a map from ``new`` rows (the new model's vectors of stored sources) to ``old`` rows (their
    stored vectors), choosing the kind by ``folds_k``-fold held-out score, then refitting it on all pairs.

    ``sample_ids`` (the stored ids of the pairs, in row order) go into the fingerprint as a digest, so
    the adapter names its sample. Bad input raises :class:`InvalidInputError` before any fitting.
    """
    with threadpool_limits(limits=1):  # see pyproject: threaded BLAS spins on a busy machine, fits are small
        return _fit(new, old, from_fp, to_fp, kinds, sample_ids, seed, folds_k)


def _fit(
    new: npt.ArrayLike,
    old: npt.ArrayLike,
    from_fp: Fingerprint | Mapping[str, Any],
    to_fp: Fingerprint | Mapping[str, Any],
    kinds: Sequence[str],
    sample_ids: Sequence[str] | None,
    seed: int,
    folds_k: int,
) -> SpaceAdapter:
    x, y = check_pairs(new, old, sample_ids)
    from_dict, to_dict = fingerprint_dict(from_fp, "from_fp"), fingerprint_dict(to_fp, "to_fp")
    if _hash(from_dict) == _hash(to_dict):
        raise InvalidInputError("from_fp and to_fp are the same vector space: there is nothing to adapt")
    unknown = [k for k in kinds if k not in KINDS] or ([] if kinds else ["(none)"])
    if unknown:
        raise InvalidInputError(f"kinds: {', '.join(map(str, unknown))} unknown; choose from {', '.join(KINDS)}")
    splits = folds(len(x), folds_k, seed)
    n_fit = min(len(x) - len(held) for held in splits)
    tried = list(candidates(tuple(dict.fromkeys(kinds)), n_fit, y.shape[1]))
    per_fold = [score_fold(tried, x, y, held, seed=seed) for held in splits]
    scored = [HeldOut.mean(c, [fold[i] for fold in per_fold]) for i, c in enumerate(tried)]
    # Ties (to 4 decimals) go to the earlier, simpler candidate: an exact rotation stays ``procrustes``.
    scored.sort(key=lambda h: -round(h.score, 4))
    best = scored[0]
    chosen = Candidate(best.kind, best.settings)
    ids = "\n".join(sample_ids) if sample_ids is not None else f"{len(x)} unnamed rows"
    return SpaceAdapter(
        kind=chosen.kind,
        settings=dict(chosen.settings),
        from_fingerprint=from_dict,
        to_fingerprint=to_dict,
        sample_size=len(x),
        sample_digest=hashlib.sha256(ids.encode()).hexdigest()[:16],
        held_out=best,
        report=tuple(scored),
        params=fit_candidate(chosen, x, y, seed=seed),
    )
