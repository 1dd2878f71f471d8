"""Deployments on the docflow-managed Prefect server, run by a real process worker.

The module follows the README in a user's shell (no PREFECT_API_URL): `docflow server start`,
`docflow deploy` (which runs `prefect deploy` from prefect.yaml), then the worker command
`docflow deploy` prints, and drives everything the way the UI and other systems do: plain REST
calls. One Dask worker per flow run keeps the suite light on this 2-core machine (each flow run
still loads the real model in a real Dask worker process)."""

import json
import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from blocks import DocumentSource, Embedder, StoreTarget, RetryPoliciesBlock
from deployments.prefect_yaml import REPO_ROOT
from deployments.registry import DEPLOYMENTS, WORK_POOL, get
from docflow.adapters.stores.lancedb import database
from docflow.core.retry import RetryPolicies, RetryPolicy
from tests import docbuilders as b
from tests.conftest import SESSION_DIR, run_cli
from tests.deployments.support import TERMINAL, Rest, running
from tests.flows.support import assert_exact, ledger, table_rows

pytestmark = pytest.mark.e2e

INGEST = get("ingest")
DOCFLOW = str(Path(sys.executable).parent / "docflow")


@dataclass(frozen=True)
class UserShell:
    """A user's shell: no PREFECT_API_URL, so docflow finds its managed server in `home`; the
    tests' temporary directories as the allowed roots runs through the API need."""

    home: Path
    allowed_roots: str

    def env(self, **extra: str) -> dict:
        env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
        return {**env, "DOCFLOW_HOME": str(self.home), "DOCFLOW_ALLOWED_ROOTS": self.allowed_roots, **extra}

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([DOCFLOW, *args], env=self.env(), capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def shell(prefect_api, tmp_path_factory) -> UserShell:
    """The session's server is docflow-managed (started by `docflow.server.start_server`, which
    `docflow server start` uses) with its state in the session's server directory."""
    return UserShell(SESSION_DIR / "server", str(tmp_path_factory.getbasetemp()))


@pytest.fixture(scope="module")
def rest(prefect_api) -> Rest:
    return Rest(prefect_api)


@pytest.fixture(scope="module")
def worker_log(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("worker") / "worker.log"


@pytest.fixture(scope="module")
def deployed(prefect_api, shell) -> list[str]:
    """`docflow server start` finds the managed server; `docflow deploy`'s output lines:
    every deployment created from prefect.yaml."""
    started = shell.cli("server", "start")
    assert started.stdout.startswith(f"Prefect API at {prefect_api} (docflow-managed)"), started.stdout + started.stderr
    result = shell.cli("deploy")
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.splitlines()


def printed_commands(lines: list[str]) -> tuple[str, str]:
    """The two worker commands `docflow deploy` and `docflow server status` print."""
    start = lines.index("start a worker (leave it running):")
    return lines[start + 1].strip(), lines[start + 3].strip()


@pytest.fixture(scope="module")
def deployment(deployed, shell, rest, worker_log):
    """The ingest deployment, with the worker `docflow deploy` told the user to start polling
    its pool (run through a shell, exactly as printed)."""
    docflow_worker, _ = printed_commands(deployed)
    assert docflow_worker == f"DOCFLOW_ALLOWED_ROOTS={shlex.quote(shell.allowed_roots)} " + shlex.join(
        [DOCFLOW, "worker", "start", "--pool", WORK_POOL]
    )
    env = shell.env(DOCFLOW_WORKERS="1", PREFECT_WORKER_QUERY_SECONDS="1")
    with running(["bash", "-c", docflow_worker], env, worker_log):
        yield rest.deployment(INGEST.full_name)


def test_the_printed_worker_commands_reach_the_managed_server(deployment, deployed, shell, rest, worker_log,
                                                             tmp_path):
    """Both printed commands (docflow's and plain Prefect's with PREFECT_API_URL) register a
    worker in the pool of the managed server; `docflow server status` prints the same ones."""
    status = shell.cli("server", "status")
    assert printed_commands(status.stdout.splitlines()) == printed_commands(deployed)
    _, plain = printed_commands(deployed)
    assert plain.startswith(f"PREFECT_API_URL={rest.api_url} ") and plain.endswith(f"worker start --pool {WORK_POOL}")
    _wait_for_workers(rest, 1, log=worker_log)  # the fixture's `docflow worker start`
    log = tmp_path / "plain-worker.log"
    with running(["bash", "-c", plain], shell.env(), log):
        _wait_for_workers(rest, 2, log=log)
    assert "database is locked" not in log.read_text()


def _wait_for_workers(rest: Rest, count: int, log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        reply = rest.post(f"/work_pools/{WORK_POOL}/workers/filter", {})
        reply.raise_for_status()
        if len(reply.json()) >= count:
            return
        time.sleep(0.5)
    raise AssertionError(f"fewer than {count} workers in pool {WORK_POOL}:\n{log.read_text()[-3000:]}")


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
    StoreTarget(uri=str(db), table="from-block").save("e2e-target", overwrite=True)
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
    assert database.open_table(database.connect(str(db), {}), "from-block") is None


def test_invalid_parameters_are_rejected_by_the_server(deployment, rest):
    create = f"/deployments/{deployment['id']}/create_flow_run"
    for parameters, field, reason in [
        ({"paths": ["/docs"], "batch_size": 0}, "batch_size", "less than the minimum of 1"),
        ({"paths": []}, "paths", "should be non-empty"),
        ({"paths": ["/docs"], "table": "no spaces"}, "table", "does not match"),
        ({"source": "Not A Block Name"}, "source", "does not match"),
        ({"paths": ["/docs"], "retry_policies": {"parse": {"retries": 99}}}, "retry_policies.parse.retries",
         "maximum of 20"),
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
    does: state AwaitingRetry, forced. The worker runs the same flow run, same parameters.
    broken.pdf (the first batch) fails in the first attempt: the retry counts it as failed,
    not skipped, and the run's report says why the others were skipped."""
    src, db = tmp_path / "src", tmp_path / "db"
    docs = b.make_corpus(src, 10, kinds=("txt", "md"))
    b.make_corrupt_pdf(src / "broken.pdf")
    run = rest.create_flow_run(deployment["id"], {"paths": [str(src)], "db": str(db), "batch_size": 1})

    done_before = _wait_for_done(db, at_least=2, rest=rest, flow_run_id=run["id"])
    ledger_dir, moved = db / "chunks_ledger.lance", db / "ledger-moved-away"
    with database.write_lock(str(db)):
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
    assert summary["documents_failed"] == 1 and summary["failures_by_class"]["parse"] == 1
    reports = sorted(
        (a for a in rest.post("/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [run["id"]]}}}).json()
         if a["key"] == "docflow-ingest-chunks-report"),
        key=lambda a: a["created"],
    )
    assert len(reports) == 2  # one per attempt, the retry's last
    progress = sorted(
        (a for a in rest.post("/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [run["id"]]}}}).json()
         if a["key"] == "docflow-ingest-chunks-progress"),
        key=lambda a: a["created"],
    )
    assert progress[0]["description"].startswith("earlier attempt, stopped at")
    assert progress[-1]["data"] == 100.0 and progress[-1]["description"].startswith("ingest chunks: ")
    assert f"| finished by an earlier attempt of this flow run (docflow checkpoint) | {len(first)} |" in reports[-1]["data"]
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
    never created.)"""
    src, db = tmp_path / "src", tmp_path / "db"
    docs = b.make_corpus(src, 3, kinds=("txt", "md"))
    first = run_cli("ingest", str(src), "--db", str(db), env={"DOCFLOW_ADDRESS": warm_cluster})
    assert first.returncode == 0, first.stdout + first.stderr
    changed = docs[0]
    changed.write_text(changed.read_text() + "\nThe scheduled sync brought marker SCHEDFIRED7731.\n")

    sync = rest.deployment(get("sync").full_name)
    # Sent to an existing cluster: its workers must be able to import the flow's modules.
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
    assert "scheduled" in run["tags"] and "table:chunks" in run["tags"]  # tagged by the run itself
    texts = " ".join(r["text"] for r in table_rows(db) if r["doc_id"] == changed.name)
    assert "SCHEDFIRED7731" in texts
    assert_exact(db, {p.name for p in docs})


def _wait_for_scheduled_run(rest: Rest, deployment_id: str, worker_log: Path, timeout_s: float = 240) -> dict:
    """The first run the scheduler created for the deployment, once it is finished (runs the
    concurrency limit cancelled aside). The scheduler service looks for due schedules every few
    seconds (recently changed deployments) to a minute (all of them)."""
    deadline = time.monotonic() + timeout_s
    query = {"flow_runs": {"deployment_id": {"any_": [deployment_id]}}, "sort": "EXPECTED_START_TIME_ASC"}
    while time.monotonic() < deadline:
        reply = rest.post("/flow_runs/filter", query)
        reply.raise_for_status()
        # A tick that comes due while the previous run still holds the sync's concurrency slot
        # is cancelled (CANCEL_NEW, as designed); on a loaded machine that can happen first.
        finished = [r for r in reply.json() if r["auto_scheduled"] and r["state_type"] in TERMINAL
                    and "concurrency limit reached" not in (r["state"]["message"] or "")]
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


def test_unknown_or_missing_parameters_are_refused_before_a_run_exists(deployment, rest):
    create = f"/deployments/{deployment['id']}/create_flow_run"
    runs_before = _flow_runs(rest, deployment["id"])
    for parameters, reason in [
        ({"paths": ["/docs"], "pathz": ["/docs"]}, "Additional properties are not allowed ('pathz' was unexpected)"),
        ({"batch_size": 4}, "'paths' is a required property"),
        ({"paths": None}, "None is not of type 'array'"),
    ]:
        reply = rest.post(create, {"parameters": parameters})
        assert reply.status_code == 409, reply.text
        assert reason in reply.json()["detail"], reply.json()["detail"]
    assert _flow_runs(rest, deployment["id"]) == runs_before


def test_a_run_shows_what_it_does_in_names_tags_and_artifacts(deployment, rest, worker_log, tmp_path):
    """Run name from the parameters, batch task runs named by their documents (and their
    failures), the table as a tag, artifacts keyed by flow and table; a glob that matches
    nothing is said in the logs."""
    src, db = tmp_path / "src", tmp_path / "db"
    docs = b.make_corpus(src, 3, kinds=("txt", "md"))
    b.make_corrupt_pdf(src / "broken.pdf")
    run = rest.create_flow_run(deployment["id"], {
        "paths": [str(src), str(tmp_path / "nothing" / "*.pdf")], "db": str(db), "batch_size": 1,
    })
    finished = rest.wait(run["id"], log=worker_log)
    assert finished["state_type"] == "COMPLETED", finished["state"]

    assert finished["name"] == "ingest chunks ← src/ (2 paths)"
    assert finished["state"]["message"] == "finished: 3 done, 1 failed, 0 skipped of 4"
    assert "table:chunks" in finished["tags"] and "scheduled" not in finished["tags"]
    names = [t["name"] for t in rest.post("/task_runs/filter", {"flow_runs": {"id": {"any_": [run["id"]]}}}).json()]
    batches = sorted(re.fullmatch(r"batch (\d+): 1 doc, first (\S+?)(; 1 of 1 failed)?", n).groups() for n in names)
    assert [number for number, _, _ in batches] == ["1", "2", "3", "4"]  # batches go largest document first
    assert {(doc, bool(failed)) for _, doc, failed in batches} == {
        ("broken.pdf", True), ("doc0000.txt", False), ("doc0001.md", False), ("doc0002.txt", False)}
    assert any(f"glob matched nothing: {tmp_path}/nothing/*.pdf" in m for m in _log_messages(rest, run["id"]))

    artifacts = {a["key"]: a for a in rest.post("/artifacts/filter", {
        "artifacts": {"flow_run_id": {"any_": [run["id"]]}}}).json()}
    assert set(artifacts) == {f"docflow-ingest-chunks-{k}" for k in ("progress", "report", "failures", "documents", "summary")}
    progress = artifacts["docflow-ingest-chunks-progress"]
    assert progress["data"] == 100.0
    assert progress["description"].startswith("ingest chunks: 3 done, 1 failed of 4 documents to process")
    assert artifacts["docflow-ingest-chunks-failures"]["description"] == "1 failed document"
    documents = artifacts["docflow-ingest-chunks-documents"]
    assert documents["description"] == "all 4 documents of this run"
    rows = json.loads(documents["data"])
    assert {(r["doc_id"], r["outcome"]) for r in rows} == {("broken.pdf", "failed")} | {(p.name, "done") for p in docs}
    report = artifacts["docflow-ingest-chunks-report"]["data"]
    assert report.startswith("# docflow ingest of chunks: completed")
    assert f"prefect flow-run retry {run['id']}" not in report and "**Custom run**" in report


def test_a_bad_call_fails_in_one_line_and_alerts_through_a_webhook_block(deployed, deployment, shell, rest,
                                                                           worker_log, tmp_path):
    """`docflow deploy --alert-block` makes an automation that posts to a custom webhook block
    (a real HTTP server on loopback here) when a docflow run fails. The failing run: a path
    that does not exist, refused in one line, no traceback, no tables."""
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    from tests.deployments.support import Webhook

    hook = Webhook()
    try:
        CustomWebhookNotificationBlock(
            name="e2e", url=hook.url, json_data={"subject": "{{subject}}", "body": "{{body}}"}
        ).save("e2e-alerts", overwrite=True)
        alerted = shell.cli("deploy", "--alert-block", "custom-webhook/e2e-alerts")
        assert alerted.returncode == 0, alerted.stdout + alerted.stderr
        assert "notifies custom-webhook/e2e-alerts on Failed, Crashed, DeletionGuarded" in alerted.stdout
        refused = shell.cli("deploy", "--alert-block", "custom-webhook/no-such-block")
        assert refused.returncode == 2 and "no custom-webhook block named 'no-such-block'" in refused.stderr

        missing, db = tmp_path / "not-there", tmp_path / "db"
        run = rest.create_flow_run(deployment["id"], {"paths": [str(missing)], "db": str(db)})
        failed = rest.wait(run["id"], log=worker_log)
        assert failed["state_type"] == "FAILED"
        assert failed["state"]["message"] == f"refused: bad sources: source does not exist: {missing}"
        messages = _log_messages(rest, run["id"])
        assert not [m for m in messages if "Traceback" in m or "rerun to resume" in m], messages
        assert not db.exists() or not any(db.iterdir())

        alert = hook.wait_for(lambda body: run["name"] in body.get("body", "") or failed["name"] in body.get("body", ""))
        assert alert["subject"] == f"docflow: {failed['name']} ended Failed"
        assert "refused: bad sources" in alert["body"]
    finally:
        hook.close()


def test_ingest_runs_are_queued_ahead_of_syncs_and_exports(deployment, rest):
    queues = {q["name"]: q["priority"] for q in rest.post(f"/work_pools/{WORK_POOL}/queues/filter", {}).json()}
    assert queues["ingest"] < queues["background"]
    for spec in DEPLOYMENTS:
        assert rest.deployment(spec.full_name)["work_queue_name"] == spec.work_queue
    assert get("ingest").work_queue == "ingest" and {get("sync").work_queue, get("export").work_queue} == {"background"}


def _flow_runs(rest: Rest, deployment_id: str) -> int:
    return len(rest.post("/flow_runs/filter", {"deployments": {"id": {"any_": [deployment_id]}}}).json())


def _log_messages(rest: Rest, flow_run_id: str) -> list[str]:
    return [entry["message"] for entry in rest.post("/logs/filter", {
        "logs": {"flow_run_id": {"any_": [flow_run_id]}}, "limit": 200}).json()]


def test_simultaneous_create_flow_run_calls_are_all_served(deployment, rest):
    """Pairs of create_flow_run calls released at the same instant (SQLite contention on the
    managed server): every one gets its 201, none a 503. The runs are scheduled a year ahead,
    so the worker leaves them alone, and deleted afterwards."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    create = f"/deployments/{deployment['id']}/create_flow_run"
    later = (datetime.now(UTC) + timedelta(days=365)).isoformat()
    body = {"parameters": {"paths": ["/docs"]},
            "state": {"type": "SCHEDULED", "state_details": {"scheduled_time": later}}}
    barrier = threading.Barrier(2)

    def call(_):
        barrier.wait()
        return rest.post(create, body)

    replies = []
    with ThreadPoolExecutor(2) as pool:
        for _ in range(15):
            replies += list(pool.map(call, range(2)))
    for reply in replies:
        if reply.status_code == 201:
            httpx.delete(f"{rest.api_url}/flow_runs/{reply.json()['id']}", timeout=30)
    assert [r.status_code for r in replies] == [201] * len(replies), [r.text for r in replies if r.status_code != 201]
