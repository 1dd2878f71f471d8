"""Which documents are finished: a checkpoint says so, or the table proves it.

A batch commits its chunks, then its ledger rows, then its checkpoints. A kill between the last
two (the ledger commit and the checkpoint files are separate writes, and a `kill -9` lands there
as often as anywhere) leaves documents whose work is complete but not checkpointed. Redoing them
would be safe, but it is finished work done twice, so the next run proves them finished from the
table instead: the ledger's final outcome is for this exact fingerprint and the chunk table
holds exactly that outcome's chunks, all of that fingerprint. Such a document gets the missing
checkpoint and is skipped. Anything short of that proof is redone.

The ledger is read only for documents without a checkpoint, so a rerun of a finished corpus
never touches it; the checkpoints of a whole corpus are listed (or, on a local disk, stat'ed),
not read one by one."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING

from docflow.core.models import DocRef

if TYPE_CHECKING:  # the ports, for annotations only: the caller hands the adapters in
    from docflow.ports.checkpoints import Checkpoints
    from docflow.ports.state import State
    from docflow.ports.store import VectorStore

# Beyond this many documents a listing of the 256 checkpoint shards beats a read per document.
LIST_ABOVE = 256


def finished(
    store: VectorStore, state: State, checkpoints: Checkpoints, docs: Sequence[DocRef], write: bool = True
) -> set[str]:
    """`write=False` (a dry run) only answers; the proven checkpoints are not written. A corpus
    is answered from one listing of the checkpoints, a batch from its own records."""
    done = checkpoints.finished_listed(docs) if len(docs) > LIST_ABOVE else checkpoints.finished(docs)
    rest = {d.doc_id: d for d in docs if d.doc_id not in done}
    if rest and checkpoints.generation:
        done |= restore(store, state, checkpoints, rest, write)
    return done


def restore(
    store: VectorStore, state: State, checkpoints: Checkpoints, docs: dict[str, DocRef], write: bool = True
) -> set[str]:
    """Write the checkpoints that the table proves are missing; returns their doc_ids."""
    if not state.exists() or store.info() is None:
        return set()
    outcomes = {
        doc_id: recorded
        for doc_id, recorded in state.outcomes(docs).items()
        if recorded.outcome.fingerprint == docs[doc_id].fingerprint and recorded.outcome.final
    }
    if not outcomes:
        return set()
    chunks: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for row in store.read_columns(["doc_id", "chunk_index", "fingerprint"], outcomes):
        chunks[row["doc_id"]].append((row["chunk_index"], row["fingerprint"]))
    restored = set()
    for doc_id, recorded in outcomes.items():
        doc = docs[doc_id]
        expected = [(i, doc.fingerprint) for i in range(recorded.outcome.chunk_count)]
        if sorted(chunks.get(doc_id, [])) == expected:
            if write:
                checkpoints.record(doc, recorded.outcome, recorded.run_id)
            restored.add(doc_id)
    return restored
