"""Configuration: ONE line picks the provider, the same application code runs on any of them.

``OMNIVEC_MODEL=gemini:gemini-embedding-2`` in the environment, or ``model = "..."`` in
``omnivec.toml`` (or ``[tool.omnivec]`` in ``pyproject.toml``). Sections per provider hold their
settings: ``[local]``, ``[bedrock]``, ``[gemini]``, or ``OMNIVEC_BEDROCK__REGION=...``.

Precedence, highest first: arguments, environment, ``omnivec.toml``, ``pyproject.toml``, defaults.
This is the only module that reads the environment; SDK credential chains stay inside the SDKs.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    PyprojectTomlConfigSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from .base import EmbeddingProvider
from .bedrock.settings import BedrockSettings
from .errors import InvalidOptionError
from .gemini.settings import GeminiSettings
from .registry import get_provider, parse_model_ref
from .sentence_transformers.settings import SentenceTransformersSettings
from .testing import FakeSettings

__all__ = ["DEFAULT_MODEL", "OmnivecConfig", "load_config", "load_provider"]

DEFAULT_MODEL = "local:sentence-transformers/all-MiniLM-L6-v2"
_OTHER_ENV = {"BLOCK_REMOTE_CALLS"}  # read elsewhere (the test guard), not config fields
_SECTION_OF = {"sentence-transformers": "local", "bedrock": "bedrock", "gemini": "gemini", "fake": "fake"}


class OmnivecConfig(BaseSettings):
    """Everything omnivec reads from the environment and config files."""

    model_config = SettingsConfigDict(
        env_prefix="OMNIVEC_",
        env_nested_delimiter="__",
        extra="forbid",
        toml_file="omnivec.toml",
        pyproject_toml_table_header=("tool", "omnivec"),
    )

    model: str = DEFAULT_MODEL
    """``provider:model`` — the one line that switches provider."""
    local: SentenceTransformersSettings = SentenceTransformersSettings()
    bedrock: BedrockSettings = BedrockSettings()
    gemini: GeminiSettings = GeminiSettings()
    fake: FakeSettings = FakeSettings()
    plugins: dict[str, dict[str, Any]] = {}
    """Settings of third-party providers, by provider name."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls),
            PyprojectTomlConfigSettingsSource(settings_cls),
        )

    def settings_for(self, provider: str) -> dict[str, Any]:
        """The settings section that applies to ``provider`` (a registry name)."""
        section = _SECTION_OF.get(provider)
        if section is None:
            return dict(self.plugins.get(provider, {}))
        return {"settings": getattr(self, section)}


def load_config(toml_file: str | Path | None = None, **overrides: Any) -> OmnivecConfig:
    """Read the configuration; ``toml_file`` replaces ``./omnivec.toml``. Bad names fail loudly."""
    _refuse_unknown_env()
    try:
        if toml_file is None:
            return OmnivecConfig(**overrides)
        path = Path(toml_file)
        if not path.is_file():
            raise InvalidOptionError(f"config file {str(path)!r} does not exist")

        class _FromFile(OmnivecConfig):
            model_config = SettingsConfigDict(toml_file=path)

        return _FromFile(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'config'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidOptionError(f"invalid omnivec configuration: {problems}") from exc


def _refuse_unknown_env() -> None:
    """pydantic-settings ignores unknown top-level variables; a typo there must not pass silently."""
    fields = {name.upper() for name in OmnivecConfig.model_fields}
    for key in os.environ:
        if not key.startswith("OMNIVEC_"):
            continue
        name = key.removeprefix("OMNIVEC_").split("__", 1)[0]
        if name not in fields and name not in _OTHER_ENV:
            close = difflib.get_close_matches(name, sorted(fields), n=1)
            hint = f" Did you mean OMNIVEC_{close[0]}?" if close else ""
            raise InvalidOptionError(f"unknown setting {key} in the environment.{hint}")


def load_provider(
    config: OmnivecConfig | None = None, *, model: str | None = None, **overrides: Any
) -> EmbeddingProvider[Any]:
    """The provider the configuration names (``OMNIVEC_MODEL`` unless ``model`` is given).

    ``overrides`` replace fields of that provider's configured settings, e.g. ``dimensions=256``.
    """
    config = config or load_config()
    ref = model or config.model
    section = config.settings_for(parse_model_ref(ref).provider)
    settings = section.get("settings")
    if settings is not None:
        if overrides:
            merged = {**settings.model_dump(exclude_unset=True), **overrides}
            settings = type(settings)(**merged)  # validated again, so a bad override fails loudly
        return get_provider(ref, settings=settings)
    return get_provider(ref, **{**section, **overrides})
