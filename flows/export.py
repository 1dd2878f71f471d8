"""The export flow: a pinned-version snapshot of a chunk table, with progress and history.

Export is I/O bound and reads one table, so it runs in the flow process (no Dask); the work is
the store's (a store with pinned versions: docflow.ports.store.Snapshots); this module only adds
what a person watches: a progress artifact, log lines, a report artifact and the export history
row."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from pydantic import Field

from blocks.resolve import confine
from docflow.core.settings import PART_ROWS, DocflowSettings
from flows import orphans
from flows.observers import current
from flows.params import Store, Table
from flows.progress import ArtifactFeed, ProgressEvent
from docflow.adapters.stores import open_state, open_store, target_of, with_store_defaults
from docflow.adapters.stores.reports import export_reports, record_export
from docflow.ports.store import snapshots


@flow(name="docflow-export", persist_result=False, validate_parameters=True)
def export(
    out: Annotated[str, Field(min_length=1)],
    db: str | None = None,
    table: Table = None,
    format: Literal["parquet", "jsonl"] = "parquet",
    version: Annotated[int | None, Field(ge=1)] = None,
    with_reports: bool = False,
    part_rows: Annotated[int, Field(ge=1, le=1_000_000)] = PART_ROWS,
    store: Store = None,
) -> dict:
    """Export a consistent snapshot of a chunk table (text, vectors, metadata) to a directory.

    Args:
        out: Directory to write; an interrupted export into the same directory resumes.
        db: The store's database URI; default DOCFLOW_DB or the default database.
        table: Chunk table; default DOCFLOW_TABLE or chunks.
        format: parquet (default) or jsonl.
        version: Table version to export; default: the version current when the export starts.
        with_reports: Also write the ledger (CSV) and the run history (JSON).
        part_rows: Rows per part file (bounds memory).
        store: The store adapter's registered name; default DOCFLOW_STORE or the default store.
            Export needs one with pinned versions.
    """
    logger = get_run_logger()
    settings = with_store_defaults(DocflowSettings(**{k: v for k, v in {"db": db, "table": table, "store": store}.items() if v}))
    confine([("database", settings.db), ("export directory", out)], settings)
    orphans.track(settings.home, logger)
    started_at, started = datetime.now(UTC), time.monotonic()
    feed = ArtifactFeed(f"export of {settings.table}", logger)
    on_event = current().progress

    def on_part(done: int, parts: int) -> None:
        percent = 100.0 * done / parts
        feed.set(percent)
        logger.info("export: part %d of %d written", done, parts)
        event = ProgressEvent(percent, done, 0, 0, parts, parts, done / max(1e-9, time.monotonic() - started), None)
        if on_event is not None:
            on_event(event)

    target = target_of(settings)
    source = snapshots(open_store(target), "export")
    state = open_state(target)
    try:
        result = source.export(out, format, version, part_rows, on_part)
    finally:
        feed.close()
    reports = export_reports(state, out) if with_reports else []
    duration = time.monotonic() - started
    export_id = str(uuid.uuid4())
    record_export(state, result, export_id, started_at, duration)
    summary = {
        "export_id": export_id,
        "out_dir": out,
        "table": result.table,
        "version": result.version,
        "rows": result.rows,
        "parts_written": result.parts_written,
        "parts_reused": result.parts_reused,
        "reports": reports,
        "elapsed_s": round(duration, 3),
        "rows_per_s": round(result.rows / duration, 1) if duration > 0 else 0.0,
    }
    try:
        create_markdown_artifact(
            markdown="# docflow export\n\n| field | value |\n|---|---|\n"
            + "".join(f"| {k} | {v} |\n" for k, v in summary.items()),
            key="docflow-export-report",
            description=f"{result.rows} rows of {result.table} v{result.version}",
        )
    except Exception as exc:  # noqa: BLE001 - the snapshot is written; the report is extra
        logger.warning("could not publish the export report: %s", exc)
    logger.info("export summary: %s", summary)
    return summary
