"""What a source says about its documents, as plain data: the listing, what examining one
candidate found, and what copying one for the parser read. The Source port
(docflow.ports.source) returns these; discovery and the worker read them without knowing
whether a document is a local file or an object behind a URL."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from docflow.core.models import ErrorClass
from docflow.core.versions import FileStat


@dataclass(frozen=True, slots=True)  # one per candidate of a listing
class Listed:
    """One candidate as its listing shows it, before anything is read. `version` (an object's
    version id, else its ETag) and `size` are what an object store's listing carries; a local
    listing leaves them empty, because a file's stat is taken when it is examined."""

    path: str
    version: str = ""
    size: int = 0


@dataclass(frozen=True)
class Listing:
    """`root`: document ids are paths relative to it. `walked`: the paths come from a walk that
    entered no symlinked directory, so a regular file among them lies inside the root without
    resolving its path. `documents` may be iterable once only (a local listing makes each
    candidate as it is taken)."""

    root: str
    documents: Iterable[Listed]
    walked: bool = False


@dataclass(frozen=True)
class Examined:
    """A candidate's content hash and cheap version. `content_sha256` "": not read here (the
    worker hashes what it fetches). `head`: the first bytes when they were read now, for the
    content sniff; b"" when the recorded hash was reused. `read`: the bytes were read now, so
    the stat they were hashed with may be newer than the recorded one."""

    content_sha256: str
    size: int
    stat: FileStat | None = None
    observed_ns: int = 0
    version: str = ""
    head: bytes = b""
    read: bool = False


@dataclass(frozen=True)
class Unreadable:
    """A candidate that belongs to the corpus but cannot be read (a symlink leaving the root,
    a permission error, a fetch that exhausted its retries)."""

    error_class: ErrorClass
    message: str


@dataclass(frozen=True)
class Copied:
    """The bytes a copy read: their hash and size, and the cheap version around the read (a
    file's stat before and after when they agree, else None; an object's version before and
    after when they agree, else "")."""

    content_sha256: str
    size: int
    stat: FileStat | None = None
    version: str = ""
