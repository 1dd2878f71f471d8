"""What the pipeline reads from parsed elements beyond their text, whichever parser made them:
the OCR marks a parser sets on what it read from pixels, and the OCR settings that are part
of the pipeline's fingerprint."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Ad-hoc metadata fields: unstructured's own `detection_origin` is debug-only and dropped.
OCR_FIELD, OCR_ENGINE = "ocr_engine", "tesseract"
# Seconds the page took, on its first element: the run's timings show OCR as its own stage.
OCR_SECONDS_FIELD = "ocr_page_s"


@dataclass(frozen=True)
class OcrSettings:
    """`languages` in tesseract's notation ("eng", "eng+deu"), each needing its
    tesseract-ocr-LANG package; `dpi` is what PDF pages are rendered at before OCR."""

    languages: str = "eng"
    dpi: int = 200

    @property
    def language_list(self) -> list[str]:
        return self.languages.split("+")


def ocr_seconds(elements: list[Any]) -> float:
    """OCR time spent on `elements` (0 for a document read without OCR)."""
    return sum(getattr(e.metadata, OCR_SECONDS_FIELD, None) or 0.0 for e in elements)


def is_ocr(element: Any) -> bool:
    return getattr(element.metadata, OCR_FIELD, None) == OCR_ENGINE
