"""The provider is gone tomorrow: a collection embedded by Nova, whose emulator is stopped and whose AWS
credentials are removed, is adapted to Gemini through the emulator (the real SDKs), served via the
adapter, searched and compared; only the old-model row of ``compare`` could not be computed.
``adapt`` of N embeds exactly N sources; kill -9 during ``adapt``, then a rerun: the same adapter,
at most one batch re-embedded."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from omnivec.providers.cache import content_key
from omnivec.providers.cli import app, attach_commands
from omnivec.providers.emulator import Emulator, apply_emulator_environment, emulator_env
from omnivec.providers.emulator.server import Faults
from omnivec.providers.stores import SourceItem, adapt, index_items, open_store
from omnivec.providers.testing import FakeProvider, allow_remote_calls

from .test_crash import Forker, _alive

attach_commands()
NOVA = "bedrock:amazon.nova-2-multimodal-embeddings-v1:0"
GEMINI = "gemini:gemini-embedding-2"
WORDS = ["cat", "dog", "tax", "law", "rust", "code", "pasta", "river", "bank", "opera", "goal", "match"]


def items(n: int) -> list[SourceItem]:
    texts = [" ".join(WORDS[(i * 7 + j * 3 + i // 5) % len(WORDS)] for j in range(6)) + f" n{i}" for i in range(n)]
    return [SourceItem(f"d{i:04d}", content_key(t), t) for i, t in enumerate(texts)]


def cli(*args: str) -> object:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def nova_collection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """``docs``, 80 items embedded by Nova through an emulator that is then stopped; another emulator
    up, reached with Gemini's key only: the AWS credentials are removed, so no Nova call can be made."""
    url = f"lancedb://{tmp_path / 'lance'}"
    with allow_remote_calls():
        with monkeypatch.context() as during_index, Emulator() as old:
            apply_emulator_environment(old.url, during_index.setenv, lambda n: during_index.delenv(n, raising=False))
            store = open_store(url)
            try:
                from omnivec.providers import get_provider

                index_items(store, "docs", items(80), provider=get_provider(NOVA, dimensions=256))
            finally:
                store.close()
        with Emulator() as new:
            apply_emulator_environment(new.url, monkeypatch.setenv, lambda n: monkeypatch.delenv(n, raising=False))
            for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
                monkeypatch.delenv(name, raising=False)
            monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no credential hunt on an instance service
            monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
            monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
            yield url, new  # type: ignore[misc]


def test_adapt_switch_search_and_compare_work_with_the_old_provider_gone(nova_collection: tuple[str, Emulator]) -> None:
    url, new = nova_collection
    capped = cli("adapt", "docs", "--to", GEMINI, "--sample", "30", "--max-cost", "0.0000001", "--store", url)
    assert capped.exit_code == 2 and "over --max-cost" in capped.stderr and new.stats.items == 0  # type: ignore[attr-defined]
    done = cli("adapt", "docs", "--to", GEMINI, "--dimensions", "128", "--sample", "30", "--store", url)
    assert done.exit_code == 0, done.stderr  # type: ignore[attr-defined]
    assert new.stats.items == 30  # an adapt of N embeds exactly N sources, with the new model only
    report = json.loads(done.stdout)  # type: ignore[attr-defined]
    assert (report["sample"], report["embedded"], report["model"]) == (30, 30, GEMINI)
    switched = cli("switch", "docs", "--via-adapter", "--force", "--store", url)
    assert switched.exit_code == 0 and "via adapter from gemini:gemini-embedding-2/128" in switched.stderr  # type: ignore[attr-defined]
    hits = cli("search", "docs", "tax law river", "-k", "3", "--store", url)
    assert hits.exit_code == 0 and len(hits.stdout.splitlines()) == 3, hits.stderr  # type: ignore[attr-defined]
    compared = cli("compare", "docs", "--adapter", "--sample", "5", "-k", "3", "--store", url)
    assert compared.exit_code == 0, compared.stderr  # type: ignore[attr-defined]
    rows = json.loads(compared.stdout)["rows"]  # type: ignore[attr-defined]
    assert rows["old"]["error"].startswith("could not be computed") and rows["adapter"]["model"] == GEMINI
    assert "old model: could not be computed" in compared.stderr and "credentials" in rows["old"]["error"]  # type: ignore[attr-defined]
    assert new.stats.items == 30 + 1 + 5  # the search, the 5 compare queries: never more
    assert {r["protocol"] for r in new.requests_log} == {"gemini"}  # not one Nova request was tried


BATCH, SAMPLE = 20, 200


@pytest.fixture
def slow_gemini() -> Iterator[Emulator]:
    with Emulator(Faults(latency_ms=60)) as emu:
        yield emu


def test_kill_9_during_adapt_then_rerun_fits_the_same_adapter_and_re_embeds_at_most_one_batch(
    tmp_path: Path, slow_gemini: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"lancedb://{tmp_path / 'lance'}"
    store = open_store(url)
    try:
        index_items(store, "docs", items(260), provider=FakeProvider("a"), cache=False)
    finally:
        store.close()
    args = ["adapt", "docs", "--to", GEMINI, "--dimensions", "128", "--sample", str(SAMPLE),
            "--batch-size", str(BATCH), "--store", url]  # fmt: skip
    env = emulator_env(slow_gemini.url) | {"XDG_CACHE_HOME": str(tmp_path / "user-cache"), "OMP_NUM_THREADS": "1"}
    forker = Forker(tmp_path, env)  # one BLAS thread: the fit of a loaded 2-core machine spun otherwise
    try:
        pid = forker.start(args)
        while _alive(pid) and slow_gemini.stats.items < 3 * BATCH:
            time.sleep(0.002)
        os.kill(pid, signal.SIGKILL)
        assert forker.outcome() == f"signal {signal.SIGKILL.value}"
        killed_at = slow_gemini.stats.items
        assert BATCH <= killed_at < SAMPLE
        forker.start(args)
        assert forker.outcome() == "exit 0"
    finally:
        forker.close()
    assert SAMPLE <= slow_gemini.stats.items <= SAMPLE + BATCH  # at most one batch paid twice
    store = open_store(url)
    try:
        [stored] = store.adapters("docs", 1)
        with allow_remote_calls():
            apply_emulator_environment(
                slow_gemini.url, monkeypatch.setenv, lambda n: monkeypatch.delenv(n, raising=False)
            )
            clean = adapt(store, "docs", GEMINI, dimensions=128, sample=SAMPLE, cache=False)
    finally:
        store.close()
    assert clean.digest == stored.digest  # the resumed run fitted the very adapter a clean run fits
