"""The exact bytes a worker parses, and their hash.

Discovery fingerprints a document in the flow process, but the worker parses it later: a file
rewritten in between (an editor saving, a `git checkout`) would be parsed as its new bytes and
stored under the old bytes' fingerprint. Reverting the file then makes the table look current
while it holds the other version's text, forever. So the worker reads each document once,
hashing as it copies it into a private file, parses that copy, and the outcome carries the hash
of what was parsed: a document that changed after discovery is recorded as the version it is,
and the next run sees the difference and redoes it.

The copy keeps the document's file name (unstructured and error messages look at it) inside a
private temporary directory; remote documents are streamed through fsspec the same way."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import urlsplit

from tasks import remote
from tasks.errors import MissingError

_BLOCK = 1 << 20


@dataclass(frozen=True)
class Snapshot:
    path: str  # the private copy to parse
    content_sha256: str
    size: int


@contextmanager
def snapshot(source: str) -> Iterator[Snapshot]:
    """A private copy of `source` (a local path or an fsspec URL), removed on exit."""
    is_remote = remote.is_url(source)
    name = os.path.basename(urlsplit(source).path if is_remote else source) or "document"
    directory = tempfile.mkdtemp(prefix="docflow-parse-")
    try:
        copy = os.path.join(directory, name)
        with open(copy, "wb") as writer:
            digest, size = _fetch(source, writer) if is_remote else _read(source, writer)
        yield Snapshot(copy, digest, size)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _read(path: str, writer: BinaryIO) -> tuple[str, int]:
    try:
        reader = open(path, "rb")
    except FileNotFoundError as exc:
        raise MissingError(f"file vanished before parsing: {path}", stage="parse") from exc
    digest, size = hashlib.sha256(), 0
    with reader:
        while block := reader.read(_BLOCK):
            digest.update(block)
            writer.write(block)
            size += len(block)
    return digest.hexdigest(), size


def _fetch(url: str, writer: BinaryIO) -> tuple[str, int]:
    """One plain GET (fsspec's `cat_file`): no HEAD or range requests, which not every server
    answers, and no ETag pinned by a listing this process cached earlier."""
    data = remote.fetch(url)
    writer.write(data)
    return hashlib.sha256(data).hexdigest(), len(data)
