"""One line picks the store: OMNIVEC_STORE / OMNIVEC_STORE__* / [store] in omnivec.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnivec.providers.errors import InvalidOptionError
from omnivec.providers.stores import DEFAULT_STORE_URL, StoreSettings
from omnivec.providers.stores.config import configured_store_settings


def test_default_is_the_embedded_lancedb_folder(isolated_cwd: Path) -> None:
    assert configured_store_settings().url == DEFAULT_STORE_URL == "lancedb://./.omnivec"


def test_toml_then_environment_then_arguments(isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (isolated_cwd / "omnivec.toml").write_text('[store]\nurl = "postgresql://u@h/db"\nbatch_size = 64\n')
    assert configured_store_settings() == StoreSettings(url="postgresql://u@h/db", batch_size=64)
    monkeypatch.setenv("OMNIVEC_STORE", "lancedb:///data/vec")
    monkeypatch.setenv("OMNIVEC_STORE__EF_SEARCH", "200")
    settings = configured_store_settings(batch_size=8)
    assert (settings.url, settings.ef_search, settings.batch_size) == ("lancedb:///data/vec", 200, 8)


@pytest.mark.parametrize("bad", [{"url": "no-scheme"}, {"batch_size": 0}, {"indx": "hnsw"}, {"index": "faiss"}])
def test_bad_store_settings_are_one_line_errors(isolated_cwd: Path, bad: dict[str, object]) -> None:
    with pytest.raises(InvalidOptionError) as caught:
        configured_store_settings(**bad)
    assert "\n" not in str(caught.value) and "store." in str(caught.value)
