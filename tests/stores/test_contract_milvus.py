"""The shipped store contract on Milvus Lite (the real engine in-process, through pymilvus: the code path of
a Milvus server or Zilliz, which cannot run here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnivec.providers.stores import open_store
from omnivec.providers.testing.store_contract import StoreContract, StoreFactory

pytest.importorskip("pymilvus", reason='the Milvus extra is not installed: pip install "omnivec[milvus]"')
pytest.importorskip("milvus_lite", reason='the Milvus extra is not installed: pip install "omnivec[milvus]"')


class TestMilvusLite(StoreContract):
    @pytest.fixture
    def store_url(self, tmp_path: Path) -> str:
        return f"milvus+lite://{tmp_path / 'milvus.db'}"  # not read from a handle: the engine is one process per folder

    @pytest.fixture
    def make_store(self, store_url: str) -> StoreFactory:
        return lambda **settings: open_store(store_url, cache=None, **settings)
