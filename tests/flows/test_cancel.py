"""Ctrl-C (SIGINT) and SIGTERM stop a run cleanly: the flow run ends Cancelled, the Dask
workers stop, everything finished so far is kept and the next run resumes."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from docflow.core.summary import discrepancies
from tests import docbuilders as b
from tests.flows.support import assert_exact, ledger

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_cancels_the_flow_run_and_keeps_finished_work(cli, tmp_path, signum):
    src, db = tmp_path / "src", tmp_path / "db"
    docs = b.make_corpus(src, 40)
    command = [sys.executable, "-m", "docflow.cli", "ingest", str(src), "--db", str(db), "--batch-size", "2", "--json"]
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=dict(os.environ), start_new_session=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and run.poll() is None:
        try:
            if sum(e["status"] == "done" for e in ledger(db).values()) >= 4:
                break
        except Exception:  # noqa: BLE001 - tables may be mid-creation
            pass
        time.sleep(0.3)
    assert run.poll() is None, "the run finished before it could be interrupted"
    run.send_signal(signum)
    out, err = run.communicate(timeout=120)
    assert run.returncode == 130, err[-3000:]
    summary = json.loads(out)
    assert summary["outcome"] == "cancelled" and 0 < summary["documents_processed"] < 40
    # Batches that committed while the cancel went out are counted, the rest are pending.
    assert not discrepancies(summary), discrepancies(summary)
    assert summary["documents_pending"] > 0

    state = json.loads(cli("runs", "--json", "-n", "1").stdout)["runs"][0]["state"]
    assert state == "CANCELLED"
    time.sleep(2)
    leftovers = subprocess.run(["pgrep", "-f", f"distributed.*{os.getpid()}"], capture_output=True)
    assert leftovers.returncode == 1 or not leftovers.stdout.strip()

    again = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ), timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    resumed = json.loads(again.stdout)
    assert resumed["documents_skipped"] >= summary["documents_processed"]
    assert_exact(db, {p.name for p in docs})
