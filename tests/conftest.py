"""Shared test setup: remote provider calls are blocked unless a test opts in."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from omnivec.providers import _guard, _rate


@pytest.fixture(autouse=True)
def _block_remote_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # No test reaches a real cloud by accident; emulator and live tests opt in explicitly.
    for name in list(os.environ):
        if name.startswith("OMNIVEC_"):
            monkeypatch.delenv(name)
    previous = _guard.set_remote_calls_blocked(True)
    yield
    _guard.set_remote_calls_blocked(previous)


@pytest.fixture(autouse=True)
def _fresh_rate_budgets() -> Iterator[None]:
    # Learned rates are process-wide on purpose (one budget per provider + credentials + region);
    # between tests that would carry one test's throttling into the next.
    _rate.reset_budgets()
    yield
    _rate.reset_budgets()


@pytest.fixture
def isolated_cwd(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """Run in an empty folder so no omnivec.toml / pyproject.toml of ours is picked up."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


pytest_plugins = ["omnivec.providers.emulator.pytest_plugin"]
