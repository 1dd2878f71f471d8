"""A run with a few documents to process runs its batches in the flow's own process, so the
first search hit of a small ingest does not wait for a cluster; more documents, or an address,
still go to Dask. Real Prefect server, real local cluster, the real model, real tables."""

import pytest

from docflow.core.process import worker_label
from docflow.core.settings import DocflowSettings
from docflow.core.summary import discrepancies
from docflow.service import runs, tables
from tests import docbuilders as b
from tests.flows.support import assert_exact

pytestmark = pytest.mark.e2e

HERE = worker_label()


def _corpus(root, n: int) -> set[str]:
    root.mkdir()
    names = {f"doc{i}.md" for i in range(n)}
    for name in names:
        b.make_md(root / name, topic=f"Topic of {name}")
    return names


def _ingest(settings: DocflowSettings, root) -> dict:
    summary = runs.ingest(settings, [str(root)]).summary
    assert summary["outcome"] == "completed" and not discrepancies(summary), summary
    return summary


def test_a_few_documents_run_in_this_process_and_more_on_a_local_cluster(prefect_api, tmp_path, monkeypatch):
    names = _corpus(tmp_path / "src", 3)
    db = tmp_path / "db"
    settings = DocflowSettings(home=tmp_path, db=str(db))
    # The flow builds its settings from its parameters over the environment, as a deployment run does.
    monkeypatch.setenv("DOCFLOW_IN_PROCESS_MAX_DOCS", "3")

    small = _ingest(settings, tmp_path / "src")
    assert small["documents_processed"] == 3
    assert set(small["worker_peak_rss_mb"]) == {HERE}, "three documents should not start a cluster"
    timeline = small["timeline_s"]
    assert 0 < timeline["planned"] <= timeline["first_batch"] <= timeline["batches_done"] <= small["elapsed_s"]
    assert_exact(db, names)

    monkeypatch.setenv("DOCFLOW_IN_PROCESS_MAX_DOCS", "2")
    clustered = _ingest(settings.model_copy(update={"table": "clustered"}), tmp_path / "src")
    workers = set(clustered["worker_peak_rss_mb"])
    assert clustered["documents_processed"] == 3 and workers and HERE not in workers

    # Both paths wrote the same vectors: the same top hit with the same score.
    def top(table: str):
        hit = tables.search(settings.model_copy(update={"table": table}), "Topic of doc1.md", 1, None)[0]
        return hit["doc_id"], round(hit["score"], 4)

    assert top("chunks") == top("clustered") and top("chunks")[0] == "doc1.md"
