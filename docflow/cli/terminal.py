"""The terminal side of a run: a rich progress bar on a TTY, nothing extra otherwise (the
flow's own log lines then carry the progress), and how chatty stderr is for each mode."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager


def configure_logging(json_output: bool, log_format: str, interactive: bool) -> None:
    """Prefect reads these when it configures logging, in this process and in every Dask
    worker process, which inherit the environment."""
    # distributed logs every worker start and stop at INFO; keep the terminal for progress.
    os.environ.setdefault("DASK_DISTRIBUTED__LOGGING__DISTRIBUTED", "warning")
    if log_format == "json":
        os.environ["PREFECT_LOGGING_HANDLERS_CONSOLE_FORMATTER"] = "json"
        os.environ["PREFECT_LOGGING_HANDLERS_CONSOLE_FLOW_RUNS_FORMATTER"] = "json"
        os.environ["PREFECT_LOGGING_HANDLERS_CONSOLE_TASK_RUNS_FORMATTER"] = "json"
    if json_output or interactive:
        # --json: stdout carries only the summary and stderr only problems. On a TTY the
        # progress bar replaces the per-batch lines; everything still reaches the Prefect UI.
        for handler in ("CONSOLE", "CONSOLE_FLOW_RUNS", "CONSOLE_TASK_RUNS"):
            os.environ.setdefault(f"PREFECT_LOGGING_HANDLERS_{handler}_LEVEL", "WARNING")


def is_interactive(json_output: bool) -> bool:
    return not json_output and sys.stderr.isatty()


@contextmanager
def progress_bar(enabled: bool):
    """Yields the callback that moves the bar (None when there is no bar)."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn


    bar = Progress(
        TextColumn("[bold]ingest"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[counts]}"),
        transient=False,
    )
    task = bar.add_task("ingest", total=100, counts="discovering...")

    def listener(event) -> None:
        bar.update(
            task,
            completed=event.percent,
            counts=(
                f"{event.processed} done, {event.failed} failed, {event.skipped} skipped "
                f"of {event.total} | {event.docs_per_s:.2f} docs/s | ETA {event.eta}"
            ),
        )

    bar.start()
    try:
        yield listener
    finally:
        bar.stop()
