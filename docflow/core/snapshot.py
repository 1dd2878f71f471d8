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
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import urlsplit

from docflow.adapters.sources import remote
from docflow.core.versions import FileStat
from docflow.core.errors import MissingError
from docflow.core.locations import is_remote

_BLOCK = 1 << 20


@dataclass(frozen=True)
class Snapshot:
    path: str  # the private copy to parse
    content_sha256: str
    size: int
    # The cheap version of the bytes read (docflow.core.versions): a local file's stat before and
    # after the read when they agree, else None; an object's version id or ETag before and
    # after the GET when they agree, else "".
    stat: FileStat | None = None
    observed_ns: int = 0
    version: str = ""


@contextmanager
def snapshot(source: str) -> Iterator[Snapshot]:
    """A private copy of `source` (a local path or an fsspec URL), removed on exit."""
    remote_source = is_remote(source)
    name = os.path.basename(urlsplit(source).path if remote_source else source) or "document"
    directory = tempfile.mkdtemp(prefix="docflow-parse-")
    try:
        copy = os.path.join(directory, name)
        with open(copy, "wb") as writer:
            digest, size, stat, version = _fetch(source, writer) if remote_source else _read(source, writer)
        yield Snapshot(copy, digest, size, stat, time.time_ns(), version)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _read(path: str, writer: BinaryIO) -> tuple[str, int, FileStat | None, str]:
    try:
        reader = open(path, "rb")
    except FileNotFoundError as exc:
        raise MissingError(f"file vanished before parsing: {path}", stage="parse") from exc
    digest, size = hashlib.sha256(), 0
    with reader:
        before = FileStat.of(os.fstat(reader.fileno()))
        while block := reader.read(_BLOCK):
            digest.update(block)
            writer.write(block)
            size += len(block)
        after = FileStat.of(os.fstat(reader.fileno()))
    return digest.hexdigest(), size, before if before == after else None, ""


def _fetch(url: str, writer: BinaryIO) -> tuple[str, int, None, str]:
    """One plain GET (fsspec's `cat_file`): no range requests, which not every server answers,
    and no ETag pinned by a listing this process cached earlier. The object's version is asked
    before and after it (no body is fetched for that)."""
    before = remote.current_version(url)
    data = remote.fetch(url)
    writer.write(data)
    version = before if before == remote.current_version(url) else ""
    return hashlib.sha256(data).hexdigest(), len(data), None, version
