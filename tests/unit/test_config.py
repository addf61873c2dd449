from __future__ import annotations

import textwrap

import numpy as np
import pytest

from omnivec.providers import DEFAULT_MODEL, InvalidOptionError, load_config, load_provider
from omnivec.providers.testing import FakeProvider


def app_code() -> np.ndarray:
    """Application code that never names a provider: the config decides."""
    provider = load_provider()
    return provider.embed_documents_sync(["the same application code"]).vectors


def test_default_is_the_local_model(isolated_cwd) -> None:  # type: ignore[no-untyped-def]
    assert load_config().model == DEFAULT_MODEL == "local:sentence-transformers/all-MiniLM-L6-v2"


def test_one_env_line_switches_the_provider(isolated_cwd, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OMNIVEC_MODEL", "fake:first")
    first = load_provider()
    assert isinstance(first, FakeProvider) and first.model == "first"
    monkeypatch.setenv("OMNIVEC_PLUGINS__FAKE__DEFAULT_DIMENSIONS", "16")
    assert app_code().shape == (1, 16)


def test_toml_file_then_env_precedence(isolated_cwd, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    (isolated_cwd / "pyproject.toml").write_text('[tool.omnivec]\nmodel = "fake:from-pyproject"\n')
    assert load_config().model == "fake:from-pyproject"
    (isolated_cwd / "omnivec.toml").write_text('model = "fake:from-toml"\n[plugins.fake]\ndefault_dimensions = 8\n')
    assert load_config().model == "fake:from-toml"
    assert load_provider().dimensions == 8
    monkeypatch.setenv("OMNIVEC_MODEL", "fake:from-env")
    assert load_config().model == "fake:from-env"
    assert load_config(model="fake:from-arg").model == "fake:from-arg"


def test_explicit_toml_path(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "custom.toml"
    path.write_text('model = "fake:custom"\n')
    assert load_config(path).model == "fake:custom"
    with pytest.raises(InvalidOptionError, match="does not exist"):
        load_config(tmp_path / "missing.toml")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OMNIVEC_MODLE": "fake"}, "Did you mean OMNIVEC_MODEL"),
        ({"OMNIVEC_LOCAL__DEVIC": "cpu"}, "local.devic"),
        ({"OMNIVEC_BEDROCK__TRUNCATION_MODE": "MIDDLE"}, "bedrock.truncation_mode"),
    ],
)
def test_typos_fail_loudly(isolated_cwd, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str) -> None:  # type: ignore[no-untyped-def]
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(InvalidOptionError, match=message):
        load_config()


def test_toml_typo_fails(isolated_cwd) -> None:  # type: ignore[no-untyped-def]
    (isolated_cwd / "omnivec.toml").write_text(
        textwrap.dedent("""
        model = "local"
        [local]
        batchsize = 8
    """)
    )
    with pytest.raises(InvalidOptionError, match=r"local\.batchsize"):
        load_config()


def test_secrets_never_show_in_reprs(isolated_cwd, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OMNIVEC_GEMINI__API_KEY", "AIza-very-secret")
    config = load_config()
    assert config.gemini.api_key is not None
    assert config.gemini.api_key.get_secret_value() == "AIza-very-secret"
    for text in (repr(config), str(config), repr(config.gemini), config.model_dump_json()):
        assert "very-secret" not in text


def test_the_test_fake_has_no_production_config_section(isolated_cwd) -> None:  # type: ignore[no-untyped-def]
    config = load_config()
    assert "fake" not in type(config).model_fields
    assert {"local", "bedrock", "gemini"} <= set(type(config).model_fields)
    with pytest.raises(InvalidOptionError, match="no settings section 'fake'"):
        config.section("fake")


def test_a_model_reference_can_be_given_positionally(isolated_cwd) -> None:  # type: ignore[no-untyped-def]
    (isolated_cwd / "omnivec.toml").write_text("[plugins.fake]\ndefault_dimensions = 8\n")
    provider = load_provider("fake:positional")
    assert isinstance(provider, FakeProvider) and provider.model == "positional" and provider.dimensions == 8
    with pytest.raises(InvalidOptionError, match="twice"):
        load_provider("fake:a", model="fake:b")


def test_a_toml_syntax_error_is_one_line(isolated_cwd) -> None:  # type: ignore[no-untyped-def]
    (isolated_cwd / "omnivec.toml").write_text('model = "local\n[local\n')
    with pytest.raises(InvalidOptionError, match="not valid TOML") as info:
        load_config()
    assert "\n" not in str(info.value) and info.value.__cause__ is None


def test_a_bad_override_is_one_line_and_hides_secrets(isolated_cwd) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidOptionError, match="dimensions") as info:
        load_provider("gemini:gemini-embedding-2", dimensions=-256)
    assert "\n" not in str(info.value)
    with pytest.raises(InvalidOptionError, match="api_kye") as info:
        load_provider("gemini:gemini-embedding-2", api_kye="AIza-very-secret")
    assert "very-secret" not in str(info.value) and "\n" not in str(info.value)


def test_a_boolean_is_not_a_dimension_count(isolated_cwd) -> None:  # type: ignore[no-untyped-def]
    (isolated_cwd / "omnivec.toml").write_text("[gemini]\ndimensions = true\n")
    with pytest.raises(InvalidOptionError, match="whole number"):
        load_config()
