"""Text from pixels: tesseract OCR of images and of the PDF pages that have no text layer.

unstructured's `ocr_only` strategy for a PDF OCRs every page, also the ones whose text layer
the fast path reads exactly and in milliseconds, and renders them at a DPI read from the
environment. So docflow OCRs page by page: the fast path first, then only the pages it found
(almost) no text on, each rendered at the configured DPI and read by unstructured's image
partitioner with the `ocr_only` strategy (tesseract; never `hi_res`, whose layout models need
a model hub). Every OCR'd element is marked (docflow.core.elements), and the page being
read is published to a `PageProgress` so a parse that hits its time cap can say how far it got.

The system tools are Debian's `tesseract-ocr` (+ one `tesseract-ocr-LANG` per language) and
`poppler-utils` (pdftoppm renders PDF pages); scripts/setup.sh installs them."""

from __future__ import annotations

import io
import mmap
import shutil
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from docflow.core.elements import OCR_ENGINE, OCR_FIELD, OCR_SECONDS_FIELD, OcrSettings
from docflow.core.errors import ParseError

# A page whose text layer holds fewer characters than this is a scan (perhaps with a stamped
# page number or header): it is OCRed and its few text-layer characters are dropped, since
# the OCR reads them too.
MIN_TEXT_LAYER_CHARS = 16
# Animated GIFs and WebPs are not page sequences; only TIFF holds multi-page scans.
MULTI_PAGE_IMAGE_FORMATS = frozenset({"TIFF"})


class PageProgress:
    """Which page OCR has reached, in memory shared with a forked child: the parent kills a
    child that hits its time cap, and this is what the child can still tell it."""

    _FORMAT = "ii"

    def __init__(self) -> None:
        self._shared = mmap.mmap(-1, struct.calcsize(self._FORMAT))

    def report(self, page: int, pages: int) -> None:
        struct.pack_into(self._FORMAT, self._shared, 0, page, pages)

    def describe(self) -> str:
        page, pages = struct.unpack_from(self._FORMAT, self._shared, 0)
        return f" while OCR read page {page} of {pages}" if page else ""

    def close(self) -> None:
        self._shared.close()


_reporting = threading.local()


@contextmanager
def reporting_to(progress: PageProgress) -> Iterator[None]:
    """OCR in this thread reports its pages to `progress` (a thread-local, so parses in
    other threads of a worker never report to each other's counters)."""
    _reporting.progress = progress
    try:
        yield
    finally:
        _reporting.progress = None


def _report(page: int, pages: int) -> None:
    progress = getattr(_reporting, "progress", None)
    if progress is not None:
        progress.report(page, pages)


def require_tesseract() -> None:
    if shutil.which("tesseract") is None:
        raise ParseError(
            "needs tesseract for OCR: run scripts/setup.sh (installs tesseract-ocr), then "
            "docflow ingest --retry-failed",
            stage="parse",
        )


def ocr_image_file(path: str, ocr: OcrSettings) -> list[Any]:
    """Every page of a multi-page TIFF, the first frame of any other image."""
    from PIL import Image, ImageSequence, UnidentifiedImageError
    from pi_heif import register_heif_opener

    require_tesseract()
    register_heif_opener()
    try:
        with Image.open(path) as image:
            image.load()
            frames = ImageSequence.all_frames(image) if image.format in MULTI_PAGE_IMAGE_FORMATS else [image.copy()]
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ParseError(f"corrupt image: {type(exc).__name__}: {exc}", stage="parse") from exc
    elements: list[Any] = []
    for number, frame in enumerate(frames, start=1):
        _report(number, len(frames))
        elements.extend(ocr_page(frame, number, ocr))
    return elements


def ocr_pdf_pages(path: str, pages: list[int], page_count: int, ocr: OcrSettings) -> list[Any]:
    """`pages` (1-based) of the PDF at `path` rendered one at a time (a 300-page scan never
    holds more than one page image) and OCRed."""
    from pdf2image import convert_from_path
    from pdf2image.exceptions import PDFInfoNotInstalledError, PDFPageCountError, PDFSyntaxError

    require_tesseract()
    elements: list[Any] = []
    for page in pages:
        _report(page, page_count)
        try:
            [image] = convert_from_path(path, dpi=ocr.dpi, first_page=page, last_page=page, grayscale=True)
        except PDFInfoNotInstalledError as exc:
            raise ParseError(
                "needs poppler-utils to render scanned PDF pages: run scripts/setup.sh, then "
                "docflow ingest --retry-failed",
                stage="parse",
            ) from exc
        except (PDFPageCountError, PDFSyntaxError, ValueError) as exc:
            raise ParseError(f"cannot render PDF page {page} for OCR: {exc}", stage="parse") from exc
        with image:
            elements.extend(ocr_page(image, page, ocr))
    return elements


def ocr_page(image: Any, page_number: int, ocr: OcrSettings) -> list[Any]:
    """One page image through unstructured's image partitioner (strategy `ocr_only`)."""
    from unstructured.partition.image import partition_image

    started = time.monotonic()
    buffer = io.BytesIO()
    image.convert("L").save(buffer, format="PNG")
    buffer.seek(0)
    elements = partition_image(file=buffer, strategy="ocr_only", languages=ocr.language_list)
    for element in elements:
        element.metadata.page_number = page_number
        setattr(element.metadata, OCR_FIELD, OCR_ENGINE)
    if elements:
        setattr(elements[0].metadata, OCR_SECONDS_FIELD, time.monotonic() - started)
    return elements

