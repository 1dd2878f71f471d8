"""The Chroma store: chunks in an embedded Chroma collection, the run state in SQLite beside it.

`--store chroma --db DIR` keeps one `chromadb.PersistentClient` directory. The chunk table is a
collection named like the table, cosine space (`hnsw:space`), so `1 - distance` is the same
score LanceDB's cosine search gives. docflow always hands Chroma its own vectors: collections are
opened with `embedding_function=None`, so Chroma's default embedding function (which would fetch
an ONNX model) is never built, and telemetry is off.

Chroma has no multi-row atomic replace and no pinned table versions, so instead:

- A chunk's record id carries its document's fingerprint (`doc_id#index@fingerprint`). A
  batch's replace first upserts the new chunks, then deletes the batch documents' records whose
  ids it did not just write (older fingerprints, or indexes beyond the new count). A kill between
  the two leaves a document with chunks of two fingerprints while its ledger row still names the
  old one (the ledger is written after the chunks): the next run cannot prove it finished
  (docflow.core.resume compares fingerprints and exact chunk indexes), redoes it, and the delete
  step removes the other fingerprint. Until then a search can see both versions; `docflow
  verify` names them as stale or duplicate chunks.
- Export and import need pinned versions: the store does not declare PINNED_VERSIONS, so they
  refuse with a message naming the capability. Chroma compacts by itself: no COMPACT either.

The ledger, runs and exports live in SQLite (`docflow-state.sqlite3` in the same directory), not
in Chroma: a batch's ledger rows must commit together and be updated in place by doc_id, and
status counts are a GROUP BY; a Chroma record needs a vector, and its metadata filters cannot
aggregate. Keeping the file in the Chroma directory means a backup or a deletion of the
directory carries chunks and state together, as with LanceDB.

Writers of one directory (the flow and every Dask worker of the host) are serialised by a file
lock, and every call looks the collection up again (about a millisecond), so a collection another
process created or dropped is seen. Only local directories: Chroma embedded has no object-store
backend, and a URL is refused."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa

from docflow.adapters.stores import StoreAdapter, default_name
from docflow.adapters.stores.staterows import (
    HISTORY_SCHEMA, LEDGER_SCHEMA, RUNS_SCHEMA, ledger_rows, outcome_of, run_row, table_names, version_rows,
)
from docflow.core.errors import DocflowSystemError
from docflow.core.locations import is_remote, local_path
from docflow.core.models import DocChunks, DocRef, DocStatus, LedgerEntry, Target
from docflow.core.versions import LEDGER_COLUMNS as VERSION_COLUMNS, RecordedVersions
from docflow.ports.state import ExportRecord, RecordedOutcome
from docflow.ports.store import StoredHit, TableInfo

META_KEY = "docflow"  # the collection metadata key holding generation, dim and pipeline (JSON)
LOCK_NAME = ".docflow-write.lock"
STATE_FILE = "docflow-state.sqlite3"
# Documents per `$in` filter: a batch, or one batch of a sync's deletions.
IDS_PER_FILTER = 500


def directory(uri: str) -> str:
    if is_remote(uri):
        raise DocflowSystemError(
            f"the chroma store keeps a local directory; {uri} is a URL (use --store {default_name()} for object storage)",
            stage="config",
        )
    path = local_path(uri)
    os.makedirs(path, exist_ok=True)
    return path


@contextlib.contextmanager
def write_lock(path: str, timeout_s: float = 600) -> Iterator[None]:
    from filelock import FileLock

    with FileLock(os.path.join(path, LOCK_NAME), timeout=timeout_s):
        yield


def client(path: str):
    import chromadb
    from chromadb.config import Settings

    return chromadb.PersistentClient(path=path, settings=Settings(anonymized_telemetry=False, allow_reset=False))


def record_id(doc_id: str, chunk_index: int, fingerprint: str) -> str:
    return f"{doc_id}#{chunk_index}@{fingerprint}"


def doc_filter(doc_ids: Sequence[str]) -> dict:
    return {"doc_id": {"$in": list(doc_ids)}}


def parts(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def metadata_of(doc: DocChunks, chunk, run_id: str) -> dict:
    """Chroma refuses an empty list as a value, so an absent key stands for None and for []."""
    meta = {"doc_id": doc.doc_id, "chunk_index": chunk.chunk_index, "fingerprint": doc.fingerprint,
            "source_path": doc.source_path, "doc_type": doc.doc_type, "run_id": run_id,
            "page": chunk.page, "title": chunk.title, "element_types": list(chunk.element_types) or None}
    return {k: v for k, v in meta.items() if v is not None}


def row_of(meta: Mapping, text: str | None) -> dict:
    """A chunk row with the columns LanceDB's chunk table has (chunk_id is doc_id#index)."""
    return {
        "chunk_id": f"{meta['doc_id']}#{meta['chunk_index']}",
        "doc_id": meta["doc_id"],
        "chunk_index": meta["chunk_index"],
        "text": text,
        "fingerprint": meta.get("fingerprint"),
        "source_path": meta.get("source_path"),
        "doc_type": meta.get("doc_type"),
        "page": meta.get("page"),
        "title": meta.get("title"),
        "element_types": list(meta.get("element_types") or []),
        "run_id": meta.get("run_id"),
    }


class ChromaStore:
    """The VectorStore of one Chroma collection; opens the directory on first use."""

    kind = "chroma"
    capabilities: frozenset = frozenset()

    def __init__(self, target: Target) -> None:
        self.location = target.db
        self.table = target.table
        self._path: str | None = None
        self._client = None

    @property
    def path(self) -> str:
        if self._path is None:
            self._path = directory(self.location)
        return self._path

    @property
    def client(self):
        """Built once per store object: building one costs tens of milliseconds."""
        if self._client is None:
            self._client = client(self.path)
        return self._client

    def _collection(self):
        """The collection as stored now (None before the first run created it)."""
        from chromadb.errors import NotFoundError

        try:
            return self.client.get_collection(self.table, embedding_function=None)
        except NotFoundError:
            return None

    def info(self) -> TableInfo | None:
        collection = self._collection()
        return None if collection is None else info_of(collection)

    def ensure(self, dim: int, pipeline: Mapping[str, object]) -> TableInfo:
        """The collection's metadata records the pipeline, the dimension and a generation id:
        checkpoints are keyed on the generation, so a dropped and recreated collection never
        inherits the old one's checkpoints."""
        with write_lock(self.path):
            collection = self._collection()
            if collection is None:
                meta = {"generation": uuid.uuid4().hex, "pipeline": dict(pipeline), "dim": dim}
                collection = self.client.create_collection(
                    self.table,
                    metadata={META_KEY: json.dumps(meta, sort_keys=True)},
                    configuration={"hnsw": {"space": "cosine"}},
                    embedding_function=None,
                )
        return info_of(collection)

    def replace_documents(
        self, doc_ids: Sequence[str], docs: Sequence[DocChunks], vectors: np.ndarray | None, run_id: str
    ) -> None:
        """Write the new chunks, then delete the documents' other records (see the module)."""
        if not doc_ids:
            return
        ids, texts, metas = [], [], []
        for doc in docs:
            for chunk in doc.chunks:
                ids.append(record_id(doc.doc_id, chunk.chunk_index, doc.fingerprint))
                texts.append(chunk.text)
                metas.append(metadata_of(doc, chunk, run_id))
        with write_lock(self.path):
            collection = self._require()
            if ids:
                self._check_dim(collection, vectors)
                batch = self.client.get_max_batch_size()
                embeddings = np.asarray(vectors, dtype=np.float32)
                for start in range(0, len(ids), batch):
                    end = start + batch
                    collection.upsert(ids=ids[start:end], embeddings=embeddings[start:end],
                                      documents=texts[start:end], metadatas=metas[start:end])
            written = set(ids)
            stale = [i for i in self._record_ids(collection, doc_ids) if i not in written]
            _delete(collection, stale)

    def delete_documents(self, doc_ids: Sequence[str]) -> int:
        if not doc_ids:
            return 0
        with write_lock(self.path):
            collection = self._collection()
            if collection is None:
                return 0
            ids = self._record_ids(collection, doc_ids)
            _delete(collection, ids)
            return len(ids)

    def read_columns(self, columns: Sequence[str], doc_ids: Iterable[str] | None = None) -> list[dict]:
        collection = self._collection()
        if collection is None:
            return []
        include = ["metadatas", "documents"] if "text" in columns else ["metadatas"]
        if doc_ids is None:
            found = [collection.get(include=include)]
        else:
            wanted = sorted(set(doc_ids))
            found = [collection.get(where=doc_filter(part), include=include) for part in parts(wanted, IDS_PER_FILTER)]
        rows = []
        for result in found:
            texts = result.get("documents") or [None] * len(result["ids"])
            for meta, text in zip(result["metadatas"], texts, strict=True):
                row = row_of(meta, text)
                rows.append({name: row[name] for name in columns})
        return rows

    def count(self) -> int:
        collection = self._collection()
        return collection.count() if collection is not None else 0

    def search(self, vector: np.ndarray, k: int) -> list[StoredHit]:
        collection = self._require()
        n = min(k, collection.count())
        if n <= 0:
            return []
        result = collection.query(
            query_embeddings=[np.asarray(vector, dtype=np.float32)],
            n_results=n,
            include=["metadatas", "documents", "distances"],
        )
        return [
            StoredHit(
                doc_id=meta["doc_id"],
                chunk_index=meta["chunk_index"],
                text=text,
                source_path=meta.get("source_path", ""),
                page=meta.get("page"),
                title=meta.get("title"),
                doc_type=meta.get("doc_type", ""),
                distance=float(distance),
            )
            for meta, text, distance in zip(
                result["metadatas"][0], result["documents"][0], result["distances"][0], strict=True
            )
        ]

    def compact(self) -> None:
        """Chroma compacts its own log into the index; nothing to do."""

    def damage(self) -> list[str]:
        return []

    def fault_hint(self) -> str:
        return f"Chroma keeps no earlier versions; restore {self.location} from a backup, or ingest again into a new --db"

    def _require(self):
        collection = self._collection()
        if collection is None:
            raise DocflowSystemError(f"no table {self.table!r} in {self.location}; run docflow ingest first")
        return collection

    @staticmethod
    def _check_dim(collection, vectors: np.ndarray | None) -> None:
        """Chroma fixes a collection's dimension at its first write only; the recorded one is
        enforced from the start, like LanceDB's fixed-size vector column."""
        dim = info_of(collection).dim
        got = None if vectors is None or np.ndim(vectors) != 2 else np.shape(vectors)[1]
        if dim is not None and got != dim:
            raise DocflowSystemError(
                f"table {collection.name!r} holds {dim}-dimensional vectors; refusing vectors of shape "
                f"{np.shape(vectors) if vectors is not None else None}",
                stage="write",
            )

    @staticmethod
    def _record_ids(collection, doc_ids: Sequence[str]) -> list[str]:
        ids: list[str] = []
        for part in parts(list(doc_ids), IDS_PER_FILTER):
            ids.extend(collection.get(where=doc_filter(part), include=[])["ids"])
        return ids


def _delete(collection, ids: Sequence[str]) -> None:
    for part in parts(list(ids), IDS_PER_FILTER * 10):
        collection.delete(ids=list(part))


def info_of(collection) -> TableInfo:
    meta = json.loads((collection.metadata or {}).get(META_KEY) or "{}")
    return TableInfo(meta.get("generation", ""), meta.get("dim"), meta.get("pipeline", {}))


# The run state: one SQLite file, a table per history, columns as the ports' schemas name them.

_SQL_TYPES = {pa.string(): "TEXT", pa.int64(): "INTEGER", pa.int32(): "INTEGER", pa.float64(): "REAL"}


def _sql_type(field: pa.Field) -> str:
    return "INTEGER" if pa.types.is_timestamp(field.type) else _SQL_TYPES[field.type]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _to_sql(value):
    """Timestamps as whole microseconds since the epoch, exactly (no float on the way)."""
    return (value - _EPOCH) // timedelta(microseconds=1) if isinstance(value, datetime) else value


def _arrow(rows: Sequence[Sequence], schema: pa.Schema) -> pa.Table:
    """SQLite rows (timestamps as microseconds) as a typed Arrow table."""
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in schema]
    arrays = []
    for field, values in zip(schema, columns, strict=True):
        if pa.types.is_timestamp(field.type):
            arrays.append(pa.array(values, pa.int64()).cast(field.type))
        else:
            arrays.append(pa.array(values, field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


class ChromaState:
    """Ledger, runs and exports of one table, in `docflow-state.sqlite3` beside the collection.
    Each write is one SQLite transaction (all of a batch's rows or none), and SQLite serialises
    writers of the file itself."""

    kind = "chroma"

    def __init__(self, target: Target) -> None:
        self.location = target.db
        self.ledger_table, self.runs_table, self.exports_table = table_names(target)
        self._schemas = {self.ledger_table: LEDGER_SCHEMA, self.runs_table: RUNS_SCHEMA,
                         self.exports_table: HISTORY_SCHEMA}

    @property
    def _file(self) -> str:
        return os.path.join(directory(self.location), STATE_FILE)

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        connection = sqlite3.connect(self._file, timeout=600)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            with connection:  # one transaction: committed on success, rolled back on error
                yield connection
        finally:
            connection.close()

    def _tables(self, db: sqlite3.Connection) -> set[str]:
        return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}

    def _create(self, db: sqlite3.Connection, name: str) -> None:
        schema = self._schemas[name]
        columns = ", ".join(
            f'"{f.name}" {_sql_type(f)}' + (" PRIMARY KEY" if i == 0 else "") for i, f in enumerate(schema)
        )
        db.execute(f'CREATE TABLE IF NOT EXISTS "{name}" ({columns})')

    def _select(self, name: str, columns: Sequence[str] | None = None, sql: str = "", args: Sequence = ()) -> pa.Table:
        schema = self._schemas[name]
        if columns:
            schema = pa.schema([schema.field(c) for c in columns])
        if not os.path.exists(self._file):
            return schema.empty_table()
        with self._db() as db:
            if name not in self._tables(db):
                return schema.empty_table()
            names = ", ".join(f'"{c}"' for c in schema.names)
            rows = db.execute(f'SELECT {names} FROM "{name}" {sql}', tuple(args)).fetchall()
        return _arrow(rows, schema)

    def _upsert(self, name: str, table: pa.Table, insert: bool = True) -> None:
        if table.num_rows == 0:
            return
        names = table.schema.names
        quoted = ", ".join(f'"{c}"' for c in names)
        values = [tuple(_to_sql(v) for v in row.values()) for row in table.to_pylist()]
        if insert:
            updates = ", ".join(f'"{c}" = excluded."{c}"' for c in names[1:])
            statement = (f'INSERT INTO "{name}" ({quoted}) VALUES ({", ".join("?" * len(names))}) '
                         f'ON CONFLICT("{names[0]}") DO UPDATE SET {updates}')
        else:
            updates = ", ".join(f'"{c}" = ?' for c in names[1:])
            statement = f'UPDATE "{name}" SET {updates} WHERE "{names[0]}" = ?'
            values = [row[1:] + row[:1] for row in values]
        with self._db() as db:
            self._create(db, name)
            db.executemany(statement, values)

    def exists(self) -> bool:
        if not os.path.exists(self._file):
            return False
        with self._db() as db:
            return self.ledger_table in self._tables(db)

    def ensure(self) -> None:
        with self._db() as db:
            self._create(db, self.ledger_table)
            self._create(db, self.runs_table)

    def upsert(self, entries: Sequence[LedgerEntry], run_id: str) -> None:
        if entries:
            self._upsert(self.ledger_table, ledger_rows(entries, run_id))

    def rows(self, columns: Sequence[str] | None = None) -> pa.Table:
        return self._select(self.ledger_table, columns)

    def recorded_versions(self) -> RecordedVersions:
        return RecordedVersions(self.rows(VERSION_COLUMNS))

    def refresh_versions(self, docs: Sequence[DocRef]) -> None:
        if not docs:
            return
        self._upsert(self.ledger_table, version_rows(docs), insert=False)

    def failed_doc_ids(self) -> set[str]:
        failed = self._select(self.ledger_table, ["doc_id"], "WHERE status = ?", [DocStatus.FAILED.value])
        return set(failed.column("doc_id").to_pylist())

    def status_counts(self) -> dict[str, int]:
        statuses = self.rows(["status"]).column("status").value_counts().to_pylist()
        counts = {c["values"]: c["counts"] for c in statuses}
        return {status.value: counts.get(status.value, 0) for status in DocStatus}

    def failures(self) -> list[dict]:
        columns = ["doc_id", "status", "stage", "error_class", "error_message", "attempts", "run_id"]
        failed = self._select(self.ledger_table, columns, "WHERE status = ? ORDER BY doc_id", [DocStatus.FAILED.value])
        return failed.to_pylist()

    def outcomes(self, doc_ids: Iterable[str] | None = None) -> dict[str, RecordedOutcome]:
        if doc_ids is None:
            rows = self.rows().to_pylist()
        else:
            rows = []
            for part in parts(sorted(set(doc_ids)), IDS_PER_FILTER):
                marks = ", ".join("?" * len(part))
                rows += self._select(self.ledger_table, None, f"WHERE doc_id IN ({marks})", part).to_pylist()
        return {r["doc_id"]: RecordedOutcome(outcome_of(r), r["run_id"] or "") for r in rows}

    def delete_documents(self, doc_ids: Sequence[str]) -> int:
        if not doc_ids or not self.exists():
            return 0
        removed = 0
        with self._db() as db:
            for part in parts(list(doc_ids), IDS_PER_FILTER):
                marks = ", ".join("?" * len(part))
                removed += db.execute(f'DELETE FROM "{self.ledger_table}" WHERE doc_id IN ({marks})', tuple(part)).rowcount
        return removed

    def compact(self) -> None:
        """SQLite reuses its freed pages; nothing to do."""

    def record_run(self, run_id: str, flow_run_id: str, started_at: datetime, outcome: str, summary: dict) -> None:
        self._upsert(self.runs_table, run_row(run_id, flow_run_id, started_at, outcome, summary))

    def recent_runs(self, limit: int = 10) -> list[dict]:
        return self._select(self.runs_table, None, "ORDER BY started_at DESC LIMIT ?", [limit]).to_pylist()

    def record_export(self, record: ExportRecord) -> None:
        self._upsert(self.exports_table, pa.Table.from_pylist([asdict(record)], schema=HISTORY_SCHEMA))

    def export_history(self, limit: int = 20) -> list[dict]:
        return self._select(self.exports_table, None, "ORDER BY started_at DESC LIMIT ?", [limit]).to_pylist()


ADAPTER = StoreAdapter(name="chroma", vector_store=ChromaStore, state=ChromaState, default_db="./chroma",
                       client_modules=("chromadb",))
