"""``omnivec compare``: old vs new version on the user's own queries, with and without qrels."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from omnivec.benchmarks.collection_compare import compare_versions
from omnivec.providers import get_provider
from omnivec.providers.cache import content_key
from omnivec.providers.cli import app, attach_commands
from omnivec.providers.stores import SourceItem, index_items, migrate, open_store

TOPICS = ["cats and kittens", "tax law and courts", "rust code and compilers", "pasta and sauces"]


def test_compare_reports_agreement_metrics_latency_and_cost(tmp_path: Path) -> None:
    url = f"lancedb://{tmp_path / 'lance'}"
    store = open_store(url, cache=None)
    try:
        docs = [
            SourceItem(f"d{i}", content_key(t), t)
            for i, t in enumerate(f"note {i} about {TOPICS[i % 4]}" for i in range(40))
        ]
        index_items(store, "notes", docs, provider=get_provider("fake:a"))
        migrate(store, "notes", "fake:b", dimensions=32)
        queries = tmp_path / "q.jsonl"
        queries.write_text("\n".join(json.dumps({"_id": f"q{n}", "text": topic}) for n, topic in enumerate(TOPICS)))
        qrels = tmp_path / "qrels.tsv"
        qrels.write_text(
            "query-id\tcorpus-id\tscore\n" + "".join(f"q{n}\td{i}\t1\n" for n in range(4) for i in range(n, 40, 4))
        )
        plain = compare_versions(store, "notes", k=5, sample=10)
        assert plain["queries"] == 10 and 0.0 <= plain["agreement"]["overlap@5"] <= 1.0
        judged = compare_versions(store, "notes", queries_file=queries, qrels_file=qrels, k=5)
        ndcg = judged["metrics"]["ndcg@5"]
        assert 0.0 <= ndcg["old"] <= 1.0 and 0.0 <= ndcg["new"] <= 1.0 and 0.0 < ndcg["p_value"] <= 1.0
        assert judged["versions"]["old"]["model"] == "fake:a" and judged["versions"]["new"]["model"] == "fake:b"
        assert judged["versions"]["new"]["cost_per_1k_queries_usd"] == 0.0
    finally:
        store.close()
    attach_commands()
    result = CliRunner().invoke(app, ["compare", "notes", "--store", url, "--queries", str(queries), "-k", "3"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["agreement"]["overlap@3"] >= 0.0
    missing = CliRunner().invoke(app, ["compare", "nothing", "--store", url])
    assert missing.exit_code == 2 and missing.stderr.startswith("error:")
