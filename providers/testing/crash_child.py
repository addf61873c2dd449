"""The process the contract's kill -9 case runs and kills: ``python -m omnivec.providers.testing.crash_child
URL COLLECTION index|migrate``. It opens the store through its URL (as ``omnivec index`` does), indexes
:func:`crash_items` with a fake provider (or migrates them to another fake model), and prints
``committed N`` after each commit so the test can kill it at a point of its choosing.
"""

from __future__ import annotations

import sys

from ..cache import content_key
from ..stores import SourceItem, index_items, migrate, open_store
from . import FakeProvider

__all__ = ["BATCH", "ITEMS", "crash_items"]

ITEMS, BATCH = 240, 16  # 15 commits a run: the case runs some 14 processes per store, in CI


def crash_items() -> list[SourceItem]:
    """The items the case indexes: text, scalar metadata, ids that sort differently from their order."""
    texts = [f"crash item {i} about {('rivers', 'taxes', 'violins')[i % 3]}" for i in range(ITEMS)]
    return [
        SourceItem(f"c{(i * 37) % ITEMS:04d}", content_key(t), t, None, {"i": i, "tenant": f"t{i % 3}"})
        for i, t in enumerate(texts)
    ]


def main(url: str, collection: str, action: str) -> None:
    committed = 0

    def progress(done: int) -> None:
        nonlocal committed
        committed += done
        print(f"committed {committed}", flush=True)

    with open_store(url, cache=None, batch_size=BATCH) as store:
        if action == "index":
            index_items(store, collection, crash_items(), provider=FakeProvider("crash-a", dimensions=16),
                        cache=False, progress=progress)  # fmt: skip
        else:
            migrate(store, collection, FakeProvider("crash-b", dimensions=24), cache=False, progress=progress)
    print("done", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])
