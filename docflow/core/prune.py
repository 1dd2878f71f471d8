"""Remove documents that disappeared from the source: checkpoints, chunks, ledger rows.

Order matters for crash safety. Checkpoints go first: a crash after that leaves chunks of a
document the next sync deletes again (it is still in the ledger), never a checkpoint that would
make a reappearing file skip its chunks. Deletes are batched, one predicate per batch."""

from __future__ import annotations

from collections.abc import Sequence

from docflow.core.models import Target
from docflow.adapters.checkpoints import checkpoint
from docflow.adapters.stores.lancedb import store


def prune(target: Target, generation: str, doc_ids: Sequence[str]) -> tuple[int, int]:
    """Returns (ledger rows removed, chunks removed)."""
    if not doc_ids:
        return 0, 0
    checkpoint.forget(target.checkpoint_dir, generation, doc_ids, target.options)
    db = store.connect(target.db, target.options)
    with store.write_lock(target.db):
        chunks = store.delete_documents(db.open_table(target.table), list(doc_ids))
        documents = store.delete_documents(db.open_table(target.ledger_table), list(doc_ids))
    return documents, chunks
