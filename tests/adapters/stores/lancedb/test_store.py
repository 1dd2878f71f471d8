import numpy as np

from docflow.adapters.stores.lancedb import store
from docflow.core.chunk import Chunk

DIM = 4


def chunks(doc_id: str, n: int, fingerprint: str = "f1") -> store.DocChunks:
    return store.DocChunks(
        doc_id, fingerprint, f"/src/{doc_id}", "txt",
        tuple(Chunk(i, f"{doc_id} chunk {i}", None, None, ("NarrativeText",)) for i in range(n)),
    )


def write(table, docs, doc_ids=None):
    total = sum(len(d.chunks) for d in docs)
    rows = store.rows_for(docs, np.ones((total, DIM), dtype=np.float32), table.schema, "run")
    store.replace_documents(table, doc_ids or [d.doc_id for d in docs], rows)


def rows(table):
    return sorted((r["doc_id"], r["chunk_index"], r["fingerprint"]) for r in table.to_arrow().to_pylist())


def test_replace_is_exact_per_document_and_leaves_others_alone(tmp_path):
    db = store.connect(str(tmp_path))
    table = store.ensure_chunk_table(db, "chunks", DIM, {"model_name": "m"})
    write(table, [chunks("a", 3), chunks("b", 2)])
    write(table, [chunks("a", 1, "f2")])  # a shrank: its chunks 1 and 2 must go
    assert rows(table) == [("a", 0, "f2"), ("b", 0, "f1"), ("b", 1, "f1")]


def test_a_document_with_no_new_chunks_is_removed(tmp_path):
    db = store.connect(str(tmp_path))
    table = store.ensure_chunk_table(db, "chunks", DIM, {})
    write(table, [chunks("a", 2), chunks("b", 1)])
    write(table, [], doc_ids=["a"])
    assert rows(table) == [("b", 0, "f1")]


def test_awkward_doc_ids_are_quoted(tmp_path):
    db = store.connect(str(tmp_path))
    table = store.ensure_chunk_table(db, "chunks", DIM, {})
    odd = ["it's.txt", "new\nline.md", "-dash.txt", "ünïcode ✓.txt"]
    write(table, [chunks(d, 2) for d in odd] + [chunks("plain", 1)])
    write(table, [chunks(d, 1, "f2") for d in odd])
    assert rows(table) == sorted([(d, 0, "f2") for d in odd] + [("plain", 0, "f1")])
    assert store.delete_documents(table, odd) == 4
    assert rows(table) == [("plain", 0, "f1")]


def test_table_metadata_and_generation_survive_reopen(tmp_path):
    db = store.connect(str(tmp_path))
    first = store.ensure_chunk_table(db, "chunks", DIM, {"model_name": "m"})
    again = store.ensure_chunk_table(store.connect(str(tmp_path)), "chunks", DIM, {"model_name": "other"})
    meta = store.table_metadata(again)
    assert meta["pipeline"] == {"model_name": "m"} and meta["dim"] == DIM
    assert meta["generation"] == store.table_metadata(first)["generation"]
    db.drop_table("chunks")
    fresh = store.ensure_chunk_table(db, "chunks", DIM, {})
    assert store.table_metadata(fresh)["generation"] != meta["generation"]


def test_compaction_keeps_every_row(tmp_path):
    db = store.connect(str(tmp_path))
    table = store.ensure_chunk_table(db, "chunks", DIM, {})
    for i in range(12):
        write(table, [chunks(f"d{i}", 2)])
    before = rows(table)
    store.compact(table)
    assert rows(table) == before and len(before) == 24


WRITER = """
import sys, numpy as np
import docflow
from docflow.adapters.stores.lancedb import store
from docflow.core.chunk import Chunk
uri, label = sys.argv[1], sys.argv[2]
table = store.connect(uri).open_table("chunks")
for round_no in range(15):
    docs = [store.DocChunks(f"shared-{i}", label, "/s", "txt",
                            tuple(Chunk(c, f"{label} {round_no}", None, None, ()) for c in range(1 + (round_no + i) % 3)))
            for i in range(4)]
    total = sum(len(d.chunks) for d in docs)
    with store.write_lock(uri):
        rows = store.rows_for(docs, np.ones((total, 4), np.float32), table.schema, label)
        store.replace_documents(table, [d.doc_id for d in docs], rows)
"""


def test_two_processes_replacing_the_same_documents_never_leave_duplicates(tmp_path):
    """LanceDB lets two processes merge the same doc_id concurrently and keep both rows; the
    write lock serialises them, so each document ends with exactly one writer's chunks."""
    import subprocess
    import sys

    uri = str(tmp_path / "db")
    store.ensure_chunk_table(store.connect(uri), "chunks", DIM, {})
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, uri, label]) for label in ("A", "B")]
    assert [w.wait(timeout=300) for w in writers] == [0, 0]
    table = store.connect(uri).open_table("chunks")
    data = table.to_arrow().to_pylist()
    keys = [(r["doc_id"], r["chunk_index"]) for r in data]
    assert len(keys) == len(set(keys))
    for i in range(4):
        mine = [r for r in data if r["doc_id"] == f"shared-{i}"]
        assert len({r["fingerprint"] for r in mine}) == 1  # one writer's version, whole
        assert sorted(r["chunk_index"] for r in mine) == list(range(len(mine)))


def test_storage_options_are_renamed_for_s3fs_and_kept_from_other_schemes():
    lance = {"aws_access_key_id": "k", "aws_secret_access_key": "s", "aws_session_token": "t",
             "aws_endpoint": "http://127.0.0.1:9000", "aws_region": "eu-west-1", "allow_http": "true"}
    assert store.fsspec_options("s3://bucket/db", lance) == {
        "key": "k", "secret": "s", "token": "t", "endpoint_url": "http://127.0.0.1:9000",
        "client_kwargs": {"region_name": "eu-west-1"},
    }
    assert store.fsspec_options("gs://bucket/db", lance) == {}
    assert store.fsspec_options("s3://bucket/db", {}) == {}
