"""The LanceDB store: chunk table, ledger and run tables, pinned-version export."""

from docflow.adapters.stores import StoreAdapter
from docflow.adapters.stores.lancedb.ledger import LanceState
from docflow.adapters.stores.lancedb.store import LanceStore

ADAPTER = StoreAdapter(name="lancedb", vector_store=LanceStore, state=LanceState, default_db="./lancedb",
                       client_modules=("lancedb",))
