"""What a run would embed, before it runs: calls, tokens, cost and time (``--dry-run``)."""

from __future__ import annotations

from typing import Any

from .._rate import tokens_for_chars
from ..base import EmbeddingProvider
from ..config import load_provider
from ..errors import InvalidOptionError
from ..prices import price_for
from .base import VectorStore
from .serving import require_serving, same_space

__all__ = ["estimate", "plan_migration", "price_per_token"]


def price_per_token(provider: EmbeddingProvider[Any]) -> float | None:
    """USD per input token from the dated price table (None = unknown, never zero)."""
    row = price_for(provider.name, provider.model) or {}
    return float(row["per_1m_tokens"]) / 1e6 if "per_1m_tokens" in row else None


_ASSUMED_CALL_S = 0.25  # one remote embedding call, round trip (Bedrock/Gemini from a nearby region)


def estimate(provider: EmbeddingProvider[Any], items: int, chars: int) -> dict[str, Any]:
    """Calls, tokens, cost and time of embedding ``items`` (``chars`` characters) with ``provider``.

    Time = calls / request rate: the configured ``rate_limits`` if any, else ``max_concurrency``
    calls each ``_ASSUMED_CALL_S`` long; a grant below that (429s) makes it longer, never shorter."""
    caps, limits = provider.capabilities, provider.rate_limits
    calls = -(-items // max(1, caps.max_batch_size))
    concurrency = provider.settings.max_concurrency or caps.max_concurrency
    if limits.requests_per_minute:
        rate, basis = limits.requests_per_minute / 60.0, "your rate_limits.requests_per_minute"
    else:
        per_call = _ASSUMED_CALL_S if provider.is_remote else 0.05
        rate, basis = concurrency / per_call, f"{concurrency} calls in flight x {per_call:g} s each"
    price, tokens = price_per_token(provider), int(tokens_for_chars(chars))
    return {
        "model": provider.ref,
        "to_embed": items,
        "calls": calls,
        "estimated_tokens": tokens,
        "estimated_cost": "unknown (no price in prices.toml)"
        if price is None
        else f"${tokens * price:.4f} (estimated)",
        "estimated_time_s": round(calls / rate, 1),
        "note": f"time assumes ~{rate:.0f} requests/s ({basis}); throttling by your grant makes it longer; "
        "nothing was embedded",
    }


def plan_migration(
    store: VectorStore, name: str, to: str, *, dimensions: int | None = None, batch_size: int = 1000
) -> dict[str, Any]:
    """What ``migrate`` would embed (a resumed one: only what the target still lacks); creates nothing."""
    source = require_serving(store, name)
    provider = load_provider(model=to, **({"dimensions": dimensions} if dimensions is not None else {}))
    if same_space(source, provider):
        raise InvalidOptionError(f"collection {name!r} is already embedded by {provider.ref}: nothing to migrate")
    target = next((v for v in store.versions(name) if same_space(v, provider) and v.state != "retired"), None)
    items = todo = chars = 0
    for rows in store.scan(name, source.version, batch_size):
        have = store.hashes(name, target.version, [r.id for r in rows]) if target else {}
        left = [r for r in rows if have.get(r.id) != r.content_hash]
        items, todo, chars = items + len(rows), todo + len(left), chars + sum(len(r.text or "") for r in left)
    plan = {"collection": name, "from_version": source.version, "items": items, **estimate(provider, todo, chars)}
    return plan
