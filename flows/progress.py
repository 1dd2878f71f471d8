"""Progress a person can watch: a Prefect progress artifact updated as batches finish, and a
log line every few seconds with counts, rate and a byte-weighted ETA."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from docflow.summary import RunCounters

LOG_EVERY_S = 5.0


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m{seconds % 60:02d}s"


@dataclass
class Progress:
    counters: RunCounters
    logger: logging.Logger | logging.LoggerAdapter
    docs_to_process: int
    bytes_to_process: int
    artifact_id: object | None = None
    _work_started: float = field(default_factory=time.monotonic)
    _last_log: float = 0.0

    def start(self) -> None:
        try:
            from prefect.artifacts import create_progress_artifact

            self.artifact_id = create_progress_artifact(
                progress=0.0 if self.docs_to_process else 100.0,
                description=f"ingest: {self.docs_to_process} documents to process",
            )
        except Exception as exc:  # noqa: BLE001 - progress display must never stop a run
            self.logger.debug("no progress artifact: %s", exc)
        self._work_started = time.monotonic()

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

    def line(self) -> str:
        c = self.counters
        worked = c.documents_processed + c.documents_failed
        rate = worked / max(1e-9, time.monotonic() - self._work_started)
        return (
            f"progress {self.percent():5.1f}%: {c.documents_processed} done, "
            f"{c.documents_failed} failed, {c.documents_skipped} skipped of "
            f"{c.documents_total}; {rate:.2f} docs/s; ETA {format_eta(self.eta_s())}"
        )

    def update(self, force: bool = False) -> None:
        if self.artifact_id is not None:
            try:
                from prefect.artifacts import update_progress_artifact

                update_progress_artifact(self.artifact_id, progress=self.percent())
            except Exception as exc:  # noqa: BLE001
                self.logger.debug("progress artifact update failed: %s", exc)
        now = time.monotonic()
        if force or now - self._last_log >= LOG_EVERY_S:
            self._last_log = now
            self.logger.info(self.line())
