"""The source port: where documents come from.

A source lists the candidates under a location with whatever version it can get cheaply,
examines one (reusing the recorded hash when that version proves the bytes unchanged, else
reading and hashing them) and copies one into a private file for the parser. Discovery keeps
everything else: ignore rules, include/exclude, document ids, fingerprints and problems. The
adapter for a location is chosen by its URI scheme (docflow.adapters.sources)."""

from __future__ import annotations

from typing import BinaryIO, Protocol, runtime_checkable

from docflow.core.sourcing import Copied, Examined, Listed, Listing, Unreadable
from docflow.core.versions import Recorded


@runtime_checkable
class Source(Protocol):
    def list(self, location: str) -> Listing:
        """Raises docflow.core.discover.SourceError when the location is missing or unreachable."""

    def examine(
        self, listed: Listed, listing: Listing, recorded: Recorded | None, rehash: bool, defer: bool
    ) -> Examined | Unreadable | None:
        """`recorded`: the ledger's last hash and version; `rehash`: ignore it; `defer`: a
        changed document need not be read here (the worker reads it anyway). None: the
        candidate vanished after it was listed and is not part of the corpus."""

    def copy(self, path: str, writer: BinaryIO) -> Copied:
        """A document that is gone raises an error docflow.core.errors.classify calls `missing`."""
