"""process_batch as a plain function: real parsing, the real model, a real LanceDB table,
with failures injected into the parse stage to check each class's policy per document."""

import errno

import numpy as np
import pytest

from docflow.core.models import DocStatus, ErrorClass
from docflow.core import resume
from docflow.core import verify
from docflow.adapters.parsers import parse as parse_module
from docflow.core.discover import discover
from tests.sources import SOURCES
from docflow.core.errors import DocflowSystemError
from docflow.core.process import process_batch
from tests import docbuilders as b
from tests import stores
from tests.s3server import BUCKET, moto_s3
from tests.stores import to


def chunk_rows(ctx):
    return stores.chunk_rows(ctx.target)


def ledger_rows(ctx):
    return stores.ledger_rows(ctx.target)


def inject(monkeypatch, failing_doc: str, exc: BaseException, times: int):
    real = parse_module.parse_document
    calls = {"n": 0}

    def parse(path, doc_type, **options):
        if path.endswith(failing_doc):
            calls["n"] += 1
            if calls["n"] <= times:
                raise exc
        return real(path, doc_type, **options)

    monkeypatch.setattr(parse_module, "parse_document", parse)
    return calls


def test_a_batch_writes_chunks_ledger_and_checkpoints(batch_setup):
    ctx, docs = batch_setup
    result = process_batch(docs, ctx, to(ctx), sleep=lambda s: None)
    assert [o.status for o in result.outcomes] == [DocStatus.DONE] * 4
    rows = chunk_rows(ctx)
    assert len(rows) == len(set(rows)) == sum(o.chunk_count for o in result.outcomes)
    assert {r[0] for r in rows} == {d.doc_id for d in docs}
    assert all(r["status"] == "done" for r in ledger_rows(ctx).values())
    assert to(ctx).checkpoints.finished(docs) == {d.doc_id for d in docs}
    again = process_batch(docs, ctx, to(ctx), sleep=lambda s: None)
    assert again.outcomes == () and set(again.skipped_doc_ids) == {d.doc_id for d in docs}


@pytest.mark.parametrize(
    ("exc", "error_class", "attempts", "final"),
    [
        (TimeoutError("read timed out"), ErrorClass.TRANSIENT, 4, False),
        (FileNotFoundError(errno.ENOENT, "gone"), ErrorClass.MISSING, 1, True),
        (MemoryError(), ErrorClass.RESOURCE, 6, False),
        (ValueError("garbled stream"), ErrorClass.PARSE, 2, True),
    ],
)
def test_each_failure_class_follows_its_policy_and_spares_the_others(
    batch_setup, monkeypatch, exc, error_class, attempts, final
):
    ctx, docs = batch_setup
    bad = docs[1]
    calls = inject(monkeypatch, bad.doc_id, exc, times=100)
    result = process_batch(docs, ctx, to(ctx), sleep=lambda s: None)
    by_id = {o.doc_id: o for o in result.outcomes}
    assert calls["n"] == attempts
    assert by_id[bad.doc_id].status is DocStatus.FAILED
    assert by_id[bad.doc_id].error_class is error_class
    assert by_id[bad.doc_id].attempts == attempts
    assert all(o.status is DocStatus.DONE for d, o in by_id.items() if d != bad.doc_id)
    assert bad.doc_id not in {r[0] for r in chunk_rows(ctx)}
    entry = ledger_rows(ctx)[bad.doc_id]
    assert (entry["status"], entry["error_class"], entry["attempts"]) == ("failed", error_class.value, attempts)
    assert (bad.doc_id in to(ctx).checkpoints.finished(docs)) is final


def test_a_transient_failure_that_recovers_is_a_success_with_its_attempts(batch_setup, monkeypatch):
    ctx, docs = batch_setup
    inject(monkeypatch, docs[0].doc_id, ConnectionResetError("reset"), times=2)
    outcome = process_batch(docs, ctx, to(ctx), sleep=lambda s: None).outcomes[0]
    assert outcome.status is DocStatus.DONE and outcome.attempts == 3


def test_a_system_error_stops_the_batch_without_recording_a_fake_success(batch_setup, monkeypatch):
    ctx, docs = batch_setup
    inject(monkeypatch, docs[2].doc_id, OSError(errno.ENOSPC, "No space left on device"), times=1)
    with pytest.raises(DocflowSystemError, match="No space left"):
        process_batch(docs, ctx, to(ctx), sleep=lambda s: None)
    assert to(ctx).checkpoints.finished(docs) == set()
    assert to(ctx).state.status_counts() == {"done": 0, "failed": 0}


def test_a_changed_document_replaces_its_chunks_exactly(batch_setup, tmp_path):
    ctx, docs = batch_setup
    process_batch(docs, ctx, to(ctx), sleep=lambda s: None)
    target_doc = docs[0]
    b.make_txt(__import__("pathlib").Path(target_doc.path), topic="Rewritten", n=1)
    fresh = discover([target_doc.root], "x" * 64, source_for=SOURCES).documents[0]
    assert fresh.fingerprint != target_doc.fingerprint
    process_batch([fresh], ctx, to(ctx), sleep=lambda s: None)
    rows = chunk_rows(ctx)
    assert len(rows) == len(set(rows))
    mine = [r for r in stores.chunk_rows(ctx.target, ("doc_id", "fingerprint", "text")) if r["doc_id"] == fresh.doc_id]
    assert mine and all(r["fingerprint"] == fresh.fingerprint for r in mine)
    assert all("Rewritten" in r["text"] or "rewritten" in r["text"] for r in mine)
    # The old version's checkpoint is gone: reverting the file's bytes redoes it.
    assert to(ctx).checkpoints.finished([target_doc]) == set()


def _texts(ctx, doc_id: str) -> str:
    return " ".join(r["text"] for r in stores.chunk_rows(ctx.target, ("doc_id", "text")) if r["doc_id"] == doc_id)


def _change_during_run_then_revert(ctx, discover_doc, write) -> None:
    """The issue's sequence, deterministic: bytes A are discovered, B is written before the
    worker reads the document (exactly the window between the flow's discovery and a batch's
    parse), then A is restored and the next run discovers A again."""
    write(b"Revision notes\n\nThis revision carries the marker UNIQUE-REV-A for the test.\n")
    a = discover_doc()
    write(b"Revision notes\n\nThis revision carries the marker UNIQUE-REV-B for the test.\n")
    (outcome,) = process_batch([a], ctx, to(ctx), sleep=lambda s: None).outcomes
    assert outcome.status is DocStatus.DONE
    assert outcome.fingerprint != a.fingerprint, "B's chunks recorded under A's fingerprint"
    assert "UNIQUE-REV-B" in _texts(ctx, a.doc_id)

    write(b"Revision notes\n\nThis revision carries the marker UNIQUE-REV-A for the test.\n")
    reverted = discover_doc()
    assert reverted.fingerprint == a.fingerprint
    dest = to(ctx)
    report = verify.verify(dest.store, dest.state, dest.checkpoints, source_docs=[reverted])
    assert report.problems["changed_in_source"] == [a.doc_id], report.as_dict()
    assert resume.finished(dest.store, dest.state, dest.checkpoints, [reverted]) == set()

    process_batch([reverted], ctx, to(ctx), sleep=lambda s: None)
    texts = _texts(ctx, a.doc_id)
    assert "UNIQUE-REV-A" in texts and "UNIQUE-REV-B" not in texts
    assert verify.verify(dest.store, dest.state, dest.checkpoints, source_docs=[reverted]).consistent
    assert resume.finished(dest.store, dest.state, dest.checkpoints, [reverted]) == {a.doc_id}


def test_a_local_file_changed_after_discovery_is_recorded_as_parsed(batch_setup, tmp_path):
    ctx, _ = batch_setup
    source = tmp_path / "changing"
    source.mkdir()
    path = source / "doc025.md"
    _change_during_run_then_revert(
        ctx,
        lambda: discover([str(source)], ctx.pipeline_fingerprint, source_for=SOURCES).documents[0],
        path.write_bytes,
    )


def test_an_s3_object_changed_after_discovery_is_recorded_as_parsed(batch_setup, monkeypatch):
    ctx, _ = batch_setup
    with moto_s3() as env:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        import boto3

        client = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name=env["AWS_REGION"])
        _change_during_run_then_revert(
            ctx,
            lambda: discover([f"s3://{BUCKET}/changing"], ctx.pipeline_fingerprint, source_for=SOURCES).documents[0],
            lambda data: client.put_object(Bucket=BUCKET, Key="changing/doc025.md", Body=data),
        )


@pytest.mark.parametrize("carry", [False, True])
def test_with_carried_titles_the_model_reads_a_chunk_under_its_section_title_and_the_text_stays_its_own(tmp_path, carry):
    from docflow.core.chunk import chunk_elements, embedded_texts
    from tests.storesupport import pipeline_context

    src = tmp_path / "src"
    src.mkdir()
    section = " ".join(f"Sentence {i} about the retry policy of failed batches." for i in range(12))
    (src / "a.md").write_text(f"# Retries\n\n{section}\n", encoding="utf-8")
    ctx, fingerprint = pipeline_context(tmp_path, "lancedb", "run", chunk_carry_title=carry,
                                        chunk_max_characters=300, chunk_new_after_n_chars=250)
    docs = discover([str(src)], fingerprint, source_for=SOURCES).documents
    assert process_batch(docs, ctx, to(ctx), sleep=lambda s: None).outcomes[0].status is DocStatus.DONE

    rows = sorted(stores.chunk_rows(ctx.target, ("chunk_index", "text", "vector")), key=lambda r: r["chunk_index"])
    chunks = chunk_elements(parse_module.parse_document(str(src / "a.md"), "md"), ctx.chunking)
    assert [r["text"] for r in rows] == [c.text for c in chunks], "the stored text is the chunk's own"
    untitled = [i for i, c in enumerate(chunks) if not c.text.startswith("Retries")]
    assert untitled, "the section should span several chunks"
    read = embedded_texts(chunks, carry)
    assert all(read[i].startswith("Retries\n") is carry for i in untitled)
    expected = ctx.embedder.encode(read)  # the table's backend, one call over all texts
    for row, vector in zip(rows, expected):
        assert float(np.asarray(row["vector"]) @ vector) > 0.999, "the vector is of the text the model read"
