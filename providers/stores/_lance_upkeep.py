"""LanceDB table upkeep: compaction, the ``id`` index, and the superseded table versions.

Every LanceDB commit writes a fragment and a table version. Compaction with Lance's default target
(1 M rows per fragment) rewrites every smaller fragment, so on a growing table it rewrote the big
fragment at every compaction: a 1 M-row migration's RSS peaked +100 to +250 MiB (growing with the
table) at each one. With ``target_rows_per_fragment`` (lancedb 0.41's ``compaction_options``) a
fragment of ``FRAGMENT_ROWS`` rows is finished and left alone: a compaction rewrites at most the
rows written since the last one plus one partial fragment (docs/scale.md measures both).
"""

from __future__ import annotations

import warnings
from datetime import timedelta
from typing import Any

OPTIMIZE_EVERY = 64  # commits between compactions (each commit writes a fragment)
FRAGMENT_ROWS = 65_536  # a fragment this big is finished: compaction leaves it alone
ID_INDEX_ROWS = 50_000  # lookups by id (every batch of index/migrate does one) need the index from here
TAIL_COMPACTION_COMMITS = 16  # at ready, a shorter tail of small fragments is not worth a compaction
_NO_COMPACTION = {"max_source_fragments": 1}  # every compaction task merges >= 2 fragments: none runs


def maintain(table: Any, *, building: bool) -> None:
    """Compact, bring the indexes up to date, and index ``id`` once lookups by id need it.

    A table being built serves no reader and has one writer (the version's lock), so its superseded
    versions go now; any other keeps them for lancedb's default 7 days (a reader may be on one)."""
    from lancedb.index import BTree

    _optimize(table, building=building, compaction={"target_rows_per_fragment": FRAGMENT_ROWS})
    if table.count_rows() >= ID_INDEX_ROWS and not any(i.columns == ["id"] for i in table.list_indices()):
        table.create_index("id", config=BTree())


def finish_building(table: Any, *, tail_commits: int) -> None:
    """A built version turns ready: drop its superseded versions, and compact its tail only if long.

    A compaction here was a fixed cost at the end of every migration, however small (0.15-0.24 s of a
    4,000-item one; docs/performance.md); only a long tail of small fragments slows searches."""
    if tail_commits >= TAIL_COMPACTION_COMMITS:
        maintain(table, building=True)
    else:
        _optimize(table, building=True, compaction=_NO_COMPACTION)  # versions dropped, indexes updated


def _optimize(table: Any, *, building: bool, compaction: dict[str, Any]) -> None:
    if not building:
        table.optimize(compaction_options=compaction)  # cleans up versions older than 7 days
        return
    with warnings.catch_warnings():  # "readers of older versions will fail": a building table has none
        warnings.filterwarnings("ignore", r"optimize\(cleanup_older_than=0\)", UserWarning)
        table.optimize(cleanup_older_than=timedelta(0), delete_unverified=True, compaction_options=compaction)


__all__ = ["FRAGMENT_ROWS", "OPTIMIZE_EVERY", "finish_building", "maintain"]
