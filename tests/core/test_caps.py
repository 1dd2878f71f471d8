"""Per-document caps past the parser, and a parse time cap that grows with the document.

The batch test is the issue's 50 MB single-line HTML in the same shape at a smaller size, with
the caps lowered to match: the document fails alone, classified, with its numbers and the
setting to raise, before anything of it is embedded, and the rest of its batch lands."""

from types import SimpleNamespace

import pytest

from docflow.core.models import DocStatus, ErrorClass
from docflow.core.settings import DocflowSettings
from flows.pipeline import batch_context, build_pipeline, open_target
from docflow.core import caps
from docflow.core.discover import discover
from tests.sources import SOURCES
from docflow.core.errors import ParseError
from docflow.core.process import process_batch
from docflow.core.retry import RetryPolicies
from tests import docbuilders as b
from tests.flows.support import assert_exact, ledger
from tests.stores import to


def test_the_parse_time_cap_grows_with_the_document():
    assert caps.parse_timeout(120, 10, 0) == 120
    assert caps.parse_timeout(120, 10, 20 << 20) == 320
    assert caps.parse_timeout(0, 10, 20 << 20) == 0  # the cap stays off


def test_text_and_chunk_caps_name_the_numbers_and_the_setting():
    elements = [SimpleNamespace(text="x" * 600), SimpleNamespace(text="y" * 500), SimpleNamespace(text=None)]
    caps.check_text(elements, 1100)
    caps.check_text(elements, 0)
    with pytest.raises(ParseError, match=r"1,100 characters of text, over the cap of 1,000 .*DOCFLOW_MAX_TEXT_CHARS"):
        caps.check_text(elements, 1000)
    caps.check_chunks(20, 20)
    with pytest.raises(ParseError, match=r"21 chunks, over the cap of 20 .*DOCFLOW_MAX_CHUNKS"):
        caps.check_chunks(21, 20)


def _one_line_html(path, paragraphs: int) -> None:
    """Many paragraphs, no newline: parses quickly and brings a lot of text."""
    paragraph = "<p>" + " ".join(f"word{i}" for i in range(12)) + ".</p>"
    path.write_text("<html><body>" + paragraph * paragraphs + "</body></html>")


def test_an_oversized_document_fails_alone_and_its_batch_lands(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    _one_line_html(src / "one-line.html", 10_000)  # 1 MB on one line, 0.8 MB of text
    b.make_txt(src / "long.txt", topic="Long", n=60)  # within the text cap, over the chunk cap
    good = [b.make_txt(src / "a.txt", topic="Alpha"), b.make_md(src / "b.md", topic="Beta")]
    settings = DocflowSettings(db=str(tmp_path / "db"), home=tmp_path / "home", max_text_chars=100_000,
                               max_chunks=5, parse_timeout_s=60, parse_memory_mb=1024)
    pipeline = build_pipeline(settings)
    target, generation = open_target(settings, pipeline)
    docs = list(discover([str(src)], pipeline.config.fingerprint(), source_for=SOURCES).documents)
    assert len(docs) == 4
    ctx = batch_context(target, generation, pipeline, settings, RetryPolicies(), "caps")

    outcomes = {o.doc_id: o for o in process_batch(docs, ctx, to(ctx), sleep=lambda s: None).outcomes}

    big, long = outcomes["one-line.html"], outcomes["long.txt"]
    assert (big.status, big.error_class) == (DocStatus.FAILED, ErrorClass.PARSE)
    assert "over the cap of 100,000" in big.error_message and "DOCFLOW_MAX_TEXT_CHARS" in big.error_message
    assert (long.status, long.error_class) == (DocStatus.FAILED, ErrorClass.PARSE)
    assert "over the cap of 5" in long.error_message and "DOCFLOW_MAX_CHUNKS" in long.error_message
    assert big.final and long.final  # not retried by every run: final until the file or the cap changes
    assert_exact(tmp_path / "db", {p.name for p in good})
    assert {d: e["status"] for d, e in ledger(tmp_path / "db").items()} == {
        "one-line.html": "failed", "long.txt": "failed", "a.txt": "done", "b.md": "done",
    }
