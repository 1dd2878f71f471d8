"""Reconcile the ledger, the chunk table, the checkpoints and (optionally) the source.

The invariant every run keeps: each chunk belongs to a document the ledger holds as done, with
the ledger's fingerprint, exactly once per (doc_id, chunk_index), with no gaps; and no document
is checkpointed without its chunks (it would be skipped forever). `verify` finds every
violation; `repair` re-queues the documents involved: their checkpoints and chunks go, so the
next ingest or sync rebuilds them from the source."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from docflow.core.models import DocRef, DocStatus, ErrorClass
from docflow.core.errors import DocflowError, StoreFault, classify, is_store_fault

if TYPE_CHECKING:  # the ports, for annotations only: the caller hands the adapters in
    from docflow.ports.checkpoints import Checkpoints
    from docflow.ports.state import State
    from docflow.ports.store import VectorStore

EXAMPLES = 20
CHUNK_COLUMNS = ["doc_id", "chunk_index", "fingerprint"]


@dataclass
class VerifyReport:
    documents: int = 0
    chunks: int = 0
    problems: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def add(self, kind: str, doc_id: str) -> None:
        self.problems[kind].append(doc_id)

    @property
    def consistent(self) -> bool:
        return not any(self.problems.values())

    def as_dict(self) -> dict:
        return {
            "consistent": self.consistent,
            "documents": self.documents,
            "chunks": self.chunks,
            "counts": {k: len(v) for k, v in sorted(self.problems.items())},
            "examples": {k: sorted(v)[:EXAMPLES] for k, v in sorted(self.problems.items()) if v},
        }


def verify(
    store: VectorStore, state: State, checkpoints: Checkpoints, source_docs: Sequence[DocRef] | None = None
) -> VerifyReport:
    ledger_rows = {doc_id: recorded.outcome for doc_id, recorded in state.outcomes().items()}
    chunk_rows = store.read_columns(CHUNK_COLUMNS)
    report = VerifyReport(documents=len(ledger_rows), chunks=len(chunk_rows))

    per_doc: dict[str, list[int]] = defaultdict(list)
    fingerprints: dict[str, set[str]] = defaultdict(set)
    for row in chunk_rows:
        per_doc[row["doc_id"]].append(row["chunk_index"])
        fingerprints[row["doc_id"]].add(row["fingerprint"])

    for doc_id, indexes in per_doc.items():
        entry = ledger_rows.get(doc_id)
        if any(n > 1 for n in Counter(indexes).values()):
            report.add("duplicate_chunks", doc_id)
        if entry is None:
            report.add("chunks_without_ledger_row", doc_id)
            continue
        if entry.status is not DocStatus.DONE:
            report.add("chunks_of_failed_document", doc_id)
        elif fingerprints[doc_id] != {entry.fingerprint}:
            report.add("stale_chunks", doc_id)
        elif sorted(set(indexes)) != list(range(len(set(indexes)))) or len(set(indexes)) != entry.chunk_count:
            report.add("missing_chunks", doc_id)

    for doc_id, entry in ledger_rows.items():
        if entry.status is DocStatus.DONE and doc_id not in per_doc and entry.chunk_count:
            report.add("done_without_chunks", doc_id)
            ref = DocRef(doc_id, "", "", 0, 0, "", entry.fingerprint, "")
            if checkpoints.generation and checkpoints.finished([ref]):
                report.add("checkpointed_without_chunks", doc_id)

    if source_docs is not None:
        present = {d.doc_id: d for d in source_docs}
        for doc_id, doc in present.items():
            entry = ledger_rows.get(doc_id)
            if entry is None:
                report.add("in_source_not_ingested", doc_id)
            elif entry.fingerprint != doc.fingerprint:
                report.add("changed_in_source", doc_id)
        for doc_id in ledger_rows.keys() - present.keys():
            report.add("deleted_from_source", doc_id)
    return report


def explain(exc: BaseException, store: VectorStore | None, stage: str) -> DocflowError:
    """`exc` classified; a storage fault also says which part of the store is unreadable and
    how to get it back (None: no store could be opened, so there is none to ask)."""
    error = classify(exc, stage)
    if store is None or isinstance(error, StoreFault) or error.error_class is not ErrorClass.SYSTEM or not is_store_fault(exc):
        return error
    hints = store.damage() or [store.fault_hint()]
    explained = StoreFault(f"store error in {store.location}: {error.message}; " + "; ".join(hints), stage=stage)
    explained.__cause__ = exc
    return explained


def ensure_readable(store: VectorStore) -> None:
    """Refuse to read or write a database whose current table versions are damaged."""
    problems = store.damage()
    if problems:
        raise StoreFault(f"store error in {store.location}: " + "; ".join(problems), stage="flow")


REPAIRABLE = frozenset(
    {
        "duplicate_chunks",
        "chunks_without_ledger_row",
        "chunks_of_failed_document",
        "stale_chunks",
        "missing_chunks",
        "done_without_chunks",
        "checkpointed_without_chunks",
    }
)


def repair(store: VectorStore, checkpoints: Checkpoints, report: VerifyReport) -> list[str]:
    """Re-queue documents with table problems: forget their checkpoints, drop their chunks.
    Source differences are left to `docflow sync`, which also owns the mass-deletion guard."""
    doc_ids = sorted({d for kind, ids in report.problems.items() if kind in REPAIRABLE for d in ids})
    if not doc_ids:
        return []
    checkpoints.forget(doc_ids)
    store.delete_documents(doc_ids)
    return doc_ids
