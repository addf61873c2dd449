"""Items to index, streamed from a JSONL file, a BEIR folder, or a folder of text/image files.

JSONL / BEIR ``corpus.jsonl`` lines: ``_id`` (or ``id``), ``text``, optional ``title``, optional
``image`` (a path, relative to the file), anything else is metadata. Files in a folder: ``.txt``/``.md``
become texts, images become images; the id is the path relative to the folder. Every item carries
the source it can be embedded again from (text or URI) and its content hash, so ``migrate`` never
needs the old vectors.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from ..cache import content_key
from ..errors import ConfigurationError, InvalidInputError
from ..inputs import Image, input_for
from .base import Row

__all__ = ["SourceError", "SourceItem", "check_item", "clean_text", "input_for", "read_source"]

_TEXT_SUFFIXES = {".txt", ".md"}
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".webp"}


class SourceError(ConfigurationError):
    """The SOURCE of ``omnivec index`` cannot be read; the message names the file and line."""


SourceItem = Row
"""An item to index: a :class:`~.base.Row` without its vector (id, content hash, text or URI, metadata).
One class for both, so the write loop and ``migrate`` pass stored rows on as items without copying."""


def check_item(position: int, item: SourceItem) -> None:
    """Refuse a hand-built item whose fields the store cannot hold, naming the field (before any call;
    an int id, a dict in ``uri`` or a set in metadata used to end in an AttributeError or a pyarrow
    traceback after the batch was paid for)."""
    where = f"items[{position}] (id {item.id!r})"
    if not isinstance(item.id, str) or not item.id:
        raise InvalidInputError(f"{where}: id must be a non-empty str, got {type(item.id).__name__}: use str(id)")
    if not isinstance(item.content_hash, str) or not item.content_hash:
        raise InvalidInputError(f"{where}: content_hash must be a non-empty str: use content_key(text)")
    for field, value in (("text", item.text), ("uri", item.uri)):
        if value is not None and not isinstance(value, str):
            raise InvalidInputError(
                f"{where}: {field} must be a str or None, got {type(value).__name__} "
                "(metadata goes in SourceItem(..., metadata={...}))"
            )
    if not isinstance(item.metadata, Mapping):
        raise InvalidInputError(f"{where}: metadata must be a mapping, got {type(item.metadata).__name__}")
    try:
        json.dumps(item.metadata)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"{where}: metadata is not JSON ({exc}): use str, numbers, bools, lists, dicts"
        ) from None


def clean_text(text: str) -> str:
    """Text every store can hold: lone surrogates (legal in ``str``, not in UTF-8) and NUL (refused by
    PostgreSQL) become U+FFFD; the content hash and the vector are computed from this same text."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = "".join("\ufffd" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in text)
    return text


def _item(raw: dict[str, Any], base: Path, where: str) -> SourceItem | str:
    """The item, or its id when it has no text at all (blank items are skipped and counted, not fatal)."""
    ident = raw.pop("_id", None) if "_id" in raw else raw.pop("id", None)
    if ident is None or ident == "":
        raise SourceError(f"{where}: missing '_id'")
    # A bool is an int to Python: `true` would silently become the id "True".
    if isinstance(ident, bool) or not isinstance(ident, (str, int)):
        raise SourceError(f"{where}: '_id' must be a string or an integer, got {type(ident).__name__} {ident!r}")
    title, text, image = raw.pop("title", None), raw.pop("text", None), raw.pop("image", None)
    if (key := _too_wide(raw)) is not None:
        raise SourceError(
            f"{where}: metadata {key!r} is an integer wider than 64 bits, which no store can filter on "
            "(Milvus refuses the row): write it as a string"
        )
    if image is not None:
        path = (base / str(image)).resolve()
        return SourceItem(str(ident), content_key(Image.from_path(path)), None, f"file://{path}", raw)
    if (text is not None and not isinstance(text, str)) or (title is not None and not isinstance(title, str)):
        raise SourceError(f"{where}: 'text' and 'title' must be strings")
    full = clean_text(f"{title or ''} {text or ''}".strip())
    if not full:
        return str(ident)
    return SourceItem(str(ident), content_key(full), full, None, raw)


def _too_wide(value: Any, path: str = "") -> str | None:
    """The first metadata key (dotted) holding an integer outside int64, else None; checked here so
    that every store refuses the same file before anything is written."""
    if isinstance(value, dict):
        return next((p for k, v in value.items() if (p := _too_wide(v, f"{path}.{k}" if path else str(k)))), None)
    if isinstance(value, list):
        return next((p for v in value if (p := _too_wide(v, path))), None)
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        return path
    return None


def _jsonl(path: Path, skipped: list[str]) -> Iterator[SourceItem]:
    if str(path) == "-":  # stdin: `cat corpus.jsonl | omnivec index - -c docs`; image paths relative to the cwd
        yield from _lines(sys.stdin.buffer, "<stdin>", Path.cwd(), skipped)
        return
    with path.open("rb") as handle:
        yield from _lines(handle, str(path), path.parent, skipped)


def _lines(handle: IO[bytes], name: str, base: Path, skipped: list[str]) -> Iterator[SourceItem]:
    first_seen: dict[str, int] = {}  # id -> line: a repeated id would silently replace the earlier item
    for number, line in enumerate(handle, 1):
        if not line.strip():
            continue
        where = f"{name}:{number}"
        try:
            raw = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise SourceError(f"{where}: not a JSON line ({exc})") from exc
        if not isinstance(raw, dict):
            raise SourceError(f"{where}: expected a JSON object")
        item = _item(raw, base, where)
        ident = item if isinstance(item, str) else item.id
        if ident in first_seen:
            raise SourceError(f"{where}: id {ident!r} is already used at line {first_seen[ident]}: ids must be unique")
        first_seen[ident] = number
        if isinstance(item, str):
            skipped.append(item)
        else:
            yield item


def _folder(root: Path, skipped: list[str]) -> Iterator[SourceItem]:
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel, suffix = path.relative_to(root).as_posix(), path.suffix.lower()
        if suffix in _TEXT_SUFFIXES:
            try:
                text = clean_text(path.read_text(encoding="utf-8").strip())
            except UnicodeDecodeError as exc:
                raise SourceError(f"{path}: not UTF-8 text") from exc
            if text:
                yield SourceItem(rel, content_key(text), text, None, {"path": rel})
            else:
                skipped.append(rel)
        elif suffix in _IMAGE_SUFFIXES:
            yield SourceItem(rel, content_key(Image.from_path(path)), None, f"file://{path.resolve()}", {"path": rel})


def read_source(source: str | Path, skipped: list[str] | None = None) -> Iterator[SourceItem]:
    """Stream the items of a JSONL file, a BEIR folder (``corpus.jsonl``) or a folder of files.

    Items without any text or image are not indexed; their ids are appended to ``skipped``.
    """
    skipped = skipped if skipped is not None else []
    if not isinstance(source, (str, os.PathLike)):
        raise SourceError(f"source must be a path (a JSONL file or a folder), got {type(source).__name__} {source!r}")
    path = Path(source)
    if str(source) == "-" or path.is_file():
        return _jsonl(path, skipped)
    if path.is_dir():
        corpus = path / "corpus.jsonl"
        return _jsonl(corpus, skipped) if corpus.is_file() else _folder(path, skipped)
    raise SourceError(f"source {str(path)!r} does not exist: pass a JSONL file, a BEIR folder or a folder of files")
