"""Cassette tests: the real SDKs, replayed from tests/recorded/cassettes (see its README).

Replay (the default, ``record_mode=none``): the SDKs point at a dead local port, so any request that
VCR did not intercept fails. Re-record with
``pytest tests/recorded --record-mode=rewrite --record-against=emulator`` (or ``=live`` with real
credentials, which re-records against the real services).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from omnivec.providers.emulator import Emulator, emulator_env
from omnivec.providers.testing import allow_remote_calls

DEAD_ENDPOINT = "http://127.0.0.1:9"  # the discard port: nothing answers there
SECRET_HEADERS = ["authorization", "x-goog-api-key", "x-amz-security-token", "x-amz-date", "x-amz-content-sha256",
                  "amz-sdk-invocation-id", "amz-sdk-request", "user-agent", "x-goog-api-client"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--record-against", choices=["emulator", "live"], default=None,
                     help="where new cassettes are recorded (with --record-mode=rewrite)")


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, object]:
    return {
        "filter_headers": SECRET_HEADERS,
        # Host and port differ between the recording endpoint and replay; the path and body identify a call.
        "match_on": ["method", "path", "body"],
        "decode_compressed_response": True,
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
                for name, value in emulator_env(emulator.url).items():
                    monkeypatch.setenv(name, value)
                yield Cloud("emulator", emulator)
            return
        for name, value in emulator_env(DEAD_ENDPOINT).items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
        yield Cloud("replay")
