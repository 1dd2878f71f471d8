"""`python -m deployments.serve` without any work pool or worker, and `docflow trigger` on it.

A server of its own: a deployment that was first created by `prefect deploy` and is then served
under the same name keeps its work pool, and its runs go wrong, so the two ways are not mixed on
one server (the README says the same)."""

import json
import os
import sys
import time

import pytest

from deployments.registry import DEPLOYMENTS, get
from docflow import server
from tests import docbuilders as b
from tests.conftest import run_cli
from tests.deployments.support import Rest, running
from tests.flows.support import assert_exact

pytestmark = pytest.mark.e2e


@pytest.fixture
def own_server(tmp_path):
    info = server.start_server(tmp_path / "server", auth=False)  # Rest speaks plain HTTP
    try:
        yield info.url
    finally:
        server.stop_server(tmp_path / "server")


def test_served_deployment_runs_a_triggered_flow_run(own_server, tmp_path):
    rest, ingest = Rest(own_server), get("ingest")
    env = {**os.environ, "PREFECT_API_URL": own_server, "DOCFLOW_WORKERS": "1", "PREFECT_RUNNER_POLL_FREQUENCY": "1",
           "DOCFLOW_ALLOWED_ROOTS": str(tmp_path)}
    log = tmp_path / "serve.log"
    with running([sys.executable, "-m", "deployments.serve"], env, log):
        served = {spec.name: _wait_for_deployment(rest, spec.full_name, log) for spec in DEPLOYMENTS}
        assert set(served["ingest"]["tags"]) == set(ingest.tags)
        assert served["ingest"]["description"] == ingest.description
        sync = served["sync"]
        (schedule,) = sync["schedules"]
        assert (schedule["schedule"]["cron"], schedule["active"]) == ("0 * * * *", False)
        assert sync["global_concurrency_limit"]["limit"] == 1
        refused = rest.post(f"/deployments/{served['ingest']['id']}/create_flow_run",
                            {"parameters": {"paths": ["/docs"], "pathz": ["/docs"]}})
        assert refused.status_code == 409 and "'pathz' was unexpected" in refused.json()["detail"]

        src, db = tmp_path / "src", tmp_path / "db"
        docs = b.make_corpus(src, 2)
        result = run_cli("trigger", "ingest", "--param", f"paths={src}", "--param", f"db={db}", "--wait", "--json",
                         env={"PREFECT_API_URL": own_server}, timeout=300)
        assert result.returncode == 0, result.stderr + log.read_text()[-3000:]
        assert json.loads(result.stdout)["state"] == "COMPLETED"
        assert_exact(db, {p.name for p in docs})


def _wait_for_deployment(rest: Rest, full_name: str, log) -> dict:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        deployment = rest.deployment(full_name)
        if deployment is not None:
            return deployment
        time.sleep(0.5)
    raise AssertionError(f"{full_name} was not served in time:\n{log.read_text()[-3000:]}")
