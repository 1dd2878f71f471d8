"""The Prefect server dies in the middle of a run (SIGKILL of its process group).

The run is docflow's own: its own DOCFLOW_HOME, so the CLI starts its own managed server, which
the test then kills. The work must go on to the end at full speed (the table exact, nothing
lost), the CLI must say what happened and exit 1 instead of hanging in Prefect's retries, and
the next run (which starts the server again, on the same database, on a new port) must skip
everything and mark the orphaned flow run Crashed."""

import json
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from docflow import server
from flows.orphans import ACTIVE_DIR
from tests import docbuilders as b
from tests.flows.support import assert_exact, ledger

pytestmark = pytest.mark.e2e


def test_a_run_that_loses_its_prefect_api_keeps_working_and_is_marked_crashed_later(tmp_path):
    src, db, home = tmp_path / "src", tmp_path / "db", tmp_path / "home"
    docs = b.make_corpus(src, 60, kinds=("txt", "md"))
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(DOCFLOW_HOME=str(home), PREFECT_CLIENT_MAX_RETRIES="1")  # fail fast, not in minutes
    command = [sys.executable, "-m", "docflow.cli", "ingest", str(src), "--db", str(db),
               "--batch-size", "2", "--workers", "2", "--json"]
    try:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   start_new_session=True, env=env)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.5)
            try:
                if sum(e["status"] == "done" for e in ledger(db).values()) >= 4:
                    break
            except Exception:  # noqa: BLE001 - the table may not exist yet
                continue
        assert process.poll() is None, "run finished before the server could be killed"
        first_server = json.loads((home / "server.json").read_text())
        orphan = next(
            e["flow_run_id"]
            for e in map(json.loads, (p.read_text() for p in (home / ACTIVE_DIR).glob("*.json")))
            if e["pid"] == process.pid
        )
        os.killpg(first_server["pid"], signal.SIGKILL)

        out, err = process.communicate(timeout=600)
        assert process.returncode == 1, err[-3000:]
        assert "lost the Prefect API" in err
        summary = json.loads(out)
        assert summary["documents_processed"] == len(docs) and summary["documents_failed"] == 0
        assert_exact(db, {p.name for p in docs})

        rerun = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
        assert rerun.returncode == 0, rerun.stderr[-3000:]
        again = json.loads(rerun.stdout)
        assert (again["documents_processed"], again["cache_hits"]) == (0, len(docs))
        api = json.loads((home / "server.json").read_text())["url"]  # a new server, same database
        auth = tuple(server.auth_string(home).split(":", 1))  # the managed server's own
        state = httpx.get(f"{api}/flow_runs/{orphan}", auth=auth).json()["state"]
        assert state["type"] == "CRASHED" and "ended without reporting" in state["message"]
    finally:
        server.stop_server(home)
