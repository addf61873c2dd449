"""The ``lexical`` feature on Qdrant: BM25 through Qdrant's own sparse vectors.

Every version made since has a named sparse vector ``text`` with Qdrant's ``IDF`` modifier: each
point carries its words' term-frequency weights (computed here: lowercase word tokens, English
Snowball stems, ``tf * (k1 + 1) / (tf + k1)`` with k1 = 1.2; no length normalization, b = 0), and
Qdrant multiplies them by the inverse document frequency it keeps over the collection, so the score
of a query is BM25's sum over its words, ranked by the engine (local mode and server alike), filters
applied inside that search. The weights are written with the point in the same upsert, so rows written
after ``build_lexical_index`` are found; building only records, in the catalog, that the version
answers lexical queries. A version made before this has no sparse vector: it answers none, in one
line, until ``migrate`` rewrites it.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .base import Hit
from .errors import StoreError
from .filters import Condition
from .native_filters import qdrant_filter

__all__ = ["SPARSE", "QdrantLexical", "hit_of", "sparse_weights"]

SPARSE = "text"  # the sparse vector's name in every version
_K1 = 1.2
_WORD = re.compile(r"\w+", re.UNICODE)
_STEMMER: Any = None


def _stems(text: str) -> list[str]:
    global _STEMMER
    if _STEMMER is None:
        import Stemmer  # PyStemmer, in the qdrant extra

        _STEMMER = Stemmer.Stemmer("english")
    return list(_STEMMER.stemWords(_WORD.findall(text.lower())))


def _token_id(stem: str) -> int:
    return int.from_bytes(hashlib.blake2b(stem.encode(), digest_size=4).digest(), "big")  # stable across processes


def sparse_weights(text: str | None, *, query: bool = False) -> tuple[list[int], list[float]]:
    """``(indices, values)`` of a row's text (BM25 term weights) or of a query (1 per distinct word)."""
    counts = Counter(_token_id(s) for s in _stems(text or ""))
    if query:
        return sorted(counts), [1.0] * len(counts)
    indices = sorted(counts)
    return indices, [counts[i] * (_K1 + 1) / (counts[i] + _K1) for i in indices]


class QdrantLexical:
    """The lexical half of :class:`~.qdrant.QdrantStore`."""

    _c: Any
    url: str

    if TYPE_CHECKING:  # QdrantStore's and RecordCatalogStore's (declared only: a body here would shadow theirs)

        def _table(self, collection: str, version: int) -> str: ...

        def _update(self, collection: str, change: Any) -> None: ...

    def _has_sparse(self, table: str) -> bool:
        known: dict[str, bool] = self.__dict__.setdefault("_sparse_known", {})
        if table not in known:
            sparse = self._c.get_collection(table).config.params.sparse_vectors or {}
            known[table] = SPARSE in sparse
        return known[table]

    def build_lexical_index(self, collection: str, version: int) -> str | None:
        if not self._has_sparse(self._table(collection, version)):
            return None  # made before sparse vectors: migrate rewrites it into one that has them
        built: list[bool] = []

        def change(record: dict[str, Any]) -> None:
            entry = record["versions"][str(version)]
            built.append(not entry.get("lexical"))
            entry["lexical"] = True

        self._update(collection, change)
        return "BM25 over the sparse vector 'text' (Qdrant IDF modifier)" if built[0] else None

    def lexical_search(
        self, collection: str, version: int, text: str, k: int, *, where: Sequence[Condition] = ()
    ) -> list[Hit]:
        from qdrant_client import models

        table = self._table(collection, version)
        if not self._has_sparse(table):
            raise StoreError(
                f"{table} was made before Qdrant versions held sparse word vectors: no full-text search on it; "
                f"'omnivec migrate {collection}' rewrites it into a version that has them"
            )
        indices, values = sparse_weights(text, query=True)
        if not indices:
            return []
        found = self._c.query_points(
            table, query=models.SparseVector(indices=indices, values=values), using=SPARSE, limit=k,
            query_filter=qdrant_filter(where), with_payload=["id", "text", "uri", "metadata"],
        ).points  # fmt: skip
        return [hit_of(p) for p in found]


def hit_of(point: Any) -> Hit:
    """A scored Qdrant point as a :class:`Hit` (its payload holds the row)."""
    payload = point.payload
    return Hit(
        payload["id"], float(point.score), payload.get("metadata") or {}, payload.get("text"), payload.get("uri")
    )
