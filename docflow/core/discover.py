"""Find the documents under the source roots and fingerprint them.

A document's identity is its path relative to its source root (stable across machines and
mounts); its fingerprint is the sha256 of its bytes combined with the pipeline fingerprint, so
touching mtime changes nothing while new bytes, a new model or new chunk sizes change it.
Nothing outside the configured roots is ever read: symlinks that resolve outside a root are
reported, not followed."""

from __future__ import annotations

import fnmatch
import glob
import hashlib
import os
import stat
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from docflow.core.models import DocRef, ErrorClass
from docflow.adapters.sources import remote
from docflow.core import sniff
from docflow.core.locations import is_remote
from docflow.core.retry import PolicyExhausted, RetryPolicies, call_with_policy
from docflow.core.versions import FileStat, Recorded, RecordedVersions, hash_file, reusable_for_file, reusable_for_object

# Extension -> document type (docflow.adapters.parsers.parse picks the partitioner from it). README's formats
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

    @property
    def ignored(self) -> int:
        return sum(self.ignored_by_reason.values())


class SourceError(ValueError):
    """The sources themselves are unusable (missing root, colliding doc ids)."""


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
) -> Discovery:
    """`recorded`: the ledger's versions; a document whose cheap version still matches keeps
    its recorded hash without being read (docflow.core.versions). `rehash` reads everything.
    `defer_changed_objects`: an object whose listed version is not the recorded one gets no
    hash here (content_sha256 and fingerprint ""), because the worker that processes it hashes
    what it fetches anyway: one GET instead of two. Callers that must know every fingerprint
    (verify) leave it off."""
    include, exclude = tuple(include), tuple(exclude)
    recorded = recorded if recorded is not None and not rehash else RecordedVersions()
    documents: dict[str, DocRef] = {}
    problems: list[DiscoveryProblem] = []
    by_reason: Counter[str] = Counter()
    by_extension: Counter[str] = Counter()
    for root, candidates, listed, walked in _expand_sources(sources):
        remote_root = is_remote(root)
        real_root = root if remote_root else os.path.realpath(root)
        prefix = root.rstrip("/") + "/"
        for path in candidates:
            if remote_root:
                doc_id = path[len(root):].lstrip("/")
            elif walked and os.sep == "/" and path.startswith(prefix):
                doc_id = path[len(prefix):]
            else:
                doc_id = Path(os.path.relpath(path, root)).as_posix()
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
            where = Where(path, doc_id, root, SUPPORTED_TYPES[suffix], pipeline_fingerprint, recorded.get(doc_id))
            if remote_root:
                found = _inspect_remote(where, listed.get(path), rehash, defer_changed_objects)
            else:
                found = _inspect(where, real_root, walked)
            if isinstance(found, DiscoveryProblem):
                problems.append(found)
                continue
            if found is None:  # vanished while the directory was listed: not in the corpus
                continue
            previous = documents.get(doc_id)
            if previous is not None and previous.path != found.path:
                raise SourceError(
                    f"doc_id collision: {doc_id!r} is both {previous.path} and {found.path}; "
                    "ingest these roots into separate tables or pass their common parent"
                )
            documents[doc_id] = found
    ordered = tuple(sorted(documents.values(), key=lambda d: d.doc_id))
    return Discovery(ordered, tuple(problems), dict(by_reason), dict(by_extension.most_common()))


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


def _suffix(path: str) -> str:
    return os.path.splitext(path)[1].lower()


def _storable(text: str) -> str:
    """`text` with the undecodable bytes of a file name as \\xNN escapes. Python hands such
    bytes over as lone surrogates, which no UTF-8 store accepts: LanceDB, the ledger and the
    checkpoint keys would fail on them and stop the whole batch."""
    return os.fsencode(text).decode("utf-8", "backslashreplace")


def _expand_sources(sources: Iterable[str]) -> Iterator[tuple[str, list[str], dict[str, remote.Listed], bool]]:
    """(root, candidate paths, what a remote listing said about each, whether the paths come
    from a walk that never entered a symlinked directory)."""
    for source in sources:
        if is_remote(source):
            try:
                root, listed = remote.list_documents(source)
            except Exception as exc:  # noqa: BLE001 - any listing failure: unreachable
                raise SourceError(f"source unreachable: {source}: {type(exc).__name__}: {exc}") from exc
            yield root, sorted(listed), listed, False
            continue
        source = os.path.abspath(os.path.expanduser(source))
        if _GLOB_CHARS & set(source) and not os.path.exists(source):
            root = _glob_root(source)
            matches = sorted(glob.glob(source, recursive=True))
            yield root, [m for m in matches if not _hidden_below(m, root)], {}, False
        elif os.path.isdir(source):
            yield source, sorted(_walk(source)), {}, True
        elif os.path.lexists(source):
            yield os.path.dirname(source), [source], {}, False
        else:
            raise SourceError(f"source does not exist: {source}")


def empty_globs(sources: Iterable[str]) -> list[str]:
    """The local glob sources that match no file: discovery treats them as empty listings,
    which a person who mistyped a pattern needs to be told."""
    empty = []
    for source in sources:
        if is_remote(source):
            continue
        pattern = os.path.abspath(os.path.expanduser(source))
        if _GLOB_CHARS & set(pattern) and not os.path.exists(pattern) and not glob.glob(pattern, recursive=True):
            empty.append(source)
    return empty


def _glob_root(pattern: str) -> str:
    parts = Path(pattern).parts
    fixed = []
    for part in parts:
        if _GLOB_CHARS & set(part):
            break
        fixed.append(part)
    root = str(Path(*fixed)) if fixed else os.sep
    return root if os.path.isdir(root) else os.path.dirname(root)


def _hidden_below(path: str, root: str) -> bool:
    return any(is_ignored_name(part) for part in Path(os.path.relpath(path, root)).parts)


def _walk(root: str) -> Iterator[str]:
    """Directory symlinks are not descended (no loops, no escaping the root); file symlinks are
    yielded and checked in _inspect."""
    for directory, subdirs, files in os.walk(root, followlinks=False, onerror=None):
        subdirs[:] = [d for d in subdirs if not is_ignored_name(d)]
        for name in files:
            if not is_ignored_name(name):
                yield os.path.join(directory, name)
        for name in subdirs:
            full = os.path.join(directory, name)
            if os.path.islink(full):
                yield full


@dataclass(frozen=True)
class Where:
    """One candidate document: where it is, what it is, and what the ledger recorded for it."""

    path: str
    doc_id: str
    root: str
    doc_type: str
    pipeline_fp: str
    recorded: Recorded | None

    def ref(self, content_sha: str, size: int, stat: FileStat | None = None, observed_ns: int = 0,
            version: str = "") -> DocRef:
        """An empty `content_sha` means "not known here": the worker hashes what it fetches."""
        stat = stat or FileStat(size, 0, 0, 0)
        return DocRef(
            doc_id=self.doc_id,
            path=self.path,
            root=self.root,
            size=size,
            mtime_ns=stat.mtime_ns,
            content_sha256=content_sha,
            fingerprint=document_fingerprint(content_sha, self.pipeline_fp) if content_sha else "",
            doc_type=self.doc_type,
            ctime_ns=stat.ctime_ns,
            inode=stat.inode,
            observed_ns=observed_ns if stat.mtime_ns else 0,
            version=version,
        )


def _inspect_remote(
    where: Where, listed: remote.Listed | None, rehash: bool, defer: bool
) -> DocRef | DiscoveryProblem:
    """An object whose listed version (version id or ETag, and size) is the recorded one keeps
    its recorded hash: no GET. A changed object is fetched and hashed here, or with `defer`
    left for the worker's one fetch. A document without a listed version (an http server
    without an ETag) is always fetched; fetching follows the retry policies, so a flaky
    server costs retries here, not a missing document."""
    version, size = (listed.version, listed.size) if listed else ("", 0)
    if not rehash and version:
        reused = reusable_for_object(where.recorded, version, size)
        if reused or defer:
            return where.ref(reused or "", size, version=version)
    try:
        data = call_with_policy(lambda: remote.fetch(where.path), stage="discover", policies=RetryPolicies()).value
    except PolicyExhausted as exhausted:
        return DiscoveryProblem(where.doc_id, where.path, exhausted.error.error_class, exhausted.error.message)
    contradiction = sniff.contradiction(data[: sniff.HEAD_BYTES], where.doc_type, _suffix(where.path))
    if contradiction:
        return DiscoveryProblem(where.doc_id, where.path, ErrorClass.PARSE, contradiction)
    return where.ref(hashlib.sha256(data).hexdigest(), len(data), version=version)


def _inspect(where: Where, real_root: str, walked: bool) -> DocRef | DiscoveryProblem | None:
    """The quick check first: a file whose stat is the one its recorded hash was computed with
    is not read (docflow.core.versions explains when that proves the bytes unchanged). A regular file
    found by the walk lies inside the root without resolving its path: the walk enters no
    symlinked directory."""
    path = where.path

    def problem(error_class: ErrorClass, message: str) -> DiscoveryProblem:
        return DiscoveryProblem(where.doc_id, path, error_class, message)

    try:
        info = os.lstat(path)
    except OSError:
        return None  # vanished while we listed the directory: not part of the corpus any more
    real = path
    if not (walked and stat.S_ISREG(info.st_mode)):
        try:
            real = os.path.realpath(path, strict=True)
        except OSError as exc:
            if os.path.islink(path):
                return problem(ErrorClass.MISSING, f"broken or looping symlink: {exc.strerror or exc}")
            return None
        if os.path.commonpath([real, real_root]) != real_root:
            return problem(ErrorClass.MISSING, "symlink points outside the source root; not read")
        try:
            info = os.stat(real)
        except OSError:
            return None
    if not stat.S_ISREG(info.st_mode):
        return problem(ErrorClass.PARSE, "not a regular file (a directory, FIFO or device?)")
    current = FileStat.of(info)
    reused = reusable_for_file(where.recorded, current)
    if reused is not None:
        return where.ref(reused, current.size, current, where.recorded.observed_ns)
    try:
        hashed = hash_file(real)
        contradiction = sniff.contradiction(sniff.head(real), where.doc_type, _suffix(path))
    except PermissionError as exc:
        return problem(ErrorClass.MISSING, f"permission denied: {exc.strerror}")
    except FileNotFoundError:
        return None
    except OSError as exc:
        return problem(ErrorClass.TRANSIENT, f"read failed during discovery: {exc}")
    if contradiction:
        return problem(ErrorClass.PARSE, contradiction)
    if hashed.stat is None:  # changed while read: this hash stands for no stat
        return where.ref(hashed.content_sha256, current.size)
    return where.ref(hashed.content_sha256, hashed.stat.size, hashed.stat, hashed.observed_ns)
