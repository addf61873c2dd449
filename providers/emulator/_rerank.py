"""Rerank wires, validated like the services: Bedrock Agent Runtime ``POST /rerank``, Cohere-style ``/v2/rerank``
and Vertex AI Ranking ``rankingConfigs:rank``.

Scores are the cosine of hashed word features of query and document (deterministic, with real
signal; NOT any real model's scores), so a test can check each score landed at its index.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

from . import _bedrock, _gemini
from ._vectors import text_vector

__all__ = ["BEDROCK_PATH", "COHERE_PATHS", "VERTEX_PATH", "bedrock_rerank", "cohere_rerank", "error", "vertex_rank"]

BEDROCK_PATH = "/rerank"
COHERE_PATHS = ("/v2/rerank", "/v1/rerank")
BEDROCK_MODELS = {"amazon.rerank-v1:0", "cohere.rerank-v3-5:0"}
MAX_SOURCES = 1000
MAX_TEXT = 32_000
MAX_DOCUMENTS = 1000
MAX_RECORDS = 200
VERTEX_PATH = re.compile(r"^/v1(?:alpha|beta)?/projects/[^/]+/locations/[^/]+/rankingConfigs/[^/:]+:rank$")
_VERTEX_FIELDS = {"model", "topN", "query", "records", "ignoreRecordDetailsInResponse", "userLabels"}
_ARN = re.compile(r"^arn:aws(-[^:]+)?:bedrock:(?P<region>[a-z0-9-]{1,20})::foundation-model/(?P<model>.+)$")
_REQUEST = {"queries", "sources", "rerankingConfiguration", "nextToken"}
_COHERE_FIELDS = {"model", "query", "documents", "top_n", "max_tokens_per_doc", "return_documents", "rank_fields"}
Answer = tuple[int, dict[str, str], Any]


def _score(query: str, text: str) -> float:
    return round(float(np.dot(text_vector(query, 64), text_vector(text, 64))), 6)


def _bedrock_invalid(message: str) -> Answer:
    return _bedrock.error(400, "ValidationException", message)


def _text(node: Any, where: str) -> str | Answer:
    if not isinstance(node, dict) or set(node) - {"text"} or not isinstance(node.get("text"), str):
        return _bedrock_invalid(f"{where} must be an object with one string field 'text'")
    text: str = node["text"]
    if not 1 <= len(text) <= MAX_TEXT:
        return _bedrock_invalid(f"{where}.text must have length between 1 and {MAX_TEXT}")
    return text


def _sources(sources: Any) -> list[str] | Answer:
    if not isinstance(sources, list) or not 1 <= len(sources) <= MAX_SOURCES:
        return _bedrock_invalid(f"sources must hold 1 to {MAX_SOURCES} items")
    texts = []
    for i, source in enumerate(sources):
        inline = source.get("inlineDocumentSource") if isinstance(source, dict) else None
        if (
            not isinstance(source, dict)
            or set(source) != {"type", "inlineDocumentSource"}
            or source["type"] != "INLINE"
        ):
            return _bedrock_invalid(f"sources[{i}] must be {{type: INLINE, inlineDocumentSource}}")
        if not isinstance(inline, dict) or inline.get("type") != "TEXT" or set(inline) != {"type", "textDocument"}:
            return _bedrock_invalid(f"sources[{i}].inlineDocumentSource must be {{type: TEXT, textDocument}}")
        text = _text(inline["textDocument"], f"sources[{i}].inlineDocumentSource.textDocument")
        if not isinstance(text, str):
            return text
        texts.append(text)
    return texts


def bedrock_rerank(headers: dict[str, str], body: bytes, *, require_auth: bool) -> Answer:
    """``bedrock-agent-runtime`` ``Rerank`` (service-2.json 2023-07-26), inline TEXT sources only."""
    if require_auth and not any(k.lower() == "authorization" for k in headers):
        return _bedrock.error(403, "AccessDeniedException", "Missing Authentication Token")
    try:
        request = json.loads(body)
    except ValueError:
        return _bedrock_invalid("the request body is not JSON")
    if not isinstance(request, dict) or set(request) - _REQUEST:
        return _bedrock_invalid(
            f"unexpected fields: {sorted(set(request) - _REQUEST) if isinstance(request, dict) else request}"
        )
    queries = request.get("queries")
    if not isinstance(queries, list) or len(queries) != 1:
        return _bedrock_invalid("queries must hold exactly 1 item")
    query_node = queries[0]
    if not isinstance(query_node, dict) or set(query_node) != {"type", "textQuery"} or query_node["type"] != "TEXT":
        return _bedrock_invalid("queries[0] must be {type: TEXT, textQuery}")
    query = _text(query_node["textQuery"], "queries[0].textQuery")
    if not isinstance(query, str):
        return query
    texts = _sources(request.get("sources"))
    if not isinstance(texts, list):
        return texts
    config = request.get("rerankingConfiguration")
    if (
        not isinstance(config, dict)
        or config.get("type") != "BEDROCK_RERANKING_MODEL"
        or set(config)
        != {
            "type",
            "bedrockRerankingConfiguration",
        }
    ):
        return _bedrock_invalid(
            "rerankingConfiguration must be {type: BEDROCK_RERANKING_MODEL, bedrockRerankingConfiguration}"
        )
    bedrock = config["bedrockRerankingConfiguration"]
    if not isinstance(bedrock, dict) or set(bedrock) - {"numberOfResults", "modelConfiguration"}:
        return _bedrock_invalid("bedrockRerankingConfiguration takes numberOfResults and modelConfiguration only")
    model_config = bedrock.get("modelConfiguration")
    if not isinstance(model_config, dict) or set(model_config) - {"modelArn", "additionalModelRequestFields"}:
        return _bedrock_invalid("modelConfiguration must be {modelArn, additionalModelRequestFields?}")
    arn = _ARN.match(str(model_config.get("modelArn", "")))
    if arn is None:
        return _bedrock_invalid(
            "modelArn must be a foundation-model ARN: arn:aws:bedrock:<region>::foundation-model/<id>"
        )
    if arn["model"] not in BEDROCK_MODELS:
        return _bedrock.error(404, "ResourceNotFoundException", f"model {arn['model']} is not a reranking model here")
    count = bedrock.get("numberOfResults", len(texts))
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_SOURCES:
        return _bedrock_invalid(f"numberOfResults must be between 1 and {MAX_SOURCES}")
    ranked = sorted(((i, _score(query, t)) for i, t in enumerate(texts)), key=lambda r: -r[1])[:count]
    results = [{"index": i, "relevanceScore": s} for i, s in ranked]
    return 200, {"x-omnivec-items": str(len(results))}, {"results": results}


def error(status: int, code: str | None, message: str) -> Answer:
    """Cohere's error shape: the status and ``{"message": ...}``; 429 carries ``Retry-After``."""
    headers = {"Retry-After": "0.05"} if status == 429 else {}
    return status, headers, {"message": message}


def cohere_rerank(headers: dict[str, str], body: bytes, *, require_auth: bool) -> Answer:
    """``POST /v2/rerank`` as Cohere documents it (and vLLM / Infinity / Jina follow)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if require_auth and not lowered.get("authorization", "").startswith("Bearer "):
        return error(401, None, "no api key supplied")
    try:
        request = json.loads(body)
    except ValueError:
        return error(400, None, "invalid request: the body is not JSON")
    if not isinstance(request, dict):
        return error(400, None, "invalid request: the body must be a JSON object")
    extra = sorted(set(request) - _COHERE_FIELDS)
    if extra:
        return error(400, None, f"invalid request: unknown field: parameter {extra[0]} is not a valid field")
    model, query, documents = request.get("model"), request.get("query"), request.get("documents")
    if not isinstance(model, str) or not model:
        return error(400, None, "invalid request: model must be a non-empty string")
    if not isinstance(query, str) or not query.strip():
        return error(400, None, "invalid request: query must be a non-empty string")
    if not isinstance(documents, list) or not documents or not all(isinstance(d, str) and d for d in documents):
        return error(400, None, "invalid request: documents must be a non-empty list of non-empty strings")
    if len(documents) > MAX_DOCUMENTS:
        return error(400, None, f"invalid request: at most {MAX_DOCUMENTS} documents per request, got {len(documents)}")
    top_n = request.get("top_n", len(documents))
    if isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1:
        return error(400, None, "invalid request: top_n must be a positive integer")
    ranked = sorted(((i, _score(query, d)) for i, d in enumerate(documents)), key=lambda r: -r[1])[:top_n]
    answer = {
        "id": "emulated",
        "results": [{"index": i, "relevance_score": s} for i, s in ranked],
        "meta": {"api_version": {"version": "2"}, "billed_units": {"search_units": 1 + (len(documents) - 1) // 100}},
    }
    return 200, {"x-omnivec-items": str(len(ranked))}, answer


def vertex_rank(headers: dict[str, str], body: bytes, *, require_auth: bool) -> Answer:
    """Discovery Engine ``rankingConfigs:rank`` (REST v1), answered best first with proto3 JSON (a 0 score is omitted)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if require_auth and not lowered.get("authorization", "").startswith("Bearer "):
        return _gemini.error(401, "UNAUTHENTICATED", "Request is missing required authentication credential.")
    try:
        request = json.loads(body)
    except ValueError:
        return _gemini.error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
    if not isinstance(request, dict):
        return _gemini.error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
    extra = sorted(set(request) - _VERTEX_FIELDS)
    if extra:
        return _gemini.error(
            400, "INVALID_ARGUMENT", f'Invalid JSON payload received. Unknown name "{extra[0]}": Cannot find field.'
        )
    query, records = request.get("query"), request.get("records")
    if not isinstance(query, str) or not query:
        return _gemini.error(400, "INVALID_ARGUMENT", "query must be set")
    if not isinstance(records, list) or not 1 <= len(records) <= MAX_RECORDS:
        return _gemini.error(400, "INVALID_ARGUMENT", f"records must hold 1 to {MAX_RECORDS} records")
    ids, texts = [], []
    for i, record in enumerate(records):
        if not isinstance(record, dict) or set(record) - {"id", "title", "content", "score"}:
            return _gemini.error(400, "INVALID_ARGUMENT", f"records[{i}] has fields a RankingRecord does not")
        if not isinstance(record.get("id"), str) or not (record.get("title") or record.get("content")):
            return _gemini.error(400, "INVALID_ARGUMENT", f"records[{i}] needs an id and a title or content")
        ids.append(record["id"])
        texts.append(f"{record.get('title', '')} {record.get('content', '')}".strip())
    if len(set(ids)) != len(ids):
        return _gemini.error(400, "INVALID_ARGUMENT", "record ids must be unique")
    top = request.get("topN", 0)
    if isinstance(top, bool) or not isinstance(top, int):
        return _gemini.error(400, "INVALID_ARGUMENT", "topN must be an integer")
    ranked = sorted(zip(ids, (_score(query, t) for t in texts), strict=True), key=lambda r: -r[1])
    ranked = ranked[:top] if top > 0 else ranked
    out = [{"id": i, **({"score": s} if s else {})} for i, s in ranked]
    return 200, {"x-omnivec-items": str(len(out))}, {"records": out}
