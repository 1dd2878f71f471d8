"""The parser port: one document file in, elements out, for the document types it supports.

Elements are unstructured-shaped (`.text`, `.category`, `.metadata` with `page_number` and the
OCR marks of docflow.core.elements): the chunker reads them. `version` is part of every
document's fingerprint, so a parser that changes what a document parses into re-ingests it.
`parse` runs under `limits` (docflow.core.isolation): a document that exceeds them fails alone,
as a `parse` failure, instead of stalling or killing the worker."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from docflow.core.isolation import Limits


@runtime_checkable
class Parser(Protocol):
    @property
    def version(self) -> str: ...

    def supports(self, doc_type: str) -> bool: ...

    def parse(self, path: str, doc_type: str, limits: Limits) -> list[Any]:
        """Raises docflow.core.errors.ParseError (or another classified error) when no text
        can be had from the file."""
