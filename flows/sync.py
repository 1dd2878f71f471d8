"""The incremental sync flow: ingest new and changed documents, delete disappeared ones.

It runs the ingest flow's steps (same discovery, checkpoints, batches and ledger) with its own
choice of work: a diff against the ledger, the mass-deletion guard and batched deletes, so a
scheduled sync and a manual ingest can never disagree about what "done" means."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from prefect import flow
from pydantic import Field

from docflow.adapters.checkpoints.checkpoint import PrefectCheckpoints
from docflow.adapters.stores import open_state, open_store
from docflow.core.diff import GuardVerdict, diff, mass_delete_guard
from docflow.core.models import RunOutcome
from docflow.core.prune import prune
from docflow.core.settings import MAX_DELETE_FRACTION
from docflow.core.versions import RecordedVersions
from flows.discovery import Found
from flows.ingest import run_documents
from flows.naming import flow_run_name
from flows.outcomes import skip_reason
from flows.params import Address, Backend, BatchSize, Block, Globs, Paths, Policies, Table, Store, documented, resolve_inputs
from flows.pipeline import OpenRun
from flows.report import publish_diff
from flows.run_state import RunState


@dataclass(frozen=True)
class SyncOptions:
    """A sync's choice of work: the added and updated documents; disappeared ones are deleted
    unless the guard refuses. A missing source root is an unreachable, empty listing."""

    dry_run: bool = False
    allow_mass_delete: bool = False
    max_delete_fraction: float = MAX_DELETE_FRACTION
    verb = "sync"
    retry_failed = False
    tolerate_missing = True

    def choose(self, run: OpenRun, found: Found, done: set[str], state: RunState):
        target, counters, logger, unreachable = run.target, state.counters, state.logger, found.unreachable
        docs = found.discovery.documents
        ledger = open_state(target)
        known = found.recorded if found.recorded is not None else RecordedVersions()
        present = {d.doc_id for d in docs} | {p.doc_id for p in found.discovery.problems}
        changes = diff(docs, present, known, done)
        verdict = mass_delete_guard(
            changes, self.max_delete_fraction, self.allow_mass_delete, source_empty=unreachable or not present,
        )
        if unreachable:
            verdict = GuardVerdict(verdict.allowed and not changes.deleted, "the source is unreachable; nothing deleted")
        logger.info("sync diff: %s%s", changes.counts(), "" if verdict.allowed else f"; {verdict.reason}")
        publish_diff(changes, verdict, self.dry_run, logger, table=target.table)
        counters.sync_diff = changes.counts()
        if self.dry_run:
            counters.outcome = RunOutcome.DRY_RUN
            return [], []
        if verdict.allowed:
            counters.documents_deleted, counters.chunks_deleted = prune(
                open_store(target), ledger, PrefectCheckpoints.of(target, run.generation), changes.deleted
            )
            counters.documents_total += counters.documents_deleted
        else:
            counters.outcome, counters.reason = RunOutcome.GUARDED, verdict.reason
        chosen = set(changes.added) | set(changes.updated)
        return [d for d in docs if d.doc_id in chosen], [d for d in docs if d.doc_id not in chosen]

    def skip_reason(self, doc_id: str, last_run: dict[str, str], run_id: str) -> str:
        return skip_reason(doc_id, last_run, run_id, sync=True, retry_failed=False)


@flow(name="docflow-sync", flow_run_name=flow_run_name, persist_result=False, validate_parameters=True)
@documented(
    "Bring a vector table in step with its sources: add, update and delete documents.",
    """        paths: Source files, directories or globs (the same ones the table was built from).
            Required unless `source` names a document source block (then its roots).
        dry_run: Only report (and record as an artifact) what would be added, updated, deleted.
        allow_mass_delete: Delete even when the guard would refuse (empty source, large share).
        max_delete_fraction: Largest share of indexed documents one sync may delete (default 0.2).
""",
)
def sync(
    paths: Paths = None, db: str | None = None, table: Table = None, dry_run: bool = False,
    allow_mass_delete: bool = False,
    max_delete_fraction: Annotated[float, Field(ge=0.0, le=1.0)] = MAX_DELETE_FRACTION,
    batch_size: BatchSize = None, include: Globs = None, exclude: Globs = None, model: str | None = None,
    retry_policies: Policies = None, source: Block = None, target: Block = None, embedder: Block = None,
    embed_backend: Backend = None, store: Store = None, address: Address = None, cluster: Block = None,
    rehash: bool = False,
):
    return run_documents(SyncOptions(dry_run, allow_mass_delete, max_delete_fraction), batch_size, rehash, resolve_inputs(locals()))
