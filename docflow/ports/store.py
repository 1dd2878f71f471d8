"""The vector store port: where a table's chunks live and how they are replaced.

Every store promises the same thing to the pipeline: after `replace_documents(doc_ids, ...)`
returns, each of `doc_ids` has exactly the chunks given (none if none), and no reader after a
crash at any point sees a document's chunks duplicated or belonging to two fingerprints once the
next run has repaired it. How a store keeps that promise (one atomic commit, or
write-then-delete-stale keyed by fingerprint) is the adapter's docstring. Writers of one
database are serialised by the adapter itself, so callers never hold a lock."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Protocol, runtime_checkable

import numpy as np

from docflow.core.errors import DocflowSystemError
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
    distance: float  # cosine distance: 0 is the same direction


@runtime_checkable
class VectorStore(Protocol):
    kind: str  # the registered name
    capabilities: frozenset[Capability]
    location: str  # the database URI, for messages
    table: str

    def info(self) -> TableInfo | None:
        """None when the table does not exist yet: nothing is indexed."""

    def ensure(self, dim: int, pipeline: Mapping[str, object]) -> TableInfo:
        """Create the table on first use (a concurrent creator wins); an existing table is
        returned as it is, with its generation."""

    def replace_documents(
        self, doc_ids: Sequence[str], docs: Sequence[DocChunks], vectors: np.ndarray | None, run_id: str
    ) -> None:
        """`vectors`: one row per chunk of `docs`, in order (None when they have no chunks)."""

    def delete_documents(self, doc_ids: Sequence[str]) -> int:
        """The number of chunks removed."""

    def read_columns(self, columns: Sequence[str], doc_ids: Iterable[str] | None = None) -> list[dict]:
        """A projection of every chunk row, never the vectors; with `doc_ids`, of those
        documents only (`columns` then includes doc_id)."""

    def count(self) -> int: ...

    def search(self, vector: np.ndarray, k: int) -> list[StoredHit]: ...

    def compact(self) -> None:
        """Merge a run's small commits; a no-op where the store does not need it."""

    def damage(self) -> list[str]:
        """What of the database cannot be read and how to get it back; [] when all of it reads
        (or the store cannot tell)."""

    def fault_hint(self) -> str:
        """The advice for a storage fault `damage` could not pin down."""


@dataclass(frozen=True)
class PartInfo:
    file: str
    rows: int
    sha256: str


@dataclass(frozen=True)
class ExportResult:
    out_dir: str
    table: str
    version: int
    rows: int
    parts_written: int
    parts_reused: int
    files: tuple[PartInfo, ...] = ()


class Snapshots(Protocol):
    """A store with Capability.PINNED_VERSIONS: consistent, resumable export of one table
    version while writers go on, and import of such a snapshot."""

    def export(
        self,
        out_dir: str,
        fmt: str,
        version: int | None,
        part_rows: int,
        on_part: Callable[[int, int], None] | None = None,
    ) -> ExportResult: ...

    def import_snapshot(self, snapshot_dir: str, force: bool = False) -> int:
        """Rows loaded; rows merge on chunk_id, so an interrupted import is simply rerun."""


def require(store: VectorStore, capability: Capability, what: str) -> None:
    """A clear refusal instead of an AttributeError deep inside an adapter."""
    if capability not in store.capabilities:
        raise DocflowSystemError(
            f"{what} needs a store with {capability.value}; the {store.kind} store does not have it",
            stage="config",
        )


def snapshots(store: VectorStore, what: str) -> Snapshots:
    require(store, Capability.PINNED_VERSIONS, what)
    return store  # type: ignore[return-value] - the capability promises the methods
