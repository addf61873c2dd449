"""Local wire emulator for Bedrock Nova and Gemini embeddings (``omnivec emulate``, pytest fixture)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from ..testing import allow_remote_calls
from .server import Emulator, EmulatorStats, Faults

__all__ = ["EMULATOR_ENV", "Emulator", "EmulatorStats", "Faults", "emulated_clouds", "emulator_env"]

EMULATOR_ENV = ("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "GOOGLE_GEMINI_BASE_URL", "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION", "GEMINI_API_KEY", "GOOGLE_API_KEY")


def emulator_env(url: str) -> dict[str, str]:
    """Standard SDK variables that point boto3 and google-genai at the emulator, with dummy credentials."""
    return {
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": url,
        "GOOGLE_GEMINI_BASE_URL": url,
        "AWS_ACCESS_KEY_ID": "EMULATOR",
        "AWS_SECRET_ACCESS_KEY": "EMULATOR",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "GEMINI_API_KEY": "emulator-key",
    }


@contextmanager
def emulated_clouds(faults: Faults | None = None) -> Iterator[Emulator]:
    """Run an emulator and point the SDKs at it through their own environment variables, then restore them.

    Remote providers may call out inside (the calls stay on 127.0.0.1), even where tests block them.
    """
    saved = {name: os.environ.get(name) for name in EMULATOR_ENV}
    with Emulator(faults) as emulator, allow_remote_calls():
        os.environ.pop("AWS_SESSION_TOKEN", None)
        os.environ.pop("GOOGLE_API_KEY", None)  # google-genai prefers it over GEMINI_API_KEY
        os.environ.update(emulator_env(emulator.url))
        try:
            yield emulator
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
