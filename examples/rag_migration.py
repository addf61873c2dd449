"""A small RAG-style search over PostgreSQL + pgvector, moved from local MiniLM to a cloud model
without the application code changing.

    python examples/rag_migration.py                     # starts a throwaway local PostgreSQL + pgvector
    OMNIVEC_STORE=postgresql://user@host/db python examples/rag_migration.py    # or your own server

The application (``answer``) only names a collection: the collection remembers which model made its
vectors, so queries are always embedded in the same space. The cloud model here is Gemini Embedding 2
through omnivec's local emulator (no credentials, nothing leaves 127.0.0.1); with real credentials
drop ``emulated_clouds()`` and the same steps run against Google.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from omnivec.providers import load_provider
from omnivec.providers.cache import content_key
from omnivec.providers.emulator import emulated_clouds
from omnivec.providers.stores import SourceItem, index_items, migrate, open_store, search, switch

FAQ = {
    "returns": "You can return an item within 30 days of delivery for a full refund.",
    "shipping": "Shipping is free for orders over 50 euros; otherwise it costs 4.90 euros.",
    "support": "Our support team answers e-mails within one business day.",
    "warranty": "Every appliance has a two-year warranty covering manufacturing defects.",
    "payment": "We accept credit cards, PayPal and bank transfers.",
    "tracking": "A tracking link is e-mailed to you as soon as your parcel leaves the warehouse.",
}
QUESTION = "how many days do I have to return an item for a refund"


def answer(store: object, question: str) -> str:
    """The application code: retrieve the best passage for a question (a prompt would be built from it)."""
    best = search(store, "faq", question, k=1)[0]  # type: ignore[arg-type]
    return f"{best.id} ({best.score:.2f}): {best.text}"


@contextmanager
def postgres_url() -> Iterator[str]:
    """OMNIVEC_STORE if set, else a throwaway local PostgreSQL 16 + pgvector (the pgserver wheel)."""
    if os.environ.get("OMNIVEC_STORE", "").startswith("postgres"):
        yield os.environ["OMNIVEC_STORE"]
        return
    from omnivec.providers.stores.pgdev import start_local_postgres

    server = start_local_postgres()
    try:
        yield server.url
    finally:
        server.stop(remove=True)


def main() -> None:
    with postgres_url() as url:
        store = open_store(url, cache=None)
        try:
            items = [SourceItem(key, content_key(text), text, None, {"topic": key}) for key, text in FAQ.items()]
            index_items(store, "faq", items, provider=load_provider(model="local"))
            print("local MiniLM  ->", answer(store, QUESTION))

            with emulated_clouds():
                report = migrate(store, "faq", "gemini:gemini-embedding-2", dimensions=768)
                print(f"migrated {report.count} items side by side into version {report.target_version}")
                switch(store, "faq")
                print("Gemini (emul.)->", answer(store, QUESTION))  # the same call, another model behind it
        finally:
            store.close()


if __name__ == "__main__":
    main()
