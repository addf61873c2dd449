"""Without its framework installed, an adapter names the extra to install (one line, typed)."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from omnivec.providers import MissingDependencyError


@pytest.mark.parametrize(
    ("module", "framework", "extra"),
    [
        ("langchain", "langchain_core.embeddings", "langchain"),
        ("llamaindex", "llama_index.core.embeddings", "llamaindex"),
    ],
)
def test_a_missing_framework_names_the_extra(
    module: str, framework: str, extra: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"omnivec.providers.integrations.{module}"
    monkeypatch.setitem(sys.modules, framework, None)  # as if the framework were not installed
    monkeypatch.delitem(sys.modules, name, raising=False)
    with pytest.raises(MissingDependencyError, match=rf'pip install "omnivec\[{extra}\]"') as info:
        importlib.import_module(name)
    assert "\n" not in str(info.value)


def test_the_package_itself_loads_no_framework() -> None:
    code = "import sys, omnivec.providers.integrations; print(sorted(m for m in ('langchain_core', 'llama_index') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
