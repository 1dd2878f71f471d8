import time

from docflow.core.models import BatchResult, DocOutcome, DocStatus, ErrorClass, StageTimings
from docflow.core.summary import SUMMARY_KEYS, Milestone, RunCounters
from flows.report import artifact_key, failure_rows, failures_description, next_steps, render_markdown, summary_rows
from flows.history import summary_from_artifact


def counters_with_work() -> RunCounters:
    counters = RunCounters(documents_total=4)
    counters.add_batch(
        BatchResult(
            outcomes=(
                DocOutcome("a.txt", "f", DocStatus.DONE, chunk_count=3, size=2048,
                           timings=StageTimings(0.5, 0.1, 1.0, 0.2)),
                DocOutcome("b.pdf", "f", DocStatus.FAILED, attempts=2, stage="parse",
                           error_class=ErrorClass.PARSE, error_message="corrupt PDF: x", size=10),
            ),
            skipped_doc_ids=("c.md",),
            worker="host:1",
            peak_rss_bytes=600 * 2**20,
        )
    )
    counters.add_failure("d.txt", ErrorClass.MISSING, "permission denied", 0, "discover")
    return counters


def test_a_fresh_counter_object_reports_every_key_at_zero():
    summary = RunCounters().as_dict()
    assert set(SUMMARY_KEYS) <= set(summary)
    assert all(summary[k] == 0 for k in SUMMARY_KEYS if k not in ("failures_by_class", "elapsed_s", "docs_per_s"))
    assert set(summary["failures_by_class"]) == {c.value for c in ErrorClass}
    assert render_markdown(summary, [], "docflow ingest x")  # renders before any work


def test_counters_accumulate_batches_failures_and_worker_memory():
    counters = counters_with_work()
    summary = counters.as_dict()
    assert (summary["documents_processed"], summary["documents_failed"], summary["documents_skipped"]) == (1, 2, 1)
    assert summary["chunks_written"] == 3
    assert summary["failures_by_class"]["parse"] == 1 and summary["failures_by_class"]["missing"] == 1
    assert summary["worker_peak_rss_mb"] == {"host:1": 600.0}
    assert summary["stage_s"]["embed"] == 1.0 and summary["stage_s"]["ocr"] == 0.0
    assert counters.slowest_documents()[0] == ("a.txt", 1.8)


def test_ignored_files_are_in_the_report_by_reason_and_extension():
    counters = RunCounters(documents_ignored=3, ignored_by_reason={"unknown_extension": 2, "excluded": 1},
                           ignored_by_extension={".zip": 2})
    markdown = render_markdown(counters.as_dict(), [], "docflow ingest src")
    assert "| documents_ignored | 3 |" in markdown
    assert "| unknown_extension | 2 |" in markdown and "| excluded | 1 |" in markdown
    assert "| .zip | 2 |" in markdown


def test_markdown_report_contains_every_counter_and_what_to_do():
    counters = counters_with_work()
    counters.outcome, counters.reason = "failed", "system error: No space left on device"
    summary = counters.as_dict()
    markdown = render_markdown(summary, counters.slowest_documents(), "docflow ingest src --db db")
    for key in SUMMARY_KEYS:
        if key != "failures_by_class":
            assert f"| {key} | {summary[key]} |" in markdown
    for cls in ("transient", "missing", "resource", "parse", "system"):
        assert f"| {cls} |" in markdown
    for stage in ("discover", "parse", "ocr", "chunk", "embed", "write"):
        assert f"| {stage} |" in markdown
    assert "| a.txt | 1.8 |" in markdown and "| host:1 | 600.0 |" in markdown
    assert "No space left on device" in markdown
    assert "`docflow ingest src --db db --retry-failed`" in markdown


def test_failure_rows_list_exactly_the_failures():
    rows = failure_rows(counters_with_work().failures)
    assert [(r["doc_id"], r["error_class"], r["attempts"], r["stage"]) for r in rows] == [
        ("b.pdf", "parse", 2, "parse"),
        ("d.txt", "missing", 0, "discover"),
    ]


def test_next_steps_for_a_clean_run():
    summary = RunCounters(outcome="completed").as_dict()
    assert next_steps(summary, "docflow ingest x") == ["Nothing to do: every document is ingested."]


def test_summary_round_trips_through_the_artifact_table():
    summary = counters_with_work().as_dict()
    assert summary_from_artifact(summary_rows(summary)) == summary


def test_summary_table_cells_hold_plain_values_not_json():
    counters = counters_with_work()
    counters.reason = ""
    rows = {r["counter"]: r["value"] for r in summary_rows(counters.as_dict())}
    assert rows["failures_by_class.parse"] == 1 and rows["worker_peak_rss_mb.host:1"] == 600.0
    assert rows["changes"] == "none" and rows["reason"] == "" and rows["documents_total"] == 4
    assert not any(isinstance(v, str) and v and v[0] in "{[\"" for v in rows.values())


def test_failures_are_counted_in_words():
    assert [failures_description(n) for n in (0, 1, 2)] == [
        "no failed documents", "1 failed document", "2 failed documents"
    ]


def test_artifact_keys_are_scoped_by_flow_and_table():
    assert artifact_key("ingest", "chunks", "report") == "docflow-ingest-chunks-report"
    assert artifact_key("sync", "Hand_Book.v2", "summary") == "docflow-sync-hand-book-v2-summary"


def test_a_deployment_run_is_told_the_ui_way_to_go_on():
    counters = counters_with_work()
    counters.outcome = "failed"
    steps = " ".join(next_steps(counters.as_dict(), "docflow ingest src", flow_run_id="abc"))
    assert "**Retry**" in steps and "prefect flow-run retry abc" in steps and "retry_failed" in steps
    assert "docflow ingest src" not in steps


def test_the_report_says_what_was_skipped_and_why():
    summary = counters_with_work().as_dict()
    markdown = render_markdown(summary, [], "docflow sync src", kind="sync", table="handbook",
                               skipped_by={"finished by an earlier attempt of this flow run (docflow checkpoint)": 6})
    assert markdown.startswith("# docflow sync of handbook: running")
    assert "| finished by an earlier attempt of this flow run (docflow checkpoint) | 6 |" in markdown
    assert "not by Prefect's persisted task results" in markdown


def test_the_report_has_the_runs_timeline_with_each_point_once():
    counters = RunCounters()
    counters.mark(Milestone.PLANNED)
    planned = counters.timeline[Milestone.PLANNED]
    time.sleep(0.01)
    counters.mark(Milestone.PLANNED)  # a later call keeps the first time
    counters.add_batch(BatchResult(outcomes=(), skipped_doc_ids=(), worker="host:1", peak_rss_bytes=0))
    summary = counters.as_dict()
    assert summary["timeline_s"]["planned"] == round(planned, 3) and "first_batch" in summary["timeline_s"]
    markdown = render_markdown(summary, [], "docflow ingest src")
    assert f"| planned | {round(planned, 3)} |" in markdown and "| first batch |" in markdown
    assert f"| finished | {summary['elapsed_s']} |" in markdown
