"""The same ingest on an existing Dask cluster: a real `dask scheduler` and two `dask worker`
processes on loopback, each in its own working directory, and a real Prefect server."""

import json
import os
import shlex
import signal
import subprocess
import sys
import time

import pytest

from tests import docbuilders as b
from tests.daskcluster import dask_cluster
from tests.flows.support import assert_exact, ledger

pytestmark = pytest.mark.e2e


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def cluster(prefect_api, tmp_path):
    # allowed-failures 0: a task whose worker dies fails at once with KilledWorker instead of
    # being retried silently by Dask, so the flow's `resource` policy is what recovers it.
    with dask_cluster(tmp_path / "cluster", env={"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}) as running:
        yield running


def test_ingest_by_address_survives_a_killed_worker_and_reruns_skip(cluster, tmp_path):
    address, workers = cluster
    src, db = tmp_path / "src", tmp_path / "db"
    docs = b.make_corpus(src, 40)
    command = [sys.executable, "-m", "docflow.cli", "ingest", str(src), "--db", str(db),
               "--address", address, "--batch-size", "2", "--json"]
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    wait_for(lambda: run.poll() is not None or sum(e["status"] == "done" for e in ledger(db).values()) >= 4,
             300, "the first documents")
    assert run.poll() is None, "the run finished before a worker could be killed"
    os.killpg(workers[0].pid, signal.SIGKILL)
    out, err = run.communicate(timeout=600)
    assert run.returncode == 0, err[-3000:]
    assert "batch failed (resource), resubmitting" in err  # KilledWorker -> resource policy
    summary = json.loads(out)
    assert summary["documents_processed"] + summary["documents_skipped"] == 40
    assert summary["documents_failed"] == 0
    assert_exact(db, {p.name for p in docs})

    again = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ), timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    rerun = json.loads(again.stdout)
    assert (rerun["documents_processed"], rerun["documents_skipped"]) == (0, 40)


def test_a_local_path_the_workers_cannot_see_is_refused(prefect_api, tmp_path):
    """A worker in its own mount namespace with a tmpfs over the test directory sees an empty
    directory where the flow's LanceDB is: what a purely local path on another host looks like."""
    if subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode != 0:
        pytest.skip("mount namespaces are not available here (unshare -m failed)")
    shared = tmp_path / "shared"
    (shared / "src").mkdir(parents=True)
    b.make_corpus(shared / "src", 2)

    def behind_tmpfs(command: list[str]) -> list[str]:
        return ["unshare", "-m", "sh", "-c", f"mount -t tmpfs none {shared} && exec {shlex.join(command)}"]

    with dask_cluster(tmp_path / "cluster", ["w1"], wrap_worker=behind_tmpfs) as (address, _):
        result = subprocess.run(
            [sys.executable, "-m", "docflow.cli", "ingest", str(shared / "src"), "--db", str(shared / "db"),
             "--address", address, "--json"],
            capture_output=True, text=True, env=dict(os.environ), timeout=300,
        )
    assert result.returncode == 1
    summary = json.loads(result.stdout)
    assert "not shared with the Dask workers" in summary["reason"] and "cannot see" in summary["reason"]
    assert summary["documents_processed"] == 0


def test_the_address_flow_parameter_sends_the_batches_to_that_cluster(warm_cluster, tmp_path):
    """A deployment or API call names the scheduler as a flow parameter (or through a
    docflow dask cluster block); the flow was decorated with a local-cluster runner."""
    from distributed import Client

    from flows.ingest import ingest
    from flows.finish import summary_of

    src, db = tmp_path / "src", tmp_path / "db"
    b.make_corpus(src, 4)
    state = ingest(paths=[str(src)], db=str(db), address=warm_cluster, return_state=True)
    summary = summary_of(state)
    assert summary["outcome"] == "completed" and summary["documents_processed"] == 4
    with Client(warm_cluster) as client:
        cluster_pids = set(client.run(os.getpid).values())
    used = {int(worker.rsplit(":", 1)[1]) for worker in summary["worker_peak_rss_mb"]}
    assert used and used <= cluster_pids
