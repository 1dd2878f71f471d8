"""The bad-input corpus, built at test time: every kind of broken, hostile or odd file docflow
must survive, each with the outcome it must end in.

An outcome is what a run records for the path: `parsed` (chunks; `text` must be in them),
`failed` (a ledger row with that error class and a message containing `text`), `problem`
(refused by discovery and recorded with that class and message) or `ignored` (not a document:
never read, never recorded). Nothing here may end as an unclassified exception, a crashed
batch or a hang.

Builders stream what is big (the 300 MB zip bomb is written 1 MB at a time) and use a fixed
seed for random bytes, so the corpus is the same on every run."""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from docflow.core.models import ErrorClass
from tests import docbuilders as b
from tests.docbuilders import noise

PARSED, FAILED, PROBLEM, IGNORED = "parsed", "failed", "problem", "ignored"
# The content of the files outside the source root; it must never reach a chunk or the ledger.
OUTSIDE_SECRET = "OUTSIDE-THE-ROOT-7f3a9c: this text must never be read"
ZIP_BOMB_MB = 300
HUGE_LINE_MB = 20
DEEP_HTML_LEVELS = 50_000
# The suite's DOCFLOW_MAX_TEXT_CHARS, and a one-line HTML document over it (the 50 MB
# single-line HTML, in the same shape and scaled down with the cap).
MAX_TEXT_CHARS = 500_000
TEXT_BOMB_PARAGRAPHS = 8_000

Build = Callable[[Path, Path], object]  # (source root, a directory outside it)
Write = Callable[[Path], object]  # writes one file at the given path


@dataclass(frozen=True)
class Kind:
    name: str
    doc_id: str  # what discovery calls it: its path relative to the source root
    outcome: str
    error_class: ErrorClass | None
    text: str  # parsed: a substring of the chunks; failed/problem: of the recorded message
    build: Build
    # Runs between discovery and processing (the file that vanishes in between).
    after_discovery: Callable[[Path], object] | None = None


def _file(doc_id: str, write: Write) -> Build:
    def build(root: Path, outside: Path) -> None:
        path = root / doc_id
        path.parent.mkdir(parents=True, exist_ok=True)
        write(path)

    return build


def parsed(name: str, doc_id: str, text: str, write: Write) -> Kind:
    return Kind(name, doc_id, PARSED, None, text, _file(doc_id, write))


def failed(name: str, doc_id: str, error_class: ErrorClass, text: str, write: Write) -> Kind:
    return Kind(name, doc_id, FAILED, error_class, text, _file(doc_id, write))


def problem(name: str, doc_id: str, error_class: ErrorClass, text: str, build: Build) -> Kind:
    return Kind(name, doc_id, PROBLEM, error_class, text, build)


def ignored(name: str, doc_id: str, build: Build) -> Kind:
    return Kind(name, doc_id, IGNORED, None, "", build)


def raw(data: bytes) -> Write:
    return lambda path: path.write_bytes(data)


def topic(make: Callable[..., Path], name: str) -> Write:
    return lambda path: make(path, topic=name)


def symlink(doc_id: str, target: Callable[[Path, Path], Path]) -> Build:
    return lambda root, outside: (root / doc_id).symlink_to(target(root, outside))


def corrupt_pdf(path: Path) -> None:
    """Whole file, right length, but the object bodies and the xref table overwritten."""
    data = bytearray(b.pdf_bytes([["corrupted in the middle"] * 5]))
    data[200:-30] = noise(len(data) - 230)
    path.write_bytes(bytes(data))


def template(make: Write) -> io.BytesIO:
    """A real DOCX/PPTX from tests.docbuilders, in memory (the builders write to a path)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "template"
        make(path)
        return io.BytesIO(path.read_bytes())


def zip_bomb_docx(path: Path) -> None:
    """A real DOCX whose word/document.xml inflates to ZIP_BOMB_MB of paragraphs (~1 MB zip)."""
    with (
        zipfile.ZipFile(template(b.make_docx)) as source,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as bomb,
    ):
        for item in source.infolist():
            data = source.read(item)
            if item.filename != "word/document.xml":
                bomb.writestr(item.filename, data)
                continue
            head, body = data.split(b"<w:body>", 1)
            block = b"<w:p><w:r><w:t>bomb</w:t></w:r></w:p>" * (1 << 15)  # ~1.2 MB
            with bomb.open("word/document.xml", "w", force_zip64=True) as xml:
                xml.write(head + b"<w:body>")
                for _ in range(ZIP_BOMB_MB * (1 << 20) // len(block)):
                    xml.write(block)
                xml.write(body[body.index(b"<w:sectPr") :])


def without_part(make: Write, part: str) -> Write:
    """A valid zip with every OOXML part but the main one."""

    def write(path: Path) -> None:
        with zipfile.ZipFile(template(make)) as source, zipfile.ZipFile(path, "w") as hollow:
            for item in source.infolist():
                if item.filename != part:
                    hollow.writestr(item.filename, source.read(item))

    return write


def one_line_html(path: Path) -> None:
    paragraph = "<p>" + " ".join(f"word{i}" for i in range(12)) + " more words to read.</p>"
    path.write_text("<html><body>" + paragraph * TEXT_BOMB_PARAGRAPHS + "</body></html>")


def huge_line(path: Path) -> None:
    block = b"word " * (1 << 18)  # 1.25 MB
    with open(path, "wb") as handle:
        for _ in range(HUGE_LINE_MB * (1 << 20) // len(block)):
            handle.write(block)
        handle.write(b"\n")


def deep_html(path: Path) -> None:
    levels = DEEP_HTML_LEVELS
    path.write_text(f"<html><body>{'<div>' * levels}deep text{'</div>' * levels}</body></html>")


def renamed(make: Callable[[Path], Path], real_suffix: str) -> Write:
    """A real file of one type written under another type's name."""

    def write(path: Path) -> None:
        made = make(path.with_name(path.name + real_suffix))
        made.rename(path)

    return write


def blank_image(path: Path) -> None:
    b.text_image("").save(path)


def truncated(make: Callable[[Path], Path], keep: float = 0.5) -> Write:
    def write(path: Path) -> None:
        make(path)
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * keep)])

    return write


def non_utf8_name(root: Path, outside: Path) -> None:
    Path(os.fsdecode(os.fsencode(root) + b"/caf\xe9.txt")).write_text("a latin-1 file name")


def symlink_pair(root: Path, outside: Path) -> None:
    (root / "ping.md").symlink_to(root / "pong.md")
    (root / "pong.md").symlink_to(root / "ping.md")


def temp_files(root: Path, outside: Path) -> None:
    for name in ("~$report.docx", "draft.txt~", ".#notes.md"):
        (root / name).write_bytes(noise(64))


PARSE, MISSING = ErrorClass.PARSE, ErrorClass.MISSING
LONG_NAME = "n" * 251 + ".txt"  # 255 bytes, the usual file system limit
BROKEN_HTML = (
    b"<html><head><meta charset='utf-8'></head><body><h1>Broken \xff\xfe\xc3 encoding</h1>"
    b"<p>A paragraph about caf\xe9 culture that is not UTF-8.</p></body></html>"
)
BROKEN_MIME = (
    b'From: a@example.org\nSubject: broken\nContent-Type: multipart/mixed; boundary="XYZ"\n\n'
    b"--XYZ\nContent-Type: text/plain\n\nThe body part is never closed --XY"
)
SCRIPT_ONLY = (
    b"<html><head><style>p{color:red}</style><script>var x = 1;</script></head>"
    b"<body><script>document.write('hidden')</script></body></html>"
)

KINDS: tuple[Kind, ...] = (
    # Control documents: must come out exactly as they do alone.
    parsed("control: plain text", "good/plain.txt", "Control text", topic(b.make_txt, "Control text")),
    parsed("control: PDF", "good/doc.pdf", "Control pdf", topic(b.make_pdf, "Control pdf")),
    parsed("control: DOCX", "good/doc.docx", "Control word", topic(b.make_docx, "Control word")),
    # Empty, truncated, corrupt, encrypted.
    failed("zero-byte .txt", "empty.txt", PARSE, "empty file (0 bytes)", raw(b"")),
    failed("zero-byte .pdf", "empty.pdf", PARSE, "empty file (0 bytes)", raw(b"")),
    failed("truncated PDF", "truncated.pdf", PARSE, "corrupt PDF", b.make_corrupt_pdf),
    failed("corrupt PDF (objects and xref overwritten)", "corrupt.pdf", PARSE, "corrupt PDF", corrupt_pdf),
    failed("encrypted PDF", "encrypted.pdf", PARSE, "encrypted PDF", b.make_encrypted_pdf),
    failed("PDF without a text layer", "scan.pdf", PARSE, "no text layer", b.make_image_only_pdf),
    # Random bytes behind a document extension.
    failed("random bytes named .pdf", "noise.pdf", PARSE, "corrupt PDF", raw(noise())),
    failed("random bytes named .docx", "noise.docx", PARSE, "not a ZIP archive", raw(noise())),
    failed("random bytes named .pptx", "noise.pptx", PARSE, "Package not found", raw(noise())),
    failed("random bytes named .html", "noise.html", PARSE, "determine file encoding", raw(noise())),
    failed("random bytes named .txt", "noise.txt", PARSE, "determine file encoding", raw(noise())),
    failed("random bytes named .xlsx", "noise.xlsx", PARSE, "Not a valid XLSX file", raw(noise())),
    failed("random bytes named .xls", "noise.xls", PARSE, "Not a valid XLSX file", raw(noise())),
    failed("random bytes named .png", "noise.png", PARSE, "corrupt image", raw(noise())),
    failed("random bytes named .tiff", "noise.tiff", PARSE, "corrupt image", raw(noise())),
    failed("random bytes named .msg", "noise.msg", PARSE, "not an Outlook MSG file", raw(noise())),
    failed("random bytes named .doc", "noise.doc", PARSE, "not an OLE2", raw(noise())),
    failed("random bytes named .ppt", "noise.ppt", PARSE, "not an OLE2", raw(noise())),
    failed("random bytes named .odt", "noise.odt", PARSE, "pandoc could not read", raw(noise())),
    failed("random bytes named .epub", "noise.epub", PARSE, "Invalid EPUB file", raw(noise())),
    # Scans, images and the formats beyond the core set.
    parsed("scanned PDF (OCR)", "scans/contract.pdf", "Lisbon warehouse", b.make_scanned_pdf),
    parsed("PNG screenshot of text (OCR)", "scans/screenshot.png", "Lisbon warehouse", b.make_image),
    parsed("spreadsheet with two sheets", "sheets/budget.xlsx", "Marguerite Okafor",
           lambda path: b.make_xlsx(path, {"Budget": [["item", "cost"], ["blades", "4500"]],
                                           "Staff": [["name"], ["Marguerite Okafor"]]})),
    failed("image with no text at all", "scans/blank.png", PARSE, "no text found by OCR", blank_image),
    failed("truncated PNG", "scans/cut.png", PARSE, "corrupt image", truncated(b.make_image, 0.3)),
    failed("truncated XLSX", "sheets/cut.xlsx", PARSE, "Not a valid XLSX file",
           truncated(lambda path: b.make_xlsx(path, {"S": [["a", "b"]]}))),
    # Content that contradicts the extension: reported with both types, never parsed.
    problem("PNG image named .pdf", "looks-like.pdf", PARSE, "image/png, which contradicts the .pdf",
            _file("looks-like.pdf", renamed(b.make_image, ".png"))),
    problem("PDF named .txt", "looks-like.txt", PARSE, "application/pdf, which contradicts the .txt",
            _file("looks-like.txt", renamed(b.make_pdf, ".pdf"))),
    problem("DOCX named .png", "looks-like.png", PARSE, "contradicts the .png",
            _file("looks-like.png", renamed(b.make_docx, ".docx"))),
    # Broken containers and resource bombs (the test runs with 30 s / 512 MB parse caps).
    failed(f"zip-bomb DOCX ({ZIP_BOMB_MB} MB document.xml, ~1 MB zip)", "bomb.docx", PARSE,
           "memory limit", zip_bomb_docx),
    failed("DOCX zip without word/document.xml", "hollow.docx", PARSE, "FileType.ZIP",
           without_part(b.make_docx, "word/document.xml")),
    failed("PPTX zip without ppt/presentation.xml", "hollow.pptx", PARSE, "FileType.ZIP",
           without_part(b.make_pptx, "ppt/presentation.xml")),
    failed(f"{HUGE_LINE_MB} MB on a single line", "one-line.txt", PARSE, "memory limit", huge_line),
    failed("one-line HTML with more text than DOCFLOW_MAX_TEXT_CHARS", "one-line.html", PARSE,
           "DOCFLOW_MAX_TEXT_CHARS", one_line_html),
    failed(f"HTML nested {DEEP_HTML_LEVELS:,} divs deep", "deep.html", PARSE, "no text content", deep_html),
    # Encodings and odd text.
    parsed("HTML with invalid UTF-8 bytes", "broken-encoding.html", "café culture", raw(BROKEN_HTML)),
    parsed("latin-1 text with commas on every line", "latin1.txt", "Café",
           raw("Café crème, brûlée, façade\nNaïve, résumé, déjà vu\n".encode("latin-1") * 5)),
    parsed("UTF-16 text with BOM", "utf16-bom.txt", "UTF-16 with a BOM",
           raw("Text in UTF-16 with a BOM about retrieval.\n".encode("utf-16"))),
    parsed("UTF-16 text without BOM", "utf16-nobom.txt", "UTF-16 without a BOM",
           raw("Text in UTF-16 without a BOM about retrieval.\n".encode("utf-16-le"))),
    parsed("text with NUL bytes", "nul.txt", "NUL bytes", raw(b"Text with\x00 NUL bytes\x00 inside.\n" * 3)),
    parsed("Windows line endings", "crlf.txt", "Second paragraph",
           raw(b"Windows line endings\r\n\r\nSecond paragraph, CRLF.\r\n")),
    parsed("text that starts like a mail header", "header-like.txt", "not an e-mail",
           raw(b"From: the field notes\nSubject: notes\n\nThis is not an e-mail.\n")),
    # Structured formats that are not what they claim.
    parsed(".eml with a broken MIME structure", "broken.eml", "never closed", raw(BROKEN_MIME)),
    failed("CSV with ragged rows", "ragged.csv", PARSE, "Expected 3 fields", raw(b"a,b,c\n1,2\n3,4,5,6,7\n\n8\n")),
    parsed("JSON that is not unstructured's element JSON", "plain.json", "settings",
           raw(b'{"settings": {"retries": 3, "names": ["a", "b"]}}')),
    failed("JSON that does not parse", "broken.json", PARSE, "Not a valid json", raw(b'{"settings": ')),
    parsed("Markdown with only front matter", "front-matter.md", "title: Only front matter",
           raw(b"---\ntitle: Only front matter\ntags: [a, b]\n---\n")),
    failed("HTML with only script and style", "script-only.html", PARSE, "no text content", raw(SCRIPT_ONLY)),
    # File names.
    parsed("spaces in the name", "my report 2024 .txt", "Spaced name", topic(b.make_txt, "Spaced name")),
    parsed("newline in the name", "line\nbreak.txt", "Newline name", topic(b.make_txt, "Newline name")),
    parsed("unicode name (accents, CJK, emoji)", "résumé-日本語-📄.md", "Unicode name",
           topic(b.make_md, "Unicode name")),
    parsed("leading dashes in the name", "--help -rf.txt", "Dashed name", topic(b.make_txt, "Dashed name")),
    parsed("quotes and a backslash in the name", "it's \"quoted\" \\ name.txt", "Quoted name",
           topic(b.make_txt, "Quoted name")),
    parsed("255-byte file name", LONG_NAME, "Long name", topic(b.make_txt, "Long name")),
    problem("file name that is not valid UTF-8", "caf\\xe9.txt", PARSE, "not valid UTF-8", non_utf8_name),
    # The file system.
    problem("symlink to itself", "self-loop.txt", MISSING, "looping symlink",
            symlink("self-loop.txt", lambda root, outside: root / "self-loop.txt")),
    problem("two symlinks pointing at each other", "ping.md", MISSING, "looping symlink", symlink_pair),
    problem("dangling symlink", "dangling.txt", MISSING, "broken or looping symlink",
            symlink("dangling.txt", lambda root, outside: root / "no-such-file.txt")),
    problem("symlink to a file outside the root", "escape.txt", MISSING, "outside the source root",
            symlink("escape.txt", lambda root, outside: outside / "secret.txt")),
    ignored("symlink to a directory outside the root", "elsewhere",
            symlink("elsewhere", lambda root, outside: outside)),
    parsed("directory named report.pdf/ (walked; its file is parsed)", "report.pdf/inside.txt",
           "Inside a directory", topic(b.make_txt, "Inside a directory")),
    problem("FIFO named pipe.txt", "pipe.txt", PARSE, "not a regular file",
            lambda root, outside: os.mkfifo(root / "pipe.txt")),
    ignored("editor lock and temp files", "~$report.docx", temp_files),
    ignored("unknown extension (.zip)", "archive.zip", _file("archive.zip", raw(b"PK\x05\x06" + bytes(18)))),
    Kind("file vanishes between discovery and parse", "vanishing.txt", FAILED, MISSING,
         "file vanished before parsing", _file("vanishing.txt", b.make_txt),
         after_discovery=lambda path: path.unlink()),
    Kind("file replaced by a directory between discovery and parse", "replaced.txt", FAILED, MISSING,
         "Is a directory", _file("replaced.txt", b.make_txt),
         after_discovery=lambda path: (path.unlink(), path.mkdir())),
)


def build(root: Path, outside: Path) -> tuple[Kind, ...]:
    """Create every kind under `root`, and the secret files under `outside`."""
    root.mkdir(parents=True)
    outside.mkdir(parents=True)
    (outside / "secret.txt").write_text(OUTSIDE_SECRET + "\n")
    (outside / "also-secret.md").write_text(f"# Outside\n\n{OUTSIDE_SECRET}\n")
    for kind in KINDS:
        kind.build(root, outside)
    return KINDS
