"""What an export adds beside a store's snapshot, for any store: the ledger and run history
as files, and the export's row in the history. The snapshot itself is a store capability
(docflow.ports.store: Snapshots), since only a store with pinned versions can give a consistent
one."""

from __future__ import annotations

import json
import os
from datetime import datetime

from docflow.core.export import atomic_write_text, json_default
from docflow.ports.state import ExportRecord, State
from docflow.ports.store import ExportResult


def export_reports(state: State, out_dir: str) -> list[str]:
    """The ledger (CSV) and the run history (JSON) beside the snapshot."""
    import pyarrow.csv as pacsv

    written = []
    if state.exists():
        path = os.path.join(out_dir, "ledger.csv")
        pacsv.write_csv(state.rows(), path)
        written.append(path)
    path = os.path.join(out_dir, "runs.json")
    atomic_write_text(path, json.dumps(state.recent_runs(limit=1_000_000), default=json_default, indent=2))
    written.append(path)
    return written


def record_export(state: State, result: ExportResult, export_id: str, started_at: datetime, duration_s: float) -> None:
    state.record_export(
        ExportRecord(
            export_id=export_id,
            started_at=started_at,
            duration_s=round(duration_s, 3),
            table=result.table,
            version=result.version,
            out_dir=os.path.abspath(result.out_dir),
            format=result.files[0].file.rsplit(".", 1)[-1] if result.files else "",
            rows=result.rows,
            parts_written=result.parts_written,
            parts_reused=result.parts_reused,
        )
    )
