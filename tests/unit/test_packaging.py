"""The wheel installs the top-level folders as omnivec.providers / omnivec.benchmarks."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        check=True,
    )
    return next(out.glob("omnivec-*.whl"))


def test_wheel_maps_folders_under_omnivec(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "omnivec/providers/__init__.py" in names
    assert "omnivec/benchmarks/__init__.py" in names
    assert "omnivec/providers/py.typed" in names
    assert not any(n.startswith(("providers/", "benchmarks/", "tests/")) for n in names)


def test_every_package_folder_is_in_the_wheel(wheel: Path) -> None:
    # setuptools cannot discover packages under the remapped ``omnivec.`` prefix, so pyproject.toml
    # lists them; this catches a new folder that was not added there.
    names = set(zipfile.ZipFile(wheel).namelist())
    for top in ("providers", "benchmarks"):
        for init in (ROOT / top).rglob("__init__.py"):
            assert f"omnivec/{init.relative_to(ROOT).as_posix()}" in names, f"add {init.parent} to pyproject packages"


def test_installed_wheel_imports_and_runs(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)], check=True
    )
    # Drop the editable install's finder so only the unpacked wheel can answer.
    code = (
        "import sys; sys.meta_path = [f for f in sys.meta_path if 'editable' not in repr(f).lower()];"
        f"sys.path.insert(0, {str(target)!r});"
        "import omnivec.providers as p, omnivec.benchmarks as b;"
        f"assert p.__file__.startswith({str(target)!r}), p.__file__;"
        "r = p.get_provider('fake').embed_sync(['x'], intent='query'); print(r.vectors.shape)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "(1, 64)"
