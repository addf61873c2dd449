"""OmnivecReranker through LangChain's own classes and a real omnivec reranker on the emulated Bedrock."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("langchain_core", reason='needs the extra: pip install "omnivec[langchain]"')

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableLambda, RunnablePassthrough

from omnivec.providers import InvalidInputError, InvalidOptionError
from omnivec.providers.emulator import Emulator
from omnivec.providers.integrations.langchain import OmnivecReranker
from omnivec.providers.rerank import get_reranker

REF = "bedrock:cohere.rerank-v3-5:0"
QUERY = "what do cats eat"
DOCS = [
    Document("tax law in france", metadata={"source": "a"}, id="a"),
    Document("cats eat fish and mice", metadata={"source": "b"}, id="b"),
    Document("dogs chase cats", metadata={"source": "c"}, id="c"),
    Document("fish eat plankton", metadata={"source": "d"}, id="d"),
]


def expected(top_n: int) -> list[tuple[str, float]]:
    result = get_reranker(REF).rerank_sync(QUERY, [d.page_content for d in DOCS])
    return [(DOCS[i].page_content, score) for i, score in result.top(top_n)]


def seen(docs: object) -> list[tuple[str, float]]:
    return [(d.page_content, d.metadata["relevance_score"]) for d in docs]  # type: ignore[attr-defined]


def test_compress_documents_matches_the_reranker_keeps_top_n_and_metadata(omnivec_emulator: Emulator) -> None:
    out = OmnivecReranker(REF, top_n=2).compress_documents(DOCS, QUERY)
    assert seen(out) == expected(2)
    assert out[0].page_content == "cats eat fish and mice"
    by_text = {d.page_content: d for d in DOCS}
    for doc in out:
        assert doc.metadata["source"] == by_text[doc.page_content].metadata["source"]
        assert doc.id == by_text[doc.page_content].id
    assert "relevance_score" not in DOCS[1].metadata  # the caller's documents are not changed


def test_the_async_path_gives_the_same_answer(omnivec_emulator: Emulator) -> None:
    out = asyncio.run(OmnivecReranker(REF, top_n=None).acompress_documents(DOCS, QUERY))
    assert seen(out) == expected(len(DOCS))


class Fixed(BaseRetriever):
    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return DOCS


def test_a_retriever_chain_reranks_what_the_retriever_found(omnivec_emulator: Emulator) -> None:
    # ContextualCompressionRetriever lives in langchain-classic, not installed here; this is the same
    # retrieve-then-compress step as an LCEL chain of langchain-core's own runnables.
    compressor = OmnivecReranker(REF, top_n=3)
    chain = {"docs": Fixed(), "query": RunnablePassthrough()} | RunnableLambda(
        lambda x: compressor.compress_documents(x["docs"], x["query"])
    )
    assert seen(chain.invoke(QUERY)) == expected(3)


def test_a_reranker_from_omnivec_reranker_setting(omnivec_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNIVEC_RERANKER", REF)
    assert OmnivecReranker(top_n=1).reranker.ref == get_reranker(REF).ref


def test_no_documents_make_no_request_and_no_query_is_one_clear_error(omnivec_emulator: Emulator) -> None:
    compressor = OmnivecReranker(REF)
    before = omnivec_emulator.stats.requests
    assert compressor.compress_documents([], QUERY) == []
    assert asyncio.run(compressor.acompress_documents([], QUERY)) == []
    with pytest.raises(InvalidInputError, match="OmnivecReranker: reranking needs a non-empty query"):
        compressor.compress_documents(DOCS, "  ")
    assert omnivec_emulator.stats.requests == before


def test_bad_options_fail_at_construction() -> None:
    with pytest.raises(InvalidOptionError, match="top_n"):
        OmnivecReranker(REF, top_n=0)
    with pytest.raises(InvalidOptionError, match="only to a reranker reference"):
        OmnivecReranker(get_reranker(REF), retry={"max_attempts": 1})
