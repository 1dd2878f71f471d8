"""What a run writes to, and reads back from, its own ledger and runs tables: discovery's
problems, why each skipped document is skipped, which cancelled documents committed anyway,
the compaction after a run that changed something, and the run's row."""

from __future__ import annotations

from collections.abc import Callable

import pyarrow.compute as pc

from docflow.adapters.stores import open_state, open_store
from docflow.core.models import BatchResult, DocStatus, LedgerEntry, Stage, Target
from flows.run_state import RunState


def record_problems(target: Target, problems, state: RunState) -> None:
    if not problems:
        return
    entries = [LedgerEntry.problem(p.doc_id, p.path, p.error_class, p.message) for p in problems]
    open_state(target).upsert(entries, state.run_id)
    for problem in problems:
        state.counters.add_failure(problem.doc_id, problem.error_class, problem.message, 0, Stage.DISCOVER)


def explain_skipped(target: Target, skipped, state: RunState, retry_failed: bool,
                    skip_reason: Callable[[str, dict[str, str], str], str]):
    """Say why each skipped document is skipped, and count the failures an earlier attempt of
    this same flow run (before the UI's Retry) checkpointed as failures, not as skipped."""
    if not skipped:
        return skipped
    ledger = open_state(target)
    # Only the documents this flow run wrote need their outcome: one projection of two columns
    # finds them, filtered in Arrow, instead of an object for every document of a large corpus.
    written = ledger.rows(["doc_id", "run_id"])
    mine = written["doc_id"].filter(pc.equal(written["run_id"], state.run_id)).to_pylist()
    by_doc = ledger.outcomes(mine) if mine else {}
    last_run = dict.fromkeys(mine, state.run_id)
    still_skipped = []
    for doc in skipped:
        row = by_doc.get(doc.doc_id)
        if not retry_failed and row and row.run_id == state.run_id and row.outcome.status is DocStatus.FAILED:
            failure = row.outcome
            state.counters.add_failure(doc.doc_id, failure.error_class, failure.error_message, failure.attempts,
                                       failure.stage)
            continue
        state.documents.add_skipped(doc.doc_id, skip_reason(doc.doc_id, last_run, state.run_id))
        still_skipped.append(doc)
    for why, count in sorted(state.documents.skipped_by.items()):
        state.logger.info("%d skipped: %s", count, why)
    return still_skipped


def settle_unsettled(target: Target | None, state: RunState) -> None:
    """A batch cancelled, or failed by the system error that stopped the run, may have
    committed some of its documents first: the ledger rows this run wrote for the current
    fingerprints say which; the rest are pending."""
    counters = state.counters
    if not counters.unsettled:
        return
    try:
        recorded = open_state(target).outcomes(counters.unsettled).values()
    except Exception:  # noqa: BLE001 - no ledger to read: all of them are pending
        recorded = []
    settled = [
        r.outcome for r in recorded
        if r.run_id == state.run_id and counters.unsettled.get(r.outcome.doc_id) == r.outcome.fingerprint
    ]
    counters.add_batch(BatchResult(outcomes=tuple(settled)))
    counters.documents_pending += len(counters.unsettled) - len(settled)
    counters.unsettled = {}


def compact(target: Target) -> None:
    open_store(target).compact()
    open_state(target).compact()


def record_run(target: Target | None, state: RunState, summary: dict) -> None:
    if target is None:
        return
    try:
        open_state(target).record_run(state.run_id, state.run_id, state.started_at, summary["outcome"], summary)
    except Exception as exc:  # noqa: BLE001 - the summary is still returned and logged
        state.logger.warning("could not record the run of %s: %s", target.table, exc)


def failed_doc_ids(target: Target) -> set[str]:
    return open_state(target).failed_doc_ids()
