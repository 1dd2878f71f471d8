"""The ingest flow: plan, skip what is finished, process the rest in batches on Dask, settle,
report.

Skipping happens before anything is submitted: the flow asks the checkpoint store once, in
bulk, which documents are finished, and discovery reads only files whose stat changed, so a
rerun over a finished corpus costs a walk, a ledger scan and that bulk lookup. A retried flow
run (the UI's Retry) re-enters here with the same parameters and skips the same way. Every
exit path, a bad block name included, records the run and returns the same summary. The sync
flow runs the same steps with its own choice of work (flows/sync.py)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from prefect import flow, get_run_logger
from prefect.exceptions import TerminationSignal

from blocks.resolve import confine, resolve, run_locations
from docflow.adapters.checkpoints.checkpoint import PrefectCheckpoints
from docflow.adapters.stores import open_state, open_store, target_of
from docflow.core import resume
from docflow.core.discover import empty_globs
from docflow.core.models import RunOutcome
from docflow.core.plan import select_work
from docflow.core.verify import ensure_readable
from flows import bookkeeping, orphans
from flows.memory import collector_paused
from flows.discovery import Found, discover_documents, recorded_versions, refresh_versions
from flows.finish import report, settle
from flows.interrupt import Interrupted
from flows.naming import flow_run_name, tag_run
from flows.outcomes import skip_reason
from flows.params import Address, Backend, BatchSize, Block, Globs, Paths, Policies, Table, Store, documented, resolve_inputs
from flows.pipeline import OpenRun, build_pipeline, open_target
from flows.run_state import RunState, start_run
from flows.scheduler import process_batches

CLASSIFIED_EXITS = (Interrupted, KeyboardInterrupt, TerminationSignal, Exception)


@dataclass(frozen=True)
class IngestWork:
    """An ingest's choice of work: everything not finished, or (retry_failed) exactly the
    ledger's failures. A missing source root is a usage error."""

    retry_failed: bool = False
    verb = "ingest"
    dry_run = False
    tolerate_missing = False

    def choose(self, run: OpenRun, found: Found, done: set[str], state: RunState):
        failed = bookkeeping.failed_doc_ids(run.target) if self.retry_failed else set()
        return select_work(found.discovery.documents, done, failed, self.retry_failed)

    def skip_reason(self, doc_id: str, last_run: dict[str, str], run_id: str) -> str:
        return skip_reason(doc_id, last_run, run_id, sync=False, retry_failed=self.retry_failed)


@flow(name="docflow-ingest", flow_run_name=flow_run_name, persist_result=False, validate_parameters=True)
@documented(
    "Ingest documents under `paths` into a vector table; finished documents are skipped.",
    """        paths: Files, directories or globs to ingest, as the worker sees them (directories are
            walked recursively). Required unless `source` names a document source block.
        retry_failed: Reprocess only the documents whose last outcome was a failure.
""",
)
def ingest(
    paths: Paths = None, db: str | None = None, table: Table = None, retry_failed: bool = False,
    batch_size: BatchSize = None, include: Globs = None, exclude: Globs = None, model: str | None = None,
    retry_policies: Policies = None, source: Block = None, target: Block = None, embedder: Block = None,
    embed_backend: Backend = None, store: Store = None, address: Address = None, cluster: Block = None,
    rehash: bool = False,
):
    return run_documents(IngestWork(retry_failed), batch_size, rehash, resolve_inputs(locals()))


def run_documents(work, batch_size: int | None, rehash: bool, inputs: dict):
    """The steps both flows run; `work` (IngestWork, sync's SyncOptions) chooses what to do."""
    state = start_run(get_run_logger())
    paths, settings, run = inputs["paths"] or [], None, None
    try:
        resolved = resolve(**inputs)
        paths, settings = resolved.paths, resolved.settings(batch_size)
        orphans.track(settings.home, state.logger)
        with collector_paused():
            run, found = plan(paths, settings, resolved.retry_policies, work, rehash, state)
            todo = skip_finished(run, found, work, state)
            # A reference and a recorded version for every document of the corpus: the batches
            # and the report allocate theirs after this, and need only `todo`.
            del found
        if not work.dry_run:
            process_batches(todo, run, work.retry_failed, state)
            if todo or state.counters.documents_deleted:
                bookkeeping.compact(run.target)
            if state.counters.outcome == RunOutcome.RUNNING:
                state.counters.outcome = RunOutcome.COMPLETED
    except CLASSIFIED_EXITS as exc:
        settle(exc, settings, run, state)
    return report(state, run, work, paths, settings, inputs)


def plan(paths: Sequence[str], settings, policies, work, rehash: bool, state: RunState):
    """Fence the run, build the pipeline, discover, and open (or create) the tables. No table
    is created before discovery: a run refused for its sources leaves nothing."""
    confine(run_locations(paths, settings), settings)
    ensure_readable(open_store(target_of(settings)))
    pipeline = build_pipeline(settings)
    started = time.monotonic()
    target, generation = open_target(settings, pipeline, create=False)
    found = discover_documents(paths, pipeline, settings, work.tolerate_missing,
                               recorded_versions(target, generation), rehash)
    state.counters.discover_s = time.monotonic() - started
    for pattern in empty_globs(paths):
        state.logger.warning("glob matched nothing: %s", pattern)
    tag_run(settings.table, state.logger)
    if not generation:
        target, generation = open_target(settings, pipeline, create=not work.dry_run)
    state.counters.record_discovery(found.discovery)
    return OpenRun(settings, policies, pipeline, target, generation), found


def skip_finished(run: OpenRun, found: Found, work, state: RunState):
    """The documents to process: the checkpoints (or the table's proof) say which are
    finished, `work` chooses among the rest, and every skip is explained."""
    discovery, target, generation = found.discovery, run.target, run.generation
    docs = discovery.documents
    checkpoints = PrefectCheckpoints.of(target, generation)
    store, ledger = open_store(target), open_state(target)
    done = resume.finished(store, ledger, checkpoints, docs, write=not work.dry_run) if generation else set()
    if found.recorded is not None and not work.dry_run:
        refresh_versions(target, [d for d in docs if d.doc_id in discovery.read and d.doc_id in done], found.recorded)
    todo, skipped = work.choose(run, found, done, state)
    if work.dry_run:
        return todo
    bookkeeping.record_problems(target, discovery.problems, state)
    skipped = bookkeeping.explain_skipped(target, skipped, state, work.retry_failed, work.skip_reason)
    state.counters.record_selection(todo, skipped)
    state.logger.info("discovered %d documents (%d unreadable, %d ignored); %d to process, %d finished",
                      len(docs), len(discovery.problems), discovery.ignored, len(todo), len(skipped))
    return todo
