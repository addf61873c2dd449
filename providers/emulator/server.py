"""A local HTTP server that speaks the Bedrock (Nova, Titan, Cohere), Gemini and OpenAI embedding wire protocols,
and the Bedrock ``Rerank`` and Cohere-style ``/v2/rerank`` rerank wires.

The real SDKs talk to it unchanged (``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``, ``GOOGLE_GEMINI_BASE_URL``,
``OPENAI_BASE_URL``).
It validates requests as strictly as the services do, answers with their error shapes, returns
deterministic unit vectors of hashed word features (retrieval over them beats chance; they are
NOT the real models), and injects faults: a request-rate limit, a share of 429 / 5xx answers,
added latency, hangs past the client's timeout and dropped connections.
"""

from __future__ import annotations

import json
import random
import re
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from . import _bedrock, _gemini, _gemini_batch, _openai, _rerank

__all__ = ["Emulator", "EmulatorStats", "Faults"]

_OPENAI_PATH = "/v1/embeddings"
_BATCH_METHODS = ("get", "delete", "cancel", "asyncBatchEmbedContent", "upload_start", "upload_chunk", "download")
_PROTOCOLS: dict[str, Any] = {
    "bedrock": _bedrock,
    "gemini": _gemini,
    "openai": _openai,
    "bedrock-rerank": _bedrock,
    "rerank-api": _rerank,
    "vertex-ranking": _gemini,
}
_BEDROCK_PATH = re.compile(r"^/model/(?P<model>[^/]+)/invoke$")
_GEMINI_PATH = re.compile(
    r"^/(?:(?P<version>v1|v1beta|v1beta1)/)?(?:projects/[^/]+/locations/[^/]+/)?(?:publishers/google/)?"
    r"models/(?P<model>[^/:]+):(?P<method>batchEmbedContents|embedContent|asyncBatchEmbedContent)$"
)
_GEMINI_BATCH = re.compile(r"^/(?:v1|v1beta)/batches/(?P<id>[A-Za-z0-9_-]+)(?P<cancel>:cancel)?$")
_GEMINI_FILES = re.compile(
    r"^/(?:upload/(?:v1|v1beta)/files(?:/session/(?P<session>[a-f0-9]+))?|(?:v1|v1beta)/files/(?P<id>[\w-]+):download)$"
)


@dataclass
class Faults:
    """What goes wrong, and how often. All shares are of requests that passed the rate limit."""

    rate_limit_rps: float | None = None
    """Requests granted per second (token bucket, burst ``burst``); the rest get 429 throttling."""
    burst: int = 1
    error_rate: float = 0.0
    """Share answered with an injected 429 or 5xx (half each)."""
    throttle_rate: float = 0.0
    """Share answered with an injected 429 whatever the request rate (a busy region, a shared account),
    drawn apart from ``error_rate``."""
    latency_ms: float = 0.0
    hang_rate: float = 0.0
    """Share that sleeps ``hang_s`` before answering (client timeouts)."""
    hang_s: float = 5.0
    drop_rate: float = 0.0
    """Share whose connection is closed without an answer."""
    unavailable: bool = False
    """Answer every request 503 (an outage, ahead of the rate limit); may be flipped while it runs."""
    missing_models: tuple[str, ...] = ()
    """Bedrock model ids this endpoint does not serve (a region without the model): refused as invalid."""
    seed: int = 0
    batch_delay_s: float = 1.0
    """Gemini batch jobs are PENDING for the first half of this, RUNNING for the rest, then SUCCEEDED."""


@dataclass
class EmulatorStats:
    requests: int = 0
    granted: int = 0
    throttled: int = 0
    injected: int = 0
    ok: int = 0
    items: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)


class _Bucket:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.capacity = rate, float(burst)
        self.tokens, self.stamp = float(burst), time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without NODELAY, Nagle + delayed ACK add ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests and benchmarks own the output
        return

    def do_GET(self) -> None:
        self.do_POST("GET")

    def do_DELETE(self) -> None:
        self.do_POST("DELETE")

    def do_POST(self, method: str = "POST") -> None:
        emulator = self.server.emulator
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = self.path.split("?", 1)[0]
        status, headers, payload = emulator.handle(path, dict(self.headers), body, method=method)
        if status == 0:  # dropped connection
            self.close_connection = True
            self.connection.shutdown(2)
            return
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        for key, value in {"Content-Type": "application/json", "Content-Length": str(len(data)), **headers}.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    emulator: Emulator

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out or that we drop on purpose close mid-answer: expected, not news.
        return


class Emulator:
    """Start with ``with Emulator(faults) as emu:``; ``emu.url`` is its base URL on 127.0.0.1."""

    def __init__(
        self, faults: Faults | None = None, *, host: str = "127.0.0.1", port: int = 0, require_auth: bool = True
    ) -> None:
        self.faults = faults or Faults()
        self.require_auth = require_auth
        self.stats = EmulatorStats()
        self._rng = random.Random(self.faults.seed)
        self._lock = threading.Lock()
        self._queued: list[tuple[int, str]] = []
        self._bucket = _Bucket(self.faults.rate_limit_rps, self.faults.burst) if self.faults.rate_limit_rps else None
        self.requests_log: deque[dict[str, Any]] = deque(maxlen=2000)
        """The most recent requests (path, status, body), for tests that check the wire."""
        self.batches = _gemini_batch.BatchJobs(self.faults.batch_delay_s, seed=self.faults.seed)
        """Gemini batch jobs: ``emu.batches.fail_next()``, ``emu.batches.shuffle = True``, ``.created``."""
        self._server = _Server((host, port), _Handler)
        self._server.emulator = self
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Emulator:
        self._thread = threading.Thread(target=self._server.serve_forever, name="omnivec-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def fail_next(self, status: int, code: str = "") -> None:
        """Answer the next request with this error (``code``: the vendor's error code/status)."""
        with self._lock:
            self._queued.append((status, code))

    def _fault(self, protocol: str) -> tuple[int, dict[str, str], Any] | None:
        """Decide this request's fate. Counting happens under the lock: handlers run in many threads."""
        f = self.faults
        with self._lock:
            if self._queued:
                self.stats.injected += 1
                return self._error(protocol, *self._queued.pop(0))
            if f.unavailable:
                self.stats.injected += 1
                return self._error(protocol, 503, "")
            if self._bucket is not None and not self._bucket.take():
                self.stats.throttled += 1
                return self._error(protocol, 429, "")
            self.stats.granted += 1
            if f.throttle_rate and self._rng.random() < f.throttle_rate:
                self.stats.injected += 1
                return self._error(protocol, 429, "")
            roll = self._rng.random()
            if roll < f.error_rate + f.drop_rate + f.hang_rate:
                self.stats.injected += 1
        if roll < f.error_rate:
            return self._error(protocol, 429 if roll < f.error_rate / 2 else 503, "")
        roll -= f.error_rate
        if roll < f.drop_rate:
            return 0, {}, None
        if roll - f.drop_rate < f.hang_rate:
            time.sleep(f.hang_s)  # outside the lock: other requests go on meanwhile
        return None

    def _batch(
        self, method: str, match: re.Match[str], headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], Any]:
        """The Gemini Batch API routes (``_gemini_batch``), behind the same credential check as embedContent."""
        lowered = {k.lower(): v for k, v in headers.items()}
        # An upload session URL is its own credential (the SDK sends no key there), as at Google.
        if (
            method != "upload_chunk"
            and self.require_auth
            and not (lowered.get("x-goog-api-key") or lowered.get("authorization", "").startswith("Bearer "))
        ):
            return _gemini.error(
                403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers. Please use an API key."
            )
        if method == "asyncBatchEmbedContent":
            return self.batches.create(match["model"], body)
        if method == "upload_start":
            return self.batches.upload_start(self.url, headers, body)
        if method == "upload_chunk":
            return self.batches.upload_chunk(match["session"], headers, body)
        answer: tuple[int, dict[str, str], Any] = getattr(self.batches, method)(match["id"])
        return answer

    def _error(self, protocol: str, status: int, code: str) -> tuple[int, dict[str, str], Any]:
        module = _PROTOCOLS[protocol]
        answer: tuple[int, dict[str, str], Any] = module.error(status, code or None, "injected by the omnivec emulator")
        return answer

    def handle(
        self, path: str, headers: dict[str, str], body: bytes, *, method: str = "POST"
    ) -> tuple[int, dict[str, str], Any]:
        with self._lock:
            self.stats.requests += 1
        verb, method = method, ""
        batch, files = _GEMINI_BATCH.match(path), _GEMINI_FILES.match(path)
        if batch is not None:
            allowed: tuple[str, ...] = ("POST",) if batch["cancel"] else ("GET", "DELETE")
        else:
            allowed = ("GET",) if files is not None and files["id"] else ("POST",)
        if verb not in allowed:
            return 405, {}, {"message": f"{verb} is not allowed on {path}"}
        if (match := batch) is not None:
            protocol, model, method = "gemini", "", {"GET": "get", "DELETE": "delete"}.get(verb, "cancel")
        elif (match := files) is not None:
            protocol, model = "gemini", ""
            method = "download" if match["id"] else "upload_chunk" if match["session"] else "upload_start"
        elif (match := _BEDROCK_PATH.match(path)) is not None:
            protocol, model = "bedrock", unquote(match["model"])
        elif (match := _GEMINI_PATH.match(path)) is not None:
            protocol, model, method = "gemini", match["model"], match["method"]
        elif path == _OPENAI_PATH:
            protocol, model = "openai", _openai.model_of(body)
        elif path == _rerank.BEDROCK_PATH:
            protocol, model = "bedrock-rerank", ""
        elif path in _rerank.COHERE_PATHS:
            protocol, model = "rerank-api", _openai.model_of(body)
        elif _rerank.VERTEX_PATH.match(path):
            protocol, model = "vertex-ranking", _openai.model_of(body)
        else:
            return 404, {}, {"message": f"no such route: {path}"}
        result = self._fault(protocol)
        if result is None:
            if self.faults.latency_ms:
                time.sleep(self.faults.latency_ms / 1000)
            if protocol == "bedrock" and model in self.faults.missing_models:
                result = _bedrock.error(400, "ValidationException", "The provided model identifier is invalid.")
            elif protocol == "bedrock":
                result = _bedrock.invoke(model, headers, body, require_auth=self.require_auth)
            elif protocol == "openai":
                result = _openai.embed(headers, body, require_auth=self.require_auth)
            elif protocol == "bedrock-rerank":
                result = _rerank.bedrock_rerank(headers, body, require_auth=self.require_auth)
            elif protocol == "rerank-api":
                result = _rerank.cohere_rerank(headers, body, require_auth=self.require_auth)
            elif protocol == "vertex-ranking":
                result = _rerank.vertex_rank(headers, body, require_auth=self.require_auth)
            elif match is not None and method in _BATCH_METHODS:
                result = self._batch(method, match, headers, body)
            else:
                result = _gemini.embed(model, method, headers, body, require_auth=self.require_auth)
        status = result[0]
        with self._lock:
            self.stats.by_status[status] = self.stats.by_status.get(status, 0) + 1
            if status == 200:
                self.stats.ok += 1
                self.stats.items += int(result[1].pop("x-omnivec-items", "1"))
            self.requests_log.append(
                {
                    "protocol": protocol,
                    "model": model,
                    "path": path,
                    "status": status,
                    "body": body[:20000].decode("utf-8", "replace"),
                }
            )
        return result
