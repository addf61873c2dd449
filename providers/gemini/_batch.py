"""Bulk embedding through the Gemini Batch API: half the online price, minutes to hours of latency.

    >>> result = await provider.embed_bulk(texts, intent="document", state_path="corpus.batch.json")

Why it is shaped this way:

* One method on the provider (:meth:`GeminiProvider.embed_bulk`) returning the same
  :class:`EmbeddingResult` as ``embed`` — same prompts, dimensions, normalization and fingerprint, so
  bulk vectors and online vectors live in one space and mix freely in a store or cache. The job
  machinery is :class:`GeminiBatchJob`, usable alone when a caller wants to submit now and collect later.
* Jobs outlive processes. Right after each job is created, its name and a digest of exactly what it
  was asked (the manifest) are written to the caller's ``state_path`` (atomically). A restarted run
  with the same inputs finds the jobs there and polls them again instead of paying twice; inputs that
  changed get a new job. The file is removed once the results are returned (``keep_state`` keeps it).
* google-genai's ``batches.create_embeddings`` (Developer API only; inline requests, < 20 MB per job)
  and ``batches.get`` do the calls: no SDK wait helper exists, so polling is here.
* Results are placed by key when the service gives one, else by position, and counted: a vector never
  lands on another input's row.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from google.genai import types

from .. import _guard
from .._translate import translated
from .._validation import check_against, check_call_options, normalize_inputs
from ..errors import (
    InvalidOptionError,
    InvalidRequestError,
    ModelNotFoundError,
    ProviderError,
    ProviderTimeoutError,
    RemoteCallsBlockedError,
)
from ..inputs import Input
from ..types import EmbeddingResult, Intent, Usage
from . import _wire

if TYPE_CHECKING:
    from .provider import GeminiProvider

__all__ = ["BatchJobFailedError", "GeminiBatchJob"]

STATE_VERSION = 1
_HTTP = types.HttpOptions(api_version="v1beta", retry_options=types.HttpRetryOptions(attempts=1))
"""Google documents the Batch API under ``v1beta`` (google-genai's default is ``v1``); the SDK's own
retries stay off here as for online calls (a retried create could pay twice; polls are retried here)."""


class BatchJobFailedError(ProviderError):
    """A Gemini batch job ended FAILED, CANCELLED or EXPIRED; ``job`` names it. Running again with the
    same state file submits a new job for its inputs (the failed one is forgotten)."""

    def __init__(self, message: str, *, job: str, state: str, **kwargs: Any) -> None:
        super().__init__(message, code=state, **kwargs)
        self.job = job


class GeminiBatchJob:
    """Submit, poll, resume and fetch one bulk embedding, resumable through ``state_path``."""

    def __init__(
        self,
        provider: GeminiProvider,
        state_path: str | os.PathLike[str],
        *,
        poll_s: float = 30.0,
        timeout_s: float | None = None,
        form: Literal["auto", "inline", "file"] = "auto",
        max_job_items: int | None = None,
        display_name: str = "omnivec-bulk",
        keep_state: bool = False,
    ) -> None:
        """``form``: ``inline`` (requests in the create call, < 20 MB and 10,000 inputs per job), ``file``
        (a JSONL upload through the Files API, 100,000 inputs per job, results placed by key), or ``auto``:
        inline when everything fits one inline job, else file."""
        if poll_s <= 0 or (timeout_s is not None and timeout_s <= 0) or (max_job_items or 1) < 1:
            raise InvalidOptionError("poll_s and timeout_s must be > 0 and max_job_items >= 1")
        if form not in ("auto", "inline", "file"):
            raise InvalidOptionError(f"form must be 'auto', 'inline' or 'file', got {form!r}")
        self.provider, self.state_path, self.form = provider, Path(state_path), form
        self.poll_s, self.timeout_s, self.max_job_items = poll_s, timeout_s, max_job_items
        self.display_name, self.keep_state = display_name, keep_state

    async def run(
        self, inputs: Input | Sequence[Input], *, intent: Intent, errors: Literal["raise", "collect"] = "raise"
    ) -> EmbeddingResult:
        """Embed ``inputs`` by batch jobs; vectors in input order, like :meth:`EmbeddingProvider.embed`."""
        p = self.provider
        check_call_options(errors, None)
        fingerprint = p.fingerprint(intent)
        items = normalize_inputs(inputs)
        check_against(items, p.capabilities, model=p.ref)
        if _wire.vertex_mode(p.settings, os.environ):
            raise InvalidOptionError(
                f"{p.ref}: the Gemini Batch API for embeddings is Developer-API only (google-genai refuses it on "
                "Vertex AI): use an API key (vertexai=false), or embed online with bulk='online'"
            )
        _wire.check_inputs(items, model=p.model, vertex=False)
        if p.is_remote and _guard.remote_calls_blocked():
            raise RemoteCallsBlockedError(
                "remote calls are blocked (tests block them by default): use the emulator or "
                "omnivec.providers.testing.allow_remote_calls()",
                provider=p.name,
                model=p.model,
            )
        request = _wire.build_request(items, model=p.model, intent=intent, dimensions=p.dimensions, settings=p.settings)
        groups, form = self._groups(request.contents)
        digests = [_wire.job_digest(p.model, request.config, request.contents[g.start : g.stop]) for g in groups]
        jobs = self._resume(digests)
        result = EmbeddingResult(
            vectors=np.full((len(items), p.dimensions), np.nan, dtype=np.float32), fingerprint=fingerprint
        )
        for n, group in enumerate(groups):  # submit what no earlier run submitted, recording each job at once
            if n not in jobs:
                jobs[n] = await self._create(request.contents[group.start : group.stop], request.config, form)
                self._save(jobs, digests)
        tokens: int | None = 0
        deadline = None if self.timeout_s is None else time.monotonic() + self.timeout_s
        for n, group in enumerate(groups):
            try:
                job = await self._wait(jobs[n], deadline)
            except BatchJobFailedError:
                del jobs[n]  # the next run submits these inputs again
                self._save(jobs, digests)
                raise
            responses = await self._responses(job)
            vectors, failed, used = _wire.batch_results(responses, len(group))
            tokens = None if tokens is None or used is None else tokens + used
            for offset, values in enumerate(vectors):
                if values is not None:
                    result.vectors[group.start + offset] = values
            for offset, message in failed.items():
                result.failures[group.start + offset] = InvalidRequestError(
                    f"inputs[{group.start + offset}]: {message}",
                    provider=p.name,
                    model=p.model,
                    index=group.start + offset,
                )
        result.usage = Usage(input_tokens=tokens, requests=len(groups))
        result = p._finish(result)
        if result.failures and errors == "raise":
            first = result.failures[min(result.failures)]
            first.partial = result
            raise first
        if not self.keep_state:
            self.state_path.unlink(missing_ok=True)
        return result

    def _resume(self, digests: list[str]) -> dict[int, str]:
        """Jobs of an earlier run for exactly these requests (same manifest digest), by group."""
        try:
            state = json.loads(self.state_path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise InvalidOptionError(
                f"state_path {self.state_path} is not a batch state file ({exc}): remove it"
            ) from exc
        if state.get("version") != STATE_VERSION or state.get("model") != self.provider.model:
            return {}
        known = {job["digest"]: job["name"] for job in state.get("jobs", [])}
        return {n: known[d] for n, d in enumerate(digests) if d in known}

    def _save(self, jobs: dict[int, str], digests: list[str]) -> None:
        """Atomically: a crash leaves the old file or the new one, never half of one."""
        state = {
            "version": STATE_VERSION,
            "model": self.provider.model,
            "jobs": [{"name": jobs[n], "digest": digests[n], "group": n} for n in sorted(jobs)],
        }
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_name(self.state_path.name + ".tmp")
        tmp.write_text(json.dumps(state, indent=1))
        os.replace(tmp, self.state_path)

    def _groups(self, contents: list[dict[str, Any]]) -> tuple[list[range], str]:
        """The jobs: inline ones (size- and count-bounded) or file ones (count-bounded), in input order."""
        inline = _wire.job_groups(contents, self.max_job_items or _wire.MAX_JOB_ITEMS)
        form = self.form if self.form != "auto" else ("inline" if len(inline) <= 1 else "file")
        if form == "inline":
            return inline, form
        size = self.max_job_items or _wire.MAX_FILE_JOB_ITEMS
        return [range(s, min(s + size, len(contents))) for s in range(0, len(contents), size)], form

    async def _create(self, contents: list[dict[str, Any]], config: dict[str, Any], form: str) -> str:
        p = self.provider
        client = p._client()
        if form == "file":
            with translated(_errors(), provider=p.name, model=p.model):
                uploaded = await client.aio.files.upload(
                    file=io.BytesIO(_wire.jsonl_requests(contents, config)),
                    config=types.UploadFileConfig(
                        mime_type="application/jsonl", display_name=self.display_name, http_options=_HTTP
                    ),
                )
            source = types.EmbeddingsBatchJobSource(file_name=uploaded.name)
        else:
            source = types.EmbeddingsBatchJobSource(
                inlined_requests=types.EmbedContentBatch(
                    contents=[types.Content.model_validate(c) for c in contents],
                    config=types.EmbedContentConfig(**config),
                )
            )
        with warnings.catch_warnings(), translated(_errors(), provider=p.name, model=p.model):
            warnings.simplefilter("ignore")  # "create_embeddings() is experimental": known, documented
            job = await client.aio.batches.create_embeddings(
                model=p.model,
                src=source,
                config=types.CreateEmbeddingsBatchJobConfig(display_name=self.display_name, http_options=_HTTP),
            )
        if not job.name:
            raise ProviderError("the Gemini batch job was created without a name", provider=p.name, model=p.model)
        return job.name

    async def _responses(self, job: types.BatchJob) -> list[Any] | None:
        """The job's results: inline, or the JSONL output file (downloaded, lines placed by key)."""
        dest = job.dest
        if dest is None or not dest.file_name:
            return dest.inlined_embed_content_responses if dest is not None else None
        p = self.provider
        with translated(_errors(), provider=p.name, model=p.model):
            data = await p._client().aio.files.download(
                file=dest.file_name, config=types.DownloadFileConfig(http_options=_HTTP)
            )
        return [types.InlinedEmbedContentResponse.model_validate(row) for row in _wire.jsonl_results(data)]

    async def _get(self, name: str) -> types.BatchJob:
        p = self.provider
        with translated(_errors(), provider=p.name, model=p.model):
            return await p._client().aio.batches.get(name=name, config=types.GetBatchJobConfig(http_options=_HTTP))

    async def _wait(self, name: str, deadline: float | None) -> types.BatchJob:
        """Poll until the job is done. A poll that fails transiently is retried by the provider's retry
        policy, as any call (the job keeps running meanwhile); outside the rate budget, whose quota
        is the online one."""
        p = self.provider
        interval = min(1.0, self.poll_s)  # small jobs end in seconds; long ones are polled every poll_s
        while True:
            try:
                job = await p._retrier.plain(lambda: self._get(name))
            except ModelNotFoundError as exc:  # deleted, or expired long ago: its inputs must go again
                raise BatchJobFailedError(
                    f"Gemini batch job {name} no longer exists ({exc.message}): run again to resubmit its inputs",
                    job=name,
                    state="NOT_FOUND",
                    provider=p.name,
                    model=p.model,
                ) from exc
            state = getattr(getattr(job, "state", None), "value", None)
            if state == "JOB_STATE_SUCCEEDED":
                return job
            if state in _wire.BATCH_DONE:
                raise BatchJobFailedError(
                    f"Gemini batch job {name} ended {state}: run again with the same state_path to resubmit its inputs",
                    job=name,
                    state=str(state),
                    provider=p.name,
                    model=p.model,
                )
            if deadline is not None and time.monotonic() + interval > deadline:
                raise ProviderTimeoutError(
                    f"Gemini batch job {name} is still {state or 'unreachable'} after timeout_s={self.timeout_s}: "
                    f"run again with state_path={str(self.state_path)!r} to resume it without paying twice",
                    provider=p.name,
                    model=p.model,
                )
            await asyncio.sleep(interval)
            interval = min(self.poll_s, interval * 2)


def _errors() -> Any:
    from ._error_table import ERROR_TABLE

    return ERROR_TABLE
