"""A FastAPI embedding + search service that shares ONE provider across all requests.

    python examples/fastapi_service.py                     # drives itself with TestClient, local MiniLM, offline
    OMNIVEC_MODEL=gemini:gemini-embedding-2 python examples/fastapi_service.py
    pip install uvicorn && uvicorn fastapi_service:app --app-dir examples     # serve it for real

Needs ``pip install "omnivec[local]" fastapi httpx`` (httpx only for the self-test's TestClient).

Why it is built this way:
- The provider is created once at startup (``lifespan``) and closed at shutdown. It owns SDK
  clients / model weights and the process-wide concurrency and rate budget, so N concurrent requests
  share one connection pool and one budget instead of each opening their own and tripping the
  provider's throttling. Building a provider per request is the classic mistake.
- Endpoints are ``async`` and ``await provider.embed(...)``: the event loop keeps serving while the
  provider works. (Never call the ``_sync`` twins from an async endpoint.)
- Every answer carries the fingerprint hash of the vector space: a client that stores vectors can
  refuse to mix them with vectors from another model, dimension or intent mapping.
- omnivec's typed errors map onto HTTP statuses in one handler: bad input 422, throttling 429 with
  ``Retry-After``, provider trouble 502, set-up mistakes 500.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from omnivec.providers import (
    ConfigurationError,
    EmbeddingError,
    EmbeddingProvider,
    InputError,
    Intent,
    RateLimitError,
    load_provider,
)

CORPUS = {
    "returns": "You can return an item within 30 days of delivery for a full refund.",
    "shipping": "Shipping is free for orders over 50 euros; otherwise it costs 4.90 euros.",
    "support": "Our support team answers e-mails within one business day.",
    "warranty": "Electronics carry a two-year warranty against manufacturing defects.",
    "payment": "We accept credit cards, PayPal and bank transfers.",
    "stores": "Our shops in Berlin and Munich are open Monday to Saturday.",
}


@dataclass
class Index:
    """A tiny in-memory vector index: one matrix, one fingerprint. Swap in a real store for production."""

    fingerprint: str = ""
    ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def add(self, provider: EmbeddingProvider[Any], docs: dict[str, str]) -> None:
        result = await provider.embed(list(docs.values()), intent="document")
        rows = result.vectors / np.linalg.norm(result.vectors, axis=1, keepdims=True)
        async with self.lock:  # writers queue; readers see the old or the new matrix, never half of one
            self.fingerprint = self.fingerprint or result.fingerprint.hash
            self.ids, self.texts = [*self.ids, *docs], [*self.texts, *docs.values()]
            self.vectors = rows if not len(self.vectors) else np.vstack([self.vectors, rows])

    def search(self, query: np.ndarray, k: int) -> list[tuple[str, str, float]]:
        scores = self.vectors @ (query / np.linalg.norm(query))
        best = np.argsort(-scores)[:k]
        return [(self.ids[i], self.texts[i], float(scores[i])) for i in best]


class EmbedRequest(BaseModel):
    texts: list[str] = Field(min_length=1, max_length=64)
    intent: Intent = "document"


class EmbedResponse(BaseModel):
    model: str
    fingerprint: str
    dimensions: int
    vectors: list[list[float]]


class SearchRequest(BaseModel):
    query: str = Field(min_length=1, max_length=2000)
    k: int = Field(default=3, ge=1, le=20)


class Hit(BaseModel):
    id: str
    text: str
    score: float


class SearchResponse(BaseModel):
    fingerprint: str
    hits: list[Hit]


def create_app(make_provider: Callable[[], EmbeddingProvider[Any]] = load_provider) -> FastAPI:
    """Build the service; ``make_provider`` runs ONCE, at startup (load_provider: OMNIVEC_MODEL decides)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        """Create the one provider, index the corpus, and close the provider when the server stops."""
        provider = make_provider()
        try:
            app.state.provider = provider
            app.state.index = Index()
            await app.state.index.add(provider, CORPUS)
            yield
        finally:
            await provider.aclose()

    app = FastAPI(title="omnivec service", lifespan=lifespan)
    app.exception_handler(EmbeddingError)(embedding_error)

    @app.get("/healthz")
    async def healthz(request: Request) -> dict[str, object]:
        index: Index = request.app.state.index
        return {"model": provider_of(request).ref, "fingerprint": index.fingerprint, "documents": len(index.ids)}

    @app.post("/embed")
    async def embed(body: EmbedRequest, request: Request) -> EmbedResponse:
        result = await provider_of(request).embed(body.texts, intent=body.intent)
        return EmbedResponse(
            model=provider_of(request).ref,
            fingerprint=result.fingerprint.hash,
            dimensions=result.dimensions,
            vectors=result.vectors.round(6).tolist(),
        )

    @app.post("/search")
    async def search(body: SearchRequest, request: Request) -> SearchResponse:
        index: Index = request.app.state.index
        query = await provider_of(request).embed(body.query, intent="query")
        hits = [Hit(id=i, text=t, score=round(s, 4)) for i, t, s in index.search(query.vectors[0], body.k)]
        return SearchResponse(fingerprint=index.fingerprint, hits=hits)

    return app


async def embedding_error(request: Request, exc: EmbeddingError) -> JSONResponse:
    """One place that turns omnivec's typed errors into HTTP answers (messages are one line, no secrets)."""
    if isinstance(exc, InputError):
        return JSONResponse({"detail": str(exc), "index": exc.index}, status_code=422)
    if isinstance(exc, RateLimitError):
        retry = str(max(1, math.ceil(exc.retry_after or 1)))  # never invite a retry sooner than asked
        return JSONResponse({"detail": str(exc)}, status_code=429, headers={"Retry-After": retry})
    status = 500 if isinstance(exc, ConfigurationError) else 502
    return JSONResponse({"detail": f"{type(exc).__name__}: {exc}"}, status_code=status)


def provider_of(request: Request) -> EmbeddingProvider[Any]:
    provider: EmbeddingProvider[Any] = request.app.state.provider
    return provider


app = create_app()  # what `uvicorn fastapi_service:app` serves; nothing loads until startup


QUESTIONS = [
    "Can I send back a jacket I bought three weeks ago?",
    "How much does delivery cost?",
    "Do you take PayPal?",
    "When does customer service reply to mail?",
    "Is my new laptop covered if it breaks?",
    "Where can I visit a shop?",
]


def main() -> None:
    """Start the app in-process (lifespan included), fire concurrent requests, print what came back."""
    from fastapi.testclient import TestClient  # needs httpx; only the self-test uses it

    with TestClient(app) as client:  # entering runs the startup; leaving runs the shutdown
        health = client.get("/healthz").json()
        print(f"service up: {health['model']}, {health['documents']} documents, fingerprint {health['fingerprint']}")
        with ThreadPoolExecutor(max_workers=len(QUESTIONS)) as pool:  # all in flight at once, ONE provider
            answers = list(pool.map(lambda q: client.post("/search", json={"query": q, "k": 1}), QUESTIONS))
        for question, answer in zip(QUESTIONS, answers, strict=True):
            answer.raise_for_status()
            hit = answer.json()["hits"][0]
            print(f"{question}\n  -> [{hit['id']}] {hit['score']:.3f} {hit['text']}")
        embedded = client.post("/embed", json={"texts": ["first text", "second text"], "intent": "similarity"})
        body = embedded.json()
        print(f"/embed: {len(body['vectors'])} vectors x {body['dimensions']} dims, fingerprint {body['fingerprint']}")
        bad = client.post("/embed", json={"texts": ["fine", "   "]})
        print(f"/embed with a blank text: HTTP {bad.status_code} {bad.json()['detail']}")
    print("provider closed at shutdown")


if __name__ == "__main__":
    main()
