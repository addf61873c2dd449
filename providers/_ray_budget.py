"""The request and token budget that the actors of one Ray job share, and the gate that spends it.

The provider's quota is per account, not per process: N actors that each learn their own rate would
together send N times the grant. One Ray actor (:func:`shared_budget`) holds the budget; every actor
reserves from it before each provider call (retries included) and waits locally, so the budget actor
never blocks (the gate that reserves is in :mod:`.ray`). ``import ray`` happens on first use, so this module imports without the extra.
"""

from __future__ import annotations

import time
from typing import Any

from .errors import InvalidOptionError, MissingDependencyError

__all__ = ["require_ray", "shared_budget"]


def require_ray() -> Any:
    """The ``ray`` module, or :class:`MissingDependencyError` naming the extra."""
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise MissingDependencyError(f'the Ray engine needs its extra: pip install "omnivec[ray]" ({exc})') from exc
    return ray


class _SharedBudget:
    """Requests/s and tokens/min for every actor of a job (GCRA: one booking per call, no waiting in here).

    ``reserve`` answers with the wall-clock time at which the call may go out, not a delay: a delay would
    start when the answer arrives, so RPC jitter would bunch calls booked apart. A node whose clock is off
    (NTP keeps it to milliseconds) sends with the same spacing, only shifted.
    """

    def __init__(self, requests_per_second: float | None, tokens_per_minute: float | None, burst: float) -> None:
        self.configure(requests_per_second, tokens_per_minute, burst)
        self.request_tat = self.token_tat = 0.0
        self.requests = self.tokens = 0
        self.waited_s = 0.0

    def configure(self, requests_per_second: float | None, tokens_per_minute: float | None, burst: float) -> None:
        self.rps, self.tps, self.burst = requests_per_second, (tokens_per_minute or 0) / 60.0 or None, burst

    def reserve(self, requests: int = 1, tokens: int = 0) -> float:
        """Book ``requests`` and ``tokens``; returns the ``time.time()`` at which the caller may send."""
        now = at = time.time()
        if self.rps:
            at = max(at, self.request_tat - (self.burst - 1) / self.rps)
        if self.tps and tokens:  # a call's tokens are paid after it: the next one waits for them
            at = max(at, self.token_tat)
        if self.rps:
            self.request_tat = max(self.request_tat, at) + requests / self.rps
        if self.tps and tokens:
            self.token_tat = max(self.token_tat, at) + tokens / self.tps
        self.requests, self.tokens, self.waited_s = (
            self.requests + requests,
            self.tokens + tokens,
            self.waited_s + at - now,
        )
        return at

    def snapshot(self) -> dict[str, float | int | None]:
        return {
            "requests_per_second": self.rps,
            "tokens_per_second": self.tps,
            "requests": self.requests,
            "tokens": self.tokens,
            "waited_s": round(self.waited_s, 3),
        }


def shared_budget(
    name: str, *, requests_per_second: float | None = None, tokens_per_minute: float | None = None, burst: float = 1.0
) -> Any:
    """The named budget actor of a quota (created, or found and re-configured): pass it as ``budget=``.

    Jobs of one Ray namespace that use the same ``name`` share the budget, as they share the quota.
    """
    if requests_per_second is None and tokens_per_minute is None:
        raise InvalidOptionError("shared_budget needs requests_per_second or tokens_per_minute (both are None)")
    for label, value in (("requests_per_second", requests_per_second), ("tokens_per_minute", tokens_per_minute)):
        if value is not None and not value > 0:
            raise InvalidOptionError(f"{label} must be > 0, got {value}")
    if not burst >= 1:
        raise InvalidOptionError(f"burst must be >= 1 request, got {burst}")
    ray = require_ray()
    actor = ray.remote(num_cpus=0)(_SharedBudget).options(name=f"omnivec-budget:{name}", get_if_exists=True)
    handle = actor.remote(requests_per_second, tokens_per_minute, burst)
    ray.get(handle.configure.remote(requests_per_second, tokens_per_minute, burst))
    return handle
