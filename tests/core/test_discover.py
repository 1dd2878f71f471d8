import hashlib
import os

import pytest

from docflow.core.models import ErrorClass
from docflow.core.discover import SourceError, discover, is_ignored_name
from tests.sources import SOURCES
from tests.docbuilders import make_md, make_txt
from tests.procio import bytes_read

PIPELINE = "p" * 64


def ids(discovery):
    return [d.doc_id for d in discovery.documents]


def test_doc_ids_are_paths_relative_to_the_root(tmp_path):
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    make_txt(tmp_path / "a.txt")
    make_md(tmp_path / "sub" / "deeper" / "b.md")
    found = discover([str(tmp_path)], PIPELINE, source_for=SOURCES)
    assert ids(found) == ["a.txt", "sub/deeper/b.md"]
    assert {d.doc_type for d in found.documents} == {"txt", "md"}


def test_fingerprint_ignores_mtime_but_follows_bytes_and_pipeline(tmp_path):
    doc = make_txt(tmp_path / "a.txt")
    first = discover([str(tmp_path)], PIPELINE, source_for=SOURCES).documents[0]
    os.utime(doc, ns=(1, 1))
    assert discover([str(tmp_path)], PIPELINE, source_for=SOURCES).documents[0].fingerprint == first.fingerprint
    assert discover([str(tmp_path)], "q" * 64, source_for=SOURCES).documents[0].fingerprint != first.fingerprint
    doc.write_text("new bytes")
    assert discover([str(tmp_path)], PIPELINE, source_for=SOURCES).documents[0].fingerprint != first.fingerprint


def test_hidden_temp_and_unsupported_files_are_ignored(tmp_path):
    make_txt(tmp_path / "keep.txt")
    make_txt(tmp_path / ".hidden.txt")
    make_txt(tmp_path / "draft.txt~")
    make_txt(tmp_path / "~$lock.txt")
    (tmp_path / ".git").mkdir()
    make_txt(tmp_path / ".git" / "inside.txt")
    (tmp_path / "archive.zip").write_bytes(b"PK\x05\x06" + bytes(18))
    found = discover([str(tmp_path)], PIPELINE, source_for=SOURCES)
    assert ids(found) == ["keep.txt"]
    assert found.ignored == 1  # the zip; hidden names never count as documents
    assert is_ignored_name(".DS_Store") and not is_ignored_name("report.pdf")


def test_include_and_exclude_patterns_match_doc_ids(tmp_path):
    (tmp_path / "drafts").mkdir()
    make_txt(tmp_path / "a.txt")
    make_md(tmp_path / "b.md")
    make_txt(tmp_path / "drafts" / "c.txt")
    found = discover([str(tmp_path)], PIPELINE, include=["*.txt"], exclude=["drafts/*"], source_for=SOURCES)
    assert ids(found) == ["a.txt"]
    assert found.ignored_by_reason == {"not_included": 1, "excluded": 1}


def test_every_ignored_file_is_counted_by_reason_and_unknown_extension(tmp_path):
    make_txt(tmp_path / "a.txt")
    for name in ("one.zip", "two.zip", "data.sqlite", "Makefile", "skip.log"):
        (tmp_path / name).write_bytes(b"not a document")
    found = discover([str(tmp_path)], PIPELINE, exclude=["*.log"], source_for=SOURCES)
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
    (found,) = discover([str(tmp_path)], PIPELINE, source_for=SOURCES).documents
    assert found.doc_type == doc_type


def test_content_that_contradicts_the_extension_is_reported_not_guessed(tmp_path):
    from tests.docbuilders import make_image, make_pdf

    make_image(tmp_path / "real.png")
    os.rename(tmp_path / "real.png", tmp_path / "report.pdf")
    make_pdf(tmp_path / "notes.txt")
    make_txt(tmp_path / "plain.txt")
    found = discover([str(tmp_path)], PIPELINE, source_for=SOURCES)
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
    found = discover([str(root)], PIPELINE, source_for=SOURCES)
    assert ids(found) == ["alias.txt", "inside.txt"]
    problems = {p.doc_id: p for p in found.problems}
    assert problems["escape.txt"].message.startswith("symlink points outside")
    assert "loop" in problems["loop.txt"].message or "symlink" in problems["loop.txt"].message
    assert all(p.error_class is ErrorClass.MISSING for p in found.problems)


def test_a_single_file_and_a_glob_are_sources_too(tmp_path):
    (tmp_path / "sub").mkdir()
    make_txt(tmp_path / "sub" / "a.txt")
    make_md(tmp_path / "sub" / "b.md")
    assert ids(discover([str(tmp_path / "sub" / "a.txt")], PIPELINE, source_for=SOURCES)) == ["a.txt"]
    assert ids(discover([str(tmp_path / "sub" / "*.md")], PIPELINE, source_for=SOURCES)) == ["b.md"]
    assert ids(discover([str(tmp_path / "**" / "*.txt")], PIPELINE, source_for=SOURCES)) == ["sub/a.txt"]


def test_missing_source_and_colliding_ids_are_refused(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        discover([str(tmp_path / "nope")], PIPELINE, source_for=SOURCES)
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    make_txt(tmp_path / "x" / "same.txt")
    make_txt(tmp_path / "y" / "same.txt")
    with pytest.raises(SourceError, match="collision"):
        discover([str(tmp_path / "x"), str(tmp_path / "y")], PIPELINE, source_for=SOURCES)



def test_a_file_two_sources_list_is_one_document(tmp_path):
    make_txt(tmp_path / "a.txt")
    make_txt(tmp_path / "b.txt")
    found = discover([str(tmp_path), str(tmp_path / "a.txt"), str(tmp_path / "*.txt")], PIPELINE, source_for=SOURCES)
    assert ids(found) == ["a.txt", "b.txt"]

def recorded_for(docs, tmp_path):
    """The versions a worker records for these documents, in a real ledger table."""
    from docflow.adapters.stores import open_state
    from docflow.core.models import DocOutcome, DocStatus, LedgerEntry, Target

    state = open_state(Target(str(tmp_path / "db"), "chunks", str(tmp_path / "ckpt")))
    state.ensure()
    state.upsert([LedgerEntry(d, DocOutcome(d.doc_id, d.fingerprint, DocStatus.DONE, chunk_count=1))
                  for d in docs], "run")
    return state, state.recorded_versions()


def settle():
    """Wait until files written so far lie outside the racily-clean window of a hash taken now."""
    import time

    from docflow.core.versions import RACY_WINDOW_NS

    time.sleep(RACY_WINDOW_NS / 1e9 + 0.1)


def test_unchanged_files_are_not_read_again_and_rehash_reads_them_all(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(3):
        (src / f"big{i}.txt").write_bytes(os.urandom(4 << 20).hex().encode()[: 4 << 20])
    corpus = 3 * (4 << 20)
    settle()
    first, read = bytes_read(lambda: discover([str(src)], PIPELINE, source_for=SOURCES))
    assert read >= corpus
    _, recorded = recorded_for(first.documents, tmp_path)

    again, read = bytes_read(lambda: discover([str(src)], PIPELINE, recorded=recorded, source_for=SOURCES))
    assert read < corpus // 50, read
    assert again.documents == first.documents
    rehashed, read = bytes_read(lambda: discover([str(src)], PIPELINE, recorded=recorded, rehash=True, source_for=SOURCES))
    assert read >= corpus
    assert [d.fingerprint for d in rehashed.documents] == [d.fingerprint for d in first.documents]


def test_a_rewrite_that_keeps_the_mtime_but_not_the_size_is_hashed(tmp_path):
    doc = make_txt(tmp_path / "a.txt", topic="Before")
    settle()
    first = discover([str(tmp_path)], PIPELINE, source_for=SOURCES).documents
    _, recorded = recorded_for(first, tmp_path)
    mtime = doc.stat().st_mtime_ns
    make_txt(doc, topic="After the rewrite", n=4)
    os.utime(doc, ns=(mtime, mtime))  # as `cp -p`, rsync -t or tar restore it
    found = discover([str(tmp_path)], PIPELINE, recorded=recorded, source_for=SOURCES).documents[0]
    assert found.content_sha256 == hashlib.sha256(doc.read_bytes()).hexdigest() != first[0].content_sha256


def test_a_touch_is_hashed_once_then_its_new_stat_is_trusted(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    doc = src / "a.txt"
    doc.write_text("touch me\n" * 200_000)
    settle()
    first = discover([str(src)], PIPELINE, source_for=SOURCES).documents
    state, recorded = recorded_for(first, tmp_path)
    os.utime(doc, ns=(10**18, 10**18))
    settle()
    touched, read = bytes_read(lambda: discover([str(src)], PIPELINE, recorded=recorded, source_for=SOURCES))
    assert read >= doc.stat().st_size and touched.documents[0].fingerprint == first[0].fingerprint
    state.refresh_versions(touched.documents)
    refreshed = state.recorded_versions()
    _, read = bytes_read(lambda: discover([str(src)], PIPELINE, recorded=refreshed, source_for=SOURCES))
    assert read < doc.stat().st_size // 50


@pytest.mark.parametrize("clean", [False, True], ids=["racily-clean", "clean"])
def test_a_stat_recorded_within_the_timestamp_granularity_proves_nothing(tmp_path, clean):
    """The ledger says bytes A with exactly the file's current stat, but the file holds bytes B
    of the same size: what a rewrite within the same timestamp tick as A's hashing leaves. A
    record observed that close to the file's mtime/ctime must not be trusted; one observed
    well after it is (so the quick check, not luck, is what reads the file)."""
    from dataclasses import replace

    from docflow.core.versions import RACY_WINDOW_NS, FileStat

    doc = make_txt(tmp_path / "a.txt", topic="Bytes B")
    stat = FileStat.of(doc.stat())
    on_disk = discover([str(tmp_path)], PIPELINE, source_for=SOURCES).documents[0]
    observed = max(stat.mtime_ns, stat.ctime_ns) + (RACY_WINDOW_NS + 1 if clean else 1_000_000)
    stale = replace(on_disk, content_sha256="a" * 64, fingerprint="f" * 64, mtime_ns=stat.mtime_ns,
                    ctime_ns=stat.ctime_ns, inode=stat.inode, size=stat.size, observed_ns=observed)
    _, recorded = recorded_for([stale], tmp_path)
    found = discover([str(tmp_path)], PIPELINE, recorded=recorded, source_for=SOURCES).documents[0]
    assert found.content_sha256 == ("a" * 64 if clean else on_disk.content_sha256)
