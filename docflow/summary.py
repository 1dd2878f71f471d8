"""Run counters: created with every field at zero before any work starts, so every exit path
(success, per-document failures, a system error, Ctrl-C) can report from the same object and
no counter is ever missing from a summary."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from docflow.models import BatchResult, DocStatus, ErrorClass

SUMMARY_KEYS = (
    "documents_total",
    "documents_processed",
    "documents_skipped",
    "documents_failed",
    "chunks_written",
    "failures_by_class",
    "cache_hits",
    "cache_misses",
    "elapsed_s",
    "docs_per_s",
)


@dataclass
class RunCounters:
    documents_total: int = 0
    documents_processed: int = 0
    documents_skipped: int = 0
    documents_failed: int = 0
    chunks_written: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    bytes_total: int = 0
    bytes_done: int = 0
    failures_by_class: Counter = field(
        default_factory=lambda: Counter({c.value: 0 for c in ErrorClass})
    )
    stage_s: Counter = field(
        default_factory=lambda: Counter({"parse": 0.0, "chunk": 0.0, "embed": 0.0, "write": 0.0})
    )
    started: float = field(default_factory=time.monotonic)
    outcome: str = "running"
    reason: str = ""

    def add_failure(self, error_class: ErrorClass | str) -> None:
        self.documents_failed += 1
        self.failures_by_class[ErrorClass(error_class).value] += 1

    def add_batch(self, result: BatchResult) -> None:
        for outcome in result.outcomes:
            self.bytes_done += outcome.size
            timings = outcome.timings
            self.stage_s.update(
                parse=timings.parse_s,
                chunk=timings.chunk_s,
                embed=timings.embed_s,
                write=timings.write_s,
            )
            if outcome.status is DocStatus.DONE:
                self.documents_processed += 1
                self.chunks_written += outcome.chunk_count
            else:
                self.add_failure(outcome.error_class or ErrorClass.SYSTEM)
        # Documents a resubmitted batch found already checkpointed count as cache hits.
        self.documents_skipped += len(result.skipped_doc_ids)
        self.cache_hits += len(result.skipped_doc_ids)

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    @property
    def settled(self) -> int:
        return self.documents_processed + self.documents_failed + self.documents_skipped

    def eta_s(self, bytes_pending: int, docs_pending: int, work_elapsed_s: float) -> float | None:
        """Remaining work weighted by bytes learned from this run's finished documents; None
        (unknown) until some documents have finished."""
        if self.bytes_done <= 0 or work_elapsed_s <= 0:
            return None
        if bytes_pending > 0:
            return bytes_pending / (self.bytes_done / work_elapsed_s)
        worked = self.documents_processed + self.documents_failed
        return docs_pending * work_elapsed_s / worked if worked else None

    def as_dict(self) -> dict:
        elapsed = round(self.elapsed_s, 3)
        worked = self.documents_processed + self.documents_failed
        return {
            "documents_total": self.documents_total,
            "documents_processed": self.documents_processed,
            "documents_skipped": self.documents_skipped,
            "documents_failed": self.documents_failed,
            "chunks_written": self.chunks_written,
            "failures_by_class": dict(self.failures_by_class),
            "cache_hits": self.cache_hits,
            "cache_misses": self.cache_misses,
            "elapsed_s": elapsed,
            "docs_per_s": round(worked / elapsed, 3) if elapsed > 0 else 0.0,
            "stage_s": {k: round(v, 3) for k, v in self.stage_s.items()},
            "outcome": self.outcome,
            "reason": self.reason,
        }
