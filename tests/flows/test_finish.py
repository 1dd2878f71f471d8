"""Every exit of a run ends the same way: a bad block name (resolved inside the classified
path) still returns the summary in the Failed state, publishes the report and writes nothing."""

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

from flows.finish import summary_of
from flows.ingest import ingest

pytestmark = pytest.mark.usefixtures("prefect_api")


def test_an_unknown_block_name_is_refused_with_its_report_and_nothing_written(tmp_path):
    db = tmp_path / "db"
    state = ingest(source="no-such-source", db=str(db), table="refused", return_state=True)
    assert state.is_failed() and state.message.startswith("refused: ")
    assert "no-such-source" in state.message
    summary = summary_of(state)
    assert summary["outcome"] == "failed" and "no-such-source" in summary["reason"]
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(state.state_details.flow_run_id)
        keys = {a.key for a in client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id])))}
    assert "docflow-ingest-refused-report" in keys and "docflow-ingest-refused-summary" in keys
    assert not db.exists(), "a refused run created tables"
