"""The manifest of a benchmark run: what ran, on what data, with which versions, on which machine."""

from __future__ import annotations

from pydantic import Field, JsonValue

from ._model import Model, RowKind
from .config import BenchConfig

__all__ = ["DatasetInfo", "Machine", "Manifest", "RowInfo"]


class RowInfo(Model):
    """What a row was: the provider's settings and capabilities, or the retriever's library and parameters."""

    kind: RowKind
    ref: str
    emulated: bool
    description: str
    settings: dict[str, JsonValue] = Field(default_factory=dict)
    modalities: list[str] = Field(default_factory=list)
    max_batch_size: int | None = None


class DatasetInfo(Model):
    path: str
    revision: str
    queries: int
    corpus: int
    judgments: int
    blank_queries: list[str] = Field(default_factory=list)
    """Ids of queries with no text: skipped (not evaluated) by every row."""
    blank_documents: list[str] = Field(default_factory=list)
    """Ids of documents with no text: never ranked, but still judged (trec_eval semantics)."""


class Machine(Model):
    python: str
    platform: str
    processor: str
    cpus: int | None


class Manifest(Model):
    created_at: str
    config: BenchConfig
    baseline: str
    rows: dict[str, RowInfo]
    datasets: dict[str, DatasetInfo]
    versions: dict[str, str]
    machine: Machine
    price_table_as_of: str | None
    cache: str
    emulated: bool
