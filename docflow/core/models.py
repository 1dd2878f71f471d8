"""The typed data that crosses task boundaries.

Everything here is frozen and small: Prefect results and Dask messages carry ids, counts,
fingerprints and timings, never text or vectors (those go straight to the store)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the ports, for annotations only: adapters are handed in by the caller
    from docflow.core.chunk import Chunk
    from docflow.ports.checkpoints import Checkpoints
    from docflow.ports.state import State
    from docflow.ports.store import VectorStore


class ErrorClass(StrEnum):
    TRANSIENT = "transient"
    MISSING = "missing"
    RESOURCE = "resource"
    PARSE = "parse"
    SYSTEM = "system"


class Stage(StrEnum):
    """Where an error came from, or how far a document got ("done"); the ledger and the run
    summaries store the value."""

    DISCOVER = "discover"
    PARSE = "parse"
    CHUNK = "chunk"
    EMBED = "embed"
    WRITE = "write"
    LEDGER = "ledger"
    CHECKPOINT = "checkpoint"
    BATCH = "batch"
    DONE = "done"
    FLOW = "flow"
    CONFIG = "config"
    EXPORT = "export"
    IMPORT = "import"


class RunOutcome(StrEnum):
    """How a run ended (RUNNING until it does); the summary's and the runs table's `outcome`."""

    RUNNING = "running"
    COMPLETED = "completed"
    DRY_RUN = "dry-run"
    GUARDED = "guarded"
    CANCELLED = "cancelled"
    FAILED = "failed"


class EmbedBackend(StrEnum):
    """How the embedding model runs: torch fp32, or an ONNX export run by onnxruntime (fp32, or
    dynamically quantized to int8). Vectors of two backends differ slightly, so a table holds
    one backend's vectors only."""

    TORCH = "torch"
    ONNX = "onnx"
    ONNX_INT8 = "onnx-int8"

    @property
    def precision(self) -> str:
        return "int8" if self is EmbedBackend.ONNX_INT8 else "fp32"


class DocStatus(StrEnum):
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class PipelineConfig:
    """Every setting that changes what ends up in the table. Its hash is part of every document
    fingerprint, so changing the model or the chunk size re-ingests everything."""

    model_name: str
    model_revision: str
    parser: str
    pdf_strategy: str
    ocr_languages: str
    ocr_dpi: int
    chunk_max_characters: int
    chunk_new_after_n_chars: int
    chunk_combine_under_n_chars: int
    chunk_overlap: int
    chunk_carry_title: bool
    schema_version: int
    embed_backend: str
    embed_precision: str

    def fingerprint(self) -> str:
        payload = json.dumps(asdict(self), sort_keys=True).encode()
        return hashlib.sha256(payload).hexdigest()


@dataclass(frozen=True)
class Target:
    """Where a run writes: a vector store's database and table, and the place that holds its
    per-document checkpoints. `store` names the store adapter (docflow.adapters.stores); a
    worker builds its store from this, so nothing but names and paths is submitted."""

    db: str
    table: str
    checkpoint_dir: str
    # Object-store options (keys, region, endpoint) in the store adapter's names; a tuple of pairs so
    # the target stays hashable. Not in repr: they hold secrets.
    storage_options: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    # Where a Dask worker finds the storage options, which are never submitted with a batch:
    # "env" (its DOCFLOW_STORAGE_OPTIONS) or "block:NAME" (docflow.core.credentials); "" none.
    credentials: str = ""
    store: str = ""  # "": the registry's default store

    @property
    def options(self) -> dict[str, str]:
        return dict(self.storage_options)


@dataclass(frozen=True, slots=True)  # one per document of the corpus in a run's plan
class DocRef:
    doc_id: str
    path: str
    root: str
    size: int
    mtime_ns: int
    content_sha256: str
    fingerprint: str
    doc_type: str
    # The rest of the stat the bytes behind content_sha256 were hashed with (docflow.core.versions),
    # when that hash had a stable stat; 0 and "" otherwise.
    ctime_ns: int = 0
    inode: int = 0
    observed_ns: int = 0
    # An object store's version of the object (version id, else ETag); "" for local files.
    version: str = ""


@dataclass(frozen=True)
class StageTimings:
    parse_s: float = 0.0
    chunk_s: float = 0.0
    embed_s: float = 0.0
    write_s: float = 0.0
    ocr_s: float = 0.0  # the part of parse_s that tesseract took


@dataclass(frozen=True)
class DocOutcome:
    doc_id: str
    fingerprint: str
    status: DocStatus
    chunk_count: int = 0
    attempts: int = 1
    stage: str = ""
    error_class: ErrorClass | None = None
    error_message: str = ""
    size: int = 0
    timings: StageTimings = field(default_factory=StageTimings)

    @property
    def final(self) -> bool:
        """Done documents and documents whose failure a retry cannot fix (the error table's
        `final`) are checkpointed; the others stay open so the next run tries again."""
        from docflow.core.errors import ERROR_TABLE  # errors imports this module

        return self.status is DocStatus.DONE or (
            self.error_class is not None and ERROR_TABLE[self.error_class].final
        )


@dataclass(frozen=True)
class BatchResult:
    outcomes: tuple[DocOutcome, ...]
    skipped_doc_ids: tuple[str, ...] = ()
    elapsed_s: float = 0.0
    worker: str = ""
    peak_rss_bytes: int = 0


@dataclass(frozen=True)
class DocChunks:
    """One document's chunks on their way to the store (inside a worker only: they carry text)."""

    doc_id: str
    fingerprint: str
    source_path: str
    doc_type: str
    chunks: tuple[Chunk, ...]


@dataclass(frozen=True)
class LedgerEntry:
    doc: DocRef
    outcome: DocOutcome

    @classmethod
    def problem(cls, doc_id: str, path: str, error_class: ErrorClass, message: str) -> LedgerEntry:
        """A path that never became a document (unreadable, escaping symlink...) still gets a
        ledger row, so `docflow status` shows it with its reason."""
        doc = DocRef(doc_id, path, "", 0, 0, "", "", "")
        outcome = DocOutcome(
            doc_id=doc_id,
            fingerprint="",
            status=DocStatus.FAILED,
            attempts=0,
            stage=Stage.DISCOVER,
            error_class=error_class,
            error_message=message,
        )
        return cls(doc, outcome)


@dataclass(frozen=True)
class Destination:
    """Where a batch's results go: built by the caller (the task shell) from a Target, with the
    worker's own credentials, through the store registry; the core holds no adapter itself."""

    store: VectorStore
    state: State
    checkpoints: Checkpoints
