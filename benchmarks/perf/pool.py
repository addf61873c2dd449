"""An endpoint pool over three emulated Bedrock regions: the grants add up, and an outage of one costs its share only.

    python benchmarks/perf/pool.py [--n 6000] [--grant 100] [--latency-ms 40] [--regions 3]
        [--outage-s 30] [--outage-at-s 5] [--outage-n 14000] [--raw-threads 32]

Each region is an emulator in its own process (as a cloud endpoint would be) granting ``--grant``
requests/s (token bucket of 100 ms; the rest answered 429 ``ThrottlingException``) at
``--latency-ms`` per call; Nova embeds one input per request. Three numbers, all from this one run:

* the machine's ceiling: the raw boto3 client from ``--raw-threads`` threads against one emulator that
  grants everything (no omnivec), measured first, so the target is min(regions × grant, ceiling);
* ``--n`` inputs through ``EndpointPool`` with default settings: items/s, ratio to the target
  (goal ≥ 0.90), share of requests throttled (goal ≤ 5 %), per-member answers;
* ``--outage-n`` inputs while region 1 answers 503 for ``--outage-s`` seconds from ``--outage-at-s``:
  items/s during the outage and after it as ratios to the same target (goals ≥ 0.6 and ≥ 0.9); every
  run checks that each vector came back once, in order (nothing lost, nothing duplicated).

Numbers describe this machine and the emulator, not a cloud. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import bisect
import multiprocessing as mp
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import raw_pool

from omnivec.providers import EmbeddingProvider, get_provider
from omnivec.providers.emulator import Emulator, Faults, emulator_environment
from omnivec.providers.pool import EndpointPool
from omnivec.providers.testing import allow_remote_calls
from omnivec.providers.testing.perf import (
    HelpFormatter,
    at_least_one,
    emulator_text_vector,
    fresh_rate_state,
    run_main,
)

NOVA = "bedrock:amazon.nova-2-multimodal-embeddings-v1:0"
REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "ap-south-1", "eu-central-1")
DIMS = 256


def _serve(conn: Any, faults: dict[str, Any]) -> None:
    """Child process: one emulated region; "down" / "up" flip its outage, "stop" returns its counters."""
    emulator = Emulator(Faults(**faults)).start()
    conn.send(emulator.url)
    while (command := conn.recv()) != "stop":
        emulator.faults.unavailable = command == "down"
    s = emulator.stats
    conn.send({"requests": s.requests, "throttled": s.throttled, "ok": s.ok, "items": s.items, "503": s.injected})
    emulator.stop()


@contextmanager
def regions(count: int, faults: Faults) -> Iterator[tuple[list[str], list[Any], list[dict[str, int]]]]:
    """``count`` emulators in child processes: yields their URLs, control pipes and (after) counters."""
    spawn = mp.get_context("spawn")
    pipes: list[Any] = []
    urls: list[str] = []
    stats: list[dict[str, int]] = []
    for _ in range(count):
        parent, child = spawn.Pipe()
        spawn.Process(target=_serve, args=(child, faults.__dict__), daemon=True).start()
        pipes.append(parent)
        urls.append(parent.recv())
    try:
        yield urls, pipes, stats
    finally:
        for pipe in pipes:
            pipe.send("stop")
            stats.append(pipe.recv())


def credentials(url: str) -> None:
    """Dummy credentials and a region from the environment; endpoints are set per member."""
    for name, value in emulator_environment(url).items():
        if value is None or name == "EMULATED_BY_OMNIVEC" or name.startswith("AWS_ENDPOINT"):
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def pool_over(urls: list[str]) -> EndpointPool:
    members = [
        get_provider(NOVA, dimensions=DIMS, region=r, endpoint_url=u) for r, u in zip(REGIONS, urls, strict=False)
    ]
    return EndpointPool(members)


def run(pool: EmbeddingProvider[Any], texts: list[str], on_time: Any = None) -> tuple[float, list[float], Any]:
    """Embed ``texts``; returns wall seconds, the time each input finished (from the start), the result."""
    done: list[float] = []
    began = time.perf_counter()

    def progress(n: int) -> None:
        now = time.perf_counter() - began
        done.extend([now] * n)
        if on_time is not None:
            on_time(now)

    result = pool.embed_sync(texts, intent="document", errors="collect", progress=progress)
    return time.perf_counter() - began, done, result


def exact(texts: list[str], result: Any, stats: list[dict[str, int]]) -> str:
    ok = not result.failures and all(
        np.allclose(result.vectors[i], emulator_text_vector(t, DIMS), atol=1e-5) for i, t in enumerate(texts)
    )
    served = sum(s["items"] for s in stats)
    return f"lost {len(result.failures)}, served {served} for {len(texts)} (once each: {served == len(texts)}), vectors right and in order: {ok}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--n", type=at_least_one, default=6000)
    parser.add_argument("--grant", type=float, default=100.0, help="requests/s each region grants")
    parser.add_argument("--latency-ms", type=float, default=40.0)
    parser.add_argument("--regions", type=at_least_one, default=3, choices=range(2, len(REGIONS) + 1))
    parser.add_argument("--outage-s", type=float, default=30.0)
    parser.add_argument("--outage-at-s", type=float, default=5.0)
    parser.add_argument("--outage-n", type=at_least_one, default=14000)
    parser.add_argument("--raw-threads", type=at_least_one, default=32)
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    texts = [f"input {i}: a sentence about topic {i % 37} and item {i}" for i in range(max(args.n, args.outage_n))]
    grant = Faults(rate_limit_rps=args.grant, burst=max(1, int(args.grant / 10)), latency_ms=args.latency_ms)

    with regions(1, Faults(latency_ms=args.latency_ms)) as (urls, _, _):
        credentials(urls[0])
        os.environ["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] = urls[0]
        ceiling, _ = raw_pool("bedrock", texts[: args.n], args.raw_threads)
        os.environ.pop("AWS_ENDPOINT_URL_BEDROCK_RUNTIME")
    target = min(args.regions * args.grant, ceiling)
    print(f"ceiling (raw boto3, {args.raw_threads} threads, nothing limited): {ceiling:.0f} items/s")
    print(f"target: min({args.regions} × {args.grant:g}, ceiling) = {target:.0f} items/s")

    with allow_remote_calls():
        fresh_rate_state()  # the same client path against ONE endpoint granting the pool's sum: what pooling costs
        summed = Faults(**{**grant.__dict__, "rate_limit_rps": args.regions * args.grant, "burst": grant.burst * 3})
        with regions(1, summed) as (urls, _, _):
            single = get_provider(NOVA, dimensions=DIMS, endpoint_url=urls[0])
            wall, _, result = run(single, texts[: args.n])
        rate = (args.n - len(result.failures)) / wall
        print(
            f"one endpoint granting {args.regions * args.grant:g} req/s: {rate:.1f} items/s, ratio {rate / target:.2f}"
        )
        fresh_rate_state()
        with regions(args.regions, grant) as (urls, _, stats):
            pool = pool_over(urls)
            wall, _, result = run(pool, texts[: args.n])
            members = pool.snapshot()
        requests, throttled = sum(s["requests"] for s in stats), sum(s["throttled"] for s in stats)
        rate = (args.n - len(result.failures)) / wall
        print(f"pool, {args.n} items: {rate:.1f} items/s, ratio {rate / target:.2f} (goal ≥ 0.90), "
              f"throttled {throttled / requests:.1%} of {requests} requests (goal ≤ 5 %)")  # fmt: skip
        print(
            "  per member ok/s: "
            + ", ".join(f"{m['endpoint']} {s['ok'] / wall:.0f}" for m, s in zip(members, stats, strict=True))
        )
        print("  " + exact(texts[: args.n], result, stats))

        fresh_rate_state()
        outage = texts[: args.outage_n]
        with regions(args.regions, grant) as (urls, pipes, stats):
            pool = pool_over(urls)
            marks: dict[str, float] = {}

            def flip(now: float) -> None:  # on the loop, after each call: cheap unless a mark is due
                if "down" not in marks and now >= args.outage_at_s:
                    pipes[1].send("down")
                    marks["down"] = now
                elif "down" in marks and "up" not in marks and now >= marks["down"] + args.outage_s:
                    pipes[1].send("up")
                    marks["up"] = now

            wall, done, result = run(pool, outage, flip)
            members = pool.snapshot()
        down, up = marks.get("down", wall), marks.get("up", wall)

        def rate_between(a: float, b: float) -> float:
            return (bisect.bisect_right(done, b) - bisect.bisect_right(done, a)) / max(b - a, 1e-9)

        during, after = rate_between(down, up), rate_between(up, wall)
        print(f"outage of {REGIONS[1]} for {up - down:.1f} s from {down:.1f} s, {args.outage_n} items in {wall:.1f} s:")
        print(f"  during: {during:.1f} items/s, ratio {during / target:.2f} (goal ≥ 0.60; "
              f"{(args.regions - 1) / args.regions:.2f} = the other regions' grants)")  # fmt: skip
        if "up" in marks:
            print(f"  after:  {after:.1f} items/s over {wall - up:.1f} s, ratio {after / target:.2f} (goal ≥ 0.90)")
        else:
            print("  after: the run ended during the outage (raise --outage-n)")
        print("  members: " + ", ".join(f"{m['endpoint']} ok {s['ok']} 503 {s['503']} outages {m['outages']}"
                                        for m, s in zip(members, stats, strict=True)))  # fmt: skip
        print("  " + exact(outage, result, stats))
    load = os.getloadavg()
    print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    threading.current_thread().name = "pool-benchmark"
    run_main(main)
