"""Local wire emulator for Bedrock, Gemini and OpenAI-compatible embeddings (``omnivec emulate``, pytest fixture).

:func:`emulator_environment` is the ONE place that knows which SDK variables point boto3,
google-genai and openai at the emulator and which must be removed so nothing reaches a real cloud or mixes in
real credentials; :func:`emulated_clouds`, the pytest fixture and scripts all go through it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from .._translate import EMULATOR_URL_ENV
from ..testing import allow_remote_calls
from .server import Emulator, EmulatorStats, Faults

__all__ = [
    "EMULATOR_ENV",
    "EMULATOR_URL_ENV",
    "Emulator",
    "EmulatorStats",
    "Faults",
    "apply_emulator_environment",
    "emulated_clouds",
    "emulator_env",
    "emulator_environment",
]

CLEARED = (
    "AWS_SESSION_TOKEN",  # would pair a real session token with the dummy keys
    "AWS_PROFILE",  # a profile can carry its own endpoint, region or SSO credentials
    "AWS_BEARER_TOKEN_BEDROCK",  # a real Bedrock API key would be sent (and recorded) instead of SigV4
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",  # "true" makes boto3 skip the endpoint variable: the real cloud
    "GOOGLE_API_KEY",  # google-genai prefers it over GEMINI_API_KEY
    "GOOGLE_GENAI_USE_VERTEXAI",  # Vertex mode would need ADC and another base URL
    "GOOGLE_CLOUD_PROJECT",
    "GOOGLE_CLOUD_LOCATION",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "OPENAI_ORG_ID",  # the SDK sends these as headers: no real account id reaches the emulator or a cassette
    "OPENAI_PROJECT_ID",
    "OPENAI_ADMIN_KEY",
    "OPENAI_CUSTOM_HEADERS",
)
"""SDK variables removed while the emulator is in use."""


def emulator_environment(url: str) -> dict[str, str | None]:
    """Every SDK variable the emulator needs: a value to set, or None for one to remove.

    Dummy credentials, us-east-1, the three SDKs' endpoint variables (Vertex's too), and
    ``EMULATED_BY_OMNIVEC``, by which the adapters fingerprint the emulator as ``"emulator"``
    whatever its port, so its vectors never share a cache with a real run.
    """
    values: dict[str, str | None] = dict.fromkeys(CLEARED)
    values.update(
        {
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": url,
            "AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME": url,  # Rerank
            "GOOGLE_GEMINI_BASE_URL": url,
            "GOOGLE_VERTEX_BASE_URL": url,
            "AWS_ACCESS_KEY_ID": "EMULATOR",
            "AWS_SECRET_ACCESS_KEY": "EMULATOR",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "GEMINI_API_KEY": "emulator-key",
            "OPENAI_BASE_URL": f"{url}/v1",  # the SDK's API root; it posts to {root}/embeddings
            "OPENAI_API_KEY": "emulator-key",
            EMULATOR_URL_ENV: url,
        }
    )
    return values


EMULATOR_ENV = tuple(emulator_environment("http://127.0.0.1:0"))
"""Names of every variable :func:`emulator_environment` sets or removes."""


def emulator_env(url: str) -> dict[str, str]:
    """Only the variables to set (for a subprocess ``env=`` built on a copy of ``os.environ``, remove
    the others too: prefer :func:`emulator_environment`)."""
    return {name: value for name, value in emulator_environment(url).items() if value is not None}


def apply_emulator_environment(url: str, setenv: Callable[[str, str], object], delenv: Callable[[str], object]) -> None:
    """Point the SDKs at ``url`` through the given setter and remover (``os.environ`` or pytest's monkeypatch)."""
    for name, value in emulator_environment(url).items():
        if value is None:
            delenv(name)
        else:
            setenv(name, value)


@contextmanager
def emulated_clouds(faults: Faults | None = None) -> Iterator[Emulator]:
    """Run an emulator and point the SDKs at it through their own environment variables, then restore them.

    Remote providers may call out inside (the calls stay on 127.0.0.1), even where tests block them.
    """
    saved = {name: os.environ.get(name) for name in EMULATOR_ENV}
    with Emulator(faults) as emulator, allow_remote_calls():
        try:
            apply_emulator_environment(emulator.url, os.environ.__setitem__, lambda name: os.environ.pop(name, None))
            yield emulator
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
