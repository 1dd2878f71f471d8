"""Does a file's content contradict its extension? (libmagic, on the first bytes.)

docflow picks the parser from the extension and never guesses from content (see docflow.adapters.parsers.parse).
A file whose bytes are plainly another kind of container (a PNG named report.pdf, a ZIP named
notes.txt) is therefore reported at discovery with both types named, not parsed as something
it is not. Only families libmagic recognises reliably from a file's start count (PDF, ZIP,
OLE2, images): a text file libmagic calls `text/x-c` or `application/octet-stream` is no
contradiction, and a damaged file of the right family is left to the parser, whose error says
what is wrong with it."""

from __future__ import annotations

HEAD_BYTES = 8192

# Families by MIME prefix; the first match wins.
_FAMILIES: tuple[tuple[str, str], ...] = (
    ("application/pdf", "pdf"),
    ("application/zip", "zip"),
    ("application/epub+zip", "zip"),
    ("application/vnd.openxmlformats-officedocument.", "zip"),
    ("application/vnd.oasis.opendocument.", "zip"),
    ("application/x-ole-storage", "ole"),
    ("application/cdfv2", "ole"),
    ("application/msword", "ole"),
    ("application/vnd.ms-excel", "ole"),
    ("application/vnd.ms-powerpoint", "ole"),
    ("application/vnd.ms-outlook", "ole"),
    ("application/vnd.ms-office", "ole"),
    ("image/", "image"),
)
_EXPECTED: dict[str, str] = {
    "pdf": "pdf",
    **dict.fromkeys(("docx", "pptx", "xlsx", "odt", "epub"), "zip"),
    **dict.fromkeys(("doc", "ppt", "xls", "msg"), "ole"),
    **dict.fromkeys(("png", "jpg", "tiff", "bmp", "gif", "webp", "heic"), "image"),
}


def head(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(HEAD_BYTES)


def content_type(data: bytes) -> str:
    import magic

    return magic.from_buffer(data, mime=True) or ""


def family(mime: str) -> str | None:
    mime = mime.lower()
    return next((name for prefix, name in _FAMILIES if mime.startswith(prefix)), None)


def contradiction(data: bytes, doc_type: str, suffix: str) -> str:
    """A message when `data` is recognisably another family than `doc_type` promises, else ""."""
    if not data:
        return ""
    mime = content_type(data)
    found = family(mime)
    if found is None or found == _EXPECTED.get(doc_type, "text"):
        return ""
    return (
        f"content is {mime}, which contradicts the {suffix} extension: not parsed; rename the "
        "file to its real type to index it"
    )
