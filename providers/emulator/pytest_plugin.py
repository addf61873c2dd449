"""pytest fixtures for the wire emulator. Enable with ``pytest_plugins = ["omnivec.providers.emulator.pytest_plugin"]``.

``omnivec_emulator`` starts an emulator, points boto3 and google-genai at it through their own
environment variables (with dummy credentials) and allows omnivec's remote providers to call it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..testing import allow_remote_calls
from . import Emulator, emulator_env


@pytest.fixture
def omnivec_emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    with Emulator() as emulator, allow_remote_calls():
        for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "GOOGLE_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI"):
            monkeypatch.delenv(name, raising=False)
        for name, value in emulator_env(emulator.url).items():
            monkeypatch.setenv(name, value)
        yield emulator
