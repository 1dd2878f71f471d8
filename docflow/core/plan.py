"""Which documents a run processes and how they are cut into batches: pure decisions, so the
flow only wires them to the store and the scheduler."""

from __future__ import annotations

import math
from collections.abc import Sequence

from docflow.core.models import DocRef

# Every task run costs the Prefect server writes and the flow a submission; past a few thousand
# per flow run the server (SQLite above all) falls behind, so large corpora get larger batches.
MAX_BATCH_RUNS = 2000


def make_batches(docs: Sequence[DocRef], batch_size: int, workers: int) -> list[list[DocRef]]:
    """At most `batch_size` per batch, but small corpora are split so every worker gets work,
    and a large one never needs more than MAX_BATCH_RUNS batches."""
    if not docs:
        return []
    size = max(1, min(batch_size, math.ceil(len(docs) / (2 * workers))), math.ceil(len(docs) / MAX_BATCH_RUNS))
    return [list(docs[i : i + size]) for i in range(0, len(docs), size)]


def select_work(
    docs: Sequence[DocRef], finished: set[str], failed: set[str], retry_failed: bool
) -> tuple[list[DocRef], list[DocRef]]:
    """(to process, skipped). --retry-failed takes exactly the ledger's failures, finished or
    not (a parse failure is checkpointed as final)."""
    if retry_failed:
        todo = [d for d in docs if d.doc_id in failed]
    else:
        todo = [d for d in docs if d.doc_id not in finished]
    chosen = {d.doc_id for d in todo}
    return todo, [d for d in docs if d.doc_id not in chosen]
