"""Embed many inputs concurrently with a progress callback, collecting failures by index.

python examples/async_many.py
"""

from __future__ import annotations

import asyncio

from omnivec.providers import RateLimitError
from omnivec.providers.testing import FakeProvider


async def main() -> None:
    # A fake that throttles now and then, so the core's retries show.
    provider = FakeProvider(
        max_batch_size=10,
        default_concurrency=4,
        latency_s=0.005,
        failures=[None, RateLimitError("slow down", retry_after=0.01)] * 3,
    )
    done = 0

    def progress(n: int) -> None:
        nonlocal done
        done += n

    texts = [f"note {i}: something worth finding later" for i in range(500)]
    result = await provider.embed(texts, intent="document", errors="collect", progress=progress)
    print(
        f"{len(result)} vectors, {done} reported done, {result.retries} retries, "
        f"{len(result.failures)} failed, peak concurrency {provider.peak_in_flight}"
    )


if __name__ == "__main__":
    asyncio.run(main())
