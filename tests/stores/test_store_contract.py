"""The shipped store contract (omnivec.providers.testing.store_contract) on the two built-in stores:
LanceDB in a temporary folder and PostgreSQL + pgvector (a fresh database on the session's server).
The bugs it found in them are listed in ``known_bugs`` (strict xfails) until they are fixed."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnivec.providers.stores import open_store
from omnivec.providers.testing.store_contract import StoreContract, StoreFactory

from .conftest import fresh_database


class TestLanceDB(StoreContract):
    @pytest.fixture
    def make_store(self, tmp_path: Path) -> StoreFactory:
        url = f"lancedb://{tmp_path / 'lance'}"
        return lambda **settings: open_store(url, cache=None, **settings)


class TestPgVector(StoreContract):
    @pytest.fixture
    def make_store(self, pg_server: str) -> StoreFactory:
        url = fresh_database(pg_server)
        return lambda **settings: open_store(url, cache=None, **settings)
