"""The State of a LanceDB store: the ledger, the run history and the export history, as three
tables beside the chunk table (`<table>_ledger`, `<table>_runs`, `<table>_exports`), so a backup
or a deletion of the database carries all of it."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime

import pyarrow as pa

from docflow.adapters.stores.lancedb import database
from docflow.core.models import DocOutcome, DocRef, DocStatus, ErrorClass, LedgerEntry, StageTimings, Target
from docflow.core.versions import LEDGER_COLUMNS as VERSION_COLUMNS, RecordedVersions
from docflow.ports.state import LEDGER_COLUMNS, ExportRecord, RecordedOutcome

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

_VERSION_FIELDS = ("doc_id", "mtime_ns", "ctime_ns", "inode", "observed_ns", "source_version")
_OUTCOME_COLUMNS = ("doc_id", "fingerprint", "status", "chunk_count", "attempts", "stage", "error_class",
                    "error_message", "size", "parse_s", "chunk_s", "embed_s", "write_s", "run_id")
_FAILURE_COLUMNS = ("doc_id", "status", "stage", "error_class", "error_message", "attempts", "run_id")


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


class LanceState(database.Connected):
    kind = "lancedb"

    def __init__(self, target: Target) -> None:
        super().__init__(target)
        self.ledger_table = f"{target.table}_ledger"
        self.runs_table = f"{target.table}_runs"
        self.exports_table = f"{target.table}_exports"

    def _ledger(self):
        return database.open_table(self.db, self.ledger_table)

    def exists(self) -> bool:
        return self._ledger() is not None

    def ensure(self) -> None:
        with database.write_lock(self.location):
            database.ensure_table(self.db, self.ledger_table, LEDGER_SCHEMA)
            database.ensure_table(self.db, self.runs_table, RUNS_SCHEMA)

    def upsert(self, entries: Sequence[LedgerEntry], run_id: str) -> None:
        if not entries:
            return
        rows = ledger_rows(entries, run_id)
        with database.write_lock(self.location):
            database.merge(self.db.open_table(self.ledger_table), "doc_id", rows)

    def rows(self, columns: Sequence[str] | None = None) -> pa.Table:
        """A projection reads only the columns asked for (a sync of a large corpus reads two)."""
        table = self._ledger()
        if table is None:
            empty = LEDGER_SCHEMA.empty_table()
            return empty.select(list(columns)) if columns else empty
        if not columns:
            return table.to_arrow()
        total = table.count_rows()
        if total == 0:
            return LEDGER_SCHEMA.empty_table().select(list(columns))
        return table.search().select(list(columns)).limit(total).to_arrow()

    def recorded_versions(self) -> RecordedVersions:
        table = self._ledger()
        if table is None or table.count_rows() == 0:
            return RecordedVersions()
        return RecordedVersions(self.rows(VERSION_COLUMNS))

    def refresh_versions(self, docs: Sequence[DocRef]) -> None:
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
        with database.write_lock(self.location):
            database.merge(self.db.open_table(self.ledger_table), "doc_id", rows, insert=False)

    def fingerprints(self) -> dict[str, str]:
        return {r["doc_id"]: r["fingerprint"] for r in self.rows(["doc_id", "fingerprint"]).to_pylist()}

    def failed_doc_ids(self) -> set[str]:
        rows = self.rows(["doc_id", "status"]).to_pylist()
        return {r["doc_id"] for r in rows if r["status"] == DocStatus.FAILED.value}

    def status_counts(self) -> dict[str, int]:
        counts = Counter(r["status"] for r in self.rows(["status"]).to_pylist())
        return {status.value: counts.get(status.value, 0) for status in DocStatus}

    def failures(self) -> list[dict]:
        rows = self.rows(_FAILURE_COLUMNS).to_pylist()
        return sorted((r for r in rows if r["status"] == DocStatus.FAILED.value), key=lambda r: r["doc_id"])

    def outcomes(self, doc_ids: Iterable[str] | None = None) -> dict[str, RecordedOutcome]:
        table = self._ledger()
        if doc_ids is None:
            rows = database.read_columns(table, _OUTCOME_COLUMNS)
        else:
            ids = set(doc_ids)
            if not ids:
                return {}
            rows = database.read_documents(table, _OUTCOME_COLUMNS, ids)
        return {r["doc_id"]: RecordedOutcome(outcome_of(r), r["run_id"] or "") for r in rows}

    def delete_documents(self, doc_ids: Sequence[str]) -> int:
        if not doc_ids:
            return 0
        with database.write_lock(self.location):
            return database.delete_documents(self._ledger(), list(doc_ids))

    def compact(self) -> None:
        with database.write_lock(self.location):
            database.compact(self._ledger())

    def record_run(self, run_id: str, flow_run_id: str, started_at: datetime, outcome: str, summary: dict) -> None:
        row = {
            "run_id": run_id,
            "flow_run_id": flow_run_id,
            "started_at": started_at,
            "finished_at": datetime.now(UTC),
            "outcome": outcome,
            "summary_json": json.dumps(summary, sort_keys=True),
        }
        with database.write_lock(self.location):
            database.merge(self.db.open_table(self.runs_table), "run_id", pa.Table.from_pylist([row], schema=RUNS_SCHEMA))

    def recent_runs(self, limit: int = 10) -> list[dict]:
        return database.newest(database.open_table(self.db, self.runs_table), limit)

    def record_export(self, record: ExportRecord) -> None:
        with database.write_lock(self.location):
            table = database.ensure_table(self.db, self.exports_table, HISTORY_SCHEMA)
            table.add(pa.Table.from_pylist([asdict(record)], schema=HISTORY_SCHEMA))

    def export_history(self, limit: int = 20) -> list[dict]:
        return database.newest(database.open_table(self.db, self.exports_table), limit)
