"""Deployments on a real `prefect server start`, run by a real process worker.

The module deploys with `docflow deploy` (which runs `prefect deploy` from prefect.yaml), starts
`prefect worker start --pool docflow` and drives everything the way the UI and other systems
do: plain REST calls. One Dask worker per flow run keeps the suite light on this 2-core machine
(each flow run still loads the real model in a real Dask worker process)."""

import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from blocks import DocumentSource, Embedder, LanceDBTarget, RetryPoliciesBlock
from deployments.prefect_yaml import REPO_ROOT
from deployments.registry import DEPLOYMENTS, WORK_POOL, get
from tasks import store
from tasks.retry import RetryPolicies, RetryPolicy
from tests import docbuilders as b
from tests.conftest import run_cli
from tests.deployments.support import TERMINAL, Rest, running
from tests.flows.test_ingest import assert_exact, ledger, table_rows

pytestmark = pytest.mark.e2e

INGEST = get("ingest")


@pytest.fixture(scope="module")
def rest(prefect_api) -> Rest:
    return Rest(prefect_api)


@pytest.fixture(scope="module")
def worker_log(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("worker") / "worker.log"


@pytest.fixture(scope="module")
def deployment(prefect_api, rest, worker_log, tmp_path_factory):
    """Every deployment created from prefect.yaml; the ingest one is returned, with a process
    worker polling its pool. The worker allows the tests' temporary directories only."""
    deployed = run_cli("deploy", timeout=300)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    env = {
        **os.environ,
        "DOCFLOW_WORKERS": "1",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "DOCFLOW_ALLOWED_ROOTS": str(tmp_path_factory.getbasetemp()),
    }
    command = [sys.executable, "-m", "prefect", "worker", "start", "--pool", WORK_POOL, "--type", "process"]
    with running(command, env, worker_log):
        yield rest.deployment(INGEST.full_name)


def test_every_deployment_comes_from_prefect_yaml(deployment, rest):
    for spec in DEPLOYMENTS:
        found = rest.deployment(spec.full_name)
        assert found is not None, spec.full_name
        assert (found["entrypoint"], found["work_pool_name"]) == (spec.entrypoint, WORK_POOL)
        assert set(found["tags"]) == set(spec.tags) and found["enforce_parameter_schema"] is True
        # The pull step makes the flow run's working directory this clone.
        (step,) = found["pull_steps"]
        assert Path(step["prefect.deployments.steps.set_working_directory"]["directory"]).resolve() == REPO_ROOT


def test_api_run_with_block_names_and_plain_values(deployment, rest, worker_log, tmp_path):
    """Blocks give the sources, target, embedder and retry policies; a plain `table` wins over
    the target block's. The retry block's parse policy (no retry) shows in the ledger."""
    src, db = tmp_path / "src", tmp_path / "db"
    src.mkdir()
    b.make_txt(src / "a.txt", topic="Alpha")
    b.make_md(src / "b.md", topic="Beta")
    b.make_html(src / "c.html", topic="Excluded by the source block")
    b.make_corrupt_pdf(src / "broken.pdf")
    LanceDBTarget(uri=str(db), table="from-block").save("e2e-target", overwrite=True)
    DocumentSource(roots=[f"file://{src}"], exclude=["*.html"]).save("e2e-source", overwrite=True)
    Embedder(batch_size=4, device="cpu").save("e2e-embedder", overwrite=True)
    RetryPoliciesBlock(policies=RetryPolicies(parse=RetryPolicy(retries=0))).save("e2e-retry", overwrite=True)

    run = rest.create_flow_run(deployment["id"], {
        "source": "e2e-source", "target": "e2e-target", "embedder": "e2e-embedder",
        "retry_policies": "e2e-retry", "table": "chunks", "batch_size": 1,
    })
    finished = rest.wait(run["id"], log=worker_log)
    assert finished["state_type"] == "COMPLETED", finished["state"]["message"]

    assert_exact(db, {"a.txt", "b.md"})
    entries = ledger(db)
    assert set(entries) == {"a.txt", "b.md", "broken.pdf"}
    assert entries["broken.pdf"]["error_class"] == "parse" and entries["broken.pdf"]["attempts"] == 1
    assert store.open_table(store.connect(str(db)), "from-block") is None


def test_invalid_parameters_are_rejected_by_the_server(deployment, rest):
    create = f"/deployments/{deployment['id']}/create_flow_run"
    for parameters, field, reason in [
        ({"paths": ["/docs"], "batch_size": 0}, "batch_size", "less than the minimum of 1"),
        ({"paths": []}, "paths", "should be non-empty"),
        ({"paths": ["/docs"], "table": "no spaces"}, "table", "does not match"),
        ({"source": "Not A Block Name"}, "source", "does not match"),
        ({"retry_policies": {"parse": {"retries": 99}}}, "retry_policies.parse.retries", "maximum of 20"),
    ]:
        reply = rest.post(create, {"parameters": parameters})
        assert reply.status_code == 409, reply.text
        detail = reply.json()["detail"]
        assert f"field '{field}'" in detail and reason in detail, detail

    refused = run_cli("trigger", "ingest", "--param", "paths=/docs", "--param", "batch_size=0")
    assert refused.returncode == 2
    assert "field 'batch_size'" in refused.stderr

    # The UI builds the run form from this schema: every parameter has its description.
    properties = deployment["parameter_openapi_schema"]["properties"]
    assert properties["batch_size"]["description"].startswith("Documents per task run")
    assert all(p.get("description") for p in properties.values())


def test_a_run_failed_half_way_resumes_when_retried_like_the_ui(deployment, rest, worker_log, tmp_path):
    """How the run fails half way, for real: once a few documents are done, the test moves the
    ledger table's directory away while holding docflow's own write lock (so no write is torn).
    The next batch cannot record its outcome, a system error ("table unwritable") that stops
    the run: the flow run ends Failed with finished documents checkpointed. The test moves the
    table back (the operator fixing the storage) and retries the way the UI's Retry button
    does: state AwaitingRetry, forced. The worker runs the same flow run, same parameters."""
    src, db = tmp_path / "src", tmp_path / "db"
    docs = b.make_corpus(src, 10, kinds=("txt", "md"))
    run = rest.create_flow_run(deployment["id"], {"paths": [str(src)], "db": str(db), "batch_size": 1})

    done_before = _wait_for_done(db, at_least=2, rest=rest, flow_run_id=run["id"])
    ledger_dir, moved = db / "chunks_ledger.lance", db / "ledger-moved-away"
    with store.write_lock(str(db)):
        os.rename(ledger_dir, moved)
    failed = rest.wait(run["id"], log=worker_log)
    assert failed["state_type"] == "FAILED", failed["state"]
    assert "system error" in failed["state"]["message"] and "ledger" in failed["state"]["message"]
    os.rename(moved, ledger_dir)
    first = {d: e for d, e in ledger(db).items() if e["status"] == "done"}
    assert done_before <= first.keys() and len(first) < len(docs)

    retry = rest.post(f"/flow_runs/{run['id']}/set_state", {
        "state": {"type": "SCHEDULED", "name": "AwaitingRetry", "message": "Retry from the UI"},
        "force": True,
    })
    assert retry.status_code in (200, 201) and retry.json()["status"] == "ACCEPT", retry.text
    final = rest.wait(run["id"], run_count=2, log=worker_log)
    assert final["state_type"] == "COMPLETED", final["state"]

    (summary,) = [r["summary"] for r in _runs(db) if r["run_id"] == run["id"]]
    assert summary["documents_skipped"] == summary["cache_hits"] == len(first)
    assert summary["documents_processed"] == len(docs) - len(first)
    assert summary["documents_failed"] == 0
    after = ledger(db)
    assert {d: after[d]["updated_at"] for d in first} == {d: e["updated_at"] for d, e in first.items()}, (
        "documents finished in the first attempt were redone"
    )
    assert_exact(db, {p.name for p in docs})


def test_a_run_naming_places_outside_the_allowed_roots_is_refused(deployment, rest, worker_log, tmp_path):
    """What a hostile API caller tried: index /etc, climb out with `..`, put the table in /etc,
    load /etc as a model. Each run ends Failed with the reason before anything is written."""
    src = tmp_path / "src"
    b.make_corpus(src, 1)
    db = tmp_path / "db"
    for parameters, named in [
        ({"paths": ["/etc/X11"]}, "document source '/etc/X11'"),
        ({"paths": [f"{src}/../../../../../../etc"]}, "resolved: /etc"),
        ({"paths": [str(src)], "db": "/etc/docflow-db"}, "database '/etc/docflow-db'"),
        ({"paths": [str(src)], "model": "/etc"}, "embedding model '/etc'"),
    ]:
        run = rest.create_flow_run(deployment["id"], {"db": str(db), **parameters})
        finished = rest.wait(run["id"], log=worker_log)
        message = finished["state"]["message"]
        assert finished["state_type"] == "FAILED", finished["state"]
        assert named in message and "outside the allowed roots" in message, message
    assert not db.exists() and not os.path.exists("/etc/docflow-db"), "a refused run created tables"


def test_sync_deployment_carries_its_schedule(deployment, rest):
    sync = get("sync")
    found = rest.deployment(sync.full_name)
    assert found is not None
    (schedule,) = found["schedules"]
    assert schedule["schedule"]["cron"] == sync.schedule.cron
    assert schedule["schedule"]["timezone"] == sync.schedule.timezone
    assert schedule["active"] is False
    assert found["global_concurrency_limit"]["limit"] == 1
    assert found["concurrency_options"]["collision_strategy"] == "CANCEL_NEW"


def test_a_schedule_fires_on_its_own_and_syncs_the_change(deployment, rest, worker_log, warm_cluster, tmp_path):
    """The way a scheduled sync is used: parameters set on the sync deployment, a schedule
    turned on, nobody triggering anything. The server's scheduler service must create the run
    by itself and the worker must run it; the sync then carries a changed document into the
    table. (SQLAlchemy 2.1 broke exactly this: runs started by hand worked, scheduled ones were
    never created.) Runs on the warm cluster so the sync itself costs seconds."""
    src, db = tmp_path / "src", tmp_path / "db"
    docs = b.make_corpus(src, 3, kinds=("txt", "md"))
    first = run_cli("ingest", str(src), "--db", str(db), env={"DOCFLOW_ADDRESS": warm_cluster})
    assert first.returncode == 0, first.stdout + first.stderr
    changed = docs[0]
    changed.write_text(changed.read_text() + "\nThe scheduled sync brought marker SCHEDFIRED7731.\n")

    sync = rest.deployment(get("sync").full_name)
    parameters = {"paths": [str(src)], "db": str(db), "address": warm_cluster}
    patched = httpx.patch(f"{rest.api_url}/deployments/{sync['id']}", json={"parameters": parameters}, timeout=30)
    assert patched.status_code == 204, patched.text
    anchor = datetime.now(UTC) + timedelta(seconds=3)
    created = rest.post(f"/deployments/{sync['id']}/schedules", [
        {"schedule": {"interval": 20, "anchor_date": anchor.isoformat()}, "active": True},
    ])
    assert created.status_code == 201, created.text
    (schedule,) = created.json()
    try:
        run = _wait_for_scheduled_run(rest, sync["id"], worker_log)
    finally:
        httpx.delete(f"{rest.api_url}/deployments/{sync['id']}/schedules/{schedule['id']}", timeout=30)
    assert run["auto_scheduled"] is True and run["state_type"] == "COMPLETED", run["state"]
    texts = " ".join(r["text"] for r in table_rows(db) if r["doc_id"] == changed.name)
    assert "SCHEDFIRED7731" in texts
    assert_exact(db, {p.name for p in docs})


def _wait_for_scheduled_run(rest: Rest, deployment_id: str, worker_log: Path, timeout_s: float = 240) -> dict:
    """The first run the scheduler created for the deployment, once it is finished. The
    scheduler service looks for due schedules every few seconds (recently changed
    deployments) to a minute (all of them)."""
    deadline = time.monotonic() + timeout_s
    query = {"flow_runs": {"deployment_id": {"any_": [deployment_id]}}, "sort": "EXPECTED_START_TIME_ASC"}
    while time.monotonic() < deadline:
        reply = rest.post("/flow_runs/filter", query)
        reply.raise_for_status()
        finished = [r for r in reply.json() if r["auto_scheduled"] and r["state_type"] in TERMINAL]
        if finished:
            return finished[0]
        time.sleep(1)
    raise AssertionError(f"no scheduled run finished in {timeout_s}s\n{worker_log.read_text()[-4000:]}")


def _wait_for_done(db: Path, at_least: int, rest: Rest, flow_run_id: str) -> set[str]:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        try:
            done = {d for d, e in ledger(db).items() if e["status"] == "done"}
        except Exception:  # noqa: BLE001 - the table may be mid-creation
            done = set()
        if len(done) >= at_least:
            return done
        state = rest.get(f"/flow_runs/{flow_run_id}")["state_type"]
        assert state not in ("COMPLETED", "FAILED", "CRASHED"), f"run ended {state} before it could be broken"
        time.sleep(0.2)
    raise AssertionError(f"fewer than {at_least} documents done in time")


def _runs(db: Path) -> list[dict]:
    return [{**r, "summary": json.loads(r["summary_json"])} for r in table_rows(db, "chunks_runs")]
