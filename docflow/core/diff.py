"""What an incremental sync would change, and whether it is safe to delete.

Pure functions over the discovery, the ledger and the checkpoints: the sync flow, `--dry-run`
and the tests all use the same diff."""

from __future__ import annotations

from collections.abc import Collection, Sequence, Set
from dataclasses import dataclass

from docflow.core.models import DocRef


@dataclass(frozen=True)
class SyncDiff:
    added: tuple[str, ...]
    updated: tuple[str, ...]
    unchanged: tuple[str, ...]
    deleted: tuple[str, ...]
    indexed: int

    def counts(self) -> dict[str, int]:
        return {
            "added": len(self.added),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "deleted": len(self.deleted),
            "indexed": self.indexed,
        }


@dataclass(frozen=True)
class GuardVerdict:
    allowed: bool
    reason: str = ""


def diff(
    discovered: Sequence[DocRef],
    present_ids: Collection[str],
    indexed_ids: Collection[str],
    finished: set[str],
) -> SyncDiff:
    """`present_ids` are every doc_id the source still has, including ones discovery could not
    read (an unreadable file has not disappeared). `indexed_ids`: the ledger's doc_ids (the
    run's RecordedVersions, which holds them without a string per document). A set of
    `present_ids` is used as it is, not copied."""
    present = present_ids if isinstance(present_ids, Set) else set(present_ids)
    added, updated, unchanged = [], [], []
    for doc in discovered:
        if doc.doc_id in finished:
            unchanged.append(doc.doc_id)
        elif doc.doc_id in indexed_ids:
            updated.append(doc.doc_id)
        else:
            added.append(doc.doc_id)
    deleted = sorted(doc_id for doc_id in indexed_ids if doc_id not in present)
    return SyncDiff(tuple(added), tuple(updated), tuple(unchanged), tuple(deleted), len(indexed_ids))


def mass_delete_guard(
    changes: SyncDiff, max_fraction: float, allow: bool, source_empty: bool
) -> GuardVerdict:
    """A listing that would delete much of the index is more often a lost mount or a typo in a
    path than a real purge: refuse it unless explicitly allowed."""
    if allow or not changes.deleted:
        return GuardVerdict(True)
    if source_empty:
        return GuardVerdict(
            False, f"the source is empty; refusing to delete all {changes.indexed} indexed documents"
        )
    share = len(changes.deleted) / max(1, changes.indexed)
    if share > max_fraction:
        return GuardVerdict(
            False,
            f"{len(changes.deleted)} of {changes.indexed} indexed documents ({share:.0%}) would be "
            f"deleted, above the {max_fraction:.0%} limit; pass --allow-mass-delete if intended",
        )
    return GuardVerdict(True)
