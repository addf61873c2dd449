"""The production-style examples keep the promises their docstrings make (beyond "it runs").

fastapi_service: ONE provider for all requests, made at startup, closed at shutdown, concurrent
requests really overlap on it, and omnivec's typed errors become the documented HTTP statuses.
multimodal_search: without configuration it runs on the emulator and says so, and its text part
(Fused image + caption) ranks the right image first.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from omnivec.providers import RateLimitError
from omnivec.providers.testing import FakeProvider

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve string annotations through sys.modules
    spec.loader.exec_module(module)
    return module


class ClosingFake(FakeProvider):
    """The library's fake, remembering whether the service closed it."""

    closed = False

    async def aclose(self) -> None:
        self.closed = True


@pytest.fixture
def service() -> Any:
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    return load_example("fastapi_service")


def test_service_shares_one_provider_across_concurrent_requests_and_closes_it(service: Any) -> None:
    from fastapi.testclient import TestClient

    made: list[ClosingFake] = []

    def make() -> ClosingFake:
        made.append(ClosingFake(latency_s=0.2))
        return made[0]

    with TestClient(service.create_app(make)) as client:
        assert len(made) == 1 and not made[0].closed  # made at startup, before any request
        questions = service.QUESTIONS
        with ThreadPoolExecutor(max_workers=len(questions)) as pool:
            answers = list(pool.map(lambda q: client.post("/search", json={"query": q, "k": 2}), questions))
        assert [a.status_code for a in answers] == [200] * len(questions)
        assert all(len(a.json()["hits"]) == 2 for a in answers)
        assert made[0].peak_in_flight > 1  # the requests overlapped on the one provider
    assert len(made) == 1 and made[0].closed
    assert len(made[0].calls) == 1 + len(questions)  # the startup indexing call, then one per query


def test_service_search_ranks_the_matching_document_first(service: Any) -> None:
    from fastapi.testclient import TestClient

    with TestClient(service.create_app(FakeProvider)) as client:
        hits = client.post("/search", json={"query": "PayPal credit cards bank transfers", "k": 3}).json()["hits"]
        health = client.get("/healthz").json()
    assert hits[0]["id"] == "payment"
    assert health["documents"] == len(service.CORPUS) and len(health["fingerprint"]) == 16


def test_service_maps_typed_errors_to_http(service: Any) -> None:
    from fastapi.testclient import TestClient

    throttled = RateLimitError("slow down", retry_after=2.4, provider="fake")
    app = service.create_app(lambda: FakeProvider(failures=[None, throttled], retry={"max_attempts": 1}))
    with TestClient(app) as client:
        limited = client.post("/search", json={"query": "refund"})
        blank = client.post("/embed", json={"texts": ["fine", "   "]})
        embedded = client.post("/embed", json={"texts": ["a", "b", "c"], "intent": "query"})
    assert limited.status_code == 429 and limited.headers["retry-after"] == "3"
    assert blank.status_code == 422 and blank.json()["index"] == 1
    assert embedded.status_code == 200 and len(embedded.json()["vectors"]) == 3


def test_multimodal_search_says_it_is_emulated_and_finds_images_by_caption(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIVEC_")}
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / "multimodal_search.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "EMULATED" in out.stdout
    fused = out.stdout.split("image + caption fused")[1]  # the pure-image ranks are noise on the emulator
    assert "'a red circle': top hit: red-circle" in fused
    assert "'a black and white checkerboard': top hit: checkerboard" in fused
