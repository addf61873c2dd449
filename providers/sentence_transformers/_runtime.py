"""Running an exported graph where a SentenceTransformer's Hugging Face model stood.

:func:`runner` wraps an onnxruntime session or a compiled OpenVINO model in one callable (feed in,
last hidden state out); :func:`compiled_encoder` is the ``torch.nn.Module`` that calls it, so ST's
tokenizer, pooling and normalization around it are untouched. Exports are made in ``_backends``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["compiled_encoder", "runner"]


def runner(backend: str, file: Path, threads: int | None) -> Callable[[dict[str, np.ndarray]], np.ndarray]:
    if backend.startswith("openvino"):  # f32 and static int8 alike
        import openvino  # type: ignore[import-untyped]

        config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY"}
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        compiled = openvino.Core().compile_model(str(file), "CPU", config)
        output = compiled.output(0)

        def run_openvino(feed: dict[str, np.ndarray]) -> np.ndarray:
            # A request per call: requests are not thread-safe, creating one costs microseconds.
            return np.array(compiled.create_infer_request().infer(feed)[output], copy=True)

        return run_openvino
    import onnxruntime  # type: ignore[import-untyped]

    options = onnxruntime.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(str(file), options, providers=["CPUExecutionProvider"])
    wanted = {given.name for given in session.get_inputs()}  # a fusion may drop an unused input

    def run_onnx(feed: dict[str, np.ndarray]) -> np.ndarray:
        return session.run(None, {name: value for name, value in feed.items() if name in wanted})[0]  # type: ignore[no-any-return]

    if backend != "onnx-int8":
        return run_onnx

    def run_each(feed: dict[str, np.ndarray]) -> np.ndarray:
        # Dynamic int8 scales activations over the whole input tensor, so a batch run would make a
        # text's vector depend on its neighbours and their padding (cosine 0.96 for "?" alone vs beside
        # a long text). One unpadded row per run: same vector in any batch, measured at the same speed.
        # The row is the positions whose mask is 1, wherever the tokenizer put its padding (left or right);
        # each token's output goes back to its position, so pooling over the mask reads the right ones.
        mask = feed["attention_mask"]
        kept = [np.flatnonzero(row) if row.any() else np.zeros(1, dtype=np.intp) for row in mask]
        rows = [run_onnx({name: value[i : i + 1, at] for name, value in feed.items()})[0] for i, at in enumerate(kept)]
        out = np.zeros((len(rows), mask.shape[1], rows[0].shape[-1]), dtype=rows[0].dtype)
        for i, (at, row) in enumerate(zip(kept, rows, strict=True)):
            out[i, at] = row
        return out

    return run_each


def compiled_encoder(run: Callable[[dict[str, np.ndarray]], np.ndarray], names: list[str], config: Any) -> Any:
    import torch

    class CompiledEncoder(torch.nn.Module):
        """Stands where the Hugging Face model stood inside ST's Transformer module."""

        def __init__(self) -> None:
            super().__init__()
            self.config = config  # ST reads config.output_hidden_states and sizes from it
            self.device = torch.device("cpu")

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **kwargs: Any) -> dict[str, Any]:
            given = {"input_ids": input_ids, "attention_mask": attention_mask, **kwargs}
            feed: dict[str, np.ndarray] = {}
            for name in names:
                value = given.get(name)
                feed[name] = np.zeros_like(feed["input_ids"]) if value is None else value.numpy().astype(np.int64)
            return {"last_hidden_state": torch.from_numpy(run(feed))}

    return CompiledEncoder()
