"""Find the documents under the source roots and fingerprint them.

Sources (docflow.ports.source) list, examine and read; this module decides what a candidate
is: ignored, a document with its id and fingerprint, or a problem. A document's identity is its path relative to its source root (stable across machines and
mounts); its fingerprint is the sha256 of its bytes combined with the pipeline fingerprint, so
touching mtime changes nothing while new bytes, a new model or new chunk sizes change it.
Nothing outside the configured roots is ever read: symlinks that resolve outside a root are
reported, not followed."""

from __future__ import annotations

import fnmatch
import glob
import hashlib
import os
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from docflow.core.errors import SourceError
from docflow.core import sniff
from docflow.core.locations import is_remote
from docflow.core.models import DocRef, ErrorClass
from docflow.core.sourcing import Examined, Listing, Unreadable
from docflow.core.versions import FileStat, RecordedVersions

if TYPE_CHECKING:  # the port is implemented above the core; discovery only calls it
    from docflow.ports.source import Source

# Extension -> document type (the parser picks its partitioner from it). README's formats
# table says how each is parsed and which system package it needs.
SUPPORTED_TYPES: dict[str, str] = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".doc": "doc",
    ".pptx": "pptx",
    ".ppt": "ppt",
    ".xlsx": "xlsx",
    ".xls": "xls",
    ".odt": "odt",
    ".rtf": "rtf",
    ".epub": "epub",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".xml": "xml",
    ".md": "md",
    ".markdown": "md",
    ".org": "org",
    ".rst": "rst",
    ".txt": "txt",
    ".text": "txt",
    ".eml": "eml",
    ".msg": "msg",
    ".csv": "csv",
    ".tsv": "tsv",
    ".json": "json",
    ".png": "png",
    ".jpg": "jpg",
    ".jpeg": "jpg",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".bmp": "bmp",
    ".gif": "gif",
    ".webp": "webp",
    ".heic": "heic",
}
NO_EXTENSION = "(none)"


class IgnoreReason(StrEnum):
    """Why a listed file is not a document. Hidden and temporary names are not listed at all."""

    UNKNOWN_EXTENSION = "unknown_extension"
    NOT_INCLUDED = "not_included"  # --include did not match
    EXCLUDED = "excluded"  # --exclude matched


_TEMP_SUFFIXES = ("~", ".tmp", ".temp", ".swp", ".swx", ".part", ".crdownload", ".lock")
_GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class DiscoveryProblem:
    """A path that belongs to the corpus but cannot become a document (unreadable, a symlink
    leaving the root, ...). Recorded in the ledger like any failed document."""

    doc_id: str
    path: str
    error_class: ErrorClass
    message: str


@dataclass(frozen=True)
class Discovery:
    documents: tuple[DocRef, ...]
    problems: tuple[DiscoveryProblem, ...]
    ignored_by_reason: dict[str, int] = field(default_factory=dict)
    # Unknown extensions only: what the user would have to add (or convert) to index them.
    ignored_by_extension: dict[str, int] = field(default_factory=dict)
    # The documents whose bytes were read to hash them: only their recorded stat can be stale.
    read: frozenset[str] = frozenset()

    @property
    def ignored(self) -> int:
        return sum(self.ignored_by_reason.values())


def is_ignored_name(name: str) -> bool:
    return name.startswith((".", "~$", "#")) or name.endswith(_TEMP_SUFFIXES)


def document_fingerprint(content_sha256: str, pipeline_fingerprint: str) -> str:
    return hashlib.sha256(f"{content_sha256}:{pipeline_fingerprint}".encode()).hexdigest()


def discover(
    sources: Iterable[str],
    pipeline_fingerprint: str,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    recorded: RecordedVersions | None = None,
    rehash: bool = False,
    defer_changed_objects: bool = False,
    *,
    source_for: Callable[[str], Source],
) -> Discovery:
    """`source_for`: the Source that lists and reads a location (docflow.adapters.sources).
    `recorded`: the ledger's versions; a document whose cheap version still matches keeps
    its recorded hash without being read (docflow.core.versions). `rehash` reads everything.
    `defer_changed_objects`: an object whose listed version is not the recorded one gets no
    hash here (content_sha256 and fingerprint ""), because the worker that processes it hashes
    what it fetches anyway: one GET instead of two. Callers that must know every fingerprint
    (verify) leave it off."""
    include, exclude = tuple(include), tuple(exclude)
    recorded = recorded if recorded is not None and not rehash else RecordedVersions()
    documents: list[DocRef] = []
    problems: list[DiscoveryProblem] = []
    by_reason: Counter[str] = Counter()
    by_extension: Counter[str] = Counter()
    read: set[str] = set()
    for location in sources:
        source = source_for(location)
        listing = source.list(location)
        for listed in listing.documents:
            path = listed.path
            doc_id = _doc_id(path, listing)
            suffix = os.path.splitext(path)[1].lower()
            reason = _ignore_reason(doc_id, suffix, include, exclude)
            if reason is not None:
                by_reason[reason.value] += 1
                if reason is IgnoreReason.UNKNOWN_EXTENSION:
                    by_extension[_storable(suffix) or NO_EXTENSION] += 1
                continue
            if _storable(path) != path:
                problems.append(
                    DiscoveryProblem(
                        _storable(doc_id),
                        _storable(path),
                        ErrorClass.PARSE,
                        "file name is not valid UTF-8; rename the file to index it",
                    )
                )
                continue
            doc_type = SUPPORTED_TYPES[suffix]
            found = source.examine(listed, listing, recorded.get(doc_id), rehash, defer_changed_objects)
            if found is None:  # vanished while the location was listed: not in the corpus
                continue
            if isinstance(found, Examined) and (contradiction := sniff.contradiction(found.head, doc_type, suffix)):
                found = Unreadable(ErrorClass.PARSE, contradiction)
            if isinstance(found, Unreadable):
                problems.append(DiscoveryProblem(doc_id, path, found.error_class, found.message))
                continue
            documents.append(_ref(path, doc_id, listing.root, doc_type, pipeline_fingerprint, found))
            if found.read:
                read.add(doc_id)
    ordered = _one_per_id(documents)
    return Discovery(ordered, tuple(problems), dict(by_reason), dict(by_extension.most_common()), frozenset(read))


def _one_per_id(documents: list[DocRef]) -> tuple[DocRef, ...]:
    """Sorted by doc_id, a file that overlapping sources listed twice kept once (the later
    listing's), and two files with one id refused. Sorting the list in place and comparing
    neighbours needs no index of every id beside the documents themselves."""
    documents.sort(key=lambda d: d.doc_id)  # stable: of equal ids, the later listing is last
    kept: list[DocRef] = []
    for doc in documents:
        if kept and kept[-1].doc_id == doc.doc_id:
            if kept[-1].path != doc.path:
                raise SourceError(
                    f"doc_id collision: {doc.doc_id!r} is both {kept[-1].path} and {doc.path}; "
                    "ingest these roots into separate tables or pass their common parent"
                )
            kept[-1] = doc
        else:
            kept.append(doc)
    documents.clear()
    return tuple(kept)


def _doc_id(path: str, listing: Listing) -> str:
    """A walk and a remote listing give paths under the root's own spelling; a glob's matches
    are made relative the careful way."""
    prefix = listing.root.rstrip("/") + "/"
    if is_remote(listing.root):
        return path[len(listing.root):].lstrip("/")
    if listing.walked and os.sep == "/" and path.startswith(prefix):
        return path[len(prefix):]
    return Path(os.path.relpath(path, listing.root)).as_posix()


def _ref(path: str, doc_id: str, root: str, doc_type: str, pipeline_fp: str, found: Examined) -> DocRef:
    """An empty `content_sha256` means "not known here": the worker hashes what it fetches."""
    stat = found.stat or FileStat(found.size, 0, 0, 0)
    sha = found.content_sha256
    return DocRef(
        doc_id=doc_id,
        path=path,
        root=root,
        size=found.size,
        mtime_ns=stat.mtime_ns,
        content_sha256=sha,
        fingerprint=document_fingerprint(sha, pipeline_fp) if sha else "",
        doc_type=doc_type,
        ctime_ns=stat.ctime_ns,
        inode=stat.inode,
        observed_ns=found.observed_ns if stat.mtime_ns else 0,
        version=found.version,
    )


def _ignore_reason(
    doc_id: str, suffix: str, include: tuple[str, ...], exclude: tuple[str, ...]
) -> IgnoreReason | None:
    if include and not any(fnmatch.fnmatch(doc_id, pattern) for pattern in include):
        return IgnoreReason.NOT_INCLUDED
    if any(fnmatch.fnmatch(doc_id, pattern) for pattern in exclude):
        return IgnoreReason.EXCLUDED
    if suffix not in SUPPORTED_TYPES:
        return IgnoreReason.UNKNOWN_EXTENSION
    return None


def _storable(text: str) -> str:
    """`text` with the undecodable bytes of a file name as \\xNN escapes. Python hands such
    bytes over as lone surrogates, which no UTF-8 store accepts: LanceDB, the ledger and the
    checkpoint keys would fail on them and stop the whole batch."""
    return os.fsencode(text).decode("utf-8", "backslashreplace")


def empty_globs(sources: Iterable[str]) -> list[str]:
    """The local glob sources that match no file: discovery treats them as empty listings,
    which a person who mistyped a pattern needs to be told."""
    empty = []
    for source in sources:
        if is_remote(source):
            continue
        pattern = os.path.abspath(os.path.expanduser(source))
        if is_glob(pattern) and not os.path.exists(pattern) and not glob.glob(pattern, recursive=True):
            empty.append(source)
    return empty


def is_glob(location: str) -> bool:
    return bool(_GLOB_CHARS & set(location))


def glob_root(pattern: str) -> str:
    """The directory a glob's matches get their ids relative to: its fixed leading part."""
    parts = Path(pattern).parts
    fixed = []
    for part in parts:
        if is_glob(part):
            break
        fixed.append(part)
    root = str(Path(*fixed)) if fixed else os.sep
    return root if os.path.isdir(root) else os.path.dirname(root)


