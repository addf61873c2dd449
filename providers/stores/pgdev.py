"""A throwaway PostgreSQL 16 + pgvector on 127.0.0.1, from the ``pgserver`` wheel, for tests and demos.

    python -m omnivec.providers.stores.pgdev start /tmp/pgdata     # prints the postgresql:// URL
    python -m omnivec.providers.stores.pgdev start                 # the same in a temporary folder
    python -m omnivec.providers.stores.pgdev stop /tmp/pgdata

PostgreSQL refuses to run as root, so under root the server runs as a system user (``omnivec-pg``,
created on first use). pgdev never changes the permissions of a folder it did not create (it once
opened ``/root`` to others): when the wheel sits where that user cannot reach, its binaries are
copied to ``/var/lib/omnivec-pg``; a data folder it cannot reach is refused with the fix. It
listens on 127.0.0.1 only, with trust authentication: never use it for anything but local tests.
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

from ..errors import ConfigurationError, MissingDependencyError

__all__ = ["LocalPostgres", "start_local_postgres"]

_USER = "omnivec-pg"
_SERVICE_HOME = Path("/var/lib/omnivec-pg")


@dataclass
class LocalPostgres:
    """A running local server; :meth:`stop` shuts it down (``remove=True`` also deletes its data)."""

    url: str
    data_dir: Path
    port: int

    def stop(self, remove: bool = False) -> None:
        _run(
            [
                str(_bins() / "pg_ctl"),
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


def _as_service() -> dict[str, object]:
    # user= alone keeps root's groups: drop them, so a check sees exactly what the server will see.
    return {"user": _USER, "group": _USER, "extra_groups": []} if _as_root() else {}


def _reachable(path: Path, test: str = "-x") -> bool:
    """Whether the service user can traverse (``-x``) / write (``-w``) ``path``."""
    return subprocess.run(["test", test, str(path)], capture_output=True, cwd="/", **_as_service()).returncode == 0  # type: ignore[call-overload, no-any-return]


def _bins() -> Path:
    """The binaries the server runs from: the wheel's, or (root, wheel unreachable) our own copy."""
    bins = _bin_dir()
    if not _as_root() or _reachable(bins / "postgres"):
        return bins
    from importlib.metadata import version

    # The binaries find the wheel's vendored libraries by a relative rpath
    # ($ORIGIN/../../../pgserver.libs), so the copy keeps the wheel's layout: pgserver/pginstall next to
    # pgserver.libs. A copy that cannot start (a library missing) is made again, never trusted.
    home = _SERVICE_HOME / f"pgserver-{version('pgserver')}"
    copy_bins = home / "pgserver" / "pginstall" / "bin"
    if not _runs(copy_bins / "initdb"):
        _SERVICE_HOME.mkdir(mode=0o755, parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=_SERVICE_HOME))
        shutil.copytree(bins.parent, staging / "pgserver" / "pginstall", symlinks=True)
        libs = bins.parent.parent.parent / "pgserver.libs"
        if libs.is_dir():
            shutil.copytree(libs, staging / "pgserver.libs", symlinks=True)
        subprocess.run(["chmod", "-R", "o+rX", str(staging)], check=True)  # our copy, nobody else's folder
        os.chmod(staging, 0o755)
        shutil.rmtree(home, ignore_errors=True)
        staging.rename(home)
    return copy_bins


def _runs(program: Path) -> bool:
    """Whether ``program --version`` starts as the service user (false when missing or a library is)."""
    if not program.exists():
        return False
    done = subprocess.run([str(program), "--version"], capture_output=True, cwd="/", **_as_service())  # type: ignore[call-overload]
    return done.returncode == 0  # type: ignore[no-any-return]


def _run(cmd: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    who = _as_service()
    done: subprocess.CompletedProcess[str] = subprocess.run(cmd, capture_output=True, text=True, cwd="/", **who)  # type: ignore[call-overload]
    if check and done.returncode != 0:
        output = (done.stderr or done.stdout).strip().splitlines()
        raise RuntimeError(f"{Path(cmd[0]).name} failed ({done.returncode}): {output[-1] if output else 'no output'}")
    return done


def _prepare_root(data_dir: Path, ours: Path | None) -> None:
    """Make the service user and its data folder; ``ours`` is a folder this call created (chowned to
    the user). Any other existing folder on the way must already be reachable: never loosened."""
    if subprocess.run(["id", _USER], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", _USER], check=True)
    if ours is not None:
        shutil.chown(ours, _USER, _USER)
    if _SERVICE_HOME in data_dir.parents and not _SERVICE_HOME.exists():
        # the home pgdev itself suggests: made here for the service user, so it is ours to own
        _SERVICE_HOME.mkdir(mode=0o755, parents=True)
        shutil.chown(_SERVICE_HOME, _USER, _USER)
    existing = next(p for p in [data_dir, *data_dir.parents] if p.exists())
    if not _reachable(existing) or (existing != data_dir and not _reachable(existing, "-w")):
        mode = oct(existing.stat().st_mode & 0o777)
        raise ConfigurationError(
            f"the PostgreSQL service user {_USER!r} cannot reach or write {existing} (mode {mode}) and pgdev never "
            f"loosens a folder it did not create: give a data folder it can reach (e.g. {_SERVICE_HOME}/data, or "
            f"leave DATA_DIR out for a temporary one), 'chown {_USER}' a folder of yours, or run pgdev as a non-root user"
        )
    _run(["mkdir", "-p", "-m", "0700", str(data_dir)])  # as the service user: it owns what it creates


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_local_postgres(data_dir: str | Path | None = None, port: int | None = None) -> LocalPostgres:
    """initdb (first time), start on 127.0.0.1:``port`` and ``CREATE EXTENSION vector``; returns the URL."""
    ours = Path(tempfile.mkdtemp(prefix="omnivec-pg-")) if data_dir is None else None
    data = (Path(data_dir) if data_dir is not None else ours / "data").resolve()  # type: ignore[operator]
    port = port or _free_port()
    if _as_root():
        _prepare_root(data, ours)
    else:
        data.mkdir(parents=True, exist_ok=True)
    bins = _bins()
    if not (data / "PG_VERSION").exists():
        _run([str(bins / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--encoding=UTF8"])
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {data} -c max_connections=200 -c fsync=off"
    _run([str(bins / "pg_ctl"), "-D", str(data), "-w", "-t", "60", "-l", str(data / "log"), "-o", opts, "start"])
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    import psycopg  # the stores extra

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    return LocalPostgres(url=url, data_dir=data, port=port)


_USAGE = "usage: python -m omnivec.providers.stores.pgdev start [DATA_DIR [PORT]] | stop DATA_DIR"


def main(argv: list[str]) -> int:
    """One line on stdout (start: the URL, then the data folder to stop), or one error line, exit 2."""
    if not argv or argv[0] not in ("start", "stop") or (argv[0] == "stop" and len(argv) != 2) or len(argv) > 3:
        print(_USAGE, file=sys.stderr)
        return 2
    try:
        if argv[0] == "start":
            port = int(argv[2]) if len(argv) > 2 else None
            server = start_local_postgres(argv[1] if len(argv) > 1 else None, port)
            print(server.url)
            if len(argv) == 1:  # a temporary folder: the user needs its name to stop it
                print(f"stop with: python -m omnivec.providers.stores.pgdev stop {server.data_dir}", file=sys.stderr)
        else:
            LocalPostgres("", Path(argv[1]).resolve(), 0).stop()
    except ValueError:
        print(f"PORT must be a number; {_USAGE}", file=sys.stderr)
        return 2
    except (ConfigurationError, MissingDependencyError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
