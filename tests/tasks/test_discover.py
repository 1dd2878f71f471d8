import os

import pytest

from docflow.models import ErrorClass
from tasks.discover import SourceError, discover, is_ignored_name
from tests.docbuilders import make_md, make_txt

PIPELINE = "p" * 64


def ids(discovery):
    return [d.doc_id for d in discovery.documents]


def test_doc_ids_are_paths_relative_to_the_root(tmp_path):
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    make_txt(tmp_path / "a.txt")
    make_md(tmp_path / "sub" / "deeper" / "b.md")
    found = discover([str(tmp_path)], PIPELINE)
    assert ids(found) == ["a.txt", "sub/deeper/b.md"]
    assert {d.doc_type for d in found.documents} == {"txt", "md"}


def test_fingerprint_ignores_mtime_but_follows_bytes_and_pipeline(tmp_path):
    doc = make_txt(tmp_path / "a.txt")
    first = discover([str(tmp_path)], PIPELINE).documents[0]
    os.utime(doc, ns=(1, 1))
    assert discover([str(tmp_path)], PIPELINE).documents[0].fingerprint == first.fingerprint
    assert discover([str(tmp_path)], "q" * 64).documents[0].fingerprint != first.fingerprint
    doc.write_text("new bytes")
    assert discover([str(tmp_path)], PIPELINE).documents[0].fingerprint != first.fingerprint


def test_hidden_temp_and_unsupported_files_are_ignored(tmp_path):
    make_txt(tmp_path / "keep.txt")
    make_txt(tmp_path / ".hidden.txt")
    make_txt(tmp_path / "draft.txt~")
    make_txt(tmp_path / "~$lock.txt")
    (tmp_path / ".git").mkdir()
    make_txt(tmp_path / ".git" / "inside.txt")
    (tmp_path / "archive.zip").write_bytes(b"PK\x05\x06" + bytes(18))
    found = discover([str(tmp_path)], PIPELINE)
    assert ids(found) == ["keep.txt"]
    assert found.ignored == 1  # the zip; hidden names never count as documents
    assert is_ignored_name(".DS_Store") and not is_ignored_name("report.pdf")


def test_include_and_exclude_patterns_match_doc_ids(tmp_path):
    (tmp_path / "drafts").mkdir()
    make_txt(tmp_path / "a.txt")
    make_md(tmp_path / "b.md")
    make_txt(tmp_path / "drafts" / "c.txt")
    found = discover([str(tmp_path)], PIPELINE, include=["*.txt"], exclude=["drafts/*"])
    assert ids(found) == ["a.txt"]
    assert found.ignored_by_reason == {"not_included": 1, "excluded": 1}


def test_every_ignored_file_is_counted_by_reason_and_unknown_extension(tmp_path):
    make_txt(tmp_path / "a.txt")
    for name in ("one.zip", "two.zip", "data.sqlite", "Makefile", "skip.log"):
        (tmp_path / name).write_bytes(b"not a document")
    found = discover([str(tmp_path)], PIPELINE, exclude=["*.log"])
    assert ids(found) == ["a.txt"]
    assert found.ignored_by_reason == {"unknown_extension": 4, "excluded": 1}
    assert found.ignored_by_extension == {".zip": 2, ".sqlite": 1, "(none)": 1}
    assert found.ignored == 5


@pytest.mark.parametrize(
    "name, doc_type",
    [("scan.PNG", "png"), ("photo.jpeg", "jpg"), ("fax.tif", "tiff"), ("budget.xlsx", "xlsx"),
     ("old.xls", "xls"), ("notes.odt", "odt"), ("memo.rtf", "rtf"), ("book.epub", "epub"),
     ("todo.org", "org"), ("guide.rst", "rst"), ("mail.msg", "msg"), ("feed.xml", "xml"),
     ("table.tsv", "tsv"), ("letter.doc", "doc"), ("deck.ppt", "ppt"), ("shot.heic", "heic")],
)
def test_the_new_formats_are_documents_of_their_type(tmp_path, name, doc_type):
    (tmp_path / name).write_bytes(b"placeholder bytes, parsed later")
    (found,) = discover([str(tmp_path)], PIPELINE).documents
    assert found.doc_type == doc_type


def test_content_that_contradicts_the_extension_is_reported_not_guessed(tmp_path):
    from tests.docbuilders import make_image, make_pdf

    make_image(tmp_path / "real.png")
    os.rename(tmp_path / "real.png", tmp_path / "report.pdf")
    make_pdf(tmp_path / "notes.txt")
    make_txt(tmp_path / "plain.txt")
    found = discover([str(tmp_path)], PIPELINE)
    assert ids(found) == ["plain.txt"]
    problems = {p.doc_id: p for p in found.problems}
    assert set(problems) == {"report.pdf", "notes.txt"}
    assert all(p.error_class is ErrorClass.PARSE for p in problems.values())
    assert "image/png" in problems["report.pdf"].message and ".pdf" in problems["report.pdf"].message
    assert "application/pdf" in problems["notes.txt"].message


def test_symlinks_never_lead_outside_the_root(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    make_txt(outside / "secret.txt")
    make_txt(root / "inside.txt")
    (root / "escape.txt").symlink_to(outside / "secret.txt")
    (root / "dirlink").symlink_to(outside, target_is_directory=True)
    (root / "loop.txt").symlink_to(root / "loop.txt")
    (root / "alias.txt").symlink_to(root / "inside.txt")
    found = discover([str(root)], PIPELINE)
    assert ids(found) == ["alias.txt", "inside.txt"]
    problems = {p.doc_id: p for p in found.problems}
    assert problems["escape.txt"].message.startswith("symlink points outside")
    assert "loop" in problems["loop.txt"].message or "symlink" in problems["loop.txt"].message
    assert all(p.error_class is ErrorClass.MISSING for p in found.problems)


def test_a_single_file_and_a_glob_are_sources_too(tmp_path):
    (tmp_path / "sub").mkdir()
    make_txt(tmp_path / "sub" / "a.txt")
    make_md(tmp_path / "sub" / "b.md")
    assert ids(discover([str(tmp_path / "sub" / "a.txt")], PIPELINE)) == ["a.txt"]
    assert ids(discover([str(tmp_path / "sub" / "*.md")], PIPELINE)) == ["b.md"]
    assert ids(discover([str(tmp_path / "**" / "*.txt")], PIPELINE)) == ["sub/a.txt"]


def test_missing_source_and_colliding_ids_are_refused(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        discover([str(tmp_path / "nope")], PIPELINE)
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    make_txt(tmp_path / "x" / "same.txt")
    make_txt(tmp_path / "y" / "same.txt")
    with pytest.raises(SourceError, match="collision"):
        discover([str(tmp_path / "x"), str(tmp_path / "y")], PIPELINE)
