"""Faster CPU inference for local text models: ONNX Runtime and OpenVINO behind a SentenceTransformer.

Sentence Transformers' own ``backend="onnx"`` / ``"openvino"`` go through Optimum, and every Optimum
release pins an older transformers (optimum-onnx: < 4.58, optimum-intel: < 5.6) than the local
extra runs (sentence-transformers 6 on transformers 5.x): installing them would downgrade
transformers for everything else. The same result takes three smaller pieces that pin nothing:
torch's own ONNX exporter (run once per model, cached on disk), onnxruntime's transformer optimizer
and dynamic int8 quantizer, and OpenVINO, which compiles the plain ONNX file. The SentenceTransformer stays the
real one -- tokenizer, prompts, pooling, normalization and ``truncate_dim`` are untouched -- and only
the transformer's forward pass is swapped for the compiled graph, so every caller of ``encode`` gets
the speed-up with no other change.

The graph is exported with eager attention so that onnxruntime's BERT optimizer can fuse each layer's
attention, layer norms and GELU into single kernels (``Attention``, ``SkipLayerNormalization``, ...):
the ``onnx`` and ``onnx-int8`` backends run that fused graph (MiniLM on 2 AVX2 cores: fp32 1.1-1.2x
torch's docs/s with the same vectors, int8 1.6-1.7x; unfused they were 0.95x and 1.26x). The fused
file is checked against the plain one on a sample and dropped for it if they disagree. OpenVINO
cannot read onnxruntime's fused operators, so it compiles the plain export.

The exported files keep Sentence Transformers' layout (``onnx/model.onnx``,
``openvino/openvino_model.xml``) so a folder can also be read by ST's Optimum-based backends.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np

from ..errors import ConfigurationError, MissingDependencyError
from ._runtime import compiled_encoder, runner
from ._static_int8 import Calibration, quantize_static

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = [
    "BACKENDS",
    "Backend",
    "backend_space_options",
    "check_backend",
    "ensure_export",
    "export_folder",
    "load_sentence_transformer",
]

Backend = Literal["torch", "onnx", "onnx-int8", "openvino", "openvino-int8"]
BACKENDS: tuple[str, ...] = get_args(Backend)

EXPORT_VERSION = 2
"""Bump when an export recipe changes: old cached files are then ignored, not reused.
2: eager-attention export, fused by onnxruntime's optimizer for ``onnx`` and ``onnx-int8``."""

_FILES: dict[str, str] = {
    "plain": "onnx/model.onnx",  # torch's export as is: OpenVINO's source, and the fusion's
    "onnx": "onnx/model_fused.onnx",
    "onnx-int8": "onnx/model_fused_quint8_per_channel.onnx",
    "openvino": "openvino/openvino_model.xml",
    "openvino-int8": "openvino/openvino_model_int8_static_{calibration}.xml",  # one per calibration sample
}
_NEEDS: dict[str, tuple[str, ...]] = {
    "onnx": ("onnxruntime", "onnx"),
    "onnx-int8": ("onnxruntime", "onnx"),
    "openvino": ("openvino", "onnx"),  # the plain export only: no onnxruntime needed
    "openvino-int8": ("openvino", "onnx", "nncf"),
}
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_SOURCE = {
    "onnx": "plain",
    "onnx-int8": "onnx",
    "openvino": "plain",
    "openvino-int8": "openvino",
}  # what each file is made from
_export_lock = threading.RLock()  # re-entrant: a file's source is exported first


def check_backend(backend: str, *, device: str | None = None, provider: str | None = None) -> None:
    """Fail fast, before any model is read: unknown name, CPU-only backend on a GPU, missing package."""
    if backend not in BACKENDS:
        raise ConfigurationError(
            f"backend={backend!r} is not one of {', '.join(BACKENDS)}; use backend='torch' (the default)",
            provider=provider,
        )
    if backend == "torch":
        return
    if device is not None and device.split(":")[0] != "cpu":
        raise ConfigurationError(
            f"backend={backend!r} runs on the CPU only, but device={device!r}; leave device unset or use backend='torch'",
            provider=provider,
        )
    missing = [name for name in _NEEDS[backend] if importlib.util.find_spec(name) is None]
    if missing:
        raise MissingDependencyError(
            f'backend={backend!r} needs {" and ".join(missing)}: pip install "omnivec[local-fast]"',
            provider=provider,
        )


@lru_cache(maxsize=1)
def _openvino_precision() -> str:
    """The CPU's default inference precision in OpenVINO: bf16 on AVX512_BF16/AMX CPUs, else f32."""
    import openvino  # type: ignore[import-untyped]

    return str(openvino.Core().get_property("CPU", "INFERENCE_PRECISION_HINT").to_string())  # "f32", "bf16"


def backend_space_options(backend: str, calibration: Calibration | None = None) -> dict[str, Any]:
    """What to add to the fingerprint's options for ``backend``.

    fp32 ONNX and OpenVINO-f32 give the torch vectors to float rounding (cosine >= 0.99999 measured),
    so they share torch's vector space and its cache. int8 moves vectors (cosine ~0.99, some
    neighbours change), and OpenVINO on a bf16-capable CPU computes in bf16: both are other spaces.
    """
    if backend == "onnx-int8":
        return {"backend": "onnx-int8", "quantization": "dynamic-quint8-per-channel-fused"}
    if backend == "openvino-int8" and calibration is not None:  # int8 matmuls; the rest at the CPU's precision
        precision = f"int8-static+{_openvino_precision()}"
        return {
            "backend": backend,
            "quantization": "nncf-static",
            "precision": precision,
            **calibration.space_options(),
        }
    if backend == "openvino":
        precision = _openvino_precision()
        if precision != "f32":
            return {"backend": "openvino", "precision": precision}
    return {}


def _default_cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "omnivec" / "st-backends"


def export_folder(model: str, weights: str | None, cache_folder: str | None = None) -> Path:
    """Where ``model``'s exports live: one folder per model, weights signature and recipe version.

    Never inside the model folder: the provider fingerprints that folder's files, and an export
    appearing there would change the fingerprint of the torch vectors too.
    """
    root = Path(cache_folder) / "omnivec-backends" if cache_folder else _default_cache_root()
    source = os.path.abspath(model) if os.path.isdir(model) else model
    key = hashlib.sha256(f"{source}\n{weights}\n{EXPORT_VERSION}".encode()).hexdigest()[:16]
    slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(source).name or "model")[-48:]
    return root / f"{slug}-{key}"


class _FromExporters(logging.Filter):
    """Drops records the exporting libraries log straight to the root logger (onnxruntime's quantizer
    calls ``logging.warning``); everyone else's pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not any(part in record.pathname for part in _EXPORTERS_PATHS)


_log = logging.getLogger(__name__)
_EXPORTERS = ("onnxruntime", "onnx", "torch.onnx", "openvino", "nncf")
_EXPORTERS_PATHS = tuple(f"{os.sep}{name.replace('.', os.sep)}{os.sep}" for name in _EXPORTERS)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Exporters warn about tracing and nag about pre-processing; none of it is actionable here.
    Only their loggers are quieted: the application's own warnings, from other threads too, still show."""
    loggers = [logging.getLogger(name) for name in _EXPORTERS]
    levels = [logger.level for logger in loggers]
    root_filter = _FromExporters()
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    logging.getLogger().addFilter(root_filter)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.getLogger().removeFilter(root_filter)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _model_name(st: SentenceTransformer) -> str:
    transformer: Any = st[0]
    return str(getattr(transformer.model.config, "_name_or_path", "") or "the model")


def _sample(st: SentenceTransformer) -> dict[str, np.ndarray]:
    """Two short padded inputs: the export's example and the fusion check's feed."""
    transformer: Any = st[0]
    names = [n for n in _INPUTS if n in transformer.tokenizer.model_input_names]
    texts = ["omnivec export", "a second, somewhat longer sample to pad the first one against"]
    encoded = transformer.tokenizer(texts, padding=True, return_tensors="np")
    return {n: encoded[n].astype(np.int64) for n in names}


def _export_onnx(st: SentenceTransformer, target: Path) -> None:
    import torch

    transformer: Any = st[0]
    hf_model = transformer.model
    sample = _sample(st)
    names = list(sample)

    class _Graph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = hf_model

        def forward(self, *args: torch.Tensor) -> torch.Tensor:
            output = self.inner(**dict(zip(names, args, strict=True)), return_dict=True)
            return output.last_hidden_state  # type: ignore[no-any-return]

    axes = {n: {0: "batch", 1: "sequence"} for n in [*names, "last_hidden_state"]}
    target.parent.mkdir(parents=True, exist_ok=True)
    attention = getattr(hf_model.config, "_attn_implementation", None)
    with _quiet(), torch.no_grad():
        # Eager attention traces to the MatMul/Softmax pattern onnxruntime's optimizer fuses; SDPA's does not.
        if attention and hasattr(hf_model, "set_attn_implementation"):
            hf_model.set_attn_implementation("eager")
        try:
            # The TorchScript exporter: the dynamo one needs onnxscript and gains nothing for BERT-class models.
            torch.onnx.export(
                _Graph().eval(),
                tuple(torch.from_numpy(sample[n]) for n in names),
                str(target),
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,
            )
        finally:
            if attention and hasattr(hf_model, "set_attn_implementation"):
                hf_model.set_attn_implementation(attention)


def _fuse(st: SentenceTransformer, source: Path, target: Path) -> None:
    """onnxruntime's BERT optimizer over the plain export; the plain graph is kept if the fused one
    answers the sample differently (an architecture whose pattern the optimizer misreads)."""
    import onnxruntime  # type: ignore[import-untyped]
    from onnxruntime.transformers.optimizer import optimize_model  # type: ignore[import-untyped]

    transformer: Any = st[0]
    config = transformer.model.config
    with _quiet():
        fused = optimize_model(
            str(source),
            model_type="bert",
            num_heads=getattr(config, "num_attention_heads", 0) or 0,
            hidden_size=getattr(config, "hidden_size", 0) or 0,
        )
        fused.save_model_to_file(str(target))
    sample = _sample(st)
    plain, merged = (
        onnxruntime.InferenceSession(str(f), providers=["CPUExecutionProvider"]).run(None, sample)[0]
        for f in (source, target)
    )
    if plain.shape != merged.shape or not np.allclose(plain, merged, rtol=1e-3, atol=1e-4):
        logging.getLogger(__name__).warning("onnxruntime's fusion changed %s's outputs; using the plain graph", source)
        shutil.copyfile(source, target)


def _quantize_int8(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic  # type: ignore[import-untyped]

    # uint8 weights, one scale per output channel, MatMuls and fused Attention only (embedding tables stay
    # fp32). Measured on MiniLM (64 SciFact docs, cosine vs torch): per-tensor int8 0.94 mean / 0.90 min
    # (AVX2 without VNNI saturates u8*s8), per-tensor uint8 0.975 / 0.958, this recipe 0.994 / 0.991.
    with _quiet():
        quantize_dynamic(
            str(source),
            str(target),
            weight_type=QuantType.QUInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul", "Attention"],
            extra_options={"DefaultTensorType": 1},  # FLOAT, for outputs of fused ops shape inference cannot type
        )


def _convert_openvino(source: Path, target: Path) -> None:
    import openvino  # type: ignore[import-untyped]

    with _quiet():
        graph = openvino.convert_model(str(source))
        openvino.save_model(graph, str(target), compress_to_fp16=False)  # keep fp32 weights: same vectors


def ensure_export(
    st: SentenceTransformer, backend: str, folder: Path, calibration: Calibration | None = None
) -> tuple[Path, bool]:
    """The backend's model file in ``folder``, exported first if missing; returns ``(file, exported)``.

    ``backend`` may also be ``"plain"`` (torch's export, the others' source). Exports are built in a
    temporary folder beside the final one and renamed into place, so two processes exporting at once
    never see a half-written file (the loser's copy is dropped).
    """
    target = folder / _FILES[backend].format(calibration=calibration.digest if calibration else "")
    if target.is_file():
        return target, False
    with _export_lock:
        if target.is_file():
            return target, False
        source = ensure_export(st, _SOURCE[backend], folder)[0] if backend in _SOURCE else None
        _remove_stale_staging(folder)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            # The PID in the name lets a later export tell a killed one's leftovers from a live one's.
            staging = Path(tempfile.mkdtemp(prefix=f".export-{os.getpid()}-", dir=folder))
        except OSError as exc:  # not an OSError any more: the provider would blame the model folder
            raise ConfigurationError(
                f"cannot write the backend's exported model under {folder} ({exc.strerror or exc}); "
                "set cache_folder= to a writable folder",
            ) from exc
        _log.info("exporting %s for backend=%r, once, into %s", _model_name(st), backend, folder)
        began = time.perf_counter()
        try:
            made = staging / ("model.xml" if backend.startswith("openvino") else "model.onnx")
            if source is None:
                _export_onnx(st, made)
            elif backend == "onnx":
                _fuse(st, source, made)
            elif backend == "onnx-int8":
                _quantize_int8(source, made)
            elif backend == "openvino-int8":
                assert calibration is not None  # the provider refuses the backend without a sample
                with _quiet():
                    quantize_static(st, source, made, calibration.texts)
            else:
                _convert_openvino(source, made)
            target.parent.mkdir(parents=True, exist_ok=True)
            for produced in sorted(staging.iterdir()):
                os.replace(produced, target.with_suffix(produced.suffix))  # .bin first, then .onnx/.xml
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        _record(folder, backend, time.perf_counter() - began, model=_model_name(st), file=target)
        return target, True


STALE_STAGING_S = 3600.0
"""How long a staging folder must sit untouched before an export may remove it."""


def _remove_stale_staging(folder: Path) -> None:
    """Removes the ``.export-*`` folders that exports killed outright (kill -9, power loss) left in
    ``folder``; a Ctrl-C or an error removes its own. A folder goes only once nothing in it changed for
    an hour and the process its name carries, if any, is not running here: a younger one may be
    another process's export in progress, on this machine or another sharing the cache folder."""
    now = time.time()
    for entry in folder.glob(".export-*"):
        try:
            if entry.is_symlink() or not entry.is_dir():
                continue
            newest = max([entry.stat().st_mtime, *(f.lstat().st_mtime for f in entry.iterdir())])
        except OSError:  # removed meanwhile by another process
            continue
        pid = entry.name.removeprefix(".export-").split("-")[0]
        if now - newest < STALE_STAGING_S or (pid.isdigit() and _running(int(pid))):
            continue
        _log.info("removing %s, left by an export that was killed", entry)
        shutil.rmtree(entry, ignore_errors=True)


def _running(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine; False where that cannot be asked (not POSIX),
    which leaves the hour untouched to decide."""
    if os.name != "posix":
        return False  # os.kill(pid, 0) would terminate the process on Windows
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, under another user
        return True
    return True


def _record(folder: Path, backend: str, seconds: float, *, model: str, file: Path) -> None:
    """An export.json beside the files: what made them (model, recipe, library versions), for people
    looking at a cache folder whose names are hashes."""
    from importlib.metadata import PackageNotFoundError, version

    path = folder / "export.json"
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        info = {}
    libraries = {}
    for name in ("torch", "transformers", "sentence-transformers", "onnx", "onnxruntime", "openvino", "nncf"):
        with contextlib.suppress(PackageNotFoundError):
            libraries[name] = version(name)
    info[backend] = {
        "model": model,
        "file": str(file.relative_to(folder)),
        "seconds": round(seconds, 1),
        "recipe": EXPORT_VERSION,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "libraries": libraries,
    }
    with contextlib.suppress(OSError):
        path.write_text(json.dumps(info, indent=2))


def load_sentence_transformer(
    path: str,
    *,
    backend: str = "torch",
    weights: str | None = None,
    device: str | None = None,
    cache_folder: str | None = None,
    trust_remote_code: bool = False,
    threads: int | None = None,
    calibration: Calibration | None = None,
) -> SentenceTransformer:
    """A SentenceTransformer for ``path`` whose transformer runs on ``backend``.

    ``weights`` is the provider's signature of the model folder (a new one re-exports);
    ``cache_folder`` is the provider's setting of that name; ``threads`` caps the runtime's
    threads (None: one per core).
    """
    check_backend(backend, device=device)
    if backend == "openvino-int8" and calibration is None:
        calibration = Calibration.from_file(None)  # refuses: static int8 needs the user's sample
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(
        path,
        device="cpu" if backend != "torch" else device,
        cache_folder=cache_folder,
        trust_remote_code=trust_remote_code,
    )
    if backend == "torch":
        return st
    transformer: Any = st[0]
    params = getattr(transformer, "modality_config", {}).get("text", {})
    if (
        type(transformer).__name__ != "Transformer"
        or set(transformer.modality_config) != {"text"}
        or params.get("method") != "forward"
    ):
        raise ConfigurationError(
            f"backend={backend!r} supports text-only Transformer models, not {path!r}; use backend='torch'",
            model=path,
        )
    file, _ = ensure_export(st, backend, export_folder(path, weights, cache_folder), calibration)
    names = [n for n in _INPUTS if n in transformer.tokenizer.model_input_names]
    transformer.model = compiled_encoder(runner(backend, file, threads), names, transformer.model.config)
    transformer.backend = backend  # what ST reports; the torch weights are freed with the old model
    return st
