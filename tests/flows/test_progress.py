"""The progress display's pieces that need no Prefect API."""

import logging

from docflow.core.summary import RunCounters
from flows.progress import BackgroundCalls, Progress


def test_background_calls_run_in_order_and_stop_after_the_first_failure(caplog):
    done = []

    def fail(_):
        raise OSError("API gone")

    calls = BackgroundCalls(logging.getLogger("test"))
    for item in ("a", "b"):
        calls.submit(done.append, item)
    calls.submit(fail, "c")
    calls.submit(done.append, "d")
    with caplog.at_level(logging.WARNING):
        calls.close()
    assert done == ["a", "b"]
    assert [r.message for r in caplog.records] == ["UI updates stopped (Prefect API: API gone)"]


def test_the_progress_description_says_done_failed_skipped_and_eta():
    counters = RunCounters(documents_total=10, documents_processed=3, documents_failed=1, documents_skipped=2)
    progress = Progress(counters, logging.getLogger("test"), docs_to_process=8, bytes_to_process=0, table="chunks")
    assert progress.description() == (
        "ingest chunks: 3 done, 1 failed of 8 documents to process (2 skipped); ETA unknown"
    )
