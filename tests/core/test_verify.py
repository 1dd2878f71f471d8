import numpy as np

from docflow.adapters.stores import destination
from docflow.adapters.stores.lancedb.store import LanceStore, rows_for
from docflow.core.models import DocChunks, DocOutcome, DocRef, DocStatus, LedgerEntry, Target
from docflow.core.chunk import Chunk
from docflow.core.verify import repair, verify

DIM = 4


def ref(doc_id: str, fingerprint: str = "f1") -> DocRef:
    return DocRef(doc_id, f"/s/{doc_id}", "/s", 1, 0, "c", fingerprint, "txt")


def target_in(tmp_path) -> Target:
    return Target(str(tmp_path / "db"), "chunks", str(tmp_path / "ckpt"))


def build(tmp_path, docs: dict[str, int]):
    """A consistent index: each doc with n chunks, a done ledger row and a checkpoint."""
    target = target_in(tmp_path)
    dest = destination(target, destination(target, "").store.ensure(DIM, {}).generation)
    dest.state.ensure()
    payload = [DocChunks(d, "f1", f"/s/{d}", "txt",
                         tuple(Chunk(i, f"{d} {i}", None, None, ()) for i in range(n))) for d, n in docs.items()]
    dest.store.replace_documents(list(docs), payload, np.ones((sum(docs.values()), DIM), np.float32), "r")
    outcomes = {d: DocOutcome(d, "f1", DocStatus.DONE, chunk_count=n) for d, n in docs.items()}
    dest.state.upsert([LedgerEntry(ref(d), o) for d, o in outcomes.items()], "r")
    for d, o in outcomes.items():
        dest.checkpoints.record(ref(d), o, "r")
    return dest, dest.store.open()


def test_a_consistent_index_verifies_clean(tmp_path):
    dest, _ = build(tmp_path, {"a": 2, "b": 3})
    report = verify(dest.store, dest.state, dest.checkpoints)
    assert report.consistent and (report.documents, report.chunks) == (2, 5)


def test_every_kind_of_damage_is_found_and_repair_requeues_it(tmp_path):
    dest, table = build(tmp_path, {"dup": 2, "stale": 2, "gap": 3, "lost": 2, "ok": 1})
    rows = table.to_arrow()
    dup_row = rows.filter(np.array([c == "dup#0" for c in rows.column("chunk_id").to_pylist()]))
    table.add(dup_row)  # the duplicate two racing writers can leave
    table.update(where="doc_id = 'stale'", values={"fingerprint": "old"})
    table.delete("chunk_id = 'gap#1'")
    table.delete("doc_id = 'lost'")  # checkpointed, yet its chunks are gone
    orphan = DocChunks("orphan", "f9", "/s/orphan", "txt", (Chunk(0, "x", None, None, ()),))
    table.add(rows_for([orphan], np.ones((1, DIM), np.float32), table.schema, "r"))

    report = verify(dest.store, dest.state, dest.checkpoints, source_docs=[ref("ok"), ref("dup"), ref("stale"), ref("gap"), ref("new")])
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

    requeued = repair(dest.store, dest.checkpoints, report)
    assert requeued == ["dup", "gap", "lost", "orphan", "stale"]
    remaining = {r["doc_id"] for r in table.to_arrow().to_pylist()}
    assert remaining == {"ok"}
    assert dest.checkpoints.finished([ref(d) for d in requeued]) == set()
    assert dest.checkpoints.finished([ref("ok")]) == {"ok"}


def _newest_manifest(table_dir):
    from docflow.adapters.stores.lancedb.damage import _manifest_version

    return max(table_dir.glob("_versions/*.manifest"), key=_manifest_version)


def test_a_corrupt_newest_manifest_is_explained_with_the_way_back(tmp_path):
    from docflow.core.verify import explain

    dest, table = build(tmp_path, {"a.txt": 2, "b.txt": 1})
    good_version = table.version
    dest.store.delete_documents(["b.txt"])  # a newer version, which then gets corrupted
    newest = _newest_manifest(tmp_path / "db" / "chunks.lance")
    newest.write_bytes(b"not a manifest")

    try:
        LanceStore(target_in(tmp_path)).open()
        raise AssertionError("a corrupt manifest opened")
    except Exception as exc:  # noqa: BLE001 - what LanceDB raises is the input here
        error = explain(exc, dest.store, "flow")
    assert error.error_class.value == "system" and "lance error" in error.message
    assert f"version {good_version + 1} cannot be read" in error.message, error.message
    assert f"mv '{newest}' '{newest}.corrupt'" in error.message and f"version {good_version} current" in error.message

    newest.rename(f"{newest}.corrupt")  # what the message says to do
    restored = LanceStore(target_in(tmp_path)).open()
    assert restored.version == good_version and restored.count_rows() == 3


def test_a_zeroed_newest_manifest_that_reads_as_an_empty_table_is_refused(tmp_path):
    """LanceDB opens a manifest of zero bytes as version 0 with no rows, silently."""
    import pytest

    from docflow.core.errors import StoreFault
    from docflow.core.verify import ensure_readable

    dest = build(tmp_path, {"a.txt": 2})[0]
    ensure_readable(dest.store)
    newest = _newest_manifest(tmp_path / "db" / "chunks.lance")
    newest.write_bytes(b"\0" * 16)
    assert LanceStore(target_in(tmp_path)).count() == 0  # the silent part
    with pytest.raises(StoreFault, match=r"table chunks: version \d+ cannot be read \(it reads as version 0"):
        ensure_readable(dest.store)
