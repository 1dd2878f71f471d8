"""Allowed roots: the places a run may read documents from, write databases to and load models from.

Whoever can create a flow run on the Prefect API chooses `paths`, `db` and `model`; without a
fence they could index /etc, write a table anywhere the worker can, or load any directory as a
model. Every location is resolved first (symlinks and `..` on the local file system, `..`
segments in URLs) and must then lie inside one of the allowed roots, compared component by
component, so /data/docs does not admit /data/docs-private. Object-store and HTTP locations are
allowed by scheme, bucket (host) and key prefix the same way."""

from __future__ import annotations

import glob
import os
import posixpath
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from docflow.core.errors import DocflowSystemError
from docflow.core.locations import is_remote, local_path

_GLOB_CHARS = set("*?[")


class NotAllowed(DocflowSystemError):
    """A location outside the allowed roots: the run is refused before it touches anything."""


@dataclass(frozen=True)
class Location:
    """A resolved place: (scheme, bucket or host, path parts). Local paths have scheme ''."""

    scheme: str
    authority: str
    parts: tuple[str, ...]

    def within(self, root: Location) -> bool:
        return (
            (self.scheme, self.authority) == (root.scheme, root.authority)
            and self.parts[: len(root.parts)] == root.parts
        )

    def __str__(self) -> str:
        if not self.scheme:
            return "/" + "/".join(self.parts)
        return f"{self.scheme}://{self.authority}/" + "/".join(self.parts)


def locate(place: str) -> Location:
    """Where `place` really is. A glob is judged by its fixed leading directories (discovery
    refuses matches whose symlinks leave that directory); a local path by its real path."""
    if is_remote(place):
        url = urlsplit(place)
        return Location(url.scheme.lower(), url.netloc.lower(), _clean(url.path.split("/")))
    absolute = os.path.abspath(os.path.expanduser(local_path(place)))
    if _GLOB_CHARS & set(absolute) and not os.path.exists(absolute):
        absolute = _fixed_prefix(absolute)
    return Location("", "", Path(os.path.realpath(absolute)).parts[1:])


def _clean(segments: Iterable[str]) -> tuple[str, ...]:
    path = posixpath.normpath("/" + "/".join(s for s in segments if s))
    return tuple(p for p in path.split("/") if p)


def _fixed_prefix(pattern: str) -> str:
    fixed: list[str] = []
    for part in Path(pattern).parts:
        if _GLOB_CHARS & set(part) or glob.has_magic(part):
            break
        fixed.append(part)
    return str(Path(*fixed)) if fixed else os.sep


def check(places: Sequence[tuple[str, str]], roots: Sequence[str]) -> None:
    """Refuse the first (what, place) outside every root, naming both and the setting."""
    allowed = [locate(root) for root in roots]
    for what, place in places:
        where = locate(place)
        if not any(where.within(root) for root in allowed):
            raise NotAllowed(
                f"{what} {place!r} (resolved: {where}) is outside the allowed roots "
                f"({', '.join(roots)}); add its root to DOCFLOW_ALLOWED_ROOTS on the machine "
                "that runs the flow",
                stage="config",
            )
