"""Flow runs whose process died: marked Crashed by the next docflow run on the machine.

A run killed with SIGKILL (by a user, the OOM killer or a power cut) cannot report its own end,
and a run started from the CLI has no worker watching its process, so Prefect would show it
Running forever and nobody could tell it from a live one. Every docflow flow run therefore
leaves a small file under DOCFLOW_HOME naming its process; the next docflow flow run finds the
files whose process is gone and moves those runs to Crashed with the reason, so the UI and
`docflow runs` tell the truth. (Runs of a deployment have a worker that does the same; for them
this is a second, harmless check.)

The file is not removed when the run ends: Prefect's engine reports the final state after
the flow function returns, and that report can fail too (the API went away mid-run). The next
run checks each file whose process is gone: a run Prefect still has Running in that process's
attempt (same run_count) is set to Crashed; any other (finished, or retried since) just loses
its file. A process is identified by its pid and its start time (/proc/<pid>/stat), so a
recycled pid does not keep a dead run alive."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

ACTIVE_DIR = "active-runs"
FORGET_AFTER_S = 30 * 24 * 3600  # a file whose API never comes back is dropped eventually


def process_start(pid: int) -> str | None:
    """The kernel's start time of `pid` in clock ticks, or None if there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[19]  # field 22 of stat(5); the first two fields are cut off with the ")"


def alive(entry: dict) -> bool:
    return process_start(entry["pid"]) == entry["started"]


def track(home: Path, logger) -> None:
    """Reap the dead runs, then record this process as the owner of the current flow run."""
    from prefect.runtime import flow_run
    from prefect.settings import PREFECT_API_URL

    flow_run_id = flow_run.get_id()
    if flow_run_id is None or not PREFECT_API_URL.value():
        return
    directory = Path(home) / ACTIVE_DIR
    reap(directory, logger)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        record = {"pid": os.getpid(), "started": process_start(os.getpid()), "run_count": flow_run.run_count}
        entry = json.dumps({**record, "flow_run_id": flow_run_id, "at": time.time()})
        (directory / f"{flow_run_id}.json").write_text(entry)
    except OSError as exc:
        logger.warning("cannot record this run as active in %s: %s", directory, exc)


def reap(directory: Path, logger) -> list[str]:
    """Set every run whose process is gone to Crashed, if Prefect still has that process's
    attempt running.

    Only that: a run the UI's Retry put back in AwaitingRetry, or whose next attempt already
    runs (a higher run_count, perhaps this very process), belongs to someone else now, and
    crashing it would undo the user's retry.

    Runs are looked up by id on the current API, not matched by URL: a docflow-managed server
    restarts on a new port over the same database. A run this API does not know (another
    server's) keeps its file for that server, until it is a month old."""
    crashed = []
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        try:
            entry = json.loads(path.read_text())
        except (OSError, ValueError):
            path.unlink(missing_ok=True)
            continue
        if alive(entry):
            continue
        try:
            verdict = _settle(entry)
        except Exception as exc:  # noqa: BLE001 - a stale record must never stop this run
            logger.warning("could not check flow run %s: %s", entry.get("flow_run_id"), exc)
            continue
        if verdict == "crashed":
            crashed.append(entry["flow_run_id"])
            logger.warning(
                "flow run %s ended without reporting it (process %s gone) and is now marked "
                "Crashed; its finished documents are kept", entry["flow_run_id"], entry["pid"],
            )
        if verdict != "unknown" or time.time() - entry.get("at", 0) > FORGET_AFTER_S:
            path.unlink(missing_ok=True)
    return crashed


def _settle(entry: dict) -> str:
    """"crashed" (now), "settled" (ended, or superseded by a later attempt) or "unknown" (not
    on this API)."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound
    from prefect.states import Crashed

    with get_client(sync_client=True) as client:
        try:
            run = client.read_flow_run(entry["flow_run_id"])
        except ObjectNotFound:
            return "unknown"
        if run.state is None or not run.state.is_running() or run.run_count != entry.get("run_count"):
            return "settled"
        message = (
            f"the docflow process (pid {entry['pid']}) ended without reporting an end (killed, "
            "or the API was lost); documents it finished are kept and the next run resumes"
        )
        client.set_flow_run_state(run.id, Crashed(message=message), force=True)
        return "crashed"
