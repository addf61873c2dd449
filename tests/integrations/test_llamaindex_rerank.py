"""OmnivecRerank through LlamaIndex's own classes and a real omnivec reranker on the emulated Bedrock."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("llama_index.core", reason='needs the extra: pip install "omnivec[llamaindex]"')

from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle, TextNode

from omnivec.providers import InvalidInputError, InvalidOptionError
from omnivec.providers.emulator import Emulator
from omnivec.providers.integrations.llamaindex import OmnivecRerank
from omnivec.providers.rerank import get_reranker

REF = "bedrock:cohere.rerank-v3-5:0"
QUERY = "what do cats eat"
TEXTS = ["tax law in france", "cats eat fish and mice", "dogs chase cats", "fish eat plankton"]


def nodes() -> list[NodeWithScore]:
    return [
        NodeWithScore(
            node=TextNode(text=t, id_=f"n{i}", metadata={"n": i}, excluded_embed_metadata_keys=["n"]), score=0.1
        )
        for i, t in enumerate(TEXTS)
    ]


def expected(top_n: int) -> list[tuple[str, float]]:
    texts = [n.node.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes()]
    return [(f"n{i}", score) for i, score in get_reranker(REF).rerank_sync(QUERY, texts).top(top_n)]


def seen(out: list[NodeWithScore]) -> list[tuple[str, float | None]]:
    return [(n.node.node_id, n.score) for n in out]


def test_a_query_bundle_through_the_postprocessor_matches_the_reranker(omnivec_emulator: Emulator) -> None:
    out = OmnivecRerank(REF, top_n=2).postprocess_nodes(nodes(), query_bundle=QueryBundle(QUERY))
    assert seen(out) == expected(2)
    assert out[0].node.get_content() == "cats eat fish and mice"
    assert [n.node.metadata["n"] for n in out] == [int(node_id[1:]) for node_id, _ in expected(2)]


def test_query_str_and_the_async_path_give_the_same_answer(omnivec_emulator: Emulator) -> None:
    rerank = OmnivecRerank(REF, top_n=None)
    assert seen(rerank.postprocess_nodes(nodes(), query_str=QUERY)) == expected(len(TEXTS))
    assert seen(asyncio.run(rerank.apostprocess_nodes(nodes(), query_str=QUERY))) == expected(len(TEXTS))


def test_no_nodes_make_no_request_and_no_query_is_one_clear_error(omnivec_emulator: Emulator) -> None:
    rerank = OmnivecRerank(REF)
    before = omnivec_emulator.stats.requests
    assert rerank.postprocess_nodes([], query_str=QUERY) == []
    assert asyncio.run(rerank.apostprocess_nodes([], query_str=QUERY)) == []
    with pytest.raises(InvalidInputError, match="OmnivecRerank: reranking needs a non-empty query"):
        rerank.postprocess_nodes(nodes())
    assert omnivec_emulator.stats.requests == before


def test_reference_setting_and_bad_options(omnivec_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNIVEC_RERANKER", REF)
    assert OmnivecRerank().model == get_reranker(REF).ref
    assert "reranker" not in OmnivecRerank().to_dict()  # the reranker object is not serialised
    with pytest.raises(InvalidOptionError, match="top_n"):
        OmnivecRerank(REF, top_n=-1)
