"""Local files: walk, glob or a single path; the stat quick check; hashing and copying.

A file whose stat is the one its recorded hash was computed with is not read
(docflow.core.versions explains when that proves the bytes unchanged). Nothing outside the
location is read: directory symlinks are not descended, and a file symlink whose target
leaves the root is reported, not followed."""

from __future__ import annotations

import glob
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from docflow.core import sniff
from docflow.core.discover import SourceError, glob_root, is_glob, is_ignored_name
from docflow.core.errors import MissingError
from docflow.core.hashing import sha256_stream
from docflow.core.models import ErrorClass
from docflow.core.sourcing import Copied, Examined, Listed, Listing, Unreadable
from docflow.core.versions import FileStat, Recorded, hash_file, reusable_for_file


class LocalSource:
    def list(self, location: str) -> Listing:
        location = os.path.abspath(os.path.expanduser(location))
        if is_glob(location) and not os.path.exists(location):
            root = glob_root(location)
            matches = sorted(glob.glob(location, recursive=True))
            return _listing(root, [m for m in matches if not _hidden_below(m, root)])
        if os.path.isdir(location):
            return _listing(location, sorted(_walk(location)), walked=True)
        if os.path.lexists(location):
            return _listing(os.path.dirname(location), [location])
        raise SourceError(f"source does not exist: {location}")

    def examine(
        self, listed: Listed, listing: Listing, recorded: Recorded | None, rehash: bool, defer: bool
    ) -> Examined | Unreadable | None:
        """A regular file found by the walk lies inside the root without resolving its path."""
        path = listed.path
        try:
            info = os.lstat(path)
        except OSError:
            return None
        real = path
        if not (listing.walked and stat.S_ISREG(info.st_mode)):
            try:
                real = os.path.realpath(path, strict=True)
            except OSError as exc:
                if os.path.islink(path):
                    return Unreadable(ErrorClass.MISSING, f"broken or looping symlink: {exc.strerror or exc}")
                return None
            real_root = os.path.realpath(listing.root)
            if os.path.commonpath([real, real_root]) != real_root:
                return Unreadable(ErrorClass.MISSING, "symlink points outside the source root; not read")
            try:
                info = os.stat(real)
            except OSError:
                return None
        if not stat.S_ISREG(info.st_mode):
            return Unreadable(ErrorClass.PARSE, "not a regular file (a directory, FIFO or device?)")
        current = FileStat.of(info)
        reused = None if rehash else reusable_for_file(recorded, current)
        if reused is not None:
            return Examined(reused, current.size, current, recorded.observed_ns)
        try:
            hashed = hash_file(real)
            head = sniff.head(real)
        except PermissionError as exc:
            return Unreadable(ErrorClass.MISSING, f"permission denied: {exc.strerror}")
        except FileNotFoundError:
            return None
        except OSError as exc:
            return Unreadable(ErrorClass.TRANSIENT, f"read failed during discovery: {exc}")
        if hashed.stat is None:  # changed while read: this hash stands for no stat
            return Examined(hashed.content_sha256, current.size, head=head, read=True)
        return Examined(hashed.content_sha256, hashed.stat.size, hashed.stat, hashed.observed_ns, head=head, read=True)

    def copy(self, path: str, writer: BinaryIO) -> Copied:
        try:
            reader = open(path, "rb")
        except FileNotFoundError as exc:
            raise MissingError(f"file vanished before parsing: {path}", stage="parse") from exc
        with reader:
            before = FileStat.of(os.fstat(reader.fileno()))
            digest, size = sha256_stream(reader, writer)
            after = FileStat.of(os.fstat(reader.fileno()))
        return Copied(digest, size, before if before == after else None)


def _listing(root: str, paths: list[str], walked: bool = False) -> Listing:
    """The candidates are made one at a time as discovery takes them, not held all at once."""
    return Listing(root, (Listed(p) for p in paths), walked)


def _hidden_below(path: str, root: str) -> bool:
    return any(is_ignored_name(part) for part in Path(os.path.relpath(path, root)).parts)


def _walk(root: str) -> Iterator[str]:
    """Directory symlinks are not descended (no loops, no escaping the root); file symlinks are
    yielded and checked in `examine`."""
    for directory, subdirs, files in os.walk(root, followlinks=False, onerror=None):
        subdirs[:] = [d for d in subdirs if not is_ignored_name(d)]
        for name in files:
            if not is_ignored_name(name):
                yield os.path.join(directory, name)
        for name in subdirs:
            full = os.path.join(directory, name)
            if os.path.islink(full):
                yield full
