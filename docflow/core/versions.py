"""Cheap versions: whether a document's bytes must be read again, decided from metadata alone.

The content fingerprint still decides "changed"; a cheap version only decides whether the bytes
have to be hashed to learn it. A local file is compared like git compares its index: the
`(size, mtime_ns, ctime_ns, inode)` observed when its bytes were last hashed, recorded in the
ledger next to their sha256, against the file's stat now. Equal: the recorded sha256 is reused
and nothing is read. Different (a touch, a rewrite, a replaced file): the file is hashed, and a
touch alone re-processes nothing because the hash is unchanged. An object store's listing
carries a version per object (its version id, else its ETag) and size: equal to the recorded
ones, the recorded sha256 is reused without a GET.

Racily clean: a file's timestamps come from a clock with a granularity (a jiffy on Linux, 1 s
or 2 s on some filesystems), so a file rewritten with the same size within the same tick as
its last hashing keeps an identical stat although its bytes changed. A recorded stat therefore
proves nothing when the file's mtime or ctime lies within RACY_WINDOW_NS of the moment the
stat was observed (`observed_ns`, taken after the hashing read ended): such a file is hashed
again, however equal its stat. Once it has been hashed with an older mtime it is clean again."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa

from docflow.core.hashing import sha256_stream
from docflow.core.models import DocRef

# Wider than the coarsest timestamp granularity in common use (FAT's 2 s).
RACY_WINDOW_NS = 2_000_000_000


@dataclass(frozen=True)
class FileStat:
    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int

    @classmethod
    def of(cls, info: os.stat_result) -> FileStat:
        return cls(info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)


@dataclass(frozen=True)
class Recorded:
    """What the ledger holds about the bytes last hashed for a document."""

    content_sha256: str
    stat: FileStat
    version: str
    observed_ns: int


@dataclass(frozen=True)
class Hashed:
    content_sha256: str
    # The stat of the open file before and after reading, when they agreed; None when the
    # file changed while it was read (the hash then stands for no stat at all).
    stat: FileStat | None
    observed_ns: int


LEDGER_COLUMNS = ("doc_id", "content_sha256", "size", "mtime_ns", "ctime_ns", "inode", "source_version", "observed_ns")
LEDGER_VERSIONS_SCHEMA = pa.schema([
    (name, pa.string() if name in ("doc_id", "content_sha256", "source_version") else pa.int64())
    for name in LEDGER_COLUMNS
])


class RecordedVersions:
    """doc_id -> Recorded, from one columnar scan of the ledger, at a few dozen bytes per
    document: the columns stay the scan's Arrow buffers, found through their doc_ids' hashes
    in a sorted NumPy array, and only a document asked about becomes objects. A dict of
    doc_id strings and a list of hash strings cost several times that, held through the whole
    plan of a run. A hash match is confirmed against the stored doc_id."""

    def __init__(self, table: pa.Table | None = None) -> None:
        table = table if table is not None else LEDGER_VERSIONS_SCHEMA.empty_table()
        hashes = np.fromiter(_hashes(table.column("doc_id")), np.int64, table.num_rows)
        self._rows = np.argsort(hashes, kind="stable")
        self._hashes = hashes[self._rows]
        self._ids = _Strings(table.column("doc_id"))
        self._sha = _Strings(table.column("content_sha256"))
        self._version = _Strings(table.column("source_version"))
        self._ints = np.column_stack([
            table.column(name).fill_null(0).to_numpy().astype(np.int64, copy=False)
            for name in ("size", "mtime_ns", "ctime_ns", "inode", "observed_ns")
        ])

    def __len__(self) -> int:
        return len(self._hashes)

    def __contains__(self, doc_id: object) -> bool:
        return isinstance(doc_id, str) and self._row(doc_id) is not None

    def __iter__(self) -> Iterator[str]:
        """The recorded doc_ids, one string at a time."""
        return (self._ids[i] for i in range(len(self._hashes)))

    def get(self, doc_id: str) -> Recorded | None:
        i = self._row(doc_id)
        if i is None:
            return None
        size, mtime_ns, ctime_ns, inode, observed_ns = self._ints[i].tolist()
        return Recorded(self._sha[i], FileStat(size, mtime_ns, ctime_ns, inode), self._version[i], observed_ns)

    def _row(self, doc_id: str) -> int | None:
        wanted = _key(doc_id)
        i = int(np.searchsorted(self._hashes, wanted))
        while i < len(self._hashes) and self._hashes[i] == wanted:
            row = int(self._rows[i])
            if self._ids[row] == doc_id:
                return row
            i += 1
        return None


_key = hash  # any str -> int64 function will do: a match is confirmed against the doc_id


def _hashes(column: pa.ChunkedArray, step: int = 65_536):
    """The doc_ids' hashes, a slice of Python strings at a time."""
    for start in range(0, len(column), step):
        yield from map(_key, column.slice(start, step).to_pylist())


class _Strings:
    """Row access to an Arrow string column without a Python string per row ("" for null)."""

    def __init__(self, column: pa.ChunkedArray) -> None:
        array = column.combine_chunks()  # no copy for the one chunk of a compacted table
        if array.null_count:
            array = array.fill_null("")
        _, offsets, data = array.buffers()
        width = np.int64 if pa.types.is_large_string(array.type) else np.int32
        offsets = np.frombuffer(offsets, width) if offsets is not None else np.zeros(1, width)
        self._offsets = offsets[array.offset : array.offset + len(array) + 1]
        self._data = memoryview(data) if data is not None else memoryview(b"")

    def __getitem__(self, i: int) -> str:
        return str(self._data[self._offsets[i] : self._offsets[i + 1]], "utf-8")


def racily_clean(recorded: Recorded) -> bool:
    newest = max(recorded.stat.mtime_ns, recorded.stat.ctime_ns)
    return newest >= recorded.observed_ns - RACY_WINDOW_NS


def reusable_for_file(recorded: Recorded | None, stat: FileStat) -> str | None:
    """The recorded sha256 when the file provably holds the bytes it was computed from."""
    if recorded is None or not recorded.content_sha256 or recorded.observed_ns <= 0:
        return None
    if recorded.stat != stat or racily_clean(recorded):
        return None
    return recorded.content_sha256


def reusable_for_object(recorded: Recorded | None, version: str, size: int) -> str | None:
    """The recorded sha256 when the store lists the same object version (and size)."""
    if recorded is None or not recorded.content_sha256 or not version:
        return None
    if recorded.version != version or recorded.stat.size != size:
        return None
    return recorded.content_sha256


def hash_file(path: str) -> Hashed:
    """sha256 of the file's bytes with the stat of the open file around the read."""
    with open(path, "rb") as handle:
        before = FileStat.of(os.fstat(handle.fileno()))
        digest, _ = sha256_stream(handle)
        after = FileStat.of(os.fstat(handle.fileno()))
    observed = time.time_ns()
    return Hashed(digest, before if before == after else None, observed)


def stamped(doc: DocRef, stat: FileStat | None, observed_ns: int, version: str) -> DocRef:
    """`doc` carrying the cheap version its bytes were read with (none: a stat that changed
    during the read, which the next run then cannot trust)."""
    stat = stat or FileStat(doc.size, 0, 0, 0)
    return replace(doc, mtime_ns=stat.mtime_ns, ctime_ns=stat.ctime_ns, inode=stat.inode,
                   observed_ns=observed_ns if stat.mtime_ns else 0, version=version)
