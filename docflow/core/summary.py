"""Run counters: created with every field at zero before any work starts, so every exit path
(success, per-document failures, a system error, Ctrl-C) can report from the same object and
no counter is ever missing from a summary.

They add up, whatever the exit (`discrepancies` checks it): every document of the run is
processed, skipped, failed, deleted (syncs) or still pending (a cancelled or stopped run), and
every discovered document was either a cache hit (not submitted: nothing to do) or a miss."""

from __future__ import annotations

import heapq
import time
from collections import Counter
from dataclasses import dataclass, field
from enum import Enum

from docflow.core.models import BatchResult, DocStatus, ErrorClass, RunOutcome

SUMMARY_KEYS = (
    "documents_total",
    "documents_processed",
    "documents_skipped",
    "documents_failed",
    "chunks_written",
    "failures_by_class",
    "cache_hits",
    "cache_misses",
    "documents_ignored",
    "elapsed_s",
    "docs_per_s",
)


class Milestone(str, Enum):
    """Points of a run whose time since its start the summary keeps: where a short run's
    seconds went (planning, then starting workers and loading the model until the first batch
    is in), and when a long run's first results were written."""

    PLANNED = "planned"
    FIRST_BATCH = "first_batch"
    BATCHES_DONE = "batches_done"


@dataclass
class RunCounters:
    documents_total: int = 0
    documents_processed: int = 0
    documents_skipped: int = 0
    documents_failed: int = 0
    documents_pending: int = 0
    chunks_written: int = 0
    documents_deleted: int = 0
    chunks_deleted: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    # Files under the roots that are not documents, by reason and (unknown extensions) by
    # extension: nothing is left out without the summary saying so.
    documents_ignored: int = 0
    ignored_by_reason: dict[str, int] = field(default_factory=dict)
    ignored_by_extension: dict[str, int] = field(default_factory=dict)
    discovery_problems: int = 0
    bytes_total: int = 0
    bytes_done: int = 0
    failures_by_class: Counter = field(
        default_factory=lambda: Counter({c.value: 0 for c in ErrorClass})
    )
    stage_s: Counter = field(
        default_factory=lambda: Counter({"parse": 0.0, "ocr": 0.0, "chunk": 0.0, "embed": 0.0, "write": 0.0})
    )
    discover_s: float = 0.0
    sync_diff: dict = field(default_factory=dict)
    failures: list[dict] = field(default_factory=list)
    slowest: list[tuple[float, str]] = field(default_factory=list)
    worker_peak_rss: dict[str, int] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    timeline: dict[Milestone, float] = field(default_factory=dict)
    # doc_id -> fingerprint of the documents submitted but not settled when a run was cancelled.
    unsettled: dict[str, str] = field(default_factory=dict)
    outcome: RunOutcome = RunOutcome.RUNNING
    reason: str = ""

    SLOWEST_KEPT = 10

    def __post_init__(self) -> None:
        self.outcome = RunOutcome(self.outcome)

    def add_failure(
        self, doc_id: str, error_class: ErrorClass | str, message: str, attempts: int, stage: str
    ) -> None:
        error_class = ErrorClass(error_class).value
        self.documents_failed += 1
        self.failures_by_class[error_class] += 1
        self.failures.append(
            {
                "doc_id": doc_id,
                "error_class": error_class,
                "message": message,
                "attempts": attempts,
                "stage": stage,
            }
        )

    def record_discovery(self, found) -> None:
        """What discovery found (a docflow.core.discover.Discovery)."""
        self.documents_total = len(found.documents) + len(found.problems)
        self.documents_ignored = found.ignored
        self.ignored_by_reason = found.ignored_by_reason
        self.ignored_by_extension = found.ignored_by_extension
        self.discovery_problems = len(found.problems)

    def record_selection(self, todo, skipped) -> None:
        """The documents submitted are the cache misses, the ones skipped the hits."""
        self.documents_skipped = self.cache_hits = len(skipped)
        self.cache_misses = len(todo)
        self.bytes_total = sum(d.size for d in todo)

    def mark(self, milestone: Milestone) -> None:
        """The first time a run reaches `milestone`; later calls keep it."""
        self.timeline.setdefault(milestone, self.elapsed_s)

    def add_batch(self, result: BatchResult) -> None:
        self.mark(Milestone.FIRST_BATCH)
        if result.worker:
            previous = self.worker_peak_rss.get(result.worker, 0)
            self.worker_peak_rss[result.worker] = max(previous, result.peak_rss_bytes)
        for outcome in result.outcomes:
            self.bytes_done += outcome.size
            timings = outcome.timings
            self.stage_s.update(
                parse=timings.parse_s,
                ocr=timings.ocr_s,
                chunk=timings.chunk_s,
                embed=timings.embed_s,
                write=timings.write_s,
            )
            total = timings.parse_s + timings.chunk_s + timings.embed_s + timings.write_s
            heapq.heappush(self.slowest, (total, outcome.doc_id))
            if len(self.slowest) > self.SLOWEST_KEPT:
                heapq.heappop(self.slowest)
            if outcome.status is DocStatus.DONE:
                self.documents_processed += 1
                self.chunks_written += outcome.chunk_count
            else:
                self.add_failure(
                    outcome.doc_id,
                    outcome.error_class or ErrorClass.SYSTEM,
                    outcome.error_message,
                    outcome.attempts,
                    outcome.stage,
                )
        # Documents a batch found already checkpointed (a resubmitted batch, or a concurrent
        # run that finished them first) were misses when submitted and turn out to be hits.
        self.documents_skipped += len(result.skipped_doc_ids)
        self.cache_hits += len(result.skipped_doc_ids)
        self.cache_misses -= len(result.skipped_doc_ids)

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    def eta_s(self, bytes_pending: int, docs_pending: int, work_elapsed_s: float) -> float | None:
        """Remaining work weighted by bytes learned from this run's finished documents; None
        (unknown) until some documents have finished."""
        if self.bytes_done <= 0 or work_elapsed_s <= 0:
            return None
        if bytes_pending > 0:
            return bytes_pending / (self.bytes_done / work_elapsed_s)
        worked = self.documents_processed + self.documents_failed
        return docs_pending * work_elapsed_s / worked if worked else None

    def slowest_documents(self) -> list[tuple[str, float]]:
        return [(doc_id, round(s, 3)) for s, doc_id in sorted(self.slowest, reverse=True)]

    def as_dict(self) -> dict:
        elapsed = round(self.elapsed_s, 3)
        worked = self.documents_processed + self.documents_failed
        return {
            "documents_total": self.documents_total,
            "documents_processed": self.documents_processed,
            "documents_skipped": self.documents_skipped,
            "documents_failed": self.documents_failed,
            "documents_pending": self.documents_pending,
            "chunks_written": self.chunks_written,
            "documents_deleted": self.documents_deleted,
            "chunks_deleted": self.chunks_deleted,
            "failures_by_class": dict(self.failures_by_class),
            "cache_hits": self.cache_hits,
            "cache_misses": self.cache_misses,
            "documents_ignored": self.documents_ignored,
            "ignored_by_reason": dict(self.ignored_by_reason),
            "ignored_by_extension": dict(self.ignored_by_extension),
            "discovery_problems": self.discovery_problems,
            "elapsed_s": elapsed,
            "docs_per_s": round(worked / elapsed, 3) if elapsed > 0 else 0.0,
            "chunks_per_s": round(self.chunks_written / elapsed, 3) if elapsed > 0 else 0.0,
            "mb_per_s": round(self.bytes_done / 2**20 / elapsed, 3) if elapsed > 0 else 0.0,
            "stage_s": {"discover": round(self.discover_s, 3)}
            | {k: round(v, 3) for k, v in self.stage_s.items()},
            "timeline_s": {m.value: round(s, 3) for m, s in self.timeline.items()},
            "worker_peak_rss_mb": {
                w: round(b / 2**20, 1) for w, b in sorted(self.worker_peak_rss.items())
            },
            "changes": dict(self.sync_diff),
            "outcome": RunOutcome(self.outcome).value,
            "reason": self.reason,
        }


def discrepancies(summary: dict) -> list[str]:
    """The counting rules a summary breaks. A dry run counts nothing, and a run that failed
    before it consulted the checkpoints (bad sources, an unreadable table) has nothing to add up."""
    if summary["outcome"] == RunOutcome.DRY_RUN or summary["cache_hits"] + summary["cache_misses"] == 0 and (
        summary["outcome"] == RunOutcome.FAILED
    ):
        return []
    broken = []
    accounted = sum(summary[k] for k in (
        "documents_processed", "documents_skipped", "documents_failed", "documents_deleted", "documents_pending",
    ))
    if summary["documents_total"] != accounted:
        broken.append(f"documents_total {summary['documents_total']} != processed + skipped + failed + "
                      f"deleted + pending = {accounted}")
    considered = summary["documents_total"] - summary["documents_deleted"] - summary["discovery_problems"]
    if summary["cache_hits"] + summary["cache_misses"] != considered:
        broken.append(f"cache_hits {summary['cache_hits']} + cache_misses {summary['cache_misses']} != "
                      f"documents considered {considered}")
    return broken
