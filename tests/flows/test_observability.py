"""A real run's artifacts and run history, read back through the Prefect API."""

import json
import shutil

import pytest

from flows.report import artifact_key
from docflow.adapters.embedders.sentence_transformers import default_model_path
from tests import docbuilders as b

pytestmark = pytest.mark.e2e

FAILURES_ARTIFACT_KEY = artifact_key("ingest", "chunks", "failures")
REPORT_ARTIFACT_KEY = artifact_key("ingest", "chunks", "report")


@pytest.fixture
def cli(warm_cli):
    """These flows run on the session's warm Dask cluster, by address."""
    return warm_cli


def artifacts_of(flow_run_id: str) -> dict[str, list]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    by_kind: dict[str, list] = {}
    for artifact in found:
        by_kind.setdefault(artifact.type, []).append(artifact)
    return by_kind


def latest_run(cli) -> dict:
    runs = cli("runs", "--json", "-n", "1")
    assert runs.returncode == 0, runs.stderr[-2000:]
    return json.loads(runs.stdout)["runs"][0]


def test_progress_failures_table_and_report_are_published(cli, tmp_path):
    src, db = tmp_path / "src", tmp_path / "db"
    b.make_corpus(src, 5, kinds=("txt", "md", "html"))
    b.make_corrupt_pdf(src / "broken.pdf")
    b.make_encrypted_pdf(src / "locked.pdf")
    result = cli("ingest", str(src), "--db", str(db), "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)

    run = latest_run(cli)
    assert run["state"] == "COMPLETED"
    assert run["summary"]["documents_processed"] == summary["documents_processed"] == 5
    artifacts = artifacts_of(run["flow_run_id"])

    (progress,) = artifacts["progress"]
    assert progress.data == 100.0 and progress.key == artifact_key("ingest", "chunks", "progress")
    assert progress.description.startswith("ingest chunks: 5 done, 2 failed of 7 documents to process")

    tables = {a.key: a for a in artifacts["table"]}
    failures = json.loads(tables[FAILURES_ARTIFACT_KEY].data)
    assert {(f["doc_id"], f["error_class"]) for f in failures} == {("broken.pdf", "parse"), ("locked.pdf", "parse")}
    assert {f["attempts"] for f in failures} == {2}

    (report,) = [a for a in artifacts["markdown"] if a.key == REPORT_ARTIFACT_KEY]
    for key in ("documents_total", "documents_processed", "documents_skipped", "documents_failed",
                "chunks_written", "cache_hits", "cache_misses", "elapsed_s", "docs_per_s"):
        assert f"| {key} | {summary[key]} |" in report.data
    assert "--retry-failed" in report.data and "## Peak memory of the workers" in report.data


def test_a_run_stopped_by_a_system_error_still_reports(cli, tmp_path):
    """A model directory whose weights are garbage: every worker's first batch fails to load
    it, which is a system error (bad configuration) that must stop the run cleanly."""
    src, db, model = tmp_path / "src", tmp_path / "db", tmp_path / "model"
    b.make_corpus(src, 4)
    shutil.copytree(default_model_path(), model)
    (model / "model.safetensors").write_bytes(b"not a tensor file")
    result = cli("ingest", str(src), "--db", str(db), "--model", str(model), "--json")
    assert result.returncode == 1
    summary = json.loads(result.stdout)
    assert summary["outcome"] == "failed" and summary["reason"].startswith("system error")
    # The reason names the model and what is wrong with it, whichever backend tried to load it
    # (a new table's default builds the ONNX files from these weights first).
    assert f"{model}: SafetensorError" in result.stderr
    run = latest_run(cli)
    assert run["state"] == "FAILED"
    report = [a for a in artifacts_of(run["flow_run_id"])["markdown"] if a.key == REPORT_ARTIFACT_KEY]
    assert report and "**Stopped:** system error" in report[0].data
