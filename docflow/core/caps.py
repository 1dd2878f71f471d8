"""Per-document caps past the parser: how much text and how many chunks one document may bring.

The parse caps (docflow.core.isolation) bound the parser; a document that parses within them can still
hold tens of megabytes of text, and embedding its tens of thousands of chunks in the worker
holds the batch (and the run) for as long as that takes, then starts from zero on every rerun.
These caps fail such a document with the numbers and the setting that raises them, before any
chunk is embedded. The chunk cap is the embedding budget: it bounds the work of one document in
model calls, which, unlike seconds, does not depend on how busy the machine is. The parse time
cap grows with the document's size for the same reason: a long legitimate PDF gets the time its
pages need instead of one number for every file."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from docflow.core.errors import ParseError
from docflow.core.models import Stage

_MB = 1 << 20


def parse_timeout(base_s: float, per_mb_s: float, size_bytes: int) -> float:
    """0 keeps the time cap off, whatever the size."""
    if base_s <= 0:
        return 0.0
    return base_s + per_mb_s * size_bytes / _MB


def text_characters(elements: Sequence[Any]) -> int:
    return sum(len(getattr(element, "text", "") or "") for element in elements)


def check_text(elements: Sequence[Any], max_chars: int) -> None:
    if max_chars <= 0:
        return
    chars = text_characters(elements)
    if chars > max_chars:
        raise ParseError(
            f"document too large: {chars:,} characters of text, over the cap of {max_chars:,} "
            "(raise DOCFLOW_MAX_TEXT_CHARS to index it)",
            stage=Stage.CHUNK,
        )


def check_chunks(count: int, max_chunks: int) -> None:
    if 0 < max_chunks < count:
        raise ParseError(
            f"document too large: {count:,} chunks, over the cap of {max_chunks:,} "
            "(raise DOCFLOW_MAX_CHUNKS to index it)",
            stage=Stage.CHUNK,
        )
