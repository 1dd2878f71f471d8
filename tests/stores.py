"""What tests read back from a target through the ports: its chunk rows, its ledger rows and
the Destination a batch writes to (the store the registry names, Prefect checkpoints)."""

from docflow.adapters.stores import destination, open_state, open_store
from docflow.core.models import Destination, Target


def to(ctx) -> Destination:
    """The destination of a batch context, as the task shell builds it on a worker."""
    return destination(ctx.target, ctx.generation)


def chunk_rows(target: Target, columns=("doc_id", "chunk_index")) -> list:
    """(doc_id, chunk_index) pairs by default; rows as dicts when `columns` is given otherwise."""
    rows = open_store(target).read_columns(list(columns))
    if tuple(columns) == ("doc_id", "chunk_index"):
        return [(r["doc_id"], r["chunk_index"]) for r in rows]
    return rows


def ledger_rows(target: Target) -> dict[str, dict]:
    return {r["doc_id"]: r for r in open_state(target).rows().to_pylist()}
