"""What OCR costs per page, and why docflow OCRs page by page instead of using unstructured's
`ocr_only` strategy for whole PDFs.

    .venv/bin/python benchmarks/ocr.py [--pages 4] [--dpi 200 300]

Builds, in a temporary directory, a scanned PDF of `--pages` image-only pages, a text PDF of
as many pages, and a mixed PDF (half text pages, half scans). Each is parsed in this process
(modules warmed up first) by docflow's path (`parse_document`: the fast text layer, then
tesseract for the pages without one, rendered at each `--dpi`) and by unstructured's
`partition_pdf(strategy="ocr_only")` (every page OCRed, rendered at its PDF_RENDER_DPI
default). Prints seconds per page and the share of the source words read back."""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import docflow  # noqa: F401  (offline environment before any third-party import)
from docflow.core.elements import OcrSettings
from docflow.adapters.parsers.parse import parse_document
from tests import docbuilders as b


def recall(source: str, elements) -> float:
    found = set(re.findall(r"[a-z0-9]+", " ".join(e.text for e in elements).lower()))
    wanted = set(re.findall(r"[a-z0-9]+", source.lower()))
    return len(wanted & found) / len(wanted)


def timed(fn):
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def ocr_only(path: str):
    from unstructured.partition.pdf import partition_pdf

    return partition_pdf(filename=path, strategy="ocr_only", languages=["eng"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=4)
    parser.add_argument("--dpi", type=int, nargs="+", default=[200, 300])
    args = parser.parse_args()
    n = args.pages
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        scanned = b.make_scanned_pdf(root / "scan.pdf", (b.SCANNED_PARAGRAPH,) * n)
        text = root / "text.pdf"
        text.write_bytes(b.pdf_bytes([[f"Text page {i}", b.SCANNED_PARAGRAPH[:90]] for i in range(n)]))
        mixed = root / "mixed.pdf"
        from pypdf import PdfReader, PdfWriter

        writer = PdfWriter()
        for i in range(n):
            source = text if i % 2 == 0 else scanned
            writer.add_page(PdfReader(source).pages[i])
        with open(mixed, "wb") as handle:
            writer.write(handle)
        image = b.make_image(root / "shot.png")

        parse_document(str(scanned), "pdf")  # warm-up: imports, tesseract's data in the page cache
        ocr_only(str(text))
        print(f"{n}-page PDFs; seconds per page (word recall of the scanned paragraph)")
        _, fast_s = timed(lambda: parse_document(str(text), "pdf"))
        print(f"  text PDF, fast path (no OCR)               {fast_s / n:6.3f} s/page")
        for dpi in args.dpi:
            settings = OcrSettings(dpi=dpi)
            elements, s = timed(lambda: parse_document(str(scanned), "pdf", settings))
            print(f"  scanned PDF, docflow page-wise, {dpi} dpi    {s / n:6.3f} s/page  (recall {recall(b.SCANNED_PARAGRAPH, elements):.0%})")
            _, s = timed(lambda: parse_document(str(mixed), "pdf", settings))
            print(f"  mixed PDF, docflow page-wise, {dpi} dpi      {s / n:6.3f} s/page")
        elements, s = timed(lambda: ocr_only(str(scanned)))
        print(f"  scanned PDF, unstructured ocr_only          {s / n:6.3f} s/page  (recall {recall(b.SCANNED_PARAGRAPH, elements):.0%})")
        _, s = timed(lambda: ocr_only(str(mixed)))
        print(f"  mixed PDF, unstructured ocr_only            {s / n:6.3f} s/page")
        _, s = timed(lambda: ocr_only(str(text)))
        print(f"  text PDF, unstructured ocr_only             {s / n:6.3f} s/page")
        elements, s = timed(lambda: parse_document(str(image), "png"))
        print(f"  PNG image (1700x2210 px)                    {s:6.3f} s/image (recall {recall(b.SCANNED_PARAGRAPH, elements):.0%})")


if __name__ == "__main__":
    main()
