"""Strict readers for dataset files: every defect is one :class:`DatasetError` naming the file and line.

A benchmark that silently reads a malformed file reports a wrong number, so nothing here guesses:
invalid UTF-8, a line that is not a JSON object, a missing ``_id``, a qrels file without its header,
a row with the wrong number of columns or a non-integer score all stop the run before any work.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import DatasetError

__all__ = ["QRELS_HEADER", "Qrels", "read_jsonl", "read_qrels", "text_field"]

Qrels = dict[str, dict[str, int]]
QRELS_HEADER = ("query-id", "corpus-id", "score")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of every non-blank line, decoding each as UTF-8 on its own."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    with handle:
        for number, raw in enumerate(handle, 1):
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise DatasetError(f"{path}:{number}: not valid UTF-8 (byte {exc.start + 1} of the line)") from None
            if line.strip():
                yield number, line


def read_jsonl(path: Path, *, required: tuple[str, ...] = ("_id",)) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) per line of a JSON Lines file, each with a unique string ``_id``."""
    seen: dict[str, int] = {}
    for number, line in _lines(path):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            hint = (
                " (the file looks like one JSON array: write one object per line)"
                if line.lstrip().startswith("[")
                else ""
            )
            raise DatasetError(f"{path}:{number}: not valid JSON ({exc.msg}, column {exc.colno}){hint}") from None
        if not isinstance(row, dict):
            hint = ": the file looks like one JSON array; write one object per line" if isinstance(row, list) else ""
            raise DatasetError(f"{path}:{number}: expected a JSON object per line, got {type(row).__name__}{hint}")
        for name in required:
            if row.get(name) is None:
                raise DatasetError(f"{path}:{number}: no {name!r} field")
        key = row["_id"]
        if isinstance(key, bool) or not isinstance(key, (str, int)):
            raise DatasetError(f"{path}:{number}: '_id' must be a string, got {type(key).__name__}")
        key = row["_id"] = str(key)
        if key in seen:
            raise DatasetError(f"{path}:{number}: duplicate _id {key!r} (first on line {seen[key]})")
        seen[key] = number
        yield number, row


def text_field(path: Path, number: int, row: dict[str, Any], name: str) -> str:
    """A text field as a string: missing or ``null`` is empty (never the string "None")."""
    value = row.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise DatasetError(f"{path}:{number}: {name!r} must be a string or null, got {type(value).__name__}")
    if _SURROGATE.search(value):
        raise DatasetError(
            f"{path}:{number}: {name!r} holds a lone surrogate escape (\\ud800-\\udfff), "
            "which is not valid Unicode text; fix the file"
        )
    return value


def read_qrels(path: Path) -> Qrels:
    """``query-id corpus-id score`` rows under that header, tab-separated, integer scores (graded allowed)."""
    qrels: Qrels = {}
    lines = _lines(path)
    first = next(lines, None)
    if first is None:
        raise DatasetError(f"{path}: empty; expected a header line 'query-id<TAB>corpus-id<TAB>score' and judgments")
    number, header = first
    if tuple(cell.strip() for cell in header.rstrip("\r\n").split("\t")) != QRELS_HEADER:
        raise DatasetError(
            f"{path}:{number}: expected the header 'query-id<TAB>corpus-id<TAB>score', got {header.strip()[:60]!r}"
        )
    for number, line in lines:
        cells = [cell.strip() for cell in line.rstrip("\r\n").split("\t")]
        if len(cells) != 3:
            raise DatasetError(
                f"{path}:{number}: expected 3 tab-separated columns (query-id, corpus-id, score), got {len(cells)}"
            )
        query, doc, score = cells
        try:
            grade = int(score)
        except ValueError:
            raise DatasetError(f"{path}:{number}: score {score[:20]!r} is not an integer") from None
        if not query or not doc:
            raise DatasetError(f"{path}:{number}: empty query-id or corpus-id")
        qrels.setdefault(query, {})[doc] = grade
    return qrels
