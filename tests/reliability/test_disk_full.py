"""Disk full while writing: a real ENOSPC from a small tmpfs in the test's own mount namespace.
The run must stop as a `system` error with a clear reason, keep what it finished, and the next
run, with space again, must resume and end exact."""

import json
import shlex
import subprocess
import sys

import pytest

from tests import docbuilders as b

pytestmark = pytest.mark.e2e


def test_enospc_stops_the_run_cleanly_and_the_next_run_resumes(prefect_api, tmp_path):
    if subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode != 0:
        pytest.skip("mount namespaces are not available here (unshare -m failed)")
    src, db, out = tmp_path / "src", tmp_path / "db", tmp_path / "out"
    b.make_corpus(src, 30)
    db.mkdir()
    out.mkdir()
    cli = f"{shlex.quote(sys.executable)} -m docflow.cli"
    run = f"ingest {src} --db {db} --batch-size 2 --json"
    script = "\n".join([
        f"mount -t tmpfs -o size=640k none {db}",
        f"{cli} {run} > {out}/full.json 2> {out}/full.err; echo $? > {out}/full.rc",
        f"mount -o remount,size=64m {db}",
        f"{cli} {run} > {out}/again.json 2> {out}/again.err; echo $? > {out}/again.rc",
        f"{cli} verify --db {db} --source {src} --json > {out}/verify.json; echo $? > {out}/verify.rc",
    ])
    subprocess.run(["unshare", "-m", "sh", "-c", script], check=True, timeout=900)

    assert (out / "full.rc").read_text().strip() == "1", (out / "full.err").read_text()[-3000:]
    stopped = json.loads((out / "full.json").read_text())
    assert stopped["outcome"] == "failed" and 0 < stopped["documents_processed"] < 30  # mid-run
    assert stopped["reason"].startswith("system error") and "space" in stopped["reason"].lower()

    assert (out / "again.rc").read_text().strip() == "0", (out / "again.err").read_text()[-3000:]
    resumed = json.loads((out / "again.json").read_text())
    assert resumed["documents_failed"] == 0
    assert resumed["documents_skipped"] == stopped["documents_processed"]
    assert resumed["documents_processed"] + resumed["documents_skipped"] == 30
    assert (out / "verify.rc").read_text().strip() == "0", (out / "verify.json").read_text()
