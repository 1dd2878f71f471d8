"""The Parser adapters, chosen by document type: the first that supports a type parses it.
Today that is unstructured (with OCR) for every type; a parser for a new format is one
module and one entry in `parsers_for`."""

from __future__ import annotations

from dataclasses import dataclass

from docflow.adapters.parsers.parse import UnstructuredParser
from docflow.core.elements import OcrSettings
from docflow.core.errors import ParseError
from docflow.ports.parser import Parser


@dataclass(frozen=True)
class Parsers:
    parsers: tuple[Parser, ...]

    def __call__(self, doc_type: str) -> Parser:
        for parser in self.parsers:
            if parser.supports(doc_type):
                return parser
        raise ParseError(f"no parser for documents of type {doc_type}", stage="parse")


def parsers_for(ocr: OcrSettings) -> Parsers:
    return Parsers((UnstructuredParser(ocr),))
