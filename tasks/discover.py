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

from docflow.models import DocRef, ErrorClass
from tasks import remote, sniff
from tasks.retry import PolicyExhausted, RetryPolicies, call_with_policy

# Extension -> document type (tasks.parse picks the partitioner from it). README's formats
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
_HASH_BLOCK = 1 << 20


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


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def document_fingerprint(content_sha256: str, pipeline_fingerprint: str) -> str:
    return hashlib.sha256(f"{content_sha256}:{pipeline_fingerprint}".encode()).hexdigest()


def discover(
    sources: Iterable[str],
    pipeline_fingerprint: str,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
) -> Discovery:
    include, exclude = tuple(include), tuple(exclude)
    documents: dict[str, DocRef] = {}
    problems: list[DiscoveryProblem] = []
    by_reason: Counter[str] = Counter()
    by_extension: Counter[str] = Counter()
    for root, candidates in _expand_sources(sources):
        is_remote = remote.is_url(root)
        real_root = root if is_remote else os.path.realpath(root)
        for path in candidates:
            doc_id = path[len(root):].lstrip("/") if is_remote else Path(os.path.relpath(path, root)).as_posix()
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
            inspect = _inspect_remote if is_remote else _inspect
            found = inspect(path, doc_id, root, real_root, suffix, pipeline_fingerprint)
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


def _storable(text: str) -> str:
    """`text` with the undecodable bytes of a file name as \\xNN escapes. Python hands such
    bytes over as lone surrogates, which no UTF-8 store accepts: LanceDB, the ledger and the
    checkpoint keys would fail on them and stop the whole batch."""
    return os.fsencode(text).decode("utf-8", "backslashreplace")


def _expand_sources(sources: Iterable[str]) -> Iterator[tuple[str, list[str]]]:
    for source in sources:
        if remote.is_url(source):
            try:
                yield remote.list_documents(source)
            except Exception as exc:  # noqa: BLE001 - any listing failure: unreachable
                raise SourceError(f"source unreachable: {source}: {type(exc).__name__}: {exc}") from exc
            continue
        source = os.path.abspath(os.path.expanduser(source))
        if _GLOB_CHARS & set(source) and not os.path.exists(source):
            root = _glob_root(source)
            matches = sorted(glob.glob(source, recursive=True))
            yield root, [m for m in matches if not _hidden_below(m, root)]
        elif os.path.isdir(source):
            yield source, sorted(_walk(source))
        elif os.path.lexists(source):
            yield os.path.dirname(source), [source]
        else:
            raise SourceError(f"source does not exist: {source}")


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


def _inspect_remote(
    url: str, doc_id: str, root: str, _real_root: str, suffix: str, pipeline_fp: str
) -> DocRef | DiscoveryProblem:
    """A remote document is fingerprinted by its bytes like a local one (ETags and mtimes are
    not reliable across servers); fetching follows the retry policies, so a flaky server
    costs retries here, not a missing document."""
    try:
        data = call_with_policy(lambda: remote.fetch(url), stage="discover", policies=RetryPolicies()).value
    except PolicyExhausted as exhausted:
        return DiscoveryProblem(doc_id, url, exhausted.error.error_class, exhausted.error.message)
    contradiction = sniff.contradiction(data[: sniff.HEAD_BYTES], SUPPORTED_TYPES[suffix], suffix)
    if contradiction:
        return DiscoveryProblem(doc_id, url, ErrorClass.PARSE, contradiction)
    content_sha = hashlib.sha256(data).hexdigest()
    return DocRef(
        doc_id=doc_id,
        path=url,
        root=root,
        size=len(data),
        mtime_ns=0,
        content_sha256=content_sha,
        fingerprint=document_fingerprint(content_sha, pipeline_fp),
        doc_type=SUPPORTED_TYPES[suffix],
    )


def _inspect(
    path: str, doc_id: str, root: str, real_root: str, suffix: str, pipeline_fp: str
) -> DocRef | DiscoveryProblem | None:
    def problem(error_class: ErrorClass, message: str) -> DiscoveryProblem:
        return DiscoveryProblem(doc_id, path, error_class, message)

    try:
        real = os.path.realpath(path, strict=True)
    except OSError as exc:
        if os.path.islink(path):
            return problem(ErrorClass.MISSING, f"broken or looping symlink: {exc.strerror or exc}")
        return None  # vanished while we listed the directory: not part of the corpus any more
    if os.path.commonpath([real, real_root]) != real_root:
        return problem(ErrorClass.MISSING, "symlink points outside the source root; not read")
    try:
        info = os.stat(real)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return problem(ErrorClass.PARSE, "not a regular file (a directory, FIFO or device?)")
    try:
        content_sha = file_sha256(real)
        contradiction = sniff.contradiction(sniff.head(real), SUPPORTED_TYPES[suffix], suffix)
    except PermissionError as exc:
        return problem(ErrorClass.MISSING, f"permission denied: {exc.strerror}")
    except FileNotFoundError:
        return None
    except OSError as exc:
        return problem(ErrorClass.TRANSIENT, f"read failed during discovery: {exc}")
    if contradiction:
        return problem(ErrorClass.PARSE, contradiction)
    return DocRef(
        doc_id=doc_id,
        path=path,
        root=root,
        size=info.st_size,
        mtime_ns=info.st_mtime_ns,
        content_sha256=content_sha,
        fingerprint=document_fingerprint(content_sha, pipeline_fp),
        doc_type=SUPPORTED_TYPES[suffix],
    )
