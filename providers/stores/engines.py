"""The engines of ``index`` / ``migrate`` by name, and the provider's batch API as one of them.

``engine="online"`` (the default; ``"local"`` is the same), ``"batch"`` or ``"ray"``, or an engine
object with its own options: ``BatchAPI(window=..., poll_s=...)``, ``Ray(actors=8, requests_per_second=40)``.

The batch API is half the online price (the Gemini Batch API), with latency of minutes to hours.
Items go out in windows of ``window`` inputs; each window's jobs are recorded in a state file
(``./.omnivec-batches/<collection>-v<version>.json``) before anything is awaited, so a killed run that
is started again resumes the same jobs instead of paying twice, and the file is removed once the
window is committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from .._concurrency import _background_loop
from ..base import EmbeddingProvider
from ..errors import InvalidOptionError
from ..inputs import Input
from ..types import EmbeddingResult
from .ray_engine import Ray
from .sources import SourceItem
from .writer import Engine, Online, StoreWriter

__all__ = ["BATCH_PRICE_FACTOR", "ENGINES", "BatchAPI", "Online", "Ray", "engine_for"]

BATCH_PRICE_FACTOR = 0.5
"""Batch jobs cost half the online price (Gemini Batch API, 2025-09 announcement); used by ``--max-cost``."""
DEFAULT_STATE_DIR = ".omnivec-batches"
"""Where batch job state files go, relative to the working directory (like the default LanceDB store)."""


class BatchAPI(Engine):
    """Windows of items as the provider's batch jobs (``provider.embed_bulk``), resumable by state file."""

    name: ClassVar[str] = "batch"
    price_factor = BATCH_PRICE_FACTOR

    def __init__(self, *, window: int = 50_000, poll_s: float = 30.0, state_dir: str | None = None) -> None:
        self.window, self.poll_s, self.state_dir = window, poll_s, Path(state_dir or DEFAULT_STATE_DIR)

    def check(self, provider: EmbeddingProvider[Any]) -> None:
        if not hasattr(provider, "embed_bulk"):
            raise InvalidOptionError(
                f"engine='batch' needs a provider with a batch API (gemini:...); {provider.ref} has none: "
                "use engine='online'"
            )

    def embed_group(
        self, writer: StoreWriter, items: list[SourceItem], inputs: list[Input]
    ) -> Iterator[tuple[list[int], EmbeddingResult]]:
        state_path = self.state_dir / f"{writer.name}-v{writer.version}.json"
        job = writer.provider.embed_bulk(  # type: ignore[attr-defined]
            inputs, intent="document", state_path=state_path, poll_s=self.poll_s, errors="collect", keep_state=True
        )
        yield list(range(len(inputs))), asyncio.run_coroutine_threadsafe(job, _background_loop()).result()
        # the writer asks for the next part only once this one is committed: the jobs are not needed again
        state_path.unlink(missing_ok=True)


ENGINES: dict[str, type[Engine]] = {"online": Online, "local": Online, "batch": BatchAPI, "ray": Ray}


def engine_for(engine: str | Engine) -> Engine:
    """The engine named (or given), once its requirements are checked; :meth:`Engine.check` takes the
    provider when it is known."""
    if isinstance(engine, str):
        if engine not in ENGINES:
            raise InvalidOptionError(f"engine must be 'online', 'batch' or 'ray' (or an Engine), got {engine!r}")
        engine = ENGINES[engine]()
    elif not isinstance(engine, Engine):
        raise InvalidOptionError(f"engine must be 'online', 'batch', 'ray' or an Engine, got {type(engine).__name__}")
    engine.require()
    return engine


def refuse_removed(options: dict[str, Any], function: str) -> None:
    """``bulk=`` and ``ray_options=`` became ``engine=``: say so in one line; any other name is a TypeError."""
    for name in options:
        if name == "bulk":
            raise InvalidOptionError(f"{function}(bulk=...) is now engine=: pass engine='batch' or engine='online'")
        if name == "ray_options":
            raise InvalidOptionError(
                f"{function}(ray_options=...) is now engine=Ray(**options) (omnivec.providers.stores)"
            )
        raise TypeError(f"{function}() got an unexpected keyword argument {name!r}")
