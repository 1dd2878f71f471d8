"""Which table versions of a local LanceDB database cannot be read, and the way back.

LanceDB never rewrites an older version's manifest, so a damaged newest version (a zeroed or
truncated manifest after a disk fault) leaves the previous one intact: moving the damaged
manifest aside makes it current again."""

from __future__ import annotations

from pathlib import Path

from docflow.adapters.stores.lancedb import database
from docflow.core.errors import is_store_fault
from docflow.core.locations import is_remote, local_path


def unreadable_versions(db_uri: str) -> list[str]:
    """For each local table whose newest version will not open, or opens as another (a
    zeroed manifest reads as an empty version 0): what is wrong and the command that makes
    the previous version current again."""
    if is_remote(db_uri) or not Path(local_path(db_uri)).is_dir():
        return []
    root = Path(local_path(db_uri))
    db = database.connect(str(root), {})
    found = []
    for table_dir in sorted(root.glob("*.lance")):
        manifests = sorted(table_dir.glob("_versions/*.manifest"), key=_manifest_version)
        if not manifests:
            continue
        newest, version = manifests[-1], _manifest_version(manifests[-1])
        try:
            opened = db.open_table(table_dir.stem).version
        except Exception as exc:  # noqa: BLE001 - the very failure being described
            if not is_store_fault(exc):
                continue
            detail = _text_head(exc)
        else:
            if opened >= version:
                continue
            detail = f"it reads as version {opened}"
        way_back = (
            f"`mv '{newest}' '{newest}.corrupt'` makes version {_manifest_version(manifests[-2])} current again"
            if len(manifests) > 1
            else "no earlier version is kept: restore the table from a snapshot (docflow import)"
        )
        found.append(f"table {table_dir.stem}: version {version} cannot be read ({detail}; {newest}); {way_back}")
    return found


def _text_head(exc: BaseException) -> str:
    return str(exc).splitlines()[0].split(", /")[0][:200]


def _manifest_version(path: Path) -> int:
    """Lance names manifests by version, or (newer layout) by u64::MAX - version so the newest
    sorts first."""
    number = int(path.stem)
    return number if number < 2**63 else 2**64 - 1 - number
