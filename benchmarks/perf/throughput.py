"""Take all the throughput a strict endpoint grants, without being throttled: omnivec vs the machine's ceiling.

    python benchmarks/perf/throughput.py [--grants 50,100,400] [--latency-ms 40]
        [--providers bedrock,gemini] [--n 2000] [--gemini-n 20000] [--raw-threads 32] [--in-process] [--overhead]
        [--bedrock-transport auto|aiobotocore|boto3] [--repeats 1]
        [--random-throttle 0.2] [--random-n 10000] [--random-latency-ms 5]

For each grant the script first measures the machine's ceiling: the raw SDK (boto3 / google-genai,
no omnivec) from ``--raw-threads`` threads against an emulator that grants everything, 40 ms per
call, right before the omnivec run so both see the same load. Then, for grant G (requests/s; the rest answered with 429 ``ThrottlingException`` /
``RESOURCE_EXHAUSTED``; the emulator's bucket holds ``--burst-s`` of tokens), a fresh process-state
omnivec provider with DEFAULT settings embeds the inputs (Nova: one per request; Gemini: 100 per
request) and the script prints

* items/s and the ratio to min(G × items per request, ceiling)       target ≥ 0.90
* % of requests throttled, over the whole run and at steady state     target ≤ 5 % (steady)
  (steady state: requests the emulator received after the first 25 % of the run)
* items lost (failed or missing), and whether every vector is right  target 0

Beside the grant rows, the same table holds the random-throttle case (Nova, one input per request:
the case batching hides): no rate limit, ``--random-throttle`` of requests answered 429 at random
whatever the rate (a busy region, a shared account), ``--random-n`` inputs at ``--random-latency-ms``,
against the same omnivec run with no faults, in the order unfaulted, faulted, faulted, unfaulted
(the items/s of both passes of each side)                                   target ≥ 0.70
A throttle share that does not depend on the rate is no evidence of a quota; a limiter that reads it
as one cuts for ever (issue 17). Both kinds of case run in one script so that a fix for one cannot
silently break the other. ``--random-throttle 0`` skips it.

The ceiling moves by 10–30 % between runs on a shared 2-core machine, so one run's ratio is noisy:
``--repeats N`` runs N ceiling + omnivec pairs per grant and prints their median ratio.

``--overhead`` adds omnivec at ``max_concurrency=--raw-threads`` vs the raw pool, nothing limited:
the core's own per-call cost (target ≥ 0.90), as the median of ``--pairs`` alternating rounds, next to
the same raw calls awaited from asyncio through the core's thread hop (no core), and for Bedrock
omnivec on its boto3 thread transport beside its default (aiobotocore), with the client's CPU per
item for each. ``--bedrock-transport`` picks the transport of the grant runs (default: the provider's).

The emulator runs in its own process by default, as a cloud endpoint would (``--in-process`` uses
``emulated_clouds`` in this process instead, sharing the GIL with the client). Numbers describe this
machine and the emulator, not a cloud; the ceiling is measured in the same run so the ratio is fair
on a busy machine. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import queue
import resource
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from omnivec.providers import get_provider
from omnivec.providers.emulator import (
    Emulator,
    Faults,
    apply_emulator_environment,
    emulated_clouds,
    emulator_environment,
)
from omnivec.providers.testing.perf import (
    CallThreads,
    HelpFormatter,
    at_least_one,
    emulator_text_vector,
    fresh_rate_state,
    in_thread,
    not_negative,
    rate_state,
    run_main,
)

REFS = {"bedrock": "bedrock:amazon.nova-2-multimodal-embeddings-v1:0", "gemini": "gemini:gemini-embedding-2"}
PER_REQUEST = {"bedrock": 1, "gemini": 100}
DIMS = 256
Series = list[tuple[float, int, int]]  # (monotonic time, requests, throttled) sampled by the emulator side


def _serve(conn: Any, faults: dict[str, Any]) -> None:
    """Child process: run an emulator, sample its counters every 50 ms, hand them back on request."""
    emulator = Emulator(Faults(**faults)).start()
    series: Series = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            stats = emulator.stats
            series.append((time.monotonic(), stats.requests, stats.throttled))
            time.sleep(0.05)

    threading.Thread(target=sample, daemon=True).start()
    conn.send(emulator.url)
    conn.recv()
    stop.set()
    stats = emulator.stats
    series.append((time.monotonic(), stats.requests, stats.throttled))
    conn.send((series, stats.items, stats.ok))
    emulator.stop()


@dataclass
class Served:
    series: Series
    items: int = 0
    ok: int = 0


@contextmanager
def emulator(faults: Faults, *, in_process: bool) -> Iterator[Served]:
    """An emulator with ``faults`` that the SDKs point at; yields what it served once closed."""
    served = Served([])
    if in_process:
        with emulated_clouds(faults) as emu:
            stop = threading.Event()

            def sample() -> None:
                while not stop.is_set():
                    served.series.append((time.monotonic(), emu.stats.requests, emu.stats.throttled))
                    time.sleep(0.05)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            try:
                yield served
            finally:
                stop.set()
                sampler.join()
                served.series.append((time.monotonic(), emu.stats.requests, emu.stats.throttled))
                served.items, served.ok = emu.stats.items, emu.stats.ok
        return
    parent, child = mp.get_context("spawn").Pipe()
    process = mp.get_context("spawn").Process(target=_serve, args=(child, faults.__dict__), daemon=True)
    process.start()
    url = parent.recv()
    saved = {name: os.environ.get(name) for name in emulator_environment(url)}
    apply_emulator_environment(url, os.environ.__setitem__, lambda name: os.environ.pop(name, None))
    from omnivec.providers.testing import allow_remote_calls

    try:
        with allow_remote_calls():
            yield served
    finally:
        parent.send("stop")
        served.series, served.items, served.ok = parent.recv()
        process.join(5)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def throttled_share(series: Series, start: float, end: float) -> tuple[float, float]:
    """Share of requests throttled over [start, end] and over its last 75 % (steady state)."""

    def at(t: float) -> tuple[int, int]:
        before = [(r, th) for stamp, r, th in series if stamp <= t]
        return before[-1] if before else (0, 0)

    def share(a: float, b: float) -> float:
        (r0, t0), (r1, t1) = at(a), at(b)
        return (t1 - t0) / (r1 - r0) if r1 > r0 else 0.0

    return share(start - 1, end + 1), share(start + 0.25 * (end - start), end + 1)


# --- raw SDK clients: the machine's ceiling ----------------------------------------------------


def _raw_bedrock(threads: int) -> Callable[[list[str]], None]:
    import json

    import boto3
    from botocore.config import Config

    client = boto3.client("bedrock-runtime", config=Config(max_pool_connections=threads, retries={"mode": "standard"}))
    model = REFS["bedrock"].split(":", 1)[1]

    def call(group: list[str]) -> None:
        (text,) = group
        body = {
            "schemaVersion": "nova-multimodal-embed-v1",
            "taskType": "SINGLE_EMBEDDING",
            "singleEmbeddingParams": {
                "embeddingPurpose": "GENERIC_INDEX",
                "embeddingDimension": DIMS,
                "text": {"truncationMode": "END", "value": text},
            },
        }
        json.loads(client.invoke_model(modelId=model, body=json.dumps(body))["body"].read())

    return call


def _raw_gemini(threads: int) -> Callable[[list[str]], None]:
    from google import genai
    from google.genai import types

    client = genai.Client(http_options=types.HttpOptions(retry_options=types.HttpRetryOptions(attempts=1)))
    config = types.EmbedContentConfig(output_dimensionality=DIMS)

    def call(group: list[str]) -> None:
        contents = [types.Content(parts=[types.Part.from_text(text=t)]) for t in group]
        client.models.embed_content(model="gemini-embedding-2", contents=contents, config=config)

    return call


def raw_pool(provider: str, texts: list[str], threads: int) -> tuple[float, int]:
    """items/s and items lost for the raw SDK driven by a plain thread pool (timed from building the
    client, as omnivec's run is timed from building the provider)."""
    began = time.perf_counter()
    call = (_raw_bedrock if provider == "bedrock" else _raw_gemini)(threads)
    size = PER_REQUEST[provider]
    groups: queue.SimpleQueue[list[str]] = queue.SimpleQueue()
    for start in range(0, len(texts), size):
        groups.put(texts[start : start + size])
    lost = [0]

    def work() -> None:
        while True:
            try:
                group = groups.get_nowait()
            except queue.Empty:
                return
            try:
                call(group)
            except Exception:  # the raw client gives up: those items are lost
                lost[0] += len(group)

    with ThreadPoolExecutor(threads) as pool:
        for _ in range(threads):
            pool.submit(work)
    wall = time.perf_counter() - began
    return (len(texts) - lost[0]) / wall, lost[0]


def raw_behind_asyncio(provider: str, texts: list[str], threads: int) -> float:
    """items/s for the same raw SDK calls awaited from asyncio through the core's thread hop
    (``in_thread``), no omnivec core around them: splits the overhead into the hop's and the core's."""
    began = time.perf_counter()
    call = (_raw_bedrock if provider == "bedrock" else _raw_gemini)(threads)
    size = PER_REQUEST[provider]
    groups = [texts[start : start + size] for start in range(0, len(texts), size)]

    async def main() -> None:
        pool, pending = CallThreads(threads, name="raw"), iter(groups)

        async def worker() -> None:
            for group in pending:
                await in_thread(pool, call, group)

        await asyncio.gather(*(worker() for _ in range(threads)))
        pool.close()

    asyncio.run(main())
    return len(texts) / (time.perf_counter() - began)


# --- omnivec ------------------------------------------------------------------------------------


async def run_omnivec(provider_name: str, texts: list[str], **options: Any) -> dict[str, Any]:
    fresh_rate_state()  # a fresh process as far as rate learning goes
    began = time.perf_counter()
    provider = get_provider(REFS[provider_name], dimensions=DIMS, **options)
    result = await provider.embed(texts, intent="document", errors="collect")
    wall = time.perf_counter() - began
    state = rate_state(provider)
    await provider.aclose()
    ok = [i for i in range(len(texts)) if i not in result.failures and not np.isnan(result.vectors[i]).any()]
    template = "title: none | text: {}" if provider_name == "gemini" else "{}"
    sample = ok[:: max(1, len(ok) // 200)]
    right = all(
        np.allclose(result.vectors[i], emulator_text_vector(template.format(texts[i]), DIMS), atol=1e-5) for i in sample
    )
    return {
        "rate": len(ok) / wall,
        "lost": len(texts) - len(ok),
        "right": right,
        "wall": wall,
        "limit": state["limit"],
        "learned": state["learned_rps"],
        "w_max": state["w_max"],
        "retries": result.retries,
    }


def grant_list(text: str) -> list[float]:
    """argparse type: comma-separated requests/s, each > 0 (the error names the bad one)."""
    try:
        grants = [float(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of numbers, e.g. 50,100,400"
        ) from None
    if not grants or min(grants) <= 0:
        raise argparse.ArgumentTypeError(f"every grant must be above 0 requests/s, got {text!r}")
    return grants


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument(
        "--grants", type=grant_list, default="50,100,400", help="requests/s the emulator grants, comma-separated"
    )
    parser.add_argument("--latency-ms", type=not_negative, default=40.0, help="emulator time per call")
    parser.add_argument("--burst-s", type=not_negative, default=0.1, help="emulator bucket size, in seconds of grant")
    parser.add_argument(
        "--providers", default="bedrock,gemini", help="bedrock (Nova), gemini, or both, comma-separated"
    )
    parser.add_argument("--n", type=at_least_one, default=2000, help="Nova inputs per run (one per request)")
    parser.add_argument("--gemini-n", type=at_least_one, default=20_000, help="Gemini inputs per run (100 per request)")
    parser.add_argument("--raw-threads", type=at_least_one, default=32, help="threads of the raw SDK ceiling")
    parser.add_argument("--in-process", action="store_true", help="emulator in this process (shares the GIL)")
    parser.add_argument("--overhead", action="store_true", help="also omnivec vs raw at equal concurrency, no limit")
    parser.add_argument("--pairs", type=at_least_one, default=5, help="alternating rounds for --overhead")
    parser.add_argument(
        "--repeats",
        type=at_least_one,
        default=1,
        help="ceiling + omnivec pairs per grant (the median ratio is printed)",
    )
    parser.add_argument(
        "--bedrock-transport", choices=["auto", "aiobotocore", "boto3"], default="auto", help="Bedrock's transport"
    )
    parser.add_argument(
        "--random-throttle", type=share, default=0.2, help="share of requests throttled at random (0: skip the case)"
    )
    parser.add_argument("--random-n", type=at_least_one, default=10_000, help="Nova inputs of the random-throttle case")
    parser.add_argument(
        "--random-latency-ms", type=not_negative, default=5.0, help="emulator time per call, random-throttle case"
    )
    args = parser.parse_args()
    grants: list[float] = args.grants
    unknown = sorted(set(args.providers.split(",")) - set(REFS))
    if unknown:
        parser.error(f"--providers: unknown {', '.join(unknown)}; choose from {', '.join(REFS)}")
    where = "in-process" if args.in_process else "own process"
    print(
        f"emulator ({where}): {args.latency_ms:g} ms per call, bucket {args.burst_s:g} s of grant; cpus: {os.cpu_count()}"
    )
    print(
        "provider | grant req/s | ceiling items/s | target items/s | omnivec items/s | ratio | "
        "throttled all/steady | lost | right | final limit | learned req/s"
    )
    for name in args.providers.split(","):
        n = args.n if name == "bedrock" else args.gemini_n
        texts = [f"input {i}: a sentence about topic {i % 37} and item {i}" for i in range(n)]
        for grant in grants:
            ratios = [grant_run(name, texts, grant, args) for _ in range(args.repeats)]
            if args.repeats > 1:
                print(
                    f"{name} | {grant:g} | median ratio of {args.repeats} runs: {statistics.median(ratios):.2f} "
                    f"(range {min(ratios):.2f}–{max(ratios):.2f})",
                    flush=True,
                )
        if name == "bedrock" and args.random_throttle > 0:
            random_texts = [f"input {i}: a sentence about topic {i % 37} and item {i}" for i in range(args.random_n)]
            ratios = [random_run(name, random_texts, args) for _ in range(args.repeats)]
            if args.repeats > 1:
                print(
                    f"{name} | random {args.random_throttle:.0%} 429 | median ratio of {args.repeats} runs: "
                    f"{statistics.median(ratios):.2f} (range {min(ratios):.2f}–{max(ratios):.2f})",
                    flush=True,
                )
        if args.overhead:
            overhead(name, texts, args)


def grant_run(name: str, texts: list[str], grant: float, args: argparse.Namespace) -> float:
    """One ceiling + omnivec pair at ``grant``: prints its row, returns omnivec's ratio to the target."""
    with emulator(Faults(latency_ms=args.latency_ms), in_process=args.in_process):
        ceiling, _ = raw_pool(name, texts, args.raw_threads)  # measured right before, same load
    faults = Faults(rate_limit_rps=grant, burst=max(1, round(grant * args.burst_s)), latency_ms=args.latency_ms)
    with emulator(faults, in_process=args.in_process) as served:
        began = time.monotonic()
        run = asyncio.run(run_omnivec(name, texts, **_transport(name, args.bedrock_transport)))
        ended = time.monotonic()
    share_all, share_steady = throttled_share(served.series, began, ended)
    target = min(grant * PER_REQUEST[name], ceiling)
    learned = "off" if run["learned"] is None else f"{run['learned']:.0f} (w_max {run['w_max']:.0f})"
    print(
        f"{name} | {grant:g} | {ceiling:.0f} | {target:.0f} | {run['rate']:.1f} | {run['rate'] / target:.2f} | "
        f"{share_all:.1%} / {share_steady:.1%} | {run['lost']} | {run['right']} | {run['limit']:.0f} | "
        f"{learned}",
        flush=True,
    )
    return float(run["rate"] / target)


def random_run(name: str, texts: list[str], args: argparse.Namespace) -> float:
    """The same omnivec run unfaulted and with ``--random-throttle`` of requests answered 429 at random
    (no rate limit), in the order unfaulted, faulted, faulted, unfaulted: on 2 shared cores the load
    drifts over the minutes a pass takes, and the mirrored order cancels a steady drift where a single
    pair would charge it all to one side (single pairs read 0.65–0.89 on one quiet box). Prints the row
    with each pass, returns faulted / unfaulted items/s over both passes of each (target ≥ 0.70)."""
    latency, transport = args.random_latency_ms, _transport(name, args.bedrock_transport)
    faulted = Faults(latency_ms=latency, throttle_rate=args.random_throttle, seed=7)
    passes: dict[bool, list[dict[str, Any]]] = {False: [], True: []}
    for with_faults in (False, True, True, False):
        with emulator(faulted if with_faults else Faults(latency_ms=latency), in_process=args.in_process):
            passes[with_faults].append(asyncio.run(run_omnivec(name, texts, **transport)))
    clean_rate, faulted_rate = (2 * len(texts) / sum(p["wall"] for p in passes[f]) for f in (False, True))
    run = passes[True][-1]
    learned = "off" if run["learned"] is None else f"{run['learned']:.0f} (w_max {run['w_max']:.0f})"
    ratio = float(faulted_rate / clean_rate)
    each = {f: " / ".join(f"{p['rate']:.0f}" for p in passes[f]) for f in (False, True)}
    print(
        f"{name} | none, {args.random_throttle:.0%} random 429 ({len(texts)} inputs, {latency:g} ms, "
        f"passes unfaulted {each[False]}, faulted {each[True]}) | "
        f"{clean_rate:.0f} (unfaulted) | {0.7 * clean_rate:.0f} | {faulted_rate:.1f} | {ratio:.2f} | "
        f"retries {sum(p['retries'] for p in passes[True])} | {sum(p['lost'] for p in passes[True])} | "
        f"{all(p['right'] for p in passes[True])} | {run['limit']:.0f} | {learned}",
        flush=True,
    )
    return ratio


def share(text: str) -> float:
    """argparse type: a share of requests, 0 to below 1."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be a share from 0 to below 1, got {text!r}")
    return value


def _transport(name: str, transport: str) -> dict[str, str]:
    return {"transport": transport} if name == "bedrock" and transport != "auto" else {}


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def overhead(name: str, texts: list[str], args: argparse.Namespace) -> None:
    """Equal concurrency, nothing limited: the core's own cost. Raw, raw-behind-asyncio and omnivec
    runs alternate in ``--pairs`` rounds, every other round in reverse order, and the median ratios
    are printed: on a shared 2-core machine one round moves by ±10%, and a fixed order would favour
    whichever runs last. The middle row separates the cost of awaiting a sync SDK from asyncio at all
    (two thread hand-offs per call) from the cost of the core around it."""
    mc = args.raw_threads
    runs: dict[str, Callable[[list[str]], float]] = {
        "raw": lambda batch: raw_pool(name, batch, mc)[0],
        "behind asyncio": lambda batch: raw_behind_asyncio(name, batch, mc),
        "omnivec": lambda batch: asyncio.run(run_omnivec(name, batch, max_concurrency=mc))["rate"],
    }
    if name == "bedrock":
        runs["omnivec boto3 threads"] = lambda batch: asyncio.run(
            run_omnivec(name, batch, max_concurrency=mc, transport="boto3")
        )["rate"]
    ratios: dict[str, list[float]] = {who: [] for who in runs if who != "raw"}
    cpu = dict.fromkeys(runs, 0.0)
    with emulator(Faults(latency_ms=args.latency_ms), in_process=args.in_process):
        for run in runs.values():  # warm them all: imports, connections, first calls
            run(texts[:200])
        for pair in range(args.pairs):
            rates = {}
            for who in list(runs) if pair % 2 == 0 else list(reversed(runs)):
                began = _cpu_seconds()
                rates[who] = runs[who](texts)
                cpu[who] += _cpu_seconds() - began
            for who, measured in ratios.items():
                measured.append(rates[who] / rates["raw"])
            shown = ", ".join(f"{who} {rate:.1f}" for who, rate in rates.items())
            print(f"{name} | overhead round {pair + 1} (items/s): {shown}", flush=True)
    items = len(texts) * args.pairs
    where = "client process" if not args.in_process else "client + emulator"
    medians = "; ".join(
        f"{who} median {statistics.median(r):.2f} (range {min(r):.2f}–{max(r):.2f})" for who, r in ratios.items()
    )
    per_item = ", ".join(f"{who} {seconds / items * 1e6:.0f} µs" for who, seconds in cpu.items())
    print(
        f"{name} | overhead at max_concurrency={mc} vs raw {mc} threads, no limit, ratio to raw: {medians}. "
        f"CPU per item in the {where}: {per_item}",
        flush=True,
    )


if __name__ == "__main__":
    run_main(main)
