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
    def make_store(self, tmp_path: Path) -> StoreFactory:
        url = f"chroma+local://{tmp_path / 'chroma'}"
        return lambda **settings: open_store(url, cache=None, **settings)
