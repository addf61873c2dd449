"""LanceDB keeps a table version per commit: a migration drops the ones of the version it builds
(no reader serves it, the lock makes it the only writer); a served version keeps them (a reader may
still be on one)."""

from __future__ import annotations

from pathlib import Path

import lancedb
import numpy as np
import pytest

from omnivec.providers.cache import content_key
from omnivec.providers.stores import Row, SourceItem, index_items, migrate, open_store
from omnivec.providers.stores import _lance_upkeep as upkeep
from omnivec.providers.testing import FakeProvider

FRAGMENT = 6  # rows of a finished fragment in the compaction test
TEXTS = [f"item {i} is about {topic}" for i, topic in enumerate(["cats", "tax law", "pasta"] * 10)]


def versions_of(folder: Path, table: str) -> int:
    return len(lancedb.connect(str(folder)).open_table(table).list_versions())


def test_a_migration_leaves_one_table_version_and_a_served_version_keeps_its_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(upkeep, "OPTIMIZE_EVERY", 4)  # compactions during these few commits
    store = open_store(f"lancedb://{tmp_path}", batch_size=3)
    items = [SourceItem(f"id{i}", content_key(t), t, None, {}) for i, t in enumerate(TEXTS)]
    index_items(store, "docs", items, provider=FakeProvider("a", max_batch_size=3))
    report = migrate(store, "docs", FakeProvider("b", max_batch_size=3), cache=False)
    assert report.count == len(TEXTS) and not report.problems
    assert versions_of(tmp_path, "docs__v2") == 1  # 10 commits, 2 compactions, the full-text index
    assert versions_of(tmp_path, "docs__v1") > 10  # the live version: every commit is still there
    assert len(store.search("docs", 2, FakeProvider("b").embed_one(TEXTS[4], "query"), 1)) == 1
    store.close()


@pytest.mark.parametrize(("tail_threshold", "fragments"), [(3, (6, 3, 6)), (2, (5, 6, 6))])
def test_compaction_leaves_finished_fragments_alone_and_a_short_tail_is_only_cleaned_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tail_threshold: int, fragments: tuple[int, int, int]
) -> None:
    """lancedb's optimize() rewrote every fragment below 1 M rows at each compaction (the RSS peaks of
    a 1 M-row migration) and again when the version turned ready (at the end of every migrate)."""
    monkeypatch.setattr(upkeep, "OPTIMIZE_EVERY", 4)
    monkeypatch.setattr(upkeep, "FRAGMENT_ROWS", FRAGMENT)
    monkeypatch.setattr(upkeep, "TAIL_COMPACTION_COMMITS", tail_threshold)
    store = open_store(f"lancedb://{tmp_path}")
    fingerprint = FakeProvider("b").fingerprint("document").space().to_stored()
    store.create_version("docs", 1, fingerprint)
    store.set_state("docs", 1, "building")
    first_files: set[str] = set()
    for commit in range(10):  # commits of 3 rows: compactions after the 4th and the 8th
        rows = [
            Row(f"id{commit}-{k}", "h", "t", None, {}, np.ones(fingerprint["dimensions"], np.float32)) for k in range(3)
        ]
        store.upsert("docs", 1, rows, fingerprint=fingerprint)
        if commit == 3:
            first_files = data_files(tmp_path)
    store.set_state("docs", 1, "ready")
    store.close()
    table = lancedb.connect(str(tmp_path)).open_table("docs__v1")
    stats = table.stats()["fragment_stats"]  # fragments, the smallest and the largest one's rows
    assert (stats["num_fragments"], stats["lengths"]["min"], stats["lengths"]["max"]) == fragments
    assert len(first_files) == 2 and first_files <= data_files(tmp_path)  # the first compaction's: kept
    assert len(table.list_versions()) == 1 and table.count_rows() == 30


def data_files(folder: Path) -> set[str]:
    return {p.name for p in (folder / "docs__v1.lance" / "data").glob("*.lance")}
