"""LanceDB keeps a table version per commit: a migration drops the ones of the version it builds
(no reader serves it, the lock makes it the only writer); a served version keeps them (a reader may
still be on one)."""

from __future__ import annotations

from pathlib import Path

import lancedb
import pytest

from omnivec.providers.cache import content_key
from omnivec.providers.stores import SourceItem, index_items, migrate, open_store
from omnivec.providers.stores import lance as lance_store
from omnivec.providers.testing import FakeProvider

TEXTS = [f"item {i} is about {topic}" for i, topic in enumerate(["cats", "tax law", "pasta"] * 10)]


def versions_of(folder: Path, table: str) -> int:
    return len(lancedb.connect(str(folder)).open_table(table).list_versions())


def test_a_migration_leaves_one_table_version_and_a_served_version_keeps_its_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lance_store, "_OPTIMIZE_EVERY", 4)  # compactions during these few commits
    store = open_store(f"lancedb://{tmp_path}", batch_size=3)
    items = [SourceItem(f"id{i}", content_key(t), t, None, {}) for i, t in enumerate(TEXTS)]
    index_items(store, "docs", items, provider=FakeProvider("a", max_batch_size=3))
    report = migrate(store, "docs", FakeProvider("b", max_batch_size=3), cache=False)
    assert report.count == len(TEXTS) and not report.problems
    assert versions_of(tmp_path, "docs__v2") == 1  # 10 commits, 2 compactions, the full-text index
    assert versions_of(tmp_path, "docs__v1") > 10  # the live version: every commit is still there
    assert len(store.search("docs", 2, FakeProvider("b").embed_one(TEXTS[4], "query"), 1)) == 1
    store.close()
