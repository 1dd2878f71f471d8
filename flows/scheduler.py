"""The batch scheduler: submits batches with back-pressure, settles each as it finishes,
resubmits what its policy allows and cancels what is in flight on Ctrl-C.

One object owns the queue, the futures in flight and the error that stops the run, so
the loop, the settling and the cancel path read the same state instead of passing it along.
A system error stops submission and lets the batches in flight finish; an interrupt cancels
them and records which documents were submitted but not settled."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from prefect.context import FlowRunContext
from prefect.exceptions import TerminationSignal
from prefect.futures import as_completed

from docflow.core.errors import DocflowError, classify, rules_for
from docflow.core.models import DocRef, DocStatus, Stage
from docflow.core.plan import make_batches
from docflow.core.process import BatchContext
from docflow.core.retry import RetryPolicies
from docflow.core.summary import Milestone
from flows.interrupt import Interrupted, cooperative_interrupts
from flows.naming import batch_name, failed_batch_name, rename_task_run
from flows.observers import current
from flows.pipeline import OpenRun, batch_context
from flows.progress import Progress
from flows.run_state import RunState
from flows.runner import batch_runner, ensure_workers_see, in_this_process, remote_address, torch_threads_per_worker
from flows.runner import worker_count
from tasks.batch import process_batch_task

WAIT_SLICE_S = 0.5  # how quickly the loop notices an interrupt


class BatchScheduler:
    """`task` is the Prefect task a batch runs in (tasks.batch.process_batch_task in a run), on
    the started task runner `runner`; `max_in_flight` bounds the flow's memory whatever the
    corpus size."""

    def __init__(self, runner, task, ctx: BatchContext, policies: RetryPolicies, progress: Progress,
                 max_in_flight: int) -> None:
        self.runner = runner
        self.task = task
        self.ctx = ctx
        self.policies = policies
        self.progress = progress
        self.max_in_flight = max_in_flight
        self.pending: deque[tuple[str, list[DocRef], int]] = deque()
        self.in_flight: dict = {}
        self.stop: DocflowError | None = None

    def run(self, batches: Sequence[list[DocRef]]) -> None:
        """Every batch settled, or raise: the stopping error (after the batches in flight
        finished), or the interrupt (after they were cancelled)."""
        self.pending.extend((batch_name(i, batch), batch, 1) for i, batch in enumerate(batches, 1))
        with cooperative_interrupts() as interrupted:
            try:
                while self.pending or self.in_flight:
                    if interrupted.is_set():
                        raise Interrupted
                    self.submit()
                    if not self.in_flight:
                        break
                    try:
                        future = next(as_completed(list(self.in_flight), timeout=WAIT_SLICE_S))
                    except TimeoutError:
                        self.progress.update()  # log lines keep coming while batches are long
                        continue
                    self.settle(future)
                    self.progress.update()
            except (Interrupted, KeyboardInterrupt, TerminationSignal):
                self.cancel()
                raise
        if self.stop is not None:
            self.progress.counters.documents_pending += sum(len(batch) for _, batch, _ in self.pending)
            raise self.stop

    def submit(self) -> None:
        """Fill the free slots, unless an error stopped submission."""
        while self.pending and self.stop is None and len(self.in_flight) < self.max_in_flight:
            name, batch, attempt = self.pending.popleft()
            task = self.task.with_options(task_run_name=name)
            future = self.runner.submit(task, parameters={"docs": batch, "ctx": self.ctx, "resumed": attempt > 1})
            self.in_flight[future] = (name, batch, attempt)

    def settle(self, future) -> None:
        """Count a finished batch, or apply its failure's policy: resubmit it, record its
        documents as failed, or (a system error) stop submitting."""
        name, batch, attempt = self.in_flight.pop(future)
        try:
            result = future.result()
        except Exception as exc:  # noqa: BLE001 - classified just below
            error = classify(exc, Stage.BATCH)
        else:
            self.progress.add_batch(result)
            failed = sum(o.status is not DocStatus.DONE for o in result.outcomes)
            if failed:
                self.progress.calls.submit(rename_task_run, future.task_run_id, failed_batch_name(name, failed, len(batch)))
            return
        policy, rules = self.policies.for_class(error.error_class), rules_for(error.error_class)
        if rules.stops_run or policy.stop_run:
            self.stop = error
            # it may have committed some of its documents before the error: the ledger says
            # which once the run ends (bookkeeping.settle_unsettled)
            self.progress.counters.unsettled.update({d.doc_id: d.fingerprint for d in batch})
        elif rules.resubmitted and attempt <= policy.retries:
            self.progress.logger.warning("batch failed (%s), resubmitting: %s", error.error_class.value, error)
            self.pending.append((name, batch, attempt + 1))
        else:
            for doc in batch:
                self.progress.counters.add_failure(doc.doc_id, error.error_class, error.message, attempt, Stage.BATCH)

    def cancel(self) -> None:
        """Cancel the batches in flight; their documents and the queued ones are unsettled
        until the ledger says which of them committed before the cancel reached them."""
        for future in self.in_flight:
            wrapped = getattr(future, "wrapped_future", None)
            if wrapped is not None:
                wrapped.cancel()
        self.progress.counters.unsettled = {
            d.doc_id: d.fingerprint for _, batch, _ in (*self.in_flight.values(), *self.pending) for d in batch
        }


def process_batches(todo: Sequence[DocRef], run: OpenRun, retry_failed: bool, state: RunState) -> None:
    """The batches of `todo` through the scheduler, with progress; no cluster is started for a
    run with nothing to do."""
    counters, settings, target = state.counters, run.settings, run.target
    progress = Progress(counters, state.logger, len(todo), counters.bytes_total, table=target.table,
                        documents=state.documents, on_event=current().progress)
    progress.start()
    counters.mark(Milestone.PLANNED)
    try:
        if not todo:
            return
        with batch_runner(settings, FlowRunContext.get().task_runner, len(todo)) as runner:
            if remote_address(runner):
                ensure_workers_see(runner.client, [target.db, target.checkpoint_dir])
            workers = worker_count(runner)
            if in_this_process(runner):
                state.logger.info("%d documents to process: running them in this process, no cluster "
                                  "(more than in_process_max_docs=%d start one)", len(todo), settings.in_process_max_docs)
            ctx = batch_context(target, run.generation, run.pipeline, settings, run.policies, state.run_id,
                                retry_failed, torch_threads=torch_threads_per_worker(runner))
            scheduler = BatchScheduler(runner, process_batch_task, ctx, run.policies, progress,
                                       workers * settings.in_flight_per_worker)
            scheduler.run(make_batches(todo, settings.batch_size, workers))
            counters.mark(Milestone.BATCHES_DONE)
    finally:
        progress.finish()
