"""The store contract, identical for LanceDB and PostgreSQL + pgvector (real databases, no mocks)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from omnivec.providers import InvalidRequestError, get_provider
from omnivec.providers.cache import content_key
from omnivec.providers.errors import ConfigurationError, InvalidInputError, InvalidOptionError
from omnivec.providers.stores import (
    CollectionNotFoundError,
    MigrationIncompleteError,
    Row,
    SourceItem,
    SpaceOverrideWarning,
    StoreError,
    VectorSpaceMismatchError,
    VectorStore,
    doctor,
    drop,
    index_items,
    migrate,
    open_store,
    read_source,
    rollback,
    search,
    switch,
)
from omnivec.providers.testing import FakeProvider

TEXTS = [
    f"item {i} talks about {topic}" for i, topic in enumerate(["cats", "dogs", "tax law", "rust code", "pasta"] * 8)
]


def items(texts: list[str] = TEXTS, **meta: object) -> list[SourceItem]:
    return [SourceItem(f"id{i}", content_key(t), t, None, {"n": i, **meta}) for i, t in enumerate(texts)]


def test_index_stores_sources_metadata_and_the_full_fingerprint(store: VectorStore) -> None:
    provider = get_provider("fake:a", dimensions=24)
    report = index_items(store, "docs", items(), provider=provider)
    assert (report.created, report.embedded, report.seen) == (True, 40, 40)
    [info] = store.versions("docs")
    assert info.fingerprint == provider.fingerprint("document").as_dict()
    assert info.fingerprint_hash == provider.fingerprint("document").hash
    assert store.alias("docs") == (1, None)
    rows = {r.id: r for batch in store.scan("docs", 1, 7, vectors=True) for r in batch}
    assert len(rows) == 40 and rows["id3"].text == TEXTS[3] and rows["id3"].metadata == {"n": 3}
    assert rows["id3"].content_hash == content_key(TEXTS[3])
    assert np.allclose(rows["id3"].vector, provider.embed_one(TEXTS[3], "document"), atol=1e-6)


def test_reindex_embeds_only_new_or_changed_items(store: VectorStore) -> None:
    index_items(store, "docs", items(), provider=get_provider("fake:a"))
    changed = list(TEXTS)
    changed[5] = "a completely new text about tax law"
    provider = FakeProvider("a")
    report = index_items(store, "docs", items([*changed, "one more"]), provider=provider, cache=False)
    assert (report.embedded, report.unchanged, store.count("docs", 1)) == (2, 39, 41)
    assert sorted(t for batch, _ in provider.calls for t in batch) == sorted([changed[5], "one more"])


def test_search_resolves_the_provider_from_the_stored_fingerprint(store: VectorStore) -> None:
    index_items(store, "docs", items(), provider=get_provider("fake:a", dimensions=24))
    hits = search(store, "docs", "tax law", k=3)  # no provider given: fake:a at 24 dims is rebuilt
    assert len(hits) == 3 and all("tax law" in (h.text or "") for h in hits)
    assert hits[0].score >= hits[1].score >= hits[2].score


def test_a_different_fingerprint_is_refused_on_write_before_anything_is_embedded(store: VectorStore) -> None:
    index_items(store, "docs", items(), provider=get_provider("fake:a"))
    for other in (FakeProvider("b"), FakeProvider("a", dimensions=32), FakeProvider("a", query_prefix="q: ")):
        if other.fingerprint("document").hash == get_provider("fake:a").fingerprint("document").hash:
            continue  # the query prefix does not change document vectors
        with pytest.raises(VectorSpaceMismatchError) as caught:
            index_items(store, "docs", items(["new text"]), provider=other)
        assert other.calls == []
        assert get_provider("fake:a").fingerprint("document").hash in str(caught.value)
        assert other.fingerprint("document").hash in str(caught.value)
    assert store.count("docs", 1) == 40


def test_a_different_fingerprint_is_refused_on_query_unless_overridden(store: VectorStore) -> None:
    index_items(store, "docs", items(), provider=get_provider("fake:a"))
    other = FakeProvider("b")
    with pytest.raises(VectorSpaceMismatchError, match="refusing to query"):
        search(store, "docs", "cats", provider=other)
    assert other.calls == []
    with pytest.warns(SpaceOverrideWarning, match="compares two vector spaces"):
        assert len(search(store, "docs", "cats", k=2, provider=other, override_fingerprint=True)) == 2


def test_unknown_collection_is_a_typed_error(store: VectorStore) -> None:
    with pytest.raises(CollectionNotFoundError, match="omnivec index"):
        search(store, "nothing_here", "x")


def test_migrate_switch_rollback_drop(store: VectorStore) -> None:
    index_items(store, "docs", items(), provider=get_provider("fake:a"))
    before = search(store, "docs", "rust code", k=5)
    report = migrate(store, "docs", "fake:b", dimensions=48)
    assert (report.count, report.target_version, report.problems) == (40, 2, [])
    assert store.alias("docs") == (1, None)  # migrate never changes what serves
    assert search(store, "docs", "rust code", k=5) == before
    switch(store, "docs")
    assert store.alias("docs") == (2, 1)
    after = search(store, "docs", "rust code", k=5)
    assert {h.id for h in after} != set() and after != before
    rollback(store, "docs")
    assert store.alias("docs") == (1, 2) and search(store, "docs", "rust code", k=5) == before
    switch(store, "docs", 2)
    assert drop(store, "docs") == [1]
    assert [v.version for v in store.versions("docs")] == [2] and store.alias("docs") == (2, None)
    assert search(store, "docs", "rust code", k=5) == after


def test_switch_catches_up_items_indexed_during_the_migration(store: VectorStore) -> None:
    index_items(store, "docs", items(), provider=get_provider("fake:a"))
    migrate(store, "docs", "fake:b")
    index_items(store, "docs", items([*TEXTS, "late arrival about pasta"]))  # still served by v1
    switch(store, "docs")
    assert store.count("docs", 2) == 41
    assert "id40" in {h.id for h in search(store, "docs", "late arrival about pasta", k=3)}


def test_a_resumed_migration_deletes_what_the_source_lost_meanwhile(store_url: str, store: VectorStore) -> None:
    # The delete pass lists the target's ids alone, in max(batch size, the store's lookup_ids): with a
    # batch size of 7, pgvector's 40 ids span 6 listings and lookups (the gone ones in 4); LanceDB's
    # lookup size of 10,000 takes them in one.
    index_items(store, "docs", items(), provider=get_provider("fake:a"))
    assert migrate(store, "docs", "fake:b").count == 40
    gone = ["id3", "id9", "id21", "id38"]
    store.delete("docs", 1, gone)
    small = open_store(store_url, batch_size=7)
    try:
        report = migrate(small, "docs", "fake:b")
    finally:
        small.close()
    assert (report.deleted, report.count, report.problems) == (4, 36, [])
    assert sorted(store.hashes("docs", 2, [f"id{i}" for i in range(40)])) == sorted(
        f"id{i}" for i in range(40) if f"id{i}" not in gone
    )


def test_failed_items_are_reported_by_id_and_the_rest_is_kept(store: VectorStore) -> None:
    index_items(store, "docs", items(), provider=get_provider("fake:a"))
    failing = FakeProvider("b", fail_items={TEXTS[7]: InvalidRequestError("rejected")}, max_batch_size=1)
    with pytest.raises(MigrationIncompleteError, match="id7") as caught:
        migrate(store, "docs", failing, cache=False)
    assert caught.value.failed_ids == ["id7"]
    assert store.count("docs", 2) == 39 and store.alias("docs") == (1, None)


def test_doctor_finds_non_unit_vectors_and_missing_sources(store: VectorStore) -> None:
    index_items(store, "docs", items(), provider=get_provider("fake:a"))
    assert doctor(store, "docs") == []
    own = store.versions("docs")[0].fingerprint
    store.upsert("docs", 1, [Row("bad", "h", None, None, {}, np.full(64, 0.5, dtype=np.float32))], fingerprint=own)
    problems = doctor(store, "docs")
    assert any("non-unit" in p for p in problems) and any("source" in p for p in problems)


def test_switch_is_atomic_under_concurrent_readers(store_url: str, store: VectorStore) -> None:
    index_items(store, "docs", items(), provider=get_provider("fake:a"))
    migrate(store, "docs", "fake:b", dimensions=40)
    expected = [[h.id for h in search(store, "docs", "dogs and cats", k=8, version=v)] for v in (1, 2)]
    assert expected[0] != expected[1]
    seen: list[list[str]] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def reader() -> None:
        own = open_store(store_url)
        try:
            while not done.is_set():
                seen.append([h.id for h in search(own, "docs", "dogs and cats", k=8)])
        except BaseException as exc:
            errors.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for thread in threads:
        thread.start()
    for _ in range(6):
        switch(store, "docs")
        rollback(store, "docs")
    done.set()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(seen) > 10
    assert all(result in expected for result in seen)


def test_the_store_url_picks_the_adapter(store: VectorStore, store_url: str) -> None:
    assert store.url == store_url and store.scheme in ("lancedb", "postgresql")
    with pytest.raises(Exception, match="unknown scheme"):
        open_store("mysql://nope")


def test_a_folder_of_texts_and_images_is_indexed_and_migrated_from_its_sources(
    store: VectorStore, tmp_path: Path
) -> None:
    pil = pytest.importorskip("PIL.Image")
    folder = tmp_path / "files"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("cats purr")
    (folder / "sub" / "b.md").write_text("dogs bark")
    pil.new("RGB", (8, 8), (200, 10, 10)).save(folder / "red.png")
    report = index_items(store, "files", read_source(folder), provider=get_provider("fake:a"))
    assert report.embedded == 3
    rows = {r.id: r for batch in store.scan("files", 1, 10) for r in batch}
    assert rows["red.png"].uri == f"file://{(folder / 'red.png').resolve()}" and rows["red.png"].text is None
    assert rows["sub/b.md"].text == "dogs bark"
    assert migrate(store, "files", "fake:b").count == 3
    assert doctor(store, "files") == []


def test_lone_surrogates_and_nul_are_stored_as_replacement_characters(store: VectorStore, tmp_path: Path) -> None:
    corpus = tmp_path / "odd.jsonl"
    corpus.write_text('{"_id": "s", "text": "half \\ud800 pair"}\n{"_id": "n", "text": "nul \\u0000 byte"}\n')
    report = index_items(store, "odd", read_source(corpus), provider=get_provider("fake:a"))
    assert report.embedded == 2
    texts = {r.id: r.text for batch in store.scan("odd", 1, 10) for r in batch}
    assert texts == {"s": "half \ufffd pair", "n": "nul \ufffd byte"}
    assert search(store, "odd", "half pair", k=1)[0].id == "s"


def test_switch_twice_is_one_switch_and_only_rollback_goes_back(store: VectorStore) -> None:
    index_items(store, "docs", items(), provider=get_provider("fake:a"))
    migrate(store, "docs", "fake:b", dimensions=48)
    assert switch(store, "docs").version == 2
    assert switch(store, "docs").version == 2 and store.alias("docs") == (2, 1)  # a retried deploy step
    assert [v.state for v in store.versions("docs")] == ["retired", "live"]
    assert rollback(store, "docs").version == 1 and store.alias("docs") == (1, 2)
    assert [v.state for v in store.versions("docs")] == ["live", "ready"]  # stepped back from, still complete
    assert switch(store, "docs").version == 2 and switch(store, "docs").version == 2
    assert store.alias("docs") == (2, 1)


def test_bad_api_arguments_are_typed_errors_before_any_write(store: VectorStore) -> None:
    with pytest.raises(ConfigurationError, match="URL string"):
        open_store(5)  # type: ignore[arg-type]  # AttributeError: 'int' object has no attribute 'url'
    with pytest.raises(InvalidInputError, match=r"items\[0\] is str, not a SourceItem"):
        index_items(store, "docs", ["plain text"], provider=get_provider("fake:a"))  # type: ignore[list-item]
    index_items(store, "docs", items(), provider=get_provider("fake:a"))
    for k in (0, -1, "3", 2.5, True):  # LanceDB: ValueError/TypeError from lancedb; pgvector: [] for k=0
        with pytest.raises(InvalidOptionError, match="k must be"):
            search(store, "docs", "cats", k=k)  # type: ignore[arg-type]
    with pytest.raises(InvalidOptionError, match="max_cost"):
        migrate(store, "docs", "fake:b", max_cost=-1)  # was MigrationIncompleteError 'stopped at the spend cap ($-1)'
    with pytest.raises(InvalidOptionError):
        migrate(store, "docs", "fake:b", dimensions=0)  # 0 read as 'not given': silently the default width
    with pytest.raises(InvalidOptionError, match="batch_size"):
        doctor(store, "docs", batch_size=0)  # read nothing and reported no problems
    assert [v.version for v in store.versions("docs")] == [1]


def test_a_closed_store_and_a_fingerprint_of_the_wrong_type_are_typed_errors(store_url: str) -> None:
    store = open_store(store_url)
    index_items(store, "docs", items(), provider=get_provider("fake:a"))
    provider = get_provider("fake:a")
    row = Row("z", content_key("z"), "z", None, {}, np.full(64, 0.125, dtype=np.float32))
    with pytest.raises(InvalidInputError, match="a fingerprint is a mapping"):
        store.upsert("docs", 1, [row], fingerprint=provider.fingerprint)  # type: ignore[arg-type]  # AttributeError
    store.close()
    if store.scheme == "postgresql":  # LanceDB reopens its tables; psycopg raised a bare OperationalError
        with pytest.raises(StoreError, match="was closed"):
            search(store, "docs", "cats")
    store.close()  # twice is fine


def test_a_second_rollback_never_goes_forward(store: VectorStore) -> None:
    index_items(store, "docs", items(), provider=get_provider("fake:a"))
    migrate(store, "docs", "fake:b", dimensions=48)
    switch(store, "docs")
    assert rollback(store, "docs").version == 1
    with pytest.raises(CollectionNotFoundError, match="already rolled back to v1"):
        rollback(store, "docs")  # it flipped to v2, and the next switch then went back to v1
    assert store.alias("docs") == (1, 2) and switch(store, "docs").version == 2
    migrate(store, "docs", "fake:c", dimensions=40)
    switch(store, "docs")  # v1 retired, v2 retired, v3 live
    assert rollback(store, "docs").version == 2 and rollback(store, "docs").version == 1  # back, then further back
    assert switch(store, "docs").version == 3  # forward: the newest ready


def test_a_switch_cut_off_between_its_writes_is_found_and_repaired_by_doctor(store: VectorStore) -> None:
    index_items(store, "docs", items(), provider=get_provider("fake:a"))
    migrate(store, "docs", "fake:b", dimensions=48)
    store.set_alias("docs", 2, 1)  # what a crash after the alias write and before the states left
    found = doctor(store, "docs")
    assert any("v2: serves but is in state 'ready'" in p for p in found)
    assert any("v1: does not serve but is in state 'live'" in p for p in found)
    assert all("repaired" in p for p in doctor(store, "docs", repair=True))
    assert doctor(store, "docs") == [] and [v.state for v in store.versions("docs")] == ["retired", "live"]
    assert switch(store, "docs").version == 2 and rollback(store, "docs").version == 1


def test_the_flip_writes_alias_and_states_in_one_commit(store: VectorStore, store_url: str) -> None:
    index_items(store, "docs", items(), provider=get_provider("fake:a"))
    migrate(store, "docs", "fake:b", dimensions=48)
    if store.scheme == "lancedb":
        import lancedb

        catalog = lancedb.connect(store_url.removeprefix("lancedb://")).open_table("_omnivec_versions")
        before = catalog.version
        store.flip("docs", 2, 1, "retired")
        catalog.checkout_latest()
        assert catalog.version == before + 1  # one commit: a kill lands before or after it, never inside
    else:
        import psycopg

        with psycopg.connect(store_url, autocommit=True) as conn:  # the state write fails after the alias write
            conn.execute(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                " IF NEW.state = 'live' THEN RAISE EXCEPTION 'cut off'; END IF; RETURN NEW; END $$"
            )
            conn.execute("CREATE TRIGGER cut BEFORE UPDATE ON omnivec_versions FOR EACH ROW EXECUTE FUNCTION refuse()")
        with pytest.raises(psycopg.Error, match="cut off"):
            store.flip("docs", 2, 1, "retired")
        assert store.alias("docs") == (1, None)  # the alias write was rolled back with it
    assert doctor(store, "docs") == []
