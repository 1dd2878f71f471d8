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
from pathlib import Path

from docflow.core.models import DocRef, DocStatus, ErrorClass, Stage, Target
from docflow.adapters.checkpoints import checkpoint
from docflow.adapters.stores.lancedb import store
from docflow.core.errors import DocflowError, StoreFault, classify, is_store_fault
from docflow.core.locations import is_remote, local_path

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


def explain(exc: BaseException, db_uri: str, stage: str) -> DocflowError:
    """`exc` classified; a storage fault also says which table version is unreadable and how
    to get the previous one back (LanceDB never rewrites an older version's manifest)."""
    error = classify(exc, stage)
    if isinstance(error, StoreFault) or error.error_class is not ErrorClass.SYSTEM or not is_store_fault(exc):
        return error
    hints = unreadable_versions(db_uri) or [
        "LanceDB keeps the earlier versions of every table; docflow verify names an unreadable one"
    ]
    explained = StoreFault(f"store error in {db_uri}: {error.message}; " + "; ".join(hints), stage=stage)
    explained.__cause__ = exc
    return explained


def ensure_readable(db_uri: str) -> None:
    """Refuse to read or write a database whose current table versions are damaged."""
    problems = unreadable_versions(db_uri)
    if problems:
        raise StoreFault(f"store error in {db_uri}: " + "; ".join(problems), stage=Stage.FLOW)


def unreadable_versions(db_uri: str) -> list[str]:
    """For each local table whose newest version will not open, or opens as another (a
    zeroed manifest reads as an empty version 0): what is wrong and the command that makes
    the previous version current again."""
    if is_remote(db_uri) or not Path(local_path(db_uri)).is_dir():
        return []
    root = Path(local_path(db_uri))
    db = store.connect(str(root), {})
    found = []
    for table_dir in sorted(root.glob("*.lance")):
        manifests = sorted(table_dir.glob("_versions/*.manifest"), key=_manifest_version)
        if not manifests:
            continue
        newest, version = manifests[-1], _manifest_version(manifests[-1])
        try:
            opened = db.open_table(table_dir.stem).version
        except Exception as exc:  # noqa: BLE001 - the very failure being described
            if not is_store_fault(exc):
                continue
            detail = _text_head(exc)
        else:
            if opened >= version:
                continue
            detail = f"it reads as version {opened}"
        way_back = (
            f"`mv '{newest}' '{newest}.corrupt'` makes version {_manifest_version(manifests[-2])} current again"
            if len(manifests) > 1
            else "no earlier version is kept: restore the table from a snapshot (docflow import)"
        )
        found.append(f"table {table_dir.stem}: version {version} cannot be read ({detail}; {newest}); {way_back}")
    return found


def _text_head(exc: BaseException) -> str:
    return str(exc).splitlines()[0].split(", /")[0][:200]


def _manifest_version(path: Path) -> int:
    """Lance names manifests by version, or (newer layout) by u64::MAX - version so the newest
    sorts first."""
    number = int(path.stem)
    return number if number < 2**63 else 2**64 - 1 - number


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
