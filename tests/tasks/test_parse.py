import pytest

from tasks.errors import MissingError, ParseError
from tasks.parse import parse_document
from tests import docbuilders as b


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


def test_vanished_file_is_missing(tmp_path):
    with pytest.raises(MissingError):
        parse_document(str(tmp_path / "gone.txt"), "txt")
