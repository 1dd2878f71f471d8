import numpy as np

from docflow.adapters.stores.lancedb import database
from docflow.adapters.stores.lancedb.store import LanceStore
from docflow.core.chunk import Chunk
from docflow.core.models import DocChunks, Target
from docflow.ports.store import Capability, VectorStore

DIM = 4


def lance(path) -> LanceStore:
    return LanceStore(Target(str(path), "chunks", str(path / "ckpt")))


def chunks(doc_id: str, n: int, fingerprint: str = "f1") -> DocChunks:
    return DocChunks(
        doc_id, fingerprint, f"/src/{doc_id}", "txt",
        tuple(Chunk(i, f"{doc_id} chunk {i}", None, None, ("NarrativeText",)) for i in range(n)),
    )


def write(store, docs, doc_ids=None):
    total = sum(len(d.chunks) for d in docs)
    store.replace_documents(doc_ids or [d.doc_id for d in docs], docs, np.ones((total, DIM), dtype=np.float32), "run")


def rows(store):
    return sorted((r["doc_id"], r["chunk_index"], r["fingerprint"])
                  for r in store.read_columns(["doc_id", "chunk_index", "fingerprint"]))


def test_the_lancedb_store_is_a_vector_store_with_pinned_versions(tmp_path):
    store = lance(tmp_path)
    assert isinstance(store, VectorStore)
    assert Capability.PINNED_VERSIONS in store.capabilities and store.info() is None and store.count() == 0


def test_replace_is_exact_per_document_and_leaves_others_alone(tmp_path):
    store = lance(tmp_path)
    store.ensure(DIM, {"model_name": "m"})
    write(store, [chunks("a", 3), chunks("b", 2)])
    write(store, [chunks("a", 1, "f2")])  # a shrank: its chunks 1 and 2 must go
    assert rows(store) == [("a", 0, "f2"), ("b", 0, "f1"), ("b", 1, "f1")]


def test_a_document_with_no_new_chunks_is_removed(tmp_path):
    store = lance(tmp_path)
    store.ensure(DIM, {})
    write(store, [chunks("a", 2), chunks("b", 1)])
    write(store, [], doc_ids=["a"])
    assert rows(store) == [("b", 0, "f1")]


def test_awkward_doc_ids_are_quoted(tmp_path):
    store = lance(tmp_path)
    store.ensure(DIM, {})
    odd = ["it's.txt", "new\nline.md", "-dash.txt", "ünïcode ✓.txt"]
    write(store, [chunks(d, 2) for d in odd] + [chunks("plain", 1)])
    write(store, [chunks(d, 1, "f2") for d in odd])
    assert rows(store) == sorted([(d, 0, "f2") for d in odd] + [("plain", 0, "f1")])
    assert sorted(r["doc_id"] for r in store.read_columns(["doc_id"], odd[:2])) == sorted(odd[:2])
    assert store.delete_documents(odd) == 4
    assert rows(store) == [("plain", 0, "f1")]


def test_reading_more_documents_than_an_in_list_takes_scans_and_filters(tmp_path, monkeypatch):
    monkeypatch.setattr(database, "IN_LIST_MAX", 3)
    store = lance(tmp_path)
    store.ensure(DIM, {})
    write(store, [chunks(f"d{i}", 2) for i in range(10)])
    wanted = {f"d{i}" for i in range(0, 10, 2)}
    got = store.read_columns(["doc_id", "chunk_index"], wanted)
    assert sorted((r["doc_id"], r["chunk_index"]) for r in got) == sorted((d, c) for d in wanted for c in range(2))


def test_table_metadata_and_generation_survive_reopen(tmp_path):
    first = lance(tmp_path).ensure(DIM, {"model_name": "m"})
    again = lance(tmp_path).ensure(DIM, {"model_name": "other"})
    assert again.pipeline == {"model_name": "m"} and again.dim == DIM
    assert again.generation == first.generation
    store = lance(tmp_path)
    store.db.drop_table("chunks")
    assert store.info() is None
    assert store.ensure(DIM, {}).generation != first.generation


def test_compaction_keeps_every_row(tmp_path):
    store = lance(tmp_path)
    store.ensure(DIM, {})
    for i in range(12):
        write(store, [chunks(f"d{i}", 2)])
    before = rows(store)
    store.compact()
    assert rows(store) == before and len(before) == 24 and store.count() == 24


def test_search_returns_the_nearest_chunks_with_their_distance(tmp_path):
    store = lance(tmp_path)
    store.ensure(2, {})
    docs = [chunks("east", 1), chunks("north", 1)]
    store.replace_documents(["east", "north"], docs, np.array([[1, 0], [0, 1]], dtype=np.float32), "run")
    hits = store.search(np.array([1, 0.1], dtype=np.float32), k=2)
    assert [h.doc_id for h in hits] == ["east", "north"]
    assert 0 <= hits[0].distance < 0.01 < hits[1].distance and hits[0].text == "east chunk 0"


WRITER = """
import sys, numpy as np
import docflow
from docflow.adapters.stores.lancedb.store import LanceStore
from docflow.core.chunk import Chunk
from docflow.core.models import DocChunks, Target
uri, label = sys.argv[1], sys.argv[2]
store = LanceStore(Target(uri, "chunks", uri + "/ckpt"))
for round_no in range(15):
    docs = [DocChunks(f"shared-{i}", label, "/s", "txt",
                      tuple(Chunk(c, f"{label} {round_no}", None, None, ()) for c in range(1 + (round_no + i) % 3)))
            for i in range(4)]
    total = sum(len(d.chunks) for d in docs)
    store.replace_documents([d.doc_id for d in docs], docs, np.ones((total, 4), np.float32), label)
"""


def test_two_processes_replacing_the_same_documents_never_leave_duplicates(tmp_path):
    """LanceDB lets two processes merge the same doc_id concurrently and keep both rows; the
    store's write lock serialises them, so each document ends with exactly one writer's chunks."""
    import subprocess
    import sys

    uri = tmp_path / "db"
    lance(uri).ensure(DIM, {})
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(uri), label]) for label in ("A", "B")]
    assert [w.wait(timeout=300) for w in writers] == [0, 0]
    data = lance(uri).read_columns(["doc_id", "chunk_index", "fingerprint"])
    keys = [(r["doc_id"], r["chunk_index"]) for r in data]
    assert len(keys) == len(set(keys))
    for i in range(4):
        mine = [r for r in data if r["doc_id"] == f"shared-{i}"]
        assert len({r["fingerprint"] for r in mine}) == 1  # one writer's version, whole
        assert sorted(r["chunk_index"] for r in mine) == list(range(len(mine)))


def test_an_older_table_gains_the_columns_added_since(tmp_path):
    import pyarrow as pa

    db = database.connect(str(tmp_path), {})
    database.ensure_table(db, "t", pa.schema([pa.field("doc_id", pa.string())]))
    table = database.ensure_table(db, "t", pa.schema([pa.field("doc_id", pa.string()), pa.field("size", pa.int64())]))
    assert table.schema.names == ["doc_id", "size"]
