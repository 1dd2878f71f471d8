"""The run report: what a person opens in the Prefect UI after (or instead of) reading logs.

Rendering is pure (summary in, Markdown / rows out) so it is tested without Prefect; `publish`
is the thin part that turns it into artifacts: a table of failed documents, a table of every
document's outcome (up to a cap), a Markdown report and a summary table that `docflow runs`
reads back. Keys are scoped by flow and table (`docflow-ingest-chunks-report`), so the
artifact catalog's "latest" of a key is the latest run of that flow over that table."""

from __future__ import annotations

import logging
import re

from docflow.core.errors import ERROR_TABLE
from docflow.core.models import RunOutcome
from flows.outcomes import DocumentTable, describe

DIFF_ROWS_SHOWN = 1000
ARTIFACT_KINDS = ("progress", "report", "summary", "failures", "documents", "diff", "diff-documents")


def artifact_key(kind: str, table: str, what: str) -> str:
    """Prefect keys allow lowercase letters, digits and dashes only."""
    slug = re.sub(r"[^a-z0-9]+", "-", table.lower()).strip("-") or "table"
    return f"docflow-{kind}-{slug}-{what}"


def flow_kind() -> str:
    """"ingest" or "sync": the running flow, so a sync's artifacts are titled sync."""
    from prefect.runtime import flow_run

    name = flow_run.flow_name or "docflow-ingest"
    return name.removeprefix("docflow-")


def deployment_run() -> str | None:
    """The flow run's id when it runs from a deployment (the UI, a schedule, the API)."""
    from prefect.runtime import deployment, flow_run

    return flow_run.get_id() if deployment.get_id() else None


def failure_rows(failures: list[dict]) -> list[dict]:
    columns = ("doc_id", "error_class", "message", "attempts", "stage")
    return [{c: f.get(c) for c in columns} for f in sorted(failures, key=lambda f: f["doc_id"])]


def next_steps(summary: dict, command: str, flow_run_id: str | None = None) -> list[str]:
    """`command` is the CLI rerun; a deployment run (`flow_run_id`) is told the UI's way."""
    if flow_run_id:
        rerun = f"press **Retry** on this flow run (or `prefect flow-run retry {flow_run_id}`)"
        retry_failed = "start a **Custom run** of the deployment with the same parameters and `retry_failed` on"
    else:
        rerun = f"rerun `{command}`"
        retry_failed = f"run `{command} --retry-failed`"
    steps = []
    if summary["outcome"] == RunOutcome.FAILED:
        steps.append(f"Fix the cause above, then {rerun}: finished documents are skipped.")
    if summary["outcome"] == RunOutcome.CANCELLED:
        steps.append(f"To resume, {rerun}: finished documents are skipped.")
    failures = summary["failures_by_class"]
    reopened = [c for c, rules in ERROR_TABLE.items() if not rules.final and not rules.stops_run]
    retryable = sum(failures.get(c, 0) for c in reopened)
    if retryable:
        steps.append(f"{retryable} {'/'.join(reopened)} {_plural(retryable, 'failure')} "
                     f"{ERROR_TABLE[reopened[0]].advice}.")
    final = [c for c, rules in ERROR_TABLE.items() if rules.final]
    if any(failures.get(c, 0) for c in final):
        steps.append(
            f"{'/'.join(final).capitalize()} failures {ERROR_TABLE[final[0]].advice}; after fixing them "
            f"{retry_failed}, and see `docflow status --failed` for every reason."
        )
    return steps or ["Nothing to do: every document is ingested."]


def _plural(count: int, noun: str) -> str:
    return noun if count == 1 else noun + "s"


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


def render_markdown(
    summary: dict,
    slowest: list[tuple[str, float]],
    command: str,
    kind: str = "ingest",
    table: str = "",
    skipped_by: dict[str, int] | None = None,
    flow_run_id: str | None = None,
) -> str:
    failures = summary["failures_by_class"]
    stages = summary["stage_s"]
    lines = [
        f"# docflow {kind}{' of ' + table if table else ''}: {summary['outcome']}",
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
        *_skipped_section(skipped_by or {}),
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
        "## Timeline (seconds since the run started)",
        "",
        "| point | seconds |",
        "|---|---|",
        *(f"| {point.replace('_', ' ')} | {seconds} |" for point, seconds in summary["timeline_s"].items()),
        f"| finished | {summary['elapsed_s']} |",
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
        *(f"- {step}" for step in next_steps(summary, command, flow_run_id)),
    ]
    return "\n".join(lines) + "\n"


def _skipped_section(skipped_by: dict[str, int]) -> list[str]:
    if not skipped_by:
        return []
    return [
        "## Skipped, and why",
        "",
        "docflow skips by its own checkpoints (one per finished document, beside the table), "
        "not by Prefect's persisted task results: a retried run redoes exactly what no "
        "checkpoint covers.",
        "",
        "| why | documents |",
        "|---|---|",
        *(f"| {why} | {count} |" for why, count in sorted(skipped_by.items())),
        "",
    ]


def summary_rows(summary: dict) -> list[dict]:
    """One row per counter, nested counters as `parent.key` rows, plain values (no JSON text
    in the cells); an empty nested counter is one row saying "none"."""
    rows = []
    for key, value in summary.items():
        if isinstance(value, dict):
            rows += [{"counter": f"{key}.{sub}", "value": v} for sub, v in value.items()]
            if not value:
                rows.append({"counter": key, "value": "none"})
        else:
            rows.append({"counter": key, "value": value})
    return rows


def failures_description(count: int) -> str:
    return "no failed documents" if not count else f"{count} failed {_plural(count, 'document')}"


def publish(
    summary: dict,
    failures: list[dict],
    slowest,
    command: str,
    logger: logging.Logger,
    table: str = "",
    documents: DocumentTable | None = None,
) -> None:
    """Artifacts are best effort: a report that cannot be published must not change the run's
    outcome (it is also in the logs and the runs table)."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    documents = documents or DocumentTable()
    try:
        kind = flow_kind()
        flow_run_id = deployment_run()
        create_table_artifact(
            table=failure_rows(failures),
            key=artifact_key(kind, table, "failures"),
            description=failures_description(len(failures)),
        )
        rows, total = documents.rows(failures)
        create_table_artifact(
            table=rows, key=artifact_key(kind, table, "documents"), description=describe(len(rows), total)
        )
        create_markdown_artifact(
            markdown=render_markdown(summary, slowest, command, kind, table, dict(documents.skipped_by), flow_run_id),
            key=artifact_key(kind, table, "report"),
            description=f"{kind} report ({summary['outcome']})",
        )
        create_table_artifact(
            table=summary_rows(summary), key=artifact_key(kind, table, "summary"), description=f"{kind} summary"
        )
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


def publish_diff(changes, verdict, dry_run: bool, logger: logging.Logger, table: str = "") -> None:
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    try:
        create_markdown_artifact(
            markdown=render_diff(changes, verdict, dry_run),
            key=artifact_key("sync", table, "diff"),
            description="sync dry run" if dry_run else "sync diff",
        )
        rows = diff_rows(changes)
        if rows:
            create_table_artifact(table=rows, key=artifact_key("sync", table, "diff-documents"),
                                  description=f"first {len(rows)} changed documents")
    except Exception as exc:  # noqa: BLE001
        logger.warning("could not publish the sync diff: %s", exc)
