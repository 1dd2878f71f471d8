"""What a run writes to, and reads back from, its own ledger and runs tables: discovery's
problems, why each skipped document is skipped, which cancelled documents committed anyway,
the compaction after a run that changed something, and the run's row."""

from __future__ import annotations

from collections.abc import Callable

from docflow.adapters.stores.lancedb import ledger, store
from docflow.core.models import BatchResult, DocStatus, Stage, Target
from flows.run_state import RunState


def record_problems(target: Target, problems, state: RunState) -> None:
    if not problems:
        return
    entries = [ledger.problem_entry(p.doc_id, p.path, p.error_class, p.message) for p in problems]
    with store.write_lock(target.db):
        ledger.upsert(_open(target, target.ledger_table), entries, state.run_id)
    for problem in problems:
        state.counters.add_failure(problem.doc_id, problem.error_class, problem.message, 0, Stage.DISCOVER)


def explain_skipped(target: Target, skipped, state: RunState, retry_failed: bool,
                    skip_reason: Callable[[str, dict[str, str], str], str]):
    """Say why each skipped document is skipped, and count the failures an earlier attempt of
    this same flow run (before the UI's Retry) checkpointed as failures, not as skipped."""
    if not skipped:
        return skipped
    rows = ledger.read_all(_open(target, target.ledger_table), ["doc_id", "run_id", "status", "stage",
                                                                "error_class", "error_message", "attempts"])
    by_doc = {r["doc_id"]: r for r in rows.to_pylist()}
    last_run = {d: r["run_id"] for d, r in by_doc.items()}
    still_skipped = []
    for doc in skipped:
        row = by_doc.get(doc.doc_id)
        if not retry_failed and row and row["run_id"] == state.run_id and row["status"] == DocStatus.FAILED.value:
            state.counters.add_failure(doc.doc_id, row["error_class"], row["error_message"] or "",
                                       row["attempts"] or 0, row["stage"] or "")
            continue
        state.documents.add_skipped(doc.doc_id, skip_reason(doc.doc_id, last_run, state.run_id))
        still_skipped.append(doc)
    for why, count in sorted(state.documents.skipped_by.items()):
        state.logger.info("%d skipped: %s", count, why)
    return still_skipped


def settle_unsettled(target: Target | None, state: RunState) -> None:
    """A cancelled batch may have committed before the cancel reached it: the ledger rows this
    run wrote for the current fingerprints say which; the rest are pending."""
    counters = state.counters
    if not counters.unsettled:
        return
    try:
        rows = ledger.read_all(_open(target, target.ledger_table)).to_pylist()
    except Exception:  # noqa: BLE001 - no ledger to read: all of them are pending
        rows = []
    settled = [
        ledger.outcome_of(r) for r in rows
        if r["run_id"] == state.run_id and counters.unsettled.get(r["doc_id"]) == r["fingerprint"]
    ]
    counters.add_batch(BatchResult(outcomes=tuple(settled)))
    counters.documents_pending += len(counters.unsettled) - len(settled)
    counters.unsettled = {}


def compact(target: Target) -> None:
    db = store.connect(target.db, target.options)
    with store.write_lock(target.db):
        for name in (target.table, target.ledger_table):
            store.compact(db.open_table(name))


def record_run(target: Target | None, state: RunState, summary: dict) -> None:
    if target is None:
        return
    try:
        with store.write_lock(target.db):
            ledger.record_run(
                _open(target, target.runs_table), state.run_id, state.run_id, state.started_at, summary["outcome"],
                summary,
            )
    except Exception as exc:  # noqa: BLE001 - the summary is still returned and logged
        state.logger.warning("could not record the run in %s: %s", target.runs_table, exc)


def failed_doc_ids(target: Target) -> set[str]:
    return ledger.failed_doc_ids(_open(target, target.ledger_table))


def _open(target: Target, name: str):
    return store.connect(target.db, target.options).open_table(name)
