"""The incremental sync flow: ingest new and changed documents, delete disappeared ones.

It is the ingest flow's code path (same discovery, checkpoints, batches and ledger) plus a diff
against the ledger, the mass-deletion guard and batched deletes, so a scheduled sync and a
manual ingest can never disagree about what "done" means."""

from __future__ import annotations

from typing import Annotated

from prefect import flow
from pydantic import Field

from blocks.resolve import BlockName, resolve
from docflow.core.settings import DocflowSettings
from flows.ingest import SyncOptions, refused, run_ingest
from flows.naming import flow_run_name
from flows.runner import build_task_runner
from docflow.core.retry import RetryPolicies


@flow(
    name="docflow-sync",
    flow_run_name=flow_run_name,
    task_runner=build_task_runner(DocflowSettings()),
    persist_result=False,
    validate_parameters=True,
)
def sync(
    paths: Annotated[list[str], Field(min_length=1)] | None = None,
    db: str | None = None,
    table: Annotated[str | None, Field(pattern=r"^[A-Za-z0-9_.-]{1,128}$")] = None,
    dry_run: bool = False,
    allow_mass_delete: bool = False,
    max_delete_fraction: Annotated[float, Field(ge=0.0, le=1.0)] = 0.2,
    batch_size: Annotated[int | None, Field(ge=1, le=10_000)] = None,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    model: str | None = None,
    retry_policies: RetryPolicies | BlockName | None = None,
    source: BlockName | None = None,
    target: BlockName | None = None,
    embedder: BlockName | None = None,
    address: Annotated[str | None, Field(pattern=r"^(tcp|tls|ucx|inproc)://\S+$")] = None,
    cluster: BlockName | None = None,
    rehash: bool = False,
):
    """Bring a LanceDB table in step with its sources: add, update and delete documents.

    Block names and plain values mix; a plain value that is given wins over the block's.

    Args:
        paths: Source files, directories or globs (the same ones the table was built from).
            Required unless `source` names a document source block (then its roots).
        db: LanceDB URI or directory; default DOCFLOW_DB or ./lancedb. A relative path is
            relative to the flow run's working directory: for a deployment, the clone it was
            deployed from. Give an absolute path or a URL.
        table: Chunk table name (default DOCFLOW_TABLE or chunks); its ledger is the table
            `TABLE_ledger` beside it.
        dry_run: Only report (and record as an artifact) what would be added, updated, deleted.
        allow_mass_delete: Delete even when the guard would refuse (empty source, large share).
        max_delete_fraction: Largest share of indexed documents one sync may delete (default 0.2).
        batch_size: Documents per task run (default 16).
        include: Globs on doc ids to include.
        exclude: Globs on doc ids to exclude.
        model: Embedding model directory; default: the bundled all-MiniLM-L6-v2.
        retry_policies: Retry policy per error class, or the name of a docflow retry policies
            block.
        source: Name of a docflow document source block (roots, include, exclude).
        target: Name of a docflow LanceDB target block (URI, table).
        embedder: Name of a docflow embedder block (model, device, batch size).
        address: An existing Dask scheduler (tcp://host:8786) instead of a local cluster.
        cluster: Name of a docflow dask cluster block (its address).
        rehash: Read and hash every document, not only those whose size, mtime, ctime or
            inode (object stores: version or ETag) differ from what the ledger recorded.
    """
    try:
        inputs = resolve(
            paths=paths, db=db, table=table, include=include, exclude=exclude, model=model,
            retry_policies=retry_policies, source=source, target=target, embedder=embedder,
            address=address, cluster=cluster,
        )
    except ValueError as exc:
        return refused(str(exc))
    options = SyncOptions(dry_run, allow_mass_delete, max_delete_fraction)
    return run_ingest(inputs.paths, inputs.settings(batch_size), False, inputs.retry_policies, options, rehash)
