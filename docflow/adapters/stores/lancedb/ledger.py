"""The State of a LanceDB store: the ledger, the run history and the export history, as three
tables beside the chunk table (`<table>_ledger`, `<table>_runs`, `<table>_exports`), so a backup
or a deletion of the database carries all of it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import datetime

import pyarrow as pa

from docflow.adapters.stores.lancedb import database
from docflow.adapters.stores.staterows import (
    HISTORY_SCHEMA, LEDGER_SCHEMA, RUNS_SCHEMA, ledger_rows, outcome_of, run_row, table_names, version_rows,
)
from docflow.core.models import DocRef, DocStatus, LedgerEntry, Target
from docflow.core.versions import LEDGER_COLUMNS as VERSION_COLUMNS, RecordedVersions
from docflow.ports.state import ExportRecord, RecordedOutcome

_OUTCOME_COLUMNS = ("doc_id", "fingerprint", "status", "chunk_count", "attempts", "stage", "error_class",
                    "error_message", "size", "parse_s", "chunk_s", "embed_s", "write_s", "run_id")
_FAILURE_COLUMNS = ("doc_id", "status", "stage", "error_class", "error_message", "attempts", "run_id")


class LanceState(database.Connected):
    kind = "lancedb"

    def __init__(self, target: Target) -> None:
        super().__init__(target)
        self.ledger_table, self.runs_table, self.exports_table = table_names(target)

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
        rows = version_rows(docs)
        with database.write_lock(self.location):
            database.update(self.db.open_table(self.ledger_table), "doc_id", rows)

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
        with database.write_lock(self.location):
            database.merge(self.db.open_table(self.runs_table), "run_id", run_row(run_id, flow_run_id, started_at, outcome, summary))

    def recent_runs(self, limit: int = 10) -> list[dict]:
        return database.newest(database.open_table(self.db, self.runs_table), limit)

    def record_export(self, record: ExportRecord) -> None:
        with database.write_lock(self.location):
            table = database.ensure_table(self.db, self.exports_table, HISTORY_SCHEMA)
            table.add(pa.Table.from_pylist([asdict(record)], schema=HISTORY_SCHEMA))

    def export_history(self, limit: int = 20) -> list[dict]:
        return database.newest(database.open_table(self.db, self.exports_table), limit)
