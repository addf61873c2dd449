"""Text -> image search: index pictures, then find them with words.

    python examples/multimodal_search.py        # Gemini Embedding 2 through the local wire emulator: EMULATED, offline
    OMNIVEC_MODEL=local:sentence-transformers/clip-ViT-B-32 python examples/multimodal_search.py  # real CLIP
    OMNIVEC_MODEL=gemini:gemini-embedding-2 GEMINI_API_KEY=... python examples/multimodal_search.py  # real Gemini
    OMNIVEC_MODEL=bedrock:amazon.nova-2-multimodal-embeddings-v1:0 python examples/multimodal_search.py  # real Nova

Any model whose capabilities include images works unchanged: a CLIP / SigLIP folder or hub name
under ``local:`` (``pip install "omnivec[local]"``; the weights download once into the Hugging Face
cache, ``HF_HOME``, where the hub is reachable), Gemini Embedding 2 (``omnivec[gemini]``, an API key)
or Nova on Bedrock (``omnivec[bedrock]``, AWS credentials). A text-only model is refused with a
message naming these.

Without ``OMNIVEC_MODEL`` the script starts omnivec's wire emulator and runs the real google-genai
SDK against it. The emulator speaks the true protocol, but its vectors are made up: text gets hashed
word features, an image gets seeded noise. So the PURE-IMAGE ranking below is arbitrary there (it
proves the plumbing, never quality), while the image + caption index (``Fused``, Gemini only) ranks
by its caption. On a real model both rankings mean something.

The pictures are drawn with Pillow at run time, so nothing is read from disk or downloaded; to index
your own, use ``Image.from_path("photo.jpg")``.
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from typing import Any

import numpy as np
from PIL import Image as PILImage
from PIL import ImageDraw

from omnivec.providers import EmbeddingProvider, Fused, Image, get_provider, load_provider
from omnivec.providers.emulator import emulated_clouds

EMULATED_MODEL = "gemini:gemini-embedding-2"
QUERIES = ["a red circle", "a black and white checkerboard", "sunset over the sea"]


def draw(kind: str) -> PILImage.Image:
    """A 96x96 picture of ``kind``: simple enough to draw, distinct enough for a real model to tell apart."""
    img = PILImage.new("RGB", (96, 96), "white")
    pen = ImageDraw.Draw(img)
    if kind == "red-circle":
        pen.ellipse((16, 16, 80, 80), fill="red")
    elif kind == "blue-square":
        pen.rectangle((18, 18, 78, 78), fill="blue")
    elif kind == "green-triangle":
        pen.polygon([(48, 12), (86, 84), (10, 84)], fill="green")
    elif kind == "checkerboard":
        for x in range(0, 96, 16):
            for y in range(0, 96, 16):
                if (x + y) // 16 % 2:
                    pen.rectangle((x, y, x + 15, y + 15), fill="black")
    elif kind == "sunset":
        for y in range(56):
            pen.line((0, y, 95, y), fill=(255, 140 - 2 * y, 40 + y))
        pen.ellipse((32, 36, 64, 68), fill="yellow")
        pen.rectangle((0, 56, 95, 95), fill=(20, 60, 140))
    elif kind == "stripes":
        for x in range(-96, 96, 12):
            pen.line((x, 0, x + 96, 96), fill="purple", width=5)
    return img


CATALOG = {  # id -> the caption (alt text) a shop or CMS would store with the picture
    "red-circle": "a red circle on a white background",
    "blue-square": "a blue square on a white background",
    "green-triangle": "a green triangle on a white background",
    "checkerboard": "a black and white checkerboard pattern",
    "sunset": "the sun setting over the sea",
    "stripes": "purple diagonal stripes",
}


def rank(provider: EmbeddingProvider[Any], documents: list[Image] | list[Fused], label: str) -> None:
    """Embed ``documents`` as the index and print each query's top three, best first."""
    ids = list(CATALOG)
    index = provider.embed_documents_sync(documents)
    queries = provider.embed_query_sync(QUERIES)
    print(f"\n{label}  ({index.dimensions} dims, fingerprint {index.fingerprint.hash})")
    unit = [m / np.linalg.norm(m, axis=1, keepdims=True) for m in (queries.vectors, index.vectors)]
    for query, scores in zip(QUERIES, unit[0] @ unit[1].T, strict=True):  # cosine: CLIP is not unit length
        order = np.argsort(-scores)[:3]
        print(f"  {query!r}: top hit: {ids[order[0]]}  ({', '.join(f'{ids[i]} {scores[i]:.3f}' for i in order)})")


def main() -> None:
    images = [Image.from_pil(draw(name)) for name in CATALOG]
    with ExitStack() as stack:
        if os.environ.get("OMNIVEC_MODEL"):
            provider = stack.enter_context(load_provider())
            print(f"model: {provider.ref} (configured by OMNIVEC_MODEL)")
        else:
            emulator = stack.enter_context(emulated_clouds())
            provider = stack.enter_context(get_provider(EMULATED_MODEL, dimensions=768))
            print(f"model: {provider.ref} -- EMULATED: vectors come from omnivec's wire emulator at {emulator.url},")
            print("  not from Google. Image vectors there are seeded noise, so pure-image ranks are arbitrary.")
            print("  Set OMNIVEC_MODEL to a real multimodal model (see this file's docstring) for real results.")
        caps = provider.capabilities
        if "image" not in caps.modalities:
            raise SystemExit(
                f"{provider.ref} embeds only {sorted(caps.modalities)}: pick an image model, e.g. "
                "local:sentence-transformers/clip-ViT-B-32, gemini:gemini-embedding-2 or "
                "bedrock:amazon.nova-2-multimodal-embeddings-v1:0"
            )
        rank(provider, images, "images only (what a photo library has):")
        if caps.fuses_parts:  # one vector per picture AND its caption: what a shop catalogue has
            rank(
                provider,
                [Fused(img, CATALOG[name]) for img, name in zip(images, CATALOG, strict=True)],
                "image + caption fused into one vector each:",
            )
        else:
            print(f"\n{provider.ref} cannot fuse an image and its caption into one vector; skipped that index.")


if __name__ == "__main__":
    main()
