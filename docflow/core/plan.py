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
    and a large one never needs more than MAX_BATCH_RUNS batches.

    The workers should run out of work together: a large document or a full batch started
    last kept one core busy while the other idled at the end of the run. So the largest
    documents go first (bytes stand in for work) and the batches shrink as the work left
    does, to half of each worker's share of it but not below a quarter of the batch size,
    whose per-batch writes would then cost more than the balance gains
    (longest-processing-time-first with guided self-scheduling)."""
    if not docs:
        return []
    fewest = math.ceil(len(docs) / MAX_BATCH_RUNS)  # the size that keeps within MAX_BATCH_RUNS
    size = max(1, min(batch_size, math.ceil(len(docs) / (2 * workers))), fewest)
    floor = max(math.ceil(size / 4), fewest)
    ordered = sorted(docs, key=lambda d: d.size, reverse=True)
    batches, start = [], 0
    while start < len(ordered):
        step = max(floor, min(size, math.ceil((len(ordered) - start) / (2 * workers))))
        batches.append(ordered[start : start + step])
        start += step
    return batches


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
