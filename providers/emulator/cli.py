"""``omnivec emulate``: run the wire emulator in the foreground for local development and CI."""

from __future__ import annotations

import math
import time
from typing import Annotated, Optional

import typer

from ..console import print_error
from . import emulator_environment
from .server import Emulator, Faults


def emulate(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 picks a free one).")] = 8765,
    rate_limit: Annotated[
        Optional[float],
        typer.Option(help="Requests granted per second, above 0; the rest get 429. Leave out for no limit."),
    ] = None,
    error_rate: Annotated[float, typer.Option(help="Share of granted requests answered 429/503 on purpose.")] = 0.0,
    latency_ms: Annotated[float, typer.Option(help="Added latency per request.")] = 0.0,
    hang_rate: Annotated[float, typer.Option(help="Share of requests that hang for --hang-s.")] = 0.0,
    hang_s: Annotated[float, typer.Option(help="How long a hanging request sleeps.")] = 5.0,
    drop_rate: Annotated[float, typer.Option(help="Share of requests whose connection is dropped.")] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed of the fault dice.")] = 0,
    batch_delay_s: Annotated[
        float, typer.Option(help="Gemini batch jobs: PENDING, then RUNNING, then SUCCEEDED after this long.")
    ] = 1.0,
    no_auth: Annotated[bool, typer.Option("--no-auth", help="Accept requests without credentials.")] = False,
) -> None:
    """Serve the Bedrock, Gemini and OpenAI embedding wire protocols on 127.0.0.1 (vectors are NOT the real models')."""
    problem = _fault_problem(
        rate_limit=rate_limit,
        shares={"--error-rate": error_rate, "--hang-rate": hang_rate, "--drop-rate": drop_rate},
        seconds={"--latency-ms": latency_ms, "--hang-s": hang_s, "--batch-delay-s": batch_delay_s},
    )
    if problem is not None:
        print_error(problem)
        raise typer.Exit(2)
    faults = Faults(
        rate_limit_rps=rate_limit,
        error_rate=error_rate,
        latency_ms=latency_ms,
        hang_rate=hang_rate,
        hang_s=hang_s,
        drop_rate=drop_rate,
        seed=seed,
        batch_delay_s=batch_delay_s,
    )
    if not 0 <= port <= 65535:
        print_error(f"--port {port} is not a port: use 0-65535 (0 picks a free one)")
        raise typer.Exit(2)
    try:  # the constructor binds the port
        emulator = Emulator(faults, port=port, require_auth=not no_auth).start()
    except OSError as exc:  # the port is taken (another emulator?) or not ours to bind
        print_error(f"--port {port}: cannot listen on 127.0.0.1:{port} ({exc.strerror or exc}); pick another or 0")
        raise typer.Exit(2) from None
    try:
        env = emulator_environment(emulator.url)
        exports = " ".join(f"{name}={value}" for name, value in env.items() if value is not None)
        unsets = " ".join(name for name, value in env.items() if value is None)
        typer.echo(f"omnivec emulator on {emulator.url}\n  export {exports}\n  unset {unsets}\nCtrl-C stops it.")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            s = emulator.stats
            typer.echo(f"\n{s.requests} requests: {s.ok} ok, {s.throttled} throttled, {s.injected} injected faults")

    finally:
        emulator.stop()


def _fault_problem(rate_limit: float | None, shares: dict[str, float], seconds: dict[str, float]) -> str | None:
    """What is wrong with the fault flags, as one line, or None. Out-of-range values used to run:
    --error-rate 2 failed every request, negative ones none, and nan compared false everywhere."""
    if rate_limit is not None and not (math.isfinite(rate_limit) and rate_limit > 0):
        return (
            f"--rate-limit {rate_limit:g} is not a rate: give requests per second above 0, "
            "or leave it out for no limit (to fail every request use --error-rate 1)"
        )
    for flag, share in shares.items():
        if not (math.isfinite(share) and 0 <= share <= 1):
            return f"{flag} {share:g} is not a share of requests: give a number from 0 to 1 (0.2 = 20%)"
    if sum(shares.values()) > 1:
        total = " + ".join(shares)
        return f"{total} add up to {sum(shares.values()):g}: each request takes at most one fault, so keep the sum <= 1"
    for flag, value in seconds.items():
        if not (math.isfinite(value) and value >= 0):
            return f"{flag} {value:g} is not a duration: give 0 or more"
    return None


def register(app: typer.Typer) -> None:
    app.command(name="emulate")(emulate)
