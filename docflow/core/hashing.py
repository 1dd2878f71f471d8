"""sha256 of bytes read in blocks: one reader for discovery's hashing, the worker's snapshot
copy and the export manifest, so a file never hashes differently depending on who read it."""

from __future__ import annotations

import hashlib
from typing import BinaryIO

BLOCK = 1 << 20


def sha256_stream(reader: BinaryIO, copy_to: BinaryIO | None = None) -> tuple[str, int]:
    """(hex digest, bytes read) of what is left in `reader`, written on to `copy_to` if given."""
    digest, size = hashlib.sha256(), 0
    while block := reader.read(BLOCK):
        digest.update(block)
        size += len(block)
        if copy_to is not None:
            copy_to.write(block)
    return digest.hexdigest(), size


def sha256_file(path: str) -> str:
    with open(path, "rb") as handle:
        return sha256_stream(handle)[0]
