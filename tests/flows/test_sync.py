"""Incremental sync end to end on real files, a real Prefect server, Dask and LanceDB."""

import shutil

import pytest

from tests import docbuilders as b
from tests.procio import bytes_read
from tests.flows.support import assert_exact, ledger, sync, table_rows

pytestmark = pytest.mark.e2e


@pytest.fixture
def cli(warm_cli):
    """These flows run on the session's warm Dask cluster, by address."""
    return warm_cli


def test_sync_adds_updates_deletes_exactly_and_is_idempotent(cli, tmp_path):
    src, db = tmp_path / "src", tmp_path / "db"
    paths = b.make_corpus(src, 10, kinds=("txt", "md"))
    first = sync(cli, str(src), "--db", str(db))
    assert first["documents_processed"] == 10 and first["documents_deleted"] == 0
    assert_exact(db, {p.name for p in paths})

    b.make_txt(src / "doc0000.txt", topic="Edited", n=1)  # update
    (src / "doc0001.md").unlink()  # delete
    b.make_html(src / "fresh.html", topic="Brand new")  # add
    dry = sync(cli, str(src), "--db", str(db), "--dry-run")
    assert dry["outcome"] == "dry-run"
    assert dry["changes"] == {"added": 1, "updated": 1, "unchanged": 8, "deleted": 1, "indexed": 10}
    before = sorted((r["chunk_id"], r["fingerprint"]) for r in table_rows(db))
    assert sorted((r["chunk_id"], r["fingerprint"]) for r in table_rows(db)) == before
    assert "doc0001.md" in ledger(db)  # dry run touched nothing

    second = sync(cli, str(src), "--db", str(db))
    assert (second["documents_processed"], second["documents_deleted"], second["documents_skipped"]) == (2, 1, 8)
    deleted_chunks = [r for r in before if r[0].startswith("doc0001.md#")]
    assert second["chunks_deleted"] == len(deleted_chunks) > 0
    expected = {p.name for p in paths} - {"doc0001.md"} | {"fresh.html"}
    rows = assert_exact(db, expected)
    assert [r["text"] for r in rows if r["doc_id"] == "doc0000.txt"][0].startswith("Edited")
    assert "doc0001.md" not in ledger(db)

    third = sync(cli, str(src), "--db", str(db))
    assert (third["documents_processed"], third["documents_deleted"], third["cache_misses"]) == (0, 0, 0)
    assert third["documents_skipped"] == len(expected)

    # A deleted file that comes back with the same bytes is ingested again, not skipped.
    b.make_md(src / "doc0001.md", topic="Topic 1")
    back = sync(cli, str(src), "--db", str(db))
    assert back["documents_processed"] == 1
    assert_exact(db, expected | {"doc0001.md"})


def test_mass_deletion_guard_on_an_emptied_or_vanished_source(cli, tmp_path):
    src, db = tmp_path / "src", tmp_path / "db"
    paths = b.make_corpus(src, 5)
    sync(cli, str(src), "--db", str(db))
    for p in paths:
        p.unlink()
    guarded = sync(cli, str(src), "--db", str(db), expect=3)
    assert guarded["outcome"] == "guarded" and "source is empty" in guarded["reason"]
    assert guarded["documents_deleted"] == 0
    assert_exact(db, {p.name for p in paths})

    shutil.rmtree(src)
    vanished = sync(cli, str(src), "--db", str(db), expect=3)
    assert "unreachable" in vanished["reason"]
    assert_exact(db, {p.name for p in paths})

    src.mkdir()
    b.make_txt(src / "doc0000.txt", topic="Topic 0")
    forced = sync(cli, str(src), "--db", str(db), "--allow-mass-delete")
    assert forced["outcome"] == "completed" and forced["documents_deleted"] == 4
    assert_exact(db, {"doc0000.txt"})


def test_a_scheduled_sync_runs_from_block_names_alone(warm_cluster, tmp_path):
    """What the hourly deployment does: no paths or URIs in the run, only saved blocks."""
    from blocks import DaskCluster, DocumentSource, StoreTarget
    from flows.sync import sync as sync_flow

    src, db = tmp_path / "src", tmp_path / "db"
    paths = b.make_corpus(src, 6, kinds=("txt", "md"))
    DocumentSource(roots=[str(src)], exclude=["*.md"]).save("sync-source", overwrite=True)
    StoreTarget(uri=str(db), table="chunks").save("sync-target", overwrite=True)
    DaskCluster(address=warm_cluster).save("sync-cluster", overwrite=True)
    blocks = dict(source="sync-source", target="sync-target", cluster="sync-cluster")

    first = sync_flow(**blocks)
    texts = {p.name for p in paths if p.suffix == ".txt"}
    assert first["documents_processed"] == len(texts) == 3
    assert_exact(db, texts)

    gone = sorted(texts)[0]
    (src / gone).unlink()
    second = sync_flow(**blocks, max_delete_fraction=0.5)
    assert (second["documents_deleted"], second["documents_processed"]) == (1, 0)
    assert_exact(db, texts - {gone})


def test_a_no_op_sync_reads_almost_nothing_of_the_corpus_and_rehash_reads_all_of_it(warm_cluster, tmp_path):
    """The flow runs in this process, so rchar is what discovery, the skip decision and the
    ledger scan read. The large documents are damaged PDFs (a final parse failure, recorded and
    checkpointed like a finished document) because parsing large valid ones takes minutes here;
    the quick check treats every recorded document alike."""
    import os
    import time

    from flows.sync import sync as sync_flow
    from docflow.core.versions import RACY_WINDOW_NS

    src, db = tmp_path / "src", tmp_path / "db"
    small = b.make_corpus(src, 2, kinds=("txt", "md"))
    # rchar also counts what the process reads from sockets (the Prefect API, Dask): about
    # 1.5 MB for a sync, whatever the corpus; 72 MB of documents keep that a small fraction.
    for i in range(3):
        (src / f"scan{i}.pdf").write_bytes(b"%PDF-1.7\n" + os.urandom(24 << 20))
    corpus = sum(p.stat().st_size for p in src.iterdir())
    time.sleep(RACY_WINDOW_NS / 1e9 + 0.1)  # hashed later than the racily-clean window
    run = dict(paths=[str(src)], db=str(db), address=warm_cluster)
    first = sync_flow(**run)
    assert (first["documents_processed"], first["documents_failed"]) == (len(small), 3)

    idle, read = bytes_read(lambda: sync_flow(**run))
    assert (idle["documents_processed"], idle["documents_skipped"]) == (0, 5)
    assert read < corpus // 20, f"a no-op sync read {read} of {corpus} bytes"
    rehashed, read = bytes_read(lambda: sync_flow(**run, rehash=True))
    assert (rehashed["documents_processed"], rehashed["documents_skipped"]) == (0, 5)
    assert read >= corpus
