"""The flow parameters ingest and sync share: one type per field (its constraints are what the
UI form and the deployment schema check) and one description each, so the two flows cannot
drift apart."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from blocks.resolve import BlockName
from docflow.core.models import EmbedBackend
from docflow.core.retry import RetryPolicies
from docflow.core.settings import ADDRESS_PATTERN, TABLE_PATTERN

Paths = Annotated[list[str], Field(min_length=1)] | None
Table = Annotated[str | None, Field(pattern=TABLE_PATTERN)]
BatchSize = Annotated[int | None, Field(ge=1, le=10_000)]
Address = Annotated[str | None, Field(pattern=ADDRESS_PATTERN)]
Globs = list[str] | None
Policies = RetryPolicies | BlockName | None
Block = BlockName | None
Backend = EmbedBackend | None
Store = Annotated[str | None, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]

SHARED_ARGS = """\
        db: The store's database URI or directory; default DOCFLOW_DB or the settings' default. A relative path is
            relative to the flow run's working directory: for a deployment, the clone it was
            deployed from. Give an absolute path or a URL.
        table: Chunk table name (default DOCFLOW_TABLE or chunks); its ledger is the table
            `TABLE_ledger` beside it.
        batch_size: Documents per task run (default 16; smaller for small corpora).
        include: Globs on doc ids to include.
        exclude: Globs on doc ids to exclude.
        model: Embedding model directory; default: the bundled all-MiniLM-L6-v2.
        retry_policies: Retry policy per error class (transient, missing, resource, parse,
            system), or the name of a docflow retry policies block.
        source: Name of a docflow document source block (roots, include, exclude).
        target: Name of a docflow target block (store, URI, table).
        embedder: Name of a docflow embedder block (model, device, batch size).
        store: The store adapter's registered name; default: the target block's, else
            DOCFLOW_STORE or the default store.
        embed_backend: How the embedding model runs (torch, onnx, onnx-int8); default: the
            embedder block's, else DOCFLOW_EMBED_BACKEND, else the table's (onnx-int8 for a new table).
        address: An existing Dask scheduler (tcp://host:8786) instead of a local cluster.
        cluster: Name of a docflow dask cluster block (its address).
        rehash: Read and hash every document, not only those whose size, mtime, ctime or
            inode (object stores: version or ETag) differ from what the ledger recorded.
"""


RESOLVED = ("paths", "db", "table", "include", "exclude", "model", "retry_policies", "source", "target",
            "embedder", "embed_backend", "store", "address", "cluster")


def resolve_inputs(parameters: dict) -> dict:
    """The flow parameters `blocks.resolve.resolve` completes from the named blocks."""
    return {name: parameters[name] for name in RESOLVED}


def documented(summary: str, own_args: str):
    """Give a flow function its docstring: `summary`, its own arguments, then the shared ones
    (Prefect reads the Args section for the parameter descriptions in the UI)."""

    def apply(fn):
        fn.__doc__ = f"{summary}\n\n    Block names and plain values mix; a plain value that is given wins over the block's.\n\n    Args:\n{own_args}{SHARED_ARGS}"
        return fn

    return apply
