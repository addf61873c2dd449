from __future__ import annotations

import pytest

from omnivec.providers import (
    ConfigurationError,
    MissingDependencyError,
    UnknownProviderError,
    get_provider,
    parse_model_ref,
    registry,
)
from omnivec.providers.testing import FakeProvider


@pytest.mark.parametrize(
    ("ref", "provider", "model"),
    [
        ("bedrock:amazon.nova-2-multimodal-embeddings-v1:0", "bedrock", "amazon.nova-2-multimodal-embeddings-v1:0"),
        (
            "bedrock:us.amazon.nova-2-multimodal-embeddings-v1:0",
            "bedrock",
            "us.amazon.nova-2-multimodal-embeddings-v1:0",
        ),
        (
            "bedrock:arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-2-multimodal-embeddings-v1:0",
            "bedrock",
            "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-2-multimodal-embeddings-v1:0",
        ),
        ("gemini:gemini-embedding-2", "gemini", "gemini-embedding-2"),
        ("local", "sentence-transformers", None),
        ("st:all-MiniLM-L6-v2", "sentence-transformers", "all-MiniLM-L6-v2"),
        ("LOCAL:/models/my model", "sentence-transformers", "/models/my model"),
        ("  fake  ", "fake", None),
    ],
)
def test_parse_splits_on_first_colon_and_resolves_aliases(ref: str, provider: str, model: str | None) -> None:
    parsed = parse_model_ref(ref)
    assert (parsed.provider, parsed.model) == (provider, model)


@pytest.mark.parametrize("ref", ["", "   ", "bedrock:", "gemini:  "])
def test_parse_rejects_empty_parts(ref: str) -> None:
    with pytest.raises(ConfigurationError):
        parse_model_ref(ref)


def test_unknown_provider_suggests_the_closest_name() -> None:
    with pytest.raises(UnknownProviderError, match="Did you mean 'gemini'"):
        get_provider("gemni:gemini-embedding-2")


def test_unknown_provider_lists_known_names() -> None:
    with pytest.raises(UnknownProviderError) as info:
        get_provider("zzzz:model")
    for name in ("bedrock", "gemini", "local", "sentence-transformers"):
        assert name in str(info.value)


def test_bare_provider_uses_its_default_model() -> None:
    provider = get_provider("fake")
    assert isinstance(provider, FakeProvider)
    assert provider.model == "fake-embedding"


def test_options_reach_the_provider_settings() -> None:
    provider = get_provider("fake:m", default_dimensions=12)
    assert provider.dimensions == 12


def test_missing_extra_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = registry.importlib.util.find_spec
    monkeypatch.setattr(
        registry.importlib.util, "find_spec", lambda name: None if name == "boto3" else real_find_spec(name)
    )
    with pytest.raises(MissingDependencyError, match=r'pip install "omnivec\[bedrock\]"'):
        get_provider("bedrock:amazon.nova-2-multimodal-embeddings-v1:0")


def test_entry_point_providers_are_found_and_builtins_win(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib.metadata import EntryPoint

    eps = [
        EntryPoint("acme", "omnivec.providers.testing:FakeProvider", registry.ENTRY_POINT_GROUP),
        EntryPoint("gemini", "somewhere.else:Impostor", registry.ENTRY_POINT_GROUP),
    ]
    monkeypatch.setattr(registry, "entry_points", lambda group: [e for e in eps if e.group == group])
    with pytest.warns(UserWarning, match="clashes with a built-in"):
        found = registry.known_providers()
    assert found["acme"].target == "omnivec.providers.testing:FakeProvider"
    assert found["gemini"].target.startswith(".gemini")
    with pytest.warns(UserWarning, match="clashes with a built-in"):
        provider = get_provider("acme:my-model")
    assert isinstance(provider, FakeProvider) and provider.model == "my-model"
