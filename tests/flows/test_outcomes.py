"""The per-document outcome table and the reasons documents are skipped."""

from docflow.core.models import BatchResult, DocOutcome, DocStatus, ErrorClass, StageTimings
from flows.outcomes import (
    SKIPPED_BY_EARLIER_RUN,
    SKIPPED_BY_THIS_RUN,
    SKIPPED_NOT_FAILED,
    SKIPPED_UNCHANGED,
    DocumentTable,
    describe,
    skip_reason,
)


def batch(*doc_ids: str, failed: str | None = None) -> BatchResult:
    outcomes = tuple(
        DocOutcome(d, "f", DocStatus.FAILED, attempts=2, error_class=ErrorClass.PARSE, error_message="bad")
        if d == failed
        else DocOutcome(d, "f", DocStatus.DONE, chunk_count=3, timings=StageTimings(0.5, 0.1, 1.0, 0.2))
        for d in doc_ids
    )
    return BatchResult(outcomes=outcomes, skipped_doc_ids=(), worker="w", peak_rss_bytes=0)


def test_every_document_has_a_row_failures_first_with_empty_cells_not_null():
    table = DocumentTable()
    table.add_batch(batch("a.txt", "b.pdf", failed="b.pdf"))
    table.add_skipped("c.md", SKIPPED_BY_THIS_RUN)
    failures = [{"doc_id": "b.pdf", "error_class": "parse", "message": "bad", "attempts": 2}]
    rows, total = table.rows(failures)
    assert total == 3
    assert [(r["doc_id"], r["outcome"]) for r in rows] == [("b.pdf", "failed"), ("a.txt", "done"), ("c.md", "skipped")]
    assert rows[1] == {"doc_id": "a.txt", "outcome": "done", "chunks": 3, "attempts": 1, "seconds": 1.8, "detail": ""}
    assert rows[0]["detail"] == "parse: bad" and rows[2]["detail"] == SKIPPED_BY_THIS_RUN
    assert None not in {v for r in rows for v in r.values()}
    assert describe(len(rows), total) == "all 3 documents of this run"


def test_the_table_is_capped_and_says_so():
    table = DocumentTable(cap=2)
    table.add_batch(batch("a", "b", "c"))
    for d in ("d", "e"):
        table.add_skipped(d, SKIPPED_BY_EARLIER_RUN)
    rows, total = table.rows([])
    assert (len(rows), total, len(table.done), len(table.skipped)) == (2, 5, 2, 2)
    assert table.skipped_by == {SKIPPED_BY_EARLIER_RUN: 2}
    assert describe(len(rows), total).startswith("first 2 of 5 documents (the table keeps at most 2 rows")


def test_skip_reasons():
    last_run = {"a": "run-1", "b": "run-0"}
    assert skip_reason("a", last_run, "run-1", sync=False, retry_failed=False) == SKIPPED_BY_THIS_RUN
    assert skip_reason("b", last_run, "run-1", sync=False, retry_failed=False) == SKIPPED_BY_EARLIER_RUN
    assert skip_reason("b", last_run, "run-1", sync=True, retry_failed=False) == SKIPPED_UNCHANGED
    assert skip_reason("a", last_run, "run-1", sync=False, retry_failed=True) == SKIPPED_NOT_FAILED
