"""Settings of the local Sentence Transformers provider (no torch import here)."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field

from ..inputs import Modality
from ..registry import ProviderInfo
from ..settings import ProviderSettings

__all__ = ["PROVIDER", "SentenceTransformersSettings"]


class SentenceTransformersSettings(ProviderSettings):
    """Options of ``local:`` / ``sentence-transformers:`` models."""

    dimensions: int | None = Field(None, ge=1, validation_alias=AliasChoices("dimensions", "truncate_dim"))
    """Matryoshka truncation (``truncate_dim``); None keeps the model's full size."""
    device: str | None = None
    """``cpu``, ``cuda``, ``cuda:1``, ``mps``...; None lets Sentence Transformers choose."""
    batch_size: int = Field(32, ge=1)
    """Inputs per forward pass (``encode(batch_size=...)``)."""
    query_prompt: str | None = None
    """Text put before queries; None uses the model's own ``query`` prompt, if it has one."""
    document_prompt: str | None = None
    """Text put before documents; None uses the model's own ``document`` prompt, if it has one."""
    modalities: frozenset[Modality] | None = Field(None, min_length=1)
    """Override what the model takes; None detects CLIP-style text+image models from their files."""
    trust_remote_code: bool = False
    cache_folder: str | None = None
    backend: Literal["torch", "onnx", "onnx-int8", "openvino", "openvino-int8"] = "torch"
    """Inference engine for text models. ``onnx`` / ``openvino``: the same weights exported once
    (cached under ``cache_folder``, else ~/.cache/omnivec) and run on ONNX Runtime / OpenVINO,
    CPU only, vectors equal to torch's to float rounding (same fingerprint, same cache).
    ``onnx-int8``: dynamic int8 quantization of the fused ONNX graph, the fastest on the CPUs we
    measured (1.6x torch, -0.0005 nDCG@10 on SciFact), vectors slightly moved (own fingerprint).
    ``openvino-int8``: static int8 (nncf post-training quantization of the OpenVINO model) calibrated on
    ``calibration_file``; its digest and the precision are in the fingerprint.
    Needs ``pip install "omnivec[local-fast]"``; measured speeds in docs/local-backends.md."""
    calibration_file: str | None = None
    """For ``backend="openvino-int8"`` only: a UTF-8 file with one text per line, a sample of your own
    corpus (at least 50; 300 is plenty). Read offline; its digest names the export and the vector space."""


PROVIDER = ProviderInfo(
    name="sentence-transformers",
    target=".sentence_transformers.provider:SentenceTransformersProvider",
    default_model="sentence-transformers/all-MiniLM-L6-v2",
    extra="local",
    requires=("sentence_transformers",),
    models=("sentence-transformers/all-MiniLM-L6-v2", "any Sentence Transformers name or local path"),
    settings=SentenceTransformersSettings,
    section="local",
    distributions=("sentence-transformers", "transformers", "torch"),
    contract_options={"dimensions": 128, "normalize": True},
)
