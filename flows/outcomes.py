"""What happened to each document of a run, for the per-document artifact table.

Bounded: a run over a million documents keeps at most `cap` rows (failures first, then
documents done, then skipped), and the table says when it was cut. Skipped documents carry
why: docflow skips by its own checkpoints (one per finished document, beside the table), not
by Prefect's persisted task results, so after the UI's Retry the run says which documents an
earlier attempt of the same flow run finished."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from docflow.core.models import BatchResult, DocStatus

DOCUMENT_ROWS_CAP = 1000

SKIPPED_BY_THIS_RUN = "finished by an earlier attempt of this flow run (docflow checkpoint)"
SKIPPED_BY_EARLIER_RUN = "finished by an earlier run (docflow checkpoint)"
SKIPPED_UNCHANGED = "unchanged since it was indexed"
SKIPPED_NOT_FAILED = "not a failure (retry_failed)"


def skip_reason(doc_id: str, last_run: dict[str, str], run_id: str, *, sync: bool, retry_failed: bool) -> str:
    if retry_failed:
        return SKIPPED_NOT_FAILED
    if last_run.get(doc_id) == run_id:
        return SKIPPED_BY_THIS_RUN
    return SKIPPED_UNCHANGED if sync else SKIPPED_BY_EARLIER_RUN


@dataclass
class DocumentTable:
    cap: int = DOCUMENT_ROWS_CAP
    done: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    done_total: int = 0
    skipped_by: Counter = field(default_factory=Counter)

    def add_batch(self, result: BatchResult) -> None:
        for outcome in result.outcomes:
            if outcome.status is not DocStatus.DONE:
                continue  # failures are in the run's counters, with their class and message
            self.done_total += 1
            if len(self.done) < self.cap:
                t = outcome.timings
                self.done.append(_row(outcome.doc_id, "done", outcome.chunk_count, outcome.attempts,
                                      round(t.parse_s + t.chunk_s + t.embed_s + t.write_s, 3), ""))
        for doc_id in result.skipped_doc_ids:
            self.add_skipped(doc_id, "checkpointed before its batch was resubmitted")

    def add_skipped(self, doc_id: str, why: str) -> None:
        self.skipped_by[why] += 1
        if len(self.skipped) < self.cap:
            self.skipped.append(_row(doc_id, "skipped", None, None, None, why))

    def rows(self, failures: Iterable[dict]) -> tuple[list[dict], int]:
        """(at most `cap` rows, failures first; the number of documents in the run)."""
        failed = [
            _row(f["doc_id"], "failed", None, f["attempts"], None, f"{f['error_class']}: {f['message']}")
            for f in sorted(failures, key=lambda f: f["doc_id"])
        ]
        total = len(failed) + self.done_total + sum(self.skipped_by.values())
        done = sorted(self.done, key=lambda r: r["doc_id"])
        return (failed + done + self.skipped)[: self.cap], total


def _row(doc_id, outcome, chunks, attempts, seconds, detail) -> dict:
    """Missing values are empty cells, not `null`."""
    values = {"doc_id": doc_id, "outcome": outcome, "chunks": chunks, "attempts": attempts,
              "seconds": seconds, "detail": detail}
    return {k: "" if v is None else v for k, v in values.items()}


def describe(shown: int, total: int) -> str:
    noun = "document" if total == 1 else "documents"
    if shown >= total:
        return f"all {total} {noun} of this run"
    return (f"first {shown} of {total} {noun} (the table keeps at most {shown} rows: failures "
            "first; `docflow status --failed` lists every failure)")
