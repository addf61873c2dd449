"""The rate control of ``fault_run`` on a simulated clock: many seeds in seconds, no CPU in the way.

    python benchmarks/perf/rate_model.py [--seeds 120] [--n 2000] [--rate 100] [--error-rate 0.2]
                                         [--latency-ms 40] [--concurrency 16]

One run of ``fault_run`` takes half a minute and its ratio moves with the machine's load; whether the
rate control holds ≥ 0.90 "three runs in a row" is a question about its spread, which one run per
seed on a simulated clock answers. The model drives the real ``Budget`` (learned rate,
background share) and the real ``backoff`` with the retry loop's rules (a throttle the budget
reads as the quota waits the refill guess only while nothing is granted; the backoff exponent counts
failures with no success of the key between them), against the emulator's token bucket (100 ms of
grant) that fails ``--error-rate`` of the granted requests (429 / 503, half each). Successes take
``--latency-ms``, failures 2 ms, as the emulator answers them. The baseline in the same run is the
loop before issue 17's second fix: the exponent counting every attempt of the call.
Not modelled: the client's CPU (the real run adds its per-call cost), adaptive concurrency.
"""

from __future__ import annotations

import argparse
import heapq
import random
import statistics

from omnivec.providers import RateLimits
from omnivec.providers.errors import EmbeddingError, ServiceUnavailableError
from omnivec.providers.settings import RetryPolicy
from omnivec.providers.testing.perf import (
    HelpFormatter,
    RateBackground,
    RateBudget,
    at_least_one,
    guessed_throttle,
    not_negative,
    retry_backoff,
    run_main,
)

ERROR_LATENCY_S = 0.002


class _Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def simulate(args: argparse.Namespace, seed: int, *, streak_backoff: bool) -> float:
    """Achieved successes/s over the grantable rate (``rate × (1 − error_rate)``) for one seed."""
    rng, clock, policy = random.Random(seed), _Clock(), RetryPolicy(max_attempts=50)
    random.seed(seed)  # backoff() draws its jitter from the module generator
    budget = RateBudget(RateLimits(), clock=clock)
    capacity = max(1.0, args.rate / 10)
    tokens, stamp, latency = capacity, 0.0, args.latency_ms / 1000
    events: list[tuple[float, int, str, int, float]] = []  # (time, order, kind, slot, ticket)
    streaks: dict[int, tuple[int, int, float]] = {}  # slot -> (attempt, streak, failed_at)
    order = left = done = 0

    def push(at: float, kind: str, slot: int, ticket: float = 0.0) -> None:
        nonlocal order
        order += 1
        heapq.heappush(events, (at, order, kind, slot, ticket))

    for slot in range(min(args.concurrency, args.n)):
        push(0.0, "book", slot)
    left = args.n - min(args.concurrency, args.n)
    while events:
        clock.now, _, kind, slot, ticket = heapq.heappop(events)
        now = clock.now
        if kind == "book":
            wait, ticket = budget.reserve()
            push(now + wait, "send", slot, ticket)
        elif kind == "send":
            tokens, stamp = min(capacity, tokens + (now - stamp) * args.rate), now
            if tokens < 1:
                push(now + ERROR_LATENCY_S, "throttled", slot, ticket)
                continue
            tokens -= 1
            roll = rng.random()
            fate = "ok" if roll >= args.error_rate else "throttled" if roll < args.error_rate / 2 else "failed"
            push(now + (latency if fate == "ok" else ERROR_LATENCY_S), fate, slot, ticket)
        elif kind == "ok":
            budget.record(ticket, throttled=False)
            budget.last_success = now
            done += 1
            streaks.pop(slot, None)
            if left:
                left -= 1
                push(now, "book", slot)
        else:
            throttled = kind == "throttled"
            over = budget.record(ticket, throttled=throttled)
            attempt, streak, failed_at = streaks.get(slot, (0, 0, -float("inf")))
            attempt += 1
            streak = 1 if budget.last_success > failed_at else streak + 1
            streaks[slot] = (attempt, streak, now)
            error: EmbeddingError = ServiceUnavailableError("injected")
            if throttled:
                error = guessed_throttle()
            over_quota = over and not budget.granting
            delay = retry_backoff(policy, streak if streak_backoff else attempt, error, over_quota=over_quota)
            push(now + delay, "book", slot)
    return float(args.n / clock.now / (args.rate * (1 - args.error_rate)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--seeds", type=at_least_one, default=120)
    parser.add_argument("--n", type=at_least_one, default=2000)
    parser.add_argument("--rate", type=at_least_one, default=100, help="requests/s the bucket grants")
    parser.add_argument("--error-rate", type=float, default=0.2, help="share of granted requests failed (0 to <1)")
    parser.add_argument("--latency-ms", type=not_negative, default=40.0)
    parser.add_argument("--concurrency", type=at_least_one, default=16)
    args = parser.parse_args()
    if not 0 <= args.error_rate < 1:
        parser.error(f"--error-rate must be at least 0 and below 1, got {args.error_rate}")
    print(
        f"{args.seeds} seeds, {args.n} items, grant {args.rate} req/s, {args.error_rate:.0%} faults, "
        f"{args.latency_ms:g} ms, {args.concurrency} in flight (simulated clock)"
    )
    now: dict[str, float] = {"CHECK_N": RateBudget.CHECK_N, "RECENT_S": RateBudget.RECENT_S, "Z": RateBackground.Z}
    before: dict[str, float] = {
        "CHECK_N": 30,
        "RECENT_S": 0.3,
        "Z": 3.0,
    }  # the rate control as issue 17's first fix left it
    rows = (("before: checks of 30, by attempt", before, False), ("checks of 60, by attempt", now, False))
    for label, params, streak in (*rows, ("now: checks of 60, by streak", now, True)):
        RateBudget.CHECK_N, RateBudget.RECENT_S = int(params["CHECK_N"]), params["RECENT_S"]
        RateBackground.Z = params["Z"]
        ratios = [simulate(args, seed, streak_backoff=streak) for seed in range(args.seeds)]
        held = sum(r >= 0.9 for r in ratios) / len(ratios)
        low = ", ".join(f"{r:.2f}" for r in sorted(ratios)[:3])
        print(
            f"{label:30} median {statistics.median(ratios):.2f}  lowest {low}  "
            f"P(≥0.90) {held:.2f}  P(three in a row) {held**3:.2f}"
        )


if __name__ == "__main__":
    run_main(main)
