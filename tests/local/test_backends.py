"""ONNX Runtime / OpenVINO backends for local models: exported offline, cached, close to torch.

One export per backend for the whole module (into a temporary cache folder), reused by every test.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from omnivec.providers.errors import ConfigurationError
from omnivec.providers.sentence_transformers import SentenceTransformersSettings
from omnivec.providers.sentence_transformers._backends import (
    backend_space_options,
    check_backend,
    ensure_export,
    export_folder,
    load_sentence_transformer,
)
from omnivec.providers.sentence_transformers.provider import _resolve_path

pytest.importorskip("onnxruntime", reason='needs pip install "omnivec[local-fast]"')
pytest.importorskip("openvino", reason='needs pip install "omnivec[local-fast]"')

TEXTS = [
    "Aspirin lowers the risk of a first heart attack in some adults.",
    "0-dimensional biomaterials show inductive properties.",
    "The mitochondria of neurons are transported along microtubules by kinesin motors.",
    "short",
    " ".join(["Vitamin D deficiency is associated with bone fractures in elderly women."] * 30),  # truncated at 256
]
MINILM = _resolve_path("sentence-transformers/all-MiniLM-L6-v2")
WEIGHTS = "test-weights"


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("backends-cache")


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    model = load_sentence_transformer(MINILM, backend="torch", device="cpu")
    return model.encode(TEXTS, convert_to_numpy=True)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def loaded(cache: Path) -> dict[str, Any]:
    return {
        b: load_sentence_transformer(MINILM, backend=b, weights=WEIGHTS, cache_folder=str(cache))
        for b in ("onnx", "onnx-int8", "openvino")
    }


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)  # type: ignore[no-any-return]


@pytest.mark.parametrize("backend", ["onnx", "openvino"])
def test_fp32_backends_give_torch_vectors(backend: str, loaded: dict[str, Any], reference: np.ndarray) -> None:
    vectors = loaded[backend].encode(TEXTS, convert_to_numpy=True)
    assert vectors.shape == reference.shape
    assert _cosines(vectors, reference).min() > 0.999
    assert loaded[backend][0].backend == backend


def test_int8_is_close_to_torch_but_really_quantized(loaded: dict[str, Any], reference: np.ndarray) -> None:
    cosines = _cosines(loaded["onnx-int8"].encode(TEXTS, convert_to_numpy=True), reference)
    assert cosines.min() > 0.95
    assert cosines.max() < 0.99999  # identical vectors would mean the fp32 graph was loaded


@pytest.mark.parametrize("backend", ["onnx", "onnx-int8", "openvino"])
def test_a_texts_vector_does_not_depend_on_its_batch(backend: str, loaded: dict[str, Any]) -> None:
    # Dynamic int8 scales activations per input tensor: run as one batch, "?" beside a long text
    # came out at cosine 0.96 to "?" alone. Every backend must give a text the same vector anywhere.
    model = loaded[backend]
    alone = model.encode(["?"], convert_to_numpy=True)[0]
    beside = model.encode(["?", TEXTS[4], TEXTS[0]], convert_to_numpy=True, batch_size=3)[0]
    assert _cosines(alone[None], beside[None])[0] > 0.9999


def test_int8_takes_the_masked_tokens_so_left_padding_works_too(loaded: dict[str, Any]) -> None:
    # One unpadded row per run used to keep the first sum(mask) tokens, i.e. assume right padding:
    # a left-padding tokenizer fed pads and dropped the text's tail.
    model = loaded["onnx-int8"]
    tokenizer = model[0].tokenizer
    right = model.encode(TEXTS, convert_to_numpy=True, batch_size=len(TEXTS))
    tokenizer.padding_side = "left"
    try:
        assert tokenizer(["?", TEXTS[0]], padding=True)["attention_mask"][0][0] == 0  # really left-padded
        left = model.encode(TEXTS, convert_to_numpy=True, batch_size=len(TEXTS))
    finally:
        tokenizer.padding_side = "right"
    np.testing.assert_allclose(left, right, atol=1e-5)  # the same unpadded run for each text


def test_pooling_prompts_and_truncation_still_apply(loaded: dict[str, Any], reference: np.ndarray) -> None:
    model = loaded["onnx"]
    short = model.encode(TEXTS, convert_to_numpy=True, truncate_dim=64)
    assert short.shape == (len(TEXTS), 64)
    assert _cosines(short, reference[:, :64]).min() > 0.999
    assert np.allclose(np.linalg.norm(model.encode(TEXTS), axis=1), 1, atol=1e-4)  # Normalize module kept


def test_exports_are_cached_and_not_redone(cache: Path, loaded: dict[str, Any]) -> None:
    folder = export_folder(MINILM, WEIGHTS, str(cache))
    files = {b: ensure_export(loaded["onnx"], b, folder) for b in ("onnx", "onnx-int8", "openvino")}
    assert all(not exported for _, exported in files.values())
    stamps = {f: f.stat().st_mtime_ns for f, _ in files.values()}
    again = load_sentence_transformer(MINILM, backend="openvino", weights=WEIGHTS, cache_folder=str(cache))
    assert {f: f.stat().st_mtime_ns for f in stamps} == stamps
    assert again.encode(["cached"]).shape == (1, 384)
    assert sorted(p.name for p in folder.iterdir()) == ["export.json", "onnx", "openvino"]  # no staging left
    made = json.loads((folder / "export.json").read_text())  # folder names are hashes: this says what is inside
    assert set(made) == {"plain", "onnx", "onnx-int8", "openvino"}
    assert all(entry["model"] == MINILM for entry in made.values())
    assert made["onnx-int8"]["libraries"]["onnxruntime"] and made["openvino"]["libraries"]["openvino"]


def test_onnx_backends_run_the_fused_graph_and_openvino_the_plain_one(cache: Path, loaded: dict[str, Any]) -> None:
    import onnx

    folder = export_folder(MINILM, WEIGHTS, str(cache))
    ops = {
        b: {node.op_type for node in onnx.load(str(ensure_export(loaded["onnx"], b, folder)[0])).graph.node}
        for b in ("plain", "onnx", "onnx-int8")
    }
    # The plain export must trace eager attention (Softmax between MatMuls), or nothing fuses.
    assert "Softmax" in ops["plain"] and "Attention" not in ops["plain"]
    assert {"Attention", "SkipLayerNormalization"} <= ops["onnx"]
    assert "Softmax" not in ops["onnx"]
    assert {"QAttention", "MatMulInteger"} <= ops["onnx-int8"]  # int8 is quantized from the fused graph


def test_an_export_quiets_the_exporters_but_not_the_application(caplog: pytest.LogCaptureFixture) -> None:
    # The export used to set the root logger to ERROR: a server's own warnings, from any thread,
    # vanished while a first request exported the model.
    from omnivec.providers.sentence_transformers._backends import _quiet

    with caplog.at_level(logging.INFO), _quiet():
        logging.getLogger("myapp").warning("the application still speaks")
        logging.getLogger("onnxruntime.transformers.optimizer").warning("fusion chatter")
    assert "the application still speaks" in caplog.text
    assert "fusion chatter" not in caplog.text


def test_a_cache_folder_that_cannot_hold_exports_is_named_with_the_fix(tmp_path: Path) -> None:
    # It used to surface as ModelNotFoundError "cannot load <the model folder>": the wrong culprit.
    from omnivec.providers.sentence_transformers import SentenceTransformersProvider

    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    provider = SentenceTransformersProvider(backend="onnx", cache_folder=str(afile))
    with pytest.raises(
        ConfigurationError,
        match=r"cannot write the backend's exported model under .*afile.*set cache_folder= to a writable folder",
    ):
        provider.embed_sync(["x"], intent="document")


def test_export_folder_follows_weights_and_stays_out_of_the_model(cache: Path) -> None:
    one = export_folder(MINILM, "a", str(cache))
    assert one != export_folder(MINILM, "b", str(cache))
    assert one == export_folder(MINILM, "a", str(cache))
    assert not str(one).startswith(os.path.abspath(MINILM))  # the model folder's fingerprint must not move


def test_int8_has_its_own_vector_space_fp32_shares_torchs() -> None:
    assert backend_space_options("onnx-int8") != backend_space_options("torch")
    assert backend_space_options("onnx") == backend_space_options("torch") == {}


def test_provider_fingerprint_tells_int8_apart(cache: Path) -> None:
    if "backend" not in SentenceTransformersSettings.model_fields:
        pytest.skip("the provider's backend= setting is not wired yet")
    from omnivec.providers.sentence_transformers import SentenceTransformersProvider

    torch_fp = SentenceTransformersProvider(cache_folder=str(cache)).fingerprint("document")
    int8 = SentenceTransformersProvider(backend="onnx-int8", cache_folder=str(cache))
    onnx_fp = SentenceTransformersProvider(backend="onnx", cache_folder=str(cache)).fingerprint("document")
    assert int8.fingerprint("document") != torch_fp
    assert onnx_fp == torch_fp
    vectors = np.asarray(int8.embed_sync(TEXTS[:2], intent="document").vectors)
    assert vectors.shape == (2, 384)


@pytest.mark.parametrize(
    ("backend", "device", "message"),
    [("tensorrt", None, "not one of"), ("onnx", "cuda", "CPU only"), ("openvino", "mps", "CPU only")],
)
def test_bad_backend_settings_fail_before_loading(backend: str, device: str | None, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        check_backend(backend, device=device)


@pytest.mark.parametrize("device", [None, "cpu", "cpu:0"])
def test_every_spelling_of_the_cpu_is_accepted(device: str | None) -> None:
    check_backend("onnx", device=device)  # "cpu:0" used to be refused as "not the CPU"


def test_image_models_are_refused_with_the_fix(tiny_clip_path: Path, cache: Path) -> None:
    with pytest.raises(ConfigurationError, match="backend='torch'"):
        load_sentence_transformer(str(tiny_clip_path), backend="onnx", cache_folder=str(cache))


@pytest.mark.parametrize("backend", ["onnx", "onnx-int8", "openvino"])
def test_an_image_model_on_another_backend_is_refused_when_the_provider_is_built(
    backend: str, tiny_clip_path: Path, tmp_path: Path
) -> None:
    # It used to build fine and fail only at the first embed, far from the setting that caused it.
    from omnivec.providers import get_provider

    with pytest.raises(ConfigurationError, match=rf"backend={backend!r} .*image.*use backend='torch'"):
        get_provider(f"local:{tiny_clip_path}", backend=backend, cache_folder=str(tmp_path))
    assert not (tmp_path / "omnivec-backends").exists()  # refused before any export was tried


def test_an_export_removes_staging_folders_left_by_a_killed_export(
    cache: Path, loaded: dict[str, Any], tmp_path: Path
) -> None:
    # A kill -9 mid-export left its .export-* folder (with a half-written model) there forever.
    folder = tmp_path / "exports"
    (folder / "onnx").mkdir(parents=True)
    shutil.copyfile(export_folder(MINILM, WEIGHTS, str(cache)) / "onnx" / "model.onnx", folder / "onnx" / "model.onnx")
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(ended.stdout)
    two_hours_ago = time.time() - 2 * 3600

    def staging(name: str, *, old: bool) -> Path:
        made = folder / name
        made.mkdir()
        (made / "model.onnx").write_bytes(b"half written")
        if old:
            for path in (made / "model.onnx", made):
                os.utime(path, (two_hours_ago, two_hours_ago))
        return made

    killed = staging(f".export-{dead}-k9x_2ab", old=True)
    unnamed = staging(".export-k3j_x9ab", old=True)  # the name the old code gave: no PID in it
    running_long = staging(f".export-{os.getpid()}-q1w2e3r4", old=True)  # a live process: left alone
    just_begun = staging(".export-z8y7x6w5", old=False)  # maybe another machine's export in progress
    _, exported = ensure_export(loaded["onnx"], "openvino", folder)
    assert exported
    assert not killed.exists() and not unnamed.exists()
    assert running_long.is_dir() and just_begun.is_dir()
    assert (folder / "openvino" / "openvino_model.xml").is_file()


def test_static_int8_is_quantized_close_to_torch_and_named_by_its_sample(
    cache: Path, reference: np.ndarray, loaded: dict[str, Any]
) -> None:
    pytest.importorskip("nncf", reason='needs pip install "omnivec[local-fast]"')
    from omnivec.providers.sentence_transformers._static_int8 import Calibration

    corpus = [f"{t} ({i})" for i, t in enumerate(TEXTS[:3] * 17)]  # 51 texts: the least allowed is 50
    calibration = Calibration(corpus, source="test")
    model = load_sentence_transformer(
        MINILM, backend="openvino-int8", weights=WEIGHTS, cache_folder=str(cache), calibration=calibration
    )
    vectors = model.encode(TEXTS, convert_to_numpy=True)
    cosines = _cosines(vectors, reference)
    # Close to torch on texts like the sample's; a one-word text, unlike anything in this 3-text sample,
    # moved to 0.89 when measured: the ranges are the sample's, hence "calibrate on your own corpus".
    assert cosines[:3].min() > 0.98  # close to torch...
    fp32 = loaded["openvino"].encode(TEXTS, convert_to_numpy=True)
    assert _cosines(vectors, fp32).min() < 0.99999  # ...but really int8, not the f32 graph
    files = list(
        (export_folder(MINILM, WEIGHTS, str(cache)) / "openvino").glob(f"*int8_static_{calibration.digest}.xml")
    )
    assert len(files) == 1
