"""The Source adapters, chosen by a location's URI scheme: plain paths and file:// are local
files, every other scheme goes to fsspec (s3, gs, http(s), ... whichever fsspec has installed).
A source for another scheme is one module and one entry in SCHEMES."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from docflow.adapters.sources.fsspec import FsspecSource
from docflow.adapters.sources.local import LocalSource
from docflow.core.locations import is_remote
from docflow.ports.source import Source


@dataclass(frozen=True)
class Sources:
    """location -> the Source that reads it, built from one run's settings: small and
    picklable, so the flow's discovery and the workers' copies read alike."""

    remote_timeout_s: float

    def __call__(self, location: str) -> Source:
        scheme = urlsplit(location).scheme.lower() if is_remote(location) else "file"
        return SCHEMES.get(scheme, _fsspec)(self)


def _fsspec(sources: Sources) -> Source:
    return FsspecSource(sources.remote_timeout_s)


SCHEMES: dict[str, Callable[[Sources], Source]] = {"file": lambda sources: LocalSource()}


def unreadable_reason(location: str) -> str | None:
    """Why this installation cannot read `location` (a URL scheme no installed source or fsspec
    file system handles), or None; lets a block refuse it when saved, not at run time."""
    if not is_remote(location):
        return None
    scheme = urlsplit(location).scheme.lower()
    if scheme in SCHEMES:
        return None
    import fsspec

    try:
        fsspec.get_filesystem_class(scheme)
    except (ValueError, ImportError) as exc:
        return f"docflow cannot read {scheme}:// here ({exc})"
    return None
