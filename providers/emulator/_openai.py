"""OpenAI ``POST /v1/embeddings``, validated like the API (and answering like TEI/vLLM for ``org/name`` models)."""

from __future__ import annotations

import base64
import json
import math
from typing import Any

import numpy as np

from ._vectors import text_vector

MODELS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}
NO_DIMENSIONS = {"text-embedding-ada-002"}
COMPATIBLE_DIMENSIONS = 384
"""Native size of any ``org/name`` model id, served the way a local TEI / vLLM server would (Matryoshka allowed)."""
MAX_INPUTS = 2048
MAX_INPUT_TOKENS = 8192
MAX_REQUEST_TOKENS = 300_000
FIELDS = {"model", "input", "dimensions", "encoding_format", "user"}
_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "invalid_request_error",
    404: "invalid_request_error",
    429: "requests",
}
Answer = tuple[int, dict[str, str], Any]


def error(status: int, code: str | None, message: str, param: str | None = None) -> Answer:
    """OpenAI's error shape; injected 429s carry ``retry-after-ms`` as the API's rate limiter does."""
    if status == 429 and code is None:
        code = "rate_limit_exceeded"
    body = {"message": message, "type": _TYPES.get(status, "server_error"), "param": param, "code": code}
    headers = {"retry-after-ms": "50", "x-request-id": "emulated"} if status == 429 else {"x-request-id": "emulated"}
    return status, headers, {"error": body}


def _invalid(message: str, param: str | None = "input", code: str | None = None) -> Answer:
    return error(400, code, message, param)


def tokens(text: str) -> int:
    """About what tiktoken gives on English: one token per 4 UTF-8 bytes."""
    return max(1, math.ceil(len(text.encode()) / 4))


def model_of(body: bytes) -> str:
    try:
        return str(json.loads(body).get("model", ""))
    except (ValueError, AttributeError):
        return ""


def _inputs(raw: Any) -> list[str] | str:
    """The texts of ``input`` (token-id arrays become their ids as words), or the problem."""
    if isinstance(raw, str) or (isinstance(raw, list) and raw and all(isinstance(x, int) for x in raw)):
        raw = [raw]  # one string, or one token array
    if not isinstance(raw, list) or not raw:
        return "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference."
    if len(raw) > MAX_INPUTS:
        return f"'$.input' is too long: at most {MAX_INPUTS} inputs per request, got {len(raw)}"
    texts = []
    for item in raw:
        if isinstance(item, list) and item and all(isinstance(x, int) for x in item):
            texts.append(" ".join(map(str, item)))
        elif isinstance(item, str) and item:
            texts.append(item)
        else:  # empty strings included: the API refuses them
            return (
                "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference."
            )
    return texts


def _encoded(vector: list[float], encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")
    return vector


def embed(headers: dict[str, str], body: bytes, *, require_auth: bool) -> Answer:
    lowered = {k.lower(): v for k, v in headers.items()}
    if require_auth and not lowered.get("authorization", "").startswith("Bearer "):
        return error(
            401,
            None,
            "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth.",
            None,
        )
    try:
        request = json.loads(body)
    except ValueError:
        return _invalid("We could not parse the JSON body of your request.", None)
    if not isinstance(request, dict):
        return _invalid("The request body must be a JSON object.", None)
    extra = sorted(set(request) - FIELDS)
    if extra:
        return _invalid(f"Unrecognized request argument supplied: {extra[0]}", None)
    model = request.get("model")
    if not isinstance(model, str) or not model:
        return _invalid("you must provide a model parameter", "model")
    native = MODELS.get(model, COMPATIBLE_DIMENSIONS if "/" in model else 0)
    if not native:
        return error(404, "model_not_found", f"The model `{model}` does not exist or you do not have access to it.")
    encoding = request.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        return _invalid(f"'{encoding}' is not one of ['float', 'base64'] - 'encoding_format'", "encoding_format")
    dims = request.get("dimensions", native)
    if "dimensions" in request and model in NO_DIMENSIONS:
        return _invalid("This model does not support specifying dimensions.", "dimensions")
    if isinstance(dims, bool) or not isinstance(dims, int) or not 1 <= dims <= native:
        return _invalid(f"Invalid value for 'dimensions' = {dims}. Must be between 1 and {native}.", "dimensions")
    texts = _inputs(request.get("input"))
    if isinstance(texts, str):
        return _invalid(texts)
    counts = [tokens(t) for t in texts]
    if max(counts) > MAX_INPUT_TOKENS:
        return _invalid(
            f"This model's maximum context length is {MAX_INPUT_TOKENS} tokens, however you requested "
            f"{max(counts)} tokens. Please reduce your prompt.",
            code="context_length_exceeded",
        )
    if sum(counts) > MAX_REQUEST_TOKENS:
        return _invalid(
            f"Requested {sum(counts)} tokens, max {MAX_REQUEST_TOKENS} tokens per request",
            code="max_tokens_per_request",
        )
    data = [
        {"object": "embedding", "index": i, "embedding": _encoded(text_vector(text, dims), encoding)}
        for i, text in enumerate(texts)
    ]
    usage = {"prompt_tokens": sum(counts), "total_tokens": sum(counts)}
    answer = {"object": "list", "data": data, "model": model, "usage": usage}
    return 200, {"x-omnivec-items": str(len(data)), "x-request-id": "emulated"}, answer
