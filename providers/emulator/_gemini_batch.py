"""The Gemini Batch API for embeddings (Developer API): ``POST /{v}/models/{m}:asyncBatchEmbedContent``,
``GET /{v}/batches/{id}``, ``POST /{v}/batches/{id}:cancel``, ``DELETE /{v}/batches/{id}``.

Bodies are validated like the service (the batch envelope's keys, exactly one input form, every inline
request through the same checks as ``batchEmbedContents``); a job is PENDING, then RUNNING, then
SUCCEEDED after ``delay_s`` (see ecosystem-scale.md §7 for the wire). Tests can make the next jobs fail
(:meth:`BatchJobs.fail_next`) or answer their results shuffled and keyed (``shuffle``).
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ._gemini import MODELS, Answer, _embed_one, error

_BATCH_KEYS = {"displayName", "display_name", "inputConfig", "input_config", "priority"}
_REQUEST_KEYS = {"content", "taskType", "task_type", "title", "outputDimensionality", "output_dimensionality", "model"}
MAX_INLINE_BYTES = 20_000_000


@dataclass
class _Job:
    name: str
    model: str
    display_name: str
    created: float
    responses: list[dict[str, Any]]
    fail: bool = False
    cancelled: bool = False
    to_file: bool = False
    stamps: dict[str, str] = field(default_factory=dict)


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class BatchJobs:
    """The emulator's batch jobs, in memory (a restarted emulator forgets them, as a deleted job is gone)."""

    def __init__(self, delay_s: float = 1.0, *, shuffle: bool = False, seed: int = 0) -> None:
        self.delay_s, self.shuffle = delay_s, shuffle
        self._rng = random.Random(seed)
        self._jobs: dict[str, _Job] = {}
        self._fail = 0
        self._lock = threading.Lock()
        self.created = 0
        self.files: dict[str, bytes] = {}
        """Files API storage: uploaded JSONL inputs and the jobs' JSONL outputs, by ``files/{id}``."""
        self._uploads: dict[str, tuple[str, bytearray]] = {}

    def fail_next(self, count: int = 1) -> None:
        """The next ``count`` jobs created end BATCH_STATE_FAILED instead of succeeding."""
        with self._lock:
            self._fail += count

    def create(self, model: str, body: bytes) -> Answer:
        if model not in MODELS:
            return error(
                404,
                "NOT_FOUND",
                f"models/{model} is not found for API version, or is not supported for asyncBatchEmbedContent.",
            )
        if len(body) > MAX_INLINE_BYTES:
            return error(400, "INVALID_ARGUMENT", f"Request payload size exceeds the limit: {MAX_INLINE_BYTES} bytes.")
        try:
            payload = json.loads(body)
        except ValueError:
            return error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        batch = payload.get("batch") if isinstance(payload, dict) else None
        if not isinstance(batch, dict) or set(payload) != {"batch"}:
            return error(400, "INVALID_ARGUMENT", 'Invalid JSON payload received. The body must be {"batch": {...}}.')
        unknown = set(batch) - _BATCH_KEYS
        if unknown:
            return error(
                400,
                "INVALID_ARGUMENT",
                f"Invalid JSON payload received. Unknown name \"{sorted(unknown)[0]}\" at 'batch'.",
            )
        config = batch.get("inputConfig", batch.get("input_config"))
        if not isinstance(config, dict) or len(config) != 1:
            return error(400, "INVALID_ARGUMENT", "batch.inputConfig needs exactly one of requests or file_name")
        keys: list[str] | None = None
        requests: Any
        if "file_name" in config or "fileName" in config:
            requests, keys, problem = self._read_input_file(str(config.get("file_name", config.get("fileName"))))
            if problem:
                return error(400, "INVALID_ARGUMENT", problem)
        else:
            wrapper = config.get("requests")
            requests = wrapper.get("requests") if isinstance(wrapper, dict) else None
        if not isinstance(requests, list) or not requests:
            return error(400, "INVALID_ARGUMENT", "batch.inputConfig.requests.requests must not be empty")
        responses = []
        for i, entry in enumerate(requests):
            request = entry.get("request") if isinstance(entry, dict) else None
            if not isinstance(request, dict) or set(entry) - {"request", "metadata"}:
                return error(400, "INVALID_ARGUMENT", f'requests[{i}] must be {{"request": {{...}}}}')
            unknown = set(request) - _REQUEST_KEYS
            if unknown:
                return error(
                    400,
                    "INVALID_ARGUMENT",
                    f"Invalid JSON payload received. Unknown name \"{sorted(unknown)[0]}\" at 'requests[{i}].request'.",
                )
            inner = request.get("model")
            if inner is not None and inner.removeprefix("models/") != model:
                return error(400, "INVALID_ARGUMENT", f"requests[{i}].request.model does not match the URL model")
            vector, tokens, problem = _embed_one(model, request)
            if problem:
                return error(400, "INVALID_ARGUMENT", f"requests[{i}].request: {problem}")
            answer: dict[str, Any] = {"response": {"embedding": {"values": vector}, "tokenCount": tokens}}
            responses.append(answer if keys is None else {"key": keys[i], **answer})
        with self._lock:
            name = f"batches/{uuid.uuid4().hex[:20]}"
            fail, self._fail = self._fail > 0, max(0, self._fail - 1)
            job = _Job(
                name,
                model,
                str(batch.get("displayName", batch.get("display_name", ""))),
                time.monotonic(),
                responses,
                fail,
            )
            job.stamps["createTime"] = _now()
            job.to_file = keys is not None
            self._jobs[name] = job
            self.created += 1
        return 200, {"x-omnivec-items": str(len(responses))}, self._resource(job, state="BATCH_STATE_PENDING")

    def _state(self, job: _Job) -> str:
        elapsed = time.monotonic() - job.created
        if job.cancelled:
            return "BATCH_STATE_CANCELLED"
        if elapsed < self.delay_s / 2:
            return "BATCH_STATE_PENDING"
        if elapsed < self.delay_s:
            return "BATCH_STATE_RUNNING"
        return "BATCH_STATE_FAILED" if job.fail else "BATCH_STATE_SUCCEEDED"

    def _resource(self, job: _Job, state: str | None = None) -> dict[str, Any]:
        """The batch as the service answers it: a long-running operation whose ``metadata`` is the batch."""
        state = state or self._state(job)
        done = state not in ("BATCH_STATE_PENDING", "BATCH_STATE_RUNNING")
        if done:
            job.stamps.setdefault("endTime", _now())
        metadata: dict[str, Any] = {
            "@type": "type.googleapis.com/google.ai.generativelanguage.v1main.EmbedContentBatch",
            "model": f"models/{job.model}",
            "displayName": job.display_name,
            "state": state,
            "updateTime": _now(),
            **job.stamps,
            "batchStats": {"requestCount": str(len(job.responses))},
        }
        answer: dict[str, Any] = {"name": job.name, "metadata": metadata, "done": done}
        if state == "BATCH_STATE_SUCCEEDED" and job.to_file:  # file in, file out: JSONL lines by key
            out = f"files/batch-{job.name.removeprefix('batches/')}"
            if out not in self.files:
                lines = list(job.responses)
                if self.shuffle:
                    self._rng.shuffle(lines)
                self.files[out] = "".join(json.dumps(line) + "\n" for line in lines).encode()
            metadata["output"] = {"responsesFile": out}
        elif state == "BATCH_STATE_SUCCEEDED":
            responses = [dict(r) for r in job.responses]
            if self.shuffle:  # keyed by index, delivered out of order
                responses = [{**r, "metadata": {"key": str(i)}} for i, r in enumerate(responses)]
                self._rng.shuffle(responses)
            metadata["output"] = {"inlinedResponses": {"inlinedResponses": responses}}
        elif state == "BATCH_STATE_FAILED":
            answer["error"] = {"code": 13, "message": "the batch failed (injected by the omnivec emulator)"}
        return answer

    def get(self, job_id: str) -> Answer:
        with self._lock:
            job = self._jobs.get(f"batches/{job_id}")
            if job is None:
                return error(404, "NOT_FOUND", f"Requested entity was not found: batches/{job_id}")
            return 200, {"x-omnivec-items": "0"}, self._resource(job)

    def cancel(self, job_id: str) -> Answer:
        with self._lock:
            job = self._jobs.get(f"batches/{job_id}")
            if job is None:
                return error(404, "NOT_FOUND", f"Requested entity was not found: batches/{job_id}")
            if self._state(job) in ("BATCH_STATE_PENDING", "BATCH_STATE_RUNNING"):
                job.cancelled = True
            return 200, {"x-omnivec-items": "0"}, {}

    def delete(self, job_id: str) -> Answer:
        with self._lock:
            if self._jobs.pop(f"batches/{job_id}", None) is None:
                return error(404, "NOT_FOUND", f"Requested entity was not found: batches/{job_id}")
            return 200, {"x-omnivec-items": "0"}, {}

    def _read_input_file(self, name: str) -> tuple[list[Any], list[str], str | None]:
        """The JSONL input of a file-form job: ``{"key": ..., "request": {...}}`` per line, keys unique."""
        with self._lock:
            data = self.files.get(name)
        if data is None:
            return [], [], f"inputConfig.file_name: {name} was not found (upload it with the Files API first)"
        requests, keys = [], []
        for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                return [], [], f"{name} line {number} is not JSON"
            if not isinstance(row, dict) or set(row) != {"key", "request"} or not isinstance(row["key"], str):
                return [], [], f'{name} line {number} must be {{"key": "...", "request": {{...}}}}'
            keys.append(row["key"])
            requests.append({"request": row["request"]})
        if len(set(keys)) != len(keys):
            return [], [], f"{name}: keys must be unique"
        return requests, keys, None

    def upload_start(self, url: str, headers: dict[str, str], body: bytes) -> Answer:
        """``POST /upload/{v}/files`` with ``X-Goog-Upload-Protocol: resumable`` and command ``start``."""
        lowered = {k.lower(): v for k, v in headers.items()}
        if lowered.get("x-goog-upload-protocol") != "resumable" or lowered.get("x-goog-upload-command") != "start":
            return error(
                400, "INVALID_ARGUMENT", "X-Goog-Upload-Protocol: resumable and X-Goog-Upload-Command: start expected"
            )
        try:
            meta = json.loads(body or b"{}").get("file") or {}
        except (ValueError, AttributeError):
            return error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        session = uuid.uuid4().hex
        name = str(meta.get("name") or f"files/{uuid.uuid4().hex[:12]}")
        with self._lock:
            self._uploads[session] = (name, bytearray())
        return (
            200,
            {"X-Goog-Upload-URL": f"{url}/upload/v1beta/files/session/{session}", "X-Goog-Upload-Status": "active"},
            {},
        )

    def upload_chunk(self, session: str, headers: dict[str, str], body: bytes) -> Answer:
        """A chunk to a session URL; ``upload, finalize`` stores the file and answers ``{"file": {...}}``."""
        lowered = {k.lower(): v for k, v in headers.items()}
        command = lowered.get("x-goog-upload-command", "")
        with self._lock:
            if session not in self._uploads:
                return error(404, "NOT_FOUND", "upload session not found")
            name, data = self._uploads[session]
            if lowered.get("x-goog-upload-offset") != str(len(data)) or "upload" not in command:
                return error(400, "INVALID_ARGUMENT", f"X-Goog-Upload-Offset must be {len(data)}")
            data += body
            if "finalize" not in command:
                return 200, {"X-Goog-Upload-Status": "active"}, {}
            del self._uploads[session]
            self.files[name] = bytes(data)
        file = {
            "name": name,
            "mimeType": "application/jsonl",
            "sizeBytes": str(len(data)),
            "state": "ACTIVE",
            "createTime": _now(),
            "uri": f"https://generativelanguage.googleapis.com/v1beta/{name}",
        }
        return 200, {"X-Goog-Upload-Status": "final"}, {"file": file}

    def download(self, file_id: str) -> Answer:
        """``GET /{v}/files/{id}:download?alt=media``: the raw bytes."""
        with self._lock:
            data = self.files.get(f"files/{file_id}")
        if data is None:
            return error(404, "NOT_FOUND", f"Requested entity was not found: files/{file_id}")
        return 200, {"Content-Type": "application/octet-stream", "x-omnivec-items": "0"}, data
