"""The bench command never hides a problem: failed items, bad flags, credentials, Ctrl-C."""

from __future__ import annotations

import asyncio
import time
from contextlib import suppress
from pathlib import Path

import pytest
from typer.testing import CliRunner

from omnivec.benchmarks import BenchConfig, load_results
from omnivec.benchmarks.cli import _credential_hints
from omnivec.benchmarks.datasets import load_tasks
from omnivec.benchmarks.runner import run_task
from omnivec.providers.cli import app, attach_commands
from omnivec.providers.errors import InvalidRequestError
from omnivec.providers.testing import FakeProvider


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    attach_commands()
    return CliRunner()


@pytest.fixture
def rejecting_fake(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fake rejects every call holding a document about cancer, as a provider rejects bad input."""
    original = FakeProvider._embed_batch

    async def rejecting(self, batch, *, intent):  # type: ignore[no-untyped-def]
        if intent == "document" and any("cancer" in str(item).lower() for item in batch):
            raise InvalidRequestError("rejected by the test provider", provider="fake")
        return await original(self, batch, intent=intent)

    monkeypatch.setattr(FakeProvider, "_embed_batch", rejecting)


def test_failed_items_show_in_table_report_and_exit_status(
    cli: CliRunner, tmp_path: Path, rejecting_fake: None
) -> None:
    out = cli.invoke(app, ["bench", "--providers", "fake", "--latency-queries", "2", "--no-plots", "--no-cache"])
    assert out.exit_code == 1, out.output
    (folder,) = (tmp_path / "results").iterdir()
    fake = load_results(folder / "results.json").run("fake", "scifact-nano")
    assert fake.failures.documents > 0 and fake.failures.queries == 0
    example = fake.failures.examples[0]
    assert example.side == "document" and example.id and "rejected by the test provider" in example.error
    assert f"fake on scifact-nano: 0 queries and {fake.failures.documents} documents failed" in out.output
    assert "--allow-failures" in out.output
    row = next(line for line in out.output.splitlines() if line.startswith("fake "))
    assert row.split()[-1] == str(fake.failures.documents)  # the failed column
    report = (folder / "report.md").read_text()
    assert "FAILED ITEMS" in report and example.id in report
    again = cli.invoke(
        app, ["bench", "--providers", "fake", "--latency-queries", "2", "--no-plots", "--no-cache", "--allow-failures"]
    )
    assert again.exit_code == 0, again.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dims", "abc"], "--dims 'abc': give comma-separated whole numbers"),
        (["--dims", "0,128"], "positive"),
        (["--main-metric", "ndcg@7"], "main_metric"),
        (["--retrievers", "tfidf"], "unknown retriever 'tfidf'"),
        (["--baseline", "nope"], "baseline 'nope' names no row"),
        (["--out", "taken"], "is a file, not a folder"),
        (["--out", "taken/inner"], "is a file, not a folder"),
        (["--retrievers", ""], "--retrievers '' names nothing"),
        (["--retrievers", " , "], "names nothing"),
        (["--dims", ""], "--dims ''"),
        (["--out", "/proc/omnivec-results"], "cannot create folders in '/proc'"),
    ],
)
def test_bad_flags_fail_before_any_work(cli: CliRunner, tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "taken").write_text("a file")
    out = cli.invoke(app, ["bench", "--providers", "fake", *args])
    assert out.exit_code == 2, out.output
    assert message in out.output and "Traceback" not in out.output
    assert len([line for line in out.output.splitlines() if line.strip()]) == 1
    assert not (tmp_path / ".omnivec-cache").exists() and not (tmp_path / "results").exists()


@pytest.mark.parametrize("value", ["", " ", ","])
def test_blank_providers_are_refused_not_read_as_none(cli: CliRunner, tmp_path: Path, value: str) -> None:
    # `--providers "$PROVIDERS"` with the variable unset ran the BM25 row alone and exited 0.
    out = cli.invoke(app, ["bench", "--providers", value, "--no-plots"])
    assert out.exit_code == 2, out.output
    assert "--providers" in out.output and "names nothing" in out.output and "'none'" in out.output
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(("flags", "says"), [(["--no-cache"], "nothing was kept"), ([], "kept in the cache")])
def test_an_interrupted_run_says_what_was_kept(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch, flags: list[str], says: str
) -> None:
    async def interrupted(self, batch, *, intent):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt  # Ctrl-C while the fake embeds

    monkeypatch.setattr(FakeProvider, "_embed_batch", interrupted)
    out = cli.invoke(app, ["bench", "--providers", "fake", "--retrievers", "none", "--no-plots", *flags])
    assert out.exit_code == 130, out.output
    assert "interrupted: no results written" in out.output and says in out.output


def test_a_config_file_error_is_one_line(cli: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "bench.toml").write_text('providers = ["fake"\nlatency = 2\n')
    out = cli.invoke(app, ["bench", "--config", "bench.toml"])
    assert out.exit_code == 2 and "bench.toml: not valid TOML" in out.output
    (tmp_path / "bench.toml").write_text('providers = ["fake"]\nlatency = 2\n')
    out = cli.invoke(app, ["bench", "--config", "bench.toml"])
    assert out.exit_code == 2 and "bench.toml: latency: Extra inputs are not permitted" in out.output


def test_a_config_file_may_start_with_a_byte_order_mark(tmp_path: Path) -> None:
    from omnivec.benchmarks import load_bench_config

    (tmp_path / "bench.toml").write_bytes(b'\xef\xbb\xbfproviders = ["fake"]\n')  # as Notepad saves it
    assert load_bench_config(tmp_path / "bench.toml").providers == ["fake"]


def test_credentials_in_the_environment_are_mentioned_never_used(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "GEMINI_API_KEY",
        "GOOGLE_API_KEY",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "AWS_ACCESS_KEY_ID",
        "AWS_PROFILE",
        "AWS_BEARER_TOKEN_BEDROCK",
    ):
        monkeypatch.delenv(name, raising=False)
    assert _credential_hints(BenchConfig()) == []
    monkeypatch.setenv("GEMINI_API_KEY", "secret-value")
    (hint,) = _credential_hints(BenchConfig())
    assert "--providers local,gemini" in hint and "paid" in hint and "secret-value" not in hint
    assert BenchConfig().provider_refs() == ["local"]  # nothing added unasked
    assert BenchConfig().retrievers == ["bm25"]  # the default run compares two rows
    assert _credential_hints(BenchConfig(providers=["local"])) == []  # the user chose the rows


def test_emulate_adds_the_cloud_rows() -> None:
    from omnivec.providers.registry import builtin_providers

    refs = BenchConfig(emulate=True).provider_refs()
    assert refs[0] == "local" and {"bedrock", "gemini"} <= set(refs[1:])
    assert all(builtin_providers()[name].emulated for name in refs[1:])


class SlowLocal(FakeProvider):
    """A local model that blocks a worker thread while it encodes, as Sentence Transformers does."""

    async def _embed_batch(self, batch, *, intent):  # type: ignore[no-untyped-def]
        await asyncio.to_thread(time.sleep, 0.01 * len(batch))
        return await super()._embed_batch(batch, intent=intent)


def test_interrupting_a_local_run_returns_within_two_seconds() -> None:
    provider = SlowLocal(max_batch_size=4096, default_concurrency=1)  # one chunk: 800 documents take 8 s
    task = load_tasks("scifact-nano")[0]
    config = BenchConfig(latency_queries=0, cache=None)

    async def interrupt_during_the_corpus() -> None:
        job = asyncio.create_task(run_task(provider, task, label="slow", config=config, cache=None, emulated=False))
        await asyncio.sleep(1.5)  # queries took 0.5 s: the corpus is being embedded now
        job.cancel()
        with suppress(asyncio.CancelledError):
            await job

    began = time.perf_counter()
    asyncio.run(interrupt_during_the_corpus())  # returns once the worker thread is free
    assert time.perf_counter() - began - 1.5 < 2.0


def test_the_example_config_is_valid() -> None:
    from omnivec.benchmarks import load_bench_config

    example = load_bench_config(Path(__file__).resolve().parents[2] / "examples" / "bench.toml")
    assert example.emulate and example.baseline == "bm25" and len(example.provider_refs()) == 3


def test_a_dims_sweep_never_drops_a_size_silently(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from omnivec.providers.cli import app, attach_commands

    attach_commands()
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["bench", "--providers", "fake", "--dims", "32,99999", "--no-plots"])
    assert result.exit_code == 0
    assert "99999" in result.output and "skipped" in result.output
