"""A batch killed between its ledger commit and its checkpoints: the next run proves which
documents are finished from the real table, and redoes every one it cannot prove."""

from pathlib import Path

import pytest

from docflow.adapters.checkpoints import checkpoint
from docflow.adapters.checkpoints.checkpoint import PrefectCheckpoints
from docflow.adapters.stores.lancedb import database
from docflow.adapters.stores.lancedb.ledger import LanceState
from docflow.adapters.stores.lancedb.store import LanceStore
from docflow.core import resume
from docflow.adapters.parsers import parse as parse_module
from docflow.core.discover import discover
from tests.sources import SOURCES
from docflow.core.process import process_batch
from tests import docbuilders as b
from tests.stores import to


@pytest.fixture(autouse=True, params=["per-record", "listed"])
def skip_decision(request, monkeypatch):
    """Every proof below holds whether the checkpoints are read one by one or listed."""
    if request.param == "listed":
        monkeypatch.setattr(resume, "LIST_ABOVE", 0)


class Killed(BaseException):
    """Stands for SIGKILL: nothing in the batch catches it, so no later write happens."""


def crash(*args, **kwargs):
    raise Killed


def killed_before(monkeypatch, module, name: str, run) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(module, name, crash)
        with pytest.raises(Killed):
            run()


def checkpointed(ctx, docs) -> set[str]:
    return to(ctx).checkpoints.finished(docs)


def restore(ctx, docs, write: bool = True) -> set[str]:
    dest = to(ctx)
    return resume.finished(dest.store, dest.state, dest.checkpoints, docs, write=write)


def chunk_table(ctx):
    return LanceStore(ctx.target).open()


@pytest.mark.parametrize("in_list_max", [database.IN_LIST_MAX, 0], ids=["in-list", "full-scan"])
def test_finished_documents_without_checkpoints_are_restored_not_redone(batch_setup, monkeypatch, in_list_max):
    ctx, docs = batch_setup
    monkeypatch.setattr(database, "IN_LIST_MAX", in_list_max)
    killed_before(monkeypatch, PrefectCheckpoints, "record", lambda: process_batch(docs, ctx, to(ctx), sleep=lambda s: None))
    assert checkpointed(ctx, docs) == set()
    version = chunk_table(ctx).version
    assert restore(ctx, docs, write=False) == {d.doc_id for d in docs}
    assert checkpointed(ctx, docs) == set()  # a dry run only answers

    assert restore(ctx, docs) == {d.doc_id for d in docs}
    assert checkpointed(ctx, docs) == {d.doc_id for d in docs}
    result = process_batch(docs, ctx, to(ctx), sleep=lambda s: None, resumed=True)
    assert result.outcomes == () and set(result.skipped_doc_ids) == {d.doc_id for d in docs}
    assert chunk_table(ctx).version == version  # nothing was written again
    key = checkpoint.checkpoint_key(ctx.generation, docs[0])
    restored = checkpoint.open_store(ctx.target.checkpoint_dir).read(key).result
    assert restored["status"] == "done" and restored["run_id"] == ctx.run_id


def test_a_document_missing_a_chunk_is_redone(batch_setup, monkeypatch):
    ctx, docs = batch_setup
    killed_before(monkeypatch, PrefectCheckpoints, "record", lambda: process_batch(docs, ctx, to(ctx), sleep=lambda s: None))
    damaged = docs[0].doc_id
    table = chunk_table(ctx)
    table.delete(f"doc_id = {database.sql_string(damaged)} AND chunk_index = 0")

    assert restore(ctx, docs) == {d.doc_id for d in docs[1:]}
    result = process_batch(docs, ctx, to(ctx), sleep=lambda s: None, resumed=True)
    assert [o.doc_id for o in result.outcomes] == [damaged]
    rows = chunk_table(ctx).to_arrow().select(["doc_id", "chunk_index"]).to_pylist()
    mine = sorted(r["chunk_index"] for r in rows if r["doc_id"] == damaged)
    assert mine == list(range(result.outcomes[0].chunk_count))


def test_chunks_of_another_version_never_pass_for_the_ledgers_version(batch_setup, monkeypatch):
    """v1 done; v2 written but killed before its ledger row; the file reverted to v1 bytes.
    The ledger still says v1 done, but the chunks are v2's: v1 must be redone."""
    ctx, docs = batch_setup
    process_batch(docs, ctx, to(ctx), sleep=lambda s: None)
    original = docs[0]
    path = Path(original.path)
    v1 = path.read_bytes()
    b.make_txt(path, topic="Rewritten", n=1)
    v2 = discover([original.root], "x" * 64, source_for=SOURCES).documents[0]
    killed_before(monkeypatch, LanceState, "upsert", lambda: process_batch([v2], ctx, to(ctx), sleep=lambda s: None))
    path.write_bytes(v1)

    assert restore(ctx, [original]) == set()
    result = process_batch([original], ctx, to(ctx), sleep=lambda s: None, resumed=True)
    assert [o.doc_id for o in result.outcomes] == [original.doc_id]
    rows = chunk_table(ctx).to_arrow().to_pylist()
    assert {r["fingerprint"] for r in rows if r["doc_id"] == original.doc_id} == {original.fingerprint}


@pytest.mark.parametrize(
    ("exc", "restored"),
    [(ValueError("garbled stream"), True), (TimeoutError("read timed out"), False)],
    ids=["parse-failure-is-final", "transient-failure-stays-open"],
)
def test_only_final_failures_are_restored(batch_setup, monkeypatch, exc, restored):
    ctx, docs = batch_setup
    bad = docs[1]
    real = parse_module.parse_document

    def parse(path, doc_type, **options):
        if path.endswith(bad.doc_id):  # the worker parses a private copy of that name
            raise exc
        return real(path, doc_type, **options)

    monkeypatch.setattr(parse_module, "parse_document", parse)
    killed_before(monkeypatch, PrefectCheckpoints, "record", lambda: process_batch(docs, ctx, to(ctx), sleep=lambda s: None))
    assert to(ctx).state.failed_doc_ids() == {bad.doc_id}

    expected = {d.doc_id for d in docs if d is not bad or restored}
    assert restore(ctx, docs) == expected


def test_nothing_to_prove_reads_nothing(batch_setup):
    ctx, docs = batch_setup
    assert restore(ctx, docs) == set()  # fresh, empty tables
    process_batch(docs, ctx, to(ctx), sleep=lambda s: None)
    dest = to(ctx)
    assert resume.restore(dest.store, dest.state, dest.checkpoints, {}) == set()
