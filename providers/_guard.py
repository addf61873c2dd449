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


def refuse_if_blocked(provider: str, model: str) -> None:
    """Raise :class:`RemoteCallsBlockedError` while remote calls are blocked (before any request)."""
    if _blocked:
        from .errors import RemoteCallsBlockedError

        raise RemoteCallsBlockedError(
            "remote calls are blocked (tests block them by default): use the emulator or "
            "omnivec.providers.testing.allow_remote_calls()",
            provider=provider,
            model=model,
        )
