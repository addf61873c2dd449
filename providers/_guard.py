"""Process-wide switch that refuses remote provider calls (tests turn it on)."""

from __future__ import annotations

import os

_blocked: bool = os.environ.get("OMNIVEC_BLOCK_REMOTE_CALLS", "") not in ("", "0", "false")


def set_remote_calls_blocked(blocked: bool) -> bool:
    """Block or allow remote calls; returns the previous state."""
    global _blocked
    previous, _blocked = _blocked, blocked
    return previous


def remote_calls_blocked() -> bool:
    return _blocked
