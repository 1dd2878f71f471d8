"""How a run ends: the Prefect state that carries its summary, whatever the exit.

A Completed run's data is the summary; a Failed or Cancelled one carries it inside RunStopped,
because Prefect turns such a state's data into an exception."""

from __future__ import annotations

import logging
import shlex
from collections.abc import Sequence

from prefect.exceptions import TerminationSignal
from prefect.states import Cancelled, Completed, Failed

from docflow.adapters.stores import open_store, target_of
from docflow.core.errors import DocflowError, SourceError
from docflow.core.models import RunOutcome, Stage
from docflow.core.summary import RunCounters
from docflow.core.verify import explain
from flows import bookkeeping
from flows.interrupt import Interrupted
from flows.pipeline import OpenRun
from flows.observers import current
from flows.report import publish
from flows.run_state import RunState


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


def final_state(counters: RunCounters, summary: dict, logger, started: bool = True):
    if counters.outcome == RunOutcome.COMPLETED:
        return Completed(message=finished_message(summary), data=summary)
    if counters.outcome == RunOutcome.DRY_RUN:
        return Completed(name="DryRun", message="dry run: nothing changed", data=summary)
    if counters.outcome == RunOutcome.GUARDED:
        logger.warning("deletions refused: %s", counters.reason)
        return Completed(name="DeletionGuarded", message=counters.reason, data=summary)
    if counters.outcome == RunOutcome.CANCELLED:
        return Cancelled(message=counters.reason, data=RunStopped(counters.reason, summary))
    if not started:
        logger.error("refused: %s", counters.reason)
        return Failed(message=f"refused: {counters.reason}", data=RunStopped(counters.reason, summary))
    logger.error("run stopped: %s (finished documents are kept; rerun to resume)", counters.reason)
    return Failed(message=counters.reason, data=RunStopped(counters.reason, summary))


def settle(exc: BaseException, settings, run: OpenRun | None, state: RunState) -> None:
    """The run's outcome and reason for an exit by exception."""
    counters = state.counters
    bookkeeping.settle_unsettled(run.target if run else None, state)
    if isinstance(exc, (Interrupted, KeyboardInterrupt, TerminationSignal)):
        # Ctrl-C or SIGTERM: submission stopped, in-flight batches cancelled, finished work
        # kept; the run reports and ends Cancelled.
        counters.outcome, counters.reason = RunOutcome.CANCELLED, "interrupted by the user"
    elif isinstance(exc, SourceError):
        counters.outcome, counters.reason = RunOutcome.FAILED, f"bad sources: {exc}"
    elif settings is None:
        counters.outcome, counters.reason = RunOutcome.FAILED, str(exc)
    else:
        error = explain(exc, _store_of(settings, run), Stage.FLOW)
        counters.outcome, counters.reason = RunOutcome.FAILED, f"{error.error_class.value} error: {error}"


def _store_of(settings, run: OpenRun | None):
    """The store to ask about a fault: None when the settings name none that can be opened."""
    if run is not None:
        return open_store(run.target)
    try:
        return open_store(target_of(settings))
    except DocflowError:
        return None


def report(state: RunState, run: OpenRun | None, work, paths: Sequence[str], settings, inputs: dict):
    summary = state.counters.as_dict()
    if (hear := current().summary) is not None:
        hear(summary)
    if state.counters.outcome != RunOutcome.DRY_RUN:
        bookkeeping.record_run(run.target if run else None, state, summary)
    db, table = (settings.db, settings.table) if settings else (inputs["db"], inputs["table"])
    command = shlex.join(["docflow", work.verb, *paths, *(["--db", db] if db else []), *(["--table", table] if table else [])])
    publish(summary, state.counters.failures, state.counters.slowest_documents(), command, state.logger,
            table=table or "", documents=state.documents)
    state.logger.info("summary: %s", summary)
    return final_state(state.counters, summary, state.logger, started=run is not None)
