"""The store contract: every registered store, real on disk, keeps the same promises to the
pipeline (docflow/ports/store.py, docflow/ports/state.py)."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from docflow.core.errors import DocflowError
from docflow.core.models import DocOutcome, DocRef, DocStatus, ErrorClass, LedgerEntry
from docflow.ports.state import ExportRecord, State
from docflow.ports.store import Capability, VectorStore, require
from tests import storesupport as s


@pytest.fixture(params=s.STORES)
def kind(request):
    return request.param


@pytest.fixture
def opened(tmp_path, kind):
    return s.opened(tmp_path, kind)


@pytest.fixture
def store(opened):
    store, _ = opened
    store.ensure(s.DIM, {"model_name": "m"})
    return store


def test_a_new_store_is_empty_until_ensured_and_keeps_its_generation(tmp_path, kind):
    store, state = s.opened(tmp_path, kind)
    assert isinstance(store, VectorStore) and isinstance(state, State) and store.kind == kind
    assert store.info() is None and store.count() == 0 and store.read_columns(["doc_id"]) == []
    first = store.ensure(s.DIM, {"model_name": "m"})
    assert first.dim == s.DIM and first.pipeline == {"model_name": "m"} and first.generation
    again = store.ensure(8, {"model_name": "other"})  # an existing table is returned as it is
    assert again == first == store.info()


def test_replace_is_exact_per_document_and_leaves_others_alone(store):
    s.write(store, [s.doc("a", 3), s.doc("b", 2), s.doc("c", 1)])
    s.write(store, [s.doc("a", 1, "f2"), s.doc("c", 3, "f2")])  # a shrank, c grew
    assert s.keys(store) == [("a", 0, "f2"), ("b", 0, "f1"), ("b", 1, "f1"),
                             ("c", 0, "f2"), ("c", 1, "f2"), ("c", 2, "f2")]
    s.write(store, [], doc_ids=["b"])  # b has no chunks any more
    assert [k for k in s.keys(store) if k[0] == "b"] == []
    s.write(store, [s.doc("a", 1, "f2")])  # the same version again: nothing doubles
    assert s.keys(store).count(("a", 0, "f2")) == 1 and store.count() == 4


def test_awkward_doc_ids_are_replaced_and_deleted(store):
    odd = ["it's.txt", "new\nline.md", "-dash.txt", "ünïcode ✓.txt", 'quote".md', "a#1@f1"]
    s.write(store, [s.doc(d, 2) for d in odd] + [s.doc("plain", 1)])
    s.write(store, [s.doc(d, 1, "f2") for d in odd])
    assert s.keys(store) == sorted([(d, 0, "f2") for d in odd] + [("plain", 0, "f1")])
    assert store.delete_documents(odd) == len(odd)
    assert s.keys(store) == [("plain", 0, "f1")]
    assert store.delete_documents(["never-there"]) == 0 and store.delete_documents([]) == 0


def test_read_columns_projects_every_field_and_filters_by_document(store):
    s.write(store, [s.doc("a", 2, page=3), s.doc("b", 1)], run_id="r1")
    columns = ["chunk_id", "doc_id", "chunk_index", "text", "fingerprint", "source_path", "doc_type",
               "page", "title", "element_types", "run_id"]
    rows = sorted(store.read_columns(columns), key=lambda r: r["chunk_id"])
    assert rows == [
        {"chunk_id": "a#0", "doc_id": "a", "chunk_index": 0, "text": "a chunk 0 of f1", "fingerprint": "f1",
         "source_path": "/src/a", "doc_type": "txt", "page": 3, "title": None, "element_types": [], "run_id": "r1"},
        {"chunk_id": "a#1", "doc_id": "a", "chunk_index": 1, "text": "a chunk 1 of f1", "fingerprint": "f1",
         "source_path": "/src/a", "doc_type": "txt", "page": 3, "title": "Title 1",
         "element_types": ["NarrativeText"], "run_id": "r1"},
        {"chunk_id": "b#0", "doc_id": "b", "chunk_index": 0, "text": "b chunk 0 of f1", "fingerprint": "f1",
         "source_path": "/src/b", "doc_type": "txt", "page": None, "title": None, "element_types": [], "run_id": "r1"},
    ]
    assert sorted(r["chunk_index"] for r in store.read_columns(["doc_id", "chunk_index"], ["a", "zz"])) == [0, 1]
    assert store.read_columns(["doc_id"], []) == []
    assert store.count() == 3


def test_search_ranks_by_cosine_distance(store):
    docs = [s.doc("near", 1), s.doc("middle", 1), s.doc("far", 1)]
    query = np.array([1, 0, 0, 0], dtype=np.float32)
    vectors = np.array([[3, 0.1, 0, 0], [1, 1, 0, 0], [-1, 0.2, 0, 0]], dtype=np.float32)  # lengths differ
    store.replace_documents([d.doc_id for d in docs], docs, vectors, "run")
    hits = store.search(query, k=2)
    assert [h.doc_id for h in hits] == ["near", "middle"]
    expected = [1 - float(v @ query) / float(np.linalg.norm(v)) for v in vectors[:2]]
    assert [h.distance for h in hits] == pytest.approx(expected, abs=1e-4)
    assert hits[0].text == "near chunk 0 of f1" and hits[0].source_path == "/src/near"
    assert [h.doc_id for h in store.search(query, k=10)] == ["near", "middle", "far"]


def test_a_reopened_store_sees_the_same_table(tmp_path, kind):
    store, _ = s.opened(tmp_path, kind)
    info = store.ensure(s.DIM, {"model_name": "m"})
    s.write(store, [s.doc("a", 2)])
    del store
    again, _ = s.opened(tmp_path, kind)
    assert again.info() == info and s.keys(again) == [("a", 0, "f1"), ("a", 1, "f1")]


def test_vectors_of_another_dimension_are_refused_and_nothing_is_written(store):
    s.write(store, [s.doc("a", 1)])
    wrong = [s.doc("a", 2, "f2")]
    with pytest.raises(Exception):  # noqa: B017 - each store has its own error for it
        store.replace_documents(["a"], wrong, np.ones((2, s.DIM + 1), dtype=np.float32), "run")
    assert s.keys(store) == [("a", 0, "f1")]


def test_a_fresh_store_refuses_the_wrong_dimension_at_its_first_write(store):
    wrong = [s.doc("a", 1)]
    with pytest.raises(Exception):  # noqa: B017
        store.replace_documents(["a"], wrong, np.ones((1, s.DIM * 2), dtype=np.float32), "run")
    assert store.count() == 0


def test_capabilities_are_declared_and_a_missing_one_refuses_clearly(store, kind):
    if kind == "lancedb":
        assert {Capability.ATOMIC_REPLACE, Capability.PINNED_VERSIONS} <= store.capabilities
        return
    assert Capability.PINNED_VERSIONS not in store.capabilities
    with pytest.raises(DocflowError, match="export needs a store with pinned-versions; the chroma store"):
        require(store, Capability.PINNED_VERSIONS, "export")


def ref(doc_id: str, fingerprint: str = "f1") -> DocRef:
    return DocRef(doc_id, f"/src/{doc_id}", "/src", 10, 111, "sha-" + doc_id, fingerprint, "txt",
                  ctime_ns=222, inode=333, observed_ns=444)


def done(doc_id: str, chunks: int = 2, fingerprint: str = "f1") -> LedgerEntry:
    return LedgerEntry(ref(doc_id, fingerprint), DocOutcome(doc_id, fingerprint, DocStatus.DONE, chunk_count=chunks))


def failed(doc_id: str) -> LedgerEntry:
    return LedgerEntry(ref(doc_id), DocOutcome(doc_id, "f1", DocStatus.FAILED, attempts=2, stage="parse",
                                               error_class=ErrorClass.PARSE, error_message="corrupt"))


def test_the_ledger_upserts_by_document_and_answers_every_question(opened):
    _, state = opened
    assert not state.exists() and state.status_counts() == {"done": 0, "failed": 0}
    assert state.rows(["doc_id"]).num_rows == 0 and state.outcomes() == {}
    state.ensure()
    assert state.exists()
    state.upsert([done("a"), done("b"), failed("c")], "run-1")
    state.upsert([done("b", 5, "f2")], "run-2")
    assert s.fingerprints(state) == {"a": "f1", "b": "f2", "c": "f1"}
    assert state.failed_doc_ids() == {"c"} and state.status_counts() == {"done": 2, "failed": 1}
    assert state.failures() == [{"doc_id": "c", "status": "failed", "stage": "parse", "error_class": "parse",
                                 "error_message": "corrupt", "attempts": 2, "run_id": "run-1"}]
    outcomes = state.outcomes(["b", "c", "zz"])
    assert set(outcomes) == {"b", "c"} and outcomes["b"].run_id == "run-2"
    assert outcomes["b"].outcome.chunk_count == 5 and outcomes["c"].outcome.error_class is ErrorClass.PARSE
    assert set(state.outcomes()) == {"a", "b", "c"}
    rows = state.rows()
    assert rows.schema.field("updated_at").type.tz == "UTC" and rows.num_rows == 3
    assert state.recorded_versions().get("a").stat.inode == 333

    touched = DocRef("a", "/src/a", "/src", 10, 999, "", "", "", ctime_ns=998, inode=997, observed_ns=996)
    state.refresh_versions([touched, DocRef("unknown", "", "", 0, 1, "", "", "")])
    recorded = state.recorded_versions().get("a")
    assert (recorded.stat.mtime_ns, recorded.stat.inode, recorded.content_sha256) == (999, 997, "sha-a")
    assert state.recorded_versions().get("unknown") is None  # a refresh never adds a document

    assert state.delete_documents(["a", "c", "zz"]) == 2
    assert set(s.fingerprints(state)) == {"b"}


def test_runs_and_exports_are_histories_newest_first(opened):
    _, state = opened
    state.ensure()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(3):
        state.record_run(f"run-{i}", f"flow-{i}", start + timedelta(hours=i), "completed", {"n": i})
    state.record_run("run-1", "flow-1", start + timedelta(hours=1), "failed", {"n": 10})  # the same run ends again
    runs = state.recent_runs(limit=2)
    assert [r["run_id"] for r in runs] == ["run-2", "run-1"] and runs[1]["outcome"] == "failed"
    assert runs[0]["started_at"] == start + timedelta(hours=2) and '"n": 10' in runs[1]["summary_json"]
    assert state.export_history() == []
    record = ExportRecord("e1", start, 1.5, "chunks", 7, "/out", "parquet", 10, 2, 0)
    state.record_export(record)
    assert state.export_history() == [{**record.__dict__}]


def test_sigkill_inside_a_write_then_a_rerun_leaves_the_table_exact(tmp_path, kind):
    """v1 of four documents is ingested; two change (one shrinks, one grows) and the process
    writing v2 is SIGKILLed right after the store made the new chunks durable; the rerun of the
    pipeline leaves exactly v2, and the unchanged documents are not redone."""
    from tests import docbuilders as b

    source = tmp_path / "src"
    source.mkdir()
    b.make_md(source / "shrinks.md", topic="First", n=6)
    b.make_md(source / "grows.md", topic="Second", n=1)
    b.make_txt(source / "same-1.txt", topic="Third")
    b.make_md(source / "same-2.md", topic="Fourth", n=3)
    first, _ = s.run_batch(tmp_path, kind, source, "run-1")
    assert {o.status.value for o in first.outcomes} == {"done"}
    store, state = s.opened(tmp_path, kind)
    v1 = s.fingerprints(state)

    b.make_md(source / "shrinks.md", topic="First again", n=1)
    b.make_md(source / "grows.md", topic="Second again", n=6)
    killed = s.killed_batch(tmp_path, kind, source)
    assert killed.returncode == -9, killed.stderr[-3000:]
    assert s.fingerprints(state) == v1  # the kill came before any ledger row of v2
    assert s.exactness_problems(store, state), "the kill left nothing to repair: it missed the write"
    fingerprints = {r["fingerprint"] for r in store.read_columns(["doc_id", "fingerprint"], ["grows.md"])}
    assert len(fingerprints) == (2 if kind == "chroma" else 1)  # chroma: v2 written, v1 not yet deleted

    rerun, docs = s.run_batch(tmp_path, kind, source, "run-3", resumed=True)
    assert sorted(o.doc_id for o in rerun.outcomes) == ["grows.md", "shrinks.md"]
    assert s.exactness_problems(store, state) == []
    assert s.fingerprints(state) == {d.doc_id: d.fingerprint for d in docs}
    runs = {doc_id: r.run_id for doc_id, r in state.outcomes().items()}
    assert runs == {"shrinks.md": "run-3", "grows.md": "run-3", "same-1.txt": "run-1", "same-2.md": "run-1"}
    chunks = {o.doc_id: o.chunk_count for o in (*first.outcomes, *rerun.outcomes)}  # rerun's win
    assert chunks["grows.md"] > chunks["shrinks.md"] and store.count() == sum(chunks.values())
