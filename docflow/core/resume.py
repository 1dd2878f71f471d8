"""Which documents are finished: a checkpoint says so, or the table proves it.

A batch commits its chunks, then its ledger rows, then its checkpoints. A kill between the last
two (the ledger commit and the checkpoint files are separate writes, and a `kill -9` lands there
as often as anywhere) leaves documents whose work is complete but not checkpointed. Redoing them
would be safe, but it is finished work done twice, so the next run proves them finished from the
table instead: the ledger's final outcome is for this exact fingerprint and the chunk table
holds exactly that outcome's chunks, all of that fingerprint. Such a document gets the missing
checkpoint and is skipped. Anything short of that proof is redone.

The ledger is read only for documents without a checkpoint, so a rerun of a finished corpus
never touches it; the checkpoints of a whole corpus are listed, not read one by one."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from docflow.core.models import DocRef, Target
from docflow.adapters.checkpoints import checkpoint
from docflow.adapters.stores.lancedb import ledger
from docflow.adapters.stores.lancedb import store

# Beyond this many documents one filtered scan of the whole table beats an IN (...) list.
IN_LIST_MAX = 2000
# Beyond this many documents a listing of the 256 checkpoint shards beats a read per document.
LIST_ABOVE = 256


def finished(
    target: Target, generation: str, results, docs: Sequence[DocRef], write: bool = True
) -> set[str]:
    """`write=False` (a dry run) only answers; the proven checkpoints are not written. A corpus
    is answered from one listing of the checkpoints, a batch from its own records."""
    if len(docs) > LIST_ABOVE:
        done = checkpoint.finished_listed(target.checkpoint_dir, generation, docs, target.options)
    else:
        done = checkpoint.finished(results, generation, docs)
    rest = {d.doc_id: d for d in docs if d.doc_id not in done}
    if rest and generation:
        done |= restore(target, generation, results, rest, write)
    return done


def restore(
    target: Target, generation: str, results, docs: dict[str, DocRef], write: bool = True
) -> set[str]:
    """Write the checkpoints that the table proves are missing; returns their doc_ids."""
    db = store.connect(target.db, target.options)
    ledger_table = store.open_table(db, target.ledger_table)
    chunk_table = store.open_table(db, target.table)
    if ledger_table is None or chunk_table is None:
        return set()
    outcomes = {}
    for row in _rows(ledger_table, ledger.LEDGER_SCHEMA.names, docs):
        outcome = ledger.outcome_of(row)
        if row["doc_id"] in docs and row["fingerprint"] == docs[row["doc_id"]].fingerprint and outcome.final:
            outcomes[row["doc_id"]] = (outcome, row["run_id"])
    if not outcomes:
        return set()
    chunks: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for row in _rows(chunk_table, ["doc_id", "chunk_index", "fingerprint"], outcomes):
        chunks[row["doc_id"]].append((row["chunk_index"], row["fingerprint"]))
    restored = set()
    for doc_id, (outcome, run_id) in outcomes.items():
        doc = docs[doc_id]
        expected = [(i, doc.fingerprint) for i in range(outcome.chunk_count)]
        if sorted(chunks.get(doc_id, [])) == expected:
            if write:
                checkpoint.record(results, generation, doc, outcome, run_id)
            restored.add(doc_id)
    return restored


def _rows(table, columns: Sequence[str], doc_ids: Iterable[str]) -> list[dict]:
    ids = list(doc_ids)
    if not ids:
        return []
    return store.read_columns(table, columns, store.doc_predicate(ids) if len(ids) <= IN_LIST_MAX else None)
