"""Turn one document into unstructured elements, fully offline.

unstructured swallows some failures: a corrupt or truncated PDF yields `[]` with the error only
logged. So PDFs are validated with pypdf first (that gives the real reason), and "no elements
from a non-empty file" is a parse failure, never a silent success with zero chunks.

The document type comes from discovery (the file extension) and is passed on as the content
type: left to itself, unstructured sniffs text files and routes a `.txt` whose lines all hold
the same number of commas to its CSV partitioner (which then fails on a latin-1 byte), one that
starts like a mail header to the e-mail partitioner, and so on.

Scans and images go through OCR (docflow.adapters.parsers.ocr); the formats that need a system tool (pandoc,
LibreOffice, tesseract) fail with a message naming the tool and the command that installs it
when it is absent, never as an ignored file.

`limited` runs a parse in a forked child with a time and a memory cap (docflow.core.isolation), so
one pathological document fails alone instead of stalling or killing the worker."""

from __future__ import annotations

import io
import logging
import os
import shutil
import signal
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from docflow.adapters.parsers import ocr
from docflow.core.discover import SUPPORTED_TYPES
from docflow.core.elements import OcrSettings
from docflow.core.errors import ParseError, ResourceError
from docflow.core.models import Stage
from docflow.core.isolation import ChildDied, LimitExceeded, Limits, RemoteError, run_isolated

log = logging.getLogger(__name__)

PARSER_NAME = "unstructured"
# Part of the parser version, hence of every fingerprint: bumped when docflow changes what a
# document parses into (2: the extension decides the partitioner, not content sniffing; 3: OCR
# of scans and images, .rst through its own partitioner).
PARSE_RULES_REVISION = 3
# Layout models (`hi_res`) would need hub downloads: the text layer is read by `fast`, and
# pages without one are OCRed (docflow.adapters.parsers.ocr).
PDF_STRATEGY = "fast+ocr"
LANGUAGES = ("eng",)

IMAGE_TYPES = frozenset({"png", "jpg", "tiff", "bmp", "gif", "webp", "heic"})
# unstructured converts these with pandoc; .odt is read here through pandoc's HTML writer
# because Debian's pandoc 2.17 cannot write DOCX (unstructured's route) in sandbox mode.
PANDOC_TYPES = frozenset({"odt", "rtf", "epub", "org", "rst"})
LIBREOFFICE_TYPES = frozenset({"doc", "ppt"})
LIBREOFFICE_SETUP = "DOCFLOW_WITH_LIBREOFFICE=1 scripts/setup.sh"
# libxml2, the HTML parser under unstructured's html and md partitioning, drops a text node
# longer than this without a word (lxml's huge_tree is not reachable through unstructured).
LIBXML2_MAX_TEXT = 10_000_000
LIBXML2_TYPES = frozenset({"html", "md"})

ParseFn = Callable[[str, str], list[Any]]


def parser_version() -> str:
    from importlib.metadata import version

    return f"{PARSER_NAME}=={version('unstructured')}+docflow.{PARSE_RULES_REVISION}"


@dataclass(frozen=True)
class UnstructuredParser:
    """The Parser port over unstructured, with OCR for scans and images: every type discovery
    knows (docflow.core.discover.SUPPORTED_TYPES)."""

    ocr: OcrSettings = OcrSettings()

    @property
    def version(self) -> str:
        return parser_version()

    def supports(self, doc_type: str) -> bool:
        return doc_type in _TYPES

    def parse(self, path: str, doc_type: str, limits: Limits) -> list[Any]:
        return limited(partial(parse_document, ocr_settings=self.ocr), limits)(path, doc_type)


_TYPES = frozenset(SUPPORTED_TYPES.values())


def parse_document(path: str, doc_type: str, ocr_settings: OcrSettings = OcrSettings()) -> list[Any]:
    _import_spacy_without_torch()
    if os.path.getsize(path) == 0:
        raise ParseError("empty file (0 bytes)", stage=Stage.PARSE)
    if doc_type == "pdf":
        found = _parse_pdf(path, ocr_settings)
    elif doc_type in IMAGE_TYPES:
        found = ocr.ocr_image_file(path, ocr_settings)
    else:
        _require_tool(doc_type, path)
        found = _partition(path, doc_type)
    elements = [e for e in found if (getattr(e, "text", "") or "").strip()]
    if not elements:
        raise ParseError(f"no elements extracted from a non-empty {doc_type} file: {_why_empty(path, doc_type)}")
    return elements


def _why_empty(path: str, doc_type: str) -> str:
    if doc_type in IMAGE_TYPES | {"pdf"}:
        return "no text layer and no text found by OCR"
    size = os.path.getsize(path)
    if doc_type in LIBXML2_TYPES and size > LIBXML2_MAX_TEXT:
        return (f"no text content read from {size / 1e6:.1f} MB, most likely one run of text over "
                f"{LIBXML2_MAX_TEXT:,} bytes without markup, which libxml2 (the HTML parser) drops; "
                "split the document or convert it to plain text")
    return "no text content"


def _import_spacy_without_torch() -> None:
    """unstructured splits sentences with spaCy, whose thinc imports torch if it can only to
    offer torch-backed layers the small English pipeline never uses: about 3 s and a few
    hundred MB in every process that parses, which an ONNX-embedding worker otherwise never
    pays. So torch is hidden while spaCy is first imported, and visible again right after
    (the torch embed backend and OCR import it as usual). Already imported: nothing to save."""
    if "spacy" in sys.modules or "torch" in sys.modules:
        return
    sys.modules["torch"] = None  # type: ignore[assignment]  # `import torch` raises ImportError
    try:
        import spacy  # noqa: F401
    finally:
        if sys.modules.get("torch", ...) is None:
            del sys.modules["torch"]


def _parse_pdf(path: str, ocr_settings: OcrSettings) -> list[Any]:
    """The text layer where a page has one, OCR for the pages that do not."""
    page_count = validate_pdf(path)
    elements = _partition(path, "pdf")
    characters: Counter[int] = Counter()
    for element in elements:
        characters[element.metadata.page_number] += len((element.text or "").strip())
    scanned = [p for p in range(1, page_count + 1) if characters[p] < ocr.MIN_TEXT_LAYER_CHARS]
    if not scanned:
        return elements
    kept = [e for e in elements if e.metadata.page_number not in scanned]
    read = ocr.ocr_pdf_pages(path, scanned, page_count, ocr_settings)
    return sorted(kept + read, key=lambda e: e.metadata.page_number or 0)


def _require_tool(doc_type: str, path: str) -> None:
    if doc_type in LIBREOFFICE_TYPES and shutil.which("soffice") is None:
        raise ParseError(
            f"needs LibreOffice: run {LIBREOFFICE_SETUP} to index .doc/.ppt files, then "
            "docflow ingest --retry-failed",
            stage=Stage.PARSE,
        )
    if doc_type in LIBREOFFICE_TYPES:
        _require_ole(path, doc_type)
    if doc_type in PANDOC_TYPES and shutil.which("pandoc") is None:
        raise ParseError(
            f"needs pandoc for .{doc_type} files: run scripts/setup.sh, then docflow ingest "
            "--retry-failed",
            stage=Stage.PARSE,
        )


def _require_ole(path: str, doc_type: str) -> None:
    """LibreOffice opens any bytes it cannot place as plain text, so a damaged .doc would be
    indexed as garbage: the 97-2003 formats are OLE2 compound files, and anything else is
    refused before conversion."""
    import olefile

    if not olefile.isOleFile(path):
        raise ParseError(
            f"corrupt .{doc_type}: not an OLE2 (Office 97-2003) file; if it is RTF or HTML "
            "saved under this name, rename it",
            stage=Stage.PARSE,
        )


def _partition(path: str, doc_type: str) -> list[Any]:
    from unstructured.file_utils.model import FileType
    from unstructured.partition.auto import partition

    if doc_type == "odt":
        return _partition_odt(path)
    try:
        return partition(
            filename=path,
            content_type=FileType.from_extension(f".{doc_type}").mime_type,
            strategy="fast",
            languages=list(LANGUAGES),
            include_page_breaks=False,
        )
    except FileNotFoundError as exc:
        if doc_type in LIBREOFFICE_TYPES and os.path.exists(path):
            # The converted file is what is missing: LibreOffice could not read this one.
            raise ParseError(f"LibreOffice could not convert this .{doc_type} file: {exc}", stage=Stage.PARSE) from exc
        raise
    except RuntimeError as exc:
        if doc_type in PANDOC_TYPES:
            raise ParseError(f"pandoc could not read this .{doc_type} file: {exc}", stage=Stage.PARSE) from exc
        raise


def _partition_odt(path: str) -> list[Any]:
    import pypandoc
    from unstructured.partition.html import partition_html

    try:
        html = pypandoc.convert_file(path, "html", format="odt", sandbox=True)
    except RuntimeError as exc:
        raise ParseError(f"pandoc could not read this .odt file: {exc}", stage=Stage.PARSE) from exc
    return partition_html(text=html, languages=list(LANGUAGES))


def validate_pdf(path: str) -> int:
    """The page count. pypdf reads the whole cross-reference structure, which is where truncation and
    corruption show; encryption is refused here rather than producing garbage."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted:
            raise ParseError("encrypted PDF (password protected)", stage=Stage.PARSE)
        pages = len(reader.pages)
    except ParseError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise ParseError(f"corrupt PDF: {type(exc).__name__}: {exc}", stage=Stage.PARSE) from exc
    if pages == 0:
        raise ParseError("corrupt PDF: no pages", stage=Stage.PARSE)
    return pages


# A small plain-text document can hold no decompression bomb and parses in milliseconds, while
# a fork costs 30-45 ms here (benchmarks/fork_overhead.py): such documents parse in-process.
# PDFs and the zip-based formats are always isolated, and so is any large file.
IN_PROCESS_TYPES = frozenset({"txt", "md", "html", "csv", "tsv", "json", "eml"})
IN_PROCESS_MAX_BYTES = 256 * 1024


def limited(parse: ParseFn, limits: Limits) -> ParseFn:
    """`parse` run in a forked child under `limits`; `parse` itself when both caps are off.

    A document that exceeds a cap is a `parse` failure, not `resource`: under the same caps it
    exceeds them again, so it should be retried once at most (the parse policy) and then be
    final until the file changes or `--retry-failed` runs after the caps were raised. The
    resource policy (5 retries with backoff, retried again by every run) would multiply the
    very cost the caps exist to bound. A parser process that crashes (a signal from native
    code) is a parse failure for the same reason; only a SIGKILL docflow did not send, which
    is what the kernel's out-of-memory killer sends, says the machine is short of memory and
    is `resource`."""
    if not limits.enabled:
        return parse

    def run(path: str, doc_type: str) -> list[Any]:
        if doc_type in IN_PROCESS_TYPES and os.path.getsize(path) <= IN_PROCESS_MAX_BYTES:
            return parse(path, doc_type)
        _warm_up(doc_type)
        progress = ocr.PageProgress()

        def reporting_parse() -> list[Any]:
            with ocr.reporting_to(progress):
                return parse(path, doc_type)

        try:
            return run_isolated(reporting_parse, limits)
        except LimitExceeded as exc:
            setting = "PARSE_TIMEOUT_S" if exc.resource_name == "time" else "PARSE_MEMORY_MB"
            raise ParseError(f"parse {exc}{progress.describe()} (DOCFLOW_{setting})", stage=Stage.PARSE) from exc
        except RemoteError as exc:  # an exception type that cannot be pickled, e.g. lxml's
            raise ParseError(str(exc), stage=Stage.PARSE) from exc
        except ChildDied as exc:
            if exc.signal_number == signal.SIGKILL:
                raise ResourceError(f"parse process {exc} (out of memory?)", stage=Stage.PARSE) from exc
            raise ParseError(f"parse process {exc}", stage=Stage.PARSE) from exc
        finally:
            progress.close()

    return run


_WARMED: set[str] = set()


def _warm_up(doc_type: str) -> None:
    """Parse a tiny built-in sample of `doc_type` in this process, once. Isolated parses run
    in children forked from here, and whatever partitioning loads lazily (the partitioner
    module, spaCy's model, numba-compiled PDF sorting, libmagic) is then inherited instead of
    being loaded again in every child: 0.5-3 s per document otherwise. A failed warm-up only
    costs speed, so it is logged and never blamed on the document being parsed."""
    if doc_type in _WARMED or doc_type not in _SAMPLES:
        return
    _WARMED.add(doc_type)
    try:
        with tempfile.TemporaryDirectory(prefix="docflow-warm-up-") as tmp:
            path = os.path.join(tmp, f"sample.{doc_type}")
            with open(path, "wb") as handle:
                handle.write(_SAMPLES[doc_type]())
            parse_document(path, doc_type)
    except Exception as exc:  # noqa: BLE001 - see docstring
        log.warning("warm-up parse of a %s sample failed: %r", doc_type, exc)


_SENTENCE = "Warm-up sample. This sentence is parsed once per worker process."


def _text_sample(template: str) -> Callable[[], bytes]:
    return lambda: template.format(_SENTENCE).encode()


def _pdf_sample() -> bytes:
    """A one-page PDF with a text layer, assembled by hand (no PDF writer at run time)."""
    content = f"BT /F1 12 Tf 72 720 Td ({_SENTENCE}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    trailer = b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
    return out + trailer % (len(objects) + 1, xref)


def _docx_sample() -> bytes:
    import docx

    document, buffer = docx.Document(), io.BytesIO()
    document.add_paragraph(_SENTENCE)
    document.save(buffer)
    return buffer.getvalue()


def _pptx_sample() -> bytes:
    import pptx

    deck, buffer = pptx.Presentation(), io.BytesIO()
    deck.slides.add_slide(deck.slide_layouts[1]).shapes.title.text = _SENTENCE
    deck.save(buffer)
    return buffer.getvalue()


def _image_sample() -> bytes:
    """A line of text as a PNG (any image suffix: PIL reads the content, not the name)."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", (900, 80), 255)
    ImageDraw.Draw(image).text((10, 20), _SENTENCE, font=ImageFont.load_default(size=24), fill=0)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


_SAMPLES: dict[str, Callable[[], bytes]] = {
    "txt": _text_sample("Warm-up\n\n{}\n"),
    "md": _text_sample("# Warm-up\n\n{}\n"),
    "html": _text_sample("<html><body><h1>Warm-up</h1><p>{}</p></body></html>"),
    "eml": _text_sample("From: a@example.org\nSubject: Warm-up\nContent-Type: text/plain\n\n{}\n"),
    "csv": _text_sample("sample,text\n1,{}\n"),
    "json": _text_sample('{{"text": "{}"}}'),
    "pdf": _pdf_sample,
    "docx": _docx_sample,
    "pptx": _pptx_sample,
} | {image_type: _image_sample for image_type in IMAGE_TYPES}
