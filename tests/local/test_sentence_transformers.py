"""The local adapter on the real all-MiniLM-L6-v2 (offline) and a tiny random CLIP."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from omnivec.providers import Image, InvalidOptionError, UnsupportedInputError, get_provider, load_provider
from omnivec.providers.sentence_transformers import SentenceTransformersProvider

DOCS = [
    "The Eiffel Tower is a wrought-iron lattice tower in Paris.",
    "Photosynthesis converts light energy into chemical energy in plants.",
    "The stock market fell sharply on Monday after the rate decision.",
]


def test_default_local_model_embeds_offline(isolated_cwd) -> None:  # type: ignore[no-untyped-def]
    provider = load_provider()
    assert isinstance(provider, SentenceTransformersProvider)
    assert provider.model == "sentence-transformers/all-MiniLM-L6-v2"
    assert provider.dimensions == 384


def test_documents_match_sentence_transformers_directly(minilm, raw_minilm) -> None:  # type: ignore[no-untyped-def]
    ours = minilm.embed_sync(DOCS, intent="document").vectors
    theirs = raw_minilm.encode_document(DOCS, convert_to_numpy=True)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_retrieval_signal_is_real(minilm) -> None:  # type: ignore[no-untyped-def]
    docs = minilm.embed_sync(DOCS, intent="document").vectors
    query = minilm.embed_sync(["Which plants turn sunlight into energy?"], intent="query").vectors[0]
    assert int(np.argmax(docs @ query)) == 1


def test_query_and_document_paths_use_their_prompts() -> None:
    plain = SentenceTransformersProvider()
    prompted = SentenceTransformersProvider(query_prompt="query: ", document_prompt="passage: ")
    text = ["how tall is the eiffel tower"]
    q_plain = plain.embed_sync(text, intent="query").vectors
    q_prompted = prompted.embed_sync(text, intent="query").vectors
    d_prompted = prompted.embed_sync(text, intent="document").vectors
    assert not np.allclose(q_plain, q_prompted, atol=1e-4)
    assert not np.allclose(q_prompted, d_prompted, atol=1e-4)
    assert "query: " in prompted.fingerprint("query").intent_mapping
    assert prompted.fingerprint("query").hash != plain.fingerprint("query").hash


def test_vectors_are_normalized(minilm) -> None:  # type: ignore[no-untyped-def]
    vectors = minilm.embed_sync(DOCS, intent="document").vectors
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert minilm.fingerprint("document").normalized


def test_truncate_dim_is_matryoshka_and_renormalizable(minilm) -> None:  # type: ignore[no-untyped-def]
    full = minilm.embed_sync(DOCS, intent="document").vectors
    short = get_provider("local", truncate_dim=128)
    cut = short.embed_sync(DOCS, intent="document").vectors
    assert cut.shape == (3, 128)
    np.testing.assert_allclose(cut, full[:, :128], atol=1e-5)
    assert not short.fingerprint("document").normalized  # a cut unit vector is shorter than 1
    unit = get_provider("local", truncate_dim=128, normalize=True).embed_sync(DOCS, intent="document").vectors
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, atol=1e-5)


def test_truncate_dim_larger_than_the_model_is_refused() -> None:
    with pytest.raises(InvalidOptionError, match="1–384"):
        get_provider("local", truncate_dim=512)


def test_text_only_model_refuses_images(minilm) -> None:  # type: ignore[no-untyped-def]
    image = Image.from_pil(PILImage.new("RGB", (8, 8)))
    with pytest.raises(UnsupportedInputError, match="image"):
        minilm.embed_sync([image], intent="document")


def test_long_inputs_across_chunks_keep_order(minilm, raw_minilm) -> None:  # type: ignore[no-untyped-def]
    small = SentenceTransformersProvider(batch_size=2)  # chunks of 64 inputs
    items = [f"sentence {i} " + "word " * (i % 13) for i in range(150)]
    ours = small.embed_sync(items, intent="document").vectors
    theirs = raw_minilm.encode_document(items, convert_to_numpy=True, batch_size=2)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def _png(color: str) -> bytes:
    buf = io.BytesIO()
    PILImage.new("RGB", (40, 30), color).save(buf, format="PNG")
    return buf.getvalue()


def test_clip_models_embed_text_and_images_in_one_space(tiny_clip_path: Path, tmp_path: Path) -> None:
    provider = get_provider(f"local:{tiny_clip_path}")
    caps = provider.capabilities
    assert caps.modalities == {"text", "image"} and provider.dimensions == 32
    (tmp_path / "red.png").write_bytes(_png("red"))
    red = Image.from_path(tmp_path / "red.png")
    items = ["a red square", red, Image.from_bytes(_png("blue")), "a blue square"]
    result = provider.embed_sync(items, intent="document")
    assert result.vectors.shape == (4, 32) and not np.isnan(result.vectors).any()
    assert result.usage.images == 2

    from sentence_transformers import SentenceTransformer

    raw = SentenceTransformer(str(tiny_clip_path), device="cpu")
    np.testing.assert_allclose(result.vectors[1], raw.encode([red.to_pil().convert("RGB")])[0], atol=1e-5)
    np.testing.assert_allclose(result.vectors[0], raw.encode(["a red square"])[0], atol=1e-5)


def test_clip_text_naming_an_image_file_stays_text(tiny_clip_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "cat.png"
    path.write_bytes(_png("green"))
    provider = get_provider(f"local:{tiny_clip_path}")
    as_text = provider.embed_sync([str(path)], intent="document").vectors[0]
    as_image = provider.embed_sync([Image.from_path(path)], intent="document").vectors[0]
    assert not np.allclose(as_text, as_image, atol=1e-4)


def test_only_the_env_line_switches_between_local_and_fake(isolated_cwd, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def app() -> tuple[str, int]:  # application code: never names a provider
        provider = load_provider()
        return provider.name, provider.embed_documents_sync(["same code"]).dimensions

    assert app() == ("sentence-transformers", 384)
    monkeypatch.setenv("OMNIVEC_MODEL", "fake")
    assert app() == ("fake", 64)
    monkeypatch.setenv("OMNIVEC_MODEL", "local")
    assert app() == ("sentence-transformers", 384)


def test_weights_replaced_in_place_give_a_new_fingerprint(tiny_clip_path: Path, tmp_path: Path) -> None:
    # A benchmark cache keyed on the fingerprint must never serve vectors of the old weights.
    import shutil

    import torch
    from transformers import CLIPModel

    folder = tmp_path / "clip"
    shutil.copytree(tiny_clip_path, folder)
    old = get_provider(f"local:{folder}").embed_sync(["a red square"], intent="document")
    model = CLIPModel.from_pretrained(folder)
    with torch.no_grad():  # "fine-tuned" in place: same files, same sizes, new values
        for parameter in model.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    model.save_pretrained(folder)
    new = get_provider(f"local:{folder}").embed_sync(["a red square"], intent="document")
    assert not np.allclose(new.vectors, old.vectors, atol=1e-4)
    assert new.fingerprint.hash != old.fingerprint.hash
    assert new.fingerprint.options["weights"] != old.fingerprint.options["weights"]


def test_texts_longer_than_the_model_reads_are_reported_as_truncated(minilm, raw_minilm) -> None:  # type: ignore[no-untyped-def]
    # MiniLM reads 256 tokens; a 1 MB text embedded as its first ~200 words, silently.
    limit = raw_minilm.max_seq_length
    fits, over = "word " * (limit - 2), "word " * (limit - 1)  # one token each, plus [CLS] and [SEP]
    huge = "the quick brown fox " * 50_000
    result = minilm.embed_sync(["short", huge, fits, over, "日本 " * 200], intent="document")  # one token a character
    assert result.truncated == [1, 3, 4]
    (warning,) = result.warnings
    assert warning.startswith("3 input(s) longer than sentence-transformers:") and "indices 1, 3, 4" in warning
    assert minilm.embed_sync(["short", fits], intent="query").truncated == []
    # The vector is that of the text's start, as Sentence Transformers computes it.
    assert np.allclose(result.vectors[1], raw_minilm.encode([huge], normalize_embeddings=True)[0], atol=1e-5)
