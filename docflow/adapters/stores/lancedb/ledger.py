"""The ledger: one durable row per document with its last outcome, beside the chunk table.

It answers "what is done, what failed and why" (`docflow status`), drives `--retry-failed`,
and remembers runs. It lives in the same LanceDB database as the chunks, so a backup or a
deletion of the database carries both."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa

from docflow.core.models import DocOutcome, DocRef, DocStatus, ErrorClass, StageTimings
from docflow.core.versions import LEDGER_COLUMNS, RecordedVersions

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


@dataclass(frozen=True)
class LedgerEntry:
    doc: DocRef
    outcome: DocOutcome


def problem_entry(doc_id: str, path: str, error_class: ErrorClass, message: str) -> LedgerEntry:
    """A path that never became a document (unreadable, escaping symlink...) still gets a
    ledger row, so `docflow status` shows it with its reason."""
    doc = DocRef(doc_id, path, "", 0, 0, "", "", "")
    outcome = DocOutcome(
        doc_id=doc_id,
        fingerprint="",
        status=DocStatus.FAILED,
        attempts=0,
        stage="discover",
        error_class=error_class,
        error_message=message,
    )
    return LedgerEntry(doc, outcome)


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


def upsert(table, entries: Sequence[LedgerEntry], run_id: str) -> None:
    if not entries:
        return
    (
        table.merge_insert("doc_id")
        .when_matched_update_all()
        .when_not_matched_insert_all()
        .execute(ledger_rows(entries, run_id))
    )


def read_all(table, columns: Sequence[str] | None = None) -> pa.Table:
    """A projection reads only the columns asked for (a sync of a large corpus reads two)."""
    if table is None:
        return LEDGER_SCHEMA.empty_table()
    if not columns:
        return table.to_arrow()
    total = table.count_rows()
    if total == 0:
        return LEDGER_SCHEMA.empty_table().select(list(columns))
    return table.search().select(list(columns)).limit(total).to_arrow()


def recorded_versions(table) -> RecordedVersions:
    """Every document's cheap version and sha256, from one columnar scan."""
    if table is None or table.count_rows() == 0:
        return RecordedVersions()
    return RecordedVersions(read_all(table, LEDGER_COLUMNS))


def refresh_versions(table, docs: Sequence[DocRef]) -> None:
    """Record a newer stat for documents whose bytes were hashed again and found unchanged (a
    touch): the next run's quick check then reuses their hash instead of reading them again."""
    if not docs:
        return
    rows = pa.Table.from_pylist(
        [
            {"doc_id": d.doc_id, "mtime_ns": d.mtime_ns, "ctime_ns": d.ctime_ns, "inode": d.inode,
             "observed_ns": d.observed_ns, "source_version": d.version}
            for d in docs
        ],
        schema=pa.schema([LEDGER_SCHEMA.field(name) for name in _VERSION_FIELDS]),
    )
    table.merge_insert("doc_id").when_matched_update_all().execute(rows)


_VERSION_FIELDS = ("doc_id", "mtime_ns", "ctime_ns", "inode", "observed_ns", "source_version")


def fingerprints(table) -> dict[str, str]:
    """doc_id -> fingerprint of everything the index knows (done or failed)."""
    rows = read_all(table, ["doc_id", "fingerprint"]).to_pylist()
    return {r["doc_id"]: r["fingerprint"] for r in rows}


def failed_doc_ids(table) -> set[str]:
    rows = read_all(table, ["doc_id", "status"]).to_pylist()
    return {r["doc_id"] for r in rows if r["status"] == DocStatus.FAILED.value}


def status_counts(table) -> dict[str, int]:
    rows = read_all(table, ["status"]).to_pylist()
    counts = Counter(r["status"] for r in rows)
    return {status.value: counts.get(status.value, 0) for status in DocStatus}


def failures(table) -> list[dict]:
    rows = read_all(
        table, ["doc_id", "status", "stage", "error_class", "error_message", "attempts", "run_id"]
    ).to_pylist()
    return sorted(
        (r for r in rows if r["status"] == DocStatus.FAILED.value), key=lambda r: r["doc_id"]
    )


def record_run(
    table,
    run_id: str,
    flow_run_id: str,
    started_at: datetime,
    outcome: str,
    summary: dict,
) -> None:
    row = {
        "run_id": run_id,
        "flow_run_id": flow_run_id,
        "started_at": started_at,
        "finished_at": datetime.now(UTC),
        "outcome": outcome,
        "summary_json": json.dumps(summary, sort_keys=True),
    }
    (
        table.merge_insert("run_id")
        .when_matched_update_all()
        .when_not_matched_insert_all()
        .execute(pa.Table.from_pylist([row], schema=RUNS_SCHEMA))
    )


def recent_runs(table, limit: int = 10) -> list[dict]:
    if table is None:
        return []
    rows = table.to_arrow().to_pylist()
    rows.sort(key=lambda r: r["started_at"], reverse=True)
    return rows[:limit]
