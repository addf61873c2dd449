"""Deterministic vectors with real signal: hashed word features for text, seeded noise for media."""

from __future__ import annotations

import base64
import hashlib

import numpy as np

from ..testing import hashed_features


def text_vector(text: str, dims: int) -> list[float]:
    return [float(x) for x in hashed_features(text, dims)]


def media_vector(data: str | bytes, dims: int) -> list[float]:
    raw = data.encode() if isinstance(data, str) else data
    seed = int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "little")
    vector = np.random.default_rng(seed).standard_normal(dims)
    return [float(x) for x in vector / np.linalg.norm(vector)]


def decoded_size(b64: str) -> int:
    """Bytes in a base64 string; proto-JSON accepts both the standard and the URL-safe alphabet."""
    for decode in (lambda s: base64.b64decode(s, validate=True), base64.urlsafe_b64decode):
        try:
            return len(decode(b64))
        except ValueError:
            continue
    return -1
