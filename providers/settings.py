"""Typed provider settings. Each adapter subclasses :class:`ProviderSettings` with its own fields.

Unknown field names are errors (``extra="forbid"``), so a typo in code, env or TOML fails loudly.
Settings modules import no SDK, so the config layer can type every section without loading one.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from ._rate import RateLimits

__all__ = ["ProviderSettings", "RetryPolicy"]


class RetryPolicy(BaseModel):
    """The one retry policy, applied by the core to errors whose ``retryable`` is true.

    Waits grow exponentially with full jitter between ``initial_backoff_s`` and
    ``max_backoff_s``; a provider's ``retry_after`` hint raises the wait to at least that.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attempts: int = Field(8, ge=1, le=50)
    """Total tries per provider call, the first included. 1 disables retries."""
    initial_backoff_s: float = Field(0.1, ge=0, allow_inf_nan=False)
    max_backoff_s: float = Field(20.0, ge=0, allow_inf_nan=False)


class ProviderSettings(BaseModel):
    """Settings every provider understands."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("dimensions", "max_concurrency", mode="before", check_fields=False)
    @classmethod
    def _no_booleans_for_numbers(cls, value: object) -> object:
        # pydantic's lax mode reads `dimensions = true` as 1; a boolean here is always a mistake.
        if isinstance(value, bool):
            raise ValueError("expects a whole number, not true/false")
        return value

    @field_validator("endpoint_url", "base_url", check_fields=False)
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        # Checked here, not by the SDK: botocore raises a bare ValueError on its first call and
        # google-genai / openai would send to whatever the string turns into.
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in value.strip()):
            raise ValueError("must be an http:// or https:// URL with a host, e.g. https://host:8443/v1")
        return value.strip()

    @field_validator("api_key", "region", "profile", "project", "location", mode="before", check_fields=False)
    @classmethod
    def _not_blank(cls, value: object) -> object:
        # An empty string is an unset shell variable, most likely: it must not pass for a value.
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if isinstance(text, str) and not text.strip():
            raise ValueError("is empty: leave it out to use the SDK's own default (its environment variables, profile)")
        return value

    dimensions: int | None = Field(None, ge=1)
    """Output vector size; None uses the model's default. Must be one the model allows."""
    normalize: bool | None = None
    """L2-normalize vectors. None keeps the provider's behaviour; True normalizes when it does not."""
    max_concurrency: int | None = Field(None, ge=1)
    """Provider calls in flight at once; None uses the model's capability default."""
    adaptive_concurrency: bool = True
    """Lower the calls in flight while the provider throttles (AIMD), then climb back to the maximum;
    also gates growth past the default while calls are latency-bound, and learning the granted rate."""
    retry: RetryPolicy = RetryPolicy()
    rate: RateLimits = RateLimits()
    """Rate budget of this provider's rate key: fixed caps, learning, concurrency growth (``omnivec.providers._rate``)."""
