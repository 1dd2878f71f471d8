"""End to end: the docflow CLI runs the ingest flow on a real Prefect server, a real local Dask
cluster of process workers, the real model and a real LanceDB table on disk."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import docbuilders as b
from tests.flows.support import assert_exact, ingest, ledger, table_rows

pytestmark = pytest.mark.e2e

GOOD = {"a.txt": b.make_txt, "b.md": b.make_md, "c.html": b.make_html, "d.pdf": b.make_pdf,
        "e.docx": b.make_docx, "f.pptx": b.make_pptx, "g.eml": b.make_eml}


def test_ingest_rerun_change_failures_and_retry(cli, tmp_path):
    src, db = tmp_path / "src", tmp_path / "db"
    src.mkdir()
    for name, build in GOOD.items():
        build(src / name, topic=f"Topic {name}")
    b.make_corrupt_pdf(src / "broken.pdf")
    (src / "empty.txt").write_bytes(b"")

    first = ingest(cli, str(src), "--db", str(db))
    assert first["outcome"] == "completed"
    assert (first["documents_total"], first["documents_processed"], first["documents_failed"]) == (9, 7, 2)
    assert first["failures_by_class"]["parse"] == 2 and first["cache_misses"] == 9
    rows = assert_exact(db, set(GOOD))
    assert first["chunks_written"] == len(rows)
    entries = ledger(db)
    assert entries["broken.pdf"]["error_class"] == "parse" and "corrupt PDF" in entries["broken.pdf"]["error_message"]
    assert entries["broken.pdf"]["attempts"] == 2  # parse policy: one retry
    assert "empty file" in entries["empty.txt"]["error_message"]
    first_run = {d: e["run_id"] for d, e in entries.items()}

    second = ingest(cli, str(src), "--db", str(db))
    assert (second["documents_processed"], second["documents_failed"], second["chunks_written"]) == (0, 0, 0)
    assert second["documents_skipped"] == second["cache_hits"] == 9 and second["cache_misses"] == 0
    assert {d: e["run_id"] for d, e in ledger(db).items()} == first_run, "finished documents were redone"
    assert sorted(r["chunk_id"] for r in table_rows(db)) == sorted(r["chunk_id"] for r in rows)

    b.make_txt(src / "a.txt", topic="Completely different subject", n=1)
    os.utime(src / "b.md", ns=(1, 1))  # touched, same bytes: not redone
    third = ingest(cli, str(src), "--db", str(db))
    assert (third["documents_processed"], third["documents_skipped"]) == (1, 8)
    rows = assert_exact(db, set(GOOD))
    changed = [r for r in rows if r["doc_id"] == "a.txt"]
    assert len(changed) == 1 and "Completely different subject" in changed[0]["text"]
    after = ledger(db)
    assert after["a.txt"]["run_id"] != first_run["a.txt"] and after["b.md"]["run_id"] == first_run["b.md"]

    retried = ingest(cli, str(src), "--db", str(db), "--retry-failed")
    assert (retried["documents_processed"], retried["documents_failed"], retried["documents_skipped"]) == (0, 2, 7)
    assert ledger(db)["broken.pdf"]["run_id"] != first_run["broken.pdf"]

    found = cli("search", "Completely different subject", "--db", str(db), "-k", "1", "--json")
    assert found.returncode == 0, found.stderr[-2000:]
    assert json.loads(found.stdout)["hits"][0]["doc_id"] == "a.txt"

    status = cli("status", "--db", str(db), "--json", "--failed")
    report = json.loads(status.stdout)
    assert report["counts"] == {"done": 7, "failed": 2}
    assert report["failures_by_class"] == {"parse": 2}
    assert {f["doc_id"] for f in report["failed"]} == {"broken.pdf", "empty.txt"}
    assert len(report["runs"]) >= 4 and all(r["outcome"] == "completed" for r in report["runs"])


def active_run_of(pid: int) -> str:
    """The flow run id that the process `pid` recorded as its own (flows/orphans.py)."""
    from flows.orphans import ACTIVE_DIR

    for path in (Path(os.environ["DOCFLOW_HOME"]) / ACTIVE_DIR).glob("*.json"):
        entry = json.loads(path.read_text())
        if entry["pid"] == pid:
            return entry["flow_run_id"]
    raise AssertionError(f"process {pid} recorded no active flow run")


def flow_run_state(api_url: str, run_id: str) -> str:
    import httpx

    return httpx.get(f"{api_url}/flow_runs/{run_id}").json()["state"]["type"]


def test_sigkill_in_the_middle_then_rerun_loses_and_duplicates_nothing(prefect_api, tmp_path):
    src, db = tmp_path / "src", tmp_path / "db"
    docs = b.make_corpus(src, 40, kinds=("txt", "md"))
    command = [sys.executable, "-m", "docflow.cli", "ingest", str(src), "--db", str(db),
               "--batch-size", "2", "--workers", "2", "--json"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True, env=dict(os.environ))
    deadline = time.monotonic() + 300
    done_before = 0
    while time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.5)
        try:
            done_before = sum(1 for e in ledger(db).values() if e["status"] == "done")
        except Exception:  # noqa: BLE001 - the table may be mid-creation
            continue
        if done_before >= 6:
            break
    assert process.poll() is None, "run finished before it could be killed; corpus too small"
    killed_run = active_run_of(process.pid)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    killed_at = {d for d, e in ledger(db).items() if e["status"] == "done"}
    assert len(killed_at) >= 6
    assert flow_run_state(prefect_api, killed_run) == "RUNNING"  # nothing could report the kill

    result = subprocess.run(command[:-1] + ["--json"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["documents_failed"] == 0
    assert summary["documents_processed"] + summary["documents_skipped"] == len(docs)
    # Everything the ledger had as done when killed was skipped, not redone.
    assert summary["cache_hits"] >= len(killed_at)
    assert_exact(db, {p.name for p in docs})
    # The rerun found the killed run's process gone and told Prefect.
    assert flow_run_state(prefect_api, killed_run) == "CRASHED"
    from tests.conftest import run_cli

    check = run_cli("verify", "--db", str(db), "--source", str(src), "--json")
    assert check.returncode == 0, check.stdout[-2000:]
    assert json.loads(check.stdout)["consistent"]
