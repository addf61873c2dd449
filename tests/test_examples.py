"""Every example runs as documented (the examples are part of the docs)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from omnivec.providers.emulator import Emulator, apply_emulator_environment

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run(script: str, cwd: Path, emulator_url: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("OMNIVEC_")}
    if emulator_url:
        apply_emulator_environment(emulator_url, base.__setitem__, lambda name: base.pop(name, None))
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script)],
        cwd=cwd,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("script", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_example_runs(script: str, tmp_path: Path) -> None:
    out = run(script, tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip()


@pytest.mark.parametrize(
    "model",
    [
        "local",
        "gemini:gemini-embedding-2",
        "bedrock:amazon.nova-2-multimodal-embeddings-v1:0",
        "openai:text-embedding-3-small",
    ],
)
def test_switch_provider_runs_unchanged_on_every_provider(model: str, tmp_path: Path) -> None:
    with Emulator() as emulator:
        out = run("switch_provider.py", tmp_path, emulator.url, OMNIVEC_MODEL=model)
        calls = emulator.stats.requests
    assert out.returncode == 0, out.stderr
    assert "30 days" in out.stdout  # the right FAQ entry, by whichever provider
    assert (calls > 0) == (model != "local")
