"""The Gemini Batch API path (``embed_bulk``) through google-genai against the emulator's batch routes."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from omnivec.providers import InvalidOptionError, ProviderTimeoutError, ServiceUnavailableError, get_provider
from omnivec.providers.emulator import Emulator
from omnivec.providers.gemini import BatchJobFailedError
from omnivec.providers.settings import RetryPolicy

TEXTS = [f"document {i} about topic {i % 7}" for i in range(40)]


def bulk(provider: Any, texts: list[str], state: Path, **kwargs: Any) -> Any:
    return asyncio.run(provider.embed_bulk(texts, intent="document", state_path=state, poll_s=0.05, **kwargs))


def paths(emulator: Emulator) -> list[str]:
    return [e["path"] for e in emulator.requests_log]


@pytest.mark.parametrize("model", ["gemini-embedding-2", "gemini-embedding-001"])
def test_submit_poll_fetch_gives_the_online_vectors_in_order(
    omnivec_emulator: Emulator, tmp_path: Path, model: str
) -> None:
    omnivec_emulator.batches.delay_s = 1.0  # long enough to be polled twice on a busy machine
    provider = get_provider(f"gemini:{model}", dimensions=256)
    result = bulk(provider, TEXTS, tmp_path / "job.json")
    create = next(e for e in omnivec_emulator.requests_log if e["path"].endswith(":asyncBatchEmbedContent"))
    sent = json.loads(create["body"])["batch"]
    assert sent["displayName"] == "omnivec-bulk"
    requests = sent["inputConfig"]["requests"]["requests"]
    assert len(requests) == len(TEXTS) and requests[0]["request"]["outputDimensionality"] == 256
    assert create["path"] == f"/v1beta/models/{model}:asyncBatchEmbedContent"  # where Google documents it
    assert sum(p.startswith("/v1beta/batches/") for p in paths(omnivec_emulator)) >= 2  # polled while PENDING / RUNNING
    online = provider.embed_sync(TEXTS, intent="document")
    np.testing.assert_allclose(result.vectors, online.vectors, atol=1e-6)
    assert result.fingerprint == online.fingerprint
    np.testing.assert_allclose(np.linalg.norm(result.vectors, axis=1), 1.0, atol=1e-5)  # 001 normalized too
    assert result.usage.requests == 1 and result.usage.input_tokens
    assert not (tmp_path / "job.json").exists()  # done: the state file is gone


def test_resume_by_job_name_after_a_restart_without_resubmitting(omnivec_emulator: Emulator, tmp_path: Path) -> None:
    omnivec_emulator.batches.delay_s = 1.0
    state = tmp_path / "job.json"
    with pytest.raises(ProviderTimeoutError, match="run again with state_path"):
        bulk(get_provider("gemini:gemini-embedding-2", dimensions=128), TEXTS, state, timeout_s=0.2)
    (job,) = json.loads(state.read_text())["jobs"]
    assert job["name"].startswith("batches/") and omnivec_emulator.batches.created == 1
    fresh = get_provider("gemini:gemini-embedding-2", dimensions=128)  # a new process would build a new one
    result = bulk(fresh, TEXTS, state)
    assert omnivec_emulator.batches.created == 1  # polled the recorded job, paid once
    assert f"/v1beta/{job['name']}" in paths(omnivec_emulator)[-1]
    np.testing.assert_allclose(result.vectors, fresh.embed_sync(TEXTS, intent="document").vectors, atol=1e-6)


def test_failed_polls_are_retried_by_the_providers_retry_policy(omnivec_emulator: Emulator, tmp_path: Path) -> None:
    """Issue 19: polling had a retry loop of its own (up to 5 failed polls in a row, whatever the
    provider's policy); polls now go through the provider's one retry policy."""
    omnivec_emulator.batches.delay_s = 1.0
    pending = {}
    for name in ("strict", "default"):  # two submitted jobs, still running: the next runs poll them
        pending[name] = tmp_path / f"{name}.json"
        with pytest.raises(ProviderTimeoutError):
            bulk(get_provider("gemini:gemini-embedding-2", dimensions=128), TEXTS, pending[name], timeout_s=0.2)
    omnivec_emulator.fail_next(503)
    strict = get_provider("gemini:gemini-embedding-2", dimensions=128, retry=RetryPolicy(max_attempts=1))
    with pytest.raises(ServiceUnavailableError):  # one attempt per call: the failed poll is final
        bulk(strict, TEXTS, pending["strict"])
    omnivec_emulator.fail_next(503)
    omnivec_emulator.fail_next(429)
    result = bulk(get_provider("gemini:gemini-embedding-2", dimensions=128), TEXTS, pending["default"])
    assert result.ok and omnivec_emulator.batches.created == 2  # both failed polls retried, nothing resubmitted


def test_changed_inputs_are_not_served_by_the_recorded_job(omnivec_emulator: Emulator, tmp_path: Path) -> None:
    omnivec_emulator.batches.delay_s = 0.0
    provider = get_provider("gemini:gemini-embedding-2", dimensions=128)
    state = tmp_path / "job.json"
    bulk(provider, TEXTS, state, keep_state=True)
    bulk(provider, [*TEXTS[:-1], "an edited last document"], state)
    assert omnivec_emulator.batches.created == 2


def test_a_failed_job_raises_a_typed_error_and_the_next_run_resubmits(
    omnivec_emulator: Emulator, tmp_path: Path
) -> None:
    omnivec_emulator.batches.delay_s = 0.0
    omnivec_emulator.batches.fail_next()
    provider = get_provider("gemini:gemini-embedding-2", dimensions=128)
    state = tmp_path / "job.json"
    with pytest.raises(BatchJobFailedError, match="JOB_STATE_FAILED") as info:
        bulk(provider, TEXTS, state)
    assert info.value.job.startswith("batches/") and info.value.code == "JOB_STATE_FAILED"
    assert json.loads(state.read_text())["jobs"] == []  # forgotten, so the next run submits again
    assert bulk(provider, TEXTS, state).vectors.shape == (40, 128)
    assert omnivec_emulator.batches.created == 2


def test_shuffled_keyed_results_land_on_their_own_rows(omnivec_emulator: Emulator, tmp_path: Path) -> None:
    omnivec_emulator.batches.delay_s, omnivec_emulator.batches.shuffle = 0.0, True
    provider = get_provider("gemini:gemini-embedding-2", dimensions=128)
    result = bulk(provider, TEXTS, tmp_path / "job.json")
    np.testing.assert_allclose(result.vectors, provider.embed_sync(TEXTS, intent="document").vectors, atol=1e-6)


@pytest.mark.parametrize("shuffle", [False, True])
def test_the_file_form_uploads_jsonl_and_places_shuffled_keyed_results(
    omnivec_emulator: Emulator, tmp_path: Path, shuffle: bool
) -> None:
    import io

    from PIL import Image as PILImage

    from omnivec.providers import Image

    png = io.BytesIO()
    PILImage.new("RGB", (8, 8), "red").save(png, format="PNG")
    omnivec_emulator.batches.delay_s, omnivec_emulator.batches.shuffle = 0.2, shuffle
    provider: Any = get_provider("gemini:gemini-embedding-2", dimensions=128)
    inputs: list[Any] = [*TEXTS, Image(data=png.getvalue(), mime_type="image/png")]
    result = asyncio.run(provider.embed_bulk(inputs, intent="document", state_path=tmp_path / "j.json", form="file"))
    seen = paths(omnivec_emulator)
    assert "/upload/v1beta/files" in seen and any(p.startswith("/upload/v1beta/files/session/") for p in seen)
    uploaded = next(v for k, v in omnivec_emulator.batches.files.items() if not k.startswith("files/batch-"))
    lines = [json.loads(line) for line in uploaded.decode().splitlines()]
    assert lines[0] == {
        "key": "0",
        "request": {"content": {"parts": [{"text": f"title: none | text: {TEXTS[0]}"}]}, "output_dimensionality": 128},
    }
    assert any(p.endswith(":download") for p in seen)
    online = provider.embed_sync(inputs, intent="document")
    np.testing.assert_allclose(result.vectors, online.vectors, atol=1e-6)


@pytest.mark.parametrize(("form", "uploads"), [("inline", 0), ("auto", 3)])  # auto: more than one inline job -> files
def test_big_inputs_split_into_several_jobs_in_order(
    omnivec_emulator: Emulator, tmp_path: Path, form: Any, uploads: int
) -> None:
    omnivec_emulator.batches.delay_s = 0.0
    from omnivec.providers.gemini import GeminiBatchJob

    provider = get_provider("gemini:gemini-embedding-2", dimensions=128)
    job = GeminiBatchJob(provider, tmp_path / "job.json", poll_s=0.05, max_job_items=15, form=form)
    result = asyncio.run(job.run(TEXTS, intent="query"))
    assert omnivec_emulator.batches.created == 3 and result.usage.requests == 3
    assert paths(omnivec_emulator).count("/upload/v1beta/files") == uploads
    np.testing.assert_allclose(result.vectors, provider.embed_sync(TEXTS, intent="query").vectors, atol=1e-6)


def test_vertex_mode_is_refused_before_any_call(omnivec_emulator: Emulator, tmp_path: Path) -> None:
    provider = get_provider("gemini:gemini-embedding-2", vertexai=True, project="p", location="us-central1")
    before = omnivec_emulator.stats.requests
    with pytest.raises(InvalidOptionError, match="Developer-API only"):
        bulk(provider, TEXTS, tmp_path / "job.json")
    assert omnivec_emulator.stats.requests == before


def _post(emulator: Emulator, path: str, body: Any, method: str = "POST") -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(emulator.url + path, data=data, method=method, headers={"x-goog-api-key": "k"})
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"batch": {"inputConfig": {"requests": {"requests": []}}}}, "must not be empty"),
        (
            {
                "batch": {
                    "inputConfig": {
                        "requests": {
                            "requests": [{"request": {"content": {"parts": [{"text": "a"}]}, "outputDimension": 8}}]
                        }
                    }
                }
            },
            "Unknown name",
        ),
        (
            {
                "batch": {
                    "inputConfig": {
                        "requests": {
                            "requests": [
                                {"request": {"content": {"parts": [{"text": "a"}]}, "outputDimensionality": 8}}
                            ]
                        }
                    }
                }
            },
            "128 and 3072",
        ),
        ({"batch": {"displayName": "x"}}, "exactly one of requests or file_name"),
        ({"batch": {"inputConfig": {"file_name": "files/nope"}}}, "was not found"),
        ({"requests": []}, "must be {"),
    ],
)
def test_the_emulator_refuses_malformed_batches(omnivec_emulator: Emulator, body: Any, needle: str) -> None:
    status, answer = _post(omnivec_emulator, "/v1beta/models/gemini-embedding-2:asyncBatchEmbedContent", body)
    assert status == 400 and answer["error"]["status"] == "INVALID_ARGUMENT" and needle in answer["error"]["message"]


def test_the_emulator_reports_state_transitions_cancel_and_unknown_jobs(omnivec_emulator: Emulator) -> None:
    omnivec_emulator.batches.delay_s = 60.0
    body = {
        "batch": {"inputConfig": {"requests": {"requests": [{"request": {"content": {"parts": [{"text": "a"}]}}}]}}}
    }
    status, job = _post(omnivec_emulator, "/v1beta/models/gemini-embedding-001:asyncBatchEmbedContent", body)
    assert status == 200 and job["metadata"]["state"] == "BATCH_STATE_PENDING" and not job["done"]
    assert _post(omnivec_emulator, f"/v1beta/{job['name']}:cancel", {})[0] == 200
    status, now = _post(omnivec_emulator, f"/v1beta/{job['name']}", None, "GET")
    assert now["metadata"]["state"] == "BATCH_STATE_CANCELLED" and now["done"]
    assert _post(omnivec_emulator, "/v1beta/batches/nope", None, "GET")[0] == 404
    assert _post(omnivec_emulator, f"/v1beta/{job['name']}", {}, "POST")[0] == 405


# --- engine="batch" on the store commands ---------------------------------------------------------------


def _corpus(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(json.dumps({"_id": f"d{i}", "text": t}) + "\n" for i, t in enumerate(TEXTS)))
    return path


def test_index_and_migrate_with_bulk_batch(
    omnivec_emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from omnivec.providers.cli import app, attach_commands
    from omnivec.providers.stores import open_store

    omnivec_emulator.batches.delay_s = 0.0
    monkeypatch.chdir(tmp_path)  # job state goes to ./.omnivec-batches
    attach_commands()
    url, corpus = f"lancedb://{tmp_path / 'lance'}", _corpus(tmp_path)
    common = ["--store", url, "--no-cache", "--batch-size", "16"]
    done = CliRunner().invoke(
        app,
        ["index", str(corpus), "-c", "docs", "-m", "gemini:gemini-embedding-2", *common, "--bulk", "batch"],
        catch_exceptions=False,
    )
    assert done.exit_code == 0 and "40 embedded" in done.stderr, done.stderr
    assert omnivec_emulator.batches.created == 1  # one job for the whole diff, committed in 3 batches
    moved = CliRunner().invoke(
        app,
        ["migrate", "docs", "--to", "gemini:gemini-embedding-001", "--dimensions", "256", *common, "--bulk", "batch"],
        catch_exceptions=False,
    )
    assert moved.exit_code == 0 and "40 embedded" in moved.stderr, moved.stderr
    assert omnivec_emulator.batches.created == 2 and not list((tmp_path / ".omnivec-batches").iterdir())
    store = open_store(url)
    try:
        rows: dict[str, Any] = {r.id: r.vector for batch in store.scan("docs", 2, 100, vectors=True) for r in batch}
    finally:
        store.close()
    online = get_provider("gemini:gemini-embedding-001", dimensions=256).embed_sync(TEXTS, intent="document")
    np.testing.assert_allclose(np.stack([rows[f"d{i}"] for i in range(40)]), online.vectors, atol=1e-5)
    wrong = CliRunner().invoke(app, ["index", str(corpus), "-c", "other", "-m", "fake:a", *common, "--bulk", "batch"])
    assert wrong.exit_code == 2 and "needs a provider with a batch API" in wrong.stderr


def test_an_interrupted_batch_index_resumes_the_recorded_job(
    omnivec_emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from omnivec.providers.gemini import GeminiBatchJob
    from omnivec.providers.stores import index_items, open_store, read_source

    omnivec_emulator.batches.delay_s = 1.0
    monkeypatch.chdir(tmp_path)
    jobs = tmp_path / ".omnivec-batches"
    provider = get_provider("gemini:gemini-embedding-2", dimensions=128)
    # The run that was killed: its job was submitted and recorded, then nothing was committed.
    with pytest.raises(ProviderTimeoutError):
        asyncio.run(
            GeminiBatchJob(provider, jobs / "docs-v1.json", poll_s=0.05, timeout_s=0.1).run(TEXTS, intent="document")
        )
    store = open_store(f"lancedb://{tmp_path / 'lance'}", batch_size=16, cache=None)
    try:
        report = index_items(store, "docs", read_source(_corpus(tmp_path)), provider=provider, engine="batch")
    finally:
        store.close()
    assert report.embedded == 40 and omnivec_emulator.batches.created == 1  # resumed, not paid twice
    assert not (jobs / "docs-v1.json").exists()


# --- reading a job's results (pure) ---------------------------------------------------------------------


def _answer(values: list[float] | None = None, key: str | None = None, error: str | None = None) -> Any:
    from google.genai import types

    body: dict[str, Any] = {"metadata": {"key": key} if key is not None else None}
    if error is not None:
        body["error"] = {"code": 3, "message": error}
    else:
        body["response"] = {"embedding": {"values": values}, "token_count": 2}
    return types.InlinedEmbedContentResponse.model_validate(body)


def test_results_by_key_by_position_and_per_item_errors() -> None:
    from omnivec.providers import UnexpectedResponseError
    from omnivec.providers.gemini._wire import batch_results

    keyed = [_answer([2.0], "2"), _answer([0.0], "0"), _answer(error="bad input", key="1")]
    vectors, failures, tokens = batch_results(keyed, 3)
    assert vectors == [[0.0], None, [2.0]] and failures == {1: "bad input"} and tokens == 4
    assert batch_results([_answer([5.0]), _answer([6.0])], 2)[0] == [[5.0], [6.0]]  # no keys: by position
    with pytest.raises(UnexpectedResponseError, match="2 results for 3 inputs"):
        batch_results(keyed[:2], 3)
    with pytest.raises(UnexpectedResponseError, match="keys"):
        batch_results([_answer([1.0], "0"), _answer([1.0], "0")], 2)  # a duplicated key never overwrites a row


def test_bulk_options_are_checked_before_the_store_is_touched() -> None:
    from omnivec.providers.stores import migrate

    with pytest.raises(InvalidOptionError, match="engine must be 'online', 'batch' or 'ray'"):
        migrate(None, "docs", "fake:a", engine="nightly")  # type: ignore[arg-type]
    with pytest.raises(InvalidOptionError, match=r"bulk=\.\.\.\) is now engine="):
        migrate(None, "docs", "fake:a", bulk="batch")  # type: ignore[arg-type]  # the old keyword: one line
    with pytest.raises(InvalidOptionError, match="needs a provider with a batch API"):
        migrate(None, "docs", get_provider("fake:a"), engine="batch")  # type: ignore[arg-type]


def test_a_recorded_job_that_no_longer_exists_is_resubmitted(omnivec_emulator: Emulator, tmp_path: Path) -> None:
    omnivec_emulator.batches.delay_s = 1.0
    provider = get_provider("gemini:gemini-embedding-2", dimensions=128)
    state = tmp_path / "job.json"
    with pytest.raises(ProviderTimeoutError):
        bulk(provider, TEXTS, state, timeout_s=0.1)
    (job,) = json.loads(state.read_text())["jobs"]
    assert _post(omnivec_emulator, f"/v1beta/{job['name']}", None, "DELETE")[0] == 200
    with pytest.raises(BatchJobFailedError, match="no longer exists") as info:
        bulk(provider, TEXTS, state)
    assert info.value.code == "NOT_FOUND" and json.loads(state.read_text())["jobs"] == []
    omnivec_emulator.batches.delay_s = 0.0
    assert bulk(provider, TEXTS, state).vectors.shape == (40, 128) and omnivec_emulator.batches.created == 2
