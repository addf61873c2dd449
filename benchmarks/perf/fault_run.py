"""Embed many inputs through a real SDK against a faulty emulator: nothing lost, nothing duplicated, rate kept.

    python benchmarks/perf/fault_run.py [--n 2000] [--rate 100] [--error-rate 0.2] [--latency-ms 40]
                                        [--provider bedrock|gemini] [--concurrency 16] [--skip-raw]

The emulator grants ``--rate`` requests per second (token bucket holding 100 ms of tokens; the rest
get 429 throttling),
fails ``--error-rate`` of the granted ones on purpose (429 / 503, half each) and adds latency.
The most it can grant is ``rate × (1 − error_rate)`` successful requests per second. For Gemini
(100 inputs per request, 20,000 inputs by default) that is 8,000 inputs/s, more than this client can
embed: there the client's own request rate binds, measured first by the same run against the
emulator with no faults, and the target is min(``rate``, that request rate) × (1 − error_rate) × 100
inputs/s (a failed request costs the client about what a good one does). The script
checks every input came back in order exactly once (or is reported failed by index), prints items,
failures, retries, achieved vs grantable rate, and the same work as a plain sequential loop over the
raw SDK (boto3 with its default retries) for comparison. Numbers describe the emulator, not a cloud.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from omnivec.providers import get_provider
from omnivec.providers.emulator import Faults, emulated_clouds
from omnivec.providers.testing.perf import emulator_text_vector, fresh_rate_state

REFS = {"bedrock": "bedrock:amazon.nova-2-multimodal-embeddings-v1:0", "gemini": "gemini:gemini-embedding-2"}


def raw_sequential_loop(texts: list[str], dims: int) -> tuple[int, int, float]:
    """What most code does: a for-loop over boto3 invoke_model with boto3's default retries."""
    import boto3
    from botocore.exceptions import ClientError

    client = boto3.client("bedrock-runtime")
    ok = failed = 0
    began = time.perf_counter()
    for text in texts:
        body = {
            "schemaVersion": "nova-multimodal-embed-v1",
            "taskType": "SINGLE_EMBEDDING",
            "singleEmbeddingParams": {
                "embeddingPurpose": "GENERIC_INDEX",
                "embeddingDimension": dims,
                "text": {"truncationMode": "END", "value": text},
            },
        }
        try:
            json.loads(
                client.invoke_model(modelId=REFS["bedrock"].split(":", 1)[1], body=json.dumps(body))["body"].read()
            )
            ok += 1
        except ClientError:
            failed += 1
    return ok, failed, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=None, help="inputs (default: 2,000 Nova, 20,000 Gemini)")
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--error-rate", type=float, default=0.2)
    parser.add_argument("--latency-ms", type=float, default=40.0)
    parser.add_argument("--provider", choices=sorted(REFS), default="bedrock")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--skip-raw", action="store_true")
    args = parser.parse_args()
    if args.n is None:
        args.n = 2000 if args.provider == "bedrock" else 20_000

    dims = 256
    texts = [f"input {i}: a sentence about topic {i % 37} and item {i}" for i in range(args.n)]
    unfaulted = None
    if args.provider == "gemini":  # the client's own ceiling: the same run with no faults, right before
        with emulated_clouds(Faults(latency_ms=args.latency_ms)):
            provider = get_provider(REFS[args.provider], dimensions=dims, max_concurrency=args.concurrency)
            began = time.perf_counter()
            provider.embed_sync(texts, intent="document", errors="collect")
            unfaulted = args.n / (time.perf_counter() - began)
        fresh_rate_state()  # the faulted run starts as a fresh process would
    faults = Faults(
        rate_limit_rps=args.rate,
        burst=max(1, int(args.rate / 10)),
        error_rate=args.error_rate,
        latency_ms=args.latency_ms,
        seed=7,
    )
    with emulated_clouds(faults) as emulator:  # the SDKs' own variables point at it; restored after
        provider = get_provider(REFS[args.provider], dimensions=dims, max_concurrency=args.concurrency)
        began = time.perf_counter()
        result = provider.embed_sync(texts, intent="document", errors="collect")
        wall = time.perf_counter() - began
        stats = emulator.stats
        succeeded = [i for i in range(args.n) if i not in result.failures]
        template = "title: none | text: {}" if args.provider == "gemini" else "{}"
        in_order = all(
            np.allclose(result.vectors[i], emulator_text_vector(template.format(texts[i]), dims), atol=1e-5)
            for i in succeeded
        )
        served = stats.items
        grantable = args.rate * (1 - args.error_rate)
        achieved = len(succeeded) / wall
        print(f"provider: {provider.ref} [EMULATED]  concurrency: {args.concurrency}  inputs: {args.n}")
        print(
            f"emulator: limit {args.rate:g} req/s, {args.error_rate:.0%} injected 429/5xx, {args.latency_ms:g} ms latency"
        )
        print(
            f"embedded: {len(succeeded)}  failed (by index): {len(result.failures)}"
            + (f" first: {sorted(result.failures)[:5]}" if result.failures else "")
        )
        print(f"in input order and equal to the emulator's vectors: {in_order}")
        print(
            f"served by the emulator: {served} items in {stats.ok} ok answers (exactly once: {served == len(succeeded)})"
        )
        print(
            f"requests: {stats.requests}  throttled: {stats.throttled}  injected faults: {stats.injected}  "
            f"retries: {result.retries}  (rate-limit retries: {sum(t.retried.count('RateLimitError') for t in result.timings)})"
        )
        if unfaulted is None:
            print(
                f"wall: {wall:.1f} s  achieved: {achieved:.1f} items/s  grantable: {grantable:.1f} items/s  "
                f"ratio: {achieved / grantable:.2f} (target ≥ 0.90)"
            )
        else:
            target = min(args.rate, unfaulted / 100) * (1 - args.error_rate) * 100
            print(
                f"wall: {wall:.1f} s  achieved: {achieved:.1f} items/s  requests ok/s: {stats.ok / wall:.1f}  "
                f"same run unfaulted: {unfaulted:.1f} items/s  grantable: {target:.1f} items/s  "
                f"ratio: {achieved / target:.2f} (target ≥ 0.90)"
            )
        if not args.skip_raw and args.provider == "bedrock":
            ok, failed, raw_wall = raw_sequential_loop(texts, dims)
            print(
                f"raw boto3 sequential loop (default retries): embedded {ok}, failed {failed}, wall {raw_wall:.1f} s, "
                f"{ok / raw_wall:.1f} items/s → omnivec is {achieved / (ok / raw_wall):.1f}× faster and lost "
                f"{len(result.failures)} vs {failed} inputs"
            )


if __name__ == "__main__":
    main()
