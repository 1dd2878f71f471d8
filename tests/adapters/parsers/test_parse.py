import pytest

from docflow.core.errors import ParseError
from docflow.adapters.parsers.parse import parse_document
from tests import docbuilders as b


def test_every_discovered_type_has_a_parser_and_others_are_refused(tmp_path):
    from docflow.adapters.parsers import parsers_for
    from docflow.adapters.parsers.parse import UnstructuredParser
    from docflow.core.discover import SUPPORTED_TYPES
    from docflow.core.elements import OcrSettings
    from docflow.core.isolation import Limits

    parsers = parsers_for(OcrSettings())
    assert all(isinstance(parsers(t), UnstructuredParser) for t in set(SUPPORTED_TYPES.values()))
    with pytest.raises(ParseError, match="no parser for documents of type zip"):
        parsers("zip")
    path = b.make_txt(tmp_path / "notes.txt", topic="Retries")
    through_port = parsers("txt").parse(str(path), "txt", Limits(timeout_s=60, memory_mb=1024))
    assert [e.text for e in through_port] == [e.text for e in parse_document(str(path), "txt")]


@pytest.mark.parametrize("kind", sorted(b.BUILDERS))
def test_every_supported_format_parses_offline(tmp_path, kind):
    path = b.BUILDERS[kind](tmp_path / f"doc.{kind}", topic="Retries")
    elements = parse_document(str(path), kind)
    text = " ".join(e.text for e in elements)
    assert "Retries" in text or "retries" in text
    assert all(e.text.strip() for e in elements)


def test_pdf_pages_are_kept(tmp_path):
    elements = parse_document(str(b.make_pdf(tmp_path / "a.pdf", pages=2)), "pdf")
    assert {e.metadata.page_number for e in elements} == {1, 2}


def test_truncated_pdf_is_a_parse_error_not_an_empty_success(tmp_path):
    with pytest.raises(ParseError, match="corrupt PDF"):
        parse_document(str(b.make_corrupt_pdf(tmp_path / "cut.pdf")), "pdf")


def test_encrypted_pdf_is_a_parse_error(tmp_path):
    with pytest.raises(ParseError, match="encrypted"):
        parse_document(str(b.make_encrypted_pdf(tmp_path / "locked.pdf")), "pdf")


def test_pdf_without_text_layer_is_a_parse_error(tmp_path):
    with pytest.raises(ParseError, match="no text layer"):
        parse_document(str(b.make_image_only_pdf(tmp_path / "scan.pdf")), "pdf")


def test_random_bytes_with_a_pdf_name_are_a_parse_error(tmp_path):
    path = tmp_path / "noise.pdf"
    path.write_bytes(bytes(range(256)) * 20)
    with pytest.raises(ParseError):
        parse_document(str(path), "pdf")


def test_empty_file_is_a_parse_error(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    with pytest.raises(ParseError, match="empty file"):
        parse_document(str(path), "txt")


# --- OCR, spreadsheets, pandoc and LibreOffice formats ----------------------------------------

import re  # noqa: E402
import shutil  # noqa: E402
from functools import partial  # noqa: E402

from docflow.core.models import ErrorClass  # noqa: E402
from docflow.core.chunk import ChunkSettings, chunk_elements  # noqa: E402
from docflow.core.errors import classify  # noqa: E402
from docflow.core.isolation import Limits  # noqa: E402
from docflow.core.elements import OcrSettings, is_ocr, ocr_seconds  # noqa: E402
from docflow.adapters.parsers.parse import limited  # noqa: E402

CHUNKING = ChunkSettings(1000, 800, 200, 0)
needs_soffice = pytest.mark.skipif(
    shutil.which("soffice") is None,
    reason="LibreOffice is not installed (DOCFLOW_WITH_LIBREOFFICE=1 scripts/setup.sh installs it)",
)
MARKDOWN = (
    "# Orchard report\n\nThe persimmon orchard near Valparaiso produced a record harvest.\n\n"
    "## Irrigation\n\nDrip lines from the Aconcagua canal kept the quince trees alive.\n"
)


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def recall(source: str, elements) -> float:
    """Share of the source's words that OCR read back (each word counted once)."""
    found = set(words(" ".join(e.text for e in elements)))
    wanted = set(words(source))
    return len(wanted & found) / len(wanted)


def test_a_scanned_pdf_is_read_by_ocr_page_by_page(tmp_path):
    second = "Zebra migration across the Serengeti follows the rains from November to March."
    path = b.make_scanned_pdf(tmp_path / "scan.pdf", (b.SCANNED_PARAGRAPH, second))
    elements = parse_document(str(path), "pdf")
    assert recall(b.SCANNED_PARAGRAPH, [e for e in elements if e.metadata.page_number == 1]) >= 0.9
    assert recall(second, [e for e in elements if e.metadata.page_number == 2]) >= 0.9
    assert all(is_ocr(e) for e in elements)
    assert ocr_seconds(elements) > 0 and ocr_seconds(parse_document(str(b.make_pdf(tmp_path / "t.pdf")), "pdf")) == 0


def test_a_mixed_pdf_keeps_its_text_layer_and_ocrs_only_the_scanned_page(tmp_path):
    typed = "Hydraulic pump maintenance is due every four hundred operating hours."
    elements = parse_document(str(b.make_mixed_pdf(tmp_path / "mixed.pdf", typed)), "pdf")
    first = [e for e in elements if e.metadata.page_number == 1]
    second = [e for e in elements if e.metadata.page_number == 2]
    assert typed in " ".join(e.text for e in first) and not any(is_ocr(e) for e in first)
    assert recall(b.SCANNED_PARAGRAPH, second) >= 0.9 and all(is_ocr(e) for e in second)
    chunks = chunk_elements(elements, CHUNKING)
    assert any("OCR" in c.element_types for c in chunks)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tiff", ".bmp", ".gif", ".webp"])
def test_images_are_read_by_ocr(tmp_path, suffix):
    from docflow.core.discover import SUPPORTED_TYPES

    path = b.make_image(tmp_path / f"shot{suffix}")
    elements = parse_document(str(path), SUPPORTED_TYPES[suffix])
    assert recall(b.SCANNED_PARAGRAPH, elements) >= 0.9
    assert all(is_ocr(e) for e in elements)
    assert all("OCR" in c.element_types for c in chunk_elements(elements, CHUNKING))


def test_every_page_of_a_multi_page_tiff_is_read(tmp_path):
    pages = [b.text_image("Page one mentions the lighthouse keeper."),
             b.text_image("Page two mentions the ferry timetable.")]
    path = tmp_path / "fax.tiff"
    pages[0].save(path, save_all=True, append_images=pages[1:], compression="tiff_deflate")
    elements = parse_document(str(path), "tiff")
    assert {e.metadata.page_number for e in elements} == {1, 2}
    assert "lighthouse" in " ".join(e.text for e in elements).lower()
    assert "ferry" in " ".join(e.text for e in elements).lower()


def test_ocr_timeout_says_which_page_it_reached(tmp_path):
    texts = tuple(f"Page {i} of a long scanned contract about maritime insurance." for i in range(1, 7))
    path = b.make_scanned_pdf(tmp_path / "long.pdf", texts)
    parse = limited(partial(parse_document, ocr_settings=OcrSettings(dpi=300)), Limits(timeout_s=4))
    with pytest.raises(ParseError, match=r"time limit of 4 s while OCR read page [1-6] of 6 \(DOCFLOW_PARSE_TIMEOUT_S\)"):
        parse(str(path), "pdf")


def test_without_tesseract_an_image_fails_saying_what_to_install(tmp_path, monkeypatch):
    path = b.make_image(tmp_path / "shot.png")
    monkeypatch.setenv("PATH", str(tmp_path))  # no tesseract on it
    with pytest.raises(ParseError, match="needs tesseract"):
        parse_document(str(path), "png")


def test_a_spreadsheet_gives_one_chunk_group_per_sheet_named_after_it(tmp_path):
    path = b.make_xlsx(tmp_path / "book.xlsx", {
        "Budget": [["item", "cost"], ["turbine blades", "4500"], ["gearbox oil", "320"]],
        "Staff": [["name", "role"], ["Marguerite Okafor", "harbour pilot"]],
    })
    chunks = chunk_elements(parse_document(str(path), "xlsx"), CHUNKING)
    by_sheet = {c.title: c.text for c in chunks}
    assert set(by_sheet) == {"Budget", "Staff"}
    assert "turbine blades" in by_sheet["Budget"] and "Okafor" not in by_sheet["Budget"]
    assert "Marguerite Okafor" in by_sheet["Staff"]


def test_tsv_and_xml_keep_their_text(tmp_path):
    tsv = b.make_tsv(tmp_path / "rivers.tsv", [["city", "river"], ["Vienna", "Danube"], ["Lyon", "Rhône"]])
    assert "Danube" in " ".join(e.text for e in parse_document(str(tsv), "tsv"))
    xml = b.make_xml(tmp_path / "feed.xml", topic="Heron")
    assert "Heron paragraph 1" in " ".join(e.text for e in parse_document(str(xml), "xml"))


@pytest.mark.parametrize("suffix", [".odt", ".rtf", ".epub", ".org", ".rst"])
def test_pandoc_formats_keep_their_text_and_titles(tmp_path, suffix):
    path = b.pandoc_convert(MARKDOWN, tmp_path / f"report{suffix}")
    elements = parse_document(str(path), suffix[1:])
    text = " ".join(e.text for e in elements)
    assert "persimmon orchard near Valparaiso" in text and "Aconcagua canal" in text
    assert "Orchard report" in [e.text for e in elements if type(e).__name__ == "Title"]


def test_an_excel_97_workbook_is_read_sheet_by_sheet(tmp_path):
    path = b.make_xls(tmp_path / "old.xls", {"Ledger": [["account", "balance"], ["Kestrel Mining", "9120"]],
                                             "Notes": [["note", "by"], ["audit", "Fenwick and Daughters"]]})
    chunks = chunk_elements(parse_document(str(path), "xls"), CHUNKING)
    assert {c.title for c in chunks} == {"Ledger", "Notes"}
    assert "Kestrel Mining" in " ".join(c.text for c in chunks)


@needs_soffice
@pytest.mark.parametrize("source, suffix", [("docx", ".doc"), ("pptx", ".ppt")])
def test_legacy_office_files_are_converted_by_libreoffice(tmp_path, source, suffix):
    make = {"docx": b.make_docx, "pptx": b.make_pptx}[source]
    original = make(tmp_path / f"legacy.{source}", topic="Glacier")
    converted = b.libreoffice_convert(original, suffix)
    original.unlink()
    text = " ".join(e.text for e in parse_document(str(converted), suffix[1:]))
    assert "Glacier" in text


def test_without_libreoffice_a_doc_fails_saying_how_to_enable_it(tmp_path, monkeypatch):
    path = tmp_path / "letter.doc"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    monkeypatch.setenv("PATH", str(tmp_path))  # no soffice on it
    with pytest.raises(ParseError, match=r"needs LibreOffice: run DOCFLOW_WITH_LIBREOFFICE=1 scripts/setup\.sh"):
        parse_document(str(path), "doc")


CORRUPT = {
    "png": "corrupt image", "jpg": "corrupt image", "tiff": "corrupt image", "webp": "corrupt image",
    "heic": "corrupt image",  # no HEIC encoder here (pi_heif decodes only), so no positive test
    "xlsx": "Not a valid XLSX file", "xls": "Not a valid XLSX file", "msg": "not an Outlook MSG file",
    "odt": "pandoc could not read", "epub": "Invalid EPUB file",
    "doc": "not an OLE2 (Office 97-2003) file", "ppt": "not an OLE2 (Office 97-2003) file",
}


@pytest.mark.parametrize("doc_type", sorted(CORRUPT))
def test_a_corrupt_file_of_each_new_type_is_a_parse_failure(tmp_path, doc_type):
    path = tmp_path / f"broken.{doc_type}"
    path.write_bytes(b.noise())
    with pytest.raises(Exception) as caught:
        parse_document(str(path), doc_type)
    error = classify(caught.value, "parse")
    assert error.error_class is ErrorClass.PARSE, error
    assert CORRUPT[doc_type] in error.message


def test_parsing_does_not_import_torch_and_torch_still_imports_after(tmp_path):
    """An ONNX-embedding worker never needs torch; spaCy's thinc would import it anyway."""
    import subprocess
    import sys

    b.make_md(tmp_path / "a.md", topic="Sentences split by spaCy")
    b.make_html(tmp_path / "a.html", topic="Narrative text of an HTML page")
    script = f"""
import sys
from docflow.adapters.parsers.parse import parse_document
texts = [e.text for e in parse_document({str(tmp_path / 'a.md')!r}, "md")]
texts += [e.text for e in parse_document({str(tmp_path / 'a.html')!r}, "html")]
assert "spacy" in sys.modules, "the check is moot if spaCy was not used"
assert "torch" not in sys.modules, sorted(m for m in sys.modules if m.startswith("torch"))
import torch
print(torch.tensor([1.0]).sum().item(), len(texts))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    total, count = done.stdout.split()
    assert total == "1.0" and int(count) >= 2


@pytest.mark.parametrize("doc_type", ["html", "md"])
def test_a_text_run_too_long_for_libxml2_fails_saying_so(tmp_path, doc_type):
    """libxml2 drops a text node over 10 MB silently; "no text content" alone would be wrong."""
    run = "retry the failed batch " * (10_500_000 // 23)
    path = tmp_path / f"one-line.{doc_type}"
    path.write_text(f"<html><body><p>{run}</p></body></html>" if doc_type == "html" else run)
    with pytest.raises(ParseError, match=r"no text content read from 10\.5 MB, .*over 10,000,000 bytes.*libxml2"):
        parse_document(str(path), doc_type)
