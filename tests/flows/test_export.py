"""Export and import end to end: the CLI, a real Prefect server, real LanceDB tables."""

import json
import os
import subprocess
import sys
import time

import pytest

from docflow.adapters.stores.lancedb import database
from tests import docbuilders as b
from tests.flows.support import ledger

pytestmark = pytest.mark.e2e


@pytest.fixture
def cli(warm_cli):
    """These flows run on the session's warm Dask cluster, by address."""
    return warm_cli


def run_json(cli, *args):
    result = cli(*args, "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def test_export_import_search_round_trip_with_reports_and_history(cli, tmp_path):
    src, db, snap, db2 = tmp_path / "src", tmp_path / "db", tmp_path / "snap", tmp_path / "db2"
    b.make_corpus(src, 6, kinds=("txt", "md", "html"))
    run_json(cli, "ingest", str(src), "--db", str(db))
    summary = run_json(cli, "export", "--out", str(snap), "--db", str(db), "--with-reports", "--part-rows", "4")
    table = database.open_table(database.connect(str(db), {}), "chunks")
    assert summary["rows"] == table.count_rows() and summary["version"] == table.version
    assert {"manifest.json", "ledger.csv", "runs.json"} <= set(os.listdir(snap))
    assert len(json.loads((snap / "runs.json").read_text())) == 1
    history = run_json(cli, "exports", "--db", str(db))["exports"]
    assert history[0]["rows"] == summary["rows"] and history[0]["out_dir"] == str(snap)

    imported = run_json(cli, "import", str(snap), "--db", str(db2), "--table", "chunks")
    assert imported["rows"] == summary["rows"]
    query = ("search", "Topic 3 paragraph about retrieval", "-k", "3")
    original = run_json(cli, *query, "--db", str(db))["hits"]
    copy = run_json(cli, *query, "--db", str(db2))["hits"]
    assert [(h["doc_id"], h["chunk_index"]) for h in copy] == [(h["doc_id"], h["chunk_index"]) for h in original]
    assert [h["score"] for h in copy] == pytest.approx([h["score"] for h in original], abs=1e-4)


def test_export_during_an_ingest_is_the_pinned_version(prefect_api, cli, tmp_path):
    src, more, db, snap = tmp_path / "src", tmp_path / "more", tmp_path / "db", tmp_path / "snap"
    b.make_corpus(src, 4)
    run_json(cli, "ingest", str(src), "--db", str(db))
    b.make_corpus(more, 160)  # long enough that the export surely starts mid-ingest
    writer = subprocess.Popen(
        [sys.executable, "-m", "docflow.cli", "ingest", str(more), "--db", str(db), "--table", "chunks",
         "--batch-size", "2", "--json"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ),
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and len(ledger(db)) < 6:
            time.sleep(0.3)
        assert writer.poll() is None, "the concurrent ingest finished too early to overlap"
        summary = run_json(cli, "export", "--out", str(snap), "--db", str(db), "--part-rows", "5")
    finally:
        assert writer.wait(timeout=600) == 0
    table = database.open_table(database.connect(str(db), {}), "chunks")
    assert table.version > summary["version"], "the ingest kept writing after the export pinned"
    table.checkout(summary["version"])
    expected = sorted(table.to_arrow().column("chunk_id").to_pylist())
    run_json(cli, "import", str(snap), "--db", str(tmp_path / "copy"))
    copy = database.open_table(database.connect(str(tmp_path / "copy"), {}), "chunks")
    assert sorted(copy.to_arrow().column("chunk_id").to_pylist()) == expected
