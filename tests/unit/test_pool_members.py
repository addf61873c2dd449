"""The pool's member health on fake endpoints (no network): outages, probes, backoff."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Hashable
from typing import Any

from omnivec.providers.errors import AuthenticationError, EmbeddingError, ServiceUnavailableError
from omnivec.providers.pool import EndpointPool
from omnivec.providers.testing import FakeProvider


class Endpoint(FakeProvider):
    """A fake provider at its own endpoint (its own rate key)."""

    def __init__(self, where: str, **options: Any) -> None:
        super().__init__(**options)
        self.where = where

    def rate_key(self) -> Hashable:
        return ("fake", self.model, self.where)


def test_calls_in_flight_failing_together_take_a_member_out_once_for_the_first_backoff() -> None:
    failures: list[EmbeddingError | None] = [ServiceUnavailableError("down") for _ in range(8)]
    pool = EndpointPool([Endpoint("a"), Endpoint("b", failures=failures, latency_s=0.02)], out_s=0.5)
    member = pool.members[1]

    async def together() -> None:
        await asyncio.gather(*(member.call(["x"], "document") for _ in range(8)), return_exceptions=True)

    asyncio.run(together())
    assert member.outages == 1 and member.out_until - time.monotonic() <= 0.5  # not 0.5 * 2**7


def test_a_member_refusing_credentials_is_taken_out_and_probed_back_in() -> None:
    bad_key: list[EmbeddingError | None] = [AuthenticationError("expired key")]
    flaky = Endpoint("b", failures=bad_key, max_batch_size=1, latency_s=0.005)
    pool = EndpointPool([Endpoint("a", max_batch_size=1, latency_s=0.005), flaky], out_s=0.05)
    first = pool.embed_sync([f"t{i}" for i in range(4)], intent="document")
    assert not first.failures and pool.members[1].outages == 1  # the batch went to the other member
    time.sleep(0.06)
    second = pool.embed_sync([f"u{i}" for i in range(20)], intent="document")
    assert not second.failures and pool.members[1].state(time.monotonic()) == "in" and pool.members[1].ok > 0
