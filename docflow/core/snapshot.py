"""The exact bytes a worker parses, and their hash.

Discovery fingerprints a document in the flow process, but the worker parses it later: a file
rewritten in between (an editor saving, a `git checkout`) would be parsed as its new bytes and
stored under the old bytes' fingerprint. Reverting the file then makes the table look current
while it holds the other version's text, forever. So the worker reads each document once,
hashing as it copies it into a private file, parses that copy, and the outcome carries the hash
of what was parsed: a document that changed after discovery is recorded as the version it is,
and the next run sees the difference and redoes it.

The copy keeps the document's file name (unstructured and error messages look at it) inside a
private temporary directory; the document's Source (docflow.ports.source) does the reading,
local file or remote object alike."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from docflow.core.locations import is_remote
from docflow.core.versions import FileStat

if TYPE_CHECKING:  # the port is implemented above the core
    from docflow.ports.source import Source


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
def snapshot(location: str, source: Source) -> Iterator[Snapshot]:
    """A private copy of the document at `location`, read by `source`, removed on exit."""
    name = os.path.basename(urlsplit(location).path if is_remote(location) else location) or "document"
    directory = tempfile.mkdtemp(prefix="docflow-parse-")
    try:
        copy = os.path.join(directory, name)
        with open(copy, "wb") as writer:
            read = source.copy(location, writer)
        yield Snapshot(copy, read.content_sha256, read.size, read.stat, time.time_ns(), read.version)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
