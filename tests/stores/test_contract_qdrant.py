"""The shipped store contract on Qdrant through qdrant-client's local mode (the same client a Qdrant server
uses; no server can run here, so the server path is covered by tests/stores/test_xstores_bad_inputs.py only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


def test_a_version_made_before_sparse_vectors_still_takes_rows_and_refuses_lexical_search_in_one_line(
    tmp_path: Path,
) -> None:
    from qdrant_client import models

    from omnivec.providers.stores import StoreError
    from omnivec.providers.testing.store_contract import DIMS, contract_fingerprint, contract_rows

    with open_store(f"qdrant+local://{tmp_path / 'q'}", cache=None) as store:
        fingerprint = contract_fingerprint()
        store.create_version("docs", 1, fingerprint)
        client: Any = store._c  # type: ignore[attr-defined]
        client.delete_collection("docs__v1")  # as an older release made it: the dense vector only
        client.create_collection(
            "docs__v1", vectors_config=models.VectorParams(size=DIMS, distance=models.Distance.COSINE)
        )
        store.upsert("docs", 1, contract_rows(3), fingerprint=fingerprint)
        assert store.count("docs", 1) == 3 and store.build_lexical_index("docs", 1) is None
        with pytest.raises(StoreError, match=r"made before .* 'omnivec migrate docs'") as refused:
            store.lexical_search("docs", 1, "zebra", 5)
        assert "\n" not in str(refused.value)
