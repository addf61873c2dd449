"""Rerank wires through the real clients against the emulator: boto3 ``bedrock-agent-runtime`` ``Rerank``
and httpx on the Cohere-style ``/v2/rerank``. What reaches the wire, scores back at their index, errors typed,
and 10,000 candidates under 20% injected faults: every score back once, in order."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import boto3
import numpy as np
import pytest

from omnivec.providers import (
    AuthenticationError,
    InvalidInputError,
    InvalidOptionError,
    InvalidRequestError,
    MissingCredentialsError,
    ModelNotFoundError,
    RateLimitError,
    ServiceUnavailableError,
)
from omnivec.providers.emulator import Emulator, Faults, emulated_clouds
from omnivec.providers.rerank import get_reranker

FAST = {"max_attempts": 3, "initial_backoff_s": 0.0, "max_backoff_s": 0.0}
QUERY = "what do cats eat"
DOCS = ["tax law in france", "cats eat fish and mice", "dogs chase cats", "fish eat plankton"]


def last_bodies(emulator: Emulator, n: int) -> list[dict[str, Any]]:
    return [json.loads(e["body"]) for e in list(emulator.requests_log)[-n:]]


def post(url: str, body: object, headers: dict[str, str]) -> tuple[int, dict[str, Any], dict[str, str]]:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status, json.loads(answer.read()), dict(answer.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), dict(exc.headers)


def corpus(n: int) -> list[str]:
    words = ["cat", "fish", "dog", "tax", "law", "mouse", "eat", "sea"]
    return [f"{words[i % 8]} {words[(i * 5) % 8]} {words[(i * 3 + 1) % 8]} doc{i}" for i in range(n)]


# --- Bedrock Rerank through boto3 ------------------------------------------------------------------------


def test_bedrock_rerank_sends_the_service_models_shape_and_reads_scores_back_by_index(
    omnivec_emulator: Emulator,
) -> None:
    reranker = get_reranker("bedrock:amazon.rerank-v1:0", retry=FAST)
    result = reranker.rerank_sync(QUERY, DOCS)
    (body,) = last_bodies(omnivec_emulator, 1)
    assert body == {
        "queries": [{"type": "TEXT", "textQuery": {"text": QUERY}}],
        "sources": [
            {"type": "INLINE", "inlineDocumentSource": {"type": "TEXT", "textDocument": {"text": t}}} for t in DOCS
        ],
        "rerankingConfiguration": {
            "type": "BEDROCK_RERANKING_MODEL",
            "bedrockRerankingConfiguration": {
                "numberOfResults": 4,
                "modelConfiguration": {"modelArn": "arn:aws:bedrock:us-east-1::foundation-model/amazon.rerank-v1:0"},
            },
        },
    }
    # The service answers best first; the result holds them in input order, order() ranks them.
    direct = boto3.client("bedrock-agent-runtime").rerank(**_request(QUERY, DOCS))["results"]
    assert [r["index"] for r in direct] == result.order()
    assert result.scores.tolist() == pytest.approx(
        [r["relevanceScore"] for r in sorted(direct, key=lambda r: r["index"])]
    )
    assert result.order()[0] == 1 and result.fingerprint.options == {"endpoint": "emulator"}
    assert result.estimated_cost_usd == pytest.approx(1.00 / 1000)  # one call of <= 100 sources: one unit


def _request(query: str, docs: list[str], model: str = "amazon.rerank-v1:0") -> dict[str, Any]:
    return {
        "queries": [{"type": "TEXT", "textQuery": {"text": query}}],
        "sources": [
            {"type": "INLINE", "inlineDocumentSource": {"type": "TEXT", "textDocument": {"text": t}}} for t in docs
        ],
        "rerankingConfiguration": {
            "type": "BEDROCK_RERANKING_MODEL",
            "bedrockRerankingConfiguration": {
                "modelConfiguration": {"modelArn": f"arn:aws:bedrock:us-east-1::foundation-model/{model}"}
            },
        },
    }


def test_bedrock_rerank_batches_to_1000_sources_a_call(omnivec_emulator: Emulator) -> None:
    before = omnivec_emulator.stats.ok
    result = get_reranker("bedrock:cohere.rerank-v3-5:0", retry=FAST).rerank_sync(QUERY, corpus(2500))
    assert sorted(t.items for t in result.timings) == [500, 1000, 1000] and len(result) == 2500
    assert omnivec_emulator.stats.ok - before == 3 and omnivec_emulator.stats.items == 2500  # results the service sent
    assert result.estimated_cost_usd == pytest.approx((10 + 10 + 5) * 2.00 / 1000)


def test_the_emulator_refuses_what_the_service_refuses(omnivec_emulator: Emulator) -> None:
    url, auth = omnivec_emulator.url + "/rerank", {"Authorization": "AWS4-HMAC-SHA256 emulated"}
    good = _request(QUERY, DOCS)
    assert post(url, good, auth)[0] == 200
    assert post(url, good, {})[0] == 403
    assert post(url, {**good, "topK": 3}, auth)[0] == 400
    two_queries = {**good, "queries": good["queries"] * 2}
    assert post(url, two_queries, auth)[0] == 400
    flat = {**good, "sources": [{"type": "INLINE", "textDocument": {"text": "x"}}]}
    assert post(url, flat, auth)[0] == 400
    assert post(url, {**good, "sources": good["sources"] * 251}, auth)[0] == 400  # 1004 > 1000
    status, _, headers = post(url, _request(QUERY, DOCS, "amazon.titan-embed-text-v2:0"), auth)
    assert status == 404 and headers["x-amzn-ErrorType"].startswith("ResourceNotFoundException")


def test_bedrock_rerank_errors_are_typed_and_throttles_retried(omnivec_emulator: Emulator) -> None:
    reranker = get_reranker("bedrock:cohere.rerank-v3-5:0", retry=FAST)
    omnivec_emulator.fail_next(429, "ThrottlingException")
    assert reranker.rerank_sync(QUERY, DOCS).retries == 1
    omnivec_emulator.fail_next(400, "ValidationException")
    with pytest.raises(InvalidRequestError):
        reranker.rerank_sync(QUERY, DOCS)
    for _ in range(3):
        omnivec_emulator.fail_next(502, "BadGatewayException")
    with pytest.raises(ServiceUnavailableError):
        reranker.rerank_sync(QUERY, DOCS)
    with pytest.raises(ModelNotFoundError):
        get_reranker("bedrock:amazon.rerank-v9:0", retry=FAST).rerank_sync(QUERY, DOCS)


def test_bedrock_refuses_a_candidate_over_32000_characters_before_any_request(omnivec_emulator: Emulator) -> None:
    before = omnivec_emulator.stats.requests
    with pytest.raises(InvalidInputError, match="candidate 1 has 32001 characters"):
        get_reranker("bedrock:cohere.rerank-v3-5:0").rerank_sync(QUERY, ["ok", "x" * 32_001])
    assert omnivec_emulator.stats.requests == before


# --- Cohere-style /v2/rerank through httpx ------------------------------------------------------------------


def test_rerank_api_sends_coheres_v2_body_with_bearer_auth(omnivec_emulator: Emulator) -> None:
    reranker = get_reranker("rerank-api:rerank-v3.5", base_url=omnivec_emulator.url, api_key="secret", retry=FAST)
    result = reranker.rerank_sync(QUERY, DOCS)
    (body,) = last_bodies(omnivec_emulator, 1)
    assert body == {"model": "rerank-v3.5", "query": QUERY, "documents": DOCS, "top_n": 4}
    status, direct, _ = post(omnivec_emulator.url + "/v2/rerank", body, {"Authorization": "Bearer x"})
    assert status == 200 and [r["index"] for r in direct["results"]] == result.order()
    assert result.search_units == 1 and result.estimated_cost_usd == pytest.approx(2.00 / 1000)
    reranker.close()


def test_the_emulator_refuses_wrong_v2_fields(omnivec_emulator: Emulator) -> None:
    url, auth = omnivec_emulator.url + "/v2/rerank", {"Authorization": "Bearer x"}
    good = {"model": "m", "query": "q", "documents": ["a"]}
    assert post(url, good, auth)[0] == 200
    assert post(url, good, {})[0] == 401
    assert post(url, {**good, "texts": ["a"]}, auth)[0] == 400  # TEI's field, not Cohere's
    assert post(url, {**good, "documents": []}, auth)[0] == 400
    assert post(url, {**good, "top_n": 0}, auth)[0] == 400


def test_rerank_api_errors_are_typed(omnivec_emulator: Emulator) -> None:
    reranker = get_reranker("rerank-api:m", base_url=omnivec_emulator.url, retry={**FAST, "max_attempts": 1})
    with pytest.raises(AuthenticationError):  # no api_key: the emulator wants a bearer token, as Cohere does
        reranker.rerank_sync(QUERY, DOCS)
    keyed = get_reranker("rerank-api:m", base_url=omnivec_emulator.url, api_key="k", retry={**FAST, "max_attempts": 1})
    omnivec_emulator.fail_next(429)
    with pytest.raises(RateLimitError) as caught:
        keyed.rerank_sync(QUERY, DOCS)
    assert caught.value.retry_after == pytest.approx(0.05)
    down = get_reranker("rerank-api:m", base_url="http://127.0.0.1:9", retry={**FAST, "max_attempts": 1})
    with pytest.raises(ServiceUnavailableError, match="cannot reach"):
        down.rerank_sync(QUERY, DOCS)


# --- Vertex AI Ranking API (rankingConfigs:rank) through httpx ----------------------------------------------


def vertex(emulator: Emulator, **options: Any) -> Any:
    return get_reranker(
        "vertex-ranking:semantic-ranker-default-004",
        project="my-project",
        base_url=emulator.url,
        access_token="token",
        **{"retry": FAST, **options},
    )


def test_vertex_ranking_sends_the_rest_body_and_reads_scores_back_by_record_id(omnivec_emulator: Emulator) -> None:
    docs = [*DOCS, "xylophone"]  # scores 0 here: its record comes back without a score
    result = vertex(omnivec_emulator).rerank_sync(QUERY, docs)
    entry = list(omnivec_emulator.requests_log)[-1]
    assert entry["path"] == "/v1/projects/my-project/locations/global/rankingConfigs/default_ranking_config:rank"
    assert json.loads(entry["body"]) == {
        "model": "semantic-ranker-default-004",
        "query": QUERY,
        "topN": 5,
        "records": [{"id": str(i), "content": t} for i, t in enumerate(docs)],
        "ignoreRecordDetailsInResponse": True,
    }
    status, direct, _ = post(
        omnivec_emulator.url + entry["path"], json.loads(entry["body"]), {"Authorization": "Bearer t"}
    )
    assert status == 200 and [int(r["id"]) for r in direct["records"]] == result.order()
    by_id = {int(r["id"]): r.get("score", 0.0) for r in direct["records"]}  # proto3 JSON omits a 0 score
    assert result.scores.tolist() == pytest.approx([by_id[i] for i in range(5)])
    assert by_id[4] == 0.0 and not any(r["id"] == "4" and "score" in r for r in direct["records"])


def test_vertex_ranking_batches_200_records_and_types_its_errors(omnivec_emulator: Emulator) -> None:
    before = omnivec_emulator.stats.ok
    result = vertex(omnivec_emulator).rerank_sync(QUERY, corpus(450))
    assert sorted(t.items for t in result.timings) == [50, 200, 200] and omnivec_emulator.stats.ok - before == 3
    omnivec_emulator.fail_next(429, "RESOURCE_EXHAUSTED")
    assert vertex(omnivec_emulator).rerank_sync(QUERY, DOCS).retries == 1
    omnivec_emulator.fail_next(403, "PERMISSION_DENIED")
    with pytest.raises(AuthenticationError):
        vertex(omnivec_emulator).rerank_sync(QUERY, DOCS)
    url = omnivec_emulator.url + "/v1/projects/p/locations/global/rankingConfigs/default_ranking_config:rank"
    good = {"query": "q", "records": [{"id": "0", "content": "a"}]}
    assert post(url, good, {"Authorization": "Bearer t"})[0] == 200
    assert post(url, good, {})[0] == 401
    assert post(url, {**good, "documents": ["a"]}, {"Authorization": "Bearer t"})[0] == 400
    assert post(url, {**good, "records": [{"id": "0"}]}, {"Authorization": "Bearer t"})[0] == 400
    assert post(url, {**good, "records": good["records"] * 2}, {"Authorization": "Bearer t"})[0] == 400  # ids repeat


def test_vertex_ranking_settings_and_credentials_fail_as_one_line(
    omnivec_emulator: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    with pytest.raises(InvalidOptionError, match="project"):
        get_reranker("vertex-ranking")
    with pytest.raises(InvalidOptionError, match="one URL path segment"):
        get_reranker("vertex-ranking", project="a/b")
    monkeypatch.setenv("NO_GCE_CHECK", "true")  # no metadata-server probe
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))  # no gcloud login of this machine
    before = omnivec_emulator.stats.requests
    with pytest.raises(MissingCredentialsError, match="application-default login"):
        get_reranker("vertex-ranking", project="p", base_url=omnivec_emulator.url).rerank_sync(QUERY, DOCS)
    assert omnivec_emulator.stats.requests == before


# --- 10,000 candidates under 20% injected faults ----------------------------------------------------------


@pytest.mark.parametrize(
    "ref", ["bedrock:cohere.rerank-v3-5:0", "rerank-api:rerank-v3.5", "vertex-ranking:semantic-ranker-default-004"]
)
def test_ten_thousand_candidates_under_20_percent_faults_every_score_back_once_in_order(ref: str) -> None:
    candidates = corpus(10_000)
    retry = {"max_attempts": 20, "initial_backoff_s": 0.0, "max_backoff_s": 0.01}
    with emulated_clouds() as calm:
        options = _options(ref, calm)
        expected = get_reranker(ref, retry=retry, **options).rerank_sync(QUERY, candidates).scores
        direct = _direct_scores(ref, calm, candidates[:100])  # not through the adapter: checks it too
    np.testing.assert_array_equal(expected[:100], np.asarray(direct, dtype=np.float32))
    with emulated_clouds(Faults(error_rate=0.2, seed=7)) as emulator:
        options = _options(ref, emulator)
        result = get_reranker(ref, retry=retry, max_candidates_per_call=100, **options).rerank_sync(QUERY, candidates)
        sent = [json.loads(e["body"]) for e in emulator.requests_log if e["status"] == 200]
    assert emulator.stats.injected > 10 and result.retries == emulator.stats.injected
    assert result.ok and len(result) == 10_000 and not np.isnan(result.scores).any()
    np.testing.assert_array_equal(result.scores, expected)  # each at its own index
    texts = [r["content"] for b in sent for r in b.get("records", [])] + [
        t
        for b in sent
        for t in (
            b.get("documents") or [s["inlineDocumentSource"]["textDocument"]["text"] for s in b.get("sources", [])]
        )
    ]
    assert sorted(texts) == sorted(candidates)  # every candidate scored exactly once
    assert result.usage.requests == 100


def _direct_scores(ref: str, emulator: Emulator, docs: list[str]) -> list[float]:
    """Scores in input order from one request made without omnivec (boto3 itself, or a plain POST)."""
    if ref.startswith("bedrock"):
        rows = boto3.client("bedrock-agent-runtime").rerank(**_request(QUERY, docs, ref.partition(":")[2]))["results"]
        return [r["relevanceScore"] for r in sorted(rows, key=lambda r: r["index"])]
    if ref.startswith("vertex"):
        path = "/v1/projects/p/locations/global/rankingConfigs/default_ranking_config:rank"
        records = [{"id": str(i), "content": d} for i, d in enumerate(docs)]
        status, answer, _ = post(
            emulator.url + path, {"query": QUERY, "records": records}, {"Authorization": "Bearer k"}
        )
        assert status == 200
        return [dict((int(r["id"]), r.get("score", 0.0)) for r in answer["records"])[i] for i in range(len(docs))]
    body = {"model": "m", "query": QUERY, "documents": docs}
    status, answer, _ = post(emulator.url + "/v2/rerank", body, {"Authorization": "Bearer k"})
    assert status == 200
    return [r["relevance_score"] for r in sorted(answer["results"], key=lambda r: r["index"])]


def _options(ref: str, emulator: Emulator) -> dict[str, Any]:
    if ref.startswith("rerank-api"):
        return {"base_url": emulator.url, "api_key": "k"}
    if ref.startswith("vertex"):
        return {"base_url": emulator.url, "access_token": "t", "project": "p"}
    return {}
