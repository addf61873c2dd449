"""Cache each provider call's vectors the moment the call returns, not when its store batch is done.

A store batch (256 items by default) is one chunk of the stream, but for a one-item-per-request
model such as Nova it is 256 paid calls, and the stream embeds the next four batches while one is
committed: caching per batch left up to ~1,300 paid vectors in memory at any moment, all paid again
after a kill -9 or Ctrl-C. Here every successful call's vectors go to a writer thread (so the
event loop never waits on SQLite) that stores them at once; a crash loses only the calls in flight
and the last few milliseconds of the queue.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import copy_context
from typing import Any

import numpy as np

from .._run import CALL_DONE
from ..base import EmbeddingProvider
from ..cache import EmbeddingCache, content_key
from ..inputs import Input
from ..types import Fingerprint

__all__ = ["CallCacher"]


class CallCacher:
    """Maps each input about to be embedded to its item's content hash, and stores its vector on arrival."""

    def __init__(self, provider: EmbeddingProvider[Any], cache: EmbeddingCache, fingerprint: Fingerprint) -> None:
        self.cache, self.fingerprint = cache, fingerprint
        self.normalize = bool(provider.settings.normalize)  # what EmbeddingProvider._finish does to the result
        self._hashes: dict[str, str] = {}
        self._queue: queue.SimpleQueue[tuple[list[str], np.ndarray] | None] = queue.SimpleQueue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._write, name="omnivec-call-cache", daemon=True)
        self._thread.start()

    def expect(self, inputs: list[Input], hashes: list[str]) -> list[str]:
        """Register the inputs of one batch; returns their keys, for :meth:`forget` once it is handled."""
        keys = [content_key(i) for i in inputs]
        self._hashes.update(zip(keys, hashes, strict=True))
        return keys

    def forget(self, keys: list[str]) -> None:
        for key in keys:
            self._hashes.pop(key, None)

    def on_call(self, inputs: list[Input], vectors: np.ndarray) -> None:
        """On the loop, right after a call succeeded: hand its vectors to the writer thread."""
        found = [(n, self._hashes.get(content_key(i))) for n, i in enumerate(inputs)]
        rows = [n for n, h in found if h is not None]
        if not rows:
            return
        matrix = np.array(vectors[rows], dtype=np.float32)
        if self.normalize:
            norms = np.linalg.norm(matrix, axis=1, keepdims=True)
            np.divide(matrix, norms, out=matrix, where=norms > 0)
        self._queue.put(([found[n][1] for n in rows], matrix))  # type: ignore[misc]

    def _write(self) -> None:
        done = False
        while not done:
            first = self._queue.get()
            batch = [first]
            while True:  # everything already waiting goes into the same transaction
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            done = any(b is None for b in batch)
            parts = [b for b in batch if b is not None]
            if parts and self._error is None:
                try:
                    keys = [k for part in parts for k in part[0]]
                    self.cache.put(self.fingerprint, keys, np.concatenate([part[1] for part in parts]))
                except BaseException as exc:  # reported by close(), on the caller's thread
                    self._error = exc

    def close(self) -> None:
        """Store what is still queued, stop the writer, and raise its error if it had one."""
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error

    @contextmanager
    def active(self) -> Iterator[Any]:
        """A context in which every provider call reports to this cacher (see ``_run.CALL_DONE``)."""
        context = copy_context()
        context.run(CALL_DONE.set, self.on_call)
        yield context
