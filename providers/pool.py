"""An endpoint pool: one vector space served by several endpoints of the same model and options.

A quota is per account, region and model, so the only way past one is more grants: the same model in
several Bedrock regions, on the Gemini API and Vertex AI, on several OpenAI-compatible servers. The
pool is a provider over such members. It refuses to build unless every member's fingerprint has the
same vector space (model, dimensions, normalization, intent mapping, options; the endpoint URL aside,
see :meth:`Fingerprint.space`), and its fingerprint is that common one, so caches and collections
treat it as one space. LiteLLM-style fallbacks to *another* model would mix spaces; this cannot.

The core runs the pool like any provider (batching, concurrency, retries, timing); each attempt is
one call on one member under that member's own learned budget (:mod:`._pool_members`). A throttle or
an endpoint failure moves the attempt to another member at once; the pool's retry policy waits only
when every member has been tried.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ._pool_members import DOWN, Member, Router
from ._rate import RateLimits, rate_budget
from .base import EmbeddingProvider
from .errors import EmbeddingError, InvalidOptionError, RateLimitError
from .inputs import Input
from .settings import ProviderSettings
from .types import BatchOutput, Capabilities, Fingerprint, Intent

__all__ = ["EndpointPool", "PoolConfig", "space_difference"]


class PoolConfig(BaseModel):
    """The ``[pool]`` section: endpoints of the configured model that serve it together.

    Each member is a table of the provider section's fields that differ for that endpoint
    (``region``, ``endpoint_url``, ``base_url``, ``api_key``, ``vertexai``...), applied over the
    section; ``model`` in a member names its own ``provider:model`` reference (it must make the same
    vector space). ``regions = [...]`` is short for one member per region.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    members: list[dict[str, Any]] = []
    regions: list[str] = []
    out_s: float = Field(1.0, gt=0, allow_inf_nan=False)
    """How long a failing member is first taken out; doubles while its probes fail."""
    max_out_s: float = Field(5.0, gt=0, allow_inf_nan=False)
    """The longest a member stays out between probes. A probe is one call, so probing a dead region
    every 5 s costs nothing, while a 60 s cap kept a region that came back idle for up to a minute
    (benchmarks/perf/pool.py: 0.62 of the target after a 30 s outage; its goal is 0.9)."""
    max_concurrency: int | None = Field(None, ge=1)
    """Calls in flight over all members; None: the members' defaults added up."""

    @model_validator(mode="after")
    def _one_way(self) -> PoolConfig:
        if self.members and self.regions:
            raise ValueError("set either members or regions, not both: regions is short for members of one region each")
        return self

    def member_options(self) -> list[dict[str, Any]]:
        return [dict(m) for m in self.members] or [{"region": r} for r in self.regions]


def space_difference(a: Fingerprint, b: Fingerprint) -> str | None:
    """The first field in which two fingerprints' vector spaces differ, as ``field a vs b``; None if none."""
    left, right = a.space().as_dict(), b.space().as_dict()
    first = ("provider", "model", "dimensions", "normalized")  # the telling differences before the ones they cause
    for key in [*first, *sorted((set(left) | set(right)) - set(first))]:
        x, y = left.get(key), right.get(key)
        if isinstance(x, dict) and isinstance(y, dict):
            for option in sorted(set(x) | set(y)):
                if x.get(option) != y.get(option):
                    return f"options.{option} {x.get(option)!r} vs {y.get(option)!r}"
        elif x != y:
            return f"{key} {x!r} vs {y!r}"
    return None


class EndpointPool(EmbeddingProvider[ProviderSettings]):
    """Several endpoints of ONE vector space behind one provider. Build with :func:`load_provider` and a
    ``[pool]`` section, or ``EndpointPool([provider, provider, ...])``."""

    name = "pool"

    def __init__(
        self,
        members: Sequence[EmbeddingProvider[Any]],
        *,
        out_s: float = 1.0,
        max_out_s: float = 5.0,
        max_concurrency: int | None = None,
    ) -> None:
        members = list(members)
        _check_members(members)
        first = members[0]
        self.members = [Member(i, p, out_s=out_s, max_out_s=max_out_s) for i, p in enumerate(members)]
        self._router = Router(self.members)
        self._space = {intent: first.fingerprint(intent).space() for intent in ("document", "query")}
        # The pool learns nothing itself (each member's budget does); its own gate bounds the calls in flight.
        settings = ProviderSettings(
            dimensions=first.dimensions,
            normalize=first.settings.normalize,
            max_concurrency=max_concurrency,
            adaptive_concurrency=first.settings.adaptive_concurrency,
            retry=first.settings.retry,
            rate=RateLimits(learn=False, grow_concurrency_to=sum(m.concurrency_ceiling for m in members)),
        )
        self._capabilities = dataclasses.replace(
            first.capabilities, max_concurrency=sum(m.capabilities.max_concurrency for m in members)
        )
        self.is_remote = any(m.is_remote for m in members)  # type: ignore[misc]
        super().__init__(first.model, settings=settings)
        self._budget = rate_budget(self.rate_key(), self.rate_limits)

    @property
    def ref(self) -> str:
        return f"pool[{len(self.members)}]:{self.members[0].provider.ref}"

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    def fingerprint(self, intent: Intent) -> Fingerprint:
        if intent in self._space:
            return self._space[intent]
        return self.members[0].provider.fingerprint(intent).space()

    def rate_key(self) -> Hashable:
        return ("pool", *(m.provider.rate_key() for m in self.members))

    async def _embed_batch(self, batch: Sequence[Input], *, intent: Intent) -> BatchOutput:
        tried: set[int] = set()
        last: EmbeddingError | None = None
        while True:
            member = await self._router.pick(tried)
            if member is None:
                assert last is not None  # pick gives up only once a member was tried
                raise last
            tried.add(member.index)
            try:
                return await member.call(batch, intent)
            except EmbeddingError as exc:
                if not isinstance(exc, (RateLimitError, *DOWN)):
                    exc.message = f"pool member {member.label}: {exc.message}"  # which endpoint refused it
                    raise
                last = exc

    def snapshot(self) -> list[dict[str, Any]]:
        """Per member: state (in, out, due, probing), answers ok / failed / throttled, learned req/s."""
        return [m.snapshot() for m in self.members]

    async def aclose(self) -> None:
        for member in self.members:
            await member.provider.aclose()


def _check_members(members: list[EmbeddingProvider[Any]]) -> None:
    """One line, before any call: too few, the same endpoint twice, or another vector space."""
    if len(members) < 2:
        raise InvalidOptionError(
            f"an endpoint pool needs at least 2 members, got {len(members)}: add endpoints to [pool] members "
            "or use the provider itself"
        )
    keys: dict[Hashable, int] = {}
    for i, member in enumerate(members):
        if not isinstance(member, EmbeddingProvider) or isinstance(member, EndpointPool):
            raise InvalidOptionError(f"pool member {i} is {type(member).__name__}, not a provider: pass providers")
        key = member.rate_key()
        if key in keys:
            raise InvalidOptionError(
                f"pool members {keys[key]} and {i} are the same endpoint ({member.ref}, same region, account "
                "and endpoint): a pool of one endpoint twice gains nothing; remove one"
            )
        keys[key] = i
        for intent in ("document", "query"):
            diff = space_difference(members[0].fingerprint(intent), member.fingerprint(intent))
            if diff:
                raise InvalidOptionError(
                    f"pool members 0 and {i} would make different vector spaces ({diff}): "
                    "a pool serves one model with one set of options"
                )
