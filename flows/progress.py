"""Progress a person can watch: a Prefect progress artifact updated as batches finish, and a
log line every few seconds with counts, rate and a byte-weighted ETA."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from docflow.core.models import BatchResult
from docflow.core.summary import RunCounters
from flows.outcomes import DocumentTable
from flows.report import artifact_key, flow_kind

LOG_EVERY_S = 5.0
# Each artifact update is an API call the Prefect server has to serve on the same cores the
# workers use; once a second is live enough for a person.
ARTIFACT_EVERY_S = 1.0


@dataclass(frozen=True)
class ProgressEvent:
    percent: float
    processed: int
    failed: int
    skipped: int
    total: int
    to_process: int
    docs_per_s: float
    eta_s: float | None

    @property
    def eta(self) -> str:
        return format_eta(self.eta_s)


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m{seconds % 60:02d}s"


class ArtifactFeed:
    """A Prefect progress artifact updated from a background thread.

    Prefect's client retries a failed call for about a minute (5 retries, exponential backoff),
    so an update sent from the flow's loop while the API restarts or is gone would hold up the
    scheduling of batches that long, each time. The loop only hands over the latest value; this
    thread sends it. After one failed update the feed stops, with one warning: the run goes on,
    and its counts stay in the logs and the summary."""

    def __init__(self, description: str, logger, initial: float = 0.0, key: str | None = None) -> None:
        self.logger = logger
        self.artifact_id = None
        self._wanted: tuple[float, str | None] | None = None
        self._closed = False
        self._changed = threading.Condition()
        try:
            from prefect.artifacts import create_progress_artifact

            self.artifact_id = create_progress_artifact(progress=initial, key=key, description=description)
        except Exception as exc:  # noqa: BLE001 - progress display must never stop a run
            logger.warning("no progress artifact (Prefect API: %s)", exc)
            return
        self._thread = threading.Thread(target=self._send, name="docflow-progress-artifact", daemon=True)
        self._thread.start()

    def set(self, percent: float, description: str | None = None) -> None:
        with self._changed:
            self._wanted = (percent, description)
            self._changed.notify()

    def close(self, timeout_s: float = 10.0) -> None:
        """Send the last value if the API answers within `timeout_s`; never wait longer."""
        if self.artifact_id is None:
            return
        with self._changed:
            self._closed = True
            self._changed.notify()
        self._thread.join(timeout_s)

    def _send(self) -> None:
        from prefect.artifacts import update_progress_artifact

        while True:
            with self._changed:
                while self._wanted is None and not self._closed:
                    self._changed.wait()
                wanted, self._wanted = self._wanted, None
                if wanted is None:
                    return
            try:
                update_progress_artifact(self.artifact_id, progress=wanted[0], description=wanted[1])
            except Exception as exc:  # noqa: BLE001
                self.logger.warning("progress artifact updates stopped (Prefect API: %s)", exc)
                return


class BackgroundCalls:
    """API calls that only decorate the UI (renaming a batch whose documents failed), made in
    order by a daemon thread for the same reason as ArtifactFeed: never on the flow's loop, and
    after one failure no more."""

    def __init__(self, logger) -> None:
        self.logger = logger
        self._calls: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="docflow-ui-calls", daemon=True)
        self._thread.start()

    def submit(self, call: Callable[..., object], *args) -> None:
        self._calls.put((call, args))

    def close(self, timeout_s: float = 10.0) -> None:
        self._calls.put(None)
        self._thread.join(timeout_s)

    def _run(self) -> None:
        while (item := self._calls.get()) is not None:
            call, args = item
            try:
                call(*args)
            except Exception as exc:  # noqa: BLE001 - a display aid must never stop a run
                self.logger.warning("UI updates stopped (Prefect API: %s)", exc)
                return


@dataclass
class Progress:
    counters: RunCounters
    logger: logging.Logger | logging.LoggerAdapter
    docs_to_process: int
    bytes_to_process: int
    table: str = ""
    documents: DocumentTable = field(default_factory=DocumentTable)
    feed: ArtifactFeed | None = None
    calls: BackgroundCalls | None = None
    on_event: Callable[[ProgressEvent], None] | None = None  # an in-process observer (a terminal)
    _work_started: float = field(default_factory=time.monotonic)
    _last_log: float = 0.0
    _last_artifact: float = 0.0

    def start(self) -> None:
        kind = flow_kind()
        key = artifact_key(kind, self.table, "progress")
        mark_earlier_attempts(key, self.logger)
        self.calls = BackgroundCalls(self.logger)
        self.feed = ArtifactFeed(
            self.description(),
            self.logger,
            initial=0.0 if self.docs_to_process else 100.0,
            key=key,
        )
        self._work_started = time.monotonic()

    def add_batch(self, result: BatchResult) -> None:
        self.counters.add_batch(result)
        self.documents.add_batch(result)

    def description(self) -> str:
        """What the progress artifact says beside its bar, kept current."""
        e = self.event()
        noun = "document" if e.to_process == 1 else "documents"
        return (
            f"{flow_kind()} {self.table}: {e.processed} done, {e.failed} failed of {e.to_process} "
            f"{noun} to process ({e.skipped} skipped); ETA {format_eta(e.eta_s)}"
        )

    def finish(self) -> None:
        self.update(force=True)
        if self.feed is not None:
            self.feed.close()
        if self.calls is not None:
            self.calls.close()

    def percent(self) -> float:
        worked = self.counters.documents_processed + self.counters.documents_failed
        if not self.docs_to_process:
            return 100.0
        return min(100.0, 100.0 * worked / self.docs_to_process)

    def eta_s(self) -> float | None:
        c = self.counters
        worked = c.documents_processed + c.documents_failed
        return c.eta_s(
            bytes_pending=max(0, self.bytes_to_process - c.bytes_done),
            docs_pending=max(0, self.docs_to_process - worked),
            work_elapsed_s=time.monotonic() - self._work_started,
        )

    def event(self) -> ProgressEvent:
        c = self.counters
        worked = c.documents_processed + c.documents_failed
        return ProgressEvent(
            percent=self.percent(),
            processed=c.documents_processed,
            failed=c.documents_failed,
            skipped=c.documents_skipped,
            total=c.documents_total,
            to_process=self.docs_to_process,
            docs_per_s=worked / max(1e-9, time.monotonic() - self._work_started),
            eta_s=self.eta_s(),
        )

    def line(self) -> str:
        e = self.event()
        return (
            f"progress {e.percent:5.1f}%: {e.processed} done, {e.failed} failed, "
            f"{e.skipped} skipped of {e.total}; {e.docs_per_s:.2f} docs/s; "
            f"ETA {format_eta(e.eta_s)}"
        )

    def update(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.feed is not None and (force or now - self._last_artifact >= ARTIFACT_EVERY_S):
            self._last_artifact = now
            self.feed.set(self.percent(), self.description())
        if self.on_event is not None:
            self.on_event(self.event())
        if force or now - self._last_log >= LOG_EVERY_S:
            self._last_log = now
            self.logger.info(self.line())


def mark_earlier_attempts(key: str, logger) -> None:
    """After the UI's Retry the first attempt's progress bar stays where it stopped beside the
    new one; its description says so, so nobody reads it as this attempt's."""
    from prefect.runtime import flow_run

    attempt = flow_run.run_count
    if not attempt or attempt <= 1:
        return
    try:
        from prefect.artifacts import update_progress_artifact
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

        with get_client(sync_client=True) as client:
            earlier = client.read_artifacts(artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run.get_id()]),
                key=ArtifactFilterKey(any_=[key]),
            ))
        for artifact in earlier:
            if not (artifact.description or "").startswith("earlier attempt"):
                update_progress_artifact(artifact.id, progress=float(artifact.data or 0.0),
                                         description=f"earlier attempt, stopped at {float(artifact.data or 0):.0f} %; "
                                         f"attempt {attempt} is the newer progress artifact")
    except Exception as exc:  # noqa: BLE001 - a display aid
        logger.warning("could not mark the earlier attempts' progress: %s", exc)
