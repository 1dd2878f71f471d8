"""Remove documents that disappeared from the source: checkpoints, chunks, ledger rows.

Order matters for crash safety. Checkpoints go first: a crash after that leaves chunks of a
document the next sync deletes again (it is still in the ledger), never a checkpoint that would
make a reappearing file skip its chunks. Deletes are batched, one predicate per batch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the ports, for annotations only: the caller hands the adapters in
    from docflow.ports.checkpoints import Checkpoints
    from docflow.ports.state import State
    from docflow.ports.store import VectorStore


def prune(store: VectorStore, state: State, checkpoints: Checkpoints, doc_ids: Sequence[str]) -> tuple[int, int]:
    """Returns (ledger rows removed, chunks removed)."""
    if not doc_ids:
        return 0, 0
    checkpoints.forget(doc_ids)
    chunks = store.delete_documents(list(doc_ids))
    documents = state.delete_documents(list(doc_ids))
    return documents, chunks
