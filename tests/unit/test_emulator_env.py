"""One helper owns the emulator's environment: ``emulated_clouds`` and the pytest fixture agree exactly."""

from __future__ import annotations

import os

import pytest

from omnivec.providers.emulator import EMULATOR_ENV, emulated_clouds, emulator_env, emulator_environment

REAL = {
    "AWS_SESSION_TOKEN": "real-token",
    "AWS_PROFILE": "prod",
    "GOOGLE_API_KEY": "real-google-key",
    "GOOGLE_GENAI_USE_VERTEXAI": "true",
    "AWS_BEARER_TOKEN_BEDROCK": "real-bedrock-key",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true",
    "AWS_ACCESS_KEY_ID": "AKIAREAL",
}


def snapshot(url: str) -> dict[str, str | None]:
    """The emulator variables as they are now, with the URL written generically."""
    return {name: (os.environ.get(name) or "").replace(url, "URL") or None for name in EMULATOR_ENV}


def expected() -> dict[str, str | None]:
    return {
        name: value.replace("http://x", "URL") if value else None
        for name, value in emulator_environment("http://x").items()
    }


def test_the_environment_sets_and_clears(monkeypatch: pytest.MonkeyPatch) -> None:
    env = emulator_environment("http://127.0.0.1:1")
    cleared = {name for name, value in env.items() if value is None}
    assert {"AWS_SESSION_TOKEN", "AWS_PROFILE", "GOOGLE_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI"} <= cleared
    assert env["EMULATED_BY_OMNIVEC"] == env["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] == env["GOOGLE_GEMINI_BASE_URL"]
    assert set(emulator_env("http://127.0.0.1:1")) == set(env) - cleared


def test_emulated_clouds_applies_then_restores_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in REAL.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    before = {name: os.environ.get(name) for name in EMULATOR_ENV}
    with emulated_clouds() as emulator:
        assert snapshot(emulator.url) == expected()
        assert not any(os.environ.get(name) == value for name, value in REAL.items())
    assert {name: os.environ.get(name) for name in EMULATOR_ENV} == before


def test_the_fixture_gives_the_same_environment(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    for name, value in REAL.items():
        monkeypatch.setenv(name, value)
    emulator = request.getfixturevalue("omnivec_emulator")
    assert snapshot(emulator.url) == expected()
