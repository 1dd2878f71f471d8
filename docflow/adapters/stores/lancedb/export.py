"""Versioned, resumable, re-importable snapshots of a chunk table.

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
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq

from docflow.adapters.stores.lancedb import ledger
from docflow.adapters.stores.lancedb import store
from docflow.core.errors import DocflowSystemError
from docflow.core.hashing import sha256_file

FORMATS = ("parquet", "jsonl")
MANIFEST = "manifest.json"
STATE = ".export-state.json"
FORMAT_VERSION = 1

HISTORY_SCHEMA = pa.schema(
    [
        pa.field("export_id", pa.string(), nullable=False),
        pa.field("started_at", pa.timestamp("us", tz="UTC")),
        pa.field("duration_s", pa.float64()),
        pa.field("table", pa.string()),
        pa.field("version", pa.int64()),
        pa.field("out_dir", pa.string()),
        pa.field("format", pa.string()),
        pa.field("rows", pa.int64()),
        pa.field("parts_written", pa.int32()),
        pa.field("parts_reused", pa.int32()),
    ]
)


@dataclass(frozen=True)
class PartInfo:
    file: str
    rows: int
    sha256: str


@dataclass
class ExportResult:
    out_dir: str
    table: str
    version: int
    rows: int
    parts_written: int
    parts_reused: int
    files: list[PartInfo] = field(default_factory=list)


def _atomic_write_text(path: str, text: str) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def pinned_table(db_uri: str, table_name: str, version: int | None):
    table = store.open_table(store.connect(db_uri), table_name)
    if table is None:
        raise DocflowSystemError(f"no table {table_name!r} in {db_uri}", stage="export")
    pinned = version if version is not None else table.version
    try:
        table.checkout(pinned)
    except Exception as exc:  # noqa: BLE001 - an unknown version is a usage error
        raise DocflowSystemError(f"table {table_name!r} has no version {pinned}: {exc}", stage="export") from exc
    return table, pinned


def _write_part(data: pa.Table, path: str, fmt: str) -> None:
    tmp = f"{path}.tmp"
    if fmt == "parquet":
        pq.write_table(data, tmp)
    else:
        with open(tmp, "w", encoding="utf-8") as handle:
            for row in data.to_pylist():
                handle.write(json.dumps(row, default=_json_default, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def _json_default(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _load_state(out_dir: str) -> dict:
    try:
        with open(os.path.join(out_dir, STATE), encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}


def export_table(
    db_uri: str,
    table_name: str,
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
        "source": _source_id(db_uri),
        "table": table_name,
        "generation": store.table_metadata(pinned_table(db_uri, table_name, None)[0]).get("generation"),
        "format": fmt,
        "part_rows": part_rows,
    }
    state = _load_state(out_dir)
    resumable = not state.get("complete") and all(state.get(k) == v for k, v in identity.items())
    if resumable and version is None:
        version = state["version"]  # a resumed export keeps the version it pinned
    table, pinned = pinned_table(db_uri, table_name, version)
    if not resumable or state.get("version") != pinned:
        state = {**identity, "version": pinned, "parts": {}}
    total = table.count_rows()
    parts = max(1, -(-total // part_rows))
    result = ExportResult(out_dir, table_name, pinned, total, 0, 0)
    for index in range(parts):
        name = f"part-{index:05d}.{fmt}"
        path = os.path.join(out_dir, name)
        known = state["parts"].get(str(index))
        if known and os.path.exists(path) and sha256_file(path) == known["sha256"]:
            result.parts_reused += 1
            result.files.append(PartInfo(**known))
        else:
            start = index * part_rows
            offsets = list(range(start, min(total, start + part_rows)))
            data = table.take_offsets(offsets).to_arrow() if offsets else table.schema.empty_table()
            _write_part(data, path, fmt)
            info = PartInfo(name, data.num_rows, sha256_file(path))
            state["parts"][str(index)] = asdict(info)
            _atomic_write_text(os.path.join(out_dir, STATE), json.dumps(state))
            result.parts_written += 1
            result.files.append(info)
        if on_part is not None:
            on_part(index + 1, parts)
    _write_manifest(result, table, db_uri, fmt)
    _atomic_write_text(os.path.join(out_dir, STATE), json.dumps({**state, "complete": True}))
    _remove_strays(out_dir, {f.file for f in result.files})
    return result


def _source_id(db_uri: str) -> str:
    return db_uri if "://" in db_uri and not db_uri.startswith("file://") else os.path.abspath(db_uri.removeprefix("file://"))


def _remove_strays(out_dir: str, keep: set[str]) -> None:
    """A killed export leaves `*.tmp` files, and an export over an older, larger snapshot
    leaves its surplus parts: neither is in the manifest, so neither may stay to confuse a
    reader or a copy of the directory."""
    for name in os.listdir(out_dir):
        stray_part = name.startswith("part-") and name not in keep
        if stray_part or name.endswith(".tmp"):
            os.remove(os.path.join(out_dir, name))


def _write_manifest(result: ExportResult, table, db_uri: str, fmt: str) -> None:
    meta = store.table_metadata(table)
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
    _atomic_write_text(os.path.join(result.out_dir, MANIFEST), json.dumps(manifest, indent=2))


def export_reports(db_uri: str, table_name: str, out_dir: str) -> list[str]:
    """The ledger (CSV) and the run history (JSON) beside the snapshot."""
    import pyarrow.csv as pacsv

    db = store.connect(db_uri)
    written = []
    ledger_table = store.open_table(db, f"{table_name}_ledger")
    if ledger_table is not None:
        path = os.path.join(out_dir, "ledger.csv")
        pacsv.write_csv(ledger.read_all(ledger_table), path)
        written.append(path)
    runs = ledger.recent_runs(store.open_table(db, f"{table_name}_runs"), limit=1_000_000)
    path = os.path.join(out_dir, "runs.json")
    _atomic_write_text(path, json.dumps(runs, default=_json_default, indent=2))
    written.append(path)
    return written


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


def import_snapshot(snapshot_dir: str, db_uri: str, table_name: str, force: bool = False) -> int:
    """Load a snapshot into `table_name` (created if missing). Rows merge on chunk_id, so an
    interrupted import is simply run again."""
    manifest = read_manifest(snapshot_dir)
    verify_snapshot(snapshot_dir, manifest)
    schema = pa.ipc.read_schema(pa.py_buffer(bytes.fromhex(manifest["arrow_schema"])))
    db = store.connect(db_uri)
    existing = store.open_table(db, table_name)
    if existing is not None and not force:
        pipeline = store.table_metadata(existing).get("pipeline", {})
        for key, theirs in (("model_name", "embedding_model"), ("fingerprint", "pipeline_fingerprint")):
            if pipeline.get(key) != manifest.get(theirs):
                raise DocflowSystemError(
                    f"snapshot {theirs} {manifest.get(theirs)!r} does not match table "
                    f"{table_name!r} ({pipeline.get(key)!r}); use --force to import anyway",
                    stage="import",
                )
    if existing is None:
        meta = json.loads((schema.metadata or {}).get(store.METADATA_KEY, b"{}"))
        meta["generation"] = uuid.uuid4().hex  # a new table: no checkpoints carry over
        schema = schema.with_metadata({store.METADATA_KEY: json.dumps(meta, sort_keys=True).encode()})
        existing = store.ensure_table(db, table_name, schema)
    rows = 0
    for part in manifest["files"]:
        data = _read_part(os.path.join(snapshot_dir, part["file"]), manifest["format"], existing.schema)
        if data.num_rows:
            with store.write_lock(db_uri):
                (
                    existing.merge_insert("chunk_id")
                    .when_matched_update_all()
                    .when_not_matched_insert_all()
                    .execute(data)
                )
        rows += data.num_rows
    return rows


def history_table_name(table_name: str) -> str:
    return f"{table_name}_exports"


def record_export(db_uri: str, result: ExportResult, export_id: str, started_at: datetime, duration_s: float) -> None:
    row = {
        "export_id": export_id,
        "started_at": started_at,
        "duration_s": round(duration_s, 3),
        "table": result.table,
        "version": result.version,
        "out_dir": os.path.abspath(result.out_dir),
        "format": result.files[0].file.rsplit(".", 1)[-1] if result.files else "",
        "rows": result.rows,
        "parts_written": result.parts_written,
        "parts_reused": result.parts_reused,
    }
    db = store.connect(db_uri)
    with store.write_lock(db_uri):
        history = store.ensure_table(db, history_table_name(result.table), HISTORY_SCHEMA)
        history.add(pa.Table.from_pylist([row], schema=HISTORY_SCHEMA))


def export_history(db_uri: str, table_name: str, limit: int = 20) -> list[dict]:
    history = store.open_table(store.connect(db_uri), history_table_name(table_name))
    if history is None:
        return []
    rows = history.to_arrow().to_pylist()
    rows.sort(key=lambda r: r["started_at"], reverse=True)
    return rows[:limit]
