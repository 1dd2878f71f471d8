"""Runs whose process died are moved to Crashed by the next run, on a real Prefect server;
live runs and finished runs are left as they are."""

import json
import logging
import os
import subprocess
import time
import uuid

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.states import Completed, Running, Scheduled

from flows import orphans

pytestmark = pytest.mark.e2e
log = logging.getLogger("test")


@flow(name="orphan-probe")
def probe() -> None:
    """Only its name is used: runs are created in a chosen state, never executed."""


def dead_process() -> tuple[int, str]:
    child = subprocess.Popen(["sleep", "30"])
    started = orphans.process_start(child.pid)
    child.kill()
    child.wait()
    return child.pid, started


def new_run(state) -> str:
    with get_client(sync_client=True) as client:
        return str(client.create_flow_run(probe, state=state).id)


def read(run_id: str):
    with get_client(sync_client=True) as client:
        return client.read_flow_run(run_id)


def state_of(run_id: str) -> str:
    return read(run_id).state.type.value


def write_entry(directory, run_id: str, pid: int, started: str | None, run_count: int = 0,
                age_s: float = 0) -> None:
    """What `track` writes for a process running attempt `run_count` of `run_id`."""
    directory.mkdir(parents=True, exist_ok=True)
    entry = {"pid": pid, "started": started, "flow_run_id": run_id, "run_count": run_count,
             "at": time.time() - age_s}
    (directory / f"{run_id}.json").write_text(json.dumps(entry))


def test_process_identity_survives_only_as_long_as_the_process():
    assert orphans.process_start(os.getpid()) is not None
    pid, started = dead_process()
    assert started is not None and orphans.process_start(pid) is None
    assert not orphans.alive({"pid": pid, "started": started})
    # A recycled pid: the same number, another start time.
    assert not orphans.alive({"pid": os.getpid(), "started": "0"})


def test_reap_crashes_dead_runs_only(prefect_api, tmp_path):
    directory = tmp_path / orphans.ACTIVE_DIR
    pid, started = dead_process()
    me = (os.getpid(), orphans.process_start(os.getpid()))
    killed, live, retried = new_run(Running()), new_run(Running()), new_run(Running())
    finished, awaiting_retry = new_run(Completed()), new_run(Scheduled(name="AwaitingRetry"))
    elsewhere, forgotten = str(uuid.uuid4()), str(uuid.uuid4())  # runs of another server
    attempt = {run: read(run).run_count for run in (killed, live, retried, finished, awaiting_retry)}
    write_entry(directory, killed, pid, started, attempt[killed])
    write_entry(directory, live, *me, attempt[live])
    # The dead process ran an earlier attempt; the one running now is someone else's.
    write_entry(directory, retried, pid, started, attempt[retried] - 1)
    write_entry(directory, finished, pid, started, attempt[finished])
    write_entry(directory, awaiting_retry, pid, started, attempt[awaiting_retry])
    write_entry(directory, elsewhere, pid, started)
    write_entry(directory, forgotten, pid, started, age_s=orphans.FORGET_AFTER_S + 1)

    assert orphans.reap(directory, log) == [killed]
    assert state_of(killed) == "CRASHED"
    assert "ended without reporting" in read(killed).state.message
    assert [state_of(r) for r in (live, retried, finished, awaiting_retry)] == [
        "RUNNING", "RUNNING", "COMPLETED", "SCHEDULED"]
    # Settled runs lose their file; the live run and the other server's recent run keep theirs.
    assert {p.stem for p in directory.glob("*.json")} == {live, elsewhere}
