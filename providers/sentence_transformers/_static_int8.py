"""Static int8 for the OpenVINO backend: nncf's post-training quantization, calibrated on the user's texts.

Dynamic int8 (``onnx-int8``) measures each activation's range at run time; static int8 measures the
ranges once, on a calibration sample, and bakes them into the graph, so every matrix product runs in
int8 with no per-call scaling. nncf quantizes the OpenVINO model directly (no Optimum, which would pin
an older transformers): SmoothQuant and fast bias correction for a transformer, the recipe measured in
../shared/reference/ecosystem-scale.md (3.41x torch docs/s, SciFact nDCG@10 0.6498 vs 0.6451 on an
AVX512 CPU). The ranges come from the sample, so the vectors depend on it: its digest and the
precision are in the fingerprint, and a different sample is another vector space with its own export.
Offline: the sample is a file of the user's own texts, never a hub data set.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidOptionError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = ["MIN_CALIBRATION_TEXTS", "Calibration", "quantize_static"]

MIN_CALIBRATION_TEXTS = 50
"""Fewer texts than this give activation ranges that the next batch of real text overflows."""


class Calibration:
    """The calibration sample: texts read from a file (one per non-blank line) and their digest."""

    def __init__(self, texts: Sequence[str], *, source: str) -> None:
        self.texts, self.source = list(texts), source
        if len(self.texts) < MIN_CALIBRATION_TEXTS:
            raise InvalidOptionError(
                f"calibration_file {source!r} holds {len(self.texts)} text(s); backend='openvino-int8' needs at least "
                f"{MIN_CALIBRATION_TEXTS} (one per line, a sample of your own corpus; 300 is plenty)"
            )
        joined = "\n".join(self.texts).encode()
        self.digest = hashlib.sha256(joined).hexdigest()[:16]

    @classmethod
    def from_file(cls, path: str | None) -> Calibration:
        if path is None:
            raise InvalidOptionError(
                "backend='openvino-int8' needs calibration_file: a UTF-8 file with one text per line, "
                f"a sample of your own corpus (at least {MIN_CALIBRATION_TEXTS})"
            )
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            raise InvalidOptionError(
                f"calibration_file {path!r} cannot be read ({reason}): give a UTF-8 text file"
            ) from None
        return cls([line.strip() for line in lines if line.strip()], source=path)

    def space_options(self) -> dict[str, Any]:
        return {"calibration": f"sha256:{self.digest} ({len(self.texts)} texts)"}


def quantize_static(st: SentenceTransformer, source: Path, target: Path, texts: Sequence[str]) -> None:
    """Quantize the OpenVINO model at ``source`` with ranges measured on ``texts``; save it at ``target``."""
    import nncf  # type: ignore[import-untyped]
    import openvino  # type: ignore[import-untyped]

    transformer: Any = st[0]
    tokenizer, longest = transformer.tokenizer, transformer.max_seq_length
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in tokenizer.model_input_names]

    def feed(text: str) -> dict[str, np.ndarray]:
        # One text per sample, unpadded, cut where the model cuts: the ranges of real inputs.
        encoded = tokenizer([text], truncation=True, max_length=longest, return_tensors="np")
        return {n: encoded[n].astype(np.int64) for n in names}

    model = openvino.Core().read_model(str(source))
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):  # nncf's progress bars
        quantized = nncf.quantize(
            model,
            nncf.Dataset(list(texts), feed),
            model_type=nncf.ModelType.TRANSFORMER,  # SmoothQuant; attention's softmax inputs stay in float
            subset_size=len(texts),
        )
    openvino.save_model(quantized, str(target), compress_to_fp16=False)
