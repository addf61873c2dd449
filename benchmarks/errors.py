"""Benchmark errors, in omnivec's one exception tree (one line each, naming the file and the fix)."""

from __future__ import annotations

from ..providers.errors import InputError

__all__ = ["DatasetError", "ResultsFileError"]


class DatasetError(InputError):
    """A dataset folder is malformed or unusable: names the file and line (or the id) and what is wrong."""


class ResultsFileError(InputError):
    """A ``results.json`` that does not validate against this version's schema."""
