"""A pre-imported parent that forks one child per command line, so the crash tests pay the
(seconds-long) import of lancedb/pyarrow once instead of once per kill. Each child is a real
process running the real ``omnivec`` CLI; the test SIGKILLs it by pid.

Protocol: one JSON argv list (or ``{"argv": [...], "cwd": DIR}``) per stdin line; answers ``pid N`` when the child starts and
``exit N`` (or ``signal N``) when it ends.
"""

from __future__ import annotations

import json
import os
import sys

import lancedb  # noqa: F401 - imported before forking, that is the point
import psycopg  # noqa: F401

from omnivec.providers.cli import app, attach_commands

attach_commands()

for line in sys.stdin:
    argv = json.loads(line)
    cwd = None
    if isinstance(argv, dict):
        argv, cwd = argv["argv"], argv.get("cwd")
    pid = os.fork()
    if pid == 0:
        if cwd:
            os.chdir(cwd)  # each run from a working folder of its own
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        code = 0
        try:
            result = app(argv, prog_name="omnivec", standalone_mode=False)
            code = result if isinstance(result, int) else 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException as exc:
            print(f"child failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            code = 1
        sys.stderr.flush()
        os._exit(code)
    print(f"pid {pid}", flush=True)
    _, status = os.waitpid(pid, 0)
    print(f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"exit {os.WEXITSTATUS(status)}", flush=True)
