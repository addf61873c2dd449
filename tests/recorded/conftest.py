"""Cassette tests: the real SDKs, replayed from tests/recorded/cassettes (see its README).

Replay (the default, ``record_mode=none``): the SDKs point at a dead local port, so any request that
VCR did not intercept fails. Re-record with
``pytest tests/recorded --record-mode=rewrite --record-against=emulator`` (or ``=live`` with real
credentials, which re-records against the real services).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from omnivec.providers.emulator import Emulator, apply_emulator_environment
from omnivec.providers.testing import allow_remote_calls

DEAD_ENDPOINT = "http://127.0.0.1:9"  # the discard port: nothing answers there
SECRET_HEADERS = [
    "authorization",
    "x-goog-api-key",
    "x-amz-security-token",
    "x-amz-date",
    "x-amz-content-sha256",
    "amz-sdk-invocation-id",
    "amz-sdk-request",
    "user-agent",
    "x-goog-api-client",
    "openai-organization",  # the openai SDK sends OPENAI_ORG_ID / OPENAI_PROJECT_ID when set
    "openai-project",
]
RESPONSE_SECRETS = ("openai-organization", "openai-project", "set-cookie")
"""Response headers that name the account (OpenAI echoes the organization) and are dropped before writing."""


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    headers = response.get("headers") or {}
    for name in [n for n in headers if n.lower() in RESPONSE_SECRETS]:
        del headers[name]
    return response


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--record-against",
        choices=["emulator", "live"],
        default=None,
        help="where new cassettes are recorded (with --record-mode=rewrite)",
    )


def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    # google-genai sends through httpx2, or aiohttp when installed; VCR's aiohttp stub says "post".
    vcr.register_matcher("any_case_method", lambda r1, r2: r1.method.upper() == r2.method.upper())


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, object]:
    return {
        "filter_headers": SECRET_HEADERS,
        # Host and port differ between the recording endpoint and replay; the path and body identify a call.
        "match_on": ["any_case_method", "path", "body"],
        "decode_compressed_response": True,
        "before_record_response": _scrub_response,
    }


@dataclass
class Cloud:
    kind: str
    """``replay``, ``emulator`` or ``live``."""
    emulator: Emulator | None = None

    def fail_next(self, status: int) -> None:
        """Make the next request fail while recording against the emulator (replays need nothing)."""
        if self.emulator is not None:
            self.emulator.fail_next(status)


@pytest.fixture
def cloud(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cloud]:
    """Where the SDKs send requests: a dead port (replay), the emulator, or the real clouds."""
    target = request.config.getoption("--record-against")
    with allow_remote_calls():
        if target == "live":
            yield Cloud("live")
            return
        if target == "emulator":
            with Emulator() as emulator:
                apply_emulator_environment(emulator.url, monkeypatch.setenv, _unset(monkeypatch))
                yield Cloud("emulator", emulator)
            return
        apply_emulator_environment(DEAD_ENDPOINT, monkeypatch.setenv, _unset(monkeypatch))
        yield Cloud("replay")


def _unset(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    return lambda name: monkeypatch.delenv(name, raising=False)
