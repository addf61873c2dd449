"""The dated price table (``prices.toml``): list prices per provider and model, for estimates only.

Shared by the benchmark's cost columns and the store commands' ``--dry-run`` / ``--max-cost``;
an estimate from it is never presented as a bill.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

__all__ = ["PRICES", "price_for", "price_table"]

PRICES = Path(__file__).parent / "prices.toml"


def price_table() -> dict[str, Any]:
    return tomllib.loads(PRICES.read_text())


def price_for(provider: str, model: str) -> dict[str, Any] | None:
    """The price row for a model: exact ``provider:model``, a geo-prefixed/preview variant, or the provider row."""
    table = price_table()
    models: dict[str, Any] = table.get("models", {})
    bare = model.split("/")[-1]
    for prefix in ("us.", "eu.", "apac.", "global."):
        bare = bare.removeprefix(prefix)
    for key in (f"{provider}:{model}", f"{provider}:{bare}", f"{provider}:{bare.removesuffix('-preview')}"):
        if key in models:
            return {**models[key], "as_of": table["as_of"]}
    row = table.get("providers", {}).get(provider)
    return {**row, "as_of": table["as_of"]} if row else None
