from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


def shared_set(relative: str) -> Path:
    path = SHARED / relative
    if not path.is_dir():
        pytest.skip(f"{path} not present (CI reads ../shared/data)")
    return path
