"""What a benchmark runs, from ``omnivec bench`` flags or a TOML file with the same names."""

from __future__ import annotations

import re
import tempfile
import tomllib
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..providers.errors import InvalidOptionError
from ..providers.registry import builtin_providers
from .metrics import DEFAULT_KS, METRICS

__all__ = ["DEFAULT_CACHE", "BenchConfig", "load_bench_config", "one_line"]

DEFAULT_CACHE = Path(".omnivec-cache") / "embeddings.sqlite"
_METRIC = re.compile(rf"^({'|'.join(METRICS)})@(\d+)$")


class BenchConfig(BaseModel):
    """A benchmark: which rows run on which data, and how they are measured."""

    model_config = ConfigDict(extra="forbid")

    datasets: list[str] = ["scifact-nano"]
    """Bundled set names or folders in BEIR / image–text layout."""
    split: str = "test"
    providers: list[str] | None = None
    """``provider:model`` references. None: the local default model, plus the emulated clouds with ``emulate``."""
    retrievers: list[str] = ["bm25"]
    """Lexical rows run beside the providers (``bm25``); empty for none."""
    rerankers: list[str] = []
    """Reranker refs; each reranks every provider row's top ``rerank_depth`` as a row ``<row>→rerank:<ref>``."""
    rerank_depth: int = Field(20, ge=1)
    """Candidates per query handed to each reranker."""
    hybrid: list[str] = []
    """Lexical retrievers (each also in ``retrievers``) fused with every provider row by reciprocal rank:
    a row ``hybrid(<retriever>+<row>)`` each (benchmarks/hybrid.py)."""
    hybrid_k: float = Field(60.0, ge=0)
    """RRF's k: ``score = sum w / (k + rank)``; 60 as in Cormack et al. (2009)."""
    hybrid_weights: tuple[Annotated[float, Field(ge=0)], Annotated[float, Field(ge=0)]] = (1.0, 1.0)
    """RRF weights (dense, lexical)."""
    baseline: str | None = None
    """Row label every other row is compared with; default: the first row (BM25 when it runs)."""
    dims: list[Annotated[int, Field(ge=1)]] = []
    """Dimension sweep (Matryoshka): every provider runs once per size it allows."""
    emulate: bool = False
    """Run cloud providers against the local wire emulator; every number is labelled EMULATED."""
    cache: Path | None = DEFAULT_CACHE
    """SQLite embedding cache; None disables it."""
    out: Path = Path("results")
    ks: tuple[Annotated[int, Field(ge=1)], ...] = DEFAULT_KS
    main_metric: str = "ndcg@10"
    top_k: int = Field(100, ge=1)
    """Documents ranked per query (the depth of the TREC run files)."""
    latency_queries: int = Field(100, ge=0)
    """Single-item query calls timed (after one warm-up); further queries are embedded in bulk."""
    warmup: int = Field(1, ge=0)
    plots: bool = True
    allow_failures: bool = False
    """Exit 0 even when some items could not be embedded (they are reported either way)."""

    @model_validator(mode="after")
    def _consistent(self) -> BenchConfig:
        match = _METRIC.match(self.main_metric)
        if match is None or int(match.group(2)) not in self.ks:
            choices = ", ".join(f"{m}@{k}" for m in METRICS[:2] for k in self.ks)
            raise ValueError(f"main_metric {self.main_metric!r} is not computed; use one of {choices}, ...")
        if self.top_k < max(self.ks):
            raise ValueError(f"top_k={self.top_k} is below the largest cut-off in ks ({max(self.ks)})")
        if not self.datasets:
            raise ValueError("datasets is empty: name a bundled set (scifact-nano) or a folder")
        if self.rerank_depth > self.top_k:
            raise ValueError(f"rerank_depth={self.rerank_depth} is deeper than top_k={self.top_k}")
        missing = [name for name in self.hybrid if name not in self.retrievers]
        if missing:
            raise ValueError(f"hybrid: {', '.join(missing)} must also run as a row: add it to retrievers")
        if self.providers is not None and not self.providers and not self.retrievers:
            raise ValueError("nothing to run: give --providers or --retrievers")
        return self

    def provider_refs(self) -> list[str]:
        """The providers to run: as given, or the local default (plus the emulated clouds with ``emulate``)."""
        if self.providers is not None:
            return list(self.providers)
        clouds = [name for name, row in builtin_providers().items() if row.emulated] if self.emulate else []
        return ["local", *clouds]

    def check_paths(self) -> None:
        """Fail before any work when the results folder cannot be made."""
        for parent in (self.out, *self.out.parents):
            if parent.exists():
                if not parent.is_dir():
                    raise InvalidOptionError(
                        f"out={str(self.out)!r}: {str(parent)!r} is a file, not a folder; choose another --out"
                    )
                _probe_writable(parent, self.out)
                break


def _probe_writable(folder: Path, out: Path) -> None:
    """Make and remove a folder where the results will go: only trying tells (root, /proc, read-only mounts)."""
    try:
        Path(tempfile.mkdtemp(prefix=".omnivec-probe-", dir=folder)).rmdir()
    except OSError as exc:
        raise InvalidOptionError(
            f"out={str(out)!r}: cannot create folders in {str(folder)!r} ({exc.strerror or exc}); choose another --out"
        ) from None


def one_line(exc: ValidationError, source: str = "") -> str:
    """A pydantic error as one line naming the field (values are not echoed)."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "config"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{source}{where}: {first['msg'].removeprefix('Value error, ')}{more}"


def load_bench_config(path: Path | None, **overrides: Any) -> BenchConfig:
    """A config from a TOML file (if any) with ``overrides`` on top; every mistake is one InvalidOptionError line.

    None means "not given" for every override except ``cache``, where None means --no-cache.
    """
    raw: dict[str, Any] = {}
    source = ""
    if path is not None:
        source = f"{path}: "
        try:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8-sig"))  # a BOM, as omnivec.toml
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidOptionError(f"--config {str(path)!r}: cannot read it ({exc})") from None
        except tomllib.TOMLDecodeError as exc:
            raise InvalidOptionError(f"{source}not valid TOML ({exc})") from None
    given = {k: v for k, v in overrides.items() if v is not None or k == "cache"}
    try:
        return BenchConfig(**{**raw, **given})
    except ValidationError as exc:
        raise InvalidOptionError(one_line(exc, source)) from None
