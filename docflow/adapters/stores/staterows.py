"""The run state's rows as every store adapter keeps them: the typed ledger, run and export
schemas and the conversions between those rows and the port's types, so two stores record and
read back the same thing."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

import pyarrow as pa

from docflow.core.models import DocOutcome, DocRef, DocStatus, ErrorClass, LedgerEntry, StageTimings, Target
from docflow.ports.state import LEDGER_COLUMNS

LEDGER_SCHEMA = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("fingerprint", pa.string()),
        pa.field("content_sha256", pa.string()),
        pa.field("size", pa.int64()),
        # The cheap version of those bytes (docflow.core.versions): what discovery compares to decide
        # whether a document must be read again.
        pa.field("mtime_ns", pa.int64()),
        pa.field("ctime_ns", pa.int64()),
        pa.field("inode", pa.int64()),
        pa.field("observed_ns", pa.int64()),
        pa.field("source_version", pa.string()),
        pa.field("source_path", pa.string()),
        pa.field("doc_type", pa.string()),
        pa.field("status", pa.string()),
        pa.field("stage", pa.string()),
        pa.field("error_class", pa.string()),
        pa.field("error_message", pa.string()),
        pa.field("attempts", pa.int32()),
        pa.field("chunk_count", pa.int32()),
        pa.field("parse_s", pa.float64()),
        pa.field("chunk_s", pa.float64()),
        pa.field("embed_s", pa.float64()),
        pa.field("write_s", pa.float64()),
        pa.field("run_id", pa.string()),
        pa.field("updated_at", pa.timestamp("us", tz="UTC")),
    ]
)
assert tuple(LEDGER_SCHEMA.names) == LEDGER_COLUMNS

RUNS_SCHEMA = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("flow_run_id", pa.string()),
        pa.field("started_at", pa.timestamp("us", tz="UTC")),
        pa.field("finished_at", pa.timestamp("us", tz="UTC")),
        pa.field("outcome", pa.string()),
        pa.field("summary_json", pa.string()),
    ]
)

HISTORY_SCHEMA = pa.schema(
    [
        pa.field("export_id", pa.string(), nullable=False),
        pa.field("started_at", pa.timestamp("us", tz="UTC")),
        pa.field("duration_s", pa.float64()),
        pa.field("table", pa.string()),
        pa.field("version", pa.int64()),
        pa.field("out_dir", pa.string()),
        pa.field("format", pa.string()),
        pa.field("rows", pa.int64()),
        pa.field("parts_written", pa.int32()),
        pa.field("parts_reused", pa.int32()),
    ]
)



def ledger_rows(entries: Sequence[LedgerEntry], run_id: str) -> pa.Table:
    now = datetime.now(UTC)
    rows = []
    for entry in entries:
        doc, outcome = entry.doc, entry.outcome
        rows.append(
            {
                "doc_id": doc.doc_id,
                "fingerprint": doc.fingerprint,
                "content_sha256": doc.content_sha256,
                "size": doc.size,
                "mtime_ns": doc.mtime_ns,
                "ctime_ns": doc.ctime_ns,
                "inode": doc.inode,
                "observed_ns": doc.observed_ns,
                "source_version": doc.version,
                "source_path": doc.path,
                "doc_type": doc.doc_type,
                "status": outcome.status.value,
                "stage": outcome.stage,
                "error_class": outcome.error_class.value if outcome.error_class else None,
                "error_message": outcome.error_message,
                "attempts": outcome.attempts,
                "chunk_count": outcome.chunk_count,
                "parse_s": outcome.timings.parse_s,
                "chunk_s": outcome.timings.chunk_s,
                "embed_s": outcome.timings.embed_s,
                "write_s": outcome.timings.write_s,
                "run_id": run_id,
                "updated_at": now,
            }
        )
    return pa.Table.from_pylist(rows, schema=LEDGER_SCHEMA)


def outcome_of(row: dict) -> DocOutcome:
    """The outcome a ledger row recorded, as the batch that wrote it had it."""
    return DocOutcome(
        doc_id=row["doc_id"],
        fingerprint=row["fingerprint"],
        status=DocStatus(row["status"]),
        chunk_count=row["chunk_count"] or 0,
        attempts=row["attempts"] or 0,
        stage=row["stage"] or "",
        error_class=ErrorClass(row["error_class"]) if row["error_class"] else None,
        error_message=row["error_message"] or "",
        size=row["size"] or 0,
        timings=StageTimings(
            row["parse_s"] or 0.0, row["chunk_s"] or 0.0, row["embed_s"] or 0.0, row["write_s"] or 0.0
        ),
    )


VERSION_FIELDS = ("doc_id", "mtime_ns", "ctime_ns", "inode", "observed_ns", "source_version")


def version_rows(docs: Sequence[DocRef]) -> pa.Table:
    """The ledger columns a touch refreshes (docflow.core.versions), one row per document."""
    return pa.Table.from_pylist(
        [{"doc_id": d.doc_id, "mtime_ns": d.mtime_ns, "ctime_ns": d.ctime_ns, "inode": d.inode,
          "observed_ns": d.observed_ns, "source_version": d.version} for d in docs],
        schema=pa.schema([LEDGER_SCHEMA.field(name) for name in VERSION_FIELDS]),
    )


def run_row(run_id: str, flow_run_id: str, started_at: datetime, outcome: str, summary: dict) -> pa.Table:
    row = {
        "run_id": run_id,
        "flow_run_id": flow_run_id,
        "started_at": started_at,
        "finished_at": datetime.now(UTC),
        "outcome": outcome,
        "summary_json": json.dumps(summary, sort_keys=True),
    }
    return pa.Table.from_pylist([row], schema=RUNS_SCHEMA)


def table_names(target: Target) -> tuple[str, str, str]:
    """The ledger, runs and exports tables of a chunk table."""
    return f"{target.table}_ledger", f"{target.table}_runs", f"{target.table}_exports"
