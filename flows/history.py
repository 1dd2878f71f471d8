"""Recent ingest runs, read back from the Prefect API with the summary each run published."""

from __future__ import annotations

import json

from flows.report import SUMMARY_ARTIFACT_KEY

INGEST_FLOW_NAME = "docflow-ingest"


def recent_ingest_runs(limit: int = 10) -> list[dict]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterKey,
        FlowFilter,
        FlowFilterName,
    )
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[INGEST_FLOW_NAME])),
            sort=FlowRunSort.START_TIME_DESC,
            limit=limit,
        )
        result = []
        for run in runs:
            artifacts = client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]),
                    key=ArtifactFilterKey(any_=[SUMMARY_ARTIFACT_KEY]),
                ),
                limit=1,
            )
            result.append(
                {
                    "flow_run_id": str(run.id),
                    "name": run.name,
                    "state": run.state.type.value if run.state else "UNKNOWN",
                    "start_time": run.start_time.isoformat() if run.start_time else None,
                    "duration_s": round(run.total_run_time.total_seconds(), 1)
                    if run.total_run_time
                    else None,
                    "parameters": run.parameters,
                    "summary": summary_from_artifact(artifacts[0].data) if artifacts else {},
                }
            )
    return result


def summary_from_artifact(data) -> dict:
    rows = json.loads(data) if isinstance(data, str) else data
    return {row["counter"]: json.loads(row["value"]) for row in rows or []}
