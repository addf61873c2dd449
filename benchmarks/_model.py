"""The base of every results model: unknown fields are refused, so a results file means one thing."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["Model", "RowKind", "Side"]

RowKind = Literal["embedding", "lexical", "pipeline"]
Side = Literal["query", "document"]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")
