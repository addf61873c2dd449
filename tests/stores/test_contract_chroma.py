"""The shipped store contract on Chroma's embedded PersistentClient (a Chroma server, the HTTP client's
other end, cannot run here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnivec.providers.stores import open_store
from omnivec.providers.testing.store_contract import StoreContract, StoreFactory

pytest.importorskip("chromadb", reason='the Chroma extra is not installed: pip install "omnivec[chroma]"')


class TestChromaLocal(StoreContract):
    @pytest.fixture
    def store_url(self, tmp_path: Path) -> str:
        return f"chroma+local://{tmp_path / 'chroma'}"  # not read from a handle: the engine is one process per folder

    @pytest.fixture
    def make_store(self, store_url: str) -> StoreFactory:
        return lambda **settings: open_store(store_url, cache=None, **settings)
