"""pytest fixtures for the wire emulator. Enable with ``pytest_plugins = ["omnivec.providers.emulator.pytest_plugin"]``.

``omnivec_emulator`` starts an emulator, points boto3 and google-genai at it through their own
environment variables (with dummy credentials, see :func:`~omnivec.providers.emulator.emulator_environment`)
and allows omnivec's remote providers to call it. ``monkeypatch`` restores every variable afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..testing import allow_remote_calls
from . import Emulator, apply_emulator_environment


@pytest.fixture
def omnivec_emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    with Emulator() as emulator, allow_remote_calls():
        apply_emulator_environment(
            emulator.url, monkeypatch.setenv, lambda name: monkeypatch.delenv(name, raising=False)
        )
        yield emulator
