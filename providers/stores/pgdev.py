"""A throwaway PostgreSQL 16 + pgvector on 127.0.0.1, from the ``pgserver`` wheel, for tests and demos.

    python -m omnivec.providers.stores.pgdev start /tmp/pgdata     # prints the postgresql:// URL
    python -m omnivec.providers.stores.pgdev stop /tmp/pgdata

PostgreSQL refuses to run as root, so under root the server runs as a system user (``omnivec-pg``,
created on first use) and the wheel's binaries are made world-readable. It listens on 127.0.0.1
only, with trust authentication: never use it for anything but local tests.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import MissingDependencyError

__all__ = ["LocalPostgres", "start_local_postgres"]

_USER = "omnivec-pg"


@dataclass
class LocalPostgres:
    """A running local server; :meth:`stop` shuts it down (``remove=True`` also deletes its data)."""

    url: str
    data_dir: Path
    port: int

    def stop(self, remove: bool = False) -> None:
        _run(
            [
                str(_bin_dir() / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-w",
                "-m",
                "immediate" if remove else "fast",
                "stop",
            ],
            check=False,
        )
        if remove:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            if self.data_dir.parent.name.startswith("omnivec-pg-"):  # the temporary folder made for it
                shutil.rmtree(self.data_dir.parent, ignore_errors=True)


def _bin_dir() -> Path:
    spec = importlib.util.find_spec("pgserver")
    if spec is None or spec.origin is None:
        raise MissingDependencyError('a local PostgreSQL needs pgserver: pip install "omnivec[stores]"')
    return Path(spec.origin).parent / "pginstall" / "bin"


def _as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _run(cmd: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    # user= alone keeps root's group, which the 0705 parents of a mkdtemp folder refuse.
    who: dict[str, object] = {"user": _USER, "group": _USER, "extra_groups": []} if _as_root() else {}
    done: subprocess.CompletedProcess[str] = subprocess.run(cmd, capture_output=True, text=True, cwd="/", **who)  # type: ignore[call-overload]
    if check and done.returncode != 0:
        output = (done.stderr or done.stdout).strip().splitlines()
        raise RuntimeError(f"{Path(cmd[0]).name} failed ({done.returncode}): {output[-1] if output else 'no output'}")
    return done


def _prepare_root(data_dir: Path) -> None:
    if subprocess.run(["id", _USER], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", _USER], check=True)
    install = _bin_dir().parent
    subprocess.run(["chmod", "-R", "o+rX", str(install)], check=True)
    for parent in [install, *install.parents, data_dir.parent, *data_dir.parent.parents]:
        if parent.is_dir():
            os.chmod(parent, os.stat(parent).st_mode | 0o005)
    data_dir.mkdir(parents=True, exist_ok=True)
    shutil.chown(data_dir, _USER, _USER)
    os.chmod(data_dir, 0o700)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_local_postgres(data_dir: str | Path | None = None, port: int | None = None) -> LocalPostgres:
    """initdb (first time), start on 127.0.0.1:``port`` and ``CREATE EXTENSION vector``; returns the URL."""
    data = Path(data_dir) if data_dir is not None else Path(tempfile.mkdtemp(prefix="omnivec-pg-")) / "data"
    data = data.resolve()
    port = port or _free_port()
    if _as_root():
        _prepare_root(data)
    else:
        data.mkdir(parents=True, exist_ok=True)
    bins = _bin_dir()
    if not (data / "PG_VERSION").exists():
        _run([str(bins / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--encoding=UTF8"])
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {data} -c max_connections=200 -c fsync=off"
    _run([str(bins / "pg_ctl"), "-D", str(data), "-w", "-t", "60", "-l", str(data / "log"), "-o", opts, "start"])
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    import psycopg  # the stores extra

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    return LocalPostgres(url=url, data_dir=data, port=port)


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in ("start", "stop"):
        print("usage: python -m omnivec.providers.stores.pgdev start|stop DATA_DIR [PORT]", file=sys.stderr)
        return 2
    if argv[0] == "start":
        print(start_local_postgres(argv[1], int(argv[2]) if len(argv) > 2 else None).url)
    else:
        LocalPostgres("", Path(argv[1]).resolve(), 0).stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
