"""Run, batch and tag names: pure functions, no Prefect API."""

from docflow.core.models import DocRef
from flows.naming import batch_name, failed_batch_name, run_name, run_tags


def doc(doc_id: str) -> DocRef:
    return DocRef(doc_id, f"/src/{doc_id}", "/src", 1, 0, "s", "f", doc_id.rsplit(".", 1)[-1])


def test_run_names_say_the_flow_table_and_sources(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    assert run_name("ingest", "chunks", [str(docs), "/x/a.pdf", "/y/*.md"], None) == "ingest chunks ← docs/ (3 paths)"
    assert run_name("sync", "handbook", ["/data/a.pdf"], None) == "sync handbook ← a.pdf"
    assert run_name("ingest", "target prod", [], "handbook-docs") == "ingest target prod ← source block handbook-docs"
    assert run_name("ingest", "t", ["s3://bucket/prefix/"], None) == "ingest t ← prefix/"


def test_batch_names_count_documents_and_name_the_first():
    assert batch_name(12, [doc("sub/a.pdf"), doc("b.md")]) == "batch 12: 2 docs, first a.pdf"
    assert batch_name(1, [doc("only.txt")]) == "batch 1: 1 doc, first only.txt"
    assert failed_batch_name("batch 3: 16 docs, first a.pdf", 2, 16) == "batch 3: 16 docs, first a.pdf; 2 of 16 failed"


def test_tags_carry_the_table_and_scheduled_only_for_scheduled_runs():
    assert run_tags(["docflow", "ingest"], "chunks", auto_scheduled=False) == ["docflow", "ingest", "table:chunks"]
    assert run_tags(["docflow", "sync", "table:old", "scheduled"], "t", auto_scheduled=True) == [
        "docflow", "sync", "table:t", "scheduled"
    ]
