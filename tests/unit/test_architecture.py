"""The seams: the library never imports its consumers, and one registry row adds a provider."""

from __future__ import annotations

import ast
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

import omnivec.providers
from omnivec.providers import config, get_provider, load_config, load_provider, registry
from omnivec.providers.cli import app, attach_commands
from omnivec.providers.testing.contract import builtin_contract_cases

PROVIDERS_DIR = Path(omnivec.providers.__file__).parent


def _package_of(path: Path) -> str:
    """The package a file under providers/ belongs to, e.g. ``omnivec.providers.bedrock``."""
    return ".".join(("omnivec", "providers", *path.relative_to(PROVIDERS_DIR).parent.parts))


def _imported_modules(path: Path, package: str) -> set[str]:
    """Absolute names of the modules a file imports (relative imports resolved against ``package``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                found.add(f"{base}.{node.module}" if node.module else base)
            elif node.module:
                found.add(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
            "import_module",
            "__import__",
        ):
            found.update(arg.value for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str))
    return found


def test_the_library_imports_nothing_from_the_benchmarks() -> None:
    offenders = {
        str(path.relative_to(PROVIDERS_DIR)): sorted(
            m for m in _imported_modules(path, _package_of(path)) if m.startswith("omnivec.benchmarks")
        )
        for path in PROVIDERS_DIR.rglob("*.py")
    }
    assert {path: mods for path, mods in offenders.items() if mods} == {}


def test_the_import_graph_check_sees_every_import_form(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from ..benchmarks import runner\nimport omnivec.benchmarks.cli\n"
        "importlib.import_module('omnivec.benchmarks.report')\nfrom .errors import X\n"
    )
    assert _imported_modules(probe, "omnivec.providers") == {
        "omnivec.benchmarks",
        "omnivec.benchmarks.cli",
        "omnivec.benchmarks.report",
        "omnivec.providers.errors",
    }


def test_subcommands_plug_in_through_the_entry_point_group() -> None:
    attach_commands()
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("embed", "providers", "bench", "emulate"):
        assert command in result.output


TOY_SETTINGS = """
from pydantic import Field
from omnivec.providers.registry import ProviderInfo
from omnivec.providers.settings import ProviderSettings


class ToySettings(ProviderSettings):
    scale: float = Field(1.0, gt=0)


PROVIDER = ProviderInfo(
    name="toy",
    target="toy_adapter.provider:ToyProvider",
    default_model="toy-1",
    extra="toy",
    settings=ToySettings,
    distributions=("toy-sdk",),
    contract_options={"dimensions": 8},
)
"""
TOY_PROVIDER = """
import numpy as np
from omnivec.providers import BatchOutput, Capabilities, EmbeddingProvider
from omnivec.providers.testing import hashed_features
from .settings import ToySettings


class ToyProvider(EmbeddingProvider[ToySettings]):
    name = "toy"
    settings_class = ToySettings
    is_remote = False

    @property
    def capabilities(self):
        return Capabilities(modalities=frozenset({"text"}), max_batch_size=4, max_concurrency=2,
                            default_dimensions=16, dimension_range=(1, 64), normalized=True)

    def intent_mapping(self, intent):
        return f"toy:{intent}"

    async def _embed_batch(self, batch, *, intent):
        vectors = np.stack([hashed_features(("q " if intent == "query" else "") + t, self.dimensions) for t in batch])
        return BatchOutput(vectors=vectors * self.settings.scale)
"""


@pytest.fixture
def toy_provider(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fourth built-in adapter: its folder (place 1) and ONE registry row (place 2).

    The other two places are its extra in pyproject.toml and its docs page, which a test cannot
    add; everything the rest of omnivec derives from the registry is checked below.
    """
    package = tmp_path / "toy_adapter"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "settings.py").write_text(textwrap.dedent(TOY_SETTINGS))
    (package / "provider.py").write_text(textwrap.dedent(TOY_PROVIDER))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "_BUILTIN_ROWS", (*registry._BUILTIN_ROWS, "toy_adapter.settings:PROVIDER"))
    registry.builtin_providers.cache_clear()
    config.config_class.cache_clear()
    yield
    registry.builtin_providers.cache_clear()
    config.config_class.cache_clear()
    for name in [m for m in sys.modules if m.startswith("toy_adapter")]:
        del sys.modules[name]


@pytest.mark.usefixtures("toy_provider", "isolated_cwd")
def test_a_fourth_builtin_provider_needs_one_registry_row(monkeypatch: pytest.MonkeyPatch) -> None:
    assert get_provider("toy", dimensions=8).embed_sync("hello", intent="query").vectors.shape == (1, 8)
    # Config: a typed section appears, from env and TOML, and typos in it fail loudly.
    monkeypatch.setenv("OMNIVEC_MODEL", "toy:toy-1")
    monkeypatch.setenv("OMNIVEC_TOY__SCALE", "2.5")
    provider = load_provider()
    assert provider.settings.scale == 2.5  # type: ignore[attr-defined]
    assert load_config().section("toy").dimensions is None
    # The CLI listing, the benchmark's version manifest and the contract suite follow the row.
    result = CliRunner().invoke(app, ["providers"])
    assert "toy" in result.output and "toy-1" in result.output
    assert "toy-sdk" in registry.sdk_distributions()
    assert "toy" in {case.name for case in builtin_contract_cases()}
