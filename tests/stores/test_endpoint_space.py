"""The endpoint a vendor is reached through is not part of a collection's vector space: the same
Nova endpoint as ``localhost`` instead of ``127.0.0.1`` (or through a proxy or VPC endpoint) serves
the collection; emulated vectors still never mix with real ones; collections whose stored
fingerprint carries a URL (made before this rule) keep working."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from omnivec.providers import get_provider
from omnivec.providers.cache import content_key
from omnivec.providers.emulator import Emulator, emulator_environment
from omnivec.providers.emulator.server import Faults
from omnivec.providers.stores import SourceItem, VectorSpaceMismatchError, VectorStore, index_items, search
from omnivec.providers.testing import allow_remote_calls

NOVA = "bedrock:amazon.nova-2-multimodal-embeddings-v1:0"
TEXTS = ["returns within 30 days", "free shipping over 50 euros", "the opera starts at eight"]


@pytest.fixture
def real_looking_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """The emulator, reached as an ordinary URL (not marked as the emulator): a 'real' endpoint."""
    with Emulator(Faults()) as emu, allow_remote_calls():
        for name, value in emulator_environment(emu.url).items():
            if value is None or name == "EMULATED_BY_OMNIVEC" or name.startswith("AWS_ENDPOINT"):
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        yield int(emu.url.rsplit(":", 1)[1])


def _items() -> list[SourceItem]:
    return [SourceItem(f"d{i}", content_key(t), t) for i, t in enumerate(TEXTS)]


def test_the_same_endpoint_by_another_name_serves_the_collection(
    store: VectorStore, real_looking_endpoint: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = real_looking_endpoint
    nova = get_provider(NOVA, dimensions=256, endpoint_url=f"http://127.0.0.1:{port}")
    index_items(store, "faq", _items(), provider=nova)
    assert store.versions("faq")[0].fingerprint["options"]["endpoint"] is None  # no URL in the space
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", f"http://localhost:{port}")
    assert search(store, "faq", "can I send it back?", k=1)[0].id == "d0"  # provider from the fingerprint
    other_name = get_provider(NOVA, dimensions=256, endpoint_url=f"http://localhost:{port}")
    assert index_items(store, "faq", _items(), provider=other_name).unchanged == 3


def test_a_collection_stored_with_a_url_keeps_working(store: VectorStore, real_looking_endpoint: int) -> None:
    port = real_looking_endpoint
    nova = get_provider(NOVA, dimensions=256, endpoint_url=f"http://127.0.0.1:{port}")
    old = nova.fingerprint("document").as_dict()  # what older releases stored: the URL inside
    assert old["options"]["endpoint"] == f"http://127.0.0.1:{port}"
    store.create_version("faq", 1, {**old, "options": dict(old["options"])})
    store.set_state("faq", 1, "live")
    store.set_alias("faq", 1, None)
    via_proxy = get_provider(NOVA, dimensions=256, endpoint_url=f"http://localhost:{port}")
    assert index_items(store, "faq", _items(), provider=via_proxy).embedded == 3
    assert search(store, "faq", "opera tonight", k=1, provider=via_proxy)[0].id == "d2"


def test_emulated_and_real_vectors_stay_apart(
    store: VectorStore, real_looking_endpoint: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    nova = get_provider(NOVA, dimensions=256, endpoint_url=f"http://127.0.0.1:{real_looking_endpoint}")
    real = nova.fingerprint("document").space().to_stored()
    store.create_version("faq", 1, {**real, "options": {**real["options"], "endpoint": "emulator"}})
    store.set_alias("faq", 1, None)
    with pytest.raises(VectorSpaceMismatchError, match=r"differ in options\.endpoint. Leave the model out"):
        index_items(store, "faq", _items(), provider=nova)
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", f"http://127.0.0.1:{real_looking_endpoint}")
    with pytest.raises(VectorSpaceMismatchError) as caught:  # no model named: the hint is not "leave it out"
        search(store, "faq", "opera", k=1)
    message = str(caught.value)
    assert "no model was given" in message and "options.endpoint" in message and "migrate" not in message
