"""Turn one document into unstructured elements, fully offline.

unstructured swallows some failures: a corrupt or truncated PDF yields `[]` with the error only
logged. So PDFs are validated with pypdf first (that gives the real reason), and "no elements
from a non-empty file" is a parse failure, never a silent success with zero chunks."""

from __future__ import annotations

import os
from typing import Any

from tasks.errors import MissingError, ParseError

PARSER_NAME = "unstructured"
PDF_STRATEGY = "fast"  # layout models would need hub downloads; fast uses the text layer
LANGUAGES = ("eng",)


def parser_version() -> str:
    from importlib.metadata import version

    return f"{PARSER_NAME}=={version('unstructured')}"


def parse_document(path: str, doc_type: str) -> list[Any]:
    if not os.path.exists(path):
        raise MissingError(f"file vanished before parsing: {path}", stage="parse")
    if os.path.getsize(path) == 0:
        raise ParseError("empty file (0 bytes)", stage="parse")
    if doc_type == "pdf":
        validate_pdf(path)
    from unstructured.partition.auto import partition

    elements = partition(
        filename=path,
        strategy=PDF_STRATEGY,
        languages=list(LANGUAGES),
        include_page_breaks=False,
    )
    elements = [e for e in elements if (getattr(e, "text", "") or "").strip()]
    if not elements:
        detail = "no text layer (scanned?)" if doc_type == "pdf" else "no text content"
        raise ParseError(f"no elements extracted from a non-empty {doc_type} file: {detail}")
    return elements


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
