"""Recent ingest runs, read back from the Prefect API with the summary each run published."""

from __future__ import annotations

from docflow.core.summary import RunCounters

INGEST_FLOW_NAME = "docflow-ingest"


def recent_ingest_runs(limit: int = 10) -> list[dict]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterType,
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
            artifacts = [
                a
                for a in client.read_artifacts(
                    artifact_filter=ArtifactFilter(
                        flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]),
                        type=ArtifactFilterType(any_=["table"]),
                    )
                )
                if (a.key or "").endswith("-summary")
            ]
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
                    # A retried run publishes once per attempt: the last one counts.
                    "summary": summary_from_artifact(max(artifacts, key=lambda a: a.created).data)
                    if artifacts
                    else {},
                }
            )
    return result


def summary_from_artifact(data) -> dict:
    """The summary back from `flows.report.summary_rows`; which counters are nested comes
    from a fresh summary's shape."""
    import json

    rows = json.loads(data) if isinstance(data, str) else data
    nested = {k for k, v in RunCounters().as_dict().items() if isinstance(v, dict)}
    summary: dict = {}
    for row in rows or []:
        key, _, sub = row["counter"].partition(".")
        if key in nested:
            summary.setdefault(key, {})
            if sub:
                summary[key][sub] = row["value"]
        else:
            summary[key] = row["value"]
    return summary
