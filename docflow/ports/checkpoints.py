"""The checkpoint port: which documents of one table generation are finished.

A checkpoint names a document's exact fingerprint; the pipeline writes it last (after the chunks
and the ledger row) and forgets a document's checkpoints first (before its chunks are replaced
or deleted), so a checkpoint never outlives the chunks it stands for. An instance is bound to
one table generation: a dropped and recreated table never inherits checkpoints."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from docflow.core.models import DocOutcome, DocRef


@runtime_checkable
class Checkpoints(Protocol):
    generation: str

    def finished(self, docs: Iterable[DocRef]) -> set[str]:
        """doc_ids whose current fingerprint is checkpointed, asked one document at a time
        (cheap for a batch)."""

    def finished_listed(self, docs: Iterable[DocRef]) -> set[str]:
        """The same answer without reading a record per document (cheap for a corpus)."""

    def record(self, doc: DocRef, outcome: DocOutcome, run_id: str) -> None: ...

    def forget(self, doc_ids: Iterable[str]) -> None:
        """Remove every checkpoint of these documents, whatever version it was for."""
