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

from docflow.models import DocRef, DocStatus, Target
from tasks import checkpoint, store

EXAMPLES = 20
CHUNK_COLUMNS = ["doc_id", "chunk_index", "fingerprint"]
LEDGER_COLUMNS = ["doc_id", "fingerprint", "status", "chunk_count"]


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

    def affected(self) -> set[str]:
        return {doc_id for ids in self.problems.values() for doc_id in ids}

    def as_dict(self) -> dict:
        return {
            "consistent": self.consistent,
            "documents": self.documents,
            "chunks": self.chunks,
            "counts": {k: len(v) for k, v in sorted(self.problems.items())},
            "examples": {k: sorted(v)[:EXAMPLES] for k, v in sorted(self.problems.items()) if v},
        }


def verify(
    target: Target, generation: str, source_docs: Sequence[DocRef] | None = None
) -> VerifyReport:
    db = store.connect(target.db, target.options)
    ledger_table = store.open_table(db, target.ledger_table)
    ledger_rows = {r["doc_id"]: r for r in store.read_columns(ledger_table, LEDGER_COLUMNS)}
    chunk_rows = store.read_columns(store.open_table(db, target.table), CHUNK_COLUMNS)
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
        if entry["status"] != DocStatus.DONE.value:
            report.add("chunks_of_failed_document", doc_id)
        elif fingerprints[doc_id] != {entry["fingerprint"]}:
            report.add("stale_chunks", doc_id)
        elif sorted(set(indexes)) != list(range(len(set(indexes)))) or len(set(indexes)) != entry["chunk_count"]:
            report.add("missing_chunks", doc_id)

    results = checkpoint.open_store(target.checkpoint_dir, target.options)
    for doc_id, entry in ledger_rows.items():
        if entry["status"] == DocStatus.DONE.value and doc_id not in per_doc and entry["chunk_count"]:
            report.add("done_without_chunks", doc_id)
            ref = DocRef(doc_id, "", "", 0, 0, "", entry["fingerprint"], "")
            if generation and checkpoint.finished(results, generation, [ref]):
                report.add("checkpointed_without_chunks", doc_id)

    if source_docs is not None:
        present = {d.doc_id: d for d in source_docs}
        for doc_id, doc in present.items():
            entry = ledger_rows.get(doc_id)
            if entry is None:
                report.add("in_source_not_ingested", doc_id)
            elif entry["fingerprint"] != doc.fingerprint:
                report.add("changed_in_source", doc_id)
        for doc_id in ledger_rows.keys() - present.keys():
            report.add("deleted_from_source", doc_id)
    return report


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


def repair(target: Target, generation: str, report: VerifyReport) -> list[str]:
    """Re-queue documents with table problems: forget their checkpoints, drop their chunks.
    Source differences are left to `docflow sync`, which also owns the mass-deletion guard."""
    doc_ids = sorted({d for kind, ids in report.problems.items() if kind in REPAIRABLE for d in ids})
    if not doc_ids:
        return []
    checkpoint.forget(target.checkpoint_dir, generation, doc_ids, target.options)
    db = store.connect(target.db, target.options)
    with store.write_lock(target.db):
        store.delete_documents(db.open_table(target.table), doc_ids)
    return doc_ids
