"""The library embedding cache: never a raw sqlite3 error, never a bad vector, safe across processes."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from omnivec.providers import Fingerprint, Image, get_provider
from omnivec.providers.cache import CacheWarning, EmbeddingCache, content_key
from omnivec.providers.errors import ConfigurationError

FP = get_provider("fake:a", dimensions=8).fingerprint("document")
KEYS = [content_key(f"text {i}") for i in range(300)]
VECTORS = np.random.default_rng(0).standard_normal((300, 8)).astype(np.float32)


def filled(path: Path) -> Path:
    with EmbeddingCache(path) as cache:
        cache.put(FP, KEYS, VECTORS)
        cache.put_measurement("m", {"x": 1})
    return path


def test_round_trip_and_fingerprints_never_mix(tmp_path: Path) -> None:
    with EmbeddingCache(filled(tmp_path / "c.sqlite")) as cache:
        got = cache.get(FP, KEYS)
        assert len(got) == 300 and np.array_equal(got[KEYS[5]], VECTORS[5])
        other = get_provider("fake:b", dimensions=8).fingerprint("document")
        assert cache.get(other, KEYS) == {}
        assert cache.get_measurement("m") == {"x": 1}


def test_nan_rows_are_not_stored(tmp_path: Path) -> None:
    vectors = VECTORS[:3].copy()
    vectors[1] = np.nan
    with EmbeddingCache(tmp_path / "c.sqlite") as cache:
        assert cache.put(FP, KEYS[:3], vectors) == 2
        assert set(cache.get(FP, KEYS[:3])) == {KEYS[0], KEYS[2]}


def test_a_hash_collision_between_spaces_is_refused(tmp_path: Path) -> None:
    path = filled(tmp_path / "c.sqlite")
    db = sqlite3.connect(path)
    db.execute('UPDATE spaces SET spec = \'{"provider": "someone else"}\'')
    db.commit()
    db.close()
    with EmbeddingCache(path) as cache, pytest.raises(ConfigurationError, match="collision"):
        cache.get(FP, KEYS)


def _half_truncated(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _garbage_page(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[4096 * 2 : 4096 * 3] = np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))


def _garbage_file(path: Path) -> None:
    path.write_bytes(b"this is not a database at all" * 100)


def _directory(path: Path) -> None:
    path.unlink()
    path.mkdir()
    (path / "inside").write_text("x")


def _wrong_length_blob(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("UPDATE vectors SET vector = x'00000000' WHERE content = ?", (KEYS[7],))
    db.commit()
    db.close()


def _nan_blob(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("UPDATE vectors SET vector = ? WHERE content = ?", (np.full(8, np.nan, np.float32).tobytes(), KEYS[7]))
    db.commit()
    db.close()


def open_and_get(path: Path) -> tuple[EmbeddingCache, dict[str, np.ndarray]]:
    cache = EmbeddingCache(path)
    return cache, cache.get(FP, KEYS)


@pytest.mark.parametrize(
    "damage", [_half_truncated, _garbage_page, _garbage_file, _directory, _wrong_length_blob, _nan_blob]
)
def test_a_corrupt_cache_is_moved_aside_and_rebuilt(tmp_path: Path, damage) -> None:  # type: ignore[no-untyped-def]
    path = filled(tmp_path / "c.sqlite")
    damage(path)
    with pytest.warns(CacheWarning, match="moved to"):
        cache, got = open_and_get(path)
    assert all(np.isfinite(v).all() and v.shape == (8,) for v in got.values())
    assert got == {}  # rebuilt empty: nothing from the damaged file is served
    assert cache.put(FP, KEYS[:2], VECTORS[:2]) == 2 and len(cache.get(FP, KEYS[:2])) == 2
    cache.close()
    assert any(p.name.startswith("c.sqlite.corrupt-") for p in tmp_path.iterdir())


def test_lone_surrogates_get_their_own_keys(tmp_path: Path) -> None:
    odd = ["a\ud800b", "a\udfffb", "ab"]
    keys = [content_key(t) for t in odd]
    assert len(set(keys)) == 3
    with EmbeddingCache(tmp_path / "c.sqlite") as cache:
        cache.put(FP, keys, VECTORS[:3])
        assert len(cache.get(FP, keys)) == 3


def test_images_are_keyed_by_uri_and_never_like_a_text() -> None:
    first = content_key(Image.from_uri("s3://b/k.png", mime_type="image/png"))
    assert first != content_key(Image.from_uri("s3://b/other.png", mime_type="image/png"))
    assert first != content_key("s3://b/k.png")


WRITER = textwrap.dedent("""
    import sys, numpy as np
    from omnivec.providers import Fingerprint
    from omnivec.providers.cache import EmbeddingCache, content_key
    cache = EmbeddingCache(sys.argv[1])
    rng = np.random.default_rng(int(sys.argv[2]))
    for round in range(40):
        fp = Fingerprint("fake", f"m{round}", 4, True, "document", "none")
        keys = [content_key(f"t{i}") for i in range(20)]
        cache.put(fp, keys, np.ones((20, 4), np.float32) * round)
        got = cache.get(fp, keys)
        assert len(got) == 20 and all((v == round).all() for v in got.values()), round
    print("ok")
""")


def test_several_processes_share_one_cache_without_errors(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(n)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for n in range(4)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [err for _, err in outs]
    assert all(out.strip() == "ok" for out, _ in outs)
    with EmbeddingCache(path) as cache:
        fp = Fingerprint("fake", "m39", 4, True, "document", "none")
        assert len(cache.get(fp, [content_key(f"t{i}") for i in range(20)])) == 20


def test_the_store_write_path_never_caches_a_failed_items_placeholder(tmp_path: Path) -> None:
    import asyncio

    from omnivec.providers import InvalidRequestError
    from omnivec.providers.stores import _embed
    from omnivec.providers.stores.sources import SourceItem
    from omnivec.providers.testing import FakeProvider

    provider = FakeProvider(max_batch_size=1, fail_items={"bad": InvalidRequestError("refused")})
    items = [SourceItem(t, content_key(t), t) for t in ("good", "bad")]
    fingerprint = provider.fingerprint("document")
    with EmbeddingCache(tmp_path / "c.sqlite") as cache:
        batch = _embed.prepare(provider, items, cache, fingerprint)
        result = asyncio.run(provider.embed(batch.inputs, intent="document", errors="collect"))
        out = _embed.finish(batch, result, cache, fingerprint)
        assert set(out.failed) == {"bad"} and [row.id for row in out.rows] == ["good"]
        assert set(cache.get(fingerprint, [content_key("good"), content_key("bad")])) == {content_key("good")}
