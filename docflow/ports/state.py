"""The state port: what docflow remembers about documents, runs and exports.

The ledger holds one durable row per document with its last outcome and the cheap version of
the bytes behind it: it answers "what is done, what failed and why", drives `--retry-failed`,
proves finished work after a kill (docflow.core.resume) and feeds the quick check
(docflow.core.versions). Runs and exports are histories. An adapter may keep all of it in the
store's own database (so a backup or a deletion carries both) or anywhere else; writes are
serialised by the adapter."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

import pyarrow as pa

from docflow.core.models import DocOutcome, DocRef, LedgerEntry
from docflow.core.versions import RecordedVersions

# The ledger's columns, in order; `rows()` returns them and an export's ledger.csv holds them.
LEDGER_COLUMNS = (
    "doc_id", "fingerprint", "content_sha256", "size", "mtime_ns", "ctime_ns", "inode",
    "observed_ns", "source_version", "source_path", "doc_type", "status", "stage",
    "error_class", "error_message", "attempts", "chunk_count", "parse_s", "chunk_s", "embed_s",
    "write_s", "run_id", "updated_at",
)


@dataclass(frozen=True)
class RecordedOutcome:
    """A document's last outcome as the batch that wrote it had it, and that run's id."""

    outcome: DocOutcome
    run_id: str


@dataclass(frozen=True)
class ExportRecord:
    export_id: str
    started_at: datetime
    duration_s: float
    table: str
    version: int
    out_dir: str
    format: str
    rows: int
    parts_written: int
    parts_reused: int


@runtime_checkable
class State(Protocol):
    kind: str

    def exists(self) -> bool:
        """Whether anything was ever recorded (the ledger exists)."""

    def ensure(self) -> None:
        """Create the ledger and the run history on first use."""

    def upsert(self, entries: Sequence[LedgerEntry], run_id: str) -> None: ...

    def recorded_versions(self) -> RecordedVersions:
        """Every document's cheap version and sha256, from one columnar scan."""

    def refresh_versions(self, docs: Sequence[DocRef]) -> None:
        """Record a newer stat for documents hashed again and found unchanged (a touch)."""

    def failed_doc_ids(self) -> set[str]: ...

    def status_counts(self) -> dict[str, int]:
        """Every DocStatus value, zero when none."""

    def failures(self) -> list[dict]:
        """The failed rows (doc_id, status, stage, error_class, error_message, attempts,
        run_id), by doc_id."""

    def outcomes(self, doc_ids: Iterable[str] | None = None) -> dict[str, RecordedOutcome]:
        """doc_id -> its recorded outcome (of `doc_ids` only when given)."""

    def rows(self, columns: Sequence[str] | None = None) -> pa.Table:
        """The ledger (a projection when `columns` is given), typed even when empty."""

    def delete_documents(self, doc_ids: Sequence[str]) -> int:
        """The number of ledger rows removed."""

    def compact(self) -> None: ...

    def record_run(
        self, run_id: str, flow_run_id: str, started_at: datetime, outcome: str, summary: dict
    ) -> None: ...

    def recent_runs(self, limit: int = 10) -> list[dict]:
        """Newest first: run_id, flow_run_id, started_at, finished_at, outcome, summary_json."""

    def record_export(self, record: ExportRecord) -> None: ...

    def export_history(self, limit: int = 20) -> list[dict]:
        """Newest first, the fields of ExportRecord."""
