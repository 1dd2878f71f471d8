import json
import os

import numpy as np
import pytest

from docflow.adapters.stores.lancedb import database
from docflow.adapters.stores.lancedb.export import MANIFEST, STATE, read_manifest
from docflow.adapters.stores.lancedb.store import LanceStore
from docflow.core.chunk import Chunk
from docflow.core.errors import DocflowSystemError
from docflow.core.hashing import sha256_file
from docflow.core.models import DocChunks, Target

DIM = 4


def lance(db_uri: str, table: str = "chunks") -> LanceStore:
    return LanceStore(Target(db_uri, table, f"{db_uri}/ckpt"))


def export_table(db_uri: str, table: str, out: str, fmt: str = "parquet", version=None, part_rows: int = 10_000):
    return lance(db_uri, table).export(out, fmt, version, part_rows)


def import_snapshot(snapshot: str, db_uri: str, table: str, force: bool = False) -> int:
    return lance(db_uri, table).import_snapshot(snapshot, force)


def open_table(db_uri: str, table: str):
    return database.open_table(database.connect(db_uri, {}), table)


def fill(db_uri: str, docs: range, table: str = "chunks", meta: dict | None = None):
    store = lance(db_uri, table)
    store.ensure(DIM, meta or {"model_name": "m", "fingerprint": "p"})
    payload = [
        DocChunks(f"d{i}", "f", f"/s/d{i}", "txt",
                  tuple(Chunk(c, f"doc {i} chunk {c} ✓", c or None, "T", ("Title",)) for c in range(3)))
        for i in docs
    ]
    vectors = np.random.default_rng(0).random((3 * len(payload), DIM), dtype=np.float32)
    store.replace_documents([d.doc_id for d in payload], payload, vectors, "r")
    return store.open()


def rows(handle) -> list[tuple]:
    data = handle.to_arrow().to_pylist()
    return sorted((r["chunk_id"], r["text"], tuple(np.round(r["vector"], 6)), r["page"]) for r in data)


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_export_then_import_reproduces_the_table(tmp_path, fmt):
    source = fill(str(tmp_path / "a"), range(7))
    result = export_table(str(tmp_path / "a"), "chunks", str(tmp_path / "snap"), fmt, part_rows=5)
    assert (result.rows, result.parts_written, result.parts_reused) == (21, 5, 0)
    manifest = read_manifest(str(tmp_path / "snap"))
    assert manifest["rows"] == 21 and manifest["version"] == source.version
    assert manifest["embedding_model"] == "m" and manifest["pipeline_fingerprint"] == "p"
    assert {f["file"] for f in manifest["files"]} == {f"part-{i:05d}.{fmt}" for i in range(5)}
    for f in manifest["files"]:
        assert sha256_file(str(tmp_path / "snap" / f["file"])) == f["sha256"]
    assert import_snapshot(str(tmp_path / "snap"), str(tmp_path / "b"), "copy") == 21
    copy = open_table(str(tmp_path / "b"), "copy")
    assert rows(copy) == rows(source)
    assert database.table_metadata(copy)["generation"] != database.table_metadata(source)["generation"]
    assert import_snapshot(str(tmp_path / "snap"), str(tmp_path / "b"), "copy") == 21  # idempotent
    assert copy.count_rows() == 21


def test_export_pins_a_version_while_the_table_moves_on(tmp_path):
    handle = fill(str(tmp_path / "a"), range(3))
    pinned, before = handle.version, rows(handle)
    fill(str(tmp_path / "a"), range(3, 6))
    result = export_table(str(tmp_path / "a"), "chunks", str(tmp_path / "snap"), version=pinned)
    assert result.version == pinned and result.rows == 9
    import_snapshot(str(tmp_path / "snap"), str(tmp_path / "b"), "copy")
    assert rows(open_table(str(tmp_path / "b"), "copy")) == before


def test_an_interrupted_export_resumes_from_verified_parts(tmp_path):
    fill(str(tmp_path / "a"), range(10))
    snap = tmp_path / "snap"
    first = export_table(str(tmp_path / "a"), "chunks", str(snap), part_rows=4)
    assert first.parts_written == 8
    # What a kill leaves: a state not marked complete, no manifest, one part torn mid-write,
    # one never written.
    state = json.loads((snap / STATE).read_text())
    assert state.pop("complete") is True
    (snap / STATE).write_text(json.dumps(state))
    (snap / MANIFEST).unlink()
    (snap / "part-00003.parquet").write_bytes(b"torn")
    (snap / "part-00007.parquet").unlink()
    fill(str(tmp_path / "a"), range(10, 12))  # the table moved on meanwhile
    again = export_table(str(tmp_path / "a"), "chunks", str(snap), part_rows=4)
    assert (again.parts_reused, again.parts_written) == (6, 2)
    assert again.version == first.version and again.rows == 30
    assert json.loads((snap / STATE).read_text())["version"] == first.version
    assert import_snapshot(str(snap), str(tmp_path / "b"), "copy") == 30


def test_a_finished_export_is_not_resumed_by_the_next_one(tmp_path):
    handle = fill(str(tmp_path / "a"), range(2))
    first = export_table(str(tmp_path / "a"), "chunks", str(tmp_path / "snap"))
    fill(str(tmp_path / "a"), range(2, 4))
    again = export_table(str(tmp_path / "a"), "chunks", str(tmp_path / "snap"))
    assert again.version == handle.version > first.version
    assert (again.rows, again.parts_reused) == (12, 0)


def test_a_finished_export_leaves_only_what_its_manifest_lists(tmp_path):
    fill(str(tmp_path / "a"), range(10))
    snap = tmp_path / "snap"
    export_table(str(tmp_path / "a"), "chunks", str(snap), part_rows=4)
    (snap / "part-00002.parquet.tmp").write_bytes(b"left by a kill")
    # A smaller table exported over the larger snapshot: parts 3..7 are surplus.
    fill(str(tmp_path / "c"), range(3))
    export_table(str(tmp_path / "c"), "chunks", str(snap), part_rows=4)
    listed = {f["file"] for f in read_manifest(str(snap))["files"]}
    assert listed == {f"part-{i:05d}.parquet" for i in range(3)}
    assert {p.name for p in snap.iterdir()} == listed | {MANIFEST, STATE}
    assert import_snapshot(str(snap), str(tmp_path / "b"), "copy") == 9


def test_import_refuses_a_model_mismatch_unless_forced(tmp_path):
    fill(str(tmp_path / "a"), range(2))
    export_table(str(tmp_path / "a"), "chunks", str(tmp_path / "snap"))
    fill(str(tmp_path / "b"), range(5, 6), meta={"model_name": "other", "fingerprint": "q"})
    with pytest.raises(DocflowSystemError, match="does not match"):
        import_snapshot(str(tmp_path / "snap"), str(tmp_path / "b"), "chunks")
    assert import_snapshot(str(tmp_path / "snap"), str(tmp_path / "b"), "chunks", force=True) == 6


def test_a_corrupt_snapshot_is_refused(tmp_path):
    fill(str(tmp_path / "a"), range(2))
    export_table(str(tmp_path / "a"), "chunks", str(tmp_path / "snap"))
    with open(tmp_path / "snap" / "part-00000.parquet", "ab") as handle:
        handle.write(b"x")
    with pytest.raises(DocflowSystemError, match="corrupt"):
        import_snapshot(str(tmp_path / "snap"), str(tmp_path / "b"), "copy")
    assert not os.path.exists(tmp_path / "b" / "copy.lance")
