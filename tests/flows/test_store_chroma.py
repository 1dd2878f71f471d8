"""End to end with `--store chroma`: the CLI's ingest, sync, verify, search and status on a real
Prefect server, the session's Dask workers, the real model and an embedded Chroma directory."""

import json
import os

import pytest

from docflow.adapters.stores import open_state, open_store
from docflow.core.models import Target
from tests import docbuilders as b
from tests.flows.support import ingest, sync
from tests.storesupport import exactness_problems

pytestmark = pytest.mark.e2e


@pytest.fixture
def cli(warm_cli):
    return warm_cli


def exact(db, expected: set[str]) -> dict[str, list[dict]]:
    """The Chroma directory holds exactly the expected documents' current chunks."""
    target = Target(db=str(db), table="chunks", checkpoint_dir="", store="chroma")
    store, state = open_store(target), open_state(target)
    assert exactness_problems(store, state) == []
    rows = store.read_columns(["doc_id", "chunk_index", "text", "run_id"])
    assert {r["doc_id"] for r in rows} == expected
    return {d: sorted((r for r in rows if r["doc_id"] == d), key=lambda r: r["chunk_index"]) for d in expected}


def test_ingest_rerun_change_sync_verify_search_status_on_chroma(cli, tmp_path):
    src, db = tmp_path / "src", tmp_path / "chroma"
    good = {"a.txt": b.make_txt, "b.md": b.make_md, "c.html": b.make_html, "d.txt": b.make_txt}
    src.mkdir()
    for name, build in good.items():
        build(src / name, topic=f"Topic {name}")
    b.make_corrupt_pdf(src / "broken.pdf")
    store = ("--store", "chroma", "--db", str(db))

    first = ingest(cli, str(src), *store)
    assert (first["documents_processed"], first["documents_failed"]) == (4, 1)
    chunks = exact(db, set(good))
    assert first["chunks_written"] == sum(len(c) for c in chunks.values())
    assert (db / "chroma.sqlite3").exists() and (db / "docflow-state.sqlite3").exists()

    again = ingest(cli, str(src), *store)
    assert (again["documents_processed"], again["chunks_written"], again["documents_skipped"]) == (0, 0, 5)
    assert exact(db, set(good)) == chunks, "finished documents were redone"

    b.make_txt(src / "a.txt", topic="Completely different subject", n=1)
    os.utime(src / "b.md", ns=(1, 1))  # touched, same bytes: not redone
    changed = ingest(cli, str(src), *store)
    assert (changed["documents_processed"], changed["documents_skipped"]) == (1, 4)
    now = exact(db, set(good))
    assert len(now["a.txt"]) == 1 and "Completely different subject" in now["a.txt"][0]["text"]
    assert now["b.md"] == chunks["b.md"]

    (src / "d.txt").unlink()
    synced = sync(cli, str(src), *store)
    assert (synced["documents_deleted"], synced["chunks_deleted"]) == (1, len(chunks["d.txt"]))
    assert synced["documents_processed"] == 0
    exact(db, set(good) - {"d.txt"})

    verified = cli("verify", *store, "--source", str(src), "--json")
    assert verified.returncode == 0, verified.stdout[-2000:] + verified.stderr[-2000:]
    report = json.loads(verified.stdout)
    assert report["consistent"] and report["chunks"] == sum(len(c) for c in exact(db, {"a.txt", "b.md", "c.html"}).values())

    found = cli("search", "Completely different subject", *store, "-k", "2", "--json")
    assert found.returncode == 0, found.stderr[-2000:]
    hits = json.loads(found.stdout)["hits"]
    assert hits[0]["doc_id"] == "a.txt" and 0.5 < hits[0]["score"] <= 1.0
    assert hits[0]["score"] >= hits[1]["score"]

    status = cli("status", *store, "--json", "--failed")
    assert status.returncode == 0, status.stderr[-2000:]
    summary = json.loads(status.stdout)
    assert summary["counts"] == {"done": 3, "failed": 1}
    assert [f["doc_id"] for f in summary["failed"]] == ["broken.pdf"]
    assert len(summary["runs"]) == 4

    refused = cli("export", "--out", str(tmp_path / "snapshot"), *store)
    assert refused.returncode != 0
    assert "needs a store with pinned-versions; the chroma store does not have it" in refused.stderr
