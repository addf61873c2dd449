"""Malformed or awkward datasets: one-line DatasetError naming file and line; blank items skipped and
counted with trec_eval semantics; `"text": null` never embedded as "None"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import pytrec_eval

from omnivec.benchmarks import BenchConfig, DatasetError, run_benchmark
from omnivec.benchmarks.datasets import load_tasks
from omnivec.benchmarks.metrics import evaluate
from omnivec.providers.errors import InputError

CORPUS = [
    {"_id": "d1", "title": "Cats", "text": "cats purr and sleep"},
    {"_id": "d2", "title": "Dogs", "text": "dogs bark at the mail"},
    {"_id": "d3", "title": "", "text": "fish swim in water"},
]
QUERIES = [{"_id": "q1", "text": "do cats purr"}, {"_id": "q2", "text": "why do dogs bark"}]
QRELS = "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t2\n"


def make_set(root: Path, corpus: object = None, queries: object = None, qrels: str | bytes = QRELS) -> Path:
    """A BEIR folder; list arguments become JSON Lines, str/bytes are written as they are."""
    (root / "qrels").mkdir(parents=True, exist_ok=True)
    for name, content in (
        ("corpus.jsonl", CORPUS if corpus is None else corpus),
        ("queries.jsonl", QUERIES if queries is None else queries),
        ("qrels/test.tsv", qrels),
    ):
        if isinstance(content, list):
            content = "".join(json.dumps(row) + "\n" for row in content)
        path = root / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())  # type: ignore[union-attr]
    return root


BAD = {
    "bad JSONL line": (
        dict(corpus='{"_id": "d1", "text": "ok"}\n{"_id": "d2", "text": \n'),
        "corpus.jsonl:2",
        "not valid JSON",
    ),
    "JSON array": (dict(corpus=json.dumps(CORPUS, indent=1)), "corpus.jsonl:1", "JSON array"),
    "JSON array on one line": (dict(corpus=json.dumps(CORPUS)), "corpus.jsonl:1", "one object per line"),
    "missing _id": (dict(queries=[{"_id": "q1", "text": "a"}, {"text": "b"}]), "queries.jsonl:2", "'_id'"),
    "duplicate _id": (dict(corpus=[*CORPUS, CORPUS[0]]), "corpus.jsonl:4", "duplicate _id 'd1'"),
    "non-string text": (dict(corpus=[{"_id": "d1", "text": 3}]), "corpus.jsonl:1", "'text' must be a string"),
    "qrels with no header": (dict(qrels="q1\td1\t1\n"), "test.tsv:1", "header"),
    "non-integer score": (dict(qrels=QRELS + "q1\td2\thigh\n"), "test.tsv:4", "'high' is not an integer"),
    "2 columns": (dict(qrels=QRELS + "q1\td2\n"), "test.tsv:4", "got 2"),
    "space-separated": (dict(qrels="query-id corpus-id score\nq1 d1 1\n"), "test.tsv:1", "header"),
    "invalid UTF-8": (dict(corpus=b'{"_id": "d1", "text": "caf\xe9"}\n'), "corpus.jsonl:1", "not valid UTF-8"),
    "lone surrogate": (dict(corpus='{"_id": "d1", "text": "bad \\ud800 text"}\n'), "corpus.jsonl:1", "surrogate"),
    "empty qrels": (dict(qrels=""), "test.tsv", "empty"),
    "empty corpus": (dict(corpus=""), "corpus.jsonl", "no documents"),
    "qrels matching no query": (
        dict(qrels="query-id\tcorpus-id\tscore\nx1\td1\t1\n"),
        "test.tsv",
        "none of its 1 query ids",
    ),
    "qrels matching no document": (
        dict(qrels="query-id\tcorpus-id\tscore\nq1\tzz\t1\n"),
        "test.tsv",
        "none of its corpus ids",
    ),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_malformed_data_is_one_line_naming_file_and_line(tmp_path: Path, case: str) -> None:
    files, where, what = BAD[case]
    root = make_set(tmp_path / "set", **files)  # type: ignore[arg-type]
    with pytest.raises(DatasetError) as info:
        load_tasks(root)
    message = str(info.value)
    assert "\n" not in message and where in message and what in message, message
    assert isinstance(info.value, InputError)


def test_a_missing_file_or_split_is_a_dataset_error(tmp_path: Path) -> None:
    root = make_set(tmp_path / "set")
    (root / "queries.jsonl").unlink()
    with pytest.raises(DatasetError, match=r"queries\.jsonl: cannot read"):
        load_tasks(root)
    with pytest.raises(DatasetError, match="choose a --split that exists \\(test\\)"):
        load_tasks(make_set(tmp_path / "other"), split="dev")


def test_null_text_is_empty_not_none(tmp_path: Path) -> None:
    corpus = [
        {"_id": "d1", "title": None, "text": "cats purr"},
        {"_id": "d2", "title": "Dogs", "text": None},
        {"_id": "d3", "text": "fish"},
    ]
    (task,) = load_tasks(make_set(tmp_path, corpus=corpus))
    assert dict(task.corpus) == {"d1": "cats purr", "d2": "Dogs", "d3": "fish"}
    assert not any("None" in text for text in task.corpus.values())


def test_blank_items_are_skipped_counted_and_still_judged(tmp_path: Path) -> None:
    corpus = [*CORPUS, {"_id": "d4", "title": None, "text": "  "}, {"_id": "d5", "title": "", "text": "\u200b\x00"}]
    queries = [*QUERIES, {"_id": "q3", "text": " "}]
    qrels = QRELS + "q1\td4\t1\nq3\td3\t1\n"
    (task,) = load_tasks(make_set(tmp_path, corpus=corpus, queries=queries, qrels=qrels))
    assert task.blank_documents == ("d4", "d5") and task.blank_queries == ("q3",)
    assert set(task.corpus) == {"d1", "d2", "d3"} and set(task.queries) == {"q1", "q2"}
    assert task.qrels["q1"] == {"d1": 1, "d4": 1}  # the blank document stays judged
    run = {"q1": {"d1": 0.9, "d3": 0.1}, "q2": {"d2": 0.8}}
    ours = evaluate(run, task.qrels, (10,))
    theirs = pytrec_eval.RelevanceEvaluator(task.qrels, {"recall.10", "ndcg_cut.10"}).evaluate(run)
    assert ours["q1"]["recall@10"] == theirs["q1"]["recall_10"] == 0.5  # d4 counts in the denominator
    assert ours["q1"]["ndcg@10"] == pytest.approx(theirs["q1"]["ndcg_cut_10"])


async def test_the_benchmark_reports_blank_items(tmp_path: Path) -> None:
    corpus = [*CORPUS, {"_id": "d4", "text": ""}]
    root = make_set(tmp_path / "set", corpus=corpus, qrels=QRELS + "q1\td4\t1\n")
    result = await run_benchmark(BenchConfig(datasets=[str(root)], providers=["fake"], cache=None, latency_queries=1))
    info = result.manifest.datasets["set"]
    assert info.blank_documents == ["d4"] and info.corpus == 3
    fake = result.run("fake", "set")
    assert fake.quality.scores["recall@100"] == 0.75  # q1 can find 1 of 2 judged documents, q2 all
    assert result.run("bm25", "set").quality.scores["recall@100"] == 0.75


async def test_baseline_naming_no_row_fails_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="baseline 'nope' names no row; rows: bm25, fake") as info:
        await run_benchmark(BenchConfig(providers=["fake"], baseline="nope", cache=tmp_path / "c.sqlite"))
    assert "\n" not in str(info.value)
    assert not (tmp_path / "c.sqlite").exists()  # nothing was embedded or cached


async def test_an_input_the_provider_refuses_names_dataset_and_id(tmp_path: Path) -> None:
    from omnivec.benchmarks.runner import run_task
    from omnivec.providers.testing import FakeProvider

    corpus = [*CORPUS, {"_id": "long-one", "text": "word " * 40}]
    (task,) = load_tasks(make_set(tmp_path / "set", corpus=corpus))
    with pytest.raises(DatasetError) as info:
        await run_task(
            FakeProvider(max_input_chars=100), task, label="fake", config=BenchConfig(), cache=None, emulated=False
        )
    message = str(info.value)
    assert message.startswith("set: document 'long-one': inputs[")
    assert "takes at most 100" in message and "\n" not in message
