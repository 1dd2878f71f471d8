"""The vector store port: where a table's chunks live and how they are replaced.

Every store promises the same thing to the pipeline: after `replace_documents(doc_ids, ...)`
returns, each of `doc_ids` has exactly the chunks given (none if none), and no reader after a
crash at any point sees a document's chunks duplicated or belonging to two fingerprints once the
next run has repaired it. How a store keeps that promise (one atomic commit, or
write-then-delete-stale keyed by fingerprint) is the adapter's docstring."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from enum import Enum
from typing import Protocol, runtime_checkable

import numpy as np

from docflow.core.models import DocChunks


class Capability(Enum):
    """What a store can do beyond the contract every store keeps."""

    ATOMIC_REPLACE = "atomic-replace"  # one commit replaces a batch's documents
    PINNED_VERSIONS = "pinned-versions"  # export and import of a pinned table version
    COMPACT = "compact"  # merging small commits is worth a call after a run


@dataclass(frozen=True)
class TableInfo:
    """`generation`: a fresh id per created table, so checkpoints of a dropped and recreated
    table are never trusted; `pipeline`: the metadata the table was created with."""

    generation: str
    dim: int | None
    pipeline: Mapping[str, object]


@dataclass(frozen=True)
class StoredHit:
    doc_id: str
    chunk_index: int
    text: str
    source_path: str
    page: int | None
    title: str | None
    doc_type: str
    distance: float


@runtime_checkable
class VectorStore(Protocol):
    kind: str  # the registered name: "lancedb", "chroma"
    capabilities: frozenset[Capability]

    def info(self) -> TableInfo | None:
        """None when the table does not exist yet: nothing is indexed."""

    def ensure(self, dim: int, pipeline: Mapping[str, object]) -> TableInfo: ...

    def replace_documents(
        self, doc_ids: Sequence[str], docs: Sequence[DocChunks], vectors: np.ndarray, run_id: str
    ) -> None: ...

    def delete_documents(self, doc_ids: Sequence[str]) -> int:
        """The number of chunks removed."""

    def read_columns(self, columns: Sequence[str], doc_ids: Iterable[str] | None = None) -> list[dict]:
        """A projection of every chunk row (of `doc_ids` only when given), never the vectors."""

    def count(self) -> int: ...

    def search(self, vector: np.ndarray, k: int, where: Mapping[str, str] | None = None) -> list[StoredHit]: ...

    def write_lock(self) -> AbstractContextManager[None]:
        """Serialises writers of one database on one host (a no-op where the store does)."""

    def compact(self) -> None: ...


def require(store: VectorStore, capability: Capability, what: str) -> None:
    """A clear refusal instead of an AttributeError deep inside an adapter."""
    if capability not in store.capabilities:
        raise NotImplementedError(
            f"{what} needs a store with {capability.value}; the {store.kind} store does not have it"
        )


