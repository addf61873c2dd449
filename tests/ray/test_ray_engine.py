"""The Ray Data path against the emulator, through the real SDKs: exactly once, equal vectors, failures
as a column, the shared budget, and ``omnivec migrate --engine ray`` (one Ray instance for all)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from omnivec.providers import get_provider
from omnivec.providers.emulator import Emulator, Faults, emulator_env
from omnivec.providers.testing import allow_remote_calls

from .conftest import require_ray

require_ray()

import ray  # noqa: E402

from omnivec.providers.ray import embed_dataset, shared_budget  # noqa: E402
from omnivec.providers.stores import open_store, write_to_store  # noqa: E402

# Ray's own deprecation notices (about its settings, not ours) must not fail the run.
pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.*"),
    pytest.mark.filterwarnings("ignore::FutureWarning:ray.*"),
]

GEMINI = "gemini:gemini-embedding-2"
NOVA = "bedrock:amazon.nova-2-multimodal-embeddings-v1:0"


def collect(ds: object) -> tuple[list[str], np.ndarray, list[str | None]]:
    ids: list[str] = []
    vectors: list[np.ndarray] = []
    errors: list[str | None] = []
    for batch in ds.iter_batches(batch_size=2000, batch_format="pyarrow"):  # type: ignore[attr-defined]
        ids += batch.column("id").to_pylist()
        errors += batch.column("error_type").to_pylist()
        vectors += [
            np.full(128, np.nan, np.float32) if v is None else np.asarray(v, np.float32)
            for v in batch.column("embedding").to_pylist()
        ]
    return ids, np.stack(vectors), errors


def test_8000_rows_each_exactly_once_with_the_single_process_vectors(ray_emulator: Emulator) -> None:
    texts = {f"r{i:05d}": f"row {i} about topic {i % 97} with some words" for i in range(8_000)}
    with allow_remote_calls():
        expected = get_provider(GEMINI, dimensions=128).embed_sync(list(texts.values()), intent="document").vectors
    before = ray_emulator.stats.requests
    out = embed_dataset(
        # 16 blocks of 500 rows: each batch is whole (Ray's default 200 blocks of 40 rows split batches unevenly)
        ray.data.from_items([{"id": k, "text": t} for k, t in texts.items()], override_num_blocks=16),
        model=GEMINI,
        options={"dimensions": 128},
        actors=2,
        batch_size=500,
    )
    ids, vectors, errors = collect(out)
    assert len(ids) == 8_000 and len(set(ids)) == 8_000 and set(ids) == set(texts)
    assert errors == [None] * 8_000
    order = {k: n for n, k in enumerate(texts)}
    np.testing.assert_array_equal(vectors, expected[[order[i] for i in ids]])
    assert ray_emulator.stats.requests - before == 80  # 100 texts per call, no call made twice


def test_failures_are_a_column_never_dropped(ray_emulator: Emulator, tmp_path: Path) -> None:
    rows = [{"id": f"f{i}", "text": "" if i % 50 == 7 else f"text {i}"} for i in range(300)]
    rows.append({"id": "none", "text": None})
    ray_emulator.fail_next(400, "INVALID_ARGUMENT")  # one whole provider call (up to 100 rows) fails for good
    out = embed_dataset(ray.data.from_items(rows), model=GEMINI, options={"dimensions": 128}, actors=1, batch_size=100)
    out = out.materialize()
    ids, vectors, errors = collect(out)
    assert sorted(ids) == sorted(r["id"] for r in rows)
    by_id = dict(zip(ids, errors, strict=True))
    assert all(by_id[r["id"]] == "InvalidInputError" for r in rows if not r["text"])  # bad inputs: per row
    call_failures = [i for i, e in by_id.items() if e is not None and e != "InvalidInputError"]
    assert 1 <= len(call_failures) <= 100 and {by_id[i] for i in call_failures} == {"InvalidRequestError"}
    failed = np.array([e is not None for e in errors])
    assert np.isnan(vectors[failed]).all() and np.isfinite(vectors[~failed]).all()
    messages = [m for b in out.iter_batches(batch_format="pyarrow") for m in b.column("error_message").to_pylist() if m]
    assert len(messages) == failed.sum() and all(m.strip() for m in messages)
    out.write_parquet(str(tmp_path / "parquet"))
    table = pq.read_table(tmp_path / "parquet")
    assert table.num_rows == len(rows) and table.column("embedding").null_count == int(failed.sum())
    report = write_to_store(out, f"lancedb://{tmp_path / 'lance'}", "rows", model=GEMINI, options={"dimensions": 128})
    assert report["written"] == int((~failed).sum()) and len(report["failed"]) == int(failed.sum())
    with open_store(f"lancedb://{tmp_path / 'lance'}") as store:
        assert store.count("rows", report["version"]) == report["written"] and store.duplicate_ids("rows", 1) == 0


def test_the_shared_budget_holds_across_actors(ray_emulator: Emulator) -> None:
    # The endpoint grants 25 requests/s with a burst of 20; the job is given 20/s, shared by 2 actors with
    # 8+ calls in flight each. With a budget per actor instead of one shared (40/s in all) the 100 calls
    # take some 2.5 s, the endpoint has 20 + 62 tokens for them, and about 18 are throttled. Shared, the
    # endpoint's bucket stays full (it refills faster than the budget spends), so only a bunch of more than
    # 20 late wake-ups could be throttled. A burst of 10 was too small for a loaded CI machine: an actor
    # stalled half a second sent 10+ calls at once and 7 were throttled.
    count = 100
    with Emulator(Faults(rate_limit_rps=25, burst=20)) as strict:
        budget = shared_budget("test-budget", requests_per_second=20.0)
        out = embed_dataset(
            ray.data.from_items([{"id": str(i), "text": f"n {i}"} for i in range(count)]),
            model=NOVA,
            options={"dimensions": 256},
            actors=2,
            batch_size=25,
            budget=budget,
            env=emulator_env(strict.url),
        )
        ids, _, errors = collect(out.materialize())
        assert sorted(ids) == sorted(str(i) for i in range(count)) and errors == [None] * count
        booked = ray.get(budget.snapshot.remote())
        assert booked["requests"] == strict.stats.requests, (booked, strict.stats)  # every call went through it
        assert strict.stats.throttled <= 5, strict.stats


def test_migrate_engine_ray_is_resumable_and_exactly_once(ray_emulator: Emulator, tmp_path: Path) -> None:
    from omnivec.providers.cli import app, attach_commands

    attach_commands()
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(
        "".join(json.dumps({"_id": f"d{i}", "text": f"document {i} on topic {i % 9}"}) + "\n" for i in range(400))
    )
    url = f"lancedb://{tmp_path / 'lance'}"
    runner = CliRunner()
    assert (
        runner.invoke(app, ["index", str(corpus), "-c", "docs", "-m", "fake:a", "--store", url, "--no-cache"]).exit_code
        == 0
    )
    args = [
        "migrate",
        "docs",
        "--to",
        GEMINI,
        "--dimensions",
        "128",
        "--store",
        url,
        "--engine",
        "ray",
        "--batch-size",
        "50",
    ]
    with allow_remote_calls():
        stopped = runner.invoke(app, [*args, "--max-cost", "0.0001"])
        assert stopped.exit_code == 3 and "spend cap" in stopped.stderr, stopped.stderr
        with open_store(url) as store:
            partial = store.count("docs", 2)
        assert 0 < partial < 400
        done = runner.invoke(app, [*args, "--no-cache"])
        assert done.exit_code == 0, done.stderr
        assert f"{partial} already done" in done.stderr and "400 items" in done.stderr
        expected = (
            get_provider(GEMINI, dimensions=128)
            .embed_sync([f"document {i} on topic {i % 9}" for i in range(400)], intent="document")
            .vectors
        )
    with open_store(url) as store:
        assert store.count("docs", 2) == 400 and store.duplicate_ids("docs", 2) == 0
        got = {r.id: r.vector for rows in store.scan("docs", 2, 500, vectors=True) for r in rows}
    np.testing.assert_allclose(np.stack([got[f"d{i}"] for i in range(400)]), expected, rtol=0, atol=1e-6)


def test_migrate_refuses_an_unknown_engine_before_any_work(ray_emulator: Emulator, tmp_path: Path) -> None:
    from omnivec.providers.cli import app, attach_commands

    attach_commands()
    result = CliRunner().invoke(
        app, ["migrate", "docs", "--to", GEMINI, "--engine", "spark", "--store", f"lancedb://{tmp_path}"]
    )
    assert result.exit_code == 2 and result.stderr.startswith("error:") and "--engine" in result.stderr
