"""Flow runs whose process died: marked Crashed by the next docflow run on the machine.

A run killed with SIGKILL (by a user, the OOM killer or a power cut) cannot report its own end,
and a run started from the CLI has no worker watching its process, so Prefect would show it
Running forever and nobody could tell it from a live one. Every docflow flow run therefore
leaves a small file under DOCFLOW_HOME naming its process; the next docflow flow run finds the
files whose process is gone and moves those runs to Crashed with the reason, so the UI and
`docflow runs` tell the truth. (Runs of a deployment have a worker that does the same; for them
this is a second, harmless check.)

A process is identified by its pid and its start time (/proc/<pid>/stat), so a recycled pid
does not keep a dead run alive."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
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


@contextlib.contextmanager
def tracked(home: Path, logger) -> Iterator[None]:
    """Reap the dead runs, then mark this process as the owner of the current flow run."""
    from prefect.runtime import flow_run
    from prefect.settings import PREFECT_API_URL

    flow_run_id, api_url = flow_run.get_id(), PREFECT_API_URL.value()
    if flow_run_id is None or not api_url:
        yield
        return
    directory = Path(home) / ACTIVE_DIR
    reap(directory, api_url, logger)
    entry = directory / f"{flow_run_id}.json"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        record = {"pid": os.getpid(), "started": process_start(os.getpid()), "api_url": api_url}
        entry.write_text(json.dumps({**record, "flow_run_id": flow_run_id, "at": time.time()}))
    except OSError as exc:
        logger.warning("cannot record this run as active in %s: %s", directory, exc)
    try:
        yield
    finally:
        entry.unlink(missing_ok=True)


def reap(directory: Path, api_url: str, logger) -> list[str]:
    """Set every run whose process is gone to Crashed (if Prefect still has it unfinished)."""
    crashed = []
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        try:
            entry = json.loads(path.read_text())
        except (OSError, ValueError):
            path.unlink(missing_ok=True)
            continue
        if alive(entry):
            continue
        if entry.get("api_url") != api_url:
            if time.time() - entry.get("at", 0) > FORGET_AFTER_S:
                path.unlink(missing_ok=True)
            continue
        try:
            if _mark_crashed(entry):
                crashed.append(entry["flow_run_id"])
                logger.warning(
                    "flow run %s was killed (process %s gone) and is now marked Crashed; its "
                    "finished documents are kept", entry["flow_run_id"], entry["pid"],
                )
        except Exception as exc:  # noqa: BLE001 - a stale record must never stop this run
            logger.warning("could not mark flow run %s crashed: %s", entry.get("flow_run_id"), exc)
            continue
        path.unlink(missing_ok=True)
    return crashed


def _mark_crashed(entry: dict) -> bool:
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound
    from prefect.states import Crashed

    with get_client(sync_client=True) as client:
        try:
            run = client.read_flow_run(entry["flow_run_id"])
        except ObjectNotFound:
            return False
        if run.state is not None and run.state.is_final():
            return False
        message = (
            f"the docflow process (pid {entry['pid']}) died without reporting an end (killed?); "
            "documents it finished are kept and the next run resumes"
        )
        client.set_flow_run_state(run.id, Crashed(message=message), force=True)
        return True
