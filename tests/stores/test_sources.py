"""Reading a source file: what every store gets, so they refuse the same lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnivec.providers.stores import read_source
from omnivec.providers.stores.sources import SourceError


@pytest.mark.parametrize(
    ("metadata", "key"),
    [('"big": 99999999999999999999999', "big"), ('"n": {"a": [1, -9223372036854775809]}', "n.a")],
)
def test_an_integer_wider_than_64_bits_is_refused_with_its_line_and_key(
    tmp_path: Path, metadata: str, key: str
) -> None:
    # Milvus refused such a row after the probe batch was written; LanceDB, Qdrant and Chroma took it
    # and could not filter on it. Every store now refuses the line before anything is written.
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(
        '{"_id": "a", "text": "fine", "n2": 9223372036854775807}\n{"_id": "b", "text": "x", ' + metadata + "}\n"
    )
    with pytest.raises(SourceError, match=rf"c\.jsonl:2: metadata '{key}' is an integer wider than 64 bits"):
        list(read_source(corpus))
