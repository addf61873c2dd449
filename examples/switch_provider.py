"""The same application code on any provider: which one is decided by ONE line of configuration.

    python examples/switch_provider.py                                          # local MiniLM, offline
    OMNIVEC_MODEL=gemini:gemini-embedding-2 python examples/switch_provider.py
    OMNIVEC_MODEL=bedrock:amazon.nova-2-multimodal-embeddings-v1:0 python examples/switch_provider.py

Without cloud credentials, point the SDKs at `omnivec emulate` (see docs/emulator.md); CI runs this
file unchanged against all three providers that way.
"""

from __future__ import annotations

import numpy as np

from omnivec.providers import load_provider

FAQ = [
    "You can return an item within 30 days of delivery for a full refund.",
    "Shipping is free for orders over 50 euros.",
    "Our support team answers e-mails within one business day.",
]


def answer(question: str) -> str:
    provider = load_provider()
    with provider:
        docs = provider.embed_documents_sync(FAQ)
        query = provider.embed_query_sync(question)
    best = int(np.argmax(docs.vectors @ query.vectors[0]))
    print(f"{provider.ref}: {docs.dimensions} dims, intent mapping {query.fingerprint.intent_mapping}")
    return FAQ[best]


if __name__ == "__main__":
    print(answer("how many days do I have to return an item for a refund"))
