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
_EMPTY = pa.table({
    name: pa.array([], pa.string() if name in ("doc_id", "content_sha256", "source_version") else pa.int64())
    for name in LEDGER_COLUMNS
})


class RecordedVersions:
    """doc_id -> Recorded, from one columnar scan of the ledger. The integer columns stay one
    NumPy array (a row per document); only the documents asked about become objects."""

    def __init__(self, table: pa.Table | None = None) -> None:
        table = table if table is not None else _EMPTY
        self._index = {doc_id: i for i, doc_id in enumerate(table.column("doc_id").to_pylist())}
        self._sha = table.column("content_sha256").to_pylist()
        self._version = table.column("source_version").to_pylist()
        self._ints = np.column_stack([
            table.column(name).fill_null(0).to_numpy().astype(np.int64, copy=False)
            for name in ("size", "mtime_ns", "ctime_ns", "inode", "observed_ns")
        ])

    def __len__(self) -> int:
        return len(self._index)

    def get(self, doc_id: str) -> Recorded | None:
        i = self._index.get(doc_id)
        if i is None:
            return None
        size, mtime_ns, ctime_ns, inode, observed_ns = self._ints[i].tolist()
        return Recorded(self._sha[i] or "", FileStat(size, mtime_ns, ctime_ns, inode), self._version[i] or "", observed_ns)


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
