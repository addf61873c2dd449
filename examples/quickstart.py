"""Embed documents and a query with whatever provider the configuration names, then rank.

python examples/quickstart.py                      # local all-MiniLM-L6-v2, offline
OMNIVEC_MODEL=fake python examples/quickstart.py   # the deterministic fake
"""

from __future__ import annotations

import numpy as np

from omnivec.providers import load_provider

DOCUMENTS = [
    "The Eiffel Tower is a wrought-iron lattice tower in Paris, France.",
    "Photosynthesis lets plants turn light into chemical energy.",
    "The Great Barrier Reef is the world's largest coral reef system.",
]


def main() -> None:
    provider = load_provider()
    docs = provider.embed_documents_sync(DOCUMENTS)
    query = provider.embed_query_sync("How do plants make energy from sunlight?")
    scores = docs.vectors @ query.vectors[0]
    print(f"provider: {provider.ref}  dims: {docs.dimensions}  fingerprint: {docs.fingerprint.hash}")
    for rank, i in enumerate(np.argsort(-scores), start=1):
        print(f"{rank}. {scores[i]:.3f}  {DOCUMENTS[i]}")


if __name__ == "__main__":
    main()
