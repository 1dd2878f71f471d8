"""Turn one document into unstructured elements, fully offline.

unstructured swallows some failures: a corrupt or truncated PDF yields `[]` with the error only
logged. So PDFs are validated with pypdf first (that gives the real reason), and "no elements
from a non-empty file" is a parse failure, never a silent success with zero chunks.

The document type comes from discovery (the file extension) and is passed on as the content
type: left to itself, unstructured sniffs text files and routes a `.txt` whose lines all hold
the same number of commas to its CSV partitioner (which then fails on a latin-1 byte), one that
starts like a mail header to the e-mail partitioner, and so on.

`limited` runs a parse in a forked child with a time and a memory cap (tasks.isolation), so
one pathological document fails alone instead of stalling or killing the worker."""

from __future__ import annotations

import io
import logging
import os
import signal
import tempfile
from collections.abc import Callable
from functools import partial
from typing import Any

from tasks.errors import MissingError, ParseError, ResourceError
from tasks.isolation import ChildDied, LimitExceeded, Limits, RemoteError, run_isolated

log = logging.getLogger(__name__)

PARSER_NAME = "unstructured"
# Part of the parser version, hence of every fingerprint: bumped when docflow changes what a
# document parses into (2: the extension decides the partitioner, not content sniffing).
PARSE_RULES_REVISION = 2
PDF_STRATEGY = "fast"  # layout models would need hub downloads; fast uses the text layer
LANGUAGES = ("eng",)

ParseFn = Callable[[str, str], list[Any]]


def parser_version() -> str:
    from importlib.metadata import version

    return f"{PARSER_NAME}=={version('unstructured')}+docflow.{PARSE_RULES_REVISION}"


def parse_document(path: str, doc_type: str) -> list[Any]:
    if not os.path.exists(path):
        raise MissingError(f"file vanished before parsing: {path}", stage="parse")
    if os.path.getsize(path) == 0:
        raise ParseError("empty file (0 bytes)", stage="parse")
    if doc_type == "pdf":
        validate_pdf(path)
    elements = [e for e in _partition(path, doc_type) if (getattr(e, "text", "") or "").strip()]
    if not elements:
        detail = "no text layer (scanned?)" if doc_type == "pdf" else "no text content"
        raise ParseError(f"no elements extracted from a non-empty {doc_type} file: {detail}")
    return elements


def _partition(path: str, doc_type: str) -> list[Any]:
    from unstructured.file_utils.model import FileType
    from unstructured.partition.auto import partition

    return partition(
        filename=path,
        content_type=FileType.from_extension(f".{doc_type}").mime_type,
        strategy=PDF_STRATEGY,
        languages=list(LANGUAGES),
        include_page_breaks=False,
    )


def validate_pdf(path: str) -> None:
    """pypdf reads the whole cross-reference structure, which is where truncation and
    corruption show; encryption is refused here rather than producing garbage."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted:
            raise ParseError("encrypted PDF (password protected)", stage="parse")
        pages = len(reader.pages)
    except ParseError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise ParseError(f"corrupt PDF: {type(exc).__name__}: {exc}", stage="parse") from exc
    if pages == 0:
        raise ParseError("corrupt PDF: no pages", stage="parse")


# A small plain-text document can hold no decompression bomb and parses in milliseconds, while
# a fork costs 30-45 ms here (benchmarks/fork_overhead.py): such documents parse in-process.
# PDFs and the zip-based formats are always isolated, and so is any large file.
IN_PROCESS_TYPES = frozenset({"txt", "md", "html", "csv", "json", "eml"})
IN_PROCESS_MAX_BYTES = 256 * 1024


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0  # parse_document reports the missing file with its proper class


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
        if doc_type in IN_PROCESS_TYPES and _size(path) <= IN_PROCESS_MAX_BYTES:
            return parse(path, doc_type)
        _warm_up(doc_type)
        try:
            return run_isolated(partial(parse, path, doc_type), limits)
        except LimitExceeded as exc:
            setting = "PARSE_TIMEOUT_S" if exc.resource_name == "time" else "PARSE_MEMORY_MB"
            raise ParseError(f"parse {exc} (DOCFLOW_{setting})", stage="parse") from exc
        except RemoteError as exc:  # an exception type that cannot be pickled, e.g. lxml's
            raise ParseError(str(exc), stage="parse") from exc
        except ChildDied as exc:
            if exc.signal_number == signal.SIGKILL:
                raise ResourceError(f"parse process {exc} (out of memory?)", stage="parse") from exc
            raise ParseError(f"parse process {exc}", stage="parse") from exc

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
            _partition(path, doc_type)
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
}
