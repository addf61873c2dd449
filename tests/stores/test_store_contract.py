"""The shipped store contract (omnivec.providers.testing.store_contract) on the two built-in stores:
LanceDB in a temporary folder and PostgreSQL + pgvector (a fresh database on the session's server).
The bugs it found in them are listed in ``known_bugs`` (strict xfails) until they are fixed."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest

from omnivec.providers.stores import open_store
from omnivec.providers.testing.store_contract import StoreContract, StoreFactory

from .conftest import fresh_database


class TestLanceDB(StoreContract):
    known_bugs: ClassVar[dict[str, str]] = {
        "test_a_batch_with_one_vector_of_the_wrong_width_is_a_store_error": (
            "LanceStore.upsert stacks the vectors before its width check: a batch of mixed widths is numpy's bare "
            "ValueError ('all input arrays must have the same shape'), not StoreError"
        ),
        "test_a_vector_that_is_not_finite_is_a_store_error_and_nothing_of_the_batch_is_written": (
            "LanceStore.upsert hands non-finite vectors to lancedb: NaN is refused as a bare RuntimeError ('Arrow "
            "error: ... Vector column has NaNs'), not StoreError; +inf is stored silently and that row is then never "
            "returned by search (k=5 over 4 rows gave 3)"
        ),
    }

    @pytest.fixture
    def make_store(self, tmp_path: Path) -> StoreFactory:
        url = f"lancedb://{tmp_path / 'lance'}"
        return lambda **settings: open_store(url, cache=None, **settings)


class TestPgVector(StoreContract):
    known_bugs: ClassVar[dict[str, str]] = {
        "test_a_vector_that_is_not_finite_is_a_store_error_and_nothing_of_the_batch_is_written": (
            "PgVectorStore.upsert's binary COPY meets pgvector's 'NaN not allowed in vector' outside the try that "
            "turns refusals into StoreError: a bare psycopg DataException"
        ),
    }

    @pytest.fixture
    def make_store(self, pg_server: str) -> StoreFactory:
        url = fresh_database(pg_server)
        return lambda **settings: open_store(url, cache=None, **settings)
