import numpy as np

from docflow.core.models import DocOutcome, DocRef, DocStatus, Target
from docflow.adapters.checkpoints import checkpoint
from docflow.adapters.stores.lancedb import ledger
from docflow.adapters.stores.lancedb import store
from docflow.core.chunk import Chunk
from docflow.core.verify import repair, verify

DIM = 4


def ref(doc_id: str, fingerprint: str = "f1") -> DocRef:
    return DocRef(doc_id, f"/s/{doc_id}", "/s", 1, 0, "c", fingerprint, "txt")


def build(tmp_path, docs: dict[str, int]):
    """A consistent index: each doc with n chunks, a done ledger row and a checkpoint."""
    target = Target(str(tmp_path / "db"), "chunks", str(tmp_path / "ckpt"))
    db = store.connect(target.db)
    table = store.ensure_chunk_table(db, "chunks", DIM, {})
    ledger_table = store.ensure_table(db, target.ledger_table, ledger.LEDGER_SCHEMA)
    generation = store.table_metadata(table)["generation"]
    results = checkpoint.open_store(target.checkpoint_dir)
    payload = [store.DocChunks(d, "f1", f"/s/{d}", "txt",
                               tuple(Chunk(i, f"{d} {i}", None, None, ()) for i in range(n))) for d, n in docs.items()]
    rows = store.rows_for(payload, np.ones((sum(docs.values()), DIM), np.float32), table.schema, "r")
    store.replace_documents(table, list(docs), rows)
    outcomes = {d: DocOutcome(d, "f1", DocStatus.DONE, chunk_count=n) for d, n in docs.items()}
    ledger.upsert(ledger_table, [ledger.LedgerEntry(ref(d), o) for d, o in outcomes.items()], "r")
    for d, o in outcomes.items():
        checkpoint.record(results, generation, ref(d), o, "r")
    return target, generation, table


def test_a_consistent_index_verifies_clean(tmp_path):
    target, generation, _ = build(tmp_path, {"a": 2, "b": 3})
    report = verify(target, generation)
    assert report.consistent and (report.documents, report.chunks) == (2, 5)


def test_every_kind_of_damage_is_found_and_repair_requeues_it(tmp_path):
    target, generation, table = build(tmp_path, {"dup": 2, "stale": 2, "gap": 3, "lost": 2, "ok": 1})
    rows = table.to_arrow()
    dup_row = rows.filter(np.array([c == "dup#0" for c in rows.column("chunk_id").to_pylist()]))
    table.add(dup_row)  # the duplicate two racing writers can leave
    table.update(where="doc_id = 'stale'", values={"fingerprint": "old"})
    table.delete("chunk_id = 'gap#1'")
    table.delete("doc_id = 'lost'")  # checkpointed, yet its chunks are gone
    orphan = store.DocChunks("orphan", "f9", "/s/orphan", "txt", (Chunk(0, "x", None, None, ()),))
    table.add(store.rows_for([orphan], np.ones((1, DIM), np.float32), table.schema, "r"))

    report = verify(target, generation, source_docs=[ref("ok"), ref("dup"), ref("stale"), ref("gap"), ref("new")])
    counts = report.as_dict()["counts"]
    assert not report.consistent
    assert report.problems["duplicate_chunks"] == ["dup"]
    assert report.problems["stale_chunks"] == ["stale"]
    assert report.problems["missing_chunks"] == ["gap"]
    assert report.problems["checkpointed_without_chunks"] == ["lost"]
    assert report.problems["chunks_without_ledger_row"] == ["orphan"]
    assert report.problems["in_source_not_ingested"] == ["new"]
    assert report.problems["deleted_from_source"] == ["lost"]
    assert counts["done_without_chunks"] == 1

    requeued = repair(target, generation, report)
    assert requeued == ["dup", "gap", "lost", "orphan", "stale"]
    remaining = {r["doc_id"] for r in table.to_arrow().to_pylist()}
    assert remaining == {"ok"}
    results = checkpoint.open_store(target.checkpoint_dir)
    assert checkpoint.finished(results, generation, [ref(d) for d in requeued]) == set()
    assert checkpoint.finished(results, generation, [ref("ok")]) == {"ok"}


def _newest_manifest(table_dir):
    from docflow.core.verify import _manifest_version

    return max(table_dir.glob("_versions/*.manifest"), key=_manifest_version)


def test_a_corrupt_newest_manifest_is_explained_with_the_way_back(tmp_path):
    from docflow.core.verify import explain

    target = build(tmp_path, {"a.txt": 2, "b.txt": 1})[0]
    table = store.open_table(store.connect(target.db), "chunks")
    good_version = table.version
    store.delete_documents(table, ["b.txt"])  # a newer version, which then gets corrupted
    newest = _newest_manifest(tmp_path / "db" / "chunks.lance")
    newest.write_bytes(b"not a manifest")

    try:
        store.open_table(store.connect(target.db), "chunks")
        raise AssertionError("a corrupt manifest opened")
    except Exception as exc:  # noqa: BLE001 - what LanceDB raises is the input here
        error = explain(exc, target.db, "flow")
    assert error.error_class.value == "system" and "lance error" in error.message
    assert f"version {good_version + 1} cannot be read" in error.message, error.message
    assert f"mv '{newest}' '{newest}.corrupt'" in error.message and f"version {good_version} current" in error.message

    newest.rename(f"{newest}.corrupt")  # what the message says to do
    restored = store.open_table(store.connect(target.db), "chunks")
    assert restored.version == good_version and restored.count_rows() == 3


def test_a_zeroed_newest_manifest_that_reads_as_an_empty_table_is_refused(tmp_path):
    """LanceDB opens a manifest of zero bytes as version 0 with no rows, silently."""
    import pytest

    from docflow.core.errors import StoreFault
    from docflow.core.verify import ensure_readable

    target = build(tmp_path, {"a.txt": 2})[0]
    ensure_readable(target.db)
    newest = _newest_manifest(tmp_path / "db" / "chunks.lance")
    newest.write_bytes(b"\0" * 16)
    assert store.open_table(store.connect(target.db), "chunks").count_rows() == 0  # the silent part
    with pytest.raises(StoreFault, match=r"table chunks: version \d+ cannot be read \(it reads as version 0"):
        ensure_readable(target.db)
