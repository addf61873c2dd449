"""Store settings from the same places as provider settings (``OmnivecConfig.store``).

``OMNIVEC_STORE=postgresql://...`` (a bare URL), ``OMNIVEC_STORE__*`` fields, or a ``[store]``
table in ``omnivec.toml``; arguments override them all.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from .._validation import describe_validation_error
from ..config import load_config
from ..errors import InvalidOptionError
from .settings import StoreSettings

__all__ = ["configured_store_settings", "store_settings"]


def configured_store_settings(**overrides: Any) -> StoreSettings:
    """Arguments, then the environment, then ``omnivec.toml`` / ``pyproject.toml``, then defaults."""
    return store_settings(**{**load_config().store, **overrides})


def store_settings(**options: Any) -> StoreSettings:
    """``StoreSettings`` from ``options``; a bad value is one :class:`InvalidOptionError` line naming it."""
    try:
        return StoreSettings(**options)
    except ValidationError as exc:
        message = describe_validation_error(exc, "store", StoreSettings).replace("for store: ", "for store: store.", 1)
        raise InvalidOptionError(message) from None
