"""pgdev under root never loosens a folder it did not create (it once turned /root from 0700 to 0705)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from omnivec.providers.errors import ConfigurationError
from omnivec.providers.stores.pgdev import start_local_postgres

pytestmark = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="pgdev's root path")


def test_a_data_folder_behind_a_private_folder_is_refused_with_the_fix(tmp_path: Path) -> None:
    private = tmp_path / "home"
    private.mkdir(mode=0o700)
    with pytest.raises(ConfigurationError, match="never loosens a folder") as refused:
        start_local_postgres(private / "pgdata")
    assert "leave DATA_DIR out" in str(refused.value)
    assert private.stat().st_mode & 0o777 == 0o700 and not (private / "pgdata").exists()


def test_the_default_data_folder_starts_without_touching_any_parent() -> None:
    before = {p: p.stat().st_mode for p in [Path("/tmp"), Path("/"), Path.home()]}
    server = start_local_postgres()
    try:
        assert server.data_dir.parent.name.startswith("omnivec-pg-")
        assert {p: p.stat().st_mode for p in before} == before
    finally:
        server.stop(remove=True)


def test_the_command_line_refuses_an_unreachable_folder_in_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    private = tmp_path / "home"
    private.mkdir(mode=0o700)
    done = subprocess.run(
        [sys.executable, "-m", "omnivec.providers.stores.pgdev", "start", str(private / "pgdata")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "never loosens a folder" in done.stderr  # it was a 12-line traceback


def test_a_copy_of_an_unreachable_wheel_runs_and_a_broken_copy_is_made_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The copy once left out the wheel's vendored libraries (pgserver.libs, reached by a relative
    # rpath): initdb then failed with "libpq-….so: cannot open shared object file" on every start.
    import shutil
    import tempfile

    from omnivec.providers.stores import pgdev

    wheel = pgdev._bin_dir().parent  # site-packages/pgserver/pginstall
    private = tmp_path / "site-packages"  # under pytest's 0700 folder: the service user cannot reach it
    shutil.copytree(wheel, private / "pgserver" / "pginstall", symlinks=True)
    shutil.copytree(wheel.parent.parent / "pgserver.libs", private / "pgserver.libs")
    home = Path("/var/lib/omnivec-pg")
    home.mkdir(mode=0o755, parents=True, exist_ok=True)
    service_home = Path(tempfile.mkdtemp(dir=home))  # our own, so concurrent runs keep theirs
    os.chmod(service_home, 0o755)
    monkeypatch.setattr(pgdev, "_bin_dir", lambda: private / "pgserver" / "pginstall" / "bin")
    monkeypatch.setattr(pgdev, "_SERVICE_HOME", service_home)
    try:
        bins = pgdev._bins()
        assert bins.is_relative_to(service_home) and pgdev._runs(bins / "initdb")
        broken = next(bins.parent.parent.parent.glob("pgserver.libs/libpq*"))
        broken.unlink()  # what deleting the venv the old copy leaned on did
        assert not pgdev._runs(bins / "initdb")
        assert pgdev._runs(pgdev._bins() / "initdb")
    finally:
        shutil.rmtree(service_home, ignore_errors=True)
