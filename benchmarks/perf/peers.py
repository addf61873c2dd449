"""The peers' rows of the throughput table: other libraries' async Bedrock Nova path on the same strict endpoint.

    python benchmarks/perf/peers.py [--grants 50,100,400] [--n 1000] [--latency-ms 40]
        [--peers langchain,pydantic-ai,litellm] [--raw-threads 32]

Same setup as ``throughput.py`` (whose emulator, ceiling and throttle accounting this reuses): an
emulator in its own process that grants G requests/s, holds 10 % of G as burst and answers the rest
with 429 ``ThrottlingException``, 40 ms per call. Each peer embeds ``--n`` documents (one per request,
as Nova takes them) through its own ASYNC path with its DEFAULT settings, except the model id and 256
dimensions where it exposes them:

* LangChain     ``langchain_aws.BedrockEmbeddings(...).aembed_documents`` (a default-executor thread per text)
* Pydantic AI   ``pydantic_ai.Embedder("bedrock:...").embed_documents`` (settings ``dimensions``)
* LiteLLM       ``litellm.aembedding(model="bedrock/...", dimensions=256)``; LiteLLM signs its own
  requests over httpx and ignores ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``, so it alone is handed the
  emulator's URL as ``aws_bedrock_runtime_endpoint``

Right before each peer the machine's ceiling is measured again (raw boto3 from ``--raw-threads``
threads, nothing limited), and the row gives items/s, the ratio to min(G, ceiling), % throttled over
the whole run / at steady state, items lost and whether the vectors are right. A peer that raises
(gives up on throttling, or sends a body the strict emulator rejects) loses all its items, and the
row says why. A peer whose package is missing prints ``not installed`` and the script goes on:
``pip install 'omnivec[peers]'`` installs all three. Numbers describe this machine and the emulator.
omnivec's own rows come from ``throughput.py`` (same columns). A ratio above 1 means the peer ran
faster than the ceiling measured just before it: on a shared 2-core machine, and with small ``--n``
(client set-up is inside the timing), one run moves by 10-30 %.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.metadata
import importlib.util
import logging
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import numpy as np
from throughput import DIMS, REFS, emulator, grant_list, raw_pool, throttled_share  # beside this script

from omnivec.providers.emulator import Faults
from omnivec.providers.testing.perf import HelpFormatter, at_least_one, emulator_text_vector, run_main

MODEL = REFS["bedrock"].split(":", 1)[1]
# peer name → (module that must import, distribution whose version is printed)
PEERS: dict[str, tuple[str, str]] = {
    "langchain": ("langchain_aws", "langchain-aws"),
    "pydantic-ai": ("pydantic_ai", "pydantic-ai-slim"),
    "litellm": ("litellm", "litellm"),
}
NOT_INSTALLED = "not installed (pip install 'omnivec[peers]')"
Embed = Callable[[list[str]], Awaitable[Sequence[Sequence[float]]]]


def _module(name: str) -> Any:
    """Imported by name so the type checker never needs the peers (CI does not install them)."""
    if name == "litellm":
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no internet: skip fetching its price list
    return importlib.import_module(name)


async def _langchain(texts: list[str]) -> Sequence[Sequence[float]]:
    logging.getLogger("langchain_aws").setLevel(logging.CRITICAL)  # it logs a traceback for every failed call
    embeddings = _module("langchain_aws").BedrockEmbeddings(model_id=MODEL, dimensions=DIMS)
    result: Sequence[Sequence[float]] = await embeddings.aembed_documents(texts)
    return result


async def _pydantic_ai(texts: list[str]) -> Sequence[Sequence[float]]:
    embedder = _module("pydantic_ai").Embedder(REFS["bedrock"], settings={"dimensions": DIMS})
    result = await embedder.embed_documents(texts)
    return list(result.embeddings)


async def _litellm(texts: list[str]) -> Sequence[Sequence[float]]:
    litellm = _module("litellm")
    litellm.suppress_debug_info = True  # only its console banner on errors
    response = await litellm.aembedding(
        model=f"bedrock/{MODEL}",
        input=texts,
        dimensions=DIMS,
        aws_bedrock_runtime_endpoint=os.environ["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"],
    )
    items = sorted(response.data, key=lambda item: item["index"])
    return [item["embedding"] for item in items]


EMBED: dict[str, Embed] = {"langchain": _langchain, "pydantic-ai": _pydantic_ai, "litellm": _litellm}


def installed(peer: str) -> bool:
    return importlib.util.find_spec(PEERS[peer][0]) is not None


def versions() -> str:
    names = [dist for _, dist in PEERS.values()] + ["boto3", "botocore"]
    found = []
    for name in names:
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{name} not installed")
    return ", ".join(found)


def _failure(exc: BaseException) -> tuple[str, bool]:
    """``(ErrorClass (code), rejected)``: the code the endpoint answered, when one can be found, and
    whether that answer was a rejected request rather than throttling or a transport failure."""
    text = f"{type(exc).__name__}: {exc}"
    response = getattr(exc, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    if code is None:
        code = next((c for c in ("ThrottlingException", "ValidationException") if c in text), None)
    status = getattr(exc, "status_code", None)  # LiteLLM's and Pydantic AI's HTTP errors carry it
    if status is None and isinstance(response, dict):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    rejected = code == "ValidationException" or status == 400
    return type(exc).__name__ + (f" ({code})" if code and code != type(exc).__name__ else ""), rejected


def _check(texts: list[str], vectors: Sequence[Sequence[float]]) -> str:
    """Whether a sample of the vectors is the emulator's answer at 256 dimensions (as run_omnivec checks)."""
    if len(vectors) != len(texts):
        return f"{len(vectors)} vectors for {len(texts)} texts"
    sizes = {len(vector) for vector in vectors}
    if sizes != {DIMS}:
        return f"wrong dimension {sorted(sizes)}"
    sample = range(0, len(texts), max(1, len(texts) // 200))
    return str(
        all(np.allclose(np.asarray(vectors[i]), emulator_text_vector(texts[i], DIMS), atol=1e-5) for i in sample)
    )


async def run_peer(peer: str, texts: list[str]) -> dict[str, Any]:
    """Timed from building the peer's client, as omnivec's run is timed from building the provider."""
    began = time.perf_counter()
    try:
        vectors = await EMBED[peer](texts)
    except Exception as exc:
        name, rejected = _failure(exc)
        first = str(exc).split("\n")[0][:120]
        return {"error": name, "lost": len(texts), "right": f"body rejected: {first}" if rejected else "—"}
    wall = time.perf_counter() - began
    return {"rate": len(texts) / wall, "lost": 0, "right": _check(texts, vectors)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument(
        "--grants", type=grant_list, default="50,100,400", help="requests/s the emulator grants, comma-separated"
    )
    parser.add_argument("--n", type=at_least_one, default=1000, help="Nova documents per run (one per request)")
    parser.add_argument("--latency-ms", type=float, default=40.0, help="emulator time per call")
    parser.add_argument("--burst-s", type=float, default=0.1, help="emulator bucket size, in seconds of grant")
    parser.add_argument("--peers", default=",".join(PEERS), help=f"any of {', '.join(PEERS)}")
    parser.add_argument("--raw-threads", type=at_least_one, default=32, help="threads of the raw boto3 ceiling")
    args = parser.parse_args()
    peers = args.peers.split(",")
    unknown = [peer for peer in peers if peer not in PEERS]
    if unknown:
        parser.error(f"--peers: unknown {', '.join(unknown)}; choose from {', '.join(PEERS)}")
    grants: list[float] = args.grants
    _module("boto3")  # the first ceiling would otherwise pay for the import
    texts = [f"input {i}: a sentence about topic {i % 37} and item {i}" for i in range(args.n)]
    print(
        f"emulator (own process): {args.latency_ms:g} ms per call, bucket {args.burst_s:g} s of grant; cpus: {os.cpu_count()}"
    )
    print(f"versions: {versions()}")
    print(
        "peer | grant req/s | ceiling items/s | target items/s | items/s | ratio | throttled all/steady | lost | right"
    )
    for grant in grants:
        for peer in peers:
            if not installed(peer):
                print(f"{peer} | {grant:g} | {NOT_INSTALLED}", flush=True)
                continue
            _module(PEERS[peer][0])  # imported before the clock starts, as omnivec and boto3 are
            with emulator(Faults(latency_ms=args.latency_ms), in_process=False):
                ceiling, _ = raw_pool("bedrock", texts, args.raw_threads)  # right before, same load
            faults = Faults(rate_limit_rps=grant, burst=max(1, round(grant * args.burst_s)), latency_ms=args.latency_ms)
            with emulator(faults, in_process=False) as served:
                began = time.monotonic()
                run = asyncio.run(run_peer(peer, texts))
                ended = time.monotonic()
            share_all, share_steady = throttled_share(served.series, began, ended)
            target = min(grant, ceiling)
            if "error" in run:
                rate, ratio = f"fails: {run['error']}, {run['lost']} lost", "—"
            else:
                rate, ratio = f"{run['rate']:.1f}", f"{run['rate'] / target:.2f}"
            print(
                f"{peer} | {grant:g} | {ceiling:.0f} | {target:.0f} | {rate} | {ratio} | "
                f"{share_all:.1%} / {share_steady:.1%} | {run['lost']} | {run['right']}",
                flush=True,
            )


if __name__ == "__main__":
    run_main(main)
