"""A LlamaIndex index and query engine on omnivec: build, persist with the fingerprint, reload, query.

    python examples/llamaindex_query.py                                          # local MiniLM, offline
    OMNIVEC_MODEL=gemini:gemini-embedding-2 python examples/llamaindex_query.py  # same code on Gemini

Needs ``pip install "omnivec[local,llamaindex]"``. No LLM is needed to find passages: the query
engine runs with ``response_mode="no_text"`` and returns its sources; set ``Settings.llm`` to your
LLM (and drop ``no_text``) to get written answers.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from llama_index.core import Document, Settings, StorageContext, VectorStoreIndex, load_index_from_storage
from llama_index.core.llms import MockLLM

from omnivec.providers.integrations.llamaindex import OmnivecEmbedding

PASSAGES = {
    "eiffel": "The Eiffel Tower is a wrought-iron lattice tower in Paris, completed in 1889.",
    "photosynthesis": "Photosynthesis lets plants turn sunlight, water and CO2 into sugar and oxygen.",
    "sourdough": "Sourdough bread rises thanks to wild yeast and lactic acid bacteria.",
    "orbit": "A rocket needs about 7.8 km/s of horizontal speed to stay in low Earth orbit.",
}
QUESTIONS = ["How do plants make food from light?", "What makes sourdough rise?"]
FINGERPRINT_FILE = "omnivec_fingerprint.json"


def build(folder: Path, embed_model: OmnivecEmbedding) -> None:
    """Index once; persist the index with the fingerprint of the vector space it lives in."""
    docs = [Document(text=text, metadata={"topic": topic}) for topic, text in PASSAGES.items()]
    index = VectorStoreIndex.from_documents(docs, embed_model=embed_model)
    index.storage_context.persist(persist_dir=str(folder))
    (folder / FINGERPRINT_FILE).write_text(json.dumps(embed_model.fingerprint.as_dict()))


def load(folder: Path, embed_model: OmnivecEmbedding) -> VectorStoreIndex:
    """Reload, but only with an embedder whose vectors are comparable to the stored ones."""
    stored = json.loads((folder / FINGERPRINT_FILE).read_text())
    if stored != embed_model.fingerprint.as_dict():
        raise SystemExit(
            f"index was built with {stored['provider']}:{stored['model']} "
            f"({stored['dimensions']} dims); re-embed it before querying with {embed_model.model_name}"
        )
    storage = StorageContext.from_defaults(persist_dir=str(folder))
    return load_index_from_storage(storage, embed_model=embed_model)  # type: ignore[return-value]


def main() -> None:
    Settings.llm = MockLLM()  # retrieval only; put your LLM here for generated answers
    embed_model = OmnivecEmbedding()  # OMNIVEC_MODEL decides; the local MiniLM by default
    print(
        f"embedder: {embed_model.model_name}  dims: {embed_model.dimensions}  "
        f"fingerprint: {embed_model.fingerprint.hash}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        build(Path(tmp), embed_model)
        engine = load(Path(tmp), embed_model).as_query_engine(similarity_top_k=1, response_mode="no_text")
        for question in QUESTIONS:
            (source,) = engine.query(question).source_nodes
            print(f"{question}\n  -> [{source.node.metadata['topic']}] {source.score:.3f} {source.node.get_content()}")
    embed_model.close()


if __name__ == "__main__":
    main()
