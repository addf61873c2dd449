"""Real stores for the contract suite: a LanceDB folder per test, and one PostgreSQL 16 + pgvector
server per session (from the pgserver wheel, on 127.0.0.1, run as a non-root user when we are root)
with a fresh database per test. ``OMNIVEC_TEST_PG_URL`` points the suite at a server of your own.

Without a server the pgvector half skips with the reason printed; under ``CI=true`` it fails instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

psycopg = pytest.importorskip("psycopg", reason='the stores extra is not installed: pip install "omnivec[stores]"')
pytest.importorskip("lancedb", reason='the stores extra is not installed: pip install "omnivec[stores]"')


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """URL of a running PostgreSQL with pgvector (started here unless OMNIVEC_TEST_PG_URL is set)."""
    given = os.environ.get("OMNIVEC_TEST_PG_URL")
    if given:
        yield given
        return
    from omnivec.providers.stores.pgdev import start_local_postgres

    try:
        server = start_local_postgres()  # a temporary data folder of its own
    except Exception as exc:
        reason = f"no PostgreSQL server could be started: {type(exc).__name__}: {exc}"
        if _in_ci():
            pytest.fail(reason + " (CI=true: the pgvector tests must run)")
        pytest.skip(reason)
    yield server.url
    server.stop(remove=True)


def fresh_database(admin_url: str) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(params=["lancedb", "pgvector"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store of each kind."""
    if request.param == "lancedb":
        return f"lancedb://{tmp_path / 'lance'}"
    return fresh_database(request.getfixturevalue("pg_server"))


@pytest.fixture
def store(store_url: str, tmp_path: Path) -> Iterator[object]:
    from omnivec.providers.stores import open_store

    opened = open_store(store_url, cache=str(tmp_path / "cache.sqlite"), batch_size=16)
    yield opened
    opened.close()
