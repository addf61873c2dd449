"""The members of an endpoint pool: each with its own learned rate budget and its own health.

One attempt of the pool is one call on one member, metered by that member's budget (the budget of its
rate key, shared process-wide with any plain provider of the same key: a quota is per account, region
and model). Work goes where grant is free: the member whose budget would let a request out soonest,
then the one with fewest calls booked. A member failing on its side (5xx, timeouts, auth) twice in a
row is taken out for a backoff that doubles while it keeps failing; when the backoff is over one call
probes it, and a success puts it back.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._rate import Budget, estimate_tokens, rate_budget
from .errors import AuthenticationError, EmbeddingError, ProviderTimeoutError, RateLimitError, ServiceUnavailableError
from .observability import record_pool_attempt, record_pool_member
from .types import BatchOutput, Intent

if TYPE_CHECKING:
    from .base import EmbeddingProvider
    from .inputs import Input

__all__ = ["Member", "Router", "describe_member"]

DOWN = (ServiceUnavailableError, ProviderTimeoutError, AuthenticationError)
"""Failures of the endpoint, not of the input: another member may well answer the same batch."""


def describe_member(provider: EmbeddingProvider[Any]) -> str:
    """``bedrock:model@us-west-2``: the ref and the first setting that tells endpoints apart."""
    s = provider.settings
    for field in ("region", "location", "endpoint_url", "base_url", "project"):
        if (value := getattr(s, field, None)) is not None:
            return f"{provider.ref}@{value}"
    return provider.ref


class Member:
    """One endpoint of a pool: its provider, budget, calls booked, health and counters."""

    FAILURES_TO_TAKE_OUT = 2
    """Endpoint failures in a row before it is taken out: one random 503 is no outage."""

    def __init__(self, index: int, provider: EmbeddingProvider[Any], *, out_s: float, max_out_s: float) -> None:
        self.index, self.provider, self.label = index, provider, f"{index}:{describe_member(provider)}"
        self.endpoint = self.label.rpartition("@")[2]  # the region or URL alone, for narrow tables
        self.budget: Budget = rate_budget(provider.rate_key(), provider.rate_limits)
        self.learn = provider.settings.adaptive_concurrency and provider.rate_limits.learn
        self.meter_tokens = provider.rate_limits.tokens_per_minute is not None
        self.out_s, self.max_out_s = out_s, max_out_s
        self.booked = self.streak = self.rounds = self.outages = 0
        """Calls booked; endpoint failures in a row; backoffs in a row (failed probes + 1); outages so far."""
        self.out_until = 0.0  # 0: in; else monotonic time its backoff ends (then one probe may go)
        self.probing = self.probe_next = False  # a probe in flight; the router chose the next call as one
        self.ok = self.failed = self.throttled = 0

    def state(self, now: float) -> str:
        if not self.out_until:
            return "in"
        return "probing" if self.probing else ("due" if now >= self.out_until else "out")

    async def call(self, batch: Sequence[Input], intent: Intent) -> BatchOutput:
        """ONE provider call through this member's budget (its learned rate and fixed caps)."""
        self.booked += 1
        probe, self.probe_next = self.probe_next, False
        self.probing |= probe
        try:
            tokens = estimate_tokens(batch) if self.meter_tokens else 0
            wait, ticket = self.budget.reserve(tokens, learned=self.learn)
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                output = await self.provider._embed_batch(batch, intent=intent)
            except EmbeddingError as exc:
                throttled = isinstance(exc, RateLimitError)
                self.budget.record(ticket, throttled=throttled, learn=self.learn)
                record_pool_attempt(self.label, "throttled" if throttled else "failed")
                self._failed(exc, probe=probe)
                raise
            self.budget.last_success = self.budget.clock()
            self.budget.record(ticket, throttled=False, learn=self.learn)
            if tokens:
                self.budget.settle(tokens, output.usage.input_tokens)
            record_pool_attempt(self.label, "ok")
            self._succeeded()
            return output
        finally:
            self.booked -= 1
            self.probing &= not probe

    def _succeeded(self) -> None:
        self.ok += 1
        self.streak = self.rounds = 0
        if self.out_until:
            record_pool_member(self.label, "member_in")
        self.out_until = 0.0

    def _failed(self, exc: EmbeddingError, *, probe: bool) -> None:
        if isinstance(exc, RateLimitError):
            self.throttled += 1
            return
        self.failed += 1
        if not isinstance(exc, DOWN):
            return
        self.streak += 1
        if self.out_until and not probe:
            return  # sent before it was taken out: the outage is counted already, its backoff must not grow
        if probe or self.streak >= self.FAILURES_TO_TAKE_OUT or isinstance(exc, AuthenticationError):
            self.rounds += 1
            self.outages += self.rounds == 1
            backoff = min(self.max_out_s, self.out_s * 2 ** min(self.rounds - 1, 30))
            self.out_until = time.monotonic() + backoff * random.uniform(0.8, 1.0)
            record_pool_member(self.label, "member_out", error=exc, out_s=round(backoff, 3))

    def snapshot(self) -> dict[str, Any]:
        rate = self.budget.snapshot()
        return {
            "member": self.label,
            "endpoint": self.endpoint,
            "state": self.state(time.monotonic()),
            "ok": self.ok,
            "failed": self.failed,
            "throttled": self.throttled,
            "outages": self.outages,
            "learned_rps": rate["learned_rps"],
        }


class Router:
    """Picks the member for the next attempt."""

    def __init__(self, members: list[Member]) -> None:
        self.members = members

    async def pick(self, tried: set[int]) -> Member | None:
        """A member not in ``tried``: a due one first (its probe), else the one in with the soonest
        free grant; None when every member not tried is out (the caller then gives up this attempt).
        With every member out and none tried, waits for the first backoff to end and probes it."""
        while True:
            now = time.monotonic()
            fresh = [m for m in self.members if m.index not in tried]
            due = [m for m in fresh if m.state(now) == "due"]
            if due:
                member = min(due, key=lambda m: m.out_until)
                member.probe_next = member.probing = True
                return member
            ready = [m for m in fresh if not m.out_until]
            if ready:
                return min(ready, key=lambda m: (round(m.budget.delay(), 3), m.booked, m.index))
            waiting = [m for m in fresh if m.state(now) == "out"]
            if tried or not waiting:
                return None  # the rest are tried, or being probed by another call
            await asyncio.sleep(max(0.0, min(m.out_until for m in waiting) - now))
