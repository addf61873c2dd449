"""Configuration: ONE line picks the provider, the same application code runs on any of them.

``OMNIVEC_MODEL=gemini:gemini-embedding-2`` in the environment, or ``model = "..."`` in
``omnivec.toml`` (or ``[tool.omnivec]`` in ``pyproject.toml``). Sections per provider hold their
settings: ``[local]``, ``[bedrock]``, ``[gemini]``, or ``OMNIVEC_BEDROCK__REGION=...``. The sections
come from the provider registry's rows, so this module names no adapter; third-party providers'
settings live under ``[plugins.<name>]``.

Precedence, highest first: arguments, environment, ``omnivec.toml``, ``pyproject.toml``, defaults.
This is the only module that reads the environment; SDK credential chains stay inside the SDKs.
"""

from __future__ import annotations

import difflib
import functools
import json
import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, overload

from pydantic import ValidationError, create_model, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    PyprojectTomlConfigSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from ._validation import describe_validation_error, options_from_configuration, refuse_lax_coercions
from .base import EmbeddingProvider
from .errors import InvalidOptionError
from .pool import EndpointPool, PoolConfig
from .registry import builtin_providers, get_provider, parse_model_ref
from .settings import ProviderSettings

__all__ = ["DEFAULT_MODEL", "OmnivecConfig", "load_config", "load_provider"]

DEFAULT_MODEL = "local:sentence-transformers/all-MiniLM-L6-v2"
_OTHER_ENV = {"BLOCK_REMOTE_CALLS"}  # read elsewhere (the test guard), not config fields


class OmnivecConfig(BaseSettings):
    """Everything omnivec reads from the environment and config files.

    :func:`load_config` returns a subclass with one typed section per built-in provider (``local``,
    ``bedrock``, ``gemini``...), read from the registry; :meth:`section` reaches them by name.
    """

    model_config = SettingsConfigDict(
        env_prefix="OMNIVEC_",
        env_nested_delimiter="__",
        extra="forbid",
        toml_file="omnivec.toml",
        pyproject_toml_table_header=("tool", "omnivec"),
    )

    model: str = DEFAULT_MODEL
    """``provider:model`` — the one line that switches provider."""
    plugins: dict[str, dict[str, Any]] = {}
    """Settings of third-party providers, by provider name."""
    reranker: str | None = None
    """``provider:model`` of the reranker (``OMNIVEC_RERANKER``); None when none is configured. See docs/rerankers.md."""
    rerankers: dict[str, dict[str, Any]] = {}
    """Reranker settings by provider (``[rerankers.bedrock]``), checked by that reranker's settings class."""
    pool: PoolConfig = PoolConfig()
    """Endpoints of the configured model that serve one vector space together (``[pool]``, docs/configuration.md)."""
    store: Annotated[dict[str, Any], NoDecode] = {}
    """Vector store: ``OMNIVEC_STORE=postgresql://...`` or ``[store] url = ...`` (default ``lancedb://./.omnivec``).
    Kept as the raw table: the stores layer validates it (``omnivec.providers.stores.config``), so the
    config layer knows nothing of stores."""

    @field_validator("store", mode="before")
    @classmethod
    def _store_url(cls, value: Any) -> Any:
        # One line switches stores too: a bare URL is the store's url field.
        return {"url": value} if isinstance(value, str) else value

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
            _BareStoreUrl(env_settings),
            _TomlFile(settings_cls),
            _PyprojectFile(settings_cls),
        )

    def section(self, name: str) -> ProviderSettings:
        """A built-in provider's settings section by section name (``"local"``, ``"bedrock"``...)."""
        value = getattr(self, name, None)
        if not isinstance(value, ProviderSettings):
            raise InvalidOptionError(f"no settings section {name!r}: known {', '.join(_sections())}")
        return value

    def settings_for(self, provider: str) -> dict[str, Any]:
        """The settings that apply to ``provider`` (a registry name), as provider options."""
        info = builtin_providers().get(provider)
        if info is None or info.settings is None:
            return dict(self.plugins.get(provider, {}))
        return {"settings": getattr(self, info.config_section)}


class _BareStoreUrl(PydanticBaseSettingsSource):
    """The environment, where ``OMNIVEC_STORE=url`` sets the store's url and still merges with
    ``OMNIVEC_STORE__*`` fields and the ``[store]`` table below it (pydantic-settings alone would let
    the bare string replace the whole section)."""

    def __init__(self, env: PydanticBaseSettingsSource) -> None:
        super().__init__(env.settings_cls)
        self._env = env

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover - unused
        return self._env.get_field_value(field, field_name)

    def __call__(self) -> dict[str, Any]:
        values = self._env()
        if isinstance(values.get("store"), str):
            nested = {
                key.removeprefix("OMNIVEC_STORE__").lower(): value
                for key, value in os.environ.items()
                if key.upper().startswith("OMNIVEC_STORE__")
            }
            values["store"] = {**nested, "url": values["store"]}
        return values


def _read_toml(path: Any) -> dict[str, Any]:
    """A TOML file as a dict; a file that is not UTF-8 TOML is one line naming it.

    A UTF-8 byte-order mark is accepted: Windows editors (Notepad, PowerShell's Out-File) write one,
    and it carries no meaning. tomllib itself refuses it.
    """
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidOptionError(
            f"config file {str(path)!r} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}): "
            "save it as UTF-8 TOML"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidOptionError(f"config file {str(path)!r} is not valid TOML: {exc}") from None


class _TomlFile(TomlConfigSettingsSource):
    def _read_file(self, file_path: Any) -> dict[str, Any]:
        return _read_toml(file_path)


class _PyprojectFile(PyprojectTomlConfigSettingsSource):
    def _read_file(self, file_path: Any) -> dict[str, Any]:
        return _read_toml(file_path)


def _sections() -> dict[str, type[ProviderSettings]]:
    return {info.config_section: info.settings for info in builtin_providers().values() if info.settings}


@functools.cache
def config_class() -> type[OmnivecConfig]:
    """OmnivecConfig with one typed section per built-in provider that declares settings."""
    fields: dict[str, Any] = {name: (cls, cls()) for name, cls in _sections().items()}
    return create_model("OmnivecConfig", __base__=OmnivecConfig, __doc__=OmnivecConfig.__doc__, **fields)


def load_config(toml_file: str | Path | None = None, **overrides: Any) -> OmnivecConfig:
    """Read the configuration; ``toml_file`` replaces ``./omnivec.toml``. Bad names fail loudly."""
    _refuse_unknown_env()
    base = config_class()
    try:
        if toml_file is None:
            return base(**overrides)
        if not isinstance(toml_file, (str, os.PathLike)):
            raise InvalidOptionError(f"load_config(toml_file=...) takes a path, got {type(toml_file).__name__}")
        path = Path(toml_file)
        if not path.is_file():
            problem = "is not a file" if path.exists() else "does not exist"
            raise InvalidOptionError(f"config file {str(path)!r} {problem}")

        class _FromFile(base):  # type: ignore[valid-type,misc]
            model_config = SettingsConfigDict(toml_file=path)

        return _FromFile(**overrides)
    except SettingsError as exc:  # the environment checks above catch the known causes first
        raise InvalidOptionError(f"cannot read the omnivec configuration: {' '.join(str(exc).split())}") from None
    except ValidationError as exc:
        # from None: the pydantic error would show the values, secrets (a misspelt api_key) included.
        raise InvalidOptionError(describe_validation_error(exc, "omnivec configuration")) from None


def _refuse_unknown_env() -> None:
    """pydantic-settings ignores unknown top-level variables; a typo there must not pass silently."""
    fields = {name.upper() for name in config_class().model_fields}
    for key in os.environ:
        if not key.startswith("OMNIVEC_"):
            continue
        name = key.removeprefix("OMNIVEC_").split("__", 1)[0]
        if name not in fields and name not in _OTHER_ENV:
            close = difflib.get_close_matches(name, sorted(fields), n=1)
            hint = f" Did you mean OMNIVEC_{close[0]}?" if close else ""
            raise InvalidOptionError(f"unknown setting {key} in the environment.{hint}")
        if key.upper() == f"OMNIVEC_{name}" and name.lower() in _json_fields():
            _refuse_bad_json(key, os.environ[key])


def _json_fields() -> set[str]:
    """Fields whose whole value, set in one variable, is read as JSON (sections, plugins)."""
    return {*_sections(), "plugins", "rerankers", "pool"}


def _refuse_bad_json(key: str, value: str) -> None:
    # pydantic-settings would raise a multi-line SettingsError; the value itself is never shown
    # (a section holds api_key).
    try:
        json.loads(value)
    except ValueError as exc:
        where = f"line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else "it"
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise InvalidOptionError(
            f"{key} is not valid JSON ({reason} at {where}): set a JSON object, "
            f"or one field per variable as {key}__<FIELD>=value"
        ) from None


@overload
def load_provider(model: str | None = None, /, **overrides: Any) -> EmbeddingProvider[Any]: ...
@overload
def load_provider(
    config: OmnivecConfig, /, *, model: str | None = None, **overrides: Any
) -> EmbeddingProvider[Any]: ...
def load_provider(
    config: OmnivecConfig | str | None = None, /, *, model: str | None = None, **overrides: Any
) -> EmbeddingProvider[Any]:
    """The provider the configuration names (``OMNIVEC_MODEL`` unless a model reference is given).

    ``load_provider("gemini:gemini-embedding-2")`` picks the model and still applies its configured
    section; ``load_provider(config, model=...)`` uses a config you loaded. ``overrides`` replace
    fields of that provider's configured settings, e.g. ``dimensions=256``.
    """
    if isinstance(config, str):
        if model is not None:
            raise InvalidOptionError("load_provider got a model reference twice: positionally and as model=")
        config, model = None, config
    if config is not None and not isinstance(config, OmnivecConfig):  # was an AttributeError on .model
        raise InvalidOptionError(
            f"load_provider takes a model reference or an OmnivecConfig, got {type(config).__name__} {config!r}"
        )
    config = config or load_config()
    ref = config.model if model is None else model
    members = config.pool.member_options()
    if not members:
        return _load_one(config, ref, overrides)
    pool = config.pool
    built = [_load_one(config, m.pop("model", ref), {**overrides, **m}) for m in members]
    return EndpointPool(built, out_s=pool.out_s, max_out_s=pool.max_out_s, max_concurrency=pool.max_concurrency)


def _load_one(config: OmnivecConfig, ref: str, overrides: dict[str, Any]) -> EmbeddingProvider[Any]:
    client = overrides.pop("client", None)  # a caller-owned SDK client: an argument, never a setting
    passed = {} if client is None else {"client": client}
    section = config.settings_for(parse_model_ref(ref).provider)
    settings = section.get("settings")
    if settings is not None:
        if overrides:
            merged = {**settings.model_dump(exclude_unset=True), **overrides}
            settings = _validated(type(settings), merged)
            refuse_lax_coercions(settings, overrides, where=ref)
        return get_provider(ref, settings=settings, **passed)
    configured = options_from_configuration.set(frozenset(section) - frozenset(overrides))
    try:  # a plugin's section values may be strings from the environment; the caller's overrides may not
        return get_provider(ref, **{**section, **overrides}, **passed)
    finally:
        options_from_configuration.reset(configured)


def _validated(cls: type[ProviderSettings], values: dict[str, Any]) -> ProviderSettings:
    """Build settings again so a bad override fails loudly, as one line that shows no value."""
    try:
        return cls(**values)
    except ValidationError as exc:
        raise InvalidOptionError(describe_validation_error(exc, cls.__name__, cls)) from None
