"""Versioned, resumable, re-importable snapshots of a chunk table (Capability.PINNED_VERSIONS).

An export pins one table version at its start, so it is a consistent snapshot even while an
ingest keeps writing (ingest compaction keeps old versions for days). Rows leave in fixed-size
parts read by offset from that version, so memory is bounded by one part and part N always
holds the same rows: a killed export resumes by verifying the parts already written (sha256 in
a state file) and writing only the rest. `manifest.json` makes the directory self-describing
(table, version, schema, model, pipeline fingerprint, checksums) and is what import checks."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from docflow.adapters.stores.lancedb import database
from docflow.core.errors import DocflowSystemError
from docflow.core.export import atomic_write_text, json_default
from docflow.core.hashing import sha256_file
from docflow.core.locations import is_remote, local_path
from docflow.ports.store import ExportResult, PartInfo

if TYPE_CHECKING:
    from docflow.adapters.stores.lancedb.store import LanceStore

FORMATS = ("parquet", "jsonl")
MANIFEST = "manifest.json"
STATE = ".export-state.json"
FORMAT_VERSION = 1


def pinned_table(store: LanceStore, version: int | None):
    table = store.open()
    if table is None:
        raise DocflowSystemError(f"no table {store.table!r} in {store.location}", stage="export")
    pinned = version if version is not None else table.version
    try:
        table.checkout(pinned)
    except Exception as exc:  # noqa: BLE001 - an unknown version is a usage error
        raise DocflowSystemError(f"table {store.table!r} has no version {pinned}: {exc}", stage="export") from exc
    return table, pinned


def _write_part(data: pa.Table, path: str, fmt: str) -> None:
    tmp = f"{path}.tmp"
    if fmt == "parquet":
        pq.write_table(data, tmp)
    else:
        with open(tmp, "w", encoding="utf-8") as handle:
            for row in data.to_pylist():
                handle.write(json.dumps(row, default=json_default, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def _load_state(out_dir: str) -> dict:
    try:
        with open(os.path.join(out_dir, STATE), encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}


def export_table(
    store: LanceStore,
    out_dir: str,
    fmt: str = "parquet",
    version: int | None = None,
    part_rows: int = 10_000,
    on_part: Callable[[int, int], None] | None = None,
) -> ExportResult:
    if fmt not in FORMATS:
        raise DocflowSystemError(f"unknown export format {fmt!r}; use one of {FORMATS}", stage="export")
    os.makedirs(out_dir, exist_ok=True)
    # Only an unfinished export of this very table (same database, same generation) resumes;
    # a finished one, or one of another table that happens to share the name, starts over.
    identity = {
        "source": _source_id(store.location),
        "table": store.table,
        "generation": database.table_metadata(pinned_table(store, None)[0]).get("generation"),
        "format": fmt,
        "part_rows": part_rows,
    }
    state = _load_state(out_dir)
    resumable = not state.get("complete") and all(state.get(k) == v for k, v in identity.items())
    if resumable and version is None:
        version = state["version"]  # a resumed export keeps the version it pinned
    table, pinned = pinned_table(store, version)
    if not resumable or state.get("version") != pinned:
        state = {**identity, "version": pinned, "parts": {}}
    total = table.count_rows()
    parts = max(1, -(-total // part_rows))
    files: list[PartInfo] = []
    written = reused = 0
    for index in range(parts):
        name = f"part-{index:05d}.{fmt}"
        path = os.path.join(out_dir, name)
        known = state["parts"].get(str(index))
        if known and os.path.exists(path) and sha256_file(path) == known["sha256"]:
            reused += 1
            files.append(PartInfo(**known))
        else:
            start = index * part_rows
            offsets = list(range(start, min(total, start + part_rows)))
            data = table.take_offsets(offsets).to_arrow() if offsets else table.schema.empty_table()
            _write_part(data, path, fmt)
            info = PartInfo(name, data.num_rows, sha256_file(path))
            state["parts"][str(index)] = asdict(info)
            atomic_write_text(os.path.join(out_dir, STATE), json.dumps(state))
            written += 1
            files.append(info)
        if on_part is not None:
            on_part(index + 1, parts)
    result = ExportResult(out_dir, store.table, pinned, total, written, reused, tuple(files))
    _write_manifest(result, table, store.location, fmt)
    atomic_write_text(os.path.join(out_dir, STATE), json.dumps({**state, "complete": True}))
    _remove_strays(out_dir, {f.file for f in result.files})
    return result


def _source_id(db_uri: str) -> str:
    return db_uri if is_remote(db_uri) else os.path.abspath(local_path(db_uri))


def _remove_strays(out_dir: str, keep: set[str]) -> None:
    """A killed export leaves `*.tmp` files, and an export over an older, larger snapshot
    leaves its surplus parts: neither is in the manifest, so neither may stay to confuse a
    reader or a copy of the directory."""
    for name in os.listdir(out_dir):
        stray_part = name.startswith("part-") and name not in keep
        if stray_part or name.endswith(".tmp"):
            os.remove(os.path.join(out_dir, name))


def _write_manifest(result: ExportResult, table, db_uri: str, fmt: str) -> None:
    meta = database.table_metadata(table)
    manifest = {
        "format_version": FORMAT_VERSION,
        "table": result.table,
        "source_db": db_uri,
        "version": result.version,
        "rows": result.rows,
        "format": fmt,
        "schema": [{"name": f.name, "type": str(f.type)} for f in table.schema],
        "arrow_schema": table.schema.serialize().to_pybytes().hex(),
        "embedding_model": meta.get("pipeline", {}).get("model_name"),
        "model_revision": meta.get("pipeline", {}).get("model_revision"),
        "pipeline_fingerprint": meta.get("pipeline", {}).get("fingerprint"),
        "dim": meta.get("dim"),
        "files": [asdict(f) for f in result.files],
        "created_at": datetime.now(UTC).isoformat(),
    }
    atomic_write_text(os.path.join(result.out_dir, MANIFEST), json.dumps(manifest, indent=2))


def read_manifest(snapshot_dir: str) -> dict:
    try:
        with open(os.path.join(snapshot_dir, MANIFEST), encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError) as exc:
        raise DocflowSystemError(f"{snapshot_dir} is not a docflow snapshot: {exc}", stage="import") from exc


def verify_snapshot(snapshot_dir: str, manifest: dict) -> None:
    for part in manifest["files"]:
        path = os.path.join(snapshot_dir, part["file"])
        if not os.path.exists(path) or sha256_file(path) != part["sha256"]:
            raise DocflowSystemError(f"snapshot file {part['file']} is missing or corrupt", stage="import")


def _read_part(path: str, fmt: str, schema: pa.Schema) -> pa.Table:
    if fmt == "parquet":
        return pq.read_table(path).cast(schema)
    with open(path, encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    return pa.Table.from_pylist(rows, schema=schema)


def import_snapshot(store: LanceStore, snapshot_dir: str, force: bool = False) -> int:
    """Load a snapshot into the store's table (created if missing). Rows merge on chunk_id, so
    an interrupted import is simply run again."""
    manifest = read_manifest(snapshot_dir)
    verify_snapshot(snapshot_dir, manifest)
    schema = pa.ipc.read_schema(pa.py_buffer(bytes.fromhex(manifest["arrow_schema"])))
    existing = store.open()
    if existing is not None and not force:
        pipeline = database.table_metadata(existing).get("pipeline", {})
        for key, theirs in (("model_name", "embedding_model"), ("fingerprint", "pipeline_fingerprint")):
            if pipeline.get(key) != manifest.get(theirs):
                raise DocflowSystemError(
                    f"snapshot {theirs} {manifest.get(theirs)!r} does not match table "
                    f"{store.table!r} ({pipeline.get(key)!r}); use --force to import anyway",
                    stage="import",
                )
    if existing is None:
        meta = json.loads((schema.metadata or {}).get(database.METADATA_KEY, b"{}"))
        meta["generation"] = uuid.uuid4().hex  # a new table: no checkpoints carry over
        with database.write_lock(store.location):
            existing = database.ensure_table(store.db, store.table, database.with_metadata(schema, meta))
    rows = 0
    for part in manifest["files"]:
        data = _read_part(os.path.join(snapshot_dir, part["file"]), manifest["format"], existing.schema)
        with database.write_lock(store.location):
            database.merge(existing, "chunk_id", data)
        rows += data.num_rows
    return rows
