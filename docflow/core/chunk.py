"""Group elements into retrieval chunks with unstructured's chunk_by_title.

Chunks keep the metadata a search result needs to be shown and trusted: first page, the
section title they fall under (a spreadsheet's sheet name when the sheet has no title), and
the element types they were built from, plus `OCR` when some of their text was read by OCR
(so retrieval can weigh or show it). A spreadsheet's sheets never share a chunk."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from docflow.core.elements import is_ocr

OCR_MARK = "OCR"


@dataclass(frozen=True)
class ChunkSettings:
    max_characters: int
    new_after_n_chars: int
    combine_under_n_chars: int
    overlap: int
    carry_title: bool = False  # embed each chunk under its section title (embedded_texts)


@dataclass(frozen=True)
class Chunk:
    chunk_index: int
    text: str
    page: int | None
    title: str | None
    element_types: tuple[str, ...]


def chunk_elements(elements: Sequence[Any], settings: ChunkSettings) -> list[Chunk]:
    from unstructured.chunking.title import chunk_by_title

    composites = chunk_by_title(
        list(elements),
        max_characters=settings.max_characters,
        new_after_n_chars=settings.new_after_n_chars,
        combine_text_under_n_chars=settings.combine_under_n_chars,
        overlap=settings.overlap,
        include_orig_elements=True,
        multipage_sections=not any(_sheet(e) for e in elements),
    )
    chunks = []
    for composite in composites:
        text = (composite.text or "").strip()
        if not text:
            continue
        originals = list(getattr(composite.metadata, "orig_elements", None) or [])
        chunks.append(
            Chunk(
                chunk_index=len(chunks),
                text=text,
                page=_first_page(composite, originals),
                title=_section_title(originals),
                element_types=_element_types(originals),
            )
        )
    return chunks


def embedded_texts(chunks: Sequence[Chunk], carry_title: bool) -> list[str]:
    """What the model reads for each chunk of one document. With `carry_title`, a chunk is read
    under the last section title seen up to it (unless its text already starts with it): a
    passage deep in a section then also matches questions about the section's subject, which
    benchmarks/retrieval.py measured as the better recall. The stored text stays the chunk's own."""
    if not carry_title:
        return [c.text for c in chunks]
    texts, title = [], None
    for chunk in chunks:
        title = chunk.title or title
        texts.append(chunk.text if not title or chunk.text.startswith(title) else f"{title}\n{chunk.text}")
    return texts


def _first_page(composite: Any, originals: list[Any]) -> int | None:
    pages = [e.metadata.page_number for e in originals if e.metadata.page_number is not None]
    return min(pages) if pages else composite.metadata.page_number


def _section_title(originals: list[Any]) -> str | None:
    for element in originals:
        if type(element).__name__ == "Title":
            return element.text.strip()[:300] or None
    return next((_sheet(e) for e in originals if _sheet(e)), None)


def _sheet(element: Any) -> str | None:
    """The sheet name unstructured's spreadsheet partitioner puts in `page_name`."""
    return getattr(element.metadata, "page_name", None)


def _element_types(originals: list[Any]) -> tuple[str, ...]:
    types = tuple(dict.fromkeys(type(e).__name__ for e in originals))
    return (*types, OCR_MARK) if any(is_ocr(e) for e in originals) else types
