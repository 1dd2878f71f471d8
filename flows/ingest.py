"""The ingest flow: discover, skip what is checkpointed, process the rest in batches on Dask.

Skipping happens before anything is submitted: the flow lists the checkpoint store once to
learn which documents are finished, and discovery reads only files whose stat changed, so a
rerun over a finished corpus costs a walk, a ledger scan and a listing. A
retried flow run (the UI's Retry) re-enters here with the same parameters and skips the same
way. Batches are submitted with back-pressure (a bounded number in flight), a system error
stops submission and lets in-flight batches finish, and Ctrl-C cancels cleanly; every exit
path records the run and returns the same summary."""

from __future__ import annotations

import logging
import math
import shlex
import time
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from typing import Annotated

from pydantic import Field
from prefect import flow, get_run_logger
from prefect.context import FlowRunContext
from prefect.exceptions import TerminationSignal
from prefect.futures import as_completed
from prefect.states import Cancelled, Completed, Failed

from blocks.resolve import BlockName, confine, resolve, run_locations
from docflow.core.models import BatchResult, DocRef, DocStatus, ErrorClass, LedgerEntry, PipelineConfig, Target
from docflow.core.settings import SCHEMA_VERSION, DocflowSettings
from docflow.core.summary import RunCounters
from flows import orphans
from flows.interrupt import Interrupted, cooperative_interrupts
from flows.outcomes import DocumentTable, skip_reason
from flows.naming import batch_name, failed_batch_name, flow_run_name, rename_task_run, tag_run
from flows.progress import SUMMARY_LISTENERS, Progress
from flows.report import publish, publish_diff
from flows.runner import build_task_runner, ensure_workers_see, torch_threads_per_worker, use_address
from docflow.adapters.checkpoints.checkpoint import PrefectCheckpoints
from docflow.adapters.stores import open_state, open_store, target_of
from docflow.core import credentials
from docflow.core import resume
from docflow.core.chunk import ChunkSettings
from docflow.core.diff import GuardVerdict, diff, mass_delete_guard
from docflow.core.discover import Discovery, SourceError, discover, empty_globs
from docflow.adapters.embedders.embed import dimension_from_files, embedding_dimension, model_label, model_revision
from docflow.adapters.embedders.embed import resolve_model, table_embed_backend
from docflow.core.errors import DocflowError, DocflowSystemError, classify
from docflow.adapters.parsers.ocr import OcrSettings
from docflow.adapters.parsers.parse import PDF_STRATEGY, parser_version
from docflow.core.process import BatchContext
from tasks.batch import process_batch_task
from docflow.core.prune import prune
from docflow.core.retry import RetryPolicies
from docflow.core.verify import ensure_readable, explain


@dataclass(frozen=True)
class Pipeline:
    config: PipelineConfig
    model_path: str
    chunking: ChunkSettings
    ocr: OcrSettings


def build_pipeline(settings: DocflowSettings) -> Pipeline:
    model_path = resolve_model(settings.model)
    chunking = ChunkSettings(
        max_characters=settings.chunk_max_characters,
        new_after_n_chars=settings.chunk_new_after_n_chars,
        combine_under_n_chars=settings.chunk_combine_under_n_chars,
        overlap=settings.chunk_overlap,
    )
    config = PipelineConfig(
        model_name=model_label(model_path),
        model_revision=model_revision(model_path),
        parser=parser_version(),
        pdf_strategy=PDF_STRATEGY,
        ocr_languages=settings.ocr_languages,
        ocr_dpi=settings.ocr_dpi,
        chunk_max_characters=chunking.max_characters,
        chunk_new_after_n_chars=chunking.new_after_n_chars,
        chunk_combine_under_n_chars=chunking.combine_under_n_chars,
        chunk_overlap=chunking.overlap,
        schema_version=SCHEMA_VERSION,
        embed_backend=settings.embed_backend.value,
        embed_precision=settings.embed_backend.precision,
    )
    return Pipeline(config, model_path, chunking, OcrSettings(settings.ocr_languages, settings.ocr_dpi))


def open_target(
    settings: DocflowSettings, pipeline: Pipeline, create: bool = True
) -> tuple[Target, str]:
    """Create the tables if needed and return the target with the chunk table's generation
    ("" when `create` is off and there is no table yet: nothing is indexed)."""
    target = target_of(settings)
    store = open_store(target)
    if not create and store.info() is None:
        return target, ""
    dim = dimension_from_files(pipeline.model_path) or embedding_dimension(pipeline.model_path)
    info = store.ensure(dim, _pipeline_meta(pipeline))
    open_state(target).ensure()
    if info.dim not in (None, dim):
        raise DocflowSystemError(
            f"table {settings.table!r} holds {info.dim}-dimensional vectors but model "
            f"{pipeline.config.model_name} makes {dim}; use another --table",
            stage="config",
        )
    table_backend = table_embed_backend({"pipeline": info.pipeline})
    if table_backend.value != pipeline.config.embed_backend:
        raise DocflowSystemError(
            f"table {settings.table!r} holds vectors of embed backend {table_backend.value}, this run "
            f"embeds with {pipeline.config.embed_backend}; vectors of two backends never share a "
            f"table: use another --table, or --embed-backend {table_backend.value}",
            stage="config",
        )
    return target, info.generation


def _pipeline_meta(pipeline: Pipeline) -> dict:
    return {
        "model_name": pipeline.config.model_name,
        "model_path": pipeline.model_path,
        "model_revision": pipeline.config.model_revision,
        "embed_backend": pipeline.config.embed_backend,
        "embed_precision": pipeline.config.embed_precision,
        "fingerprint": pipeline.config.fingerprint(),
    }


def batch_context(
    target: Target,
    generation: str,
    pipeline: Pipeline,
    settings: DocflowSettings,
    policies: RetryPolicies,
    run_id: str,
    retry_failed: bool = False,
) -> BatchContext:
    """Everything a worker needs to process a batch, from the run's settings."""
    return BatchContext(
        target=credentials.for_workers(target, settings),
        generation=generation,
        model_path=pipeline.model_path,
        device=settings.device,
        embed_batch_size=settings.embed_batch_size,
        embed_backend=settings.embed_backend,
        model_cache_dir=settings.model_cache_dir or "",
        chunking=pipeline.chunking,
        policies=policies,
        run_id=run_id,
        pipeline_fingerprint=pipeline.config.fingerprint(),
        torch_threads=torch_threads_per_worker(settings),
        ignore_checkpoints=retry_failed,
        parse_timeout_s=settings.parse_timeout_s,
        parse_memory_mb=settings.parse_memory_mb,
        ocr=pipeline.ocr,
        parse_timeout_s_per_mb=settings.parse_timeout_s_per_mb,
        max_text_chars=settings.max_text_chars,
        max_chunks=settings.max_chunks,
    )


# Every task run costs the Prefect server writes and the flow a submission; past a few thousand
# per flow run the server (SQLite above all) falls behind, so large corpora get larger batches.
MAX_BATCH_RUNS = 2000


def make_batches(docs: Sequence[DocRef], batch_size: int, workers: int) -> list[list[DocRef]]:
    """At most `batch_size` per batch, but small corpora are split so every worker gets work,
    and a large one never needs more than MAX_BATCH_RUNS batches."""
    if not docs:
        return []
    size = max(1, min(batch_size, math.ceil(len(docs) / (2 * workers))), math.ceil(len(docs) / MAX_BATCH_RUNS))
    return [list(docs[i : i + size]) for i in range(0, len(docs), size)]


def select_work(
    docs: Sequence[DocRef], finished: set[str], failed: set[str], retry_failed: bool
) -> tuple[list[DocRef], list[DocRef]]:
    """(to process, skipped). --retry-failed takes exactly the ledger's failures, finished or
    not (a parse failure is checkpointed as final)."""
    if retry_failed:
        todo = [d for d in docs if d.doc_id in failed]
    else:
        todo = [d for d in docs if d.doc_id not in finished]
    chosen = {d.doc_id for d in todo}
    return todo, [d for d in docs if d.doc_id not in chosen]


@flow(
    name="docflow-ingest",
    flow_run_name=flow_run_name,
    task_runner=build_task_runner(DocflowSettings()),
    persist_result=False,
    validate_parameters=True,
)
def ingest(
    paths: Annotated[list[str], Field(min_length=1)] | None = None,
    db: str | None = None,
    table: Annotated[str | None, Field(pattern=r"^[A-Za-z0-9_.-]{1,128}$")] = None,
    retry_failed: bool = False,
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
    """Ingest documents under `paths` into a LanceDB table; finished documents are skipped.

    Block names and plain values mix; a plain value that is given wins over the block's.

    Args:
        paths: Files, directories or globs to ingest, as the worker sees them (directories are
            walked recursively). Required unless `source` names a document source block.
        db: LanceDB URI or directory; default DOCFLOW_DB or ./lancedb. A relative path is
            relative to the flow run's working directory: for a deployment, the clone it was
            deployed from. Give an absolute path or a URL.
        table: Chunk table name (default DOCFLOW_TABLE or chunks); its ledger is the table
            `TABLE_ledger` beside it.
        retry_failed: Reprocess only the documents whose last outcome was a failure.
        batch_size: Documents per task run (default 16; smaller for small corpora).
        include: Globs on doc ids to include.
        exclude: Globs on doc ids to exclude.
        model: Embedding model directory; default: the bundled all-MiniLM-L6-v2.
        retry_policies: Retry policy per error class (transient, missing, resource, parse,
            system), or the name of a docflow retry policies block.
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
    return run_ingest(inputs.paths, inputs.settings(batch_size), retry_failed, inputs.retry_policies, rehash=rehash)


def refused(reason: str):
    """A call that cannot start (no documents named, an unknown block): one line in the state
    message, no traceback, nothing written."""
    get_run_logger().error("refused: %s", reason)
    return Failed(message=f"refused: {reason}")


@dataclass(frozen=True)
class SyncOptions:
    """Present when the run is an incremental sync: disappeared documents are deleted."""

    dry_run: bool = False
    allow_mass_delete: bool = False
    max_delete_fraction: float = 0.2


def run_ingest(
    paths: Sequence[str],
    settings: DocflowSettings,
    retry_failed: bool,
    policies: RetryPolicies,
    sync: SyncOptions | None = None,
    rehash: bool = False,
):
    """`rehash`: read and hash every document instead of trusting the recorded versions."""
    logger = get_run_logger()
    orphans.track(settings.home, logger)
    counters = RunCounters()
    documents = DocumentTable()
    started_at = datetime.now(UTC)
    run_id = _flow_run_id() or uuid.uuid4().hex
    target, opened, store = None, False, None
    try:
        confine(run_locations(paths, settings), settings)
        store = open_store(target_of(settings))
        ensure_readable(store)
        pipeline = build_pipeline(settings)
        discover_started = time.monotonic()
        # No table is created before discovery: a run refused for its sources leaves nothing.
        target, generation = open_target(settings, pipeline, create=False)
        state = open_state(target)
        recorded = state.recorded_versions() if generation else None
        found, unreachable = _discover(paths, pipeline, settings, sync is not None, recorded, rehash)
        docs = list(found.documents)
        counters.discover_s = time.monotonic() - discover_started
        for pattern in empty_globs(paths):
            logger.warning("glob matched nothing: %s", pattern)
        tag_run(settings.table, logger)
        if not generation:
            target, generation = open_target(settings, pipeline, create=not (sync and sync.dry_run))
        opened = True
        counters.documents_total = len(docs) + len(found.problems)
        counters.documents_ignored = found.ignored
        counters.ignored_by_reason = found.ignored_by_reason
        counters.ignored_by_extension = found.ignored_by_extension
        counters.discovery_problems = len(found.problems)
        checkpoints = PrefectCheckpoints.of(target, generation)
        dry_run = sync is not None and sync.dry_run
        done = resume.finished(store, state, checkpoints, docs, write=not dry_run) if generation else set()
        if recorded is not None and not dry_run:
            _refresh_versions(state, [d for d in docs if d.doc_id in done], recorded)
        if sync is not None:
            todo, skipped = _sync_changes(target, checkpoints, found, done, unreachable, sync, counters, logger)
        else:
            failed_ids = state.failed_doc_ids() if retry_failed else set()
            todo, skipped = select_work(docs, done, failed_ids, retry_failed)
        if counters.outcome != "dry-run":
            _record_problems(state, found.problems, counters, run_id)
            skipped = _explain_skipped(state, skipped, run_id, sync is not None, retry_failed, counters, documents, logger)
            counters.documents_skipped = len(skipped)
            counters.cache_hits = len(skipped)
            counters.cache_misses = len(todo)
            counters.bytes_total = sum(d.size for d in todo)
            logger.info(
                "discovered %d documents (%d unreadable, %d ignored); %d to process, %d finished",
                len(docs), len(found.problems), found.ignored, len(todo), len(skipped),
            )
            _process(todo, target, generation, pipeline, settings, policies, run_id, retry_failed, counters, documents, logger)
            if todo or counters.documents_deleted:
                _compact(target)
            if counters.outcome == "running":
                counters.outcome = "completed"
    except (Interrupted, KeyboardInterrupt, TerminationSignal):
        # Ctrl-C or SIGTERM: submission stopped, in-flight batches cancelled, finished work
        # kept; the run reports and ends Cancelled.
        counters.outcome, counters.reason = "cancelled", "interrupted by the user"
        _settle_unsettled(target, run_id, counters)
    except SourceError as exc:
        counters.outcome, counters.reason = "failed", f"bad sources: {exc}"
    except Exception as exc:  # noqa: BLE001 - the run must end with a classified reason
        error = explain(exc, store, "flow")
        counters.outcome, counters.reason = "failed", f"{error.error_class.value} error: {error}"
    summary = counters.as_dict()
    for listener in SUMMARY_LISTENERS:
        listener(summary)
    if counters.outcome != "dry-run":
        _record_run(target if opened else None, run_id, started_at, summary, logger)
    publish(summary, counters.failures, counters.slowest_documents(), _command(paths, settings, sync), logger,
            table=settings.table, documents=documents)
    logger.info("summary: %s", summary)
    return _final_state(counters, summary, logger, started=opened)


def _discover(paths, pipeline: Pipeline, settings: DocflowSettings, tolerate_missing: bool, recorded, rehash: bool):
    """A sync treats a missing source root as an empty, unreachable listing (the mass-delete
    guard then refuses to delete); an ingest treats it as a usage error."""
    try:
        found = discover(
            paths, pipeline.config.fingerprint(), settings.include, settings.exclude, recorded, rehash,
            defer_changed_objects=True,
        )
        return found, False
    except SourceError:
        if not tolerate_missing:
            raise
        return Discovery((), ()), True


def _refresh_versions(state, finished: list[DocRef], recorded) -> None:
    """Finished documents that discovery had to hash (touched, or racily clean) and found
    unchanged get their new stat recorded, so the next run does not read them again."""
    stale = []
    for doc in finished:
        before = recorded.get(doc.doc_id)
        if before is None or not doc.observed_ns:
            continue
        if (doc.size, doc.mtime_ns, doc.ctime_ns, doc.inode, doc.observed_ns, doc.version) != (
            before.stat.size, before.stat.mtime_ns, before.stat.ctime_ns, before.stat.inode,
            before.observed_ns, before.version,
        ):
            stale.append(doc)
    state.refresh_versions(stale)


def _sync_changes(target, checkpoints, found, done, unreachable, sync: SyncOptions, counters, logger):
    docs = list(found.documents)
    state = open_state(target)
    known = state.fingerprints()
    present = [d.doc_id for d in docs] + [p.doc_id for p in found.problems]
    changes = diff(docs, present, known, done)
    verdict = mass_delete_guard(
        changes,
        sync.max_delete_fraction,
        sync.allow_mass_delete,
        source_empty=unreachable or not present,
    )
    if unreachable:
        verdict = GuardVerdict(verdict.allowed and not changes.deleted, "the source is unreachable; nothing deleted")
    logger.info("sync diff: %s%s", changes.counts(), "" if verdict.allowed else f"; {verdict.reason}")
    publish_diff(changes, verdict, sync.dry_run, logger, table=target.table)
    counters.sync_diff = changes.counts()
    if sync.dry_run:
        counters.outcome = "dry-run"
        return [], []
    if verdict.allowed:
        counters.documents_deleted, counters.chunks_deleted = prune(
            open_store(target), state, checkpoints, changes.deleted
        )
        counters.documents_total += counters.documents_deleted
    else:
        counters.outcome, counters.reason = "guarded", verdict.reason
    chosen = set(changes.added) | set(changes.updated)
    return [d for d in docs if d.doc_id in chosen], [d for d in docs if d.doc_id not in chosen]


def _explain_skipped(state, skipped, run_id, sync: bool, retry_failed: bool, counters, documents, logger):
    """Say why each skipped document is skipped, and count the failures an earlier attempt of
    this same flow run (before the UI's Retry) checkpointed as failures, not as skipped."""
    if not skipped:
        return skipped
    by_doc = state.outcomes()
    last_run = {d: r.run_id for d, r in by_doc.items()}
    still_skipped = []
    for doc in skipped:
        row = by_doc.get(doc.doc_id)
        if not retry_failed and row and row.run_id == run_id and row.outcome.status is DocStatus.FAILED:
            failure = row.outcome
            counters.add_failure(doc.doc_id, failure.error_class, failure.error_message, failure.attempts,
                                 failure.stage)
            continue
        documents.add_skipped(doc.doc_id, skip_reason(doc.doc_id, last_run, run_id, sync=sync, retry_failed=retry_failed))
        still_skipped.append(doc)
    for why, count in sorted(documents.skipped_by.items()):
        logger.info("%d skipped: %s", count, why)
    return still_skipped


def _process(todo, target, generation, pipeline, settings, policies, run_id, retry_failed, counters, documents, logger):
    progress = Progress(counters, logger, len(todo), counters.bytes_total, table=target.table, documents=documents)
    progress.start()
    try:
        if todo:  # no cluster is started for a run with nothing to do
            _run_all(todo, target, generation, settings, policies, run_id, retry_failed, pipeline, progress)
    finally:
        progress.finish()


def _run_all(todo, target, generation, settings, policies, run_id, retry_failed, pipeline, progress) -> None:
    workers = settings.resolved_workers()
    if settings.address:
        client = use_address(FlowRunContext.get().task_runner, settings.address).client
        ensure_workers_see(client, [target.db, target.checkpoint_dir])
        workers = max(1, len(client.scheduler_info().get("workers", {})))
    ctx = batch_context(target, generation, pipeline, settings, policies, run_id, retry_failed)
    batches = make_batches(todo, settings.batch_size, workers)
    _run_batches(batches, ctx, workers * settings.in_flight_per_worker, policies, progress)


class RunStopped(Exception):
    """The data of a Failed or Cancelled run: Prefect resolves such a state's data into an
    exception, so the summary travels inside one (`.summary`) instead of as a bare dict."""

    def __init__(self, reason: str, summary: dict) -> None:
        super().__init__(reason, summary)
        self.reason = reason
        self.summary = summary

    def __str__(self) -> str:
        return self.reason


class _EngineReraiseFilter(logging.Filter):
    """A deployment's flow run process re-raises a Failed run's data after the run has ended
    and logs it as "Engine execution exited with unexpected exception" with a traceback. For
    RunStopped that adds nothing: its reason is the state message and was logged once."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], RunStopped))


logging.getLogger("prefect.flow_runs").addFilter(_EngineReraiseFilter())


def summary_of(state) -> dict | None:
    data = state.result(raise_on_failure=False)
    if isinstance(data, RunStopped):
        return data.summary
    return data if isinstance(data, dict) else None


def finished_message(summary: dict) -> str:
    """The state message the UI shows beside Completed: what happened, not just that it did."""
    return (
        f"finished: {summary['documents_processed']} done, {summary['documents_failed']} failed, "
        f"{summary['documents_skipped']} skipped of {summary['documents_total']}"
    )


def _final_state(counters: RunCounters, summary: dict, logger, started: bool = True):
    if counters.outcome == "completed":
        return Completed(message=finished_message(summary), data=summary)
    if counters.outcome == "dry-run":
        return Completed(name="DryRun", message="dry run: nothing changed", data=summary)
    if counters.outcome == "guarded":
        logger.warning("deletions refused: %s", counters.reason)
        return Completed(name="DeletionGuarded", message=counters.reason, data=summary)
    if counters.outcome == "cancelled":
        return Cancelled(message=counters.reason, data=RunStopped(counters.reason, summary))
    if not started:
        logger.error("refused: %s", counters.reason)
        return Failed(message=f"refused: {counters.reason}", data=RunStopped(counters.reason, summary))
    logger.error("run stopped: %s (finished documents are kept; rerun to resume)", counters.reason)
    return Failed(message=counters.reason, data=RunStopped(counters.reason, summary))


WAIT_SLICE_S = 0.5  # how quickly the loop notices an interrupt


def _run_batches(batches, ctx, max_in_flight: int, policies: RetryPolicies, progress) -> None:
    pending = deque((batch_name(i, batch), batch, 1) for i, batch in enumerate(batches, 1))
    in_flight: dict = {}
    stop: DocflowError | None = None
    with cooperative_interrupts() as interrupted:
        try:
            while pending or in_flight:
                if interrupted.is_set():
                    raise Interrupted
                while pending and stop is None and len(in_flight) < max_in_flight:
                    name, batch, attempt = pending.popleft()
                    task = process_batch_task.with_options(task_run_name=name)
                    in_flight[task.submit(batch, ctx, resumed=attempt > 1)] = (name, batch, attempt)
                if not in_flight:
                    break
                try:
                    future = next(as_completed(list(in_flight), timeout=WAIT_SLICE_S))
                except TimeoutError:
                    progress.update()  # log lines keep coming while batches are long
                    continue
                name, batch, attempt = in_flight.pop(future)
                stop = _settle(future, name, batch, attempt, policies, progress, pending) or stop
                progress.update()
        except (Interrupted, KeyboardInterrupt, TerminationSignal):
            _cancel(in_flight)
            progress.counters.unsettled = {
                d.doc_id: d.fingerprint for _, batch, _ in (*in_flight.values(), *pending) for d in batch
            }
            raise
    if stop is not None:
        progress.counters.documents_pending += sum(len(batch) for _, batch, _ in pending)
        raise stop


def _settle(future, name, batch, attempt: int, policies: RetryPolicies, progress, pending) -> DocflowError | None:
    """Count a finished batch, or apply its failure's policy; a system error is returned so
    the loop stops submitting and lets the batches in flight finish."""
    try:
        result = future.result()
        progress.add_batch(result)
        failed = sum(o.status is not DocStatus.DONE for o in result.outcomes)
        if failed:
            progress.calls.submit(rename_task_run, future.task_run_id, failed_batch_name(name, failed, len(batch)))
        return None
    except Exception as exc:  # noqa: BLE001 - classified just below
        error = classify(exc, "batch")
    policy = policies.for_class(error.error_class)
    if error.error_class is ErrorClass.SYSTEM or policy.stop_run:
        return error
    if attempt <= policy.retries:
        progress.logger.warning("batch failed (%s), resubmitting: %s", error.error_class.value, error)
        pending.append((name, batch, attempt + 1))
    else:
        for doc in batch:
            progress.counters.add_failure(doc.doc_id, error.error_class, error.message, attempt, "batch")
    return None


def _cancel(in_flight: dict) -> None:
    for future in in_flight:
        wrapped = getattr(future, "wrapped_future", None)
        if wrapped is not None:
            wrapped.cancel()


def _record_problems(state, problems, counters: RunCounters, run_id: str) -> None:
    if not problems:
        return
    state.upsert([LedgerEntry.problem(p.doc_id, p.path, p.error_class, p.message) for p in problems], run_id)
    for problem in problems:
        counters.add_failure(problem.doc_id, problem.error_class, problem.message, 0, "discover")


def _settle_unsettled(target: Target | None, run_id: str, counters) -> None:
    """A cancelled batch may have committed before the cancel reached it: the ledger rows this
    run wrote for the current fingerprints say which; the rest are pending."""
    if not counters.unsettled:
        return
    try:
        recorded = open_state(target).outcomes(counters.unsettled).values()
    except Exception:  # noqa: BLE001 - no ledger to read: all of them are pending
        recorded = []
    settled = [
        r.outcome for r in recorded
        if r.run_id == run_id and counters.unsettled.get(r.outcome.doc_id) == r.outcome.fingerprint
    ]
    counters.add_batch(BatchResult(outcomes=tuple(settled)))
    counters.documents_pending += len(counters.unsettled) - len(settled)
    counters.unsettled = {}


def _compact(target: Target) -> None:
    open_store(target).compact()
    open_state(target).compact()


def _record_run(target: Target | None, run_id: str, started_at, summary: dict, logger) -> None:
    if target is None:
        return
    try:
        open_state(target).record_run(run_id, run_id, started_at, summary["outcome"], summary)
    except Exception as exc:  # noqa: BLE001 - the summary is still returned and logged
        logger.warning("could not record the run of %s: %s", target.table, exc)


def _command(paths: Sequence[str], settings: DocflowSettings, sync: SyncOptions | None) -> str:
    verb = "ingest" if sync is None else "sync"
    return shlex.join(["docflow", verb, *paths, "--db", settings.db, "--table", settings.table])


def _flow_run_id() -> str | None:
    from prefect.runtime import flow_run

    return flow_run.get_id()
