"""What a run accumulates whatever its exit: its counters, the per-document table, its id and
logger. Every step adds to the same object, so a run that stops halfway still reports it all."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from docflow.core.summary import RunCounters
from flows.outcomes import DocumentTable


@dataclass
class RunState:
    logger: logging.Logger | logging.LoggerAdapter
    run_id: str
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    counters: RunCounters = field(default_factory=RunCounters)
    documents: DocumentTable = field(default_factory=DocumentTable)


def start_run(logger) -> RunState:
    """The flow run's id when there is one (a plain call in a test has none)."""
    from prefect.runtime import flow_run

    return RunState(logger, flow_run.get_id() or uuid.uuid4().hex)
