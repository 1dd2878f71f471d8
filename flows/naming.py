"""Names and tags that say in the Prefect UI what a run does.

Flow runs are named from their parameters by Prefect's `flow_run_name` (`ingest chunks ← docs/
(3 paths)`), batches by `task_run_name` at submission (`batch 12: 16 docs, first a.pdf`) and
renamed when documents in them failed (a batch whose documents fail still completes: the
failures are recorded, not raised). Tags are added once the run has resolved its table: the
table's name, and "scheduled" only on runs a schedule created."""

from __future__ import annotations

import os
from collections.abc import Sequence

from docflow.core.models import DocRef
from docflow.core.settings import DocflowSettings

MAX_NAME_PART = 40


def run_name(verb: str, table: str, paths: Sequence[str], source: str | None) -> str:
    """`ingest chunks ← docs/ (3 paths)`; block names stand for what they resolve to."""
    if paths:
        what = _short(paths[0]) + (f" ({len(paths)} paths)" if len(paths) > 1 else "")
    else:
        what = f"source block {source}" if source else "(no paths)"
    return f"{verb} {table} ← {what}"


def _short(path: str) -> str:
    stripped = path.rstrip("/")
    name = stripped.rsplit("/", 1)[-1] or path
    if path.endswith("/") or os.path.isdir(path):
        name += "/"
    return name if len(name) <= MAX_NAME_PART else "…" + name[-MAX_NAME_PART:]


def flow_run_name() -> str:
    """Prefect's `flow_run_name` callable for the ingest and sync flows (their parameters)."""
    from prefect.runtime import flow_run

    params = flow_run.parameters
    if params.get("table"):
        table = params["table"]
    elif params.get("target"):
        table = f"target {params['target']}"
    else:  # until the run has resolved its settings: tag_run names the table it resolved
        table = DocflowSettings.model_fields["table"].default
    return _named(flow_run.flow_name, params, table)


def _named(flow_name: str, params: dict, table: str) -> str:
    return run_name(flow_name.removeprefix("docflow-"), table, params.get("paths") or (), params.get("source"))


def batch_name(index: int, batch: Sequence[DocRef]) -> str:
    first = batch[0].doc_id.rsplit("/", 1)[-1]
    count = f"{len(batch)} doc" + ("" if len(batch) == 1 else "s")
    return f"batch {index}: {count}, first {first}"


def failed_batch_name(name: str, failed: int, total: int) -> str:
    return f"{name}; {failed} of {total} failed"


def run_tags(existing: Sequence[str], table: str, auto_scheduled: bool) -> list[str]:
    tags = [t for t in existing if t != "scheduled" and not t.startswith("table:")]
    tags.append(f"table:{table}")
    if auto_scheduled:
        tags.append("scheduled")
    return tags


def tag_run(table: str, logger) -> None:
    """Add the run's dynamic tags, and name the resolved table where the parameters named
    none; a run outside Prefect's API (or with the API gone) goes on."""
    from prefect.client.orchestration import get_client
    from prefect.runtime import flow_run

    run_id = flow_run.get_id()
    if run_id is None:
        return
    params = flow_run.parameters
    name = None if params.get("table") or params.get("target") else _named(flow_run.flow_name, params, table)
    try:
        with get_client(sync_client=True) as client:
            run = client.read_flow_run(run_id)
            client.update_flow_run(run_id, name=name, tags=run_tags(run.tags, table, run.auto_scheduled))
    except Exception as exc:  # noqa: BLE001 - tags are a display aid
        logger.warning("could not tag the flow run: %s", exc)


def rename_task_run(task_run_id, name: str) -> None:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        client.set_task_run_name(task_run_id, name)
