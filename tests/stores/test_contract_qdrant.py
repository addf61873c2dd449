"""The shipped store contract on Qdrant through qdrant-client's local mode (the same client a Qdrant server
uses; no server can run here, so the server path is covered by tests/stores/test_xstores_bad_inputs.py only)."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnivec.providers.stores import open_store
from omnivec.providers.testing.store_contract import StoreContract, StoreFactory

pytest.importorskip("qdrant_client", reason='the Qdrant extra is not installed: pip install "omnivec[qdrant]"')


class TestQdrantLocal(StoreContract):
    @pytest.fixture
    def store_url(self, tmp_path: Path) -> str:
        return f"qdrant+local://{tmp_path / 'qdrant'}"  # not read from a handle: the engine is one process per folder

    @pytest.fixture
    def make_store(self, store_url: str) -> StoreFactory:
        return lambda **settings: open_store(store_url, cache=None, **settings)
