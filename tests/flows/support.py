"""What the end-to-end flow tests share: run the CLI and check its summary adds up, read the
LanceDB table and ledger a run wrote, and assert the table holds exactly the expected documents."""

import json
from collections import Counter
from pathlib import Path

from docflow.adapters.stores.lancedb import database
from docflow.core.summary import discrepancies


def ingest(cli, *args):
    result = cli("ingest", *args, "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert not discrepancies(summary), discrepancies(summary)
    return summary


def table_rows(db: Path, table: str = "chunks") -> list[dict]:
    t = database.open_table(database.connect(str(db), {}), table)
    return t.to_arrow().to_pylist() if t is not None else []


def ledger(db: Path) -> dict[str, dict]:
    return {r["doc_id"]: r for r in table_rows(db, "chunks_ledger")}


def assert_exact(db: Path, expected_docs: set[str]) -> list[dict]:
    """Every expected document has chunks, each (doc_id, chunk_index) once, all carrying the
    fingerprint the ledger holds as current, and nothing else is in the table."""
    rows = table_rows(db)
    keys = Counter((r["doc_id"], r["chunk_index"]) for r in rows)
    assert not [k for k, n in keys.items() if n > 1], "duplicate chunks"
    assert {r["doc_id"] for r in rows} == expected_docs
    current = ledger(db)
    for r in rows:
        assert current[r["doc_id"]]["status"] == "done"
        assert r["fingerprint"] == current[r["doc_id"]]["fingerprint"], f"stale chunk {r['chunk_id']}"
    for doc_id in expected_docs:
        indexes = sorted(i for d, i in keys if d == doc_id)
        assert indexes == list(range(len(indexes))), f"gap in {doc_id}"
    return rows


def sync(cli, *args, expect=0):
    result = cli("sync", *args, "--json")
    assert result.returncode == expect, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert not discrepancies(summary), discrepancies(summary)
    return summary
