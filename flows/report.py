"""The run report: what a person opens in the Prefect UI after (or instead of) reading logs.

Rendering is pure (summary in, Markdown / rows out) so it is tested without Prefect; `publish`
is the thin part that turns it into artifacts: a table of failed documents, a Markdown report
and a small summary table that `docflow runs` reads back."""

from __future__ import annotations

import json
import logging

SUMMARY_ARTIFACT_KEY = "docflow-ingest-summary"
FAILURES_ARTIFACT_KEY = "docflow-ingest-failures"
REPORT_ARTIFACT_KEY = "docflow-ingest-report"
DIFF_ARTIFACT_KEY = "docflow-sync-diff"
DIFF_ROWS_SHOWN = 1000


def failure_rows(failures: list[dict]) -> list[dict]:
    columns = ("doc_id", "error_class", "message", "attempts", "stage")
    return [{c: f.get(c) for c in columns} for f in sorted(failures, key=lambda f: f["doc_id"])]


def next_steps(summary: dict, command: str) -> list[str]:
    steps = []
    if summary["outcome"] == "failed":
        steps.append(f"Fix the cause above, then rerun: `{command}` (finished documents are skipped).")
    if summary["outcome"] == "cancelled":
        steps.append(f"Resume with `{command}`: finished documents are skipped.")
    retryable = sum(summary["failures_by_class"].get(c, 0) for c in ("transient", "resource"))
    if retryable:
        steps.append(f"{retryable} transient/resource failures are retried by the next run: `{command}`.")
    if summary["failures_by_class"].get("parse", 0) or summary["failures_by_class"].get("missing", 0):
        steps.append(
            f"Parse/missing failures stay skipped until the file changes; after fixing them run "
            f"`{command} --retry-failed`, and see `docflow status --failed` for every reason."
        )
    return steps or ["Nothing to do: every document is ingested."]


def ignored_section(summary: dict) -> list[str]:
    """Files that were not documents, so a folder of .xyz files never ends as a silent 0."""
    by_reason, by_extension = summary.get("ignored_by_reason", {}), summary.get("ignored_by_extension", {})
    if not by_reason:
        return []
    return [
        "## Ignored files",
        "",
        "| reason | files |",
        "|---|---|",
        *(f"| {reason} | {count} |" for reason, count in sorted(by_reason.items())),
        "",
        *(["| unknown extension | files |", "|---|---|"] if by_extension else []),
        *(f"| {ext} | {count} |" for ext, count in by_extension.items()),
        *([""] if by_extension else []),
    ]


def render_markdown(summary: dict, slowest: list[tuple[str, float]], command: str) -> str:
    failures = summary["failures_by_class"]
    stages = summary["stage_s"]
    lines = [
        f"# docflow ingest: {summary['outcome']}",
        "",
        *([f"**Stopped:** {summary['reason']}", ""] if summary.get("reason") else []),
        "| counter | value |",
        "|---|---|",
        *(
            f"| {key} | {summary[key]} |"
            for key in (
                "documents_total",
                "documents_processed",
                "documents_skipped",
                "documents_failed",
                "chunks_written",
                "cache_hits",
                "cache_misses",
                "documents_ignored",
                "elapsed_s",
                "docs_per_s",
                "chunks_per_s",
                "mb_per_s",
            )
        ),
        "",
        "## Failures by class",
        "",
        "| class | documents |",
        "|---|---|",
        *(f"| {cls} | {count} |" for cls, count in failures.items()),
        "",
        *ignored_section(summary),
        "## Time per stage (summed over documents, seconds)",
        "",
        "| stage | seconds |",
        "|---|---|",
        *(f"| {stage} | {seconds} |" for stage, seconds in stages.items()),
        "",
        "(`ocr` is the part of `parse` that tesseract took.)",
        "",
        "## Slowest documents",
        "",
        "| document | seconds |",
        "|---|---|",
        *(f"| {doc_id} | {seconds} |" for doc_id, seconds in slowest),
        *([] if slowest else ["| (none processed) | |"]),
        "",
        "## Peak memory of the workers",
        "",
        "| worker | peak RSS (MB) |",
        "|---|---|",
        *(f"| {w} | {mb} |" for w, mb in summary["worker_peak_rss_mb"].items()),
        *([] if summary["worker_peak_rss_mb"] else ["| (no batch ran) | |"]),
        "",
        "## What to do next",
        "",
        *(f"- {step}" for step in next_steps(summary, command)),
    ]
    return "\n".join(lines) + "\n"


def summary_rows(summary: dict) -> list[dict]:
    """Values are JSON-encoded so nested counters survive the artifact table unchanged."""
    return [{"counter": k, "value": json.dumps(v, sort_keys=True)} for k, v in summary.items()]


def publish(summary: dict, failures: list[dict], slowest, command: str, logger: logging.Logger) -> None:
    """Artifacts are best effort: a report that cannot be published must not change the run's
    outcome (it is also in the logs and the runs table)."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    try:
        create_table_artifact(
            table=failure_rows(failures) or [{"doc_id": "", "error_class": "", "message": "no failures", "attempts": 0, "stage": ""}],
            key=FAILURES_ARTIFACT_KEY,
            description=f"{len(failures)} failed documents",
        )
        create_markdown_artifact(
            markdown=render_markdown(summary, slowest, command),
            key=REPORT_ARTIFACT_KEY,
            description=f"ingest report ({summary['outcome']})",
        )
        create_table_artifact(table=summary_rows(summary), key=SUMMARY_ARTIFACT_KEY, description="run summary")
    except Exception as exc:  # noqa: BLE001
        logger.warning("could not publish the run report: %s", exc)


def render_diff(changes, verdict, dry_run: bool) -> str:
    counts = changes.counts()
    lines = [
        f"# docflow sync {'dry run' if dry_run else 'diff'}",
        "",
        "| change | documents |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in counts.items()),
        "",
        f"**Deletions:** {'allowed' if verdict.allowed else 'refused: ' + verdict.reason}",
    ]
    if dry_run:
        lines += ["", "Nothing was changed (dry run)."]
    return "\n".join(lines) + "\n"


def diff_rows(changes) -> list[dict]:
    rows = [
        {"change": kind, "doc_id": doc_id}
        for kind in ("added", "updated", "deleted")
        for doc_id in getattr(changes, kind)
    ]
    return rows[:DIFF_ROWS_SHOWN]


def publish_diff(changes, verdict, dry_run: bool, logger: logging.Logger) -> None:
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    try:
        create_markdown_artifact(
            markdown=render_diff(changes, verdict, dry_run),
            key=DIFF_ARTIFACT_KEY,
            description="sync dry run" if dry_run else "sync diff",
        )
        rows = diff_rows(changes)
        if rows:
            create_table_artifact(table=rows, key=f"{DIFF_ARTIFACT_KEY}-documents",
                                  description=f"first {len(rows)} changed documents")
    except Exception as exc:  # noqa: BLE001
        logger.warning("could not publish the sync diff: %s", exc)
